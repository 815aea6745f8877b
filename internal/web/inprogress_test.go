package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// TestChangesEndSignInsInProgress: what ends an account's sessions ends
// its sign-ins in progress too. A sign-in that proved the old password
// (whoever knew it) or a factor the change removes must not go on to a
// session after it: a new password set from the forgotten-password link,
// a 「心当たりがない」 report, a reset of the second factor.
func TestChangesEndSignInsInProgress(t *testing.T) {
	t.Run("new password, at enrolment", func(t *testing.T) {
		s := newSite(t).withMail()
		c := s.customer("yamada@example.jp")
		// Someone with the old password signs in to the account, which
		// has no second factor yet, and is shown the key to enrol.
		intruder := s.browser()
		intruder.login(c, "/enrol")
		page := intruder.get("/enrol")
		expect(t, page, http.StatusOK, "")
		m := secretRe.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("enrolment page shows no key:\n%s", page.body)
		}
		seed := strings.ReplaceAll(m[1], " ", "")

		// The owner sets a new password.
		owner := s.browser()
		owner.forgot(c.email)
		pw := "a brand new password"
		expect(t, owner.post("/reset-password", url.Values{"token": {mustQuery(t, s.resetPath(c.email), "token")},
			"password": {pw}, "confirm": {pw}}), http.StatusSeeOther, "/login?e=password_reset")

		// The key shown before the change enrols nothing and opens nothing.
		code := s.code(&customer{seed: seed})
		expect(t, intruder.post("/enrol", url.Values{"code": {code}}), http.StatusSeeOther, "/login?e=expired")
		if ms := s.methods(c); len(ms) != 0 {
			t.Fatalf("a sign-in with the old password enrolled %v after the password changed", ms)
		}
		if tok := intruder.cookie("tobira_session"); tok != "" {
			t.Fatal("the sign-in with the old password got a session")
		}
		// The new password signs in, at enrolment.
		c.password = pw
		owner.login(c, "/enrol")
	})

	t.Run("not me, at the recovery code", func(t *testing.T) {
		s := newSite(t).withMail()
		c := s.customer("yamada@example.jp")
		// An enrolment the owner did not make: its notice has the link.
		intruder := s.browser()
		intruder.login(c, "/enrol")
		page := intruder.get("/enrol")
		m := secretRe.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("enrolment page shows no key:\n%s", page.body)
		}
		c.seed = strings.ReplaceAll(m[1], " ", "")
		expect(t, intruder.post("/enrol", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/recovery-code")

		_, token := s.notMeLinkOf(c.email)
		expect(t, s.browser().post("/not-me", url.Values{"token": {token}}), http.StatusSeeOther, "/not-me")

		expect(t, intruder.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login?e=expired")
		if tok := intruder.cookie("tobira_session"); tok != "" {
			t.Fatal("the reported sign-in got a session")
		}
	})

	// Someone with the password and the recovery code spends it and is
	// shown the next one; then the owner, signed in on the security page,
	// resets the second factor or changes the password.
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s *site, owner *browser, c *customer)
	}{
		{"second factor reset, at the recovery code", func(t *testing.T, s *site, owner *browser, c *customer) {
			s.clock.Advance(time.Minute)
			owner.signIn(c)
			expect(t, owner.reset(c), http.StatusSeeOther, "/security")
		}},
		{"password changed on the security page, at the recovery code", func(t *testing.T, s *site, owner *browser, c *customer) {
			expect(t, owner.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase)),
				http.StatusSeeOther, "/security")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t).withMail()
			c := s.customer("yamada@example.jp")
			owner := s.browser()
			owner.enrol(c)
			s.clock.Advance(time.Minute)
			intruder := s.browser()
			intruder.login(c, "/login/code")
			expect(t, intruder.post("/login/recovery", url.Values{"code": {c.recovery}}), http.StatusSeeOther, "/recovery-code")

			tc.change(t, s, owner, c)

			expect(t, intruder.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login?e=expired")
			if tok := intruder.cookie("tobira_session"); tok != "" {
				t.Fatal("the sign-in in progress got a session after the change")
			}
		})
	}
}

// TestLockStopsEnrolmentInProgress: an operator's lock stops an
// enrolment in progress, as it stops a sign-in at its code: the right code
// gets the locked-account message and adds no factor. The finish of the
// sign-in refused it a session, but the factor it added stayed, and once
// the account was unlocked its owner's sign-in asked for the authenticator
// or the phone of whoever the lock was for.
func TestLockStopsEnrolmentInProgress(t *testing.T) {
	const msgLocked = "このアカウントは現在ご利用いただけません。"
	lock := func(t *testing.T, s *site, c *customer) {
		t.Helper()
		if err := s.svc.LockAccount(s.ctx, &store.AccountLock{AccountID: c.acct.ID, LockedBy: "operator:kim", Reason: "不正利用の申告", At: s.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, s *site, c *customer, r *resp) {
		t.Helper()
		expect(t, r, http.StatusForbidden, "")
		contains(t, r, msgLocked)
		if fc := setCookieOf(r, "tobira_flow"); fc == nil || fc.MaxAge >= 0 {
			t.Errorf("the flow cookie was not cleared: %v", fc)
		}
		if ms := s.methods(c); len(ms) != 0 {
			t.Fatalf("an enrolment finished after the lock added %v", ms)
		}
	}

	t.Run("app", func(t *testing.T) {
		s := newSite(t)
		c := s.customer("yamada@example.jp")
		intruder := s.browser()
		intruder.login(c, "/enrol")
		m := secretRe.FindStringSubmatch(intruder.get("/enrol").body)
		if m == nil {
			t.Fatal("enrolment page shows no key")
		}
		seed := strings.ReplaceAll(m[1], " ", "")
		lock(t, s, c)
		refused(t, s, c, intruder.post("/enrol", url.Values{"code": {s.code(&customer{seed: seed})}}))

		// Unlocked, the owner enrols their own app; the security page
		// names the refusal in words.
		if err := s.svc.Store.UnlockAccount(s.ctx, c.acct.ID); err != nil {
			t.Fatal(err)
		}
		owner := s.browser()
		owner.enrol(c)
		page := owner.get("/security")
		expect(t, page, http.StatusOK, "")
		contains(t, page, "ロック中のため二要素認証の設定を中止")
		if strings.Contains(page.text(), "account_locked") {
			t.Errorf("the security page shows an event by its code:\n%s", page.body)
		}
	})

	t.Run("phone", func(t *testing.T) {
		s, rec := phoneSite(t)
		c := s.customer("yamada@example.jp")
		intruder := s.browser()
		intruder.login(c, "/enrol")
		expect(t, intruder.sendPhone("JP", "090-1234-5678", "sms"), http.StatusSeeOther, "/enrol/phone/code")
		lock(t, s, c)
		refused(t, s, c, intruder.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}))
	})
}
