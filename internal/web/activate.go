package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
)

type activateData struct {
	Token, Name, Email string
	Min                int
}

// activatePage sets the first password from the link of the activation mail.
func (s *Server) activatePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, err := s.svc.CheckActivation(r.Context(), token)
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "activate.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "activate.title")
	v.Data = activateData{Token: token, Name: a.Name, Email: a.Email, Min: account.MinPassword}
	s.render(w, r, http.StatusOK, "activate", v)
}

var passwordErrors = map[error]struct {
	key string
	arg int
}{
	account.ErrPasswordShort:   {"password.short", account.MinPassword},
	account.ErrPasswordLong:    {"password.long", account.MaxPassword},
	account.ErrPasswordIsEmail: {"password.is_email", 0},
	account.ErrPasswordCommon:  {"password.common", 0},
}

func (s *Server) activate(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	token, password := r.PostForm.Get("token"), r.PostForm.Get("password")
	a, err := s.svc.CheckActivation(r.Context(), token)
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "activate.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	again := func(msg string) {
		v := s.view(r, "activate.title")
		// The language switch comes back to the link, token and all.
		v.Path = "/activate?token=" + url.QueryEscape(token)
		v.Data = activateData{Token: token, Name: a.Name, Email: a.Email, Min: account.MinPassword}
		v.Error = msg
		s.render(w, r, http.StatusBadRequest, "activate", v)
	}
	if password != r.PostForm.Get("confirm") {
		again(s.t(r, "activate.mismatch"))
		return
	}
	_, err = s.svc.Activate(r.Context(), token, password, client(r))
	if pe, ok := passwordErrors[err]; ok {
		again(s.t(r, pe.key, pe.arg))
		return
	}
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "activate.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/login?e=activated", http.StatusSeeOther)
}
