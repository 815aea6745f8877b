package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

type activateData struct {
	Token, Name, Email string
	Min                int
}

// activatePage sets the first password from the link of the activation mail.
func (s *Server) activatePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, ok := s.linkAccount(w, r, token, s.svc.CheckActivation, s.activationInvalid)
	if !ok {
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
	a, ok := s.linkAccount(w, r, token, s.svc.CheckActivation, s.activationInvalid)
	if !ok {
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
	// The two agree when they are one password once normalised, which is
	// what is hashed: one typed full-width, the other in ASCII.
	if !account.SamePassword(password, r.PostForm.Get("confirm")) {
		again(s.t(r, "activate.mismatch"))
		return
	}
	_, err := s.svc.Activate(r.Context(), token, password, client(r))
	if pe, ok := passwordErrors[err]; ok {
		again(s.t(r, pe.key, pe.arg))
		return
	}
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.activationInvalid(w, r)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/login?e=activated", http.StatusSeeOther)
}

// activationInvalid says the activation link is dead.
func (s *Server) activationInvalid(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "activate.invalid")
}

// linkAccount is the account whose mailed link (activation, password reset)
// token is, as check finds it. Where the link is dead, invalid answers; on
// any other error, the internal error page: then ok is false.
func (s *Server) linkAccount(w http.ResponseWriter, r *http.Request, token string,
	check func(context.Context, string) (*store.Account, error), invalid http.HandlerFunc) (a *store.Account, ok bool) {
	a, err := check(r.Context(), token)
	if errors.Is(err, portal.ErrTokenInvalid) {
		invalid(w, r)
		return nil, false
	}
	if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	return a, true
}
