package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/phone"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/webkit"
)

// loginNotices are the messages /login shows after a redirect, by ?e=.
var loginNotices = map[string]struct {
	key   string
	error bool
}{
	"expired":        {"login.expired", true},
	"ended":          {"login.session_ended", true},
	"signedout":      {"signout.done", false},
	"activated":      {"activate.done", false},
	"wrong_step":     {"login.wrong_step", true},
	"password_reset": {"reset_password.done", false},
}

// afterPasswordLink are the notices of a mail's link that set a password,
// the first (開通メール) or a new one: the account's sign-in comes next. A
// browser still signed in as someone else (a computer shared at home) is
// shown the form and the notice, where it was sent on to that other
// customer's マイページ without a word; a sign-in there signs them out.
// The account's own sessions, if any, ended with the new password.
var afterPasswordLink = map[string]bool{"activated": true, "password_reset": true}

type loginData struct {
	Email, Next string
	// Fresh and Hint are the request's fresh and login_hint, which the
	// form carries so that the page it answers with, and the language
	// switch there, honour them too.
	Fresh bool
	Hint  string
}

// loginPath is the login page that honours next, fresh (a new sign-in
// even with a session) and a login_hint: where the sign-in of a site's
// request starts, and where the language switch goes back to.
func loginPath(next string, fresh bool, loginHint string) string {
	q := url.Values{}
	if fresh {
		q.Set("fresh", "1")
	}
	if next != "/" {
		q.Set("next", next)
	}
	if loginHint != "" {
		q.Set("login_hint", loginHint)
	}
	if len(q) == 0 {
		return "/login"
	}
	return "/login?" + q.Encode()
}

// loginPage is manual step I. It stores nothing: the sign-in flow starts
// when the form is sent, so an open login page never expires.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeReturn(r.URL.Query().Get("next"))
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// fresh asks for a new sign-in even with a session (prompt=login).
	fresh := r.URL.Query().Get("fresh") != ""
	if si != nil && !fresh && !afterPasswordLink[r.URL.Query().Get("e")] {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := s.view(r, "login.title")
	// A site's login_hint (OpenID Connect Core 1.0, 3.1.2.1) fills in the
	// address; the customer may change it.
	h := hint(r.URL.Query().Get("login_hint"))
	v.Data = loginData{Next: next, Email: h, Fresh: fresh, Hint: h}
	if n, ok := loginNotices[r.URL.Query().Get("e")]; ok {
		if n.error {
			v.Error = s.t(r, n.key)
		} else {
			v.Notice = s.t(r, n.key)
		}
	}
	s.render(w, r, http.StatusOK, "login", v)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	email, password := strings.TrimSpace(r.PostForm.Get("email")), r.PostForm.Get("password")
	next := safeReturn(r.PostForm.Get("next"))
	fresh, h := r.PostForm.Get("fresh") != "", hint(r.PostForm.Get("login_hint"))
	again := func(status int, msg string) {
		v := s.view(r, "login.title")
		// The language switch comes back to the login page as the
		// customer got it: with where the sign-in goes next (a site's
		// sign-in, the security page), and a site's fresh and login_hint.
		v.Path = loginPath(next, fresh, h)
		v.Data = loginData{Email: email, Next: next, Fresh: fresh, Hint: h}
		v.Error = msg
		s.render(w, r, status, "login", v)
	}
	if email == "" || password == "" {
		again(http.StatusBadRequest, s.t(r, "login.missing"))
		return
	}
	f, err := s.svc.Password(r.Context(), email, password, next, client(r))
	var locked *portal.LockedError
	switch {
	case err == nil && f.State == portal.StateMFA:
		s.secondStep(w, r, f)
	case err == nil:
		if c, cerr := r.Cookie(s.cookieName(flowCookie)); cerr == nil {
			if err := s.svc.KeepEnrolment(r.Context(), c.Value, f); err != nil {
				// The sign-in goes on with a new key.
				s.log.Warn("enrolment key not kept", "id", webkit.RequestID(r), "err", err)
			}
		}
		s.next(w, r, f)
	case errors.Is(err, portal.ErrAccountLocked):
		again(http.StatusForbidden, s.t(r, "login.locked_account"))
	case errors.Is(err, portal.ErrBadCredentials):
		again(http.StatusUnauthorized, s.t(r, "login.bad_credentials"))
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", seconds(locked.Until.Sub(s.svc.Now())))
		again(http.StatusTooManyRequests, s.t(r, "login.throttled", formatTime(webkit.PickLanguage(r), locked.Until)))
	case errors.Is(err, account.ErrBusy):
		w.Header().Set("Retry-After", "5")
		again(http.StatusServiceUnavailable, s.t(r, "error.busy"))
	default:
		s.flowError(w, r, err)
	}
}

type codeData struct {
	StepUp  bool
	Methods []portal.Method
	Phone   string // masked, when the account has one
}

// secondStep sends the browser to the second factor the account uses: the
// app's code when it has the app; otherwise its phone's code screen, with a
// code sent at once when the request is a form's POST (the password, as
// the manual's phone sign-in shows, 2. II). A GET never sends one: any
// site can make the browser GET the security page, whose step-up comes
// here, and each text costs money and the account's hourly allowance.
// There the screen offers 「コードを送信」 instead.
func (s *Server) secondStep(w http.ResponseWriter, r *http.Request, f *portal.Flow) {
	phoneFirst, err := s.svc.PhoneFirst(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !phoneFirst {
		s.next(w, r, f)
		return
	}
	s.setFlow(w, f)
	if _, err := s.svc.SentCodeOf(r.Context(), f); r.Method != http.MethodPost || err == nil {
		http.Redirect(w, r, "/login/phone", http.StatusSeeOther)
		return
	}
	err = s.svc.SendSignInCode(r.Context(), f, "", webkit.PickLanguage(r), client(r))
	s.afterSend(w, r, f, "/login/phone", err)
}

// codePage is manual step II: the authenticator app's code.
func (s *Server) codePage(w http.ResponseWriter, r *http.Request) {
	f := s.flow(w, r, portal.StateMFA)
	if f == nil {
		return
	}
	v := s.view(r, "mfa.title")
	v.Data = codeData{StepUp: f.IsStepUp()}
	v.Error = s.stepUpAgain(r, f)
	s.render(w, r, http.StatusOK, "mfa", v)
}

// stepUpAgain is what the screen of a step-up says when it replaces one
// that expired (stepUpExpired sends the browser to it with ?e=expired):
// why the code is asked for again. Empty otherwise; a sign-in's flow that
// expired starts again at the login page, which says so itself.
func (s *Server) stepUpAgain(r *http.Request, f *portal.Flow) string {
	if f.IsStepUp() && r.URL.Query().Get("e") == "expired" {
		return s.t(r, "mfa.stepup_expired")
	}
	return ""
}

func (s *Server) code(w http.ResponseWriter, r *http.Request) {
	s.secondFactor(w, r, portal.MethodTOTP, "mfa", "mfa.title")
}

// secondFactor checks a code of method m at the sign-in's second step and
// answers with the next step, or the page again with what went wrong.
func (s *Server) secondFactor(w http.ResponseWriter, r *http.Request, m portal.Method, page, title string) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateMFA)
	if f == nil {
		return
	}
	token, err := s.svc.SecondFactorThenFinish(r.Context(), f, m, strings.TrimSpace(r.PostForm.Get("code")), s.sessionToken(r), client(r))
	if err == nil {
		if token != "" {
			s.startSession(w, r, f, token)
		} else {
			s.next(w, r, f)
		}
		return
	}
	if errors.Is(err, portal.ErrFlowFinished) {
		s.finished(w, r, f)
		return
	}
	if !s.codeError(w, r, err, page, title, codeData{StepUp: f.IsStepUp()}) {
		s.flowError(w, r, err)
	}
}

// codeError shows a wrong or locked code on the page it was typed on; false
// when err is not about the code.
func (s *Server) codeError(w http.ResponseWriter, r *http.Request, err error, page, title string, data any) bool {
	status, msg, ok := s.stepError(w, r, err)
	if !ok {
		return false
	}
	v := s.view(r, title)
	v.Data, v.Error = data, msg
	s.render(w, r, status, page, v)
	return true
}

// methodsPage is 「別の方法を試す」: the factors this account has.
func (s *Server) methodsPage(w http.ResponseWriter, r *http.Request) {
	if f := s.flow(w, r, portal.StateMFA); f != nil {
		s.showMethods(w, r, f, http.StatusOK, "")
	}
}

// showMethods is 「別の方法を試す」, with an error when a code could not be
// sent to the phone.
func (s *Server) showMethods(w http.ResponseWriter, r *http.Request, f *portal.Flow, status int, errMsg string) {
	ms, err := s.svc.Methods(r.Context(), f.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	d := codeData{StepUp: f.IsStepUp(), Methods: ms}
	if p, err := s.svc.PhoneFactor(r.Context(), f.AccountID); err == nil {
		d.Phone = phone.Mask(p.Secret)
	}
	v := s.view(r, "mfa.methods_title")
	v.backTo(r, "/login/methods")
	v.Data, v.Error = d, errMsg
	s.render(w, r, status, "methods", v)
}

func (s *Server) recoveryInputPage(w http.ResponseWriter, r *http.Request) {
	f := s.flow(w, r, portal.StateMFA)
	if f == nil {
		return
	}
	v := s.view(r, "mfa.recovery_title")
	v.Data = codeData{StepUp: f.IsStepUp()}
	s.render(w, r, http.StatusOK, "recovery_input", v)
}

func (s *Server) recoveryInput(w http.ResponseWriter, r *http.Request) {
	s.secondFactor(w, r, portal.MethodRecovery, "recovery_input", "mfa.recovery_title")
}

// hint is a login_hint as the login page fills it in: an address's length
// at most, and nothing that is not text.
func hint(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 254 || !webkit.IsText(h) {
		return ""
	}
	return h
}
