package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
		expect(t, s.browser().post("/not-me", url.Values{"token": {token}}), http.StatusSeeOther, "/not-me?done=1")

		expect(t, intruder.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login?e=expired")
		if tok := intruder.cookie("tobira_session"); tok != "" {
			t.Fatal("the reported sign-in got a session")
		}
	})

	t.Run("second factor reset, at the recovery code", func(t *testing.T) {
		s := newSite(t).withMail()
		c := s.customer("yamada@example.jp")
		owner := s.browser()
		owner.enrol(c)
		// Someone with the password and the recovery code spends it and
		// is shown the next one.
		s.clock.Advance(time.Minute)
		intruder := s.browser()
		intruder.login(c, "/login/code")
		expect(t, intruder.post("/login/recovery", url.Values{"code": {c.recovery}}), http.StatusSeeOther, "/recovery-code")

		// The owner resets the second factor on the security page.
		s.clock.Advance(time.Minute)
		owner.signIn(c)
		expect(t, owner.post("/security/reset", nil), http.StatusSeeOther, "/security?done=reset")

		expect(t, intruder.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login?e=expired")
		if tok := intruder.cookie("tobira_session"); tok != "" {
			t.Fatal("a sign-in through a factor the reset removed got a session")
		}
	})
}
