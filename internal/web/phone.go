package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/phone"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/webkit"
)

type enrolPhoneData struct {
	Countries []phone.Country
	// Filter shows the search box above the picker, for lists long enough
	// to need one.
	Filter         bool
	Region, Number string
	Channel        string
}

// filterFrom is how many countries the picker must offer for its search box.
const filterFrom = 10

// enrolPhonePage is manual XI. III: the number, its country, and how the
// code should come. After 「編集」 it shows the number the code went to and
// the channel chosen for it (not that of a one-off resend by the other).
func (s *Server) enrolPhonePage(w http.ResponseWriter, r *http.Request) {
	f := s.flow(w, r, portal.StateEnrol)
	if f == nil {
		return
	}
	// No country's numbers are accepted: the phone is no method here.
	if len(s.svc.Config.Phone.Countries) == 0 {
		http.Redirect(w, r, "/enrol/methods", http.StatusSeeOther)
		return
	}
	d := enrolPhoneData{Region: "JP", Channel: string(notify.SMS)}
	if sent, err := s.svc.SentCodeOf(r.Context(), f); err == nil {
		d.Region, d.Number, d.Channel = phone.Region(sent.Phone), phone.National(sent.Phone), string(sent.Chosen)
	}
	s.showEnrolPhone(w, r, http.StatusOK, d, "")
}

func (s *Server) showEnrolPhone(w http.ResponseWriter, r *http.Request, status int, d enrolPhoneData, errMsg string) {
	// Only the countries whose numbers are accepted: one the server would
	// refuse has no place in the list.
	d.Countries = phone.Countries(webkit.PickLanguage(r), s.svc.Config.Phone.Countries)
	d.Filter = len(d.Countries) >= filterFrom
	if !slices.ContainsFunc(d.Countries, func(c phone.Country) bool { return c.Region == d.Region }) && len(d.Countries) > 0 {
		d.Region = d.Countries[0].Region
	}
	v := s.view(r, "phone.enrol_title")
	v.backTo(r, "/enrol/phone")
	v.Data, v.Error = d, errMsg
	s.render(w, r, status, "enrol_phone", v)
}

func (s *Server) enrolPhone(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateEnrol)
	if f == nil {
		return
	}
	d := enrolPhoneData{
		Region:  r.PostForm.Get("region"),
		Number:  strings.TrimSpace(r.PostForm.Get("number")),
		Channel: r.PostForm.Get("channel"),
	}
	if d.Number == "" {
		// 「続ける」 with the field empty is told to fill it in, not that
		// a number is malformed.
		s.showEnrolPhone(w, r, http.StatusBadRequest, d, s.t(r, "phone.missing"))
		return
	}
	err := s.svc.EnrolPhone(r.Context(), f, d.Region, d.Number, notify.Channel(d.Channel), webkit.PickLanguage(r), client(r))
	if err == nil {
		http.Redirect(w, r, "/enrol/phone/code", http.StatusSeeOther)
		return
	}
	if resend, ok := errors.AsType[*portal.ResendError](err); ok && resend.InFlight {
		// 「編集」 and the same number and channel again within the pause:
		// the code screen, as for 「再送信」 then, which says that no new
		// code was sent and the one sent still works.
		s.afterSend(w, r, f, "/enrol/phone/code", err)
		return
	}
	if status, msg, ok := s.stepError(w, r, err); ok {
		s.showEnrolPhone(w, r, status, d, msg)
		return
	}
	s.flowError(w, r, err)
}

// stepError turns the errors of a second-factor step (a code, a phone, a
// send) into a status and a message in the customer's language; ok is false
// for other errors.
func (s *Server) stepError(w http.ResponseWriter, r *http.Request, err error) (int, string, bool) {
	lang := webkit.PickLanguage(r)
	var limit *portal.SendLimitError
	var resend *portal.ResendError
	var locked *portal.LockedError
	switch {
	case errors.Is(err, portal.ErrInvalidPhone):
		return http.StatusBadRequest, s.t(r, "phone.invalid"), true
	case errors.Is(err, portal.ErrCountryNotAllowed):
		return http.StatusBadRequest, s.t(r, "phone.country_not_allowed"), true
	case errors.Is(err, portal.ErrUnknownChannel):
		return http.StatusBadRequest, s.t(r, "phone.unknown_channel"), true
	case errors.Is(err, portal.ErrCannotText):
		return http.StatusBadRequest, s.t(r, "phone.cannot_text"), true
	case errors.Is(err, portal.ErrNotPersonalPhone):
		return http.StatusBadRequest, s.t(r, "phone.not_personal"), true
	case errors.Is(err, portal.ErrSendFailed):
		return http.StatusBadGateway, s.t(r, "phone.send_failed"), true
	case errors.Is(err, portal.ErrNoPhoneCode):
		return http.StatusBadRequest, s.t(r, "phone.no_code"), true
	case errors.Is(err, portal.ErrPhoneCodeExpired):
		return http.StatusBadRequest, s.t(r, "phone.expired"), true
	case errors.Is(err, portal.ErrPhoneCodeExhausted):
		return http.StatusTooManyRequests, s.t(r, "phone.exhausted"), true
	case errors.Is(err, portal.ErrWrongCode):
		return http.StatusUnauthorized, s.t(r, "mfa.wrong_code"), true
	case errors.Is(err, portal.ErrCodeUsed):
		return http.StatusUnauthorized, s.t(r, "mfa.code_used"), true
	case errors.Is(err, portal.ErrPhoneCodeReplaced):
		return http.StatusUnauthorized, s.t(r, "phone.code_replaced"), true
	case errors.Is(err, portal.ErrCodeFormat):
		return http.StatusBadRequest, s.t(r, "mfa.code_format"), true
	case errors.Is(err, portal.ErrRecoveryFormat):
		return http.StatusBadRequest, s.t(r, "mfa.recovery_format"), true
	case errors.As(err, &limit):
		w.Header().Set("Retry-After", seconds(limit.Until.Sub(s.svc.Now())))
		return http.StatusTooManyRequests, s.t(r, "phone.limit_"+limit.Limit, formatTime(lang, limit.Until)), true
	case errors.As(err, &resend):
		w.Header().Set("Retry-After", seconds(resend.Wait))
		return http.StatusTooManyRequests, s.t(r, "phone.resend_wait", seconds(resend.Wait)), true
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", seconds(locked.Until.Sub(s.svc.Now())))
		key := "mfa.locked"
		switch {
		case locked.Client:
			key = "mfa.throttled"
		case locked.Number:
			key = "mfa.throttled_number"
		}
		return http.StatusTooManyRequests, s.t(r, key, formatTime(lang, locked.Until)), true
	}
	return 0, "", false
}

type phoneCodeData struct {
	Masked string
	// NotSent: a new code was asked for and refused, so the screen must not
	// say that one was sent; the code in flight still works.
	NotSent bool
	Channel notify.Channel
	// Other is the channel 「音声通話で受け取る」 or 「テキストメッセージで
	// 受け取る」 switches to; empty when the number has no other.
	Other notify.Channel
	// Wait is how many seconds until a new code may be asked for; Until,
	// for a wait longer than shortWait, the time of day it ends, which
	// reads better than a count of thousands of seconds.
	Wait                         int
	Until                        string
	Enrol                        bool
	Action, Resend, OtherMethods string
}

// shortWait is the longest wait the code screen counts down in seconds (the
// pause between codes); longer ones (a sending limit) it gives as a time.
const shortWait = time.Minute

// showPhoneCode is manual XI. IV, at enrolment or at sign-in.
func (s *Server) showPhoneCode(w http.ResponseWriter, r *http.Request, f *portal.Flow, status int, errMsg string) {
	s.showPhoneCodeWait(w, r, f, status, errMsg, time.Time{}, false)
}

// showPhoneCodeWait shows the code screen with its buttons for a new code
// held back at least until `hold` (a sending limit's end; zero for none);
// notSent says that a new code was asked for and refused.
func (s *Server) showPhoneCodeWait(w http.ResponseWriter, r *http.Request, f *portal.Flow, status int, errMsg string, hold time.Time, notSent bool) {
	sent, err := s.svc.SentCodeOf(r.Context(), f)
	if errors.Is(err, portal.ErrNoPhoneCode) {
		// No code in flight (a send failed or was refused, or the code was
		// used): the step before, with the reason when there is one.
		switch {
		case errMsg == "" && f.State == portal.StateEnrol:
			http.Redirect(w, r, "/enrol/phone", http.StatusSeeOther)
		case errMsg == "":
			s.showPhoneSend(w, r, f)
		case f.State == portal.StateEnrol:
			s.showEnrolPhone(w, r, status, enrolPhoneData{Region: phone.DefaultRegion, Channel: string(notify.SMS)}, errMsg)
		default:
			s.showMethods(w, r, f, status, errMsg)
		}
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.svc.Now()
	until := now.Add(sent.ResendIn)
	if hold.After(until) {
		until = hold
	}
	wait := until.Sub(now)
	d := phoneCodeData{
		Masked: phone.Mask(sent.Phone), NotSent: notSent, Channel: sent.Channel,
		Wait:   int((wait + time.Second - 1) / time.Second),
		Enrol:  f.State == portal.StateEnrol,
		Action: "/login/phone", Resend: "/login/phone/send", OtherMethods: "/login/methods",
	}
	if wait > shortWait {
		// Rounded up: the minute shown must not come before the wait ends.
		d.Until = formatTime(webkit.PickLanguage(r), until.Add(time.Minute-1).Truncate(time.Minute))
	}
	for _, ch := range sent.Channels {
		if ch != sent.Channel {
			d.Other = ch
		}
	}
	if d.Enrol {
		d.Action, d.Resend, d.OtherMethods = "/enrol/phone/code", "/enrol/phone/resend", "/enrol/methods"
	}
	v := s.view(r, "phone.code_title")
	// A refused 「再送信」 or 「音声通話で受け取る」 is answered at its own
	// address, which has no page: the switch reloads the code screen.
	v.backTo(r, d.Action)
	v.Data, v.Error = d, errMsg
	s.render(w, r, status, "phone_code", v)
}

func (s *Server) enrolPhoneCodePage(w http.ResponseWriter, r *http.Request) {
	if f := s.flow(w, r, portal.StateEnrol); f != nil {
		s.showPhoneCode(w, r, f, http.StatusOK, "")
	}
}

func (s *Server) enrolPhoneCode(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateEnrol)
	if f == nil {
		return
	}
	err := s.svc.ConfirmPhone(r.Context(), f, strings.TrimSpace(r.PostForm.Get("code")), client(r))
	s.afterPhoneCode(w, r, f, err)
}

// afterPhoneCode answers a checked phone code: the next step, or the code
// screen again with what went wrong.
func (s *Server) afterPhoneCode(w http.ResponseWriter, r *http.Request, f *portal.Flow, err error) {
	if err == nil {
		s.next(w, r, f)
		return
	}
	if status, msg, ok := s.stepError(w, r, err); ok {
		s.showPhoneCode(w, r, f, status, msg)
		return
	}
	s.flowError(w, r, err)
}

func (s *Server) enrolPhoneResend(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateEnrol)
	if f == nil {
		return
	}
	err := s.svc.ResendCode(r.Context(), f, notify.Channel(r.PostForm.Get("channel")), webkit.PickLanguage(r), client(r))
	s.afterSend(w, r, f, "/enrol/phone/code", err)
}

// afterSend answers a request for a code: the code screen, or it again with
// why nothing was sent.
func (s *Server) afterSend(w http.ResponseWriter, r *http.Request, f *portal.Flow, codePage string, err error) {
	if err == nil {
		http.Redirect(w, r, codePage, http.StatusSeeOther)
		return
	}
	if status, msg, ok := s.stepError(w, r, err); ok {
		var hold time.Time
		if limit, ok := errors.AsType[*portal.SendLimitError](err); ok {
			hold = limit.Until
		}
		s.showPhoneCodeWait(w, r, f, status, msg, hold, true)
		return
	}
	s.flowError(w, r, err)
}

// loginPhoneSend sends a code to the account's phone at sign-in: from
// 「別の方法を試す」, and as 「再送信」 or 「音声通話で受け取る」.
func (s *Server) loginPhoneSend(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateMFA)
	if f == nil {
		return
	}
	err := s.svc.SendSignInCode(r.Context(), f, notify.Channel(r.PostForm.Get("channel")), webkit.PickLanguage(r), client(r))
	if _, ok := errors.AsType[*portal.ResendError](err); ok && r.PostForm.Get("channel") == "" {
		// 「別の方法を試す」 → 電話 again within the pause: the code in flight
		// is still good, when this flow has one (the pause may be another
		// flow's).
		if _, err2 := s.svc.SentCodeOf(r.Context(), f); err2 == nil {
			err = nil
		}
	}
	s.afterSend(w, r, f, "/login/phone", err)
}

type phoneSendData struct {
	Masked  string
	Channel notify.Channel
	StepUp  bool
}

// showPhoneSend is the phone's screen at the second factor before a code
// was sent (a step-up, which sends none by itself): 「コードを送信」, a
// same-origin POST, sends one by the channel chosen at enrolment.
func (s *Server) showPhoneSend(w http.ResponseWriter, r *http.Request, f *portal.Flow) {
	p, err := s.svc.PhoneFactor(r.Context(), f.AccountID)
	if errors.Is(err, portal.ErrNoSuchMethod) {
		http.Redirect(w, r, "/login/methods", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "phone.code_title")
	v.backTo(r, "/login/phone")
	v.Data = phoneSendData{Masked: phone.Mask(p.Secret), Channel: notify.Channel(p.Channel), StepUp: f.IsStepUp()}
	v.Error = s.stepUpAgain(r, f)
	s.render(w, r, http.StatusOK, "phone_send", v)
}

func (s *Server) loginPhonePage(w http.ResponseWriter, r *http.Request) {
	if f := s.flow(w, r, portal.StateMFA); f != nil {
		s.showPhoneCode(w, r, f, http.StatusOK, "")
	}
}

func (s *Server) loginPhone(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	f := s.flow(w, r, portal.StateMFA)
	if f == nil {
		return
	}
	token, err := s.svc.SecondFactorThenFinish(r.Context(), f, portal.MethodPhone, strings.TrimSpace(r.PostForm.Get("code")), s.sessionToken(r), client(r))
	switch {
	case err == nil && token != "":
		s.startSession(w, r, f, token)
	case errors.Is(err, portal.ErrFlowFinished):
		s.finished(w, r, f)
	default:
		s.afterPhoneCode(w, r, f, err)
	}
}
