package e2e

// More journeys around the manual's: the activation mail's link, English,
// the error screens, and a phone. Like manual_test.go they take a
// screenshot of every screen (output/4N-*.png, N the journey) and run
// axe-core on it.

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	suzukiEmail = "suzuki@example.jp"
	suzukiName  = "鈴木 一郎"
)

// TestActivationJourney is the activation mail (開通メール): the customer
// opens its link, sets the first password (after two mistakes), signs in,
// enrols the authenticator app at the first sign-in, and later finds that the
// link works only once.
func TestActivationJourney(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	link := d.activationLink(t, suzukiEmail)
	if !strings.HasPrefix(link, d.URL+"/activate?token=") {
		t.Fatalf("the activation link %q is not on the portal %s", link, d.URL)
	}
	p := newBrowser(t, d.URL, axe)

	// The link opens 「パスワードの設定」 for Suzuki, with the rule.
	p.navigation(chromedp.Navigate(link), "/activate", "パスワードの設定")
	p.expectText(`//main//p[contains(., "` + suzukiName + ` 様") and contains(., "10文字以上")]`)
	p.expectNewPasswordFields()
	p.screen("41-1-activate")

	// The two passwords differ.
	p.typeInto("新しいパスワード", "tobira-suzuki-1")
	p.typeInto("新しいパスワード (確認)", "tobira-suzuki-2")
	p.navigationStatus(chromedp.Click(button("続ける")), 400, "/activate", "パスワードの設定")
	p.expectAlert("確認用のパスワードが一致しません。")
	p.expectNewPasswordFields()
	p.screen("41-2-activate-mismatch")

	// Too short: the message gives the rule.
	p.typeInto("新しいパスワード", "short-1")
	p.typeInto("新しいパスワード (確認)", "short-1")
	p.navigationStatus(chromedp.Click(button("続ける")), 400, "/activate", "パスワードの設定")
	p.expectText(`//p[@role="alert" and contains(., "10文字以上")]`)
	p.screen("41-3-activate-too-short")

	// A good one: the login page says so.
	const password = "suzuki-tobira-2024"
	p.typeInto("新しいパスワード", password)
	p.typeInto("新しいパスワード (確認)", password)
	p.clickTo(button("続ける"), "/login", "ログイン")
	p.expectText(`//p[@role="status" and normalize-space()="パスワードを設定しました。ログインしてください。"]`)
	p.screen("41-4-login-after-activation")

	// The first sign-in enrols a second factor.
	p.signIn(suzukiEmail, password, "/enrol", "2要素認証の設定")
	p.screen("41-5-enrol")
	secret := p.enrolmentSecret(suzukiEmail)
	p.typeInto("ワンタイムコードの入力", oathtool(t, secret))
	p.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	p.screen("41-6-recovery-code")
	p.recoveryScreen(true)
	p.expectText(`//main//p[contains(., "` + suzukiName + ` 様")]`)
	p.screen("41-7-mypage")

	// The link again: spent.
	p.navigationStatus(chromedp.Navigate(link), 404, "/activate", "このリンクは使用できません")
	p.expectText(`//p[@role="alert" and starts-with(normalize-space(), "このリンクは無効か")]`)
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("input[type=password]").length`)); n != 0 {
		t.Errorf("the spent activation link still shows %d password field(s)", n)
	}
	p.screen("41-8-activate-link-spent")
}

// TestEnglish is a customer who reads English: a browser that asks for it
// gets it; a Japanese browser gets it with the header's 「English」 switch,
// which sticks across pages until 「日本語」 switches back.
func TestEnglish(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)

	// A browser that asks for English.
	en := newBrowser(t, d.URL, axe)
	en.acceptLanguage("en")
	en.lang = "en"
	en.open("/login", "Sign in")
	waitVisible(en, button("Continue"))
	waitVisible(en, field("Email address"))
	waitVisible(en, field("Password"))
	en.expectText(`//header//button[normalize-space()="日本語" and @lang="ja"]`)
	en.screen("42-1-login-en-browser")

	// A Japanese browser switches with the header's button.
	p := newBrowser(t, d.URL, axe)
	p.open("/login", "ログイン")
	p.expectText(`//header//button[normalize-space()="English" and @lang="en"]`)
	p.lang = "en"
	p.clickTo(button("English"), "/login", "Sign in")
	waitVisible(p, button("Continue"))
	p.screen("42-2-login-switched")

	// The choice sticks: the whole sign-in is in English.
	p.typeInto("Email address", yamadaEmail)
	p.typeInto("Password", yamadaPassword)
	p.clickTo(button("Continue"), "/enrol", "Set up two-step verification")
	p.screen("42-3-enrol-en")
	secret := p.enrolmentSecret(yamadaEmail)
	p.typeInto("One-time code", oathtool(t, secret))
	p.clickTo(button("Continue"), "/recovery-code", "Almost done.")
	p.expectText(`//p[normalize-space()="Copy your recovery code and keep it somewhere safe. You will need it to sign in without your device."]`)
	waitVisible(p, button("Copy code"))
	if code := strings.TrimSpace(run(p, chromedp.Text(chromedp.ID("recovery-code")))); !recoveryCodeRE.MatchString(code) {
		t.Errorf("the recovery code %q is not 24 characters of the recovery alphabet", code)
	}
	p.screen("42-4-recovery-code-en")
	p.do(chromedp.Click(chromedp.Search(`//label[normalize-space()="I have recorded the code safely"]`)))
	p.clickTo(button("Continue"), "/", "My page")
	p.expectText(`//main//p[contains(., "Welcome, ` + yamadaName + `.")]`)
	p.screen("42-5-mypage-en")
	p.open("/security", "Security")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓ Set up"]`)
	p.screen("42-6-security-en")

	// 「日本語」 switches back, on this page and the next.
	p.lang = "ja"
	p.clickTo(button("日本語"), "/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	p.screen("42-7-security-ja-again")
	p.open("/", "マイページ")

	// The mails: the enrolment's notice, from the English sign-in, is in
	// English; the switch back, signed in, makes the notice of a reset an
	// operator then does Japanese.
	d.waitMail(t, yamadaEmail, "the English notice of the enrolment", func(m demoMail) bool {
		return strings.Contains(m.Text, "Two-step verification was set up.") && m.Subject == "[Tobira] Security notice"
	})
	d.operator(t, "users", "reset-2fa", "--email", yamadaEmail, "--data", d.data)
	m := d.waitMail(t, yamadaEmail, "the notice of the operator's reset", func(m demoMail) bool {
		return strings.Contains(m.Text, "Two-step verification was reset.") || strings.Contains(m.Text, "二要素認証の設定がリセットされました。")
	})
	if m.Subject != "【Tobira】セキュリティに関するお知らせ" || !strings.Contains(m.Text, "操作した人: サポート担当者") {
		t.Errorf("the notice of the operator's reset after switching back to Japanese: %q\n%s", m.Subject, m.Text)
	}
}

// TestErrorScreens checks what the customer reads when something goes wrong:
// a wrong password or address, a missing page, a wrong code, a replayed code,
// and the lock after ten wrong codes. It ends with Sato's second factor
// locked for an hour, on this test's own demo.
func TestErrorScreens(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	p := newBrowser(t, d.URL, axe)

	// A wrong password: the message, and the address stays typed.
	const badCredentials = "メールアドレスまたはパスワードが正しくありません。"
	p.open("/login", "ログイン")
	p.typeInto("メールアドレス", satoEmail)
	p.typeInto("パスワード", "not-her-password")
	p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login", "ログイン")
	p.expectAlert(badCredentials)
	p.expectEmailField(satoEmail)
	p.screen("43-1-wrong-password")

	// An unknown address: exactly the same.
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""`))
	p.typeInto("メールアドレス", "nobody@example.jp")
	p.typeInto("パスワード", satoPassword)
	p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login", "ログイン")
	p.expectAlert(badCredentials)
	p.expectEmailField("nobody@example.jp")
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("[role=alert]").length`)); n != 1 {
		t.Errorf("the login page shows %d alerts, want 1", n)
	}
	p.screen("43-2-unknown-email")

	// A page that does not exist.
	p.navigationStatus(chromedp.Navigate(d.URL+"/no-such-page"), 404, "/no-such-page", "ページが見つかりません")
	p.expectAlert("お探しのページは見つかりませんでした。アドレスに誤りがないかお確かめください。")
	waitVisible(p, link("トップページへ"))
	p.screen("43-3-not-found")

	// A wrong code, then the right one.
	p.open("/login", "ログイン")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", wrongCode(t, key))
	p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login/code", "ワンタイムパスワードの入力")
	p.expectAlert("コードが正しくありません。もう一度お試しください。")
	p.screen("43-4-wrong-code")
	// Five digits are no guess: what to type, counted nowhere.
	p.typeInto("ワンタイムコードの入力", "12345")
	p.navigationStatus(chromedp.Click(button("続ける")), 400, "/login/code", "ワンタイムパスワードの入力")
	p.expectAlert("6桁の数字を入力してください。")
	p.screen("43-4-code-format")
	// The right code as an input method types it, in full-width digits,
	// and in two groups as the app shows it: the field cuts none of it.
	used := oathtool(t, key)
	p.typeInto("ワンタイムコードの入力", strings.Map(func(r rune) rune { return r - '0' + '０' }, used[:3])+" "+used[3:])
	p.clickTo(button("続ける"), "/", "マイページ")
	p.hoverAccountMenu(satoName)
	p.clickTo(button("ログアウト"), "/login", "ログイン")

	// The same code again, at once: a replay, refused, with what to do. The
	// next step's code is accepted (it is after the stored step and within
	// the window).
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", used)
	p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login/code", "ワンタイムパスワードの入力")
	p.expectAlert("このコードは使用済みです。アプリに次のコードが表示されるまでお待ちください。")
	p.screen("43-5-replayed-code")
	p.typeInto("ワンタイムコードの入力", oathtool(t, key, "-N", "now + 30 seconds"))
	p.clickTo(button("続ける"), "/", "マイページ")
	p.hoverAccountMenu(satoName)
	p.clickTo(button("ログアウト"), "/login", "ログイン")

	// Ten wrong codes in a row close the step for an hour; the tenth says
	// until when.
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	bad := wrongCode(t, key)
	for i := 1; i <= 9; i++ {
		p.typeInto("ワンタイムコードの入力", bad)
		p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login/code", "ワンタイムパスワードの入力")
		p.expectAlert("コードが正しくありません。もう一度お試しください。")
	}
	start := time.Now()
	p.typeInto("ワンタイムコードの入力", bad)
	p.navigationStatus(chromedp.Click(button("続ける")), 429, "/login/code", "ワンタイムパスワードの入力")
	p.expectText(`//p[@role="alert" and starts-with(normalize-space(), "誤ったコードの入力が続いたため")]`)
	msg := run(p, chromedp.Text(chromedp.ID("form-error")))
	checkLockTime(t, msg, start.Add(time.Hour))
	p.screen("43-6-locked")

	// While closed, even the right code is refused with the same message.
	p.typeInto("ワンタイムコードの入力", oathtool(t, key))
	p.navigationStatus(chromedp.Click(button("続ける")), 429, "/login/code", "ワンタイムパスワードの入力")
	if again := run(p, chromedp.Text(chromedp.ID("form-error"))); again != msg {
		t.Errorf("a code sent while locked gets\n  %q\nnot the lock message\n  %q", again, msg)
	}
}

// TestMobile is a customer on a phone (390x844, touch): the sign-in and
// enrolment fit the screen's width, and a tap on the account icon opens the
// menu and a second tap closes it.
func TestMobile(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	p := newBrowser(t, d.URL, axe)
	p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))

	p.open("/login", "ログイン")
	if w := run(p, chromedp.Evaluate[int](`window.innerWidth`)); w != 390 {
		t.Fatalf("the phone's viewport is %d CSS pixels wide, want 390", w)
	}
	p.phoneScreen("44-1-login")
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")
	p.phoneScreen("44-2-enrol")
	secret := p.enrolmentSecret(yamadaEmail)
	p.typeInto("ワンタイムコードの入力", oathtool(t, secret))
	p.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	p.phoneScreen("44-3-recovery-code")
	p.recoveryScreen(true)
	p.phoneScreen("44-4-mypage")

	// A tap on the account icon opens the menu.
	if p.menuVisible() {
		t.Fatal("the account menu shows before the icon is tapped")
	}
	p.tap(`[data-account-button]`)
	p.checkMenu(yamadaName)
	p.phoneScreen("44-5-account-menu")

	// A second tap closes it.
	p.tap(`[data-account-button]`)
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => {
		const m = document.getElementById("account-menu");
		return getComputedStyle(m).display === "none";
	})()`)); err != nil {
		why := run(p, chromedp.Evaluate[string](`(() => {
			const a = document.querySelector("[data-account-menu]");
			return "class=" + JSON.stringify(a.className) + ", focus-within=" + a.matches(":focus-within") +
				", hover=" + a.matches(":hover") + ", aria-expanded=" + document.querySelector("[data-account-button]").getAttribute("aria-expanded");
		})()`))
		t.Errorf("a second tap on the account icon does not close the menu (%s): app.js removes the class \"open\", "+
			"but the tap left the focus on the icon and style.css shows the menu for .account:focus-within (and :hover)", why)
		p.screen("44-6-account-menu-second-tap")
	} else {
		if exp := run(p, chromedp.Evaluate[string](`document.querySelector("[data-account-button]").getAttribute("aria-expanded")`)); exp != "false" {
			t.Errorf("the account menu closed but its button says aria-expanded=%q", exp)
		}
		p.phoneScreen("44-6-account-menu-closed")
	}
}

// ---------------------------------------------------------------------------
// Helpers of these journeys

var activationLine = regexp.MustCompile(`(?m)^\s*\S+ \S+\s+(\S+@\S+)\s+パスワード未設定 / no password yet: (\S+)\s*$`)

// activationLink is the link of the activation mail the demo printed for the
// customer with this address.
func (d *demo) activationLink(t *testing.T, email string) string {
	t.Helper()
	out := d.stdout.String()
	for _, m := range activationLine.FindAllStringSubmatch(out, -1) {
		if m[1] == email {
			return m[2]
		}
	}
	t.Fatalf("the demo printed no activation link for %s:\n%s", email, out)
	return ""
}

// acceptLanguage makes the browser ask for this language.
func (p *page) acceptLanguage(lang string) {
	p.t.Helper()
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang},
		})
		return err
	}))
}

// expectAlert waits for the page's error, announced as an alert, with
// exactly this text.
func (p *page) expectAlert(msg string) {
	p.t.Helper()
	p.expectText(`//p[@role="alert" and normalize-space()="` + msg + `"]`)
}

// expectEmailField checks that the login's address field holds this address
// and points to the error that describes it.
func (p *page) expectEmailField(want string) {
	p.t.Helper()
	if got := run(p, chromedp.Evaluate[string](`document.getElementById("email").value`)); got != want {
		p.t.Errorf("after the failed sign-in the email field holds %q, want the typed %q", got, want)
	}
	if got := run(p, chromedp.Evaluate[string](`document.getElementById("email").getAttribute("aria-describedby") || ""`)); got != "form-error" {
		p.t.Errorf("the email field's aria-describedby is %q, want form-error", got)
	}
}

// expectNewPasswordFields checks the activation form: two empty password
// fields a password manager knows to fill with a new password.
func (p *page) expectNewPasswordFields() {
	p.t.Helper()
	for _, label := range []string{"新しいパスワード", "新しいパスワード (確認)"} {
		waitVisible(p, field(label))
		js := fmt.Sprintf(`(() => {
			const l = document.evaluate('//label[normalize-space()=%q]', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
			const f = document.getElementById(l.htmlFor);
			return f.type + " " + f.autocomplete + " " + JSON.stringify(f.value);
		})()`, label)
		if got := run(p, chromedp.Evaluate[string](js)); got != `password new-password ""` {
			p.t.Errorf("「%s」 is (type, autocomplete, value) %s, want password new-password \"\"", label, got)
		}
	}
}

// wrongCode is a six-digit code the authenticator would not show now, nor
// within two steps either side.
func wrongCode(t *testing.T, key string) string {
	t.Helper()
	near := map[string]bool{}
	for _, off := range []string{"now - 60 seconds", "now - 30 seconds", "now", "now + 30 seconds", "now + 60 seconds"} {
		near[oathtool(t, key, "-N", off)] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

var lockTimeRE = regexp.MustCompile(`([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日 ([0-9]{1,2}):([0-9]{2})`)

// checkLockTime checks that the lock message says until when, in Japan's
// time, about when it should.
func checkLockTime(t *testing.T, msg string, want time.Time) {
	t.Helper()
	m := lockTimeRE.FindStringSubmatch(msg)
	if m == nil {
		t.Errorf("the lock message gives no date and time (年, 月, 日, hh:mm): %q", msg)
		return
	}
	n := make([]int, 5)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	jst := time.FixedZone("JST", 9*3600)
	got := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], 0, 0, jst)
	// The message shows minutes; allow for them and for the test's pace.
	if d := got.Sub(want); d < -2*time.Minute || d > 2*time.Minute {
		t.Errorf("the lock message says until %s (JST), want about %s", got.Format(time.DateTime), want.In(jst).Format(time.DateTime))
	}
}

// phoneScreen is screen on the phone, which also checks that the page does
// not scroll sideways.
func (p *page) phoneScreen(name string) {
	p.t.Helper()
	p.screen(name)
	type widths struct {
		Scroll int    `json:"scroll"`
		Inner  int    `json:"inner"`
		Widest string `json:"widest"`
	}
	w := run(p, chromedp.Evaluate[widths](`(() => {
		let widest = "", right = window.innerWidth;
		for (const e of document.querySelectorAll("body *")) {
			const r = e.getBoundingClientRect();
			if (r.width > 0 && r.right > right) { right = r.right; widest = e.outerHTML.slice(0, 120); }
		}
		return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, widest};
	})()`))
	if w.Scroll > w.Inner {
		p.t.Errorf("%s scrolls sideways on the phone: the page is %d pixels wide in a %d-pixel viewport (widest: %s)", name, w.Scroll, w.Inner, w.Widest)
	}
}

// tap touches the middle of the element with a finger, as on a phone: a
// touchstart and a touchend, from which the browser makes the pointer, mouse,
// focus and click events a phone's browser makes. (Input.synthesizeTapGesture
// makes no click in headless Chromium.)
func (p *page) tap(css string) {
	p.t.Helper()
	type point struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	}
	c := run(p, chromedp.Evaluate[point](fmt.Sprintf(`(() => {
		const r = document.querySelector(%q).getBoundingClientRect();
		return {x: r.left + r.width / 2, y: r.top + r.height / 2};
	})()`, css)))
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{
			Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: []*input.TouchPoint{{X: c.X, Y: c.Y}},
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{
			Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{},
		})
		return err
	}))
}
