// Package e2e holds the browser tests: headless Chromium follows the customer
// manual (../shared/seed/2fa-reset-manual.ja.txt) step by step against the
// real demo, takes a screenshot of every screen into e2e/output/, runs axe-core
// on every screen, and checks the QR code and the codes with zbarimg and
// oathtool, as a customer's phone would.
//
// They run when TOBIRA_E2E=1 or CI=true (./scripts/test.sh sets it); then a
// missing browser or tool is a failure, never a skip.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tobira/tobira/internal/app"
	"github.com/tobira/tobira/internal/testkit"
)

const (
	chromiumPath = "/usr/bin/chromium"
	axePath      = "node_modules/axe-core/axe.min.js" // relative to e2e/, the test's working directory
	outputDir    = "output"
	// browserTimeout bounds each browser, so a hang fails the test instead of
	// stalling it; each step has its own bound below. A browser visiting
	// every console page at a phone's width took 3 minutes on a machine
	// whose cores other work was taking.
	browserTimeout = 10 * time.Minute
	// stepTimeout bounds each step (an action, a wait, a page load).
	stepTimeout = 20 * time.Second
	// checkTimeout bounds a full-page screenshot and an axe-core run, which
	// on a long page (the console's audit log, 200 rows) took more than a
	// step's bound when the machine's cores were taken by other work.
	checkTimeout = time.Minute
)

// The demo's customers (internal/app/demo.go).
const (
	yamadaEmail    = "yamada@example.jp"
	yamadaPassword = "tobira-demo-1"
	yamadaName     = "山田 太郎"
	satoEmail      = "sato@example.jp"
	satoPassword   = "tobira-demo-2"
	satoName       = "佐藤 花子"
)

// ---------------------------------------------------------------------------
// The journeys

// TestManualJourney follows manual 2. (I–X) with the mouse, as a customer who
// reads the manual: first sign-in with enrolment (X), then the reset (I–VIII)
// and the enrolment again at the next sign-in (IX).
func TestManualJourney(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	p := newBrowser(t, d.URL, axe)

	// I. The login screen: メールアドレス, パスワード, 「続ける」.
	p.open("/login", "ログイン")
	p.screen("01-login")
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")

	// X. First sign-in: the enrolment screen with the QR code.
	p.screen("02-enrol-qr")
	secret := p.enrolmentSecret(yamadaEmail)
	// The back button at the QR code, and the sign-in again (the app may
	// have scanned the code already): the same key.
	p.backFresh("/login", "ログイン")
	// The browser may have kept what was typed: type it afresh.
	p.do(chromedp.Evaluate[chromedp.Void](`for (const i of document.querySelectorAll("#email, #password")) i.value = ""`))
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")
	if again := p.enrolmentSecret(yamadaEmail); again != secret {
		t.Errorf("X. signing in again after the back button showed another key (%s, then %s): the app that scanned the first gives wrong codes", secret, again)
	}
	// X. V. The six digits the app shows go into 「ワンタイムコードの入力」.
	p.typeInto("ワンタイムコードの入力", oathtool(t, secret))
	p.clickTo(button("続ける"), "/recovery-code", "あと少しです。")

	// X. VI. The recovery code, 「コードを安全に記録しました」, 「続ける」.
	p.screen("03-recovery-code")
	code := p.recoveryScreen(true)
	t.Logf("recovery code shown: %s", code)
	// 「このタイミングでしか確認できない」: the back button does not bring
	// the code back from the browser's memory; the portal, asked again,
	// sends the signed-in customer to my page.
	p.backFresh("/", "マイページ")
	if strings.Contains(p.bodyText(), code) {
		t.Error("X. VI. the back button shows the recovery code again")
	}

	// X. VII. Signed in: the my page.
	p.screen("04-mypage")
	p.expectText(`//main//p[contains(., "` + yamadaName + ` 様")]`)
	// It links to the demo's two sites, where they listen.
	for name, url := range map[string]string{"申込／契約確認サイト": d.ContractsURL + "/", "適格請求書閲覧サイト": d.InvoicesURL + "/"} {
		p.expectText(`//main//nav//a[normalize-space()="` + name + `" and @href="` + url + `"]`)
	}

	// The account icon at the top right; hovering it opens the menu.
	p.hoverAccountMenu(yamadaName)
	p.screen("05-account-menu")
	p.clickTo(button("ログアウト"), "/login", "ログイン")
	p.expectText(`//p[@role="status" and normalize-space()="ログアウトしました。"]`)

	// I–II. Sign in again: email and password, then the app's code.
	p.signIn(yamadaEmail, yamadaPassword, "/login/code", "ワンタイムパスワードの入力")
	p.screen("05b-login-code")
	// The code of enrolment cannot be used again: the portal stores the
	// last accepted 30-second step and refuses it and anything before it.
	// Rather than sleep until the next step, take the code of the next step,
	// which the portal accepts (it allows the current step ±1) and which is
	// after the stored one.
	p.typeInto("ワンタイムコードの入力", oathtool(t, secret, "-N", "now + 30 seconds"))
	p.clickTo(button("続ける"), "/", "マイページ")

	// III. The account icon at the top right; the menu opens on hover.
	p.hoverAccountMenu(yamadaName)
	// IV. 「セキュリティ」 in the menu.
	p.clickTo(link("セキュリティ"), "/security", "セキュリティ")

	// V. The security page: 二要素認証 「✓設定されています」.
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	p.screen("06-security")

	// VI. 「リセット」: the second factor was verified just now, so the
	// confirmation is a dialog on the same page.
	p.do(chromedp.Click(link("リセット")))
	waitVisible(p, chromedp.ID("reset-dialog"))
	if open := run(p, chromedp.Evaluate[bool](`document.getElementById("reset-dialog").open`)); !open {
		t.Fatal("VI. 「リセット」 did not open the confirmation dialog")
	}
	p.expectPath("/security")
	p.screen("07-reset-dialog")

	// VII. 「リセットする」 in the dialog.
	p.clickTo(button("リセットする"), "/security", "セキュリティ")

	// VIII. The page shows two-step verification as not set.
	p.expectText(`//p[@id="mfa-status" and normalize-space()="設定されていません"]`)
	p.expectText(`//p[@role="status" and contains(., "二要素認証の設定をリセットしました。")]`)
	if n := run(p, chromedp.Evaluate[int](`document.querySelectorAll("#reset-dialog, [data-open-dialog]").length`)); n != 0 {
		t.Errorf("VIII. after the reset the page still offers a reset (%d elements)", n)
	}
	p.screen("08-security-after-reset")

	// The back button brings back the page from before the reset, kept in
	// the browser's memory; app.js asks the portal for it again, so it says
	// 2FA is not set rather than offering 「リセット」.
	p.back()
	p.expectText(`//p[@id="mfa-status" and normalize-space()="設定されていません"]`)
	p.expectPath("/security")

	// IX. Sign out, sign in with the same account: the setup screen again.
	p.hoverAccountMenu(yamadaName)
	p.clickTo(button("ログアウト"), "/login", "ログイン")
	p.screen("09-login-again")
	p.signIn(yamadaEmail, yamadaPassword, "/enrol", "2要素認証の設定")
	p.screen("10-enrol-again")
	again := p.enrolmentSecret(yamadaEmail)
	if again == secret {
		t.Error("IX. the enrolment after the reset shows the old key again; it must be a new one")
	}
}

// TestKeyboardOnly is a customer who uses the keyboard alone: Tab, typing,
// Enter and Space, no clicks. Sato is enrolled already; the demo prints her
// app key and recovery code. She signs in once with the recovery code (which
// shows a new one), then with the app, and resets two-step verification.
func TestKeyboardOnly(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, recovery := d.satoKeys(t)
	p := newBrowser(t, d.URL, axe)

	// Sign in with the recovery code: 「別の方法を試す」 → 「リカバリーコード」.
	p.open("/login", "ログイン")
	p.keyboardSignIn(satoEmail, satoPassword, "20-keyboard-login")
	p.screen("21-keyboard-code")
	p.tabTo(`a`, "別の方法を試す")
	p.keyTo(kb.Enter, "/login/methods", "別の方法を試す")
	p.screen("22-keyboard-methods")
	p.tabTo(`a`, "リカバリーコード")
	p.keyTo(kb.Enter, "/login/recovery", "リカバリーコードの入力")
	p.screen("23-keyboard-recovery-input")
	p.tabToField("recovery")
	p.do(chromedp.KeyEvent(recovery))
	p.keyTo(kb.Enter, "/recovery-code", "あと少しです。")

	// The spent code is replaced by a new one, shown at once.
	p.screen("24-keyboard-new-recovery-code")
	newCode := p.recoveryScreen(false)
	if newCode == recovery {
		t.Errorf("the recovery-code screen shows the code just used (%s); it must show a new one", recovery)
	}

	// On my page: Tab to the account icon; focus opens the menu.
	p.expectPath("/")
	p.expectHeading("マイページ")
	p.tabToAccountIcon(satoName)
	p.screen("25-keyboard-account-menu")
	// Escape dismisses the menu without moving focus (WCAG 1.4.13; app.js
	// means it to), and the icon, a button, opens it again.
	p.do(chromedp.KeyEvent(kb.Escape))
	if !p.menuSettles(false) {
		t.Error("Escape does not close the account menu opened by keyboard focus: app.js removes the class \"open\" " +
			"but style.css keeps showing the menu for .account:focus-within (and :hover), so it cannot be dismissed")
	}
	p.expectFocusMatches("[data-account-button]")
	p.do(chromedp.KeyEvent(kb.Enter))
	if !p.menuSettles(true) {
		t.Fatal("Enter on the account icon does not open the menu")
	}
	// Sign out from the menu with the keyboard.
	p.tabTo(`button`, "ログアウト")
	p.keyTo(kb.Enter, "/login", "ログイン")

	// Sign in with the app's code.
	p.keyboardSignIn(satoEmail, satoPassword, "")
	p.tabToField("code")
	p.do(chromedp.KeyEvent(oathtool(t, key)))
	p.keyTo(kb.Enter, "/", "マイページ")

	// III–IV. The account icon, 「セキュリティ」.
	p.tabToAccountIcon(satoName)
	p.do(chromedp.KeyEvent(kb.Tab))
	p.expectFocus(`a`, "セキュリティ")
	if !p.menuVisible() {
		t.Error("the account menu closed when focus moved from the icon to 「セキュリティ」")
	}
	p.keyTo(kb.Enter, "/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	p.screen("26-keyboard-security")

	// VI. Enter on 「リセット」 opens the dialog, and only that: the reset
	// waits for 「リセットする」. While the customer has only asked for the
	// dialog, the test holds (and counts) any form submission, so that a
	// reset without confirmation fails here, clearly, instead of leaving.
	p.holdSubmissions(true)
	p.tabTo(`a`, "リセット")
	p.do(chromedp.KeyEvent(kb.Enter))
	waitVisible(p, chromedp.ID("reset-dialog"))
	if n := run(p, chromedp.Evaluate[int](`window.__held.n`)); n > 0 {
		t.Error("VI. Enter on 「リセット」 opened the dialog and at once submitted its 「リセットする」 with the same key press: " +
			"showModal() puts the focus on 「リセットする」 during the keydown, and the keypress that follows activates it, " +
			"so a keyboard user resets two-step verification without confirming")
	}
	if inDialog := run(p, chromedp.Evaluate[bool](`document.getElementById("reset-dialog").contains(document.activeElement)`)); !inDialog {
		t.Error("the reset dialog opened but the keyboard focus is not in it")
	}
	p.holdSubmissions(false)
	// VII. Tab to 「リセットする」 and press Enter.
	p.tabTo(`button`, "リセットする")
	p.screen("27-keyboard-reset-dialog")
	p.keyTo(kb.Enter, "/security", "セキュリティ")

	// VIII.
	p.expectText(`//p[@id="mfa-status" and normalize-space()="設定されていません"]`)
	p.screen("28-keyboard-after-reset")
}

// TestResetWithoutScript is the reset's confirmation without script: the
// 「リセット」 link opens the confirmation page /security/reset, whose
// 「リセットする」 resets as the dialog does.
func TestResetWithoutScript(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, recovery := d.satoKeys(t)

	// Another device is signed in too, with the recovery code.
	other := newBrowser(t, d.URL, axe)
	other.open("/login", "ログイン")
	other.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	other.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
	other.clickTo(link("リカバリーコード"), "/login/recovery", "リカバリーコードの入力")
	other.screen("31-other-device-recovery-input")
	other.typeInto("リカバリーコード", recovery)
	other.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	other.recoveryScreen(true)

	p := newBrowser(t, d.URL, axe)
	p.satoSignsIn(key)

	p.setScripts(false)
	p.open("/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	p.clickTo(link("リセット"), "/security/reset", "二要素認証設定のリセット")
	p.setScripts(true) // for axe-core; the page has loaded without script
	p.screen("30-reset-confirmation-page")
	p.clickTo(button("リセットする"), "/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="設定されていません"]`)

	// The back button: Chromium keeps even no-store pages for it, and
	// without script nothing asks the portal again, so the confirmation
	// shows as it was. Its 「リセットする」 resets nothing more: the security
	// page, 2FA not set, one reset in the activity.
	p.back()
	if p.location() == d.URL+"/security/reset" {
		// chromedp does not see the page the browser brought back from
		// memory: the page's own click.
		p.navigation(chromedp.Evaluate[chromedp.Void](
			`[...document.querySelectorAll("button")].find(b => b.textContent.trim() === "リセットする").click()`), "/security", "セキュリティ")
	}
	p.expectPath("/security")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="設定されていません"]`)
	if n := run(p, chromedp.Evaluate[int](`[...document.querySelectorAll("td")].filter(td => td.textContent.trim() === "二要素認証のリセット").length`)); n != 1 {
		t.Errorf("after 「リセットする」 on the confirmation the back button showed, the activity lists %d resets, want 1", n)
	}

	// 「ほかのブラウザでのログイン…は終了します」: the other device is signed out.
	other.openTo("/security", "/login", "ログイン")
}

// ---------------------------------------------------------------------------
// The gate and the tools

// requireE2E skips unless the browser tests are asked for, and then fails
// when anything they need is missing. It returns axe-core's source.
func requireE2E(t *testing.T) string {
	t.Helper()
	if os.Getenv("TOBIRA_E2E") != "1" && os.Getenv("CI") != "true" {
		t.Skip("browser tests are off: run ./scripts/test.sh (or set TOBIRA_E2E=1)")
	}
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, "chromium ("+chromiumPath+", Debian package chromium)")
	}
	for _, tool := range []struct{ cmd, pkg string }{{"oathtool", "oathtool"}, {"zbarimg", "zbar-tools"}} {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool.cmd, tool.pkg))
		}
	}
	axe, err := os.ReadFile(axePath)
	if err != nil {
		missing = append(missing, "e2e/"+axePath+" (npm ci in e2e/)")
	}
	if len(missing) > 0 {
		t.Fatalf("the browser tests need %s: run ./scripts/test-deps.sh", strings.Join(missing, ", "))
	}
	if err := os.MkdirAll(outputDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return string(axe)
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// oathtool computes a TOTP code as an authenticator app does.
func oathtool(t *testing.T, secret string, args ...string) string {
	t.Helper()
	out, err := exec.Command("oathtool", append([]string{"--totp", "-b", secret}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool: %v: %s", err, out)
	}
	code := strings.TrimSpace(string(out))
	if !sixDigits.MatchString(code) {
		t.Fatalf("oathtool gave %q, not six digits", code)
	}
	return code
}

// zbarimg reads the QR code of a PNG as a phone's camera would.
func zbarimg(t *testing.T, png []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("zbarimg", "--raw", "-q", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zbarimg could not read the QR code: %v: %s", err, stderr.String())
	}
	return string(out)
}

// ---------------------------------------------------------------------------
// The demo

type demo struct {
	URL string // the portal
	// ContractsURL and InvoicesURL are the two customer sites (申込／契約確認サイト
	// and 適格請求書閲覧サイト), each on a free port of its own.
	ContractsURL, InvoicesURL string
	stdout                    *testkit.Buffer
	stderr                    *testkit.Buffer // the demo's log
	data                      string          // the data folder, for the operator's commands
}

// startDemo runs `tobira demo` in-process on a fresh data folder and a free
// port, and stops it when the test ends.
func startDemo(t *testing.T) *demo {
	t.Helper()
	return startDemoWith(t, "")
}

// startDemoWith is startDemo with a configuration file: config, unless "",
// is written to tobira.json in the fresh data folder, which the demo reads
// over its defaults.
func startDemoWith(t *testing.T, config string) *demo {
	t.Helper()
	stdout, stderr := &testkit.Buffer{}, &testkit.Buffer{}
	m := app.NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	// No TOBIRA_* variable of the caller's environment reaches the demo.
	m.Getenv = func(string) string { return "" }
	ready := make(chan string, 1)
	m.Ready = func(baseURL string) { ready <- baseURL }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	data := t.TempDir()
	if config != "" {
		if err := os.WriteFile(filepath.Join(data, "tobira.json"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		done <- m.Run(ctx, []string{"demo", "--data", data, "--addr", "127.0.0.1:0",
			"--contracts-addr", "127.0.0.1:0", "--invoices-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("the demo exited with %d", code)
			}
		case <-time.After(30 * time.Second):
			t.Error("the demo did not stop within 30 s of its context's end")
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo stderr (last lines):\n%s", stdout, lastLines(stderr.String(), 60))
		}
	})
	select {
	case u := <-ready:
		d := &demo{URL: u, stdout: stdout, stderr: stderr, data: data}
		d.ContractsURL = d.printedURL(t, "申込／契約確認サイト / Applications and contracts")
		d.InvoicesURL = d.printedURL(t, "適格請求書閲覧サイト / Qualified invoices")
		return d
	case code := <-done:
		t.Fatalf("the demo exited with %d before it listened:\n%s", code, stderr)
	case <-time.After(time.Minute):
		t.Fatal("the demo did not listen within a minute")
	}
	return nil
}

// printedURL is the URL the demo printed (before it was ready) after label.
func (d *demo) printedURL(t *testing.T, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `: (http://\S+)$`).FindStringSubmatch(d.stdout.String())
	if m == nil {
		t.Fatalf("the demo did not print the line %q:\n%s", label+": http://...", d.stdout)
	}
	return m[1]
}

var (
	satoKeyLine      = regexp.MustCompile(`(?m)^\s*認証アプリのキー / authenticator key: ([A-Z2-7]+)\b`)
	satoRecoveryLine = regexp.MustCompile(`(?m)^\s*リカバリーコード / recovery code: ([0-9A-Z]+)\s*$`)
)

// satoKeys reads the app key and recovery code the demo printed for Sato, the
// one demo customer enrolled already.
func (d *demo) satoKeys(t *testing.T) (key, recovery string) {
	t.Helper()
	out := d.stdout.String()
	k, r := satoKeyLine.FindStringSubmatch(out), satoRecoveryLine.FindStringSubmatch(out)
	if k == nil || r == nil {
		t.Fatalf("the demo did not print Sato's authenticator key and recovery code:\n%s", out)
	}
	return k[1], r[1]
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---------------------------------------------------------------------------
// The browser

// page is one browser tab on the demo, with the checks every screen gets.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	axe  string
	// lang is the language every page must be in (<html lang>); "" is
	// Japanese, the portal's default.
	lang string

	// dialogs are the messages of the script dialogs the pages opened
	// (the console's confirmations), each accepted as an operator would.
	mu      sync.Mutex
	dialogs []string
}

// confirmed says whether a page asked to confirm with a message holding
// want, since the last call; the dialogs asked so far are forgotten.
func (p *page) confirmed(want string) bool {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := p.dialogs
	p.dialogs = nil
	for _, m := range seen {
		if strings.Contains(m, want) {
			return true
		}
	}
	p.t.Errorf("no confirmation with %q among %q", want, seen)
	return false
}

// newBrowser starts headless Chromium with a fresh profile, asking for
// Japanese pages.
func newBrowser(t *testing.T, base, axe string) *page {
	t.Helper()
	return newBrowserWith(t, base, axe)
}

// newBrowserWith is newBrowser with more of Chromium's options.
func newBrowserWith(t *testing.T, base, axe string, more ...chromedp.ExecAllocatorOption) *page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "ja"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, more...)
	tctx, tcancel := context.WithTimeout(context.Background(), browserTimeout)
	actx, acancel := chromedp.NewExecAllocator(tctx, opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
		tcancel()
	})
	// The first run starts the browser; it binds the browser's life to the
	// context it gets, so it gets the browser's, not a step's.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	p := &page{t: t, ctx: ctx, base: base, axe: axe}
	// A script dialog (window.confirm) is accepted, and its message kept
	// for the test to check; the page waits for the answer meanwhile.
	// (The listener may not send a command itself: it runs in the loop
	// that reads the answers.)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdppage.EventJavascriptDialogOpening); ok {
			p.mu.Lock()
			p.dialogs = append(p.dialogs, e.Message)
			p.mu.Unlock()
			go chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}); err != nil {
		t.Fatalf("listening for dialogs: %v", err)
	}
	// Customers in Japan: the browser asks for Japanese (headless Chromium
	// asks for en-US by default, which the portal would honour). The page
	// is the window's 1280x900.
	p.do(chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "ja"},
		})
		return err
	}), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// The tab counts as focused, as a customer's window would, so that
		// the clipboard works for 「コードのコピー」.
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))
	// The clipboard, granted as a customer would when Chrome asks; the test
	// reads back what 「コードのコピー」 wrote.
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm},
			Setting:    browser.PermissionSettingGranted,
			Origin:     base,
		}); err != nil {
			t.Fatalf("granting %s: %v", perm, err)
		}
	}
	return p
}

// do runs actions and fails the test at the first error.
func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v (at %s)", err, p.location())
	}
}

// run runs one action that returns a value and fails the test on error.
func run[T any](p *page, a chromedp.Action[T]) T {
	p.t.Helper()
	return runWithin(p, stepTimeout, a)
}

// runWithin is run with a bound of its own.
func runWithin[T any](p *page, bound time.Duration, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, bound)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("browser: %v (at %s)", err, p.location())
	}
	return v
}

// location is the page's URL, for messages; it never fails.
func (p *page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown location"
	}
	return loc
}

// bodyText is the page's text, for messages; it never fails.
func (p *page) bodyText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unknown)"
	}
	return body
}

// Selectors by what the customer reads, as the manual names them.
func button(label string) chromedp.Search {
	return chromedp.Search(`//button[normalize-space()="` + label + `"]`)
}

func link(label string) chromedp.Search {
	return chromedp.Search(`//a[normalize-space()="` + label + `"]`)
}

func heading(text string) chromedp.Search {
	return chromedp.Search(`//h1[normalize-space()="` + text + `"]`)
}

// field is the input that the label with this text names.
func field(label string) chromedp.Search {
	return chromedp.Search(`//input[@id=//label[normalize-space()="` + label + `"]/@for]`)
}

// open loads a page of the portal and waits for its heading.
func (p *page) open(path, h1 string) {
	p.t.Helper()
	resp := run(p, chromedp.NavigateResponse(p.base+path))
	if resp.Status != 200 {
		p.t.Fatalf("GET %s: status %d", path, resp.Status)
	}
	p.arrived(path, h1)
}

// openTo loads a page of the portal that sends the browser elsewhere, and
// checks where it lands.
func (p *page) openTo(path, landing, h1 string) {
	p.t.Helper()
	p.navigation(chromedp.Navigate(p.base+path), landing, h1)
}

// clickTo clicks and waits for the page it leads to.
func (p *page) clickTo(sel chromedp.Search, path, h1 string) {
	p.t.Helper()
	p.navigation(chromedp.Click(sel), path, h1)
}

// keyTo presses keys and waits for the page they lead to.
func (p *page) keyTo(keys, path, h1 string) {
	p.t.Helper()
	p.navigation(chromedp.KeyEvent(keys), path, h1)
}

// navigation runs an action that loads a new page, checks its status, and
// waits until the page at path with heading h1 is ready.
func (p *page) navigation(a chromedp.Action[chromedp.Void], path, h1 string) {
	p.t.Helper()
	p.navigationStatus(a, 200, path, h1)
}

// navigationStatus is navigation for a page answered with another status
// than 200 (a form sent back with an error, a missing page).
func (p *page) navigationStatus(a chromedp.Action[chromedp.Void], want int, path, h1 string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		p.t.Fatalf("browser: %v (at %s, expecting %s)", err, p.location(), path)
	}
	if resp == nil || int(resp.Status) != want {
		status := 0
		if resp != nil {
			status = int(resp.Status)
		}
		p.t.Fatalf("expected %s with status %d; got status %d at %s", path, want, status, p.location())
	}
	p.arrived(path, h1)
}

// arrived checks that the browser shows the page at path with heading h1,
// loaded with its script.
func (p *page) arrived(path, h1 string) {
	p.t.Helper()
	p.expectHeading(h1)
	p.do(chromedp.Poll[chromedp.Void](`document.readyState === "complete"`))
	p.expectPath(path)
	want := p.lang
	if want == "" {
		want = "ja"
	}
	if lang := run(p, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != want {
		p.t.Errorf("%s is in %q, not %q", path, lang, want)
	}
}

func (p *page) expectHeading(h1 string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(heading(h1))); err != nil {
		body := p.bodyText()
		p.t.Fatalf("expected the screen 「%s」 at %s: %v\npage text:\n%s", h1, p.location(), err, body)
	}
}

func (p *page) expectPath(want string) {
	p.t.Helper()
	if got := run(p, chromedp.Evaluate[string](`location.pathname`)); got != want {
		p.t.Fatalf("expected the page %s, the browser is at %s", want, p.location())
	}
}

// expectText waits until an element the XPath selects is visible.
func (p *page) expectText(xpath string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(xpath))); err != nil {
		body := p.bodyText()
		p.t.Fatalf("expected %s at %s: %v\npage text:\n%s", xpath, p.location(), err, body)
	}
}

// waitVisible waits, for a bounded time, until the element shows.
func waitVisible[S chromedp.Selectable](p *page, sel S) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(sel)); err != nil {
		p.t.Fatalf("waiting for %v to show at %s: %v", sel, p.location(), err)
	}
}

// holdSubmissions makes the page hold and count form submissions (on) or
// let them go (off). It only observes; it clicks and types nothing.
func (p *page) holdSubmissions(on bool) {
	p.t.Helper()
	p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		if (!window.__held) {
			window.__held = {on: false, n: 0};
			document.addEventListener("submit", (e) => { if (window.__held.on) { window.__held.n++; e.preventDefault(); } }, true);
		}
		window.__held.on = %t;
	})()`, on)))
}

// back is the browser's back button: it returns once another page shows,
// whether the browser kept it in memory (no request, no load) or asked for
// it again.
func (p *page) back() {
	p.t.Helper()
	p.do(chromedp.Evaluate[chromedp.Void](`window.__left = true; history.back()`))
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		// Between the pages there may be no document to ask: retry.
		there, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__left && document.readyState === "complete"`))
		cancel()
		if err == nil && there {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("the back button showed no other page within %s (at %s)", stepTimeout, p.location())
}

// backFresh is the back button to a page the portal is asked for anew (not
// the copy the browser kept), which it waits for.
func (p *page) backFresh(path, h1 string) {
	p.t.Helper()
	p.back()
	deadline := time.Now().Add(stepTimeout)
	// The same document twice in a row (its time origin): a page the
	// browser brought back from its memory reloads itself (app.js, on
	// pageshow) a moment after it shows, and a check that ran in that
	// moment would go on with a page about to go away.
	var seen float64
	for wait := time.Duration(0); ; time.Sleep(wait) {
		if time.Now().After(deadline) {
			p.t.Fatalf("the back button showed the page the browser kept, not a new one from the portal (at %s)", p.location())
		}
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		doc, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](
			`[document.readyState === "complete" ? performance.getEntriesByType("navigation")[0].type : "", performance.timeOrigin]`))
		cancel()
		wait = 50 * time.Millisecond
		if err == nil && len(doc) == 2 && (doc[0] == "reload" || doc[0] == "back_forward") {
			origin, _ := doc[1].(float64)
			if origin == seen {
				break
			}
			seen, wait = origin, 200*time.Millisecond
		}
	}
	p.arrived(path, h1)
}

// typeInto types into the field the manual names by its label.
func (p *page) typeInto(label, text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(field(label), text))
}

// signIn is manual I: email, password, 「続ける」.
func (p *page) signIn(email, password, path, h1 string) {
	p.t.Helper()
	p.typeInto("メールアドレス", email)
	p.typeInto("パスワード", password)
	p.clickTo(button("続ける"), path, h1)
}

// satoSignsIn is manual I–II for Sato from the login page: her password,
// then the app's code from key (oathArgs, given to oathtool after it,
// choose another time step), to マイページ.
func (p *page) satoSignsIn(key string, oathArgs ...string) {
	p.t.Helper()
	p.open("/login", "ログイン")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", oathtool(p.t, key, oathArgs...))
	p.clickTo(button("続ける"), "/", "マイページ")
}

// setScripts turns the page's script off or on, for pages loaded after.
func (p *page) setScripts(on bool) {
	p.t.Helper()
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	}))
}

// ---------------------------------------------------------------------------
// Screens

// enrolmentSecret checks the enrolment screen of manual X: its QR code
// decodes to exactly the otpauth:// URI of the key shown as text. It returns
// the key.
func (p *page) enrolmentSecret(email string) string {
	return p.shownKey("qr", "secret", func(secret string) string {
		return "otpauth://totp/Tobira:" + email + "?secret=" + secret + "&issuer=Tobira&algorithm=SHA1&digits=6&period=30"
	})
}

// shownKey checks a page that shows a new TOTP key twice, as the QR code
// of the <img> qrID and as base32 text in groups of four in the element
// keyID: the QR code, read as a phone's camera would, is exactly
// want(key). It returns the key.
func (p *page) shownKey(qrID, keyID string, want func(secret string) string) string {
	t := p.t
	t.Helper()
	waitVisible(p, chromedp.ID(qrID))
	src := run(p, chromedp.Evaluate[string](`document.getElementById("`+qrID+`").getAttribute("src")`))
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(src, prefix) {
		t.Fatalf("the QR code is not a data: PNG: %.60s...", src)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, prefix))
	if err != nil {
		t.Fatalf("the QR code's data: URI: %v", err)
	}
	shown := run(p, chromedp.Text(chromedp.ID(keyID)))
	if !regexp.MustCompile(`^[A-Z2-7]{4}( [A-Z2-7]{1,4})*$`).MatchString(strings.TrimSpace(shown)) {
		t.Errorf("the key for manual entry is not base32 in groups of four: %q", shown)
	}
	secret := strings.ReplaceAll(strings.TrimSpace(shown), " ", "")

	got := strings.TrimSuffix(zbarimg(t, png), "\n")
	if w := want(secret); got != w {
		t.Fatalf("the QR code reads\n  %q\nwant\n  %q", got, w)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatalf("the QR code's URI: %v", err)
	}
	if qs := u.Query().Get("secret"); qs != secret {
		t.Fatalf("the QR code's key %q differs from the key shown %q", qs, secret)
	}
	return secret
}

var recoveryCodeRE = regexp.MustCompile(`^[0-9A-HJKMNP-Z]{24}$`)

// recoveryScreen checks manual X. VI: 「あと少しです。」, the 24-character
// code, 「続ける」 held until 「コードを安全に記録しました」 is checked; then it
// checks the box and continues, with the mouse or the keyboard. It returns
// the code and leaves the browser on the page the sign-in returns to.
func (p *page) recoveryScreen(mouse bool) string {
	t := p.t
	t.Helper()
	p.expectText(`//p[normalize-space()="リカバリーコードをコピーして、安全な場所に保管してください。デバイスなしでログインする際に必要になります。"]`)
	code := strings.TrimSpace(run(p, chromedp.Text(chromedp.ID("recovery-code"))))
	if !recoveryCodeRE.MatchString(code) {
		t.Errorf("the recovery code %q is not 24 characters of the recovery alphabet", code)
	}
	waitVisible(p, button("コードのコピー"))
	if mouse {
		// 「リカバリーコードをコピーして」: the button puts the code on the
		// clipboard and says so.
		p.do(chromedp.Click(button("コードのコピー")))
		p.expectText(`//span[@role="status" and normalize-space()="コピーしました"]`)
		if got := run(p, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); got != code {
			t.Errorf("「コードのコピー」 put %q on the clipboard, want %q", got, code)
		}
	}
	if !p.continueDisabled() {
		t.Error("X. VI. 「続ける」 is enabled before 「コードを安全に記録しました」 is checked")
	}
	if mouse {
		// The customer clicks the label's text, as the manual says.
		p.do(chromedp.Click(chromedp.Search(`//label[normalize-space()="コードを安全に記録しました"]`)))
	} else {
		p.tabToField("recorded")
		p.do(chromedp.KeyEvent(" "))
	}
	if checked := run(p, chromedp.Evaluate[bool](`document.getElementById("recorded").checked`)); !checked {
		t.Fatal("X. VI. 「コードを安全に記録しました」 did not become checked")
	}
	if p.continueDisabled() {
		t.Fatal("X. VI. 「続ける」 stays disabled after 「コードを安全に記録しました」 is checked")
	}
	if mouse {
		p.clickTo(button("続ける"), "/", "マイページ")
	} else {
		p.do(chromedp.KeyEvent(kb.Tab))
		p.expectFocus(`button`, "続ける")
		p.keyTo(kb.Enter, "/", "マイページ")
	}
	return code
}

func (p *page) continueDisabled() bool {
	p.t.Helper()
	return run(p, chromedp.Evaluate[bool](`(() => {
		const b = document.evaluate('//button[normalize-space()="続ける"]', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		return !!b && b.disabled;
	})()`))
}

// menuVisible reports whether the account menu shows.
func (p *page) menuVisible() bool {
	p.t.Helper()
	return run(p, chromedp.Evaluate[bool](`(() => {
		const m = document.getElementById("account-menu");
		if (!m) return false;
		const r = m.getBoundingClientRect();
		return getComputedStyle(m).display !== "none" && getComputedStyle(m).visibility !== "hidden" && r.width > 0 && r.height > 0;
	})()`))
}

// menuSettles waits a few seconds for the account menu to show (open) or
// to be hidden, as the page's script answers the tap, key or focus just
// sent, and reports whether it did. A busy machine runs that script a
// moment after the event.
func (p *page) menuSettles(open bool) bool {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p.menuVisible() == open {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkMenu checks the open account menu: the customer's name, 「セキュリティ」
// and ログアウト, and the icon's aria-expanded.
func (p *page) checkMenu(name string) {
	t := p.t
	t.Helper()
	waitVisible(p, chromedp.ID("account-menu"))
	waitVisible(p, chromedp.Search(`//div[@id="account-menu"]//p[contains(normalize-space(), "`+name+`")]`))
	waitVisible(p, chromedp.Search(`//div[@id="account-menu"]//a[normalize-space()="セキュリティ" and @href="/security"]`))
	waitVisible(p, chromedp.Search(`//div[@id="account-menu"]//button[normalize-space()="ログアウト"]`))
	if exp := run(p, chromedp.Evaluate[string](`document.querySelector("[data-account-button]").getAttribute("aria-expanded")`)); exp != "true" {
		t.Errorf("the account menu shows but its button says aria-expanded=%q", exp)
	}
}

// hoverAccountMenu moves the mouse onto the account icon at the top right,
// as manual III says, and checks the menu that opens.
func (p *page) hoverAccountMenu(name string) {
	t := p.t
	t.Helper()
	if p.menuVisible() {
		t.Fatal("the account menu shows before the mouse is on the icon")
	}
	type point struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	}
	c := run(p, chromedp.Evaluate[point](`(() => {
		const r = document.querySelector(".account [data-account-button]").getBoundingClientRect();
		return {x: r.left + r.width / 2, y: r.top + r.height / 2};
	})()`))
	if c.X < 1280*0.75 || c.Y > 100 {
		t.Errorf("the account icon is at (%.0f, %.0f), not at the top right", c.X, c.Y)
	}
	// chromedp has no hover action: move the mouse there.
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.DispatchMouseEvent, input.DispatchMouseEventParams{
			Type: input.DispatchMouseEventTypeMouseMoved, X: c.X, Y: c.Y,
		})
		return err
	}))
	p.checkMenu(name)
}

// tabToAccountIcon tabs to the account icon and checks that focus opens the
// menu.
func (p *page) tabToAccountIcon(name string) {
	t := p.t
	t.Helper()
	if p.menuVisible() {
		t.Fatal("the account menu shows before the icon has focus")
	}
	p.tabUntil("the account icon", `document.activeElement && document.activeElement.matches("[data-account-button]")`)
	if !p.menuSettles(true) {
		t.Fatal("focusing the account icon with the keyboard does not open the menu")
	}
	p.checkMenu(name)
}

// keyboardSignIn is manual I with the keyboard: the email field, Tab, the
// password, Enter. With a screenshot name, the filled form is taken too.
func (p *page) keyboardSignIn(email, password, shot string) {
	p.t.Helper()
	p.tabToField("email")
	p.do(chromedp.KeyEvent(email))
	p.do(chromedp.KeyEvent(kb.Tab))
	p.expectFocusID("password")
	p.do(chromedp.KeyEvent(password))
	if shot != "" {
		p.screen(shot)
	}
	p.keyTo(kb.Enter, "/login/code", "ワンタイムパスワードの入力")
}

// tabUntil presses Tab until the predicate holds, failing after too many
// presses. Nothing is clicked: the predicate only reads where focus is.
func (p *page) tabUntil(what, predicate string) {
	p.t.Helper()
	for range 40 {
		if run(p, chromedp.Evaluate[bool](predicate)) {
			return
		}
		p.do(chromedp.KeyEvent(kb.Tab))
	}
	active := run(p, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "none"`))
	p.t.Fatalf("%s is not reachable with Tab at %s (focus is on %s)", what, p.location(), active)
}

// tabTo tabs to the element of tag whose text is label.
func (p *page) tabTo(tag, label string) {
	p.t.Helper()
	p.tabUntil(fmt.Sprintf("「%s」", label), focusIs(tag, label))
}

// tabToField tabs to the element with this id.
func (p *page) tabToField(id string) {
	p.t.Helper()
	p.tabUntil("#"+id, fmt.Sprintf(`document.activeElement && document.activeElement.id === %q`, id))
}

func focusIs(tag, label string) string {
	return fmt.Sprintf(`(() => { const a = document.activeElement; return !!a && a.matches(%q) && a.textContent.trim() === %q; })()`, tag, label)
}

func (p *page) expectFocus(tag, label string) {
	p.t.Helper()
	if !run(p, chromedp.Evaluate[bool](focusIs(tag, label))) {
		active := run(p, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "none"`))
		p.t.Fatalf("expected the focus on 「%s」, it is on %s", label, active)
	}
}

func (p *page) expectFocusMatches(css string) {
	p.t.Helper()
	if !run(p, chromedp.Evaluate[bool](fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, css))) {
		active := run(p, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "none"`))
		p.t.Fatalf("expected the focus on %s, it is on %s", css, active)
	}
}

func (p *page) expectFocusID(id string) {
	p.t.Helper()
	if got := run(p, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`)); got != id {
		p.t.Fatalf("expected the focus on #%s, it is on #%s", id, got)
	}
}

// ---------------------------------------------------------------------------
// Screenshots and accessibility

// screen saves a full-page screenshot as output/NAME.png and checks the
// screen with axe-core.
func (p *page) screen(name string) {
	p.t.Helper()
	p.screenshot(name)
	p.checkAccessibility(name)
}

// screenshot saves a full-page screenshot as output/NAME.png.
func (p *page) screenshot(name string) {
	p.t.Helper()
	png := runWithin(p, checkTimeout, fullScreenshot())
	if err := os.WriteFile(filepath.Join(outputDir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// fullScreenshot is chromedp.FullScreenshot as a PNG of one pixel per CSS
// pixel, encoded for speed: a phone's page laid out at 3× (the 360 px
// viewport) was captured at 3×, nine times the pixels, and a long console
// page took 26 s of the machine's two cores to encode, for an image no
// check reads. The layout, and every check of it, stays the device's.
func fullScreenshot() chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, t, cdppage.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		dpr, err := chromedp.Evaluate[float64]("window.devicePixelRatio")(ctx, t)
		if err != nil {
			return nil, err
		}
		size, on := m.CSSContentSize, true
		r, err := cdp.Call(ctx, t, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{
			Format:                cdppage.CaptureScreenshotFormatPng,
			Clip:                  &cdppage.Viewport{Width: size.Width, Height: size.Height, Scale: 1 / dpr},
			FromSurface:           &on,
			CaptureBeyondViewport: &on,
			OptimizeForSpeed:      &on,
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}
}

type axeResult struct {
	Engine     string         `json:"engine"`
	Passes     int            `json:"passes"`
	Violations []axeViolation `json:"violations"`
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  []string `json:"target"`
		HTML    string   `json:"html"`
		Summary string   `json:"summary"`
	} `json:"nodes"`
}

// checkAccessibility runs axe-core on the page as it is now (with a menu or
// dialog open) and fails the test with every violation.
func (p *page) checkAccessibility(screen string) {
	t := p.t
	t.Helper()
	if !run(p, chromedp.Evaluate[bool](`typeof window.axe === "object"`)) {
		p.do(chromedp.Evaluate[chromedp.Void](p.axe))
	}
	res := runWithin(p, checkTimeout, chromedp.Evaluate[axeResult](`axe.run(document, {resultTypes: ["violations"]}).then(r => ({
		engine: r.testEngine.name + " " + r.testEngine.version,
		passes: r.passes.length,
		violations: r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => ({
				target: n.target.map(x => Array.isArray(x) ? x.join(" >>> ") : String(x)),
				html: n.html, summary: n.failureSummary || "",
			})),
		})),
	}))`, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(res.Engine, "axe-core ") || res.Passes == 0 {
		t.Fatalf("axe-core did not run on %s: %+v", screen, res)
	}
	vs := res.Violations
	if len(vs) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "axe-core: %d violation(s) on %s (%s):", len(vs), screen, p.location())
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  - %s [%s] %s (%s)", v.ID, v.Impact, v.Help, v.URL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n      %s  %s", strings.Join(n.Target, ", "), n.HTML)
			for _, line := range strings.Split(n.Summary, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					fmt.Fprintf(&b, "\n        %s", line)
				}
			}
		}
	}
	t.Error(b.String())
}
