package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestNoticeOnlyAfterTheAction: the security page says a reset, a password
// change or a device signed out only to the browser that just did it, and
// once. An address that asked for one (/security?done=reset, from the
// history, a bookmark, or a link someone sent) said 「二要素認証の設定をリ
// セットしました」 beside 「✓設定されています」.
func TestNoticeOnlyAfterTheAction(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	said := map[string]string{
		"reset":       "二要素認証の設定をリセットしました。",
		"changed":     "この画面を表示した後に変更されたため、リセットしませんでした",
		"password":    "パスワードを変更しました。",
		"device":      "ほかの端末からログアウトしました。",
		"devices":     "ほかの端末をすべてログアウトしました。",
		"device_gone": "その端末は見つかりませんでした。",
	}
	for done, msg := range said {
		page := b.get("/security?done=" + done)
		expect(t, page, http.StatusOK, "")
		if strings.Contains(page.text(), msg) {
			t.Errorf("/security?done=%s says %q with nothing done", done, msg)
		}
	}
	contains(t, b.get("/security"), "設定されています")

	// The notice is the session's that did it: in another browser of the
	// account, the cookie says nothing.
	other := s.browser()
	other.signIn(c)
	r := b.post("/security/devices/end", url.Values{"sid": {"no-such-sid"}})
	expect(t, r, http.StatusSeeOther, "/security")
	gone := setCookieOf(r, "tobira_notice")
	if gone == nil {
		t.Fatal("no notice cookie for a device not found")
	}
	other.setCookie("tobira_notice", gone.Value)
	if page := other.get("/security"); strings.Contains(page.text(), said["device_gone"]) {
		t.Error("another session of the account shows the notice")
	}
	contains(t, b.get("/security"), said["device_gone"])

	// A password change, whose session goes on under a new id.
	expect(t, b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase)), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), said["password"])

	// The reset: its page says so once, at an address that does not.
	r = b.reset(c)
	expect(t, r, http.StatusSeeOther, "/security")
	cookie := setCookieOf(r, "tobira_notice")
	if cookie == nil || cookie.MaxAge <= 0 || cookie.MaxAge > int(s.svc.Config.FlowTTL.Duration/time.Second) || !cookie.HttpOnly {
		t.Fatalf("the reset's notice cookie: %+v", cookie)
	}
	page := b.get("/security")
	contains(t, page, said["reset"], "設定されていません")
	if ck := setCookieOf(page, "tobira_notice"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("the page that said it left the notice: %+v", ck)
	}
	if again := b.get("/security"); strings.Contains(again.text(), said["reset"]) {
		t.Error("the notice shows again at the next visit")
	}

	// Nor does the cookie changed, or once its flow_ttl is over.
	enc, rest, _ := strings.Cut(cookie.Value, ".")
	if what, _ := base64.RawURLEncoding.DecodeString(enc); string(what) != "reset" {
		t.Fatalf("notice cookie %q", cookie.Value)
	}
	b.setCookie("tobira_notice", base64.RawURLEncoding.EncodeToString([]byte("password"))+"."+rest)
	if page := b.get("/security"); strings.Contains(page.text(), said["password"]) || strings.Contains(page.text(), said["reset"]) {
		t.Error("a notice cookie with its outcome changed is shown")
	}
	b.setCookie("tobira_notice", cookie.Value)
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Second)
	if page := b.get("/security"); strings.Contains(page.text(), said["reset"]) {
		t.Error("the notice shows flow_ttl after the reset")
	}
}

// TestResetWithoutFactorsRefused: a reset whose form does not name the
// factors it resets is malformed, and changes nothing (400, a message in
// the customer's language), where it removed every factor.
func TestResetWithoutFactorsRefused(t *testing.T) {
	s := newSite(t).withMail()
	c, b := s.enrolled()
	other := s.browser()
	otherSession := other.signIn(c)
	mails := len(s.mailsTo(c.email))
	for _, tc := range []struct {
		lang, msg string
		form      url.Values
	}{
		{"", "リセットする二要素認証の設定が送信されなかったため、何も変更していません。", nil},
		{"", "リセットする二要素認証の設定が送信されなかったため、何も変更していません。", url.Values{"factors": {""}}},
		{"en", "so nothing was changed", url.Values{"other": {"x"}}},
	} {
		b.lang = tc.lang
		r := b.post("/security/reset", tc.form)
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, tc.msg)
		if ms := s.methods(c); len(ms) != 2 {
			t.Fatalf("%v: a reset without factors removed some: %v left", tc.form, ms)
		}
	}
	if !s.live(otherSession) {
		t.Error("a refused reset ended another session")
	}
	if n := len(s.mailsTo(c.email)); n != mails {
		t.Errorf("%d notice mails for a refused reset", n-mails)
	}
	if evs, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 1); len(evs) == 1 && evs[0].Action == "mfa.reset" {
		t.Errorf("a refused reset was recorded: %+v", evs[0])
	}
}

// TestNoticeWaitsForItsPage: the notice of what the customer just did
// waits for the page it is sent to longer than a redirect on a fast
// network: a slow phone, a customer who pauses in between, or the
// security page's step-up (asked for when the page was left open past its
// ten minutes before 「ログアウト」 of a device, which needs no fresh
// second factor), whose code renews the session under a new id. The page
// after the code says it, once; it still never shows in another browser
// of the account, nor after the sign-in ended, nor past flow_ttl.
//
// Regression: the cookie lived one minute and was bound to the session's
// id, which the step-up replaces, so the customer who signed a device out
// was never told so.
func TestNoticeWaitsForItsPage(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	said := "ほかの端末からログアウトしました。"
	endOther := func() {
		t.Helper()
		other := s.browser()
		sid := func() string {
			other.signIn(c)
			si, err := s.svc.Session(s.ctx, other.cookie("tobira_session"))
			if err != nil {
				t.Fatal(err)
			}
			return si.Session.SID
		}()
		expect(t, b.get("/security"), http.StatusOK, "")
		// The page left open past the step-up's ten minutes.
		s.clock.Advance(s.svc.Config.StepUpMaxAge.Duration + time.Minute)
		r := b.post("/security/devices/end", url.Values{"sid": {sid}})
		expect(t, r, http.StatusSeeOther, "/security")
		if ck := setCookieOf(r, "tobira_notice"); ck == nil || ck.MaxAge < int(s.svc.Config.FlowTTL.Duration/time.Second) {
			t.Fatalf("the notice cookie: %+v, want it kept flow_ttl", ck)
		}
	}

	endOther()
	// The redirect comes slowly, and the page asks for the code first.
	s.clock.Advance(3 * time.Minute)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	s.clock.Advance(2 * time.Minute)
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), said)
	if page := b.get("/security"); strings.Contains(page.text(), said) {
		t.Error("the notice shows a second time")
	}

	// Not past flow_ttl.
	s.clock.Advance(time.Minute)
	endOther()
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	if page := b.get("/security"); strings.Contains(page.text(), said) {
		t.Error("the notice shows past flow_ttl")
	}

	// Not in the same browser once signed in again (the same account,
	// another sign-in), nor in another account's sign-in there.
	s.clock.Advance(time.Minute)
	endOther()
	notice := b.cookie("tobira_notice")
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b.setCookie("tobira_notice", notice)
	b.signIn(c)
	if page := b.get("/security"); strings.Contains(page.text(), said) {
		t.Error("the notice of an ended sign-in shows in the next one")
	}
	sato := s.customer("sato@example.jp")
	sb := s.browser()
	sb.enrol(sato)
	sb.setCookie("tobira_notice", notice)
	if page := sb.get("/security"); strings.Contains(page.text(), said) {
		t.Error("another account's sign-in shows the notice")
	}
}
