// Package web is the portal's HTTP face: server-rendered pages for the sign-in
// journey and the security page, with little script.
package web

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/portal"
)

//go:embed static
var staticFS embed.FS

// maxBody bounds every request body: the portal's forms are small.
const maxBody = 64 << 10

// Server is the portal's handler.
type Server struct {
	svc   *portal.Service
	log   *slog.Logger
	msgs  catalog
	pages pages
	mux   *http.ServeMux
	// secure sets the Secure attribute on cookies (everywhere but plain HTTP).
	secure bool
}

// New builds the portal's handler.
func New(svc *portal.Service, log *slog.Logger) (*Server, error) {
	msgs, err := loadCatalog()
	if err != nil {
		return nil, err
	}
	pages, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{svc: svc, log: log, msgs: msgs, pages: pages, mux: http.NewServeMux(), secure: svc.Config.Secure()}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.ready)

	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("POST /lang", s.setLanguage)

	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("GET /login/code", s.codePage)
	s.mux.HandleFunc("POST /login/code", s.code)
	s.mux.HandleFunc("GET /login/methods", s.methodsPage)
	s.mux.HandleFunc("GET /login/recovery", s.recoveryInputPage)
	s.mux.HandleFunc("POST /login/recovery", s.recoveryInput)

	s.mux.HandleFunc("GET /enrol", s.enrolPage)
	s.mux.HandleFunc("POST /enrol", s.enrol)
	s.mux.HandleFunc("GET /enrol/methods", s.enrolMethodsPage)
	s.mux.HandleFunc("GET /recovery-code", s.recoveryPage)
	s.mux.HandleFunc("POST /recovery-code", s.recovery)

	s.mux.HandleFunc("GET /security", s.securityPage)
	s.mux.HandleFunc("GET /security/reset", s.resetPage)
	s.mux.HandleFunc("POST /security/reset", s.reset)
	s.mux.HandleFunc("POST /logout", s.logout)

	s.mux.HandleFunc("GET /activate", s.activatePage)
	s.mux.HandleFunc("POST /activate", s.activate)

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "error.not_found")
	})
}

// ServeHTTP applies the protections every request gets, then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if s.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic", "path", r.URL.Path, "panic", p)
			s.fail(rec, r, http.StatusInternalServerError, "error.internal")
		}
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"ms", time.Since(start).Milliseconds(), "ip", clientIP(r))
	}()
	s.csrf().ServeHTTP(rec, r)
}

// csrf refuses cross-origin POSTs (Go 1.25's Sec-Fetch-Site and Origin check)
// with a page in the customer's language.
func (s *Server) csrf() http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusForbidden, "error.cross_origin")
	}))
	return p.Handler(s.mux)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.svc.Store.Hit(ctx, "readyz", time.Minute, time.Now(), 0); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// clientIP is the peer's address. Behind a proxy, the proxy must be trusted
// explicitly before any forwarded header is; until then, none is.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func client(r *http.Request) portal.Client {
	ua := r.UserAgent()
	if len(ua) > 300 {
		ua = ua[:300]
	}
	return portal.Client{IP: clientIP(r), UserAgent: ua}
}

// form parses a POST body, telling oversized bodies apart from malformed ones.
func (s *Server) form(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "error.too_large")
		} else {
			s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		}
		return false
	}
	return true
}
