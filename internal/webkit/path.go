package webkit

import (
	"net/http"
	"net/url"
	"strings"
)

// LocalPath keeps a return path on this site: a local absolute path, or "/".
// Browsers drop tabs and newlines from URLs and read a backslash as a
// slash, so "/\t/evil.example" or "/\evil.example" would leave the site;
// any such character refuses the path.
func LocalPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return p
}

// OtherMethods are the methods, of GET (with HEAD) and POST, other than
// r's, that mux routes r's path to a handler of its own, not to the
// catch-all pattern fallback ("/", or "" for a mux without one): the Allow
// of a 405 for a path that exists with another method. None means the path
// has no page: a 404.
func OtherMethods(mux *http.ServeMux, r *http.Request, fallback string) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method || (m == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := mux.Handler(other); pattern != fallback {
			if m == http.MethodGet {
				allow = append(allow, http.MethodGet, http.MethodHead)
			} else {
				allow = append(allow, m)
			}
		}
	}
	return allow
}
