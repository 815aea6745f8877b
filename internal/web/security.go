package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/phone"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// home is the page after sign-in, with the account menu at the top right.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	si := s.requireSignIn(w, r)
	if si == nil {
		return
	}
	v := s.view(r, "home.title")
	v.User = si.Account
	lang := webkit.PickLanguage(r)
	var sites []siteLink
	for _, l := range s.svc.Config.SiteLinks {
		name := l.Name
		if lang == "en" && l.NameEn != "" {
			name = l.NameEn
		}
		sites = append(sites, siteLink{name, l.URL})
	}
	v.Data = homeData{Sites: sites}
	s.render(w, r, http.StatusOK, "home", v)
}

type homeData struct{ Sites []siteLink }

// siteLink is a customer site マイページ links to, named in the page's
// language.
type siteLink struct{ Name, URL string }

type activity struct {
	When       stamp
	What, From string
}

type securityData struct {
	Methods []portal.Method
	Phone   string // masked
	Removes string // what a reset removes, for its confirmation
	// Tag names the factors the page shows (portal.MethodsTagged): the
	// reset's form sends it back, and a reset of other factors is refused.
	Tag      string
	Fresh    bool
	Activity []activity
	// Devices are the account's signed-in browsers (devicesView);
	// OtherDevices says one of them is not this one, MoreDevices that
	// there are more than the page lists.
	Devices                   []device
	OtherDevices, MoreDevices bool
}

// securityPage is manual V: 二要素認証 「✓設定されています」 and 「リセット」.
func (s *Server) securityPage(w http.ResponseWriter, r *http.Request) {
	si := s.requireSignIn(w, r)
	if si == nil || !s.stepUp(w, r, si, "/security") {
		return
	}
	d, err := s.factorsView(r, si)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.devicesView(r, si, &d); err != nil {
		s.internal(w, r, err)
		return
	}
	lang := webkit.PickLanguage(r)
	// Read as the page goes, up to the tenth row shown: the events it
	// skips cost their row only. The query is bounded all the same, so
	// that on PostgreSQL it stays a short read of the index however long
	// the account's history: a page whose newest events were mostly
	// skipped shows fewer rows.
	for ev, err := range s.svc.Store.AuditOfActions(r.Context(), si.Account.ID, customerActivity, 5*activityRows) {
		if err != nil {
			s.internal(w, r, err)
			return
		}
		staff := strings.HasPrefix(ev.Actor, "operator:")
		if staff && ev.Outcome != "ok" {
			// A step of staff's that the console refused (an approval of
			// a proposal decided already, their own request, a requester
			// disabled since) did nothing to the account: it is the
			// console's business, and would read 「その他の記録」 here.
			continue
		}
		a := activity{When: formatStamp(lang, ev.At), What: s.activityText(lang, ev.Action, ev.Outcome), From: ev.ClientIP}
		if staff {
			// Support staff acted, from the console or the command line:
			// the customer is told so, not the address of our network.
			a.What = s.activityText(lang, ev.Action, ev.Outcome+".operator")
			a.From = s.msgs.T(lang, "activity.from_operator")
		}
		d.Activity = append(d.Activity, a)
		if len(d.Activity) == activityRows {
			break
		}
	}
	v := s.view(r, "security.title")
	v.User, v.Data, v.Wide = si.Account, d, true
	// What this browser just did here, said once: the reload, the back
	// button's refetch and any other browser show the page as it is.
	s.showNotice(r, v, s.notice(w, r, noticeBinding(si.Session.SID, si.Session.IDHash), false))
	s.render(w, r, http.StatusOK, "security", v)
}

// factorsView describes the account's factors for the security page and the
// reset's confirmation: which there are, the phone masked, and what a reset
// removes.
func (s *Server) factorsView(r *http.Request, si *portal.SignedIn) (securityData, error) {
	ms, tag, err := s.svc.MethodsTagged(r.Context(), si.Account.ID)
	if err != nil {
		return securityData{}, err
	}
	d := securityData{Methods: ms, Tag: tag, Fresh: s.svc.Fresh(si)}
	if p, err := s.svc.PhoneFactor(r.Context(), si.Account.ID); err == nil {
		d.Phone = phone.Mask(p.Secret)
	}
	var names []string
	for _, m := range ms {
		switch m {
		case portal.MethodTOTP:
			names = append(names, s.t(r, "reset.app"))
		case portal.MethodPhone:
			names = append(names, s.t(r, "reset.phone", d.Phone))
		}
	}
	d.Removes = strings.Join(names, s.t(r, "reset.and"))
	return d, nil
}

// activityRows is how many events the security page's 最近のアクティビティ
// lists, the newest first.
const activityRows = 10

// customerActivity are the audit actions the security page lists: what the
// customer, the portal and support staff did to the account. It leaves out
// the console's own records and the four-eyes steps between staff's
// decisions and what they did to the account: the customer sees staff take
// a request for a reset and, once another of them approved it, the reset
// itself, not its approval (refused as outdated, say); and of an early end
// of their recovery's wait, which they never asked staff for, only the
// approval that ended it, not the proposals, withdrawals and rejections
// before it, which would push their own steps off the list.
var customerActivity = slices.DeleteFunc(slices.Clone(store.AuditActions), func(a string) bool {
	switch a {
	case store.ActionResetApprove, store.ActionRecoveryPropose, store.ActionRecoveryReject, store.ActionRecoveryWithdraw:
		return true
	}
	for _, p := range []string{"console.", "operator.", "audit.", "maintenance.", "client."} {
		if strings.HasPrefix(a, p) {
			return true
		}
	}
	return false
})

// activityText names an audit event for the customer. An outcome with
// ".operator" is support staff's doing: its own text where there is one
// (「二要素認証のリセット (担当者)」), else the plain outcome's, which for
// what only staff do says so already.
func (s *Server) activityText(lang, action, outcome string) string {
	if m := s.msgs.T(lang, "activity."+action+"."+outcome); m != "activity."+action+"."+outcome {
		return m
	}
	if plain, ok := strings.CutSuffix(outcome, ".operator"); ok {
		return s.activityText(lang, action, plain)
	}
	// An event without a text of its own (a rare refusal, an action newer
	// than the texts) is never shown as codes the customer cannot read.
	return s.msgs.T(lang, "activity.other")
}

// resetPage is the confirmation without script; it first asks for the second
// factor when the last check is older than the step-up limit.
func (s *Server) resetPage(w http.ResponseWriter, r *http.Request) {
	si := s.requireSignIn(w, r)
	if si == nil || !s.stepUp(w, r, si, "/security/reset") {
		return
	}
	d, err := s.factorsView(r, si)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if len(d.Methods) == 0 {
		// Reset already (the back button after 「リセットする」): the
		// security page says it is not set; a confirmation would name
		// nothing to remove.
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return
	}
	v := s.view(r, "reset.title")
	v.User, v.Data = si.Account, d
	s.render(w, r, http.StatusOK, "reset", v)
}

// reset is 「リセットする」 (manual VII).
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	// The form names the factors its page showed: a tab left open while
	// they were reset and set up again (on a new phone, say) must not
	// remove the new ones, which its page never named. Every page sends
	// the field; a request without it is malformed, and changes nothing,
	// where it removed every factor.
	tag := r.PostForm.Get("factors")
	if tag == "" {
		s.fail(w, r, http.StatusBadRequest, "reset.no_factors")
		return
	}
	si := s.requireSignIn(w, r)
	if si == nil || !s.stepUp(w, r, si, "/security/reset") {
		return
	}
	err := s.svc.ResetMFAOf(r.Context(), si, client(r), tag)
	if errors.Is(err, portal.ErrFactorsChanged) {
		s.setNotice(w, "changed", noticeBinding(si.Session.SID, si.Session.IDHash), s.noticeTTL())
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return
	}
	if errors.Is(err, portal.ErrNothingToReset) {
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return
	}
	if errors.Is(err, portal.ErrStepUpNeeded) {
		// The step-up's age ran out between the check above and the
		// service's, which reset nothing: the confirmation asks for the
		// second factor again, as it would have a moment later.
		http.Redirect(w, r, "/security/reset", http.StatusSeeOther)
		return
	}
	s.securityDone(w, r, si, err, "reset")
}

// securityDone answers a change made from the security page in si's
// session that err ended: back to the page, which says it is done (the
// notice done, see notices); to the login page, which says the sign-in
// ended, when the browser's session ended meanwhile (a sign-out in another
// tab, another browser of the account ending this one, an operator's
// lock), which changed nothing; or an error page.
func (s *Server) securityDone(w http.ResponseWriter, r *http.Request, si *portal.SignedIn, err error, done string) {
	switch {
	case errors.Is(err, portal.ErrNoSession):
		s.toSignIn(w, r, "/security")
	case err != nil:
		s.internal(w, r, err)
	default:
		s.setNotice(w, done, noticeBinding(si.Session.SID, si.Session.IDHash), s.noticeTTL())
		http.Redirect(w, r, "/security", http.StatusSeeOther)
	}
}

// stepUp passes a session whose second factor is fresh, or an account with
// no second factor to ask for (the security page then says it is not set).
// Otherwise it sends the browser to a second-factor check that returns to
// returnTo, and answers the request itself: the browser's own check when
// one is in progress (its code in flight stays good, and opening the page
// again, from anywhere, replaces nothing), else a new one.
func (s *Server) stepUp(w http.ResponseWriter, r *http.Request, si *portal.SignedIn, returnTo string) bool {
	if s.svc.Fresh(si) {
		return true
	}
	if f := s.liveStepUp(r, si, returnTo); f != nil {
		s.secondStep(w, r, f)
		return false
	}
	f, err := s.svc.StartStepUp(r.Context(), si, returnTo)
	if errors.Is(err, portal.ErrNoSuchMethod) {
		if returnTo == "/security" {
			return true
		}
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return false
	}
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	s.secondStep(w, r, f)
	return false
}

// stepUpExpired answers for a step-up of si's session to returnTo whose
// flow expired before its code came (the code screen left open past
// flow_ttl): a new check of the second factor for the same page, whose
// screen says why it asks again, so that the next code goes on to the
// page. Sent there by a redirect, as stepUp does, it sends no text by
// itself: the phone's screen offers 「コードを送信」. A session whose
// second factor is fresh meanwhile (a step-up in another tab), or an
// account with no factor left to ask for, goes to the page itself, which
// knows what to show.
func (s *Server) stepUpExpired(w http.ResponseWriter, r *http.Request, si *portal.SignedIn, returnTo string) {
	if s.svc.Fresh(si) {
		s.forgetFlow(w, r)
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	}
	f, err := s.svc.StartStepUp(r.Context(), si, returnTo)
	if errors.Is(err, portal.ErrNoSuchMethod) {
		s.forgetFlow(w, r)
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	}
	var phoneFirst bool
	if err == nil {
		phoneFirst, err = s.svc.PhoneFirst(r.Context(), f)
	}
	if err != nil {
		s.forgetFlow(w, r)
		s.internal(w, r, err)
		return
	}
	page := stateURL[portal.StateMFA]
	if phoneFirst {
		page = "/login/phone"
	}
	s.setFlow(w, f)
	http.Redirect(w, r, page+"?e=expired", http.StatusSeeOther)
}

// liveStepUp is the browser's step-up of si's session to returnTo that is
// still at the second factor; nil when there is none.
func (s *Server) liveStepUp(r *http.Request, si *portal.SignedIn, returnTo string) *portal.Flow {
	c, err := r.Cookie(s.cookieName(flowCookie))
	if err != nil {
		return nil
	}
	f, err := s.svc.LoadFlow(r.Context(), c.Value, portal.StateMFA)
	if err != nil || !f.Renews(si) || f.ReturnTo != returnTo {
		return nil
	}
	return f
}

// logout is ログアウト: from the account menu, and from the confirmation
// of an RP-initiated logout, whose next goes back to /end_session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	si, err := s.signedIn(r)
	if err != nil {
		// A session that could not be read cannot be ended: a redirect to
		// 「ログアウトしました」 that dropped the cookie would leave it, and
		// the sites' sessions made through it, signed in, with the
		// customer sure they are not. The error page keeps the cookie, so
		// the next try signs out.
		s.internal(w, r, err)
		return
	}
	if si != nil {
		if err := s.svc.SignOut(r.Context(), si, client(r)); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	s.setCookie(w, s.cookieName(sessionCookie), "", -1)
	next := "/login?e=signedout"
	if n := r.PostForm.Get("next"); n != "" {
		next = safeReturn(n)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// setLanguage keeps the customer's choice of language for a year, and on
// the account of a signed-in customer, for the mails sent without their
// request.
func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	lang := r.PostForm.Get("lang")
	if !webkit.Speaks(lang) {
		s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	si, err := s.signedIn(r)
	if err == nil && si != nil {
		err = s.svc.SetLanguage(r.Context(), si, lang)
	}
	if err != nil {
		// The pages still change language; the mails keep the last one.
		s.log.Warn("language switch: account language not kept", "id", webkit.RequestID(r), "err", err)
	}
	http.SetCookie(w, webkit.LanguageCookie(lang, s.secure))
	http.Redirect(w, r, safeReturn(r.PostForm.Get("next")), http.StatusSeeOther)
}

// seconds writes a wait in whole seconds, rounded up, at least 1: for
// Retry-After and for messages.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}
