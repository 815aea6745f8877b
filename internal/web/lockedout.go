package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// lockedOutData is the recovery request's pages: the explanation (Wait,
// the cooling-off period in words), the confirmation to make (Token, Email,
// When) or made (Done, When).
type lockedOutData struct {
	Wait  string
	Token string
	Email string
	When  string
	Done  bool
}

// lockedOutRoutes routes the recovery request's pages.
func (s *Server) lockedOutRoutes() {
	s.handle("GET", "/login/lockedout", s.lockedOutPage)
	s.handle("POST", "/login/lockedout", s.lockedOut)
	s.handle("GET", "/recovery-request/confirm", s.recoveryConfirmPage)
	s.handle("POST", "/recovery-request/confirm", s.recoveryConfirm)
}

// coolingOff is the cooling-off period in the page's language: 72時間.
func (s *Server) coolingOff(r *http.Request) string {
	return webkit.Span(webkit.PickLanguage(r), s.svc.Config.RecoveryCoolingOff.Duration)
}

// lockedOutPage is 「デバイスを紛失した場合」: what a recovery request does,
// and the button that asks for one; with sent=1, the page that says to
// check the mail, which its language switch reloads.
func (s *Server) lockedOutPage(w http.ResponseWriter, r *http.Request) {
	f := s.flow(w, r, portal.StateMFA)
	switch {
	case f == nil:
	case r.URL.Query().Get("sent") == "1":
		s.showLockedOutSent(w, r)
	default:
		s.showLockedOut(w, r, http.StatusOK, "")
	}
}

func (s *Server) showLockedOut(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	v := s.view(r, "lockedout.title")
	v.Data, v.Error = lockedOutData{Wait: s.coolingOff(r)}, errMsg
	s.render(w, r, status, "lockedout", v)
}

// lockedOut asks for a recovery request, then sends the browser to the
// page that says to check the mail: answered in place, a reload of that
// page sent the form again, which mailed another link and made the one
// just sent invalid.
func (s *Server) lockedOut(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateMFA)
	if f == nil {
		return
	}
	err := s.svc.RequestRecovery(r.Context(), f, webkit.PickLanguage(r), client(r))
	switch {
	case err == nil:
		http.Redirect(w, r, lockedOutSentPath, http.StatusSeeOther)
	case errors.Is(err, portal.ErrRecoveryPending):
		s.showLockedOut(w, r, http.StatusConflict, s.t(r, "lockedout.pending"))
	case errors.Is(err, portal.ErrTooManyRequests):
		s.showLockedOut(w, r, http.StatusTooManyRequests, s.t(r, "lockedout.throttled"))
	default:
		s.flowError(w, r, err)
	}
}

// lockedOutSentPath is the page that says to check the mail. Its reload and
// its language switch show it again and send nothing.
const lockedOutSentPath = "/login/lockedout?sent=1"

// showLockedOutSent says to check the mail.
func (s *Server) showLockedOutSent(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "lockedout.sent_title")
	v.Data = lockedOutData{Wait: s.coolingOff(r)}
	s.render(w, r, http.StatusOK, "lockedout_sent", v)
}

// recoveryConfirmPage opens from the request's mail and asks to confirm.
// It spends nothing: mail scanners open links too.
func (s *Server) recoveryConfirmPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	req, when, err := s.svc.CheckRecovery(r.Context(), token)
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "lockedout.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	a, err := s.svc.Store.AccountByID(r.Context(), req.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "lockedout.confirm_title")
	v.Data = lockedOutData{Wait: s.coolingOff(r), Token: token, Email: a.Email,
		When: formatTime(webkit.PickLanguage(r), when)}
	if req.Status == store.RecoveryWaiting {
		// The mail's link opened again once confirmed: the page says it
		// is, and when it takes effect, as the confirmation did.
		v.Data = lockedOutData{Wait: s.coolingOff(r), Done: true, When: formatTime(webkit.PickLanguage(r), when)}
		v.Notice = s.t(r, "lockedout.confirmed_already")
	}
	s.render(w, r, http.StatusOK, "lockedout_confirm", v)
}

// recoveryConfirm spends the link: the request waits out its period.
func (s *Server) recoveryConfirm(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	req, err := s.svc.ConfirmRecovery(r.Context(), token, client(r))
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "lockedout.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "lockedout.confirm_title")
	// The language switch opens the mail's link again, which says the
	// request is confirmed and when it takes effect; the POST's address
	// without its token would say the link is invalid.
	v.backTo(r, "/recovery-request/confirm?token="+url.QueryEscape(token))
	v.Notice = s.t(r, "lockedout.confirmed")
	v.Data = lockedOutData{Wait: s.coolingOff(r), Done: true, When: formatTime(webkit.PickLanguage(r), req.EffectiveAt)}
	s.render(w, r, http.StatusOK, "lockedout_confirm", v)
}
