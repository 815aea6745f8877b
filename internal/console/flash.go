package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// A notice (「アカウントをロックしました。」) says that this browser's
// operator just did something. It once came in the address (?done=locked),
// so that any link, bookmark or page of the history showed it, true or
// not: an operator could be told a customer was erased, or a reset
// approved, that nobody had touched. It now comes in a one-time cookie,
// a flash, that the action sets on its redirect and the page it redirects
// to shows once and clears:
//
//   - the value names the notice and when it stops being good, and is
//     stamped with the server's key (secret.Keyring.Stamp) over those, the
//     operator who acted and the page it is for, so that a cookie planted by another site or
//     another operator's browser (a sibling host, say) shows nothing;
//   - its Path is that page's, so it travels nowhere else; it is HttpOnly,
//     Secure as the session cookie is, and SameSite=Strict as that one;
//   - it lives flashTTL, time enough for the redirect, and the GET of its
//     page clears it: reloading, going back or forward shows the page
//     without it.
//
// The address stays the page's own.

// flashCookie is the notice's cookie.
const flashCookie = "tobira_console_notice"

// flashTTL is how long a notice waits for its page.
const flashTTL = 2 * time.Minute

// notices are the notices an action may leave, by name.
var notices = map[string]string{
	"resent": "notice.resent", "locked": "notice.locked", "unlocked": "notice.unlocked", "opened": "notice.opened",
	"reset_requested": "notice.reset_requested", "reset_approved": "notice.reset_approved", "reset_rejected": "notice.reset_rejected",
	"reset_withdrawn": "notice.reset_withdrawn", "scheduled": "notice.scheduled", "cancelled": "notice.cancelled",
	"recovery_approved": "notice.recovery_approved", "recovery_proposed": "notice.recovery_proposed",
	"recovery_rejected": "notice.recovery_rejected", "recovery_withdrawn": "notice.recovery_withdrawn",
	"operator_disabled": "notice.operator_disabled", "operator_enabled": "notice.operator_enabled",
	"erased": "notice.erased", "password_changed": "notice.password_changed",
}

// done redirects to path after op's action, leaving the notice named
// notice for that page to show once. path may carry a query (a page an
// operator was going to); the notice is for its page, whatever the query.
func (s *Server) done(w http.ResponseWriter, r *http.Request, op *store.Operator, path, notice string) {
	page, _, _ := strings.Cut(path, "?")
	v := s.svc.Keys.Stamp("console notice", notice, s.svc.Now().Add(flashTTL), op.ID, page)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v, Path: page, MaxAge: int(flashTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// takeFlash clears, on the GET of a page, the notice cookie the browser
// sent for it: the page shows the notice (notice, below) this once.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		return
	}
	if _, err := r.Cookie(flashCookie); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: r.URL.EscapedPath(), MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// notice shows the notice an action of v's operator left for this page,
// if any, and only on its GET: a form shown again in answer to a POST is
// no page an action redirected to.
func (s *Server) notice(r *http.Request, v *view) {
	c, err := r.Cookie(flashCookie)
	if err != nil || r.Method != http.MethodGet || v.Op == nil {
		return
	}
	name, ok := s.svc.Keys.Unstamp(c.Value, "console notice", s.svc.Now(), v.Op.ID, r.URL.EscapedPath())
	key, known := notices[name]
	if !ok || !known {
		return
	}
	v.Notice = s.t(r, key)
}
