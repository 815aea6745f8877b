package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
)

var langNextRe = regexp.MustCompile(`<form method="post" action="/lang" class="lang">\s*<input type="hidden" name="next" value="([^"]*)">`)

// switchLanguage presses the page's 「English」 and expects the page it
// reloads to be want, answered 200 with every one of texts.
func (b *browser) switchLanguage(page *resp, want string, texts ...string) {
	b.t.Helper()
	m := langNextRe.FindStringSubmatch(page.body)
	if m == nil {
		b.t.Fatalf("the page has no language switch:\n%s", excerpt(page.body))
	}
	if next := html.UnescapeString(m[1]); next != want {
		b.t.Errorf("the language switch reloads %q, want %q", next, want)
	}
	r := b.post("/lang", url.Values{"lang": {"en"}, "next": {html.UnescapeString(m[1])}})
	expect(b.t, r, http.StatusSeeOther, html.UnescapeString(m[1]))
	again := b.get(r.Header.Get("Location"))
	expect(b.t, again, http.StatusOK, "")
	contains(b.t, again, texts...)
	expect(b.t, b.post("/lang", url.Values{"lang": {"ja"}, "next": {"/"}}), http.StatusSeeOther, "/")
}

// TestLanguageSwitchAfterPhoneResend: a refused 「再送信」 or 「音声通話で
// 受け取る」 is answered at its own address, which has no page of its own;
// the language switch reloads the code screen, where it answered 405
// 「この操作はこのページでは行えません」.
func TestLanguageSwitchAfterPhoneResend(t *testing.T) {
	s, rec := phoneSite(t)
	c, b := s.enrolling()
	b.smsCodeSent()
	s.clock.Advance(10 * time.Second)
	r := b.post("/enrol/phone/resend", url.Values{"channel": {"voice"}})
	expect(t, r, http.StatusTooManyRequests, "")
	b.switchLanguage(r, "/enrol/phone/code", "Confirm it is you", "+81 •••• 5678")
	expect(t, b.post("/enrol/phone/code", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/recovery-code")
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")

	// At sign-in: the code is sent with the password; at once again, refused.
	b = s.browser()
	b.login(c, "/login/phone")
	r = b.post("/login/phone/send", url.Values{"channel": {"voice"}})
	expect(t, r, http.StatusTooManyRequests, "")
	b.switchLanguage(r, "/login/phone", "Confirm it is you", "+81 •••• 5678")
}

// TestLanguageSwitchAfterRecoveryRequest: the pages that answer the
// recovery request's two posts switch language to themselves: 「メールを
// ご確認ください」, not the request's page whose button would mail another
// link and void this one; the confirmation, not the link without its token,
// which said the link is invalid.
func TestLanguageSwitchAfterRecoveryRequest(t *testing.T) {
	s := newSite(t)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)

	b := s.browser()
	b.login(c, "/login/code")
	sent := b.post("/login/lockedout", nil)
	expect(t, sent, http.StatusOK, "")
	contains(t, sent, "メールをご確認ください")
	mails := func() int {
		ms, err := s.svc.Store.ListMails(s.ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	before := mails()
	b.switchLanguage(sent, "/login/lockedout?sent=1", "Check your mail", "We have sent you a mail.")
	if n := mails() - before; n != 0 {
		t.Errorf("switching the language of 「メールをご確認ください」 sent %d more mails", n)
	}
	path, token := s.recoveryLinkOf(c.email)

	done := b.post("/recovery-request/confirm", url.Values{"token": {token}})
	expect(t, done, http.StatusOK, "")
	contains(t, done, "申請を確定しました。")
	b.switchLanguage(done, path, "This request has been confirmed already.", "Sign in after")
}
