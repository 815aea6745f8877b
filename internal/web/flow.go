package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"

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
// f may still take (flow_ttl, or enrol_ttl for a first enrolment).
func (s *Server) setFlow(w http.ResponseWriter, f *portal.Flow) {
	left := int(math.Ceil(f.ExpiresAt.Sub(s.svc.Now()).Seconds()))
	s.setCookie(w, s.cookieName(flowCookie), s.svc.FlowCookie(f), max(left, 1))
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
		http.Redirect(w, r, "/login?e=expired", http.StatusSeeOther)
		return nil
	}
	f, err := s.svc.LoadFlow(r.Context(), c.Value, states...)
	switch {
	case err == nil:
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
		s.setCookie(w, s.cookieName(flowCookie), "", -1)
		http.Redirect(w, r, "/login?e=expired", http.StatusSeeOther)
	default:
		s.internal(w, r, err)
	}
	return nil
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
	s.setCookie(w, s.cookieName(flowCookie), "", -1)
	s.setCookie(w, s.cookieName(sessionCookie), token, int(s.svc.Config.SessionTTL.Seconds()))
	http.Redirect(w, r, safeReturn(f.ReturnTo), http.StatusSeeOther)
}

// flowError answers a failed step that has no form error to show.
func (s *Server) flowError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, portal.ErrFlowExpired):
		http.Redirect(w, r, "/login?e=expired", http.StatusSeeOther)
	case errors.Is(err, portal.ErrWrongStep), errors.Is(err, portal.ErrNoSuchMethod):
		s.fail(w, r, http.StatusConflict, "login.wrong_step")
	case errors.Is(err, portal.ErrAlreadyEnrolled):
		s.setCookie(w, s.cookieName(flowCookie), "", -1)
		s.fail(w, r, http.StatusConflict, "enrol.already")
	case errors.Is(err, portal.ErrAccountLocked):
		// Locked by an operator between the password and the end of the
		// sign-in: the flow is spent.
		s.setCookie(w, s.cookieName(flowCookie), "", -1)
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
	if s.sessionToken(r) != "" {
		s.setCookie(w, s.cookieName(sessionCookie), "", -1)
		target += "&e=ended"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
