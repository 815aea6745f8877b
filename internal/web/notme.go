package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/portal"
)

// notMeData is the "this was not me" page: the report to confirm (Token),
// or the report received (Done). UnknownFactor: the notice reported told of
// a second factor set up or reset, so the next sign-in may ask for a code
// the customer cannot give; the page says how to sign in again, after
// CoolingOff, the recovery request's waiting period.
type notMeData struct {
	Token, Email  string
	Done          bool
	UnknownFactor bool
	CoolingOff    string
}

// notMePage opens from a security notice's 「心当たりがない」 link and says
// what reporting does. It spends nothing: mail scanners open links too.
func (s *Server) notMePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if what := s.notice(w, r, "", true); token == "" && (what == "notme" || what == "notme_factor") {
		s.notMeDone(w, r, what == "notme_factor")
		return
	}
	a, err := s.svc.CheckNotMe(r.Context(), token)
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "notme.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "notme.title")
	v.Data = notMeData{Token: token, Email: a.Email}
	s.render(w, r, http.StatusOK, "not_me", v)
}

// notMe is 「ログアウトして報告する」: every session of the account ends, this
// browser's too, and operators are alerted.
func (s *Server) notMe(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	report, err := s.svc.ReportNotMe(r.Context(), r.PostForm.Get("token"), client(r))
	if errors.Is(err, portal.ErrTokenInvalid) {
		s.fail(w, r, http.StatusNotFound, "notme.invalid")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.setCookie(w, s.cookieName(sessionCookie), "", -1)
	s.dropFlow(w)
	// The report received is a page of its own: reloading it, or switching
	// its language, would otherwise send the spent link again and read
	// that the link is invalid. Its address is /not-me without a link; the
	// notice cookie says it was received, and which advice to show, for
	// notMeDoneTTL and in this browser only: an address that said so
	// would tell anyone who opened it that a report was received, and
	// that every sign-in had ended, which no one had asked for.
	done := "notme"
	if report.UnknownFactor {
		done = "notme_factor"
	}
	s.setNotice(w, done, "", notMeDoneTTL)
	http.Redirect(w, r, "/not-me", http.StatusSeeOther)
}

// notMeDoneTTL is how long the report's page stays the browser's to
// reload, or to read in the other language.
const notMeDoneTTL = 30 * time.Minute

// notMeDone says the report was received and what to do next (with
// unknownFactor, how to sign in without the second factor). It holds
// nothing of the account, so it needs no link.
func (s *Server) notMeDone(w http.ResponseWriter, r *http.Request, unknownFactor bool) {
	v := s.view(r, "notme.title")
	v.Notice = s.t(r, "notme.done")
	v.Data = notMeData{Done: true, UnknownFactor: unknownFactor, CoolingOff: s.coolingOff(r)}
	s.render(w, r, http.StatusOK, "not_me", v)
}
