package webkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Guard is what every request of a site gets before its routes: security
// headers, a bounded body, a request id, the refusal of cross-origin form
// posts, recovery from a panic, and one log line.
type Guard struct {
	Log *slog.Logger
	// FormAction is the Content-Security-Policy's form-action for r:
	// 'self' and the origins a form may post to or be redirected to.
	FormAction func(r *http.Request) string
	// Secure sends Strict-Transport-Security: everywhere but plain HTTP.
	Secure  bool
	MaxBody int64
	// NewID makes the id a customer may quote to support.
	NewID func() string
	// Bypass lists patterns that cross-origin posts may reach.
	Bypass []string
	// Deny answers a refused cross-origin post, in the customer's language.
	Deny http.Handler
	// BadInput, when set, answers a request whose path or query is not
	// text (IsText): invalid UTF-8, a NUL, another control character.
	BadInput http.Handler
	// HeadersTooLarge, when set, answers a request whose request line and
	// headers pass MaxHeaderBytes (a browser carrying too many cookies)
	// with a page of the site's own, where the server's limit
	// (ServerMaxHeaderBytes) would have answered with Go's plain text.
	HeadersTooLarge http.Handler
	// Panic answers a request whose handler panicked.
	Panic func(w http.ResponseWriter, r *http.Request, err error)
	// Done, when set, sees each answer's status.
	Done func(status int)
}

// Wrap returns next behind the guard.
func (g Guard) Wrap(next http.Handler) http.Handler {
	// Go's check of Sec-Fetch-Site and Origin.
	p := http.NewCrossOriginProtection()
	for _, pattern := range g.Bypass {
		p.AddInsecureBypassPattern(pattern)
	}
	p.SetDenyHandler(g.Deny)
	next = p.Handler(next)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"form-action "+g.FormAction(r)+"; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if g.Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, g.MaxBody)
		}
		id := g.NewID()
		h.Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				g.Panic(rec, r, fmt.Errorf("panic: %v", p))
			}
			if g.Done != nil {
				g.Done(rec.status)
			}
			// A load balancer's health checks, several a second per
			// node, would drown the log: they are logged only at debug
			// level, unless they fail.
			level := slog.LevelInfo
			if (r.URL.Path == "/healthz" || r.URL.Path == "/readyz") && rec.status == http.StatusOK {
				level = slog.LevelDebug
			}
			g.Log.Log(r.Context(), level, "request", "id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"ms", time.Since(start).Milliseconds(), "ip", ClientIP(r))
		}()
		if g.HeadersTooLarge != nil && headerBytes(r) > MaxHeaderBytes {
			g.HeadersTooLarge.ServeHTTP(rec, r)
			return
		}
		if g.BadInput != nil && !textRequest(r) {
			g.BadInput.ServeHTTP(rec, r)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// MaxHeaderBytes is the most a request line and its headers may take: a
// browser sends a few KiB, and cookies are at most 4 KiB each. A request
// past it gets a page in the customer's language (Guard.HeadersTooLarge).
//
// ServerMaxHeaderBytes, the http.Server's limit (over HTTP/2 too), is
// where Go answers itself, in English plain text. It is set above what a
// browser can send, so that every browser gets the page: Chrome and
// Firefox keep up to 180 cookies of up to 4 KiB (name and value) for a
// site and send every one that matches the request, and cap the request's
// headers at nothing less, so a Cookie header may reach 720 KiB; 1 MiB
// leaves room for the other headers and a long URL. It is also Go's
// default. It bounds the memory a connection takes while its headers are
// read (ReadHeaderTimeout, 10 s): a few times the limit at worst (the line
// read, grown by doubling, and the value copied from it), a few MiB.
const (
	MaxHeaderBytes       = 32 << 10
	ServerMaxHeaderBytes = 1 << 20
)

// headerBytes is about what the request line and headers took on the wire.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// requestIDKey carries the request's id, for logs and the error page that a
// customer may quote to support.
type requestIDKey struct{}

// RequestID is the id Guard gave the request.
func RequestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// statusRecorder keeps the status for the log line, and keeps redirects
// out of the browser's cache.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	// Where a redirect leads depends on the browser's cookies (signed in
	// or not, which sign-in is in progress), so none may be kept unless
	// its handler says otherwise. Chrome keeps a redirect that says
	// nothing, and the back button replays what it kept without asking:
	// back to a site's page after signing out, it went through the
	// redirects of the sign-in that had led there, to that sign-in's
	// callback, which sent it back to the page, which sent it to sign in
	// again, round and round until Chrome gave up on too many redirects.
	if code >= 300 && code < 400 && code != http.StatusNotModified && r.Header().Get("Cache-Control") == "" {
		r.Header().Set("Cache-Control", "no-store")
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ClientIP is the peer's address. Behind a proxy, the proxy must be trusted
// explicitly (TrustProxies) before any forwarded header is; until then, none
// is.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsText reports whether s is text a person could have typed or pasted:
// valid UTF-8, without NUL or another control character but tab, line feed
// and carriage return. Nothing else may reach the store, whose engines
// differ on such bytes (PostgreSQL refuses them, SQLite keeps them).
func IsText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return false
		}
	}
	return true
}

// textValues reports whether every key and value of v is text.
func textValues(v url.Values) bool {
	for k, vs := range v {
		if !IsText(k) {
			return false
		}
		for _, s := range vs {
			if !IsText(s) {
				return false
			}
		}
	}
	return true
}

// textRequest reports whether r's path and query are text.
func textRequest(r *http.Request) bool {
	if !IsText(r.URL.Path) {
		return false
	}
	// A malformed escape is the handler's to answer; what parses must be text.
	q, _ := url.ParseQuery(r.URL.RawQuery)
	return textValues(q)
}

// ParseForm parses r's form, its query and a url-encoded body, and checks
// that it is text. It returns status 0 when all is well; otherwise the
// status and message key of what is wrong: error.unsupported_form (415)
// for a body in another encoding, error.too_large (413) for a body over the
// guard's limit, error.bad_request (400) for a malformed body or one that
// is not text.
func ParseForm(r *http.Request) (status int, key string) {
	if !urlEncoded(r) {
		return http.StatusUnsupportedMediaType, "error.unsupported_form"
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, "error.too_large"
		}
		return http.StatusBadRequest, "error.bad_request"
	}
	if !textValues(r.Form) {
		return http.StatusBadRequest, "error.bad_request"
	}
	return 0, ""
}

// maxUserAgent is how much of a User-Agent is kept, in bytes.
const maxUserAgent = 300

// UserAgent is r's User-Agent as it may be stored: anything a client cares
// to send there is made text (invalid bytes replaced, control characters
// dropped) and cut to 300 bytes at a character's boundary. A cut inside a
// character made PostgreSQL refuse the audit event, and with it a sign-in.
func UserAgent(r *http.Request) string {
	ua := strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return -1
		}
		return c
	}, strings.ToValidUTF8(r.UserAgent(), "\uFFFD"))
	if len(ua) > maxUserAgent {
		cut := maxUserAgent
		for cut > 0 && !utf8.RuneStart(ua[cut]) {
			cut--
		}
		ua = ua[:cut]
	}
	return ua
}

// urlEncoded reports whether r's body, if it has one, is url-encoded, the
// one encoding the forms' pages send. Any other (multipart/form-data,
// text/plain, none named) would parse as no fields at all, and be
// answered as a form left empty: 「メールアドレスとパスワードを入力して
// ください。」 to a sign-in whose fields were filled. The portal's forms
// take no files, so it is refused rather than parsed: browsers never send
// these forms so, and a program that does is told what is wrong. A body
// that is empty says nothing of its encoding, and the query alone is the
// form.
func urlEncoded(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true
	}
	ct := r.Header.Get("Content-Type")
	if ct == "application/x-www-form-urlencoded" {
		// What every browser sends: no parsing, which costs a map.
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}
