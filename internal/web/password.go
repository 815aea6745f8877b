package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/webkit"
)

// The login page's notice after a new password is set. It is added here, by
// the flow it belongs to, rather than in login.go's table.
type forgotData struct {
	Email   string
	Sent    bool
	Minutes int
}

// forgotPage is the login page's 「パスワードをお忘れの場合」: an address to
// mail a reset link to.
func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "forgot.title")
	v.Data = forgotData{}
	s.render(w, r, http.StatusOK, "forgot", v)
}

// forgot answers every well-formed address with the same page, whether it
// has an account or not, and whether a mail went or a limit held it back.
func (s *Server) forgot(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	again := func(msg string) {
		v := s.view(r, "forgot.title")
		v.Data, v.Error = forgotData{Email: email}, msg
		s.render(w, r, http.StatusBadRequest, "forgot", v)
	}
	if email == "" {
		again(s.t(r, "forgot.missing"))
		return
	}
	err := s.svc.RequestPasswordReset(r.Context(), email, webkit.PickLanguage(r), client(r))
	if errors.Is(err, account.ErrBadEmail) {
		again(s.t(r, "forgot.bad_email"))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "forgot.title")
	v.Notice = s.t(r, "forgot.sent")
	v.Data = forgotData{Sent: true, Minutes: int(portal.PasswordResetTTL.Minutes())}
	s.render(w, r, http.StatusOK, "forgot", v)
}

type resetPasswordData struct {
	Token, Name, Email string
	Min                int
	Invalid            bool
	// SecondFactor: the account has one, which the next sign-in asks for;
	// without, it asks to set one up.
	SecondFactor bool
}

// resetPasswordPage asks for the new password, from the mail's link.
func (s *Server) resetPasswordPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, ok := s.linkAccount(w, r, token, s.svc.CheckPasswordReset, s.resetPasswordInvalid)
	if !ok {
		return
	}
	v := s.view(r, "reset_password.title")
	v.Data = resetPasswordData{Token: token, Name: a.Name, Email: a.Email, Min: account.MinPassword, SecondFactor: s.hasFactor(r.Context(), a.ID)}
	s.render(w, r, http.StatusOK, "reset_password", v)
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	token, password := r.PostForm.Get("token"), r.PostForm.Get("password")
	a, ok := s.linkAccount(w, r, token, s.svc.CheckPasswordReset, s.resetPasswordInvalid)
	if !ok {
		return
	}
	again := func(msg string) {
		v := s.view(r, "reset_password.title")
		// The language switch comes back to the link, token and all.
		v.Path = "/reset-password?token=" + url.QueryEscape(token)
		v.Data = resetPasswordData{Token: token, Name: a.Name, Email: a.Email, Min: account.MinPassword, SecondFactor: s.hasFactor(r.Context(), a.ID)}
		v.Error = msg
		s.render(w, r, http.StatusBadRequest, "reset_password", v)
	}
	// One password once normalised, as at the activation.
	if !account.SamePassword(password, r.PostForm.Get("confirm")) {
		again(s.t(r, "reset_password.mismatch"))
		return
	}
	err := s.svc.ResetPassword(r.Context(), token, password, client(r))
	if pe, ok := passwordErrors[err]; ok {
		again(s.t(r, pe.key, pe.arg))
		return
	}
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.resetPasswordInvalid(w, r)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// Every session of the account has ended, this browser's too.
	http.Redirect(w, r, "/login?e=password_reset", http.StatusSeeOther)
}

// resetPasswordInvalid says the link is dead and offers a new one.
func (s *Server) resetPasswordInvalid(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "reset_password.title")
	v.Error = s.t(r, "reset_password.invalid")
	v.Data = resetPasswordData{Invalid: true}
	s.render(w, r, http.StatusNotFound, "reset_password", v)
}
