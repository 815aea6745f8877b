package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/store"
)

const (
	msgResetSent    = "入力されたメールアドレスにアカウントがある場合、パスワード再設定用のリンクを送信しました。"
	msgResetInvalid = "このリンクは無効か、有効期限が切れているか、すでに使用されています。"
	msgResetDone    = "パスワードを再設定しました。ログインしてください。"
)

// withMail queues the portal's mails in its store, as the demo does.
func (s *site) withMail() *site {
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	return s
}

func (s *site) mailsTo(to string) []store.Mail {
	s.t.Helper()
	all, err := s.svc.Store.ListMails(s.ctx, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []store.Mail
	for _, m := range all {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

var resetLinkRe = regexp.MustCompile(`/reset-password\?token=\S+`)

// resetMails are the mails to addr with a reset link, newest first.
func (s *site) resetMails(addr string) []store.Mail {
	var out []store.Mail
	for _, m := range s.mailsTo(addr) {
		if resetLinkRe.MatchString(m.Text) {
			out = append(out, m)
		}
	}
	return out
}

// resetPath is the path and query of the newest reset link mailed to addr.
func (s *site) resetPath(addr string) string {
	s.t.Helper()
	ms := s.resetMails(addr)
	if len(ms) == 0 {
		s.t.Fatalf("no reset mail to %s", addr)
	}
	return resetLinkRe.FindString(ms[0].Text)
}

// forgotSent is the page every well-formed address is sent to.
const forgotSent = "/forgot?sent=1"

// forgot asks for a reset link of addr, expects the redirect every address
// gets, and returns the page it leads to.
func (b *browser) forgot(addr string) *resp {
	b.t.Helper()
	r := b.post("/forgot", url.Values{"email": {addr}})
	expect(b.t, r, http.StatusSeeOther, forgotSent)
	page := b.get(forgotSent)
	expect(b.t, page, http.StatusOK, "")
	contains(b.t, page, msgResetSent)
	return page
}

func TestLoginLinksToForgot(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	r := b.get("/login")
	contains(t, r, `<a href="/forgot">パスワードをお忘れの場合</a>`)
	page := b.get("/forgot")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "パスワードの再設定", "メールアドレス", "送信", `autocomplete="username"`, `action="/forgot"`)
	if page.Header.Get("Cache-Control") != "no-store" {
		t.Error("the forgot page may be cached")
	}
	b.lang = "en"
	contains(t, b.get("/forgot"), "Reset your password", "Send")
	contains(t, b.get("/login"), "Forgot your password?")
}

// TestForgotSamePage: a customer's address, an unknown one, and one of an
// account not yet activated get the same answer and the same page, byte
// for byte.
func TestForgotSamePage(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	if _, _, err := s.svc.OpenAccount(s.ctx, "new@example.jp", "新規 花子", "operator:test"); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	knownPost := b.post("/forgot", url.Values{"email": {c.email}})
	known := b.forgot(c.email)
	for _, addr := range []string{"nobody@example.jp", "new@example.jp", "YAMADA@example.jp"} {
		p := b.post("/forgot", url.Values{"email": {addr}})
		if p.body != knownPost.body || p.Header.Get("Location") != knownPost.Header.Get("Location") {
			t.Errorf("the answer for %s differs from a customer's", addr)
		}
		r := b.forgot(addr)
		if r.body != known.body {
			t.Errorf("the page for %s differs from a customer's", addr)
		}
		for _, r := range []*resp{p, r} {
			if setCookieOf(r, "tobira_flow") != nil || setCookieOf(r, "tobira_session") != nil {
				t.Errorf("the answer for %s set a cookie", addr)
			}
		}
	}
	if strings.Contains(known.body, c.email) {
		t.Error("the page repeats the address")
	}
	if n := len(s.resetMails(c.email)); n != 4 {
		t.Errorf("%d mails to the customer, want 4", n)
	}
	for _, addr := range []string{"nobody@example.jp", "new@example.jp"} {
		if len(s.resetMails(addr)) != 0 {
			t.Errorf("%s got a reset link", addr)
		}
	}
	// Past the limit, the same page still, and no mail.
	for range 3 {
		b.forgot(c.email)
	}
	if n := len(s.resetMails(c.email)); n != 5 {
		t.Errorf("%d mails to the customer after 7 requests, want 5", n)
	}
	// What is not an address gets a message, and what is missing.
	for addr, msg := range map[string]string{"": "メールアドレスを入力してください。", "not an address": "メールアドレスの形式が正しくありません。"} {
		r := b.post("/forgot", url.Values{"email": {addr}})
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, msg)
	}
}

// TestForgotReloadSendsNothing: the form is answered with a redirect to a
// page of its own, which a reload (Chrome's 「フォームの再送信の確認」 said
// yes to) or a language switch shows again without mailing another link,
// whose new token made the first one invalid. The page is the same for a
// browser that never asked: it tells nothing of any address.
func TestForgotReloadSendsNothing(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	page := b.forgot(c.email)
	if page.Header.Get("Cache-Control") != "no-store" {
		t.Error("the page after the form may be cached")
	}
	contains(t, page, "リンクの有効期限は30分です。")
	if strings.Contains(page.body, `action="/forgot"`) {
		t.Error("the page after the form offers the form again")
	}
	first := s.resetPath(c.email)
	for range 2 {
		again := b.get(forgotSent)
		expect(t, again, http.StatusOK, "")
		if again.body != page.body {
			t.Error("the page reloaded differs")
		}
	}
	b.switchLanguage(page, forgotSent, "If an account uses the address you entered", "The link works for 30 minutes.")
	if n := len(s.resetMails(c.email)); n != 1 {
		t.Errorf("%d reset mails after reloading the page and switching its language, want 1", n)
	}
	if s.resetPath(c.email) != first {
		t.Error("the link mailed first is no longer the newest")
	}
	if stranger := s.browser().get(forgotSent); stranger.body != page.body {
		t.Error("the page differs for a browser that asked for nothing")
	}
	// The link mailed first still works.
	expect(t, b.get(first), http.StatusOK, "")
}

// TestResetPasswordPageWithoutFactor: for an account with no second factor
// yet, the page says the next sign-in asks to set one up, not that it asks
// for it.
func TestResetPasswordPageWithoutFactor(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.forgot(c.email)
	page := b.get(s.resetPath(c.email))
	expect(t, page, http.StatusOK, "")
	contains(t, page, "二要素認証はまだ設定されていないため、次回のログイン時に設定画面が表示されます。")
	if strings.Contains(page.body, "次回のログインでも必要です") {
		t.Error("the page says the next sign-in asks for a second factor the account does not have")
	}
}

// TestResetPasswordOverHTTP follows the mail's link: refused passwords, the
// reset, the old password refused, and a sign-in that still asks for the app.
func TestResetPasswordOverHTTP(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	oldSession := b.enrol(c)

	other := s.browser()
	other.forgot(c.email)
	link := s.resetPath(c.email)
	page := other.get(link)
	expect(t, page, http.StatusOK, "")
	contains(t, page, "二要素認証の設定は変わらず、次回のログインでも必要です。")
	contains(t, page, "新しいパスワードの設定", "山田 太郎", `autocomplete="new-password"`, `autocomplete="username"`,
		`value="yamada@example.jp"`, "パスワードを再設定する")
	token := mustQuery(t, link, "token")

	for _, tc := range []struct{ pw, confirm, msg string }{
		{"correct horse battery!", "correct horse batterx!", "確認用のパスワードが一致しません。"},
		{"short", "short", "パスワードは10文字以上にしてください。"},
		{c.email, c.email, "メールアドレスと同じパスワードは使用できません。"},
		{"yamada12345", "yamada12345", "よく使われているパスワードや推測されやすいパスワード"},
	} {
		r := other.post("/reset-password", url.Values{"token": {token}, "password": {tc.pw}, "confirm": {tc.confirm}})
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, tc.msg)
	}
	if !s.live(oldSession) {
		t.Fatal("a refused password ended the session")
	}

	newPassword := "a brand new password"
	r := other.post("/reset-password", url.Values{"token": {token}, "password": {newPassword}, "confirm": {newPassword}})
	expect(t, r, http.StatusSeeOther, "/login?e=password_reset")
	contains(t, other.get("/login?e=password_reset"), msgResetDone)
	if s.live(oldSession) {
		t.Fatal("the other browser's session lives after the reset")
	}
	expect(t, b.get("/"), http.StatusSeeOther, "/login?next=%2F&e=ended")

	// The notice of the change.
	var notice bool
	for _, m := range s.mailsTo(c.email) {
		notice = notice || strings.Contains(m.Text, "パスワードが変更されました。")
	}
	if !notice {
		t.Error("no security notice mailed")
	}

	// The link is spent.
	expect(t, other.get(link), http.StatusNotFound, "")
	r = other.post("/reset-password", url.Values{"token": {token}, "password": {"another password!"}, "confirm": {"another password!"}})
	expect(t, r, http.StatusNotFound, "")
	contains(t, r, msgResetInvalid, `href="/forgot"`)

	// The old password opens nothing; the new one leads to the app's code.
	r = other.post("/login", url.Values{"email": {c.email}, "password": {c.password}})
	expect(t, r, http.StatusUnauthorized, "")
	contains(t, r, msgBadCredentials)
	c.password = newPassword
	s.clock.Advance(30 * time.Second)
	other.login(c, "/login/code")
	expect(t, other.get("/"), http.StatusSeeOther, "/login?next=%2F")
	expect(t, other.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/")
	expect(t, other.get("/"), http.StatusOK, "")
}

func TestResetPasswordLinkInvalid(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	for _, path := range []string{"/reset-password", "/reset-password?token=nope", "/reset-password?token=a.b"} {
		r := b.get(path)
		expect(t, r, http.StatusNotFound, "")
		contains(t, r, msgResetInvalid)
		if strings.Contains(r.body, `name="password"`) {
			t.Errorf("%s shows the password form", path)
		}
	}
	// Expired after 30 minutes.
	b.forgot(c.email)
	link := s.resetPath(c.email)
	s.clock.Advance(30 * time.Minute)
	expect(t, b.get(link), http.StatusNotFound, "")
	r := b.post("/reset-password", url.Values{"token": {mustQuery(t, link, "token")}, "password": {"a brand new password"}, "confirm": {"a brand new password"}})
	expect(t, r, http.StatusNotFound, "")
	b.lang = "en"
	contains(t, b.get(link), "This link is invalid, expired or already used.")
}

// TestForgotMailInTheLanguageOfThePage: the mail is in the language the
// customer asked in.
func TestForgotMailInTheLanguageOfThePage(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.lang = "en"
	expect(t, b.post("/forgot", url.Values{"email": {c.email}}), http.StatusSeeOther, forgotSent)
	contains(t, b.get(forgotSent), "If an account uses the address you entered, we have sent it a link to reset the password.")
	ms := s.resetMails(c.email)
	if len(ms) != 1 || ms[0].Subject != "[Tobira] Reset your password" {
		t.Fatalf("mails: %+v", ms)
	}
}

// TestForgotBeforeActivation: a customer whose account an operator opened
// and who lost the activation mail asks at 「パスワードをお忘れの場合」 in
// English: the page is the one every address gets, and the activation
// mail comes again, in English, with a link that opens the page that sets
// the first password.
func TestForgotBeforeActivation(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	if _, _, err := s.svc.OpenAccount(s.ctx, "new@example.jp", "新規 花子", "operator:test"); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.lang = "en"
	known := b.post("/forgot", url.Values{"email": {c.email}})
	pending := b.post("/forgot", url.Values{"email": {"new@example.jp"}})
	expect(t, pending, http.StatusSeeOther, forgotSent)
	if pending.body != known.body || pending.Header.Get("Location") != known.Header.Get("Location") {
		t.Error("the answer for an account awaiting activation differs from a customer's")
	}
	var mails []store.Mail
	for _, m := range s.mailsTo("new@example.jp") {
		if m.Subject == "[Tobira] Your account is ready" {
			mails = append(mails, m)
		}
	}
	if len(mails) != 1 || !strings.Contains(mails[0].Text, "which has no password yet") {
		t.Fatalf("English activation mails after the request: %+v", mails)
	}
	link := regexp.MustCompile(`/activate\?token=\S+`).FindString(mails[0].Text)
	if link == "" {
		t.Fatalf("the activation mail has no link:\n%s", mails[0].Text)
	}
	page := b.get(link)
	expect(t, page, http.StatusOK, "")
	contains(t, page, "新規 花子", `autocomplete="new-password"`)
	if len(s.resetMails("new@example.jp")) != 0 {
		t.Error("an account awaiting activation got a reset link")
	}
}

func mustQuery(t *testing.T, path, key string) string {
	t.Helper()
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(key)
}

// TestPasswordLinkInABrowserSignedInAsAnother: a computer shared at home,
// where Sato is signed in, opens a new customer's 開通メール, then another
// customer's reset link. Once the password is set, the login page shows
// its message and the form, where it sent the browser on to Sato's マイページ
// without a word; the new customer's sign-in there signs Sato out.
func TestPasswordLinkInABrowserSignedInAsAnother(t *testing.T) {
	s := newSite(t).withMail()
	sato := s.customer("sato@example.jp")
	b := s.browser()
	satoSession := b.enrol(sato)

	_, link, err := s.svc.OpenAccount(s.ctx, "new@example.jp", "新規 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	newcomer := &customer{email: "new@example.jp", password: "a first password"}
	expect(t, b.post("/activate", url.Values{"token": {mustQuery(t, link, "token")},
		"password": {newcomer.password}, "confirm": {newcomer.password}}), http.StatusSeeOther, "/login?e=activated")
	page := b.get("/login?e=activated")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "パスワードを設定しました。ログインしてください。", `<form method="post" action="/login"`)

	yamada := s.customer("yamada@example.jp")
	b.forgot(yamada.email)
	const newPassword = "a brand new password"
	expect(t, b.post("/reset-password", url.Values{"token": {mustQuery(t, s.resetPath(yamada.email), "token")},
		"password": {newPassword}, "confirm": {newPassword}}), http.StatusSeeOther, "/login?e=password_reset")
	page = b.get("/login?e=password_reset")
	expect(t, page, http.StatusOK, "")
	contains(t, page, msgResetDone, `<form method="post" action="/login"`)

	// The other notices of a signed-in browser still go on to its page.
	expect(t, b.get("/login?e=expired"), http.StatusSeeOther, "/")
	if !s.live(satoSession) {
		t.Fatal("setting another account's password ended Sato's session")
	}
	b.enrol(newcomer)
	if s.live(satoSession) {
		t.Error("the new customer's sign-in left Sato signed in in the same browser")
	}
}
