package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/store"
)

// notMeLinkOf returns the path of the "this was not me" link in the newest
// security notice to email, and its token.
func (s *site) notMeLinkOf(email string) (path, token string) {
	s.t.Helper()
	ms, err := s.svc.Store.ListMails(s.ctx, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(s.svc.Config.BaseURL) + `(/not-me\?token=[A-Za-z0-9_%-]+)`)
	for _, m := range ms {
		if m.To != email || !strings.Contains(m.Subject, "セキュリティに関するお知らせ") {
			continue
		}
		match := re.FindStringSubmatch(m.Text)
		if match == nil {
			s.t.Fatalf("notice without a not-me link:\n%s", m.Text)
		}
		u, err := url.Parse(match[1])
		if err != nil {
			s.t.Fatal(err)
		}
		return match[1], u.Query().Get("token")
	}
	s.t.Fatalf("no security notice to %s", email)
	return "", ""
}

// TestNotMe follows a notice's 「心当たりがない」 link: the page says what
// reporting does and spends nothing; 「ログアウトして報告する」 ends every
// session of the account (a signed-in browser is signed out), the sites'
// too, writes the alert to the audit log and works once; a bad link gets a
// clear message.
func TestNotMe(t *testing.T) {
	s := newSite(t)
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	// The sites the account signed in to are told of the report.
	var reset []string
	s.svc.GrantsEnded = func(_ context.Context, gs []store.Grant) {
		for _, g := range gs {
			reset = append(reset, g.AccountID)
		}
	}
	c := s.customer("yamada@example.jp")
	if err := s.svc.Store.CreateClient(s.ctx, &store.Client{ID: "site", Name: "site", RedirectURIs: []string{"https://site.example.jp/cb"},
		CreatedAt: s.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.svc.Store.CreateGrant(s.ctx, &store.Grant{ID: "g-1", ClientID: "site", AccountID: c.acct.ID, Scopes: []string{"openid"},
		AuthTime: s.clock.Now(), CreatedAt: s.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	first := b.enrol(c)
	path, token := s.notMeLinkOf(c.email) // the enrolment's notice
	other := s.browser()
	second := other.signIn(c)
	bystander := s.customer("sato@example.jp")
	bb := s.browser()
	third := bb.enrol(bystander)

	const invalid = "このリンクは無効か、有効期限が切れているか、すでに使用されています。"
	stranger := s.browser()
	for _, bad := range []string{"/not-me", "/not-me?token=nope", path + "x"} {
		r := stranger.get(bad)
		expect(t, r, http.StatusNotFound, "")
		contains(t, r, invalid, "サポート窓口にお問い合わせください。")
	}
	r := stranger.post("/not-me", url.Values{"token": {"nope"}})
	expect(t, r, http.StatusNotFound, "")
	contains(t, r, invalid)

	// The page changes nothing, however often it is opened.
	for range 2 {
		page := b.get(path)
		expect(t, page, http.StatusOK, "")
		contains(t, page, "心当たりのない操作の報告", c.email, "このアカウントのすべてのログインが終了します",
			"ポータルを通じてログインしている各サイトからも、ログアウトします。", "サポート担当者に通知されます。",
			"パスワードの再設定をおすすめします。", "ログアウトして報告する")
		if !strings.Contains(page.body, `name="token" value="`+token+`"`) {
			t.Fatalf("the page's form lacks the token:\n%s", page.body)
		}
		if cc := page.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}
	if !s.live(first) || !s.live(second) || len(reset) != 0 {
		t.Fatal("opening the page ended sessions")
	}

	// The notice reported told of a second factor set up: the page the
	// report leads to says so.
	sent := b.post("/not-me", url.Values{"token": {token}})
	expect(t, sent, http.StatusSeeOther, "/not-me")
	if ck := setCookieOf(sent, "tobira_session"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("the session cookie was not cleared: %v", ck)
	}
	// A sign-in this browser had under way ends with the sessions, and so
	// does what it remembered of where that sign-in was going.
	for _, name := range []string{"tobira_flow", "tobira_flow_return"} {
		if ck := setCookieOf(sent, name); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("the cookie %s was not cleared: %v", name, ck)
		}
	}
	// The page it leads to, loaded again (a reload, the language switch),
	// still says the report was received, in either language.
	for range 2 {
		done := b.get("/not-me")
		expect(t, done, http.StatusOK, "")
		contains(t, done, "報告を受け付けました。すべてのログインを終了しました。パスワードの再設定をおすすめします。")
		contains(t, done, unknownFactorAdvice...)
		for _, href := range []string{`href="/forgot"`, `href="/login"`} {
			if !strings.Contains(done.body, href) {
				t.Errorf("the done page lacks %s", href)
			}
		}
	}
	b.lang = "en"
	contains(t, b.get("/not-me"), "Your report has been received.",
		"A second factor that is not yours may now be set up on your account.",
		"“Try another method”", "“Lost your device? (Request recovery)”", "72 hours after you confirm the request")
	b.lang = ""
	// Another browser, sent the page's address or the one it had before
	// (/not-me?done=1&factor=1), is told of no report: only the browser
	// that sent it is.
	for _, path := range []string{"/not-me", "/not-me?done=1&factor=1"} {
		other := s.browser().get(path)
		expect(t, other, http.StatusNotFound, "")
		if strings.Contains(other.text(), "報告を受け付けました") {
			t.Errorf("%s in another browser says a report was received", path)
		}
	}
	// The page is the browser's for half an hour, not for ever.
	s.clock.Advance(31 * time.Minute)
	if page := b.get("/not-me"); strings.Contains(page.text(), "報告を受け付けました") {
		t.Error("the report's page says it was received half an hour on")
	}
	if s.live(first) || s.live(second) {
		t.Fatal("a session of the account survived the report")
	}
	if !s.live(third) {
		t.Fatal("the report ended another account's session")
	}
	// The browser that reported had its cookie cleared then; the other
	// hears at its next page that its sign-in has ended.
	expect(t, b.get("/"), http.StatusSeeOther, "/login?next=%2F")
	expect(t, other.get("/"), http.StatusSeeOther, "/login?next=%2F&e=ended")
	if len(reset) != 1 || reset[0] != c.acct.ID {
		t.Fatalf("the sites were told of %v, want the account's grant once", reset)
	}
	evs, err := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Action != "security.not_me" || evs[0].Outcome != "alert" {
		t.Fatalf("audit %+v, want security.not_me alert", evs)
	}

	// The link works once.
	again := b.post("/not-me", url.Values{"token": {token}})
	expect(t, again, http.StatusNotFound, "")
	contains(t, again, invalid)
	expect(t, b.get(path), http.StatusNotFound, "")
	if len(reset) != 1 {
		t.Fatalf("a spent link told the sites again: %v", reset)
	}

	// After the report, the same browser is no longer known: its next
	// sign-in mails a notice, whose page speaks English too.
	b.signIn(c)
	path2, token2 := s.notMeLinkOf(c.email)
	if token2 == token {
		t.Fatal("no new notice after the report")
	}
	en := s.browser()
	en.lang = "en"
	page := en.get(path2)
	expect(t, page, http.StatusOK, "")
	contains(t, page, "Report activity that was not you", "Sign out everywhere and report")

	// A notice of a new browser changes no second factor: its report's
	// page says nothing of one.
	sent = en.post("/not-me", url.Values{"token": {token2}})
	expect(t, sent, http.StatusSeeOther, "/not-me")
	done := en.get("/not-me")
	contains(t, done, "Your report has been received.")
	if strings.Contains(done.body, "second factor that is not yours") {
		t.Error("the page after the report of a new browser speaks of an unknown second factor")
	}
}

// unknownFactorAdvice is what the page after a report of a second factor
// set up tells the customer: the factor stays, and how to sign in without
// it (a new password, then the recovery request from 「別の方法を試す」 at
// sign-in, or support staff).
var unknownFactorAdvice = []string{
	"お客様の知らない二要素認証が、アカウントに設定されている可能性があります。",
	"報告しても、パスワードを再設定しても、二要素認証の設定は変わりません。",
	"次回のログインでは、パスワードの入力後に二要素認証のコードを求められることがあります。",
	"「別の方法を試す」", "「デバイスを紛失した場合 (復旧の申請)」から二要素認証の復旧を申請します。",
	"申請の確定から72時間の待機期間が過ぎた後の最初のログインで、二要素認証を設定し直せます。",
	"お急ぎの場合は、サポート窓口にお問い合わせください。ご本人確認のうえ、担当者が二要素認証をリセットします。",
	`<a href="https://support.example.jp/">サポート窓口</a>`,
}
