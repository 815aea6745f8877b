package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/webkit"
)

// passwordChangePath is the security page's 「パスワードを変更」.
const passwordChangePath = "/security/password"

type passwordChangeData struct {
	Email string // for password managers, which file the new password under it
	Min   int
}

// passwordChangePage asks for the current password and a new one. Like the
// security page, it first asks for the second factor when the last check
// is older than the step-up limit.
func (s *Server) passwordChangePage(w http.ResponseWriter, r *http.Request) {
	si := s.requireSignIn(w, r)
	if si == nil || !s.stepUp(w, r, si, passwordChangePath) {
		return
	}
	s.showPasswordChange(w, r, si, http.StatusOK, "")
}

// showPasswordChange shows the form, empty (no password is ever sent back
// to the browser), with msg as its error when there is one.
func (s *Server) showPasswordChange(w http.ResponseWriter, r *http.Request, si *portal.SignedIn, status int, msg string) {
	v := s.view(r, "password_change.title")
	// The language switch comes back to the form, not to its POST.
	v.Path = passwordChangePath
	v.User, v.Error = si.Account, msg
	v.Data = passwordChangeData{Email: si.Account.Email, Min: account.MinPassword}
	s.render(w, r, status, "password_change", v)
}

// changePassword is 「変更する」. What is wrong with the form is said on
// it, in the order a customer fixes it: what is missing, a confirmation
// that differs, then what the service refuses (the password rules, the
// current password, the throttle). A step-up that expired meanwhile asks
// for the second factor again, as the reset's does; the form is then
// filled in anew.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	si := s.requireSignIn(w, r)
	if si == nil || !s.stepUp(w, r, si, passwordChangePath) {
		return
	}
	current, next, confirm := r.PostForm.Get("current"), r.PostForm.Get("password"), r.PostForm.Get("confirm")
	again := func(status int, key string, args ...any) {
		s.showPasswordChange(w, r, si, status, s.t(r, key, args...))
	}
	if current == "" || next == "" || confirm == "" {
		again(http.StatusBadRequest, "password_change.missing")
		return
	}
	// One password once normalised, as at the activation.
	if !account.SamePassword(next, confirm) {
		again(http.StatusBadRequest, "reset_password.mismatch")
		return
	}
	token, err := s.svc.ChangePassword(r.Context(), si, current, next, client(r))
	var locked *portal.LockedError
	if pe, ok := passwordErrors[err]; ok {
		again(http.StatusBadRequest, pe.key, pe.arg)
		return
	}
	switch {
	case err == nil:
		// The session goes on under a new id, and the same sid, to
		// which the notice is bound; every other one has ended.
		s.setSession(w, token)
		s.setNotice(w, "password", noticeBinding(si.Session.SID, secret.Hash(token)), s.noticeTTL())
		http.Redirect(w, r, "/security", http.StatusSeeOther)
	case errors.Is(err, portal.ErrSamePassword):
		again(http.StatusBadRequest, "password_change.same")
	case errors.Is(err, portal.ErrBadCredentials):
		again(http.StatusUnauthorized, "password_change.wrong_current")
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", seconds(locked.Until.Sub(s.svc.Now())))
		again(http.StatusTooManyRequests, "password_change.throttled", formatTime(webkit.PickLanguage(r), locked.Until))
	case errors.Is(err, account.ErrBusy):
		w.Header().Set("Retry-After", "5")
		again(http.StatusServiceUnavailable, "error.busy")
	case errors.Is(err, portal.ErrStepUpNeeded):
		// The step-up's age ran out between the check above and the
		// service's: the page asks for it.
		http.Redirect(w, r, passwordChangePath, http.StatusSeeOther)
	case errors.Is(err, portal.ErrNoSession):
		// Signed out, or locked by an operator, meanwhile.
		s.setCookie(w, s.cookieName(sessionCookie), "", -1)
		http.Redirect(w, r, "/login?next="+url.QueryEscape(passwordChangePath), http.StatusSeeOther)
	default:
		s.internal(w, r, err)
	}
}
