// Package sites is the two customer sites that sign in through the portal:
// 申込／契約確認サイト (applications and contracts) and 適格請求書閲覧サイト
// (qualified invoices). Each is its own http.Handler, served on its own origin;
// sign-in is behind the small Auth interface, which the OpenID Connect client
// implements.
package sites

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// User is the signed-in customer, as the portal tells the site.
type User struct {
	// AccountID is the OpenID Connect subject: the portal's account id,
	// which owns the applications, contracts and invoices.
	AccountID string
	Name      string
	Email     string
}

// SignedOut is the state a site's sign-out asks the portal to come back
// with (OpenID Connect RP-Initiated Logout's state): the top page then
// tells the visitor they signed out instead of sending them to sign in at
// once, where a bare login form would say nothing of what happened.
const SignedOut = "signedout"

// Auth is what a site needs from sign-in.
type Auth interface {
	// CurrentUser returns the signed-in customer, or nil when nobody is.
	CurrentUser(r *http.Request) (*User, error)
	// LoginURL is where to send a visitor who is not signed in; returnTo is
	// the path (and query) to come back to afterwards.
	LoginURL(returnTo string) string
	// LogoutURL is where the menu's ログアウト form posts.
	LogoutURL() string
	// SecurityURL is the portal's security page (the menu's 「セキュリティ」).
	SecurityURL() string
}

// Deps is what a site is built from.
type Deps struct {
	Store store.Sites
	Log   *slog.Logger // nil: slog.Default()
	Auth  Auth
	// AuthRoutes, when set, serves the sign-in's own paths under /auth/ (the
	// OpenID Connect callback, the logout) behind the site's headers and
	// cross-origin protection. A cross-origin POST is refused there too, so
	// the callback takes the code in the query (the code flow's default).
	AuthRoutes http.Handler
	// Secure gives the language cookie the Secure attribute: everywhere but
	// the plain-HTTP demo.
	Secure bool
	// Maintenance, when set, tells of an upcoming maintenance window: every
	// page shows its notice in a banner at the top.
	Maintenance Noticer
	// SupportURL is where the maintenance banner links for details
	// (config.Config.SupportURL); no link when empty.
	SupportURL string
}

// Noticer tells of an upcoming maintenance window: the notice, in the
// language of r's customer, while one starts within the notice period.
// maintenance.Schedule implements it.
type Noticer interface {
	NoticeFor(r *http.Request) (string, bool)
}

// maxBody bounds request bodies: the only form is the language switch.
const maxBody = 16 << 10

// site is what both sites share: the data, the pages, the protections.
type site struct {
	name  string // "contracts" or "invoices": message keys and templates
	deps  Deps
	log   *slog.Logger
	msgs  webkit.Catalog
	pages webkit.Pages
	mux   *http.ServeMux
	// guarded is mux behind the protections every request gets.
	guarded http.Handler
}

// NewContracts builds 申込／契約確認サイト: / lists the customer's applications
// and contracts; /applications/{number} and /contracts/{number} show one.
func NewContracts(d Deps) (http.Handler, error) {
	s, err := newSite("contracts", d, "contracts_home", "application", "contract")
	if err != nil {
		return nil, err
	}
	s.handle("GET /{$}", s.contractsHome)
	s.handle("GET /applications/{number}", s.application)
	s.handle("GET /contracts/{number}", s.contract)
	return s, nil
}

// NewInvoices builds 適格請求書閲覧サイト: / lists the customer's invoices;
// /invoices/{number} shows one as a qualified invoice, ready to print.
func NewInvoices(d Deps) (http.Handler, error) {
	s, err := newSite("invoices", d, "invoices_home", "invoice")
	if err != nil {
		return nil, err
	}
	s.handle("GET /{$}", s.invoicesHome)
	s.handle("GET /invoices/{number}", s.invoice)
	return s, nil
}

func newSite(name string, d Deps, pages ...string) (*site, error) {
	if d.Store == nil || d.Auth == nil {
		return nil, errors.New("sites: Deps needs a Store and an Auth")
	}
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		return nil, fmt.Errorf("sites: %w", err)
	}
	ps, err := webkit.ParsePages(templateFS, staticFS, msgs, append(pages, "message", "signedout")...)
	if err != nil {
		return nil, fmt.Errorf("sites: %w", err)
	}
	s := &site{name: name, deps: d, log: d.Log, msgs: msgs, pages: ps, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("site", name)

	s.mux.Handle("GET /static/", webkit.Static(staticFS, http.HandlerFunc(s.notFound)))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("POST /lang", s.setLanguage)
	if d.AuthRoutes != nil {
		s.mux.Handle("/auth/", s.authRoutes(d.AuthRoutes))
	}
	s.mux.HandleFunc("/", s.notFound)
	s.guarded = webkit.Guard{
		Log:        s.log,
		FormAction: func(*http.Request) string { return s.formAction() },
		Secure:     d.Secure,
		MaxBody:    maxBody,
		NewID:      requestToken,
		Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusForbidden, "error.cross_origin")
		}),
		BadInput: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		}),
		Panic: func(w http.ResponseWriter, r *http.Request, err error) { s.internal(w, r, nil, err) },
		HeadersTooLarge: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusRequestHeaderFieldsTooLarge, "error.headers_too_large")
		}),
	}.Wrap(s.mux)
	return s, nil
}

// handle routes a page for signed-in customers.
func (s *site) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, u *User)) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.user(w, r)
		if !ok {
			return
		}
		if u == nil && r.URL.Path == "/" && r.URL.Query().Get("state") == SignedOut {
			v := s.view(r, nil, "signedout.title")
			v.Data = s.deps.Auth.LoginURL("/")
			s.render(w, r, http.StatusOK, "signedout", v)
			return
		}
		if u == nil {
			// Personal pages only: a visitor goes to sign in and comes back.
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, s.deps.Auth.LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, u)
	})
}

// user asks Auth who is signed in; false when it failed and a page was sent.
func (s *site) user(w http.ResponseWriter, r *http.Request) (*User, bool) {
	u, err := s.deps.Auth.CurrentUser(r)
	if err != nil {
		s.internal(w, r, nil, fmt.Errorf("current user: %w", err))
		return nil, false
	}
	return u, true
}

// ServeHTTP applies the protections every request gets, then routes it.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.guarded.ServeHTTP(w, r) }

// SiteName is the site's name in lang, as its pages' titles end.
func (s *site) SiteName(lang string) string { return s.msgs.T(lang, s.name+".name") }

// formAction lists where the site's forms may post: itself and the origin
// of the logout URL, and the portal's (its logout ends with a redirect
// there, which form-action governs too).
func (s *site) formAction() string {
	srcs := []string{"'self'"}
	for _, u := range []string{s.deps.Auth.LogoutURL(), s.deps.Auth.SecurityURL()} {
		if o := origin(u); o != "" && !slices.Contains(srcs, o) {
			srcs = append(srcs, o)
		}
	}
	return strings.Join(srcs, " ")
}

// origin is the scheme://host of an absolute http(s) URL; "" otherwise.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.ContainsAny(u.Host, " ;,'") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// notFound answers every path no page has: 405 for a page's or a form's
// path with another method (the language switch's, /lang, takes only a
// POST), 404 otherwise, both in the customer's language.
func (s *site) notFound(w http.ResponseWriter, r *http.Request) {
	if allow := webkit.OtherMethods(s.mux, r, "/"); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.fail(w, r, http.StatusMethodNotAllowed, "error.method")
		return
	}
	s.fail(w, r, http.StatusNotFound, "error.not_found")
}

// authRoutes serves the sign-in's paths; a path it has not, or one of its
// paths with another method, gets the site's own page in the customer's
// language, not the router's plain text.
func (s *site) authRoutes(h http.Handler) http.Handler {
	mux, ok := h.(*http.ServeMux)
	if !ok {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			if r.Method != http.MethodGet {
				// The logout, and the portal's back-channel posts,
				// which a program reads.
				mux.ServeHTTP(w, r)
				return
			}
			pw := &pagedError{ResponseWriter: w}
			mux.ServeHTTP(pw, r)
			if pw.status != 0 {
				s.signInFailed(w, r, pw.status, pw.text.String())
			}
			return
		}
		if allow := webkit.OtherMethods(mux, r, ""); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, http.StatusMethodNotAllowed, "error.method")
			return
		}
		s.fail(w, r, http.StatusNotFound, "error.not_found")
	})
}

// pagedError holds back an error the sign-in writes as plain text, for the
// site to answer with its page; anything else passes through.
type pagedError struct {
	http.ResponseWriter
	status int // of the error held back; 0 for none
	text   strings.Builder
}

func (w *pagedError) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *pagedError) Write(b []byte) (int, error) {
	if w.status != 0 {
		return w.text.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// signInFailed shows the sign-in's refusal, text in Japanese on its first
// line and English on its second, on the site's page, in the customer's
// language.
func (s *site) signInFailed(w http.ResponseWriter, r *http.Request, status int, text string) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	msg := lines[0]
	if webkit.PickLanguage(r) == "en" {
		msg = lines[len(lines)-1]
	}
	v := s.view(r, nil, "error.title")
	v.Error = msg
	s.render(w, r, status, "message", v)
}

// setLanguage keeps the customer's choice of language for a year.
func (s *site) setLanguage(w http.ResponseWriter, r *http.Request) {
	if status, key := webkit.ParseForm(r); status != 0 {
		s.fail(w, r, status, key)
		return
	}
	lang := r.PostForm.Get("lang")
	if !webkit.Speaks(lang) {
		s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	http.SetCookie(w, webkit.LanguageCookie(lang, s.deps.Secure))
	http.Redirect(w, r, safeReturn(r.PostForm.Get("next")), http.StatusSeeOther)
}

// safeReturn keeps a return path on this site: a local absolute path, or /.
func safeReturn(p string) string { return webkit.LocalPath(p) }
