package web

import (
	"net/http"
	"time"
)

// noticeCookie carries the outcome of what this browser just did (a
// reset, a password change, a device signed out) to the page it is sent
// to, which says it once. The page's address says nothing of it: an
// address with 「二要素認証の設定をリセットしました」 in it would say so to
// anyone who opened it, from their history, a bookmark, or a link sent to
// them to make them believe it.
const noticeCookie = "tobira_notice"

// noticeTTL is how long a notice of the security page waits for it:
// flow_ttl. The redirect that follows the action may come late (a slow
// phone, a customer who pauses in between), and the page may first ask
// for the second factor again (its step-up's ten minutes ran out while it
// was open: ending a device needs no fresh factor), whose code screen
// lasts flow_ttl. It is said once, and only in the sign-in it was made in
// (noticeBinding), so waiting longer shows it nowhere else; it is no
// longer than that so that a notice whose page was never reached does not
// turn up at some later visit, about something done long before.
func (s *Server) noticeTTL() time.Duration { return s.svc.Config.FlowTTL.Duration }

// noticeBinding is what a notice of the session sid, idHash is bound to:
// the sign-in's sid, which stays when the session's id is replaced (a
// step-up, a new password) and is another for every other sign-in, this
// browser's next one included. A session from before sids has only its
// id.
func noticeBinding(sid, idHash string) string {
	if sid != "" {
		return "sid\n" + sid
	}
	return "session\n" + idHash
}

// notices are the outcomes a notice cookie may name, with the message the
// page shows and whether it is a refusal (shown as an error) or news.
var notices = map[string]struct {
	key   string
	error bool
}{
	"reset":        {"security.reset_done", false},
	"changed":      {"security.reset_changed", true},
	"password":     {"security.password_done", false},
	"device":       {"devices.ended", false},
	"devices":      {"devices.ended_all", false},
	"device_gone":  {"devices.gone", true},
	"notme":        {"notme.done", false},
	"notme_factor": {"notme.done", false},
}

// setNotice has the browser carry the outcome what to the next page, for
// ttl. bind ties it to what only this browser holds, the hash of the
// session it was done in (empty once none is left). The value is signed
// with the server's keys: no one else can make one, and one made for
// another session, or older than ttl, says nothing.
func (s *Server) setNotice(w http.ResponseWriter, what, bind string, ttl time.Duration) {
	s.setCookie(w, s.cookieName(noticeCookie), s.svc.Keys.Stamp("notice", what, s.svc.Now().Add(ttl), bind), int(ttl.Seconds()))
}

// notice is the outcome the browser's notice cookie names for bind, or ""
// when it names none, or one that is not its own or too old. keep leaves
// the cookie; otherwise it is spent, so that the page says it once.
func (s *Server) notice(w http.ResponseWriter, r *http.Request, bind string, keep bool) string {
	c, err := r.Cookie(s.cookieName(noticeCookie))
	if err != nil {
		return ""
	}
	if !keep {
		s.setCookie(w, s.cookieName(noticeCookie), "", -1)
	}
	what, ok := s.svc.Keys.Unstamp(c.Value, "notice", s.svc.Now(), bind)
	if !ok {
		return ""
	}
	if _, ok := notices[what]; !ok {
		return ""
	}
	return what
}

// showNotice puts the outcome what, when it is one, on v.
func (s *Server) showNotice(r *http.Request, v *view, what string) {
	n, ok := notices[what]
	switch {
	case !ok:
	case n.error:
		v.Error = s.t(r, n.key)
	default:
		v.Notice = s.t(r, n.key)
	}
}
