package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSecondTabAtAnotherStep: two tabs of one sign-in share its cookie.
// When one moves the flow on, a form the other still shows, posted, sends
// the browser to the step the flow is at, and does nothing else: the code
// is not checked (not counted as wrong, not spent if right), the flow
// does not move, no session starts. A cookie of an earlier step, or a
// forged one, is still refused (TestOldFlowCookie).
func TestSecondTabAtAnotherStep(t *testing.T) {
	s := newSite(t)
	c, signedIn := s.enrolled()
	expect(t, signedIn.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b := s.browser()
	s.clock.Advance(30 * time.Second)
	b.login(c, "/login/code")
	// Tab B: a recovery code moves the flow to the recovery screen.
	expect(t, b.post("/login/recovery", url.Values{"code": {c.recovery}}), http.StatusSeeOther, "/recovery-code")
	atRecovery := b.cookie("tobira_flow")
	// Tab A, still at the code screen: wrong codes, more than the lock
	// takes, and then the right one.
	for range 11 {
		r := b.post("/login/code", url.Values{"code": {s.wrongCode(c)}})
		expect(t, r, http.StatusSeeOther, "/recovery-code")
		if len(r.Cookies()) != 0 {
			t.Fatalf("the refused step set cookies: %v", r.Cookies())
		}
	}
	right := s.code(c)
	expect(t, b.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther, "/recovery-code")
	expect(t, b.post("/enrol", url.Values{"code": {right}}), http.StatusSeeOther, "/recovery-code")
	if b.cookie("tobira_session") != "" || b.cookie("tobira_flow") != atRecovery {
		t.Fatal("a form of another step changed the sign-in")
	}
	// Tab B goes on; the recovery screen shows the new code.
	rc := b.get("/recovery-code")
	expect(t, rc, http.StatusOK, "")
	m := recoveryRe.FindStringSubmatch(rc.body)
	if m == nil {
		t.Fatal("no recovery code on show")
	}
	c.recovery = m[1]
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")
	// The app's code tab A sent was never checked: it still signs in, and
	// the eleven wrong ones closed nothing.
	other := s.browser()
	other.login(c, "/login/code")
	expect(t, other.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther, "/")

	// At enrolment: tab B confirmed the app, tab A sends the enrolment's
	// code again; no second factor is added.
	n := s.customer("new@example.jp")
	e := s.browser()
	e.login(n, "/enrol")
	page := e.get("/enrol")
	n.seed = strings.ReplaceAll(secretRe.FindStringSubmatch(page.body)[1], " ", "")
	expect(t, e.post("/enrol", url.Values{"code": {s.code(n)}}), http.StatusSeeOther, "/recovery-code")
	enrolled := s.methods(n)
	expect(t, e.post("/enrol", url.Values{"code": {s.code(n)}}), http.StatusSeeOther, "/recovery-code")
	if ms := s.methods(n); !slices.Equal(ms, enrolled) {
		t.Fatalf("methods after a second tab's enrolment form: %v, want %v", ms, enrolled)
	}
	// A later step's form with the flow at an earlier one leads back to
	// it too, and skips nothing.
	f := s.browser()
	f.login(s.customer("third@example.jp"), "/enrol")
	expect(t, f.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/enrol")
	if f.cookie("tobira_session") != "" {
		t.Fatal("a later step's form gave a session")
	}
}

// TestAnotherStepPhoneOnly: for an account whose second factor is its
// phone, the step a form of another step leads to is the phone's screen,
// as after the password, and going there sends no text.
func TestAnotherStepPhoneOnly(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrolPhone(c, rec, "090-1234-5678", "sms")
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b.login(c, "/login/phone")
	before := rec.Count()
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login/phone")
	expect(t, b.post("/enrol", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login/phone")
	expect(t, b.get("/recovery-code"), http.StatusSeeOther, "/login/phone")
	if n := rec.Count() - before; n != 0 || b.cookie("tobira_session") != "" {
		t.Fatalf("forms of another step sent %d texts, or signed in", n)
	}
	expect(t, b.post("/login/phone", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/")
}
