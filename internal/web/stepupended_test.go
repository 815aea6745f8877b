package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// endedTo is where a step-up of the security page goes when the session it
// renews has ended: the login page that says the sign-in ended, and comes
// back to the page.
const endedTo = "/login?next=%2Fsecurity&e=ended"

// TestStepUpWhenTheSessionEndedMeanwhile: the security page asks for the
// second factor again (its ten minutes are over), and while its screen is
// open the session ends: another device's 「ほかの端末をすべてログアウト」
// (or a sign-out in another tab, an operator's lock). Whatever the screen
// then sends, the browser is told its sign-in ended, and the sign-in that
// follows comes back to the security page. Nothing is done for the step-up
// of a session that is gone: no text is sent, no code counted as wrong, no
// recovery code spent (which would have issued one more for a screen that
// leads nowhere), and no session given.
func TestStepUpWhenTheSessionEndedMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(s *site, c *customer, b *browser) *resp
	}{
		{"the app's screen opened again", func(s *site, c *customer, b *browser) *resp { return b.get("/login/code") }},
		{"the app's code", func(s *site, c *customer, b *browser) *resp {
			return b.post("/login/code", url.Values{"code": {s.code(c)}})
		}},
		{"a wrong code", func(s *site, c *customer, b *browser) *resp {
			return b.post("/login/code", url.Values{"code": {s.wrongCode(c)}})
		}},
		{"the recovery code", func(s *site, c *customer, b *browser) *resp {
			return b.post("/login/recovery", url.Values{"code": {c.recovery}})
		}},
		{"「別の方法を試す」", func(s *site, c *customer, b *browser) *resp { return b.get("/login/methods") }},
		{"a text to the phone", func(s *site, c *customer, b *browser) *resp {
			return b.post("/login/phone/send", url.Values{"channel": {"sms"}})
		}},
		{"the phone's screen", func(s *site, c *customer, b *browser) *resp { return b.get("/login/phone") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := phoneSite(t)
			c, b := s.enrolled()
			s.addPhone(c, "+819012345678", "sms")
			other := s.browser()
			other.signIn(c)
			s.clock.Advance(s.svc.Config.StepUpMaxAge.Duration + time.Minute)
			expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")

			// Another device signs every other one out (which needs no
			// fresh second factor).
			expect(t, other.post("/security/devices/end-others", nil), http.StatusSeeOther, "/security")
			sent := rec.Count()
			failures := s.account(c).MFAFailures
			audit, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 100)

			s.clock.Advance(30 * time.Second)
			r := tc.send(s, c, b)
			expect(t, r, http.StatusSeeOther, endedTo)
			if ck := setCookieOf(r, "tobira_session"); ck == nil || ck.MaxAge >= 0 {
				t.Errorf("the cookie of the ended session: %+v, want it dropped", ck)
			}
			if ck := setCookieOf(r, "tobira_flow"); ck == nil || ck.MaxAge >= 0 {
				t.Errorf("the step-up's flow cookie: %+v, want it dropped", ck)
			}
			if n := rec.Count() - sent; n != 0 {
				t.Errorf("%d texts sent for the step-up of an ended session", n)
			}
			if a := s.account(c); a.MFAFailures != failures {
				t.Errorf("MFA failures %d, were %d", a.MFAFailures, failures)
			}
			if after, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 100); len(after) != len(audit) {
				t.Errorf("%d events recorded: %+v", len(after)-len(audit), after[0])
			}
			page := b.get(endedTo)
			expect(t, page, http.StatusOK, "")
			contains(t, page, "ログインが終了しています。", `name="next" value="/security"`)

			// The recovery code is still good, and the sign-in comes back
			// to the security page.
			expect(t, b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security"}}), http.StatusSeeOther, "/login/code")
			expect(t, b.post("/login/recovery", url.Values{"code": {c.recovery}}), http.StatusSeeOther, "/recovery-code")
			expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/security")
			expect(t, b.get("/security"), http.StatusOK, "")
		})
	}
}

// TestStepUpCodeSentTwice: the step-up's code form sent twice (a double
// tap), the second request leaving with the cookies of before and coming
// in once the first has renewed the session under a new id: its answer
// goes to the page, and leaves the browser the renewed session.
//
// Regression: the second answer took the old session, gone, for one that
// had ended meanwhile: it dropped the session cookie, which in a browser
// is the renewed one by then, and said 「ログインが終了しています」.
func TestStepUpCodeSentTwice(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	s.clock.Advance(s.svc.Config.StepUpMaxAge.Duration + time.Minute)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	before := map[string]string{}
	for _, name := range []string{"tobira_session", "tobira_flow", "tobira_flow_return"} {
		before[name] = b.cookie(name)
	}
	code := s.code(c)
	expect(t, b.post("/login/code", url.Values{"code": {code}}), http.StatusSeeOther, "/security")
	renewed := b.cookie("tobira_session")

	// The second request, sent before the first's answer came.
	second := s.browser()
	for name, value := range before {
		second.setCookie(name, value)
	}
	r := second.post("/login/code", url.Values{"code": {code}})
	expect(t, r, http.StatusSeeOther, "/security")
	if ck := setCookieOf(r, "tobira_session"); ck != nil {
		t.Errorf("the second answer sets the session cookie: %+v", ck)
	}
	if !s.live(renewed) {
		t.Fatal("the renewed session has ended")
	}
	contains(t, b.get("/security"), "二要素認証", "✓設定されています")
}
