package web

import (
	"embed"
	"errors"
	"net/http"
	"strings"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageNames are the portal's pages, each a template in templates/.
var pageNames = []string{"login", "mfa", "methods", "recovery_input", "enrol", "enrol_methods",
	"recovery", "home", "security", "reset", "password_change", "activate", "message",
	"enrol_phone", "phone_code", "phone_send", "dev_outbox", "consent",
	"forgot", "reset_password", "not_me", "signout",
	"lockedout", "lockedout_sent", "lockedout_confirm", "select_account"}

// view is what every page template sees.
type view struct {
	Lang    string
	Title   string // message key
	Path    string
	User    *store.Account
	Error   string
	Notice  string
	Support string
	// Maintenance is the notice of an upcoming maintenance window, shown
	// in a banner at the top of the page; MaintenanceMore labels its link
	// to Support.
	Maintenance     string
	MaintenanceMore string
	Wide            bool
	// Back is a link back to a site, on the page of a message.
	Back *backLink
	Data any
	// Refetch marks a page got by GET: brought back by the back button
	// from the browser's memory (Chromium's back/forward cache keeps even
	// no-store pages while no cookie changed), app.js asks for it again,
	// so it shows what is true now, not the security page's 「リセット」
	// after the reset. A page answering a POST is shown as it was: asking
	// again would send the form again.
	Refetch bool
	// Message marks the page of just a message (message.html): it says
	// its Error after its heading, which says what happened, and with no
	// form on the page, no field points to it.
	Message bool
	msgs    webkit.Catalog
}

// backLink is a link to URL labelled Label.
type backLink struct{ URL, Label string }

// T translates a message key for the page's language.
func (v *view) T(key string, args ...any) string { return v.msgs.T(v.Lang, key, args...) }

func (s *Server) view(r *http.Request, title string) *view {
	v := &view{Lang: webkit.PickLanguage(r), Title: title, Path: r.URL.RequestURI(), msgs: s.msgs,
		Support: s.svc.Config.SupportURL}
	if s.maint != nil {
		if n, ok := s.maint.NoticeFor(r); ok {
			v.Maintenance, v.MaintenanceMore = n, maintenanceMore[v.Lang]
		}
	}
	return v
}

// maintenanceMore labels the maintenance banner's link to the support page.
var maintenanceMore = map[string]string{
	"ja": "詳しくはサポートページをご覧ください",
	"en": "Details on the support page",
}

// backTo makes path the page that the language switch reloads when r is a
// POST answered in place (a refused 「再送信」 at /login/phone/send, the
// confirmation of a recovery request): the switch reloads its page with a
// GET, which the POST's own address answers with 405, or with another page
// than the one shown. A GET keeps its own address and query.
func (v *view) backTo(r *http.Request, path string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		v.Path = path
	}
}

// t translates for the request's language.
func (s *Server) t(r *http.Request, key string, args ...any) string {
	return s.msgs.T(webkit.PickLanguage(r), key, args...)
}

// render writes a page. Pages of the sign-in journey and account are never
// cached: they carry codes and personal data.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	v.Refetch = r.Method == http.MethodGet
	v.Message = page == "message"
	if err := s.pages.Render(w, status, v.Lang, page, v); err != nil {
		s.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// fail shows a page with just a message, for errors outside a form.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	v := s.view(r, errorTitle(status, key))
	v.Error = s.t(r, key)
	if si, err := s.signedIn(r); err == nil && si != nil {
		v.User = si.Account
	}
	s.render(w, r, status, "message", v)
}

// busy answers a request that found every password-hashing slot taken and
// the queue for them full: nothing was done, and the customer may try again
// in a few seconds.
func (s *Server) busy(w http.ResponseWriter, r *http.Request) {
	s.log.Warn("busy: password hashing queue full", "path", r.URL.Path)
	w.Header().Set("Retry-After", "5")
	s.fail(w, r, http.StatusServiceUnavailable, "error.busy")
}

// internal logs an unexpected error and shows a page that reveals nothing of it.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, account.ErrBusy) {
		s.busy(w, r)
		return
	}
	id := webkit.RequestID(r)
	s.log.Error("internal error", "id", id, "path", r.URL.Path, "err", err)
	v := s.view(r, errorTitle(http.StatusInternalServerError, ""))
	v.Error = s.t(r, "error.internal") + " " + s.t(r, "error.reference", id)
	s.render(w, r, http.StatusInternalServerError, "message", v)
}

// errorTitle is the heading of the error page of status that says key:
// what happened, the message below it saying why and what to do, as the
// customer sites' pages do. 「エラー」 said neither.
func errorTitle(status int, key string) string {
	switch {
	case status == http.StatusNotFound && strings.HasSuffix(key, ".invalid"):
		return "error.link_title" // a mail's link spent, expired or mistyped
	case status == http.StatusNotFound:
		return "error.not_found_title"
	case status == http.StatusServiceUnavailable:
		return "error.unavailable_title"
	case status >= 500:
		return "error.server_title"
	default:
		return "error.request_title"
	}
}
