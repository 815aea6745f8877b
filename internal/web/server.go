// Package web is the portal's HTTP face: server-rendered pages for the sign-in
// journey and the security page, with little script.
package web

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/webkit"
)

//go:embed static
var staticFS embed.FS

// maxBody bounds every request body: the portal's forms are small.
const maxBody = 64 << 10

// Server is the portal's handler.
type Server struct {
	svc   *portal.Service
	log   *slog.Logger
	msgs  webkit.Catalog
	pages webkit.Pages
	mux   *http.ServeMux
	// guarded is mux behind the protections every request gets.
	guarded http.Handler
	stats   httpStats
	oidc    *oidc.Provider // nil when the portal is no OpenID Connect provider
	// draining, when set, says the server is stopping (WithDraining).
	draining *atomic.Bool
	origins  originCache
	// secure sets the Secure attribute on cookies (everywhere but plain HTTP).
	secure bool
	// maint tells of the next maintenance window; nil when none is scheduled.
	maint Noticer
	// certExpiry is when the certificate the node serves ends; nil when it
	// serves plain HTTP (WithCertExpiry).
	certExpiry func() time.Time
}

// Option configures the portal's handler.
type Option func(*Server)

// WithOIDC serves the OpenID Connect provider's endpoints and signs its
// authorization requests in with the portal's sign-in.
func WithOIDC(p *oidc.Provider) Option { return func(s *Server) { s.oidc = p } }

// Noticer tells of an upcoming maintenance window: the notice, in the
// language of r's customer, while one starts within the notice period.
// maintenance.Schedule implements it.
type Noticer interface {
	NoticeFor(r *http.Request) (string, bool)
}

// WithDraining makes /readyz answer 503 once draining is set: the server is
// stopping, and load balancers should send it nothing new.
func WithDraining(draining *atomic.Bool) Option { return func(s *Server) { s.draining = draining } }

// WithCertExpiry reports, in /metrics, when the TLS certificate the node
// serves ends; expiry is asked at each scrape, as renewals replace it.
func WithCertExpiry(expiry func() time.Time) Option {
	return func(s *Server) { s.certExpiry = expiry }
}

// WithMaintenance shows n's notice at the top of every page.
func WithMaintenance(n Noticer) Option { return func(s *Server) { s.maint = n } }

// New builds the portal's handler.
func New(svc *portal.Service, log *slog.Logger, opts ...Option) (*Server, error) {
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		return nil, err
	}
	pages, err := webkit.ParsePages(templateFS, staticFS, msgs, pageNames...)
	if err != nil {
		return nil, err
	}
	s := &Server{svc: svc, log: log, msgs: msgs, pages: pages, mux: http.NewServeMux(), secure: svc.Config.Secure()}
	for _, o := range opts {
		o(s)
	}
	s.routes()
	s.guarded = webkit.Guard{
		Log: s.log,
		FormAction: func(r *http.Request) string {
			return "'self'" + s.clientOrigins(r)
		},
		Secure:  s.secure,
		MaxBody: maxBody,
		NewID:   func() string { return secret.Token(9) },
		Bypass:  s.crossOriginPaths(),
		Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusForbidden, "error.cross_origin")
		}),
		BadInput: http.HandlerFunc(s.badInput),
		HeadersTooLarge: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusRequestHeaderFieldsTooLarge, "error.headers_too_large")
		}),
		Panic: s.internal,
		Done:  s.stats.record,
	}.Wrap(s.mux)
	return s, nil
}

func (s *Server) routes() {
	s.mux.Handle("GET /static/", webkit.Static(staticFS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "error.not_found")
	})))
	s.mux.Handle("GET "+webkit.BasePath, webkit.BaseStylesheet())
	s.handle("GET", "/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.handle("GET", "/readyz", s.ready)
	s.handle("GET", "/metrics", s.metrics)

	s.handle("GET", "/{$}", s.home)
	s.handle("POST", "/lang", s.setLanguage)

	s.handle("GET", "/login", s.loginPage)
	s.handle("POST", "/login", s.login)
	s.handle("GET", "/login/code", s.codePage)
	s.handle("POST", "/login/code", s.code)
	s.handle("GET", "/login/methods", s.methodsPage)
	s.lockedOutRoutes()
	s.handle("GET", "/login/recovery", s.recoveryInputPage)
	s.handle("POST", "/login/recovery", s.recoveryInput)
	s.handle("GET", "/login/phone", s.loginPhonePage)
	s.handle("POST", "/login/phone", s.loginPhone)
	s.handle("POST", "/login/phone/send", s.loginPhoneSend)

	s.handle("GET", "/enrol", s.enrolPage)
	s.handle("POST", "/enrol", s.enrol)
	s.handle("GET", "/enrol/methods", s.enrolMethodsPage)
	s.handle("GET", "/enrol/phone", s.enrolPhonePage)
	s.handle("POST", "/enrol/phone", s.enrolPhone)
	s.handle("GET", "/enrol/phone/code", s.enrolPhoneCodePage)
	s.handle("POST", "/enrol/phone/code", s.enrolPhoneCode)
	s.handle("POST", "/enrol/phone/resend", s.enrolPhoneResend)
	s.handle("GET", "/recovery-code", s.recoveryPage)
	s.handle("POST", "/recovery-code", s.recovery)

	s.handle("GET", "/security", s.securityPage)
	s.handle("GET", "/security/reset", s.resetPage)
	s.handle("POST", "/security/reset", s.reset)
	s.handle("GET", "/security/password", s.passwordChangePage)
	s.handle("POST", "/security/password", s.changePassword)
	s.handle("POST", "/security/devices/end", s.endDevice)
	s.handle("POST", "/security/devices/end-others", s.endOtherDevices)
	s.handle("POST", "/logout", s.logout)

	s.handle("GET", "/activate", s.activatePage)
	s.handle("POST", "/activate", s.activate)
	s.handle("GET", "/not-me", s.notMePage)
	s.handle("POST", "/not-me", s.notMe)
	s.handle("GET", "/forgot", s.forgotPage)
	s.handle("POST", "/forgot", s.forgot)
	s.handle("GET", "/reset-password", s.resetPasswordPage)
	s.handle("POST", "/reset-password", s.resetPassword)

	if s.oidc != nil {
		for _, path := range oidc.Paths {
			switch path {
			case "/end_session", "/userinfo":
			case "/oauth/introspect":
				s.mux.Handle(path, noStore(s.limitTokens(basicChallenge(oauthErrors(s.oidc)))))
			case "/oauth/token", "/revoke":
				s.mux.Handle(path, noStore(s.limitTokens(basicChallenge(s.oidc))))
			case "/authorize/callback":
				s.mux.HandleFunc(path, s.only(s.authorizeCallback, http.MethodGet, http.MethodPost))
			case "/authorize":
				s.mux.HandleFunc(path, s.only(s.authorize, http.MethodGet, http.MethodPost))
			default:
				s.mux.Handle(path, s.oidc)
			}
		}
		// RP-initiated logout by GET or POST (RP-Initiated Logout 1.0,
		// 2); another method is answered as any page's other method is.
		s.handle("GET", "/end_session", s.only(s.endSession, http.MethodGet, http.MethodPost))
		s.handle("POST", "/end_session", s.endSession)
		s.mux.Handle("/userinfo", noStore(http.HandlerFunc(s.userinfo)))
		s.handle("GET", oidc.LoginPath, s.only(s.oidcLogin, http.MethodGet))
		s.handle("POST", "/oidc/consent", s.consent)
		s.handle("POST", selectPath, s.selectAccount)
		s.handle("GET", switchPath, s.switchAccount)
	}

	if s.svc.Config.DevTools {
		s.handle("GET", "/dev/outbox", s.outboxPage)
		s.handle("GET", "/dev/outbox.json", s.outboxJSON)
		s.handle("GET", "/dev/mail.json", s.mailJSON)
	}

	// Anything else: a known page with another method, or no page at all,
	// both answered in the customer's language. The methods a page takes
	// are the mux's own, found as the console and the customer sites find
	// them (webkit.OtherMethods), so that every site answers a page's
	// other method alike.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := webkit.OtherMethods(s.mux, r, "/"); len(allow) > 0 {
			if slices.Contains(headless, r.URL.Path) {
				allow = slices.DeleteFunc(allow, func(m string) bool { return m == http.MethodHead })
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, http.StatusMethodNotAllowed, "error.method")
			return
		}
		s.fail(w, r, http.StatusNotFound, "error.not_found")
	})
}

// handle routes method and path to h.
func (s *Server) handle(method, path string, h http.HandlerFunc) {
	s.mux.HandleFunc(method+" "+path, h)
}

// ServeHTTP applies the protections every request gets, then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.guarded.ServeHTTP(w, r) }

// crossOriginPaths are the paths that take cross-origin posts.
func (s *Server) crossOriginPaths() []string {
	if s.oidc == nil {
		return nil
	}
	// The provider's endpoints are called from clients' pages and servers,
	// by design across origins, and act on no portal cookie but
	// /end_session's, which signs out at once only for a request whose
	// id_token_hint names the browser's session, and otherwise asks, and
	// /authorize's binding cookie, which a POST without it never replaces
	// (Server.authorize).
	return []string{"/authorize", "/oauth/token", "/oauth/introspect", "/userinfo", "/revoke", "/end_session"}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.draining != nil && s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if _, err := s.svc.Store.Hit(ctx, "readyz", time.Minute, time.Now(), 0); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	if h, ok := s.svc.Store.(interface{ Writable() error }); ok {
		if err := h.Writable(); err != nil {
			s.log.Error("not ready: the database refuses writes", "err", err)
			http.Error(w, "database refuses writes", http.StatusServiceUnavailable)
			return
		}
	}
	if s.oidc != nil {
		if err := s.oidc.Readable(ctx); err != nil {
			s.log.Error("not ready: the signing keys cannot be read; is secret_key the same on every node?", "err", err)
			http.Error(w, "signing keys unreadable: check secret_key", http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ok\n"))
}

// client is who sent r, as limits and the audit log see it.
func client(r *http.Request) portal.Client {
	return portal.Client{IP: webkit.ClientIP(r), UserAgent: webkit.UserAgent(r), Lang: webkit.PickLanguage(r)}
}

// ForPrograms reports whether r is for one of the provider's endpoints for
// programs, not browsers: token, introspection, revocation, userinfo, keys
// and discovery. Their answers are JSON, their errors too, in a
// maintenance window (maintenance.Options.ForPrograms) as well.
func ForPrograms(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/oauth/") || p == "/userinfo" || p == "/revoke" || p == "/keys" || strings.HasPrefix(p, "/.well-known/")
}

// SiteName is the portal's name in lang, as its pages' titles end.
func (s *Server) SiteName(lang string) string { return s.msgs.T(lang, "site.name") }

// badInput answers a request whose path or query is not text: the
// provider's endpoints for programs as OAuth does (RFC 6749 5.2), the
// pages with a page.
func (s *Server) badInput(w http.ResponseWriter, r *http.Request) {
	switch {
	case ForPrograms(r):
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_request","error_description":"parameters must be UTF-8 text without control characters"}` + "\n"))
	default:
		s.fail(w, r, http.StatusBadRequest, "error.bad_request")
	}
}

// form parses a POST body, telling oversized bodies apart from malformed ones.
func (s *Server) form(w http.ResponseWriter, r *http.Request) bool {
	if status, key := webkit.ParseForm(r); status != 0 {
		s.fail(w, r, status, key)
		return false
	}
	return true
}
