package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/store"
)

// TestLanguageKeptOnAccount: the account keeps the language of the
// customer's sign-in (their choice, then Accept-Language) and of the
// language switch while signed in, for the mails sent without their
// request; a language the portal does not speak gets a clear message and
// changes nothing.
func TestLanguageKeptOnAccount(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	lang := func() string {
		t.Helper()
		a, err := s.svc.Store.AccountByID(s.ctx, c.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a.Lang
	}
	if got := lang(); got != "ja" {
		t.Fatalf("a new account's language: %q, want ja", got)
	}

	b := s.browser()
	b.lang = "en-GB,en;q=0.9"
	b.enrol(c)
	if got := lang(); got != "en" {
		t.Fatalf("after a sign-in in an English browser: %q, want en", got)
	}

	// The switch, signed in.
	expect(t, b.post("/lang", url.Values{"lang": {"ja"}}), http.StatusSeeOther, "/")
	if got := lang(); got != "ja" {
		t.Fatalf("after switching to Japanese: %q, want ja", got)
	}
	for _, bad := range []string{"", "fr", "EN", "en-US"} {
		r := b.post("/lang", url.Values{"lang": {bad}})
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, "リクエストの形式が正しくありません。")
		if ck := setCookieOf(r, "tobira_lang"); ck != nil {
			t.Errorf("lang %q set the cookie %+v", bad, ck)
		}
		if got := lang(); got != "ja" {
			t.Fatalf("lang %q changed the account's language to %q", bad, got)
		}
	}

	// Not signed in, the switch is the browser's alone; the sign-in that
	// follows keeps it, the choice before Accept-Language.
	other := s.browser()
	other.lang = "ja"
	expect(t, other.post("/lang", url.Values{"lang": {"en"}}), http.StatusSeeOther, "/")
	if got := lang(); got != "ja" {
		t.Fatalf("a switch without a sign-in changed the account's language to %q", got)
	}
	other.signIn(c)
	if got := lang(); got != "en" {
		t.Fatalf("after a sign-in with English chosen: %q, want en", got)
	}
}

// TestEnglishReadsWell: English sentences of the manual's screens that read
// badly before: the voice call's line, the reset's confirmation, and what
// support staff did in the activity (customers know no "operator").
func TestEnglishReadsWell(t *testing.T) {
	s, _ := phoneSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.lang = "en"
	b.login(c, "/enrol")
	expect(t, b.sendPhone("JP", "+81 90 1234 5678", "voice"), http.StatusSeeOther, "/enrol/phone/code")
	contains(t, b.get("/enrol/phone/code"), "We are calling this number to read out the code:")

	a := s.browser()
	a.lang = "en"
	a.enrol(s.customer("sato@example.jp"))
	contains(t, a.get("/security/reset"),
		"Resetting removes your registered authenticator app and your recovery code, and signs you out of every other browser, and of the sites in this browser too.")
	sato, err := s.svc.Store.AccountByEmail(s.ctx, "sato@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	ev := store.AuditEvent{At: s.clock.Now(), AccountID: sato.ID, Actor: "operator:kim@tobira.example", Action: store.ActionAccountUnlock, Outcome: "ok"}
	if err := s.svc.Store.AppendAudit(s.ctx, &ev); err != nil {
		t.Fatal(err)
	}
	page := a.get("/security")
	contains(t, page, "<td>Account unlocked (by support staff)</td><td>Our support staff</td>")
	if strings.Contains(page.text(), "operator") {
		t.Error("the English security page speaks of an operator")
	}
}

// TestLanguageSwitchAfterARefusedPassword: on the pages of a mail's link
// (activation, password reset), a password refused and then 「English」:
// the switch comes back to the link, in English, not to the page without
// its token, which said the link was invalid.
func TestLanguageSwitchAfterARefusedPassword(t *testing.T) {
	s := newSite(t).withMail()
	_, link, err := s.svc.OpenAccount(s.ctx, "new@example.jp", "新規 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	activation := "/activate?" + u.RawQuery
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.forgot(c.email)
	for _, tc := range []struct{ page, post, english string }{
		{activation, "/activate", "Set your password"},
		{s.resetPath(c.email), "/reset-password", "Choose a new password"},
	} {
		b.lang = "ja"
		b.setCookie("tobira_lang", "")
		token, _ := url.ParseQuery(strings.SplitN(tc.page, "?", 2)[1])
		r := b.post(tc.post, url.Values{"token": token["token"], "password": {"short"}, "confirm": {"short"}})
		expect(t, r, http.StatusBadRequest, "")
		m := regexp.MustCompile(`<input type="hidden" name="next" value="([^"]*)">`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("POST %s: no language switch on the page", tc.post)
		}
		next := html.UnescapeString(m[1])
		sw := b.post("/lang", url.Values{"lang": {"en"}, "next": {next}})
		expect(t, sw, http.StatusSeeOther, "")
		page := b.get(sw.Header.Get("Location"))
		expect(t, page, http.StatusOK, "")
		contains(t, page, tc.english)
	}
}

// A refused password and then the language switch on the login page keep
// where the sign-in goes next: a site's sign-in went to マイページ instead.
func TestLanguageSwitchAfterARefusedLogin(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	r := b.post("/login", url.Values{"email": {c.email}, "password": {"wrong"}, "next": {"/oidc/login?id=abc"}})
	expect(t, r, http.StatusUnauthorized, "")
	m := regexp.MustCompile(`<input type="hidden" name="next" value="([^"]*)">`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no language switch on the page")
	}
	sw := b.post("/lang", url.Values{"lang": {"en"}, "next": {html.UnescapeString(m[1])}})
	expect(t, sw, http.StatusSeeOther, "")
	page := b.get(sw.Header.Get("Location"))
	expect(t, page, http.StatusOK, "")
	contains(t, page, `name="next" value="/oidc/login?id=abc"`)
}

// hiddenInputs are the hidden fields of the form that posts to action on
// the page.
func hiddenInputs(t *testing.T, r *resp, action string) url.Values {
	t.Helper()
	m := regexp.MustCompile(`(?s)<form method="post" action="` + regexp.QuoteMeta(action) + `"[^>]*>(.*?)</form>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("%s %s: no form to %s", r.Request.Method, r.Request.URL.Path, action)
	}
	v := url.Values{}
	for _, in := range regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`).FindAllStringSubmatch(m[1], -1) {
		v.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return v
}

// TestLanguageSwitchKeepsTheLoginRequest: a site's request for a fresh
// sign-in (prompt=login) with a login_hint comes to the login page with
// fresh, login_hint and next; 「English」 there, also after a refused
// password, comes back to a login page that still honours all three: the
// signed-in customer is asked to sign in again, the address is filled in,
// and the sign-in goes back to the site's request.
func TestLanguageSwitchKeepsTheLoginRequest(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrol(c)
	b.lang = "ja"
	start := "/login?fresh=1&next=" + url.QueryEscape("/oidc/login?id=abc") + "&login_hint=" + url.QueryEscape("hanako@example.jp")
	first := b.get(start)
	expect(t, first, http.StatusOK, "")

	refused := b.post("/login", func() url.Values {
		v := hiddenInputs(t, first, "/login")
		v.Set("email", "hanako@example.jp")
		v.Set("password", "wrong")
		return v
	}())
	expect(t, refused, http.StatusUnauthorized, "")

	for _, page := range []*resp{first, refused} {
		b.setCookie("tobira_lang", "")
		sw := b.post("/lang", hiddenInputs(t, page, "/lang"))
		expect(t, sw, http.StatusSeeOther, "")
		back := b.get(sw.Header.Get("Location"))
		// A signed-in browser is sent on to next unless fresh is kept.
		expect(t, back, http.StatusOK, "")
		contains(t, back, "Sign in", `value="hanako@example.jp"`, `name="next" value="/oidc/login?id=abc"`)
	}

	// The switch goes only to a page of the portal.
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example/"} {
		expect(t, b.post("/lang", url.Values{"lang": {"ja"}, "next": {next}}), http.StatusSeeOther, "/")
	}
}

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

	// A sign-in in another browser within the pause sends no code: its
	// password is answered with 「別の方法を試す」 and the wait, whose switch
	// reloaded the login page.
	other := s.browser()
	r = other.post("/login", url.Values{"email": {c.email}, "password": {c.password}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, "別の方法を試す", "新しいコードは30秒後から送信できます。")
	other.switchLanguage(r, "/login/methods", "Try another method")
}

// TestLanguageSwitchAfterRecoveryRequest: the pages after the recovery
// request's two posts switch language to themselves: 「メールをご確認
// ください」, where the request redirects, not the request's page whose
// button would mail another link and void this one; the confirmation, not
// the link without its token, which said the link is invalid.
func TestLanguageSwitchAfterRecoveryRequest(t *testing.T) {
	s := newSite(t)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	c := s.customer("yamada@example.jp")
	s.browser().enrol(c)

	b := s.browser()
	b.login(c, "/login/code")
	mails := func() int {
		ms, err := s.svc.Store.ListMails(s.ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	before := mails()
	expect(t, b.post("/login/lockedout", nil), http.StatusSeeOther, lockedOutSent)
	if n := mails() - before; n != 1 {
		t.Fatalf("the request sent %d mails, want 1", n)
	}
	sent := b.get(lockedOutSent)
	expect(t, sent, http.StatusOK, "")
	contains(t, sent, "メールをご確認ください")
	b.switchLanguage(sent, lockedOutSent, "Check your mail", "We have sent you a mail.")
	if n := mails() - before; n != 1 {
		t.Errorf("switching the language of 「メールをご確認ください」 sent %d more mails", n-1)
	}
	path, token := s.recoveryLinkOf(c.email)

	done := b.post("/recovery-request/confirm", url.Values{"token": {token}})
	expect(t, done, http.StatusOK, "")
	contains(t, done, "申請を確定しました。")
	b.switchLanguage(done, path, "This request has been confirmed already.", "Sign in after")
}
