package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mail"
)

// recoveryLinkOf returns the path of the confirmation link in the newest
// recovery request mail to email, and its token.
func (s *site) recoveryLinkOf(email string) (path, token string) {
	s.t.Helper()
	ms, err := s.svc.Store.ListMails(s.ctx, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(s.svc.Config.BaseURL) + `(/recovery-request/confirm\?token=[A-Za-z0-9_%-]+)`)
	for _, m := range ms {
		if m.To != email || !strings.Contains(m.Subject, "二要素認証の復旧申請の確認") && !strings.Contains(m.Subject, "Confirm your request to recover") {
			continue
		}
		match := re.FindStringSubmatch(m.Text)
		if match == nil {
			s.t.Fatalf("request mail without a link:\n%s", m.Text)
		}
		u, err := url.Parse(match[1])
		if err != nil {
			s.t.Fatal(err)
		}
		return match[1], u.Query().Get("token")
	}
	s.t.Fatalf("no recovery request mail to %s", email)
	return "", ""
}

// lockedOutSent is 「メールをご確認ください」, where the request sends the browser.
const lockedOutSent = "/login/lockedout?sent=1"

// requestRecovery signs in with the password and asks for recovery from
// 「別の方法を試す」; it returns the confirmation link's path and token.
func (b *browser) requestRecovery(c *customer) (string, string) {
	b.t.Helper()
	b.login(c, "/login/code")
	methods := b.get("/login/methods")
	expect(b.t, methods, http.StatusOK, "")
	if !strings.Contains(methods.body, `href="/login/lockedout"`) {
		b.t.Fatalf("methods page lacks the lost-device link:\n%s", methods.body)
	}
	expect(b.t, b.post("/login/lockedout", nil), http.StatusSeeOther, lockedOutSent)
	sent := b.get(lockedOutSent)
	expect(b.t, sent, http.StatusOK, "")
	contains(b.t, sent, "メールをご確認ください", "メールのリンクを1時間以内に開いて")
	return b.s.recoveryLinkOf(c.email)
}

// TestLockedOut follows the recovery request through its pages: the link
// on 「別の方法を試す」, the explanation, the mail, the confirmation page
// (which spends nothing), the confirmation (once), and after the waiting
// period a sign-in that enrols.
func TestLockedOut(t *testing.T) {
	s := newSite(t)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)

	b := s.browser()
	b.login(c, "/login/code")
	methods := b.get("/login/methods")
	expect(t, methods, http.StatusOK, "")
	contains(t, methods, "デバイスを紛失した場合 (復旧の申請)")
	page := b.get("/login/lockedout")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "二要素認証の復旧の申請", "確定から72時間は、安全のための待機期間です。",
		"新しく設定し直します。", "復旧を申請する", "サポート窓口")

	// Without a sign-in at the second step there is nothing to recover.
	stranger := s.browser()
	expect(t, stranger.get("/login/lockedout"), http.StatusSeeOther, "/login?e=expired")
	expect(t, stranger.post("/login/lockedout", nil), http.StatusSeeOther, "/login?e=expired")

	path, token := b.requestRecovery(c)

	const invalid = "このリンクは無効か、有効期限が切れているか、すでに使用されています。"
	for _, bad := range []string{"/recovery-request/confirm", "/recovery-request/confirm?token=nope", path + "x"} {
		r := stranger.get(bad)
		expect(t, r, http.StatusNotFound, "")
		contains(t, r, invalid)
	}
	r := stranger.post("/recovery-request/confirm", url.Values{"token": {"nope"}})
	expect(t, r, http.StatusNotFound, "")
	contains(t, r, invalid)

	// The page spends nothing, however often it is opened.
	s.clock.Advance(5 * time.Minute)
	effective := s.clock.Now().Add(72 * time.Hour).In(jst).Format("2006年1月2日 15:04")
	for range 2 {
		page := stranger.get(path)
		expect(t, page, http.StatusOK, "")
		contains(t, page, "復旧の申請の確定", c.email, "いま確定すると、"+effective+" (日本時間) 以降", "申請を確定する")
		if !strings.Contains(page.body, `name="token" value="`+token+`"`) {
			t.Fatalf("the page's form lacks the token:\n%s", page.body)
		}
	}
	done := stranger.post("/recovery-request/confirm", url.Values{"token": {token}})
	expect(t, done, http.StatusOK, "")
	contains(t, done, "申請を確定しました。", effective+" (日本時間) 以降にログインすると、二要素認証を設定し直せます。")
	// Once: sent again (a reload, the back button) or the mail's link
	// opened again, the page says it is confirmed and when it takes
	// effect, and nothing more is recorded or mailed.
	mails := func() int {
		ms, err := s.svc.Store.ListMails(s.ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	events, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 0)
	sent := mails()
	s.clock.Advance(time.Minute)
	twice := stranger.post("/recovery-request/confirm", url.Values{"token": {token}})
	expect(t, twice, http.StatusOK, "")
	contains(t, twice, effective+" (日本時間) 以降にログインすると")
	if after, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 0); len(after) != len(events) || mails() != sent {
		t.Errorf("confirming again recorded %d events and sent %d mails", len(after)-len(events), mails()-sent)
	}

	// A second request while one waits is refused.
	again := b.post("/login/lockedout", nil)
	expect(t, again, http.StatusConflict, "")
	contains(t, again, "復旧の申請はすでに待機期間中です。")
	s.clock.Advance(2 * time.Hour) // past the link's own hour
	opened := stranger.get(path)
	expect(t, opened, http.StatusOK, "")
	contains(t, opened, "この申請は確定済みです。", effective+" (日本時間) 以降にログインすると")
	if strings.Contains(opened.body, `name="token"`) {
		t.Error("the link opened again offers to confirm again")
	}

	// During the period the sign-in asks for the factor; after it, enrolment.
	s.clock.Advance(69 * time.Hour)
	s.browser().login(c, "/login/code")
	s.clock.Advance(2 * time.Hour)
	late := s.browser()
	late.login(c, "/enrol")
	if ms := s.methods(c); len(ms) != 0 {
		t.Fatalf("methods after recovery: %v", ms)
	}
}

// TestLockedOutReloadSendsNothing: the request is answered with a redirect
// to 「メールをご確認ください」, which a reload (Chrome's 「フォームの再送信の
// 確認」 said yes to) shows again without a new request: that mailed another
// link, which made the first one invalid.
func TestLockedOutReloadSendsNothing(t *testing.T) {
	s := newSite(t)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)
	b := s.browser()
	path, _ := b.requestRecovery(c)
	mails, _ := s.svc.Store.ListMails(s.ctx, 0)
	events, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 0)
	for range 2 {
		again := b.get(lockedOutSent)
		expect(t, again, http.StatusOK, "")
		contains(t, again, "メールをご確認ください")
		if again.Header.Get("Cache-Control") != "no-store" {
			t.Error("「メールをご確認ください」 may be cached")
		}
		if strings.Contains(again.body, `action="/login/lockedout"`) {
			t.Error("「メールをご確認ください」 offers to send another request")
		}
	}
	after, _ := s.svc.Store.ListMails(s.ctx, 0)
	if len(after) != len(mails) {
		t.Errorf("reloading 「メールをご確認ください」 sent %d more mails", len(after)-len(mails))
	}
	if ev, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 0); len(ev) != len(events) {
		t.Errorf("reloading 「メールをご確認ください」 recorded %d more events", len(ev)-len(events))
	}
	// The link mailed first still confirms.
	if p, _ := s.recoveryLinkOf(c.email); p != path {
		t.Error("the link mailed first is no longer the newest")
	}
	contains(t, s.browser().get(path), "申請を確定する")
}

// TestLockedOutCancelledBySignIn: a sign-in with the app during the period
// cancels the request.
func TestLockedOutCancelledBySignIn(t *testing.T) {
	s := newSite(t)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)
	_, token := s.browser().requestRecovery(c)
	expect(t, s.browser().post("/recovery-request/confirm?token="+url.QueryEscape(token), nil), http.StatusOK, "")
	s.browser().signIn(c)
	s.clock.Advance(73 * time.Hour)
	s.browser().login(c, "/login/code")
}

// TestLockedOutShortCoolingOff: a cooling-off period under an hour is
// written in minutes or seconds, not as 「0時間」.
func TestLockedOutShortCoolingOff(t *testing.T) {
	s := newSite(t, func(c *config.Config) { c.RecoveryCoolingOff.Duration = 90 * time.Second })
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)
	b := s.browser()
	b.login(c, "/login/code")
	contains(t, b.get("/login/lockedout"), "確定から1分30秒は、安全のための待機期間です。")
	b.lang = "en"
	contains(t, b.get("/login/lockedout"), "waits 1 minute 30 seconds")
}

// TestLockedOutEnglish: the pages speak English too.
func TestLockedOutEnglish(t *testing.T) {
	s := newSite(t)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)
	b := s.browser()
	b.lang = "en"
	b.login(c, "/login/code")
	contains(t, b.get("/login/methods"), "Lost your device? (Request recovery)")
	contains(t, b.get("/login/lockedout"), "Request recovery of two-step verification", "waits 72 hours")
	expect(t, b.post("/login/lockedout", nil), http.StatusSeeOther, lockedOutSent)
	contains(t, b.get(lockedOutSent), "Check your mail")
	path, _ := s.recoveryLinkOf(c.email)
	ms, _ := s.svc.Store.ListMails(s.ctx, 1)
	if len(ms) != 1 || ms[0].Subject != "[Tobira] Confirm your request to recover two-step verification" {
		t.Fatalf("newest mail: %+v", ms)
	}
	contains(t, b.get(path), "Confirm the recovery request", c.email)
	r := b.get("/recovery-request/confirm?token=nope")
	expect(t, r, http.StatusNotFound, "")
	contains(t, r, "This link is invalid")
}
