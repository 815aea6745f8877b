package web

import (
	"errors"
	"net/http"

	"github.com/tobira/tobira/internal/portal"
)

// notMeData is the "this was not me" page: the report to confirm (Token),
// or the report received (Done).
type notMeData struct {
	Token, Email string
	Done         bool
}

// notMePage opens from a security notice's 「心当たりがない」 link and says
// what reporting does. It spends nothing: mail scanners open links too.
func (s *Server) notMePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" && r.URL.Query().Get("done") == "1" {
		s.notMeDone(w, r)
		return
	}
	a, err := s.svc.CheckNotMe(r.Context(), token)
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "notme.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "notme.title")
	v.Data = notMeData{Token: token, Email: a.Email}
	s.render(w, r, http.StatusOK, "not_me", v)
}

// notMe is 「ログアウトして報告する」: every session of the account ends, this
// browser's too, and operators are alerted.
func (s *Server) notMe(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	err := s.svc.ReportNotMe(r.Context(), r.PostForm.Get("token"), client(r))
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "notme.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.setCookie(w, s.cookieName(sessionCookie), "", -1)
	s.setCookie(w, s.cookieName(flowCookie), "", -1)
	// The report received is a page of its own: reloading it, or switching
	// its language, would otherwise send the spent link again and read
	// that the link is invalid.
	http.Redirect(w, r, "/not-me?done=1", http.StatusSeeOther)
}

// notMeDone says the report was received and what to do next. It holds
// nothing of the account, so it needs no link.
func (s *Server) notMeDone(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "notme.title")
	v.Notice = s.t(r, "notme.done")
	v.Data = notMeData{Done: true}
	s.render(w, r, http.StatusOK, "not_me", v)
}
