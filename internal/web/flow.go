package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/webkit"
)

// Cookie names. Over HTTPS they carry the __Host- prefix, so the browser
// keeps them only when Secure, for this host, on path /: no subdomain and no
// plain-HTTP page can plant or overwrite them.
const (
	flowCookie    = "tobira_flow"
	sessionCookie = "tobira_session"
	// browserCookie binds the authorization requests a browser starts to
	// it (Server.authorize).
	browserCookie = "tobira_oidc_browser"
	// returnCookie remembers, for a while past its flow's end, where a
	// sign-in or step-up was going (setFlow).
	returnCookie = "tobira_flow_return"
)

// cookieName is the name a cookie has on this server.
func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// stateURL is the page of each sign-in state.
var stateURL = map[string]string{
	portal.StateMFA:      "/login/code",
	portal.StateEnrol:    "/enrol",
	portal.StateRecovery: "/recovery-code",
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// setFlow gives the browser the cookie of f's current step, for as long as
// f may still take (flow_ttl, or enrol_ttl for a first enrolment), and the
// cookie that remembers where f goes back to, for returnGrace longer.
//
// The flow cookie is not the one to outlive the flow: it opens the flow's
// step, and it names a row that holds the return path only until the
// sweep deletes it. A customer who leaves the code screen open past the
// flow's life, though, still means to go where the sign-in started (a
// site's authorization request, the security page), and without the
// return cookie the sign-in after 「ログインの有効期限が切れました」 ended
// at マイページ. The return cookie holds the path itself, signed with its
// own deadline (portal.Service.ReturnCookie), and opens nothing.
func (s *Server) setFlow(w http.ResponseWriter, f *portal.Flow) {
	now := s.svc.Now()
	left := int(math.Ceil(f.ExpiresAt.Sub(now).Seconds()))
	s.setCookie(w, s.cookieName(flowCookie), s.svc.FlowCookie(f), max(left, 1))
	until := f.ExpiresAt.Add(s.returnGrace())
	ret := s.svc.ReturnCookie(f, until)
	if len(ret) > maxReturnCookie {
		// A return path that long comes from a crafted link, not from a
		// page of the portal: remembered, it would make every answer of
		// the sign-in too large for a browser's cookie and for a proxy's
		// header buffer. The sign-in goes on to it as ever; only one that
		// expires forgets it, and no earlier one is remembered instead.
		s.setCookie(w, s.cookieName(returnCookie), "", -1)
		return
	}
	s.setCookie(w, s.cookieName(returnCookie), ret, int(math.Ceil(until.Sub(now).Seconds())))
}

// maxReturnCookie is the longest return cookie value setFlow sets: room
// for any return path the portal makes (a site's request, a page of the
// security page), well within the 4 KiB a browser keeps of a cookie.
const maxReturnCookie = 1024

// returnGrace is how long past its flow's end the return cookie still
// counts: as long as a site's authorization request waits for its sign-in
// (oidc.Provider.RequestTTL), or, without the provider, as the slowest
// sign-in may take. The site's request started before the flow, so by
// then it has expired for sure, and its 「ご利用のサイトからもう一度お試し
// ください」 is all its path could still lead to; a customer who comes back
// later than that to a page left open is starting over, and lands at
// マイページ as any sign-in from the login page does.
func (s *Server) returnGrace() time.Duration {
	if s.oidc != nil {
		return s.oidc.RequestTTL()
	}
	return s.svc.Config.SignInTTL()
}

// dropFlow ends the browser's part in its sign-in: the flow cookie and the
// return cookie go.
func (s *Server) dropFlow(w http.ResponseWriter) {
	s.setCookie(w, s.cookieName(flowCookie), "", -1)
	s.setCookie(w, s.cookieName(returnCookie), "", -1)
}

// next sends the browser to the page of the flow's current step.
func (s *Server) next(w http.ResponseWriter, r *http.Request, f *portal.Flow) {
	s.setFlow(w, f)
	http.Redirect(w, r, stateURL[f.State], http.StatusSeeOther)
}

// flow loads the sign-in of this browser if it is at one of the states;
// otherwise it answers the request itself and returns nil.
func (s *Server) flow(w http.ResponseWriter, r *http.Request, states ...string) *portal.Flow {
	c, err := r.Cookie(s.cookieName(flowCookie))
	if err != nil {
		s.expired(w, r)
		return nil
	}
	// The browser's session is read before its flow, for a step-up's
	// sake (stepUpEnded).
	si, sessionErr := s.signedIn(r)
	f, err := s.svc.LoadFlow(r.Context(), c.Value, states...)
	switch {
	case err == nil:
		if f.IsStepUp() && s.stepUpEnded(w, r, f, si, sessionErr) {
			return nil
		}
		return f
	case errors.Is(err, portal.ErrWrongStep):
		// The back button, a bookmark, or a second tab of the same
		// sign-in that moved it on while this one still showed an earlier
		// step: the cookie is signed for the step the flow is at, so this
		// is the flow's own browser. It is sent to that step's page, and
		// a form posted here is not read: nothing is checked, counted or
		// moved, and no step is skipped, since the page shown is the one
		// the flow is at (a POST of a later step's form leads back to it
		// as well).
		s.toStep(w, r, f)
	case errors.Is(err, portal.ErrBadFlowCookie):
		// A cookie of an earlier step, or a forged one: refused.
		s.log.Warn("sign-in step refused", "path", r.URL.Path, "ip", webkit.ClientIP(r))
		s.fail(w, r, http.StatusConflict, "login.wrong_step")
	case errors.Is(err, portal.ErrFlowExpired):
		s.expired(w, r)
	default:
		s.internal(w, r, err)
	}
	return nil
}

// stepUpEnded answers, and reports true, for a step-up f of a browser
// that is signed in no more: its session ended while the check's screen
// was open (signed out in another tab or by another device, locked by an
// operator, expired). Nothing is checked or sent for it (a code could
// renew nothing); its flow ends, and the browser signs in again, told
// why, and comes back to the page. A browser signed in still, though
// with another session than f's (renewed by another tab's check), goes
// on: the service sends it to its page (Server.expired).
//
// si was read before f: a session that f itself renewed (the form sent
// twice, the other request done first) is gone only once f is too, so
// that browser never comes here, and keeps the renewed session's cookie.
func (s *Server) stepUpEnded(w http.ResponseWriter, r *http.Request, f *portal.Flow, si *portal.SignedIn, err error) bool {
	if err != nil {
		s.internal(w, r, err)
		return true
	}
	if si != nil {
		return false
	}
	if err := s.svc.Abandon(r.Context(), f); err != nil {
		// It expires by itself; its cookie goes below.
		s.log.Warn("step-up of an ended session not dropped", "id", webkit.RequestID(r), "err", err)
	}
	s.forgetFlow(w, r)
	s.forgetEndedSession(w, r)
	http.Redirect(w, r, "/login?next="+url.QueryEscape(safeReturn(f.ReturnTo))+"&e=ended", http.StatusSeeOther)
	return true
}

// toStep sends the browser to the page of the step f is at, and changes
// nothing. The second factor's page is the phone's for an account whose
// second factor is its phone only, as secondStep sends it there; the
// phone's screen sends no code by itself on a GET.
func (s *Server) toStep(w http.ResponseWriter, r *http.Request, f *portal.Flow) {
	page := stateURL[f.State]
	if f.State == portal.StateMFA {
		phoneFirst, err := s.svc.PhoneFirst(r.Context(), f)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if phoneFirst {
			page = "/login/phone"
		}
	}
	http.Redirect(w, r, page, http.StatusSeeOther)
}

// expired answers a request whose sign-in or step-up has ended unfinished:
// it expired (the browser dropped its cookie with it, or still sent it a
// moment later), or a new password, a reset or a report of "not me" ended
// it. The return cookie, which outlives the flow (setFlow), says where it
// was going, and is spent here, or replaced by a new step-up's. A sign-in
// starts again at the login page, which says why and then goes on there:
// to the site's authorization request (or its 「もう一度お試しください」
// page, if that expired too), the security page, or wherever it started.
// A step-up of a session still signed in starts again at once
// (stepUpExpired). One whose browser sent no live session goes to its
// page, which decides: the session may have ended meanwhile (the page
// then asks for a sign-in that comes back to it, and says why), or this
// very step-up renewed it under a new id, in the other request of a form
// sent twice, whose answer gave the browser the new cookie after this
// request left with the old one. Dropping that cookie here, as a sign-in
// that ended would, signed the customer out of the session just renewed.
func (s *Server) expired(w http.ResponseWriter, r *http.Request) {
	ret, ok := s.flowReturn(r)
	if ok && ret.StepUp {
		si, err := s.signedIn(r)
		if err == nil && si != nil {
			s.stepUpExpired(w, r, si, ret.Path)
			return
		}
		s.forgetFlow(w, r)
		if err != nil {
			s.internal(w, r, err)
		} else {
			http.Redirect(w, r, ret.Path, http.StatusSeeOther)
		}
		return
	}
	s.forgetFlow(w, r)
	target := "/login?e=expired"
	if ok && ret.Path != "/" {
		target += "&next=" + url.QueryEscape(ret.Path)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// flowReturn reads the browser's return cookie: where its last sign-in
// was going, only ever a local path; false without a valid one.
func (s *Server) flowReturn(r *http.Request) (portal.FlowReturn, bool) {
	c, err := r.Cookie(s.cookieName(returnCookie))
	if err != nil {
		return portal.FlowReturn{}, false
	}
	ret, ok := s.svc.LoadReturn(c.Value)
	ret.Path = safeReturn(ret.Path)
	return ret, ok
}

// forgetFlow clears the flow cookie and the return cookie of a sign-in
// that has ended unfinished, those the browser sent. An answer that gives
// it new ones (setFlow) does not also clear them: a response should set a
// cookie once (RFC 6265, 4.1.1).
func (s *Server) forgetFlow(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{flowCookie, returnCookie} {
		if _, err := r.Cookie(s.cookieName(name)); err == nil {
			s.setCookie(w, s.cookieName(name), "", -1)
		}
	}
}

// finish turns a completed flow into a session and sends the browser back to
// where the sign-in started.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, f *portal.Flow) {
	token, err := s.svc.Finish(r.Context(), f, s.sessionToken(r), client(r))
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	s.startSession(w, r, f, token)
}

// sessionToken is the browser's session cookie, empty when it has none.
func (s *Server) sessionToken(r *http.Request) string {
	if c, err := r.Cookie(s.cookieName(sessionCookie)); err == nil {
		return c.Value
	}
	return ""
}

// startSession gives the browser the session a finished flow issued and
// sends it back to where the sign-in started.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, f *portal.Flow, token string) {
	s.dropFlow(w)
	s.setSession(w, token)
	http.Redirect(w, r, safeReturn(f.ReturnTo), http.StatusSeeOther)
}

// setSession gives the browser the cookie of the session token. The
// server decides when a session ends (session_ttl after the sign-in, or a
// sign-out, here or elsewhere); the cookie lasts session_ttl longer than
// the longest session, so that a browser that comes back after its
// session ran out, to a page of the portal or to a site's sign-in, still
// sends it and is told that its sign-in has ended (forgetEndedSession),
// once. A cookie that went with the session, as it did, made an expired
// sign-in look like none at all. Once its session is gone the cookie
// names nothing: its value is looked up by hash, and never again found.
func (s *Server) setSession(w http.ResponseWriter, token string) {
	s.setCookie(w, s.cookieName(sessionCookie), token, int((2 * s.svc.Config.SessionTTL.Duration).Seconds()))
}

// finished answers a code step whose sign-in another request of this
// browser ended meanwhile (portal.ErrFlowFinished): the form sent twice.
// The browser shows this answer, not the first one's, which signed it in,
// so it goes where that one went.
func (s *Server) finished(w http.ResponseWriter, r *http.Request, f *portal.Flow) {
	s.dropFlow(w)
	http.Redirect(w, r, safeReturn(f.ReturnTo), http.StatusSeeOther)
}

// flowError answers a failed step that has no form error to show.
func (s *Server) flowError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, portal.ErrFlowExpired):
		s.expired(w, r)
	case errors.Is(err, portal.ErrWrongStep), errors.Is(err, portal.ErrNoSuchMethod):
		s.fail(w, r, http.StatusConflict, "login.wrong_step")
	case errors.Is(err, portal.ErrAlreadyEnrolled):
		s.dropFlow(w)
		s.fail(w, r, http.StatusConflict, "enrol.already")
	case errors.Is(err, portal.ErrAccountLocked):
		// Locked by an operator between the password and the end of the
		// sign-in: the flow is spent.
		s.dropFlow(w)
		s.fail(w, r, http.StatusForbidden, "login.locked_account")
	default:
		s.internal(w, r, err)
	}
}

// safeReturn keeps only local paths, so no link can send a customer from the
// portal to another site after signing in.
func safeReturn(p string) string { return webkit.LocalPath(p) }

// signedIn resolves the session cookie; nil when the browser is not signed in.
func (s *Server) signedIn(r *http.Request) (*portal.SignedIn, error) {
	token := s.sessionToken(r)
	if token == "" {
		return nil, nil
	}
	si, err := s.svc.Session(r.Context(), token)
	if errors.Is(err, portal.ErrNoSession) {
		return nil, nil
	}
	return si, err
}

// requireSignIn returns the signed-in customer, or sends the browser to sign
// in and come back.
func (s *Server) requireSignIn(w http.ResponseWriter, r *http.Request) *portal.SignedIn {
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return nil
	}
	if si == nil {
		s.toSignIn(w, r, r.URL.RequestURI())
		return nil
	}
	return si
}

// toSignIn sends the browser to sign in and come back to next. A browser
// whose session has ended (it expired, or another device signed it out,
// changed the password or reset the second factor) is told so on the
// login page, once: its cookie, which names no session any more, goes.
func (s *Server) toSignIn(w http.ResponseWriter, r *http.Request, next string) {
	target := "/login?next=" + url.QueryEscape(next)
	if s.forgetEndedSession(w, r) {
		target += "&e=ended"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// forgetEndedSession is for a browser that signedIn found not signed in:
// when it sent a session cookie, that names a session that has ended, and
// the cookie goes; it reports whether it did, and so whether the login
// page is to say that the sign-in ended (?e=ended). A browser that sent
// none never signed in, or was told already.
func (s *Server) forgetEndedSession(w http.ResponseWriter, r *http.Request) bool {
	if s.sessionToken(r) == "" {
		return false
	}
	s.setCookie(w, s.cookieName(sessionCookie), "", -1)
	return true
}
