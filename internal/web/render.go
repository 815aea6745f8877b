package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"

	"github.com/tobira/tobira/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

type pages map[string]*template.Template

func loadPages() (pages, error) {
	names := []string{"login", "mfa", "methods", "recovery_input", "enrol", "enrol_methods",
		"recovery", "home", "security", "reset", "activate", "message",
		"enrol_phone", "phone_code", "dev_outbox", "consent"}
	ps := pages{}
	for _, n := range names {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, err
		}
		ps[n] = t
	}
	return ps, nil
}

// view is what every page template sees.
type view struct {
	Lang    string
	Title   string // message key
	Path    string
	User    *store.Account
	Error   string
	Notice  string
	Support string
	Wide    bool
	Data    any
	msgs    catalog
}

// T translates a message key for the page's language.
func (v *view) T(key string, args ...any) string { return v.msgs.T(v.Lang, key, args...) }

func (s *Server) view(r *http.Request, title string) *view {
	return &view{Lang: pickLanguage(r), Title: title, Path: r.URL.RequestURI(), msgs: s.msgs,
		Support: s.svc.Config.SupportURL}
}

// t translates for the request's language.
func (s *Server) t(r *http.Request, key string, args ...any) string {
	return s.msgs.T(pickLanguage(r), key, args...)
}

// render writes a page. Pages of the sign-in journey and account are never
// cached: they carry codes and personal data.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows a page with just a message, for errors outside a form.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	v := s.view(r, "common.error_title")
	v.Error = s.t(r, key)
	if si, err := s.signedIn(r); err == nil && si != nil {
		v.User = si.Account
	}
	s.render(w, r, status, "message", v)
}

// internal logs an unexpected error and shows a page that reveals nothing of it.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	id := requestID(r)
	s.log.Error("internal error", "id", id, "path", r.URL.Path, "err", err)
	v := s.view(r, "common.error_title")
	v.Error = s.t(r, "error.internal") + " " + s.t(r, "error.reference", id)
	s.render(w, r, http.StatusInternalServerError, "message", v)
}
