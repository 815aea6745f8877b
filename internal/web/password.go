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

// forgotData is the forgotten-password page: the form as typed (Email), or
// what every well-formed address is told (Sent, with the link's lifetime in
// Minutes).
type forgotData struct {
	Email   string
	Sent    bool
	Minutes int
}

// forgotPage is the login page's 「パスワードをお忘れの場合」: an address to
// mail a reset link to; with sent=1, what every well-formed address is
// told after the form. That page holds nothing of the address nor of any
// account: whoever opens it learns nothing.
func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "forgot.title")
	v.Data = forgotData{}
	if r.URL.Query().Get("sent") == "1" {
		v.Notice = s.t(r, "forgot.sent")
		v.Data = forgotData{Sent: true, Minutes: int(portal.PasswordResetTTL.Minutes())}
	}
	s.render(w, r, http.StatusOK, "forgot", v)
}

// forgotSentPath is the page every well-formed address is sent to.
const forgotSentPath = "/forgot?sent=1"

// forgot answers every well-formed address with the same redirect, whether
// it has an account or not, and whether a mail went or a limit held it
// back. The page it leads to is a GET of its own: answered in place, a
// reload sent the form again, which mailed another link and made the one
// just sent invalid.
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
	http.Redirect(w, r, forgotSentPath, http.StatusSeeOther)
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
