package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

const (
	msgBadCredentials = "メールアドレスまたはパスワードが正しくありません。"
	msgWrongCode      = "コードが正しくありません"
	msgCodeUsed       = "このコードは使用済みです。アプリに次のコードが表示されるまでお待ちください。"
	msgWrongStep      = "この画面は表示できません。"
	msgExpired        = "ログインの有効期限が切れました。"
	msgNotRecorded    = "リカバリーコードを記録したら、「コードを安全に記録しました」にチェックを入れてください。"
	msgLocked         = "誤ったコードの入力が続いたため、二要素認証を一時的に停止しています。"
)

func TestLoginPage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	r := b.get("/login")
	expect(t, r, http.StatusOK, "")
	contains(t, r, "ログイン", "メールアドレス", "パスワード", "続ける",
		`autocomplete="username"`, `autocomplete="current-password"`, `name="next" value="/"`)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	// An open login page stores nothing and so never expires.
	if c := setCookieOf(r, "tobira_flow"); c != nil {
		t.Errorf("GET /login set a flow cookie %v", c)
	}
	// next is carried through the form, only as a local path.
	for next, want := range map[string]string{
		"/security":                "/security",
		"//evil.example/":          "/",
		"https://evil.example/":    "/",
		`/\evil.example`:           "/",
		"/contracts?id=1&x=2":      "/contracts?id=1&amp;x=2",
		"javascript:alert(1)":      "/",
		"/%2F%2Fevil.example/path": "/%2F%2Fevil.example/path",
	} {
		r := b.get("/login?next=" + url.QueryEscape(next))
		if !strings.Contains(r.body, `name="next" value="`+want+`"`) {
			t.Errorf("GET /login?next=%s: hidden next is not %q", next, want)
		}
	}
	contains(t, b.get("/login?e=expired"), msgExpired)
}

// TestLoginWrongPassword: a wrong password and an unknown address get the
// same 401 and message, and no cookie at all.
func TestLoginWrongPassword(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	var bodies []string
	for _, form := range []url.Values{
		{"email": {c.email}, "password": {"wrong password"}},
		{"email": {"nobody@example.jp"}, "password": {c.password}},
	} {
		r := b.post("/login", form)
		expect(t, r, http.StatusUnauthorized, "")
		contains(t, r, msgBadCredentials)
		if len(r.Cookies()) != 0 {
			t.Errorf("a failed sign-in set cookies %v", r.Cookies())
		}
		bodies = append(bodies, strings.ReplaceAll(r.body, form.Get("email"), "EMAIL"))
	}
	if bodies[0] != bodies[1] {
		t.Error("a wrong password and an unknown address give different pages")
	}
	if b.cookie("tobira_session") != "" || b.cookie("tobira_flow") != "" {
		t.Fatal("cookies after failed sign-ins")
	}
	// The address typed is kept in the form; the password is not.
	r := b.post("/login", url.Values{"email": {c.email}, "password": {"wrong password"}})
	if !strings.Contains(r.body, `value="yamada@example.jp"`) || strings.Contains(r.body, "wrong password") {
		t.Error("the form keeps the password or loses the address")
	}
	// Missing fields.
	r = b.post("/login", url.Values{"email": {c.email}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, "メールアドレスとパスワードを入力してください。")
}

// TestLoginThrottled: the 11th try for one address gets 429 with the time
// it opens again and Retry-After.
func TestLoginThrottled(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	for i := 0; i < s.svc.Config.PasswordFailuresPerAccount; i++ {
		expect(t, b.post("/login", url.Values{"email": {c.email}, "password": {"wrong password"}}), http.StatusUnauthorized, "")
	}
	r := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}})
	expect(t, r, http.StatusTooManyRequests, "")
	until := time.Date(2026, 4, 1, 0, 15, 0, 0, time.UTC)
	contains(t, r, "ログインの試行回数が上限に達しました。", until.In(jst).Format("2006年1月2日 15:04"))
	if got := r.Header.Get("Retry-After"); got != strconv.Itoa(int(until.Sub(t0).Seconds())) {
		t.Errorf("Retry-After = %q, want %d", got, int(until.Sub(t0).Seconds()))
	}
	if setCookieOf(r, "tobira_session") != nil || setCookieOf(r, "tobira_flow") != nil {
		t.Error("a throttled sign-in set a cookie")
	}
}

// TestFirstSignInEnrolment walks the first sign-in screen by screen, with
// the recovery screen's box first unchecked.
func TestFirstSignInEnrolment(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	r := b.login(c, "/enrol")
	fc := setCookieOf(r, "tobira_flow")
	if fc == nil || !fc.HttpOnly || fc.SameSite != http.SameSiteLaxMode || fc.Path != "/" {
		t.Fatalf("flow cookie %+v: want HttpOnly, SameSite=Lax, Path=/", fc)
	}
	if setCookieOf(r, "tobira_session") != nil {
		t.Fatal("the password alone set a session")
	}

	page := b.get("/enrol")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "2要素認証の設定", "ワンタイムコードの入力", "続ける", "別の方法を探す",
		`autocomplete="one-time-code"`, "data:image/png;base64,", "apps.apple.com", "play.google.com")
	c.seed = strings.ReplaceAll(secretRe.FindStringSubmatch(page.body)[1], " ", "")

	expect(t, b.get("/enrol/methods"), http.StatusOK, "")

	// A wrong code: the page again, with the same key.
	r = b.post("/enrol", url.Values{"code": {s.wrongCode(c)}})
	expect(t, r, http.StatusUnauthorized, "")
	contains(t, r, msgWrongCode)
	if m := secretRe.FindStringSubmatch(r.body); m == nil || strings.ReplaceAll(m[1], " ", "") != c.seed {
		t.Fatal("the enrolment page after a wrong code shows another key")
	}

	expect(t, b.post("/enrol", url.Values{"code": {" " + s.code(c) + " "}}), http.StatusSeeOther, "/recovery-code")
	// The enrolment page is done with: back button goes to the current step.
	expect(t, b.get("/enrol"), http.StatusSeeOther, "/recovery-code")

	rc := b.get("/recovery-code")
	expect(t, rc, http.StatusOK, "")
	contains(t, rc, "あと少しです。", "リカバリーコードをコピーして、安全な場所に保管してください。デバイスなしでログインする際に必要になります。",
		"コードのコピー", "コードを安全に記録しました", "続ける")
	c.recovery = recoveryRe.FindStringSubmatch(rc.body)[1]

	// Unchecked box: 400, the message, the same code, no session.
	for _, form := range []url.Values{{}, {"recorded": {"no"}}, {"recorded": {""}}} {
		r = b.post("/recovery-code", form)
		expect(t, r, http.StatusBadRequest, "")
		// The box takes the focus, named by the message (no script: the
		// server's refusal is what the customer sees).
		contains(t, r, msgNotRecorded, c.recovery, `id="recorded" name="recorded" value="yes" aria-describedby="form-error" autofocus>`)
		if setCookieOf(r, "tobira_session") != nil || b.cookie("tobira_session") != "" {
			t.Fatal("an unchecked box gave a session")
		}
	}
	r = b.post("/recovery-code", url.Values{"recorded": {"yes"}})
	expect(t, r, http.StatusSeeOther, "/")
	sc := setCookieOf(r, "tobira_session")
	if sc == nil || sc.Value == "" || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure on plain HTTP", sc)
	}
	if fc := setCookieOf(r, "tobira_flow"); fc == nil || fc.MaxAge >= 0 {
		t.Fatalf("the flow cookie was not cleared: %+v", fc)
	}
	if !s.live(sc.Value) {
		t.Fatal("the session cookie does not resolve")
	}
	home := b.get("/")
	expect(t, home, http.StatusOK, "")
	contains(t, home, "山田 太郎", "セキュリティ")
	// The finished flow's pages send the browser to sign in again.
	expect(t, b.get("/recovery-code"), http.StatusSeeOther, "/login?e=expired")
}

// atCodeStep is an enrolled customer who signed out and, a TOTP step later,
// gave the password again: the browser is at the code step.
func atCodeStep(t *testing.T) (*site, *customer, *browser) {
	t.Helper()
	s := newSite(t)
	c, b := s.enrolled()
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")

	s.clock.Advance(30 * time.Second)
	b.login(c, "/login/code")
	return s, c, b
}

// TestEnrolmentKeyKeptOnSignInAgain: a customer at the QR code of manual X
// who signs in again in the same browser within enrol_ttl (the back button to the login
// page, the portal in a second tab) sees the same key, so the app that
// scanned it already gives right codes; another browser, or another
// account in this one, gets a key of its own.
func TestEnrolmentKeyKeptOnSignInAgain(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	key := func(b *browser) string {
		t.Helper()
		page := b.get("/enrol")
		expect(t, page, http.StatusOK, "")
		m := secretRe.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("enrolment page shows no key:\n%s", page.body)
		}
		return strings.ReplaceAll(m[1], " ", "")
	}
	b.login(c, "/enrol")
	scanned := key(b)
	// 40 minutes on (installing the app took a while): past flow_ttl,
	// within enrol_ttl.
	s.clock.Advance(40 * time.Minute)
	b.login(c, "/enrol")
	if again := key(b); again != scanned {
		t.Fatalf("signing in again in the same browser showed another key: %s, then %s", scanned, again)
	}
	other := s.browser()
	other.login(c, "/enrol")
	if key(other) == scanned {
		t.Error("another browser got the key shown to the first")
	}
	sato := s.customer("sato@example.jp")
	b.login(sato, "/enrol")
	if key(b) == scanned {
		t.Error("another account signing in in the same browser got the first account's key")
	}
	b.login(c, "/enrol")
	c.seed = key(b)
	if c.seed == scanned {
		t.Error("the key survived a sign-in of another account in between")
	}

	// The app's code from the key kept completes the enrolment.
	d := s.browser()
	d.login(c, "/enrol")
	c.seed = key(d)
	d.login(c, "/enrol")
	expect(t, d.post("/enrol", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/recovery-code")
}

// TestSecondSignIn: password, then the app's code; a replayed code is
// refused, with what to do.
func TestSecondSignIn(t *testing.T) {
	s, c, b := atCodeStep(t)
	page := b.get("/login/code")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "ワンタイムパスワードの入力", "ワンタイムコードの入力", "別の方法を試す", `autocomplete="one-time-code"`)
	used := s.code(c)
	r := b.post("/login/code", url.Values{"code": {used}})
	expect(t, r, http.StatusSeeOther, "/")
	first := b.cookie("tobira_session")

	// Another browser, the same code in the same 30 s.
	s.clock.Advance(5 * time.Second)
	other := s.browser()
	other.login(c, "/login/code")
	r = other.post("/login/code", url.Values{"code": {used}})
	expect(t, r, http.StatusUnauthorized, "")
	contains(t, r, msgCodeUsed, "ワンタイムパスワードの入力")
	if strings.Contains(r.body, msgWrongCode) {
		t.Error("a replayed code is called incorrect")
	}
	if setCookieOf(r, "tobira_session") != nil {
		t.Fatal("a replayed code gave a session")
	}
	other.lang = "en"
	contains(t, other.post("/login/code", url.Values{"code": {used}}), "This code has been used already. Please wait until your app shows the next code.")
	other.lang = ""
	// The next step's code is accepted.
	next, err := mfa.TOTPCode(c.seed, s.clock.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, other.post("/login/code", url.Values{"code": {next}}), http.StatusSeeOther, "/")
	if !s.live(first) || !s.live(other.cookie("tobira_session")) {
		t.Fatal("sessions of two browsers do not both live")
	}
}

// TestSignInReturnsWhereItStarted: /security without a session sends the
// browser to sign in and back.
func TestSignInReturnsWhereItStarted(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")

	expect(t, b.get("/security"), http.StatusSeeOther, "/login?next=%2Fsecurity")
	expect(t, b.get("/security/reset"), http.StatusSeeOther, "/login?next=%2Fsecurity%2Freset")
	expect(t, b.get("/"), http.StatusSeeOther, "/login?next=%2F")
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security"}}), http.StatusSeeOther, "/login/code")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	sec := b.get("/security")
	expect(t, sec, http.StatusOK, "")
	contains(t, sec, "二要素認証", "✓設定されています", "認証アプリ", "リセット")

	// Signed in, /login passes on to next, and only to a local one.
	expect(t, b.get("/login?next=%2Fsecurity"), http.StatusSeeOther, "/security")
	expect(t, b.get("/login?next=%2F%2Fevil.example%2F"), http.StatusSeeOther, "/")

	// A foreign next does not survive the sign-in.
	b2 := s.browser()
	s.clock.Advance(30 * time.Second)
	for _, next := range []string{"https://evil.example/", "//evil.example", `/\evil.example`} {
		expect(t, b2.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {next}}), http.StatusSeeOther, "/login/code")
		expect(t, b2.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/")
		s.clock.Advance(30 * time.Second)
	}
}

// TestSkippedSteps: no page of a later step opens with a flow at an earlier
// one, and none gives a session.
func TestSkippedSteps(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")

	// No flow at all.
	b := s.browser()
	expect(t, b.post("/login/code", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login?e=expired")
	expect(t, b.get("/recovery-code"), http.StatusSeeOther, "/login?e=expired")
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login?e=expired")
	expect(t, b.post("/enrol", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login?e=expired")

	// A flow at enrolment: the second-factor and recovery pages send the
	// browser back to it, and do nothing else.
	b.login(c, "/enrol")
	for _, r := range []*resp{
		b.post("/login/code", url.Values{"code": {"123456"}}),
		b.post("/login/recovery", url.Values{"code": {"H3URF1WMNF9GNUFH7YH8RCDV"}}),
		b.post("/recovery-code", url.Values{"recorded": {"yes"}}),
	} {
		expect(t, r, http.StatusSeeOther, "/enrol")
		if setCookieOf(r, "tobira_session") != nil {
			t.Fatalf("%s gave a session", r.Request.URL.Path)
		}
	}
	for _, p := range []string{"/login/code", "/recovery-code", "/login/recovery", "/login/methods"} {
		expect(t, b.get(p), http.StatusSeeOther, "/enrol")
	}
	if b.cookie("tobira_session") != "" {
		t.Fatal("a session after skipped steps")
	}
	if ms := s.methods(c); len(ms) != 0 {
		t.Fatalf("skipped steps enrolled %v", ms)
	}

	// A flow at the second factor: enrolment and recovery screen refuse it.
	b2 := s.browser()
	b2.enrol(c)
	b3 := s.browser()
	b3.login(c, "/login/code")
	expect(t, b3.post("/enrol", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/login/code")
	expect(t, b3.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login/code")
	expect(t, b3.get("/recovery-code"), http.StatusSeeOther, "/login/code")
	expect(t, b3.get("/enrol"), http.StatusSeeOther, "/login/code")
	if b3.cookie("tobira_session") != "" {
		t.Fatal("a session without a second factor")
	}
}

// TestOldFlowCookie: a flow cookie kept from an earlier step (replayed form)
// is refused.
func TestOldFlowCookie(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.login(c, "/enrol")
	atEnrol := b.cookie("tobira_flow")
	page := b.get("/enrol")
	c.seed = strings.ReplaceAll(secretRe.FindStringSubmatch(page.body)[1], " ", "")
	expect(t, b.post("/enrol", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/recovery-code")

	replay := s.browser()
	replay.setCookie("tobira_flow", atEnrol)
	expect(t, replay.post("/enrol", url.Values{"code": {s.code(c)}}), http.StatusConflict, "")
	expect(t, replay.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusConflict, "")
	if replay.cookie("tobira_session") != "" {
		t.Fatal("an old flow cookie gave a session")
	}
	// A tampered cookie.
	tok, sig, _ := strings.Cut(b.cookie("tobira_flow"), ".")
	forged := s.browser()
	forged.setCookie("tobira_flow", tok+"."+strings.ToUpper(sig))
	expect(t, forged.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusConflict, "")
	forged.setCookie("tobira_flow", "garbage")
	expect(t, forged.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login?e=expired")
	// The genuine browser carries on.
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")
}

// TestExpiredFlow: 16 minutes after the password, the code page sends the
// browser to sign in again and gives no session.
func TestExpiredFlow(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")

	s.clock.Advance(time.Minute)
	r := b.login(c, "/login/code")
	if fc := setCookieOf(r, "tobira_flow"); fc == nil || fc.MaxAge != 900 {
		t.Errorf("the second factor's flow cookie: %+v, want Max-Age 900 (flow_ttl)", fc)
	}
	s.clock.Advance(16 * time.Minute)
	r = b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusSeeOther, "/login?e=expired")
	if setCookieOf(r, "tobira_session") != nil {
		t.Fatal("an expired flow gave a session")
	}
	if fc := setCookieOf(r, "tobira_flow"); fc == nil || fc.MaxAge >= 0 {
		t.Errorf("the expired flow cookie was not cleared: %+v", fc)
	}
	expect(t, b.get("/login/code"), http.StatusSeeOther, "/login?e=expired")
	page := b.get("/login?e=expired")
	contains(t, page, msgExpired)

	// The same at enrolment, which may include installing the app: its
	// flow, and the flow cookie, last enrol_ttl (an hour).
	n := s.customer("new@example.jp")
	b2 := s.browser()
	r = b2.login(n, "/enrol")
	if fc := setCookieOf(r, "tobira_flow"); fc == nil || fc.MaxAge != 3600 {
		t.Errorf("the enrolment's flow cookie: %+v, want Max-Age 3600", fc)
	}
	s.clock.Advance(59 * time.Minute)
	expect(t, b2.get("/enrol"), http.StatusOK, "")
	s.clock.Advance(time.Minute)
	expect(t, b2.get("/enrol"), http.StatusSeeOther, "/login?e=expired")
	expect(t, b2.post("/enrol", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login?e=expired")
}

// TestWrongCodesLock: ten wrong codes close the step for an hour with 429,
// the time it opens and Retry-After; then even the right code is refused.
func TestWrongCodesLock(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	s.clock.Advance(30 * time.Second)
	b.login(c, "/login/code")
	for i := 1; i <= 9; i++ {
		r := b.post("/login/code", url.Values{"code": {s.wrongCode(c)}})
		expect(t, r, http.StatusUnauthorized, "")
		contains(t, r, msgWrongCode)
	}
	until := s.clock.Now().Add(time.Hour).In(jst).Format("2006年1月2日 15:04")
	for i, code := range []string{s.wrongCode(c), s.wrongCode(c), s.code(c)} {
		r := b.post("/login/code", url.Values{"code": {code}})
		expect(t, r, http.StatusTooManyRequests, "")
		contains(t, r, msgLocked, until)
		if got := r.Header.Get("Retry-After"); got != "3600" {
			t.Errorf("attempt %d: Retry-After = %q, want 3600", 10+i, got)
		}
		if setCookieOf(r, "tobira_session") != nil {
			t.Fatal("a locked step gave a session")
		}
	}
	// A recovery code is refused too while the step is closed.
	r := b.post("/login/recovery", url.Values{"code": {c.recovery}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, msgLocked)

	// In English, the time is written for English readers.
	b.lang = "en"
	r = b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, "Too many incorrect codes", s.clock.Now().Add(time.Hour).In(jst).Format("2 Jan 2006 15:04"))
}

// TestWrongCodesFromOneAddress: past code_failures_per_client wrong codes
// from the browser's address, its next code is refused with 429, what
// happened, the time codes are taken again and Retry-After, in the
// customer's language; the account's step stays open.
func TestWrongCodesFromOneAddress(t *testing.T) {
	s := newSite(t, func(c *config.Config) { c.CodeFailuresPerClient = 3 })
	c, b := s.enrolled()
	s.clock.Advance(30 * time.Second)
	b.login(c, "/login/code")
	for range 3 {
		expect(t, b.post("/login/code", url.Values{"code": {s.wrongCode(c)}}), http.StatusUnauthorized, "")
	}
	until := time.Date(2026, 4, 1, 0, 15, 0, 0, time.UTC)
	r := b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusTooManyRequests, "")
	contains(t, r, "お使いのネットワークから誤ったコードが多く入力されたため", until.In(jst).Format("2006年1月2日 15:04"))
	if got, want := r.Header.Get("Retry-After"), strconv.Itoa(int(until.Sub(s.clock.Now()).Seconds())); got != want {
		t.Errorf("Retry-After = %q, want %s", got, want)
	}
	if setCookieOf(r, "tobira_session") != nil {
		t.Fatal("a refused code gave a session")
	}
	b.lang = "en"
	r = b.post("/login/code", url.Values{"code": {s.code(c)}})
	contains(t, r, "Too many incorrect codes have come from your network")
	if a, err := s.svc.Store.AccountByEmail(t.Context(), c.email); err != nil || a.MFAFailures != 3 || !a.MFALockedUntil.IsZero() {
		t.Errorf("the account after the address was refused: %+v, %v; want 3 failures, its step open", a, err)
	}
}

// TestHomeLinksTheSites: マイページ lists the configured customer sites,
// named in the page's language, and none when none is configured.
func TestHomeLinksTheSites(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.SiteLinks = []config.SiteLink{
			{Name: "申込／契約確認サイト", NameEn: "Applications and contracts", URL: "https://contracts.example.jp/"},
			{Name: "適格請求書閲覧サイト", URL: "https://invoices.example.jp/"},
		}
	})
	_, b := s.enrolled()
	r := b.get("/")
	expect(t, r, http.StatusOK, "")
	contains(t, r, "ご利用のサイト", `<a href="https://contracts.example.jp/">申込／契約確認サイト</a>`,
		`<a href="https://invoices.example.jp/">適格請求書閲覧サイト</a>`)
	b.lang = "en"
	contains(t, b.get("/"), "Your sites", `<a href="https://contracts.example.jp/">Applications and contracts</a>`,
		`<a href="https://invoices.example.jp/">適格請求書閲覧サイト</a>`)

	s = newSite(t)
	_, b = s.enrolled()
	if r := b.get("/"); strings.Contains(r.body, "ご利用のサイト") {
		t.Error("マイページ lists sites where none is configured")
	}
}

// TestRecoveryCodeSignIn: 「別の方法を試す」, the recovery code, a new code
// shown at once; the old one is spent.
func TestRecoveryCodeSignIn(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")

	b.login(c, "/login/code")
	m := b.get("/login/methods")
	expect(t, m, http.StatusOK, "")
	contains(t, m, "別の方法を試す", "認証アプリ (Google Authenticator)", "リカバリーコード", `href="/login/recovery"`)
	expect(t, b.get("/login/recovery"), http.StatusOK, "")
	r := b.post("/login/recovery", url.Values{"code": {"WRONGWRONGWRONGWRONGWRNG"}})
	expect(t, r, http.StatusUnauthorized, "")
	contains(t, r, msgWrongCode)
	// An empty 「続ける」, or what is no recovery code, is told what a code
	// looks like; it is no guess and closes nothing.
	for _, bad := range []string{"", c.recovery[:23]} {
		r = b.post("/login/recovery", url.Values{"code": {bad}})
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, "リカバリーコードは24文字の英数字です。")
	}
	expect(t, b.post("/login/recovery", url.Values{"code": {strings.ToLower(c.recovery)}}), http.StatusSeeOther, "/recovery-code")
	rc := b.get("/recovery-code")
	expect(t, rc, http.StatusOK, "")
	fresh := recoveryRe.FindStringSubmatch(rc.body)[1]
	if fresh == c.recovery {
		t.Fatal("the spent recovery code is shown again")
	}
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")

	b2 := s.browser()
	b2.login(c, "/login/code")
	expect(t, b2.post("/login/recovery", url.Values{"code": {c.recovery}}), http.StatusUnauthorized, "")
	expect(t, b2.post("/login/recovery", url.Values{"code": {fresh}}), http.StatusSeeOther, "/recovery-code")
}

// TestSessionRotatedAtSignIn: a session cookie the browser had (say, one
// planted by an attacker) is not valid after a new sign-in.
func TestSessionRotatedAtSignIn(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	victim := s.customer("sato@example.jp")
	attacker := s.browser()
	planted := attacker.enrol(c)

	b := s.browser()
	b.enrol(victim)
	b.setCookie("tobira_session", planted)
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	if s.live(planted) {
		t.Fatal("test setup: logout did not end the planted session")
	}

	// A live planted session: signing in replaces it.
	planted = attacker.signIn(c)
	b.setCookie("tobira_session", planted)
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/login", url.Values{"email": {victim.email}, "password": {victim.password}}), http.StatusSeeOther, "/login/code")
	r := b.post("/login/code", url.Values{"code": {s.code(victim)}})
	expect(t, r, http.StatusSeeOther, "/")
	got := setCookieOf(r, "tobira_session")
	if got == nil || got.Value == planted {
		t.Fatalf("the session cookie was not replaced: %+v", got)
	}
	if s.live(planted) {
		t.Error("the pre-existing session is still valid after the new sign-in")
	}
	si, err := s.svc.Session(s.ctx, got.Value)
	if err != nil || si.Account.ID != victim.acct.ID {
		t.Fatalf("new session: %v, %v", si, err)
	}
	// A made-up value is replaced as well.
	b2 := s.browser()
	b2.setCookie("tobira_session", "attacker-chosen-value")
	s.clock.Advance(30 * time.Second)
	tok := b2.signIn(victim)
	if tok == "attacker-chosen-value" || !s.live(tok) {
		t.Fatalf("session %q after sign-in with a made-up cookie", tok)
	}
}

// TestResetNeedsFreshSecondFactor: 11 minutes after sign-in the reset asks
// for the second factor first and removes nothing; after the step-up it
// removes the factors, ends the other sessions and keeps this one.
func TestResetNeedsFreshSecondFactor(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	other := s.browser()
	otherSession := other.signIn(c)

	s.clock.Advance(11 * time.Minute)
	before := b.cookie("tobira_session")
	r := b.reset(c)
	expect(t, r, http.StatusSeeOther, "/login/code")
	if len(s.methods(c)) != 2 {
		t.Fatal("a reset without a fresh second factor removed something")
	}
	if !s.live(otherSession) {
		t.Fatal("a refused reset ended another session")
	}
	code := b.get("/login/code")
	expect(t, code, http.StatusOK, "")
	contains(t, code, "セキュリティ設定を変更するため、もう一度ご本人確認をお願いします。")

	// The step-up: a wrong code first, then the right one.
	expect(t, b.post("/login/code", url.Values{"code": {s.wrongCode(c)}}), http.StatusUnauthorized, "")
	r = b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusSeeOther, "/security/reset")
	after := b.cookie("tobira_session")
	if after == before || after == "" {
		t.Fatal("the step-up did not renew the session cookie")
	}
	if s.live(before) {
		t.Fatal("the session id from before the step-up still works")
	}
	confirm := b.get("/security/reset")
	expect(t, confirm, http.StatusOK, "")
	contains(t, confirm, "二要素認証設定のリセット", "リセットする")

	r = b.reset(c)
	expect(t, r, http.StatusSeeOther, "/security")
	if ms := s.methods(c); len(ms) != 0 {
		t.Fatalf("after reset: methods %v", ms)
	}
	if s.live(otherSession) {
		t.Error("the other browser's session survived the reset")
	}
	if !s.live(after) {
		t.Fatal("the reset ended its own session")
	}
	page := b.get("/security")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "二要素認証の設定をリセットしました。", "設定されていません", "二要素認証のリセット")

	// The next sign-in enrols again.
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b.login(c, "/enrol")
}

// TestResetWhenStepUpRunsOutMeanwhile: the second factor's ten minutes
// run out between the reset's check of the session and the service's (the
// clock reads a minute later there): the customer is sent to the
// confirmation, which asks for the second factor, and nothing is reset,
// where the answer was a 500.
func TestResetWhenStepUpRunsOutMeanwhile(t *testing.T) {
	s := newSite(t).withMail()
	c, b := s.enrolled()
	other := s.browser()
	otherSession := other.signIn(c)
	s.clock.Advance(9*time.Minute + 30*time.Second)
	expect(t, b.get("/security/reset"), http.StatusOK, "")
	s.svc.Now = func() time.Time {
		if calledFrom("portal.(*Service).ResetMFAOf") {
			return s.clock.Now().Add(time.Minute)
		}
		return s.clock.Now()
	}
	mails := len(s.mailsTo(c.email))
	expect(t, b.reset(c), http.StatusSeeOther, "/security/reset")
	s.svc.Now = s.clock.Now
	if ms := s.methods(c); len(ms) != 2 {
		t.Fatalf("methods %v after a reset refused for want of a step-up", ms)
	}
	if !s.live(otherSession) {
		t.Error("a refused reset ended another session")
	}
	if evs, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 1); len(evs) == 1 && evs[0].Action == "mfa.reset" {
		t.Errorf("a refused reset was recorded: %+v", evs[0])
	}
	if n := len(s.mailsTo(c.email)); n != mails {
		t.Errorf("%d notice mails sent for a refused reset", n-mails)
	}
	// A moment later the confirmation asks for the second factor.
	s.clock.Advance(time.Minute)
	expect(t, b.get("/security/reset"), http.StatusSeeOther, "/login/code")
}

// calledFrom reports whether the function named fn (package.Func or
// package.(*Type).Method) is among its callers.
func calledFrom(fn string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "/"+fn) {
			return true
		}
		if !more {
			return false
		}
	}
}

// TestResetWithFreshSecondFactor: right after sign-in the reset goes through.
func TestResetWithFreshSecondFactor(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	s.clock.Advance(9 * time.Minute)
	expect(t, b.get("/security/reset"), http.StatusOK, "")
	expect(t, b.reset(c), http.StatusSeeOther, "/security")
	if ms := s.methods(c); len(ms) != 0 {
		t.Fatalf("methods %v", ms)
	}
	evs, _ := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 1)
	if len(evs) != 1 || evs[0].Action != "mfa.reset" || evs[0].ClientIP != "127.0.0.1" {
		t.Fatalf("last audit event %+v", evs)
	}
	// With nothing enrolled, the security page needs no step-up.
	s.clock.Advance(time.Hour)
	expect(t, b.get("/security"), http.StatusOK, "")
	expect(t, b.get("/security/reset"), http.StatusSeeOther, "/security")
}

// TestResetOfOtherFactorsRefused: a tab left open on the reset's
// confirmation while the factors were reset and set up again elsewhere
// (a new phone's app) must not remove the new ones, which its page never
// named: the security page says the settings changed, and nothing is reset.
func TestResetOfOtherFactorsRefused(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	tagRe := regexp.MustCompile(`name="factors" value="([^"]+)"`)
	tagOf := func(path string) string {
		t.Helper()
		page := b.get(path)
		expect(t, page, http.StatusOK, "")
		m := tagRe.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("%s: no factors in the reset's form:\n%s", path, page.body)
		}
		return m[1]
	}
	stale := tagOf("/security/reset")
	if dialog := tagOf("/security"); dialog != stale {
		t.Fatalf("the security page's dialog names %q, its confirmation page %q", dialog, stale)
	}
	// The other tab: reset, sign out, and set up again at the next sign-in.
	expect(t, b.post("/security/reset", url.Values{"factors": {stale}}), http.StatusSeeOther, "/security")
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	s.clock.Advance(30 * time.Second)
	b.enrol(c)
	now := s.methods(c)

	r := b.post("/security/reset", url.Values{"factors": {stale}})
	expect(t, r, http.StatusSeeOther, "/security")
	if ms := s.methods(c); !slices.Equal(ms, now) || len(ms) == 0 {
		t.Fatalf("a stale confirmation reset the new factors: %v, were %v", ms, now)
	}
	contains(t, b.get("/security"), "この画面を表示した後に変更されたため、リセットしませんでした")
	// The page as it is now resets them.
	expect(t, b.post("/security/reset", url.Values{"factors": {tagOf("/security/reset")}}), http.StatusSeeOther, "/security")
}

// TestResetOnceOnly: after 「リセットする」 the back button shows the
// confirmation page again, and a second tab still has the dialog open.
// Neither may say it removes something, nor reset again: no second audit
// event, no second notice mail; the security page says 2FA is not set.
func TestResetOnceOnly(t *testing.T) {
	s := newSite(t).withMail()
	c, b := s.enrolled()
	shown := s.tag(c)
	expect(t, b.reset(c), http.StatusSeeOther, "/security")
	notices := func() int {
		n := 0
		for _, m := range s.mailsTo(c.email) {
			if strings.Contains(m.Text, "二要素認証の設定がリセットされました。") {
				n++
			}
		}
		return n
	}
	resets := func() int {
		evs, err := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if ev.Action == store.ActionMFAReset {
				n++
			}
		}
		return n
	}
	if notices() != 1 || resets() != 1 {
		t.Fatalf("after the reset: %d notice mails, %d audit events; want 1 and 1", notices(), resets())
	}

	// The back button: the confirmation page, its second factor still fresh.
	expect(t, b.get("/security/reset"), http.StatusSeeOther, "/security")
	// The second tab's 「リセットする」.
	expect(t, b.post("/security/reset", url.Values{"factors": {shown}}), http.StatusSeeOther, "/security")
	if notices() != 1 || resets() != 1 {
		t.Errorf("a second 「リセットする」 with nothing set: %d notice mails, %d audit events; want 1 and 1", notices(), resets())
	}
	page := b.get("/security")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "設定されていません", "次回ログイン時に、二要素認証の設定画面が表示されます。")
}

// TestSecurityPageStepUp: an old second factor sends /security through a
// step-up that returns there.
func TestSecurityPageStepUp(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	expect(t, b.get("/security"), http.StatusOK, "")
	s.clock.Advance(11 * time.Minute)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	expect(t, b.get("/security"), http.StatusOK, "")
}

// TestSecurityActivityBySupport: what support staff did to the account shows
// on the security page as theirs, without the address of our network; the
// customer's own steps keep their address. The console's four-eyes steps
// between a request and its reset are not listed, and nothing is shown as
// the codes of the audit log.
func TestSecurityActivityBySupport(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	for _, ev := range []store.AuditEvent{
		{Actor: "operator:tanaka@tobira.example", Action: store.ActionResetRequest, Outcome: "ok", ClientIP: "10.9.8.1"},
		{Actor: "operator:boss@tobira.example", Action: store.ActionResetReject, Outcome: "ok", ClientIP: "10.9.8.2"},
		{Actor: "operator:tanaka@tobira.example", Action: store.ActionResetWithdraw, Outcome: "ok", ClientIP: "10.9.8.3"},
		{Actor: "operator:boss@tobira.example", Action: store.ActionResetApprove, Outcome: "outdated", ClientIP: "10.9.8.4"},
		{Actor: "operator:tanaka@tobira.example", Action: store.ActionRecoveryPropose, Outcome: "ok", ClientIP: "10.9.8.8"},
		{Actor: "operator:boss@tobira.example", Action: store.ActionRecoveryReject, Outcome: "ok", ClientIP: "10.9.8.9"},
		{Actor: "operator:tanaka@tobira.example", Action: store.ActionRecoveryWithdraw, Outcome: "ok", ClientIP: "10.9.8.10"},
		{Actor: "operator:boss@tobira.example", Action: store.ActionRecoveryApprove, Outcome: "stale", ClientIP: "10.9.8.11"},
		{Actor: "operator:tanaka@tobira.example", Action: store.ActionRecoveryApprove, Outcome: "denied", ClientIP: "10.9.8.12"},
		{Actor: "operator:boss@tobira.example", Action: store.ActionResetReject, Outcome: "denied", ClientIP: "10.9.8.13"},
		{Actor: "operator:boss@tobira.example", Action: store.ActionRecoveryApprove, Outcome: "ok", ClientIP: "10.9.8.14"},
		{Actor: "operator:boss@tobira.example", Action: store.ActionConsoleReauth, Outcome: "ok", ClientIP: "10.9.8.5"},
		{Actor: "customer", Action: store.ActionPhoneSend, Outcome: "some_new_outcome", ClientIP: "192.0.2.7"},
		{Actor: "operator:kim@tobira.example", Action: store.ActionMFAReset, Outcome: "ok", ClientIP: "10.9.8.7"},
		{Actor: "operator:kim@tobira.example", Action: store.ActionAccountUnlock, Outcome: "ok", ClientIP: "10.9.8.6"},
	} {
		ev.At, ev.AccountID = s.clock.Now(), c.acct.ID
		if err := s.svc.Store.AppendAudit(s.ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	page := b.get("/security")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "<td>二要素認証のリセット (担当者)</td><td>サポート担当者</td>",
		"<td>アカウントのロック解除 (担当者)</td><td>サポート担当者</td>", "<td>ログイン</td><td>",
		"<td>二要素認証のリセットの受付 (担当者)</td><td>サポート担当者</td>",
		"<td>二要素認証のリセットの取りやめ (担当者)</td><td>サポート担当者</td>",
		"<td>二要素認証のリセットの取り下げ (担当者)</td><td>サポート担当者</td>",
		"<td>復旧の申請の早期承認 (担当者)</td><td>サポート担当者</td>",
		"<td>その他の記録</td><td>192.0.2.7</td>")
	if strings.Contains(page.text(), "10.9.8.") {
		t.Error("the security page shows the address support staff acted from")
	}
	for _, code := range []string{"mfa.", "phone.", "console.", "outdated", "some_new_outcome"} {
		if strings.Contains(page.text(), code) {
			t.Errorf("the security page shows the audit log's code %q", code)
		}
	}
	// The reset's approval, the early recovery's proposal, rejection and
	// withdrawal, the console's own record and staff's refused steps, had
	// they been listed, would have no text of their own.
	if n := strings.Count(page.text(), "その他の記録"); n != 1 {
		t.Errorf("%d rows of other activity, want 1\n%s", n, page.text())
	}
	// The ten newest rows shown, though more events are listed and some
	// of the newest are skipped.
	_, activity, _ := strings.Cut(page.body, `id="activity-heading"`)
	if n := strings.Count(activity, "</td></tr>"); n != 10 {
		t.Errorf("%d rows of activity, want the 10 newest", n)
	}
}

// crossOrigin are the headers of a form posted from another site: the
// browser's Sec-Fetch-Site (another site, or another host of the same
// site), or an Origin when it sends no Sec-Fetch-Site.
var crossOrigin = [][]string{
	{"Sec-Fetch-Site", "cross-site"},
	{"Sec-Fetch-Site", "same-site"},
	{"Origin", "https://evil.example"},
}

// TestCrossOriginPost: a form posted from another site is refused and
// changes nothing.
func TestCrossOriginPost(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	session := b.enrol(c)
	for _, h := range crossOrigin {
		r := b.reset(c, h...)
		expect(t, r, http.StatusForbidden, "")
		contains(t, r, "他のサイトからの送信は受け付けられません。")
		if ms := s.methods(c); len(ms) != 2 {
			t.Fatalf("%v: a cross-site reset removed factors", h)
		}
		expect(t, b.post("/logout", nil, h...), http.StatusForbidden, "")
		if !s.live(session) {
			t.Fatalf("%v: a cross-site logout ended the session", h)
		}
		r = b.post("/login", url.Values{"email": {c.email}, "password": {c.password}}, h...)
		expect(t, r, http.StatusForbidden, "")
		if setCookieOf(r, "tobira_flow") != nil {
			t.Fatalf("%v: a cross-site login started a flow", h)
		}
		expect(t, b.post("/lang", url.Values{"lang": {"en"}}, h...), http.StatusForbidden, "")
	}
	// The same site's own forms pass.
	expect(t, b.reset(c, "Sec-Fetch-Site", "same-origin"), http.StatusSeeOther, "/security")
}

func TestActivation(t *testing.T) {
	s := newSite(t)
	a, link, err := s.svc.OpenAccount(s.ctx, "new@example.jp", "新規 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")
	b := s.browser()
	page := b.get("/activate?token=" + url.QueryEscape(token))
	expect(t, page, http.StatusOK, "")
	contains(t, page, "パスワードの設定", "新規 花子", `autocomplete="new-password"`, `autocomplete="username"`)

	for _, tc := range []struct {
		pw, confirm, msg string
	}{
		{"correct horse battery", "correct horse batterx", "確認用のパスワードが一致しません。"},
		{"short", "short", "パスワードは10文字以上にしてください。"},
		{"new@example.jp", "new@example.jp", "メールアドレスと同じパスワードは使用できません。"},
		{"password123", "password123", "よく使われているパスワードや推測されやすいパスワード"},
	} {
		r := b.post("/activate", url.Values{"token": {token}, "password": {tc.pw}, "confirm": {tc.confirm}})
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, tc.msg)
	}
	r := b.post("/activate", url.Values{"token": {token}, "password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	expect(t, r, http.StatusSeeOther, "/login?e=activated")
	contains(t, b.get("/login?e=activated"), "パスワードを設定しました。")
	// Single use.
	r = b.post("/activate", url.Values{"token": {token}, "password": {"another password!"}, "confirm": {"another password!"}})
	expect(t, r, http.StatusNotFound, "")
	contains(t, r, "このリンクは無効か、有効期限が切れているか、すでに使用されています。")
	// The activation mail again, its first link opened again (manual I:
	// 「開通メールに記載の URL にアクセス」): the customer is sent to sign in,
	// not to support, which only someone without a password needs.
	again := b.get("/activate?token=" + url.QueryEscape(token))
	expect(t, again, http.StatusNotFound, "")
	contains(t, again, "パスワードを設定済みの場合は、ログイン画面からログインしてください。まだ設定していない場合は、サポート窓口にリンクの再発行をご依頼ください。")
	b.lang = "en"
	contains(t, b.get("/activate?token="+url.QueryEscape(token)), "If you have set your password, sign in on the sign-in page. If not, please ask our support desk for a new link.")
	b.lang = ""
	b.login(&customer{email: a.Email, password: "correct horse battery"}, "/enrol")

	// Expired after 72 h.
	_, link2, _ := s.svc.OpenAccount(s.ctx, "late@example.jp", "遅 太郎", "operator:test")
	u2, _ := url.Parse(link2)
	s.clock.Advance(72 * time.Hour)
	expect(t, b.get("/activate?"+u2.RawQuery), http.StatusNotFound, "")
	expect(t, b.get("/activate"), http.StatusNotFound, "")
}

func TestLogout(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	tok := b.enrol(c)
	r := b.post("/logout", nil)
	expect(t, r, http.StatusSeeOther, "/login?e=signedout")
	if sc := setCookieOf(r, "tobira_session"); sc == nil || sc.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", sc)
	}
	if s.live(tok) {
		t.Fatal("the session lives after logout")
	}
	contains(t, b.get("/login?e=signedout"), "ログアウトしました。")
	// Logging out without a session is harmless.
	expect(t, s.browser().post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
}

// TestLogoutWhenTheSessionCannotBeRead: a ログアウト whose session the
// database does not give says it failed, keeps the cookie and ends
// nothing, rather than 「ログアウトしました」 with the session and its sites
// still signed in; the next try signs out.
func TestLogoutWhenTheSessionCannotBeRead(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	tok := b.enrol(c)
	real := s.svc.Store
	s.svc.Store = unreadableSessions{real}
	r := b.post("/logout", nil)
	s.svc.Store = real
	expect(t, r, http.StatusInternalServerError, "")
	if sc := setCookieOf(r, "tobira_session"); sc != nil {
		t.Errorf("a failed logout changed the cookie: %+v", sc)
	}
	if !s.live(tok) {
		t.Fatal("the session ended though the logout failed")
	}
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	if s.live(tok) {
		t.Fatal("the session lives after the second logout")
	}
}

// unreadableSessions is a store that cannot read sessions.
type unreadableSessions struct{ store.Store }

func (unreadableSessions) SignedInAs(context.Context, string) (*store.Session, *store.Account, error) {
	return nil, nil, errors.New("the database is unreachable")
}

// TestSessionExpiresOnServer: the server, not the cookie's Max-Age, decides
// when a session ends.
func TestSessionExpiresOnServer(t *testing.T) {
	s := newSite(t)
	_, b := s.enrolled()
	expect(t, b.get("/"), http.StatusOK, "")
	s.clock.Advance(s.svc.Config.SessionTTL.Duration)
	// The browser is told its sign-in has ended, once: the cookie that
	// names no session goes with the redirect.
	r := b.get("/")
	expect(t, r, http.StatusSeeOther, "/login?next=%2F&e=ended")
	if sc := setCookieOf(r, "tobira_session"); sc == nil || sc.MaxAge >= 0 {
		t.Errorf("the ended session's cookie was not cleared: %+v", sc)
	}
	contains(t, b.get("/login?next=%2F&e=ended"), "ログインが終了しています。有効期限が切れたか、ほかの端末での操作でログアウトされました。")
	expect(t, b.get("/"), http.StatusSeeOther, "/login?next=%2F")
}

// TestLoginBusy: with the one hashing slot taken and the one place in its
// queue too, the next sign-in is told at once that the service is busy, with
// Retry-After, and its attempt is not counted.
func TestLoginBusy(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.HashConcurrency, c.HashQueue = 1, 1
		// A slow hash holds the slot while the others arrive; the one
		// waiting outlasts it however slow the machine is.
		c.Argon2 = account.Argon2Params{MemoryKiB: 64 * 1024, Time: 30, Threads: 1}
		c.HashQueueWait = config.Duration{Duration: 5 * time.Minute}
	})
	c := s.customer("yamada@example.jp")
	var wg sync.WaitGroup
	for range 2 { // one hashing, one waiting
		wg.Go(func() {
			s.browser().post("/login", url.Values{"email": {c.email}, "password": {"wrong password"}})
		})
	}
	for s.svc.Hasher.Waiting() < 1 {
		time.Sleep(time.Millisecond)
	}
	r := s.browser().post("/login", url.Values{"email": {c.email}, "password": {c.password}})
	expect(t, r, http.StatusServiceUnavailable, "")
	contains(t, r, "ただいま大変混み合っています。少し待ってから、もう一度お試しください。", `value="yamada@example.jp"`)
	if got := r.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	wg.Wait()
	// Two wrong passwords were counted; the refused attempt was not.
	n, err := s.svc.Store.Hit(s.ctx, "pw:email:"+secret.Hash(c.email), s.svc.Config.PasswordWindow.Duration, s.clock.Now(), 0)
	if err != nil || n != 2 {
		t.Fatalf("attempts counted = %d, %v; want 2", n, err)
	}
}

// TestLockedAtTheCodeStep: an operator locks the account while its owner is
// at the code step: the right code gets the locked-account message, no
// session, and the flow is gone.
func TestLockedAtTheCodeStep(t *testing.T) {
	s, c, b := atCodeStep(t)
	a, err := s.svc.Store.AccountByEmail(s.ctx, c.email)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.svc.LockAccount(s.ctx, &store.AccountLock{AccountID: a.ID, LockedBy: "operator:kim", At: s.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	r := b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusForbidden, "")
	contains(t, r, "このアカウントは現在ご利用いただけません。")
	if setCookieOf(r, "tobira_session") != nil {
		t.Fatal("a locked account got a session")
	}
	if fc := setCookieOf(r, "tobira_flow"); fc == nil || fc.MaxAge >= 0 {
		t.Errorf("the flow cookie was not cleared: %v", fc)
	}
}

const msgCodeFormat = "6桁の数字を入力してください。"

// fullWidth writes a code's digits as a Japanese input method gives them.
func fullWidth(code string) string {
	return strings.Map(func(r rune) rune { return r - '0' + '０' }, code)
}

// TestCodeFieldsAsCustomersTypeThem: the app's code fields take a code in
// full-width digits or in two groups (no maxlength of 6 to cut "320 014"),
// and answer input that is no six-digit code with what to type, as a 400
// that counts nothing.
func TestCodeFieldsAsCustomersTypeThem(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.login(c, "/enrol")
	page := b.get("/enrol")
	c.seed = strings.ReplaceAll(secretRe.FindStringSubmatch(page.body)[1], " ", "")
	field := inputTag(t, page, "input", "code")
	hasAttrs(t, field, `inputmode="numeric"`, `autocomplete="one-time-code"`, `maxlength="20"`)
	if strings.Contains(field, "pattern=") {
		t.Errorf("%s: a pattern of ASCII digits refuses full-width ones", field)
	}

	r := b.post("/enrol", url.Values{"code": {"12345"}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, msgCodeFormat, "2要素認証の設定")
	if m := secretRe.FindStringSubmatch(r.body); m == nil || strings.ReplaceAll(m[1], " ", "") != c.seed {
		t.Fatal("the enrolment page after a malformed code shows another key")
	}
	code := s.code(c)
	expect(t, b.post("/enrol", url.Values{"code": {fullWidth(code[:3]) + "　" + fullWidth(code[3:])}}), http.StatusSeeOther, "/recovery-code")
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")

	s.clock.Advance(30 * time.Second)
	b.login(c, "/login/code")
	hasAttrs(t, inputTag(t, b.get("/login/code"), "input", "code"), `inputmode="numeric"`, `maxlength="20"`)
	code = s.code(c)
	for _, bad := range []string{code[:3] + " " + code[3:5], "abcdef", code + "1"} {
		r = b.post("/login/code", url.Values{"code": {bad}})
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, msgCodeFormat, "ワンタイムパスワードの入力")
	}
	b.lang = "en"
	contains(t, b.post("/login/code", url.Values{"code": {"１２３"}}), "Enter the six digits of the code.")
	if a, _ := s.svc.Store.AccountByEmail(s.ctx, c.email); a.MFAFailures != 0 {
		t.Fatalf("malformed codes counted %d failures", a.MFAFailures)
	}
	expect(t, b.post("/login/code", url.Values{"code": {code[:3] + " " + code[3:]}}), http.StatusSeeOther, "/")
}

// TestRecoveryScreenCookieIsFlowTTL: the enrolment's hour is for
// installing the app; the recovery code's screen, and its flow cookie,
// last flow_ttl from the enrolment, after which the code is no longer
// shown in that browser.
func TestRecoveryScreenCookieIsFlowTTL(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolling()
	page := b.get("/enrol")
	m := secretRe.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("enrolment page shows no key:\n%s", page.body)
	}
	c.seed = strings.ReplaceAll(m[1], " ", "")
	r := b.post("/enrol", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusSeeOther, "/recovery-code")
	if fc := setCookieOf(r, "tobira_flow"); fc == nil || fc.MaxAge != 900 {
		t.Errorf("the recovery screen's flow cookie: %+v, want Max-Age 900 (flow_ttl)", fc)
	}
	s.clock.Advance(15 * time.Minute)
	expect(t, b.get("/recovery-code"), http.StatusSeeOther, "/login?e=expired")
}
