package app

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// acmeToken is what an ACME http-01 challenge's token may be (RFC 8555
// 8.3: base64url), so that no request names a file outside the folder.
var acmeToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// redirectToHTTPS is the plain-HTTP listener of a node that serves HTTPS
// itself (http_redirect_addr): every request goes on to the same path at
// base_url (308, so a form's POST stays a POST), but the ACME challenges
// certbot --webroot writes to webroot, which a renewal needs over plain
// HTTP. The target's host is base_url's, never the request's.
func redirectToHTTPS(baseURL, webroot string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if webroot != "" {
			if token, ok := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/"); ok {
				serveChallenge(w, r, webroot, token)
				return
			}
		}
		http.Redirect(w, r, baseURL+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

func serveChallenge(w http.ResponseWriter, r *http.Request, webroot, token string) {
	if !acmeToken.MatchString(token) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(webroot, ".well-known", "acme-challenge", token))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}
