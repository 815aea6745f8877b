package e2e

// The operator console (the demo's --console-addr) and what it does to the
// customers' side: a second-factor reset by two operators (four eyes), a
// maintenance window's notice and its 503 page, the locked-out customer's
// recovery request with its cooling-off period, and an admin managing the
// other operators. Screenshots go to
// output/80-*.png; axe-core checks every screen.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/webkit"
)

// The console's texts (internal/console/locales/ja.json).
const (
	consoleLoginTitle = "オペレーター ログイン"
	consoleCodeTitle  = "ワンタイムコードの入力"
	consoleCustomers  = "顧客検索"
	consoleResets     = "二要素認証リセットの承認"
	consoleMaint      = "メンテナンス"
	operatorPassword  = "console-operator-2024"
	supportURL        = "https://support.example.jp/"
)

// satoInConsole finds 佐藤 by her address in the console's search and
// opens her page, whose path it returns.
func (p *page) satoInConsole() string {
	p.t.Helper()
	p.typeInto("メールアドレス・氏名・契約番号・申込番号", satoEmail)
	p.clickTo(button("検索"), "/customers", consoleCustomers)
	return p.navigationTo(chromedp.Click(link(satoEmail)), 200, "/customers/", satoName)
}

// ---------------------------------------------------------------------------
// 1. Four eyes

// TestFourEyesReset: admin A asks for Sato's second-factor reset with a
// reason; A cannot approve it (「自分の依頼」, no button); support operator B
// approves it in another browser; Sato's factors are gone (her next sign-in
// enrols) and she is mailed the notice.
func TestFourEyesReset(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const (
		aEmail = "admin-a@tobira.example"
		bEmail = "support-b@tobira.example"
		reason = "本人から電話で端末紛失の申告あり (本人確認済み)"
	)
	seedA := d.createOperator(t, aEmail, "管理者 A", "admin")
	seedB := d.createOperator(t, bEmail, "サポート B", "support")

	// A signs in and finds Sato.
	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "80-1-1-console-login")
	a.typeInto("メールアドレス・氏名・契約番号・申込番号", satoEmail)
	a.clickTo(button("検索"), "/customers", consoleCustomers)
	a.expectText(`//table//tr[td/a[normalize-space()="` + satoEmail + `"] and td[normalize-space()="` + satoName + `"] and td[contains(., "認証アプリ")]]`)
	a.screen("80-1-2-console-search")
	customerPath := a.navigationTo(chromedp.Click(link(satoEmail)), 200, "/customers/", satoName)
	a.expectText(`//dl//dd//span[normalize-space()="認証アプリ"]`)
	a.screen("80-1-3-console-customer")

	// With a reason: requested, pending, not done.
	a.typeInto("リセットの理由 (必須)", reason)
	a.navigationTo(chromedp.Click(button("二要素認証のリセットを依頼")), 200, customerPath, satoName)
	a.expectText(`//p[@role="status" and normalize-space()="二要素認証のリセットを依頼しました。別のオペレーターの承認で実行されます。"]`)
	a.expectText(`//main//p[contains(., "` + aEmail + ` が") and not(contains(., "operator:")) and contains(., "承認待ち") and contains(., "` + reason + `")]`)
	a.expectText(`//dl//dd//span[normalize-space()="認証アプリ"]`)
	a.screen("80-1-4-console-reset-requested")

	// A's list: 「自分の依頼」 and no approve or reject button.
	a.clickTo(link("2FAリセット承認"), "/resets", consoleResets)
	row := `//table//tr[td//a[normalize-space()="` + satoEmail + `"]]`
	a.expectText(row + `/td[normalize-space()="` + reason + `"]`)
	a.expectText(row + `//*[contains(., "自分の依頼")]`)
	if n := run(a, chromedp.Evaluate[int](`[...document.querySelectorAll("main button")].filter(b => ["承認", "却下"].includes(b.textContent.trim())).length`)); n != 0 {
		t.Errorf("the requester's /resets offers %d approve/reject button(s) for its own request", n)
	}
	a.screen("80-1-5-console-resets-own")

	// Sato is still enrolled: her sign-in asks for the app's code.
	sato := newBrowser(t, d.URL, axe)
	sato.open("/login", "ログイン")
	sato.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")

	// B, in another browser, approves.
	b := newBrowser(t, consoleURL, axe)
	b.consoleSignIn(bEmail, seedB, "")
	b.clickTo(link("2FAリセット承認"), "/resets", consoleResets)
	b.expectText(row + `/td[normalize-space()="` + aEmail + `"]`)
	waitVisible(b, chromedp.Search(row+`//button[normalize-space()="承認"]`))
	b.screen("80-1-6-console-resets-other")
	b.clickTo(chromedp.Search(row+`//button[normalize-space()="承認"]`), "/resets", consoleResets)
	b.confirmed("の二要素認証をリセットしますか？ 登録済みの認証方法とリカバリーコードが削除されます。")
	b.expectText(`//p[@role="status" and normalize-space()="リセットを承認し、二要素認証をリセットしました。お客さまに通知しました。"]`)
	b.expectText(`//main//p[normalize-space()="承認待ちの依頼はありません。"]`)
	b.screen("80-1-7-console-reset-approved")

	// The console shows no factor left.
	b.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)
	b.expectText(`//dl/dd[normalize-space()="未登録"]`)

	// Sato: her next sign-in enrols anew.
	sato.open("/login", "ログイン")
	sato.signIn(satoEmail, satoPassword, "/enrol", "2要素認証の設定")
	secret := sato.enrolmentSecret(satoEmail)
	sato.screen("80-1-8-sato-enrol-after-reset")
	sato.typeInto("ワンタイムコードの入力", oathtool(t, secret))
	sato.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	sato.do(chromedp.Click(chromedp.Search(`//label[normalize-space()="コードを安全に記録しました"]`)))
	sato.clickTo(button("続ける"), "/", "マイページ")
	// Her security page tells what support staff did, in words: the
	// request and the reset, not the approval between them, nor codes.
	sato.open("/security", "セキュリティ")
	for _, what := range []string{"二要素認証のリセットの受付 (担当者)", "二要素認証のリセット (担当者)"} {
		sato.expectText(`//td[normalize-space()="` + what + `"]/following-sibling::td[normalize-space()="サポート担当者"]`)
	}
	if text := run(sato, chromedp.Evaluate[string](`document.querySelector("main").innerText`)); strings.Contains(text, "mfa.") {
		t.Errorf("the security page shows audit codes:\n%s", text)
	}
	sato.screen("80-1-9-sato-security-activity")

	// And she was told by mail.
	m := d.waitMail(t, satoEmail, "the security notice of the operators' reset", func(m demoMail) bool {
		return strings.Contains(m.Text, "二要素認証の設定がリセットされました。")
	})
	if !strings.Contains(m.Subject, "セキュリティに関するお知らせ") {
		t.Errorf("the reset notice's subject is %q", m.Subject)
	}
	// Operators did it: the notice says so, not an address "-".
	if !strings.Contains(m.Text, "操作した人: サポート担当者") || !strings.Contains(m.HTML, "サポート担当者") {
		t.Errorf("the reset notice does not say that support staff did it:\n%s", m.Text)
	}
	if strings.Contains(m.Text, "IP アドレス") {
		t.Errorf("the notice of the operators' reset names an IP address:\n%s", m.Text)
	}
}

// TestResetWithdrawn: the operator who asked for Sato's reset by mistake
// withdraws it from her page (「取り下げ」); the request is gone from the
// list and her factors stay.
func TestResetWithdrawn(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	const aEmail = "support-w@tobira.example"
	seedA := d.createOperator(t, aEmail, "サポート W", "support")
	a := newBrowser(t, d.consoleURL(t), axe)
	a.consoleSignIn(aEmail, seedA, "")
	customerPath := a.satoInConsole()
	a.typeInto("リセットの理由 (必須)", "別のお客さまと取り違えた")
	a.navigationTo(chromedp.Click(button("二要素認証のリセットを依頼")), 200, customerPath, satoName)
	a.screen("80-8-1-console-reset-own-request")
	a.navigationTo(chromedp.Click(button("取り下げ")), 200, customerPath, satoName)
	a.expectText(`//p[@role="status" and normalize-space()="リセットの依頼を取り下げました。"]`)
	waitVisible(a, button("二要素認証のリセットを依頼"))
	a.expectText(`//dl//dd//span[normalize-space()="認証アプリ"]`)
	a.screen("80-8-2-console-reset-withdrawn")
	a.clickTo(link("2FAリセット承認"), "/resets", consoleResets)
	a.expectText(`//main//p[normalize-space()="承認待ちの依頼はありません。"]`)
}

// ---------------------------------------------------------------------------
// 2. Maintenance

// TestMaintenanceNoticeAndPage: an admin schedules a window a few days
// ahead in the console: the portal and the contracts site show the notice
// with its date. Then a window starting at the next minute: once it is in
// force the portal and the sites answer 503 with the maintenance page
// (Retry-After, the support link, the next window's notice) while /healthz
// and the console stay up.
func TestMaintenanceNoticeAndPage(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	consoleURL := d.consoleURL(t)
	const aEmail = "admin-a@tobira.example"
	seedA := d.createOperator(t, aEmail, "管理者 A", "admin")

	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	a.clickTo(link("メンテナンス"), "/maintenance", consoleMaint)
	a.expectText(`//main//p[normalize-space()="予定されているメンテナンスはありません。"]`)
	a.screen("80-2-1-console-maintenance")

	// A window in three days, 2:00–5:00 Japan time.
	day := time.Now().In(webkit.JST).AddDate(0, 0, 3)
	later := time.Date(day.Year(), day.Month(), day.Day(), 2, 0, 0, 0, webkit.JST)
	laterSpan := fmt.Sprintf("%d年%d月%d日 2:00〜5:00", later.Year(), later.Month(), later.Day())
	a.scheduleWindow(later, later.Add(3*time.Hour), "データベースの更新", "Database upgrade")
	a.expectText(`//table//tr[td[normalize-space()="` + laterSpan + `"] and td[normalize-space()="予定"] and td[normalize-space()="データベースの更新"]]`)
	a.screen("80-2-2-console-maintenance-scheduled")

	notice := "メンテナンスのお知らせ: " + laterSpan + " (日本時間) はサービスをご利用いただけません。"
	banner := `//div[@role="status" and contains(normalize-space(), "` + notice + `")]`

	// The portal's login page, and the contracts site, show the notice.
	p := newSiteBrowser(t, d.URL, axe)
	p.open("/login", "ログイン")
	p.expectText(banner)
	p.expectText(banner + `//a[@href="` + supportURL + `" and normalize-space()="詳しくはサポートページをご覧ください"]`)
	p.screen("80-2-3-portal-login-notice")
	portal, contracts := originOf(t, d.URL), originOf(t, d.ContractsURL)
	p.visit(d.ContractsURL+"/", portal, "/login", "ログイン")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.expectText(banner)
	p.typeInto("ワンタイムコードの入力", oathtool(t, key))
	p.clickTo(button("続ける"), "/", contractsHeading)
	p.expectOrigin(contracts)
	p.expectText(banner)
	p.screen("80-2-4-contracts-notice")

	// A window from the next minute (at least 15 s ahead), for two minutes.
	now := time.Now().In(webkit.JST)
	soon := now.Truncate(time.Minute).Add(time.Minute)
	if soon.Sub(now) < 15*time.Second {
		soon = soon.Add(time.Minute)
	}
	a.scheduleWindow(soon, soon.Add(2*time.Minute), "緊急メンテナンス", "Emergency maintenance")
	soonSpan := fmt.Sprintf("%d年%d月%d日 %d:%02d〜%d:%02d", soon.Year(), soon.Month(), soon.Day(),
		soon.Hour(), soon.Minute(), soon.Add(2*time.Minute).Hour(), soon.Add(2*time.Minute).Minute())
	a.expectText(`//table//tr[td[normalize-space()="` + soonSpan + `"]]`)

	// Wait, a bounded time, until the portal answers 503.
	t.Logf("waiting %s for the window at %s", time.Until(soon).Round(time.Second), soon.Format("15:04"))
	deadline := soon.Add(20 * time.Second)
	var resp *http.Response
	for {
		resp = httpGet(t, d.URL+"/login")
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the portal still answers %d 20 s after the window's start %s", resp.StatusCode, soon)
		}
		time.Sleep(time.Second)
	}
	if early := time.Until(soon); early > time.Second {
		t.Errorf("the maintenance page came %s before the window's start", early)
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 125 {
		t.Errorf("the 503's Retry-After is %q, want the seconds until the end (at most 120)", resp.Header.Get("Retry-After"))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("the 503's Content-Type is %q", ct)
	}
	// Health stays up, on the portal and the sites.
	for _, u := range []string{d.URL, d.ContractsURL, d.InvoicesURL} {
		if r := httpGet(t, u+"/healthz"); r.StatusCode != http.StatusOK {
			t.Errorf("%s/healthz answers %d during maintenance, want 200", u, r.StatusCode)
		}
	}

	// The maintenance page in the browser.
	q := newBrowser(t, d.URL, axe)
	q.navigationStatus(chromedp.Navigate(d.URL+"/login"), 503, "/login", "システムメンテナンス中")
	q.expectText(`//main//p[contains(., "` + soonSpan + `") and contains(., "(日本時間)")]`)
	q.expectText(`//main//p[contains(., "緊急メンテナンス")]`)
	q.expectText(`//main//p[normalize-space()="` + notice + `"]`)
	q.expectText(`//main//a[@href="` + supportURL + `" and normalize-space()="サポートページ"]`)
	q.screen("80-2-5-maintenance-page")
	// The signed-in contracts site too.
	p.navigationStatus(chromedp.Reload(), 503, "/", "システムメンテナンス中")
	p.expectOrigin(contracts)
	p.screen("80-2-6-contracts-maintenance-page")

	// The console stays up and says the window is in force.
	a.open("/maintenance", consoleMaint)
	a.expectText(`//table//tr[td[normalize-space()="` + soonSpan + `"] and td[normalize-space()="実施中"]]`)
	a.screen("80-2-7-console-maintenance-now")
}

// ---------------------------------------------------------------------------
// 3. Locked out

// TestLockedOutRecovery: Sato, with neither her phone nor her recovery
// code, asks for recovery from 「別の方法を試す」; the mail's link confirms
// it; until the cooling-off period is over her sign-in still asks for the
// app's code; after it, the sign-in enrols anew. In a second run the
// recovery_started mail's "this was not me" link cancels the request: after
// the period her sign-in still asks for the app's code.
func TestLockedOutRecovery(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)

	t.Run("completes", func(t *testing.T) {
		t.Parallel()
		// Long enough for two page loads on a busy machine (about 0.3 s
		// on a quiet one), short enough to wait out.
		const coolingOff = 10 * time.Second
		d := startDemoWith(t, `{"recovery_cooling_off": "10s"}`)
		p := newBrowser(t, d.URL, axe)
		p.requestRecovery(true)
		link := d.confirmLink(t)
		// One mail, however often 「メールをご確認ください」 was reloaded.
		requests := 0
		for _, m := range d.mailsTo(t, satoEmail) {
			if strings.Contains(m.Subject, "復旧申請の確認") {
				requests++
			}
		}
		if requests != 1 {
			t.Errorf("%d recovery request mails went to %s, want 1", requests, satoEmail)
		}

		// A second browser waits at the login page with her password typed,
		// to sign in at once after the confirmation, within the period.
		q := newBrowser(t, d.URL, axe)
		q.open("/login", "ログイン")
		q.typeInto("メールアドレス", satoEmail)
		q.typeInto("パスワード", satoPassword)

		p.navigation(chromedp.Navigate(link), "/recovery-request/confirm", "復旧の申請の確定")
		p.expectText(`//main//p[contains(., "` + satoEmail + ` のアカウントの二要素認証の復旧を申請しています。")]`)
		waitVisible(p, button("申請を確定する"))
		p.screen("80-3-4-recovery-confirm")
		confirmed := time.Now()
		p.clickTo(button("申請を確定する"), "/recovery-request/confirm", "復旧の申請の確定")

		// Before the period: still the app's code.
		q.clickTo(button("続ける"), "/login/code", "ワンタイムパスワードの入力")
		if el := time.Since(confirmed); el >= coolingOff {
			t.Fatalf("the sign-in within the period came %s after the confirmation, not within %s: the test was too slow to tell", el, coolingOff)
		}
		p.expectText(`//p[@role="status" and normalize-space()="申請を確定しました。"]`)
		p.expectText(`//main//p[contains(., "以降にログインすると、二要素認証を設定し直せます。")]`)
		p.screen("80-3-5-recovery-confirmed")
		q.screen("80-3-6-login-code-within-period")

		started := d.waitMail(t, satoEmail, "the recovery_started mail", func(m demoMail) bool {
			return strings.Contains(m.Subject, "復旧申請を受け付けました")
		})
		mailLink(t, started, d.URL+"/not-me?token=")

		// After the period: the sign-in enrols (a bounded poll).
		time.Sleep(time.Until(confirmed.Add(coolingOff + 200*time.Millisecond)))
		deadline := time.Now().Add(15 * time.Second)
		for {
			p.open("/login", "ログイン")
			p.typeInto("メールアドレス", satoEmail)
			p.typeInto("パスワード", satoPassword)
			p.do(chromedp.Click(button("続ける")))
			p.expectText(`//h1[normalize-space()="2要素認証の設定" or normalize-space()="ワンタイムパスワードの入力"]`)
			if run(p, chromedp.Evaluate[string](`location.pathname`)) == "/enrol" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("15 s after the %s period the sign-in still asks for the app's code", coolingOff)
			}
			time.Sleep(500 * time.Millisecond)
		}
		p.arrived("/enrol", "2要素認証の設定")
		p.enrolmentSecret(satoEmail)
		p.screen("80-3-7-enrol-after-period")
		d.waitMail(t, satoEmail, "the security notice of the reset by the recovery", func(m demoMail) bool {
			return strings.Contains(m.Text, "二要素認証の設定がリセットされました。")
		})
	})

	t.Run("not me cancels", func(t *testing.T) {
		t.Parallel()
		// A longer period than the first run's: the report must come within
		// it, after a mail, a page and a click.
		const coolingOff = 15 * time.Second
		d := startDemoWith(t, `{"recovery_cooling_off": "15s"}`)
		key, _ := d.satoKeys(t)
		p := newBrowser(t, d.URL, axe)
		p.requestRecovery(false)
		link := d.confirmLink(t)
		p.navigation(chromedp.Navigate(link), "/recovery-request/confirm", "復旧の申請の確定")
		confirmed := time.Now()
		p.clickTo(button("申請を確定する"), "/recovery-request/confirm", "復旧の申請の確定")
		p.expectText(`//p[@role="status" and normalize-space()="申請を確定しました。"]`)

		// The recovery_started mail's "this was not me" link.
		started := d.waitMail(t, satoEmail, "the recovery_started mail", func(m demoMail) bool {
			return strings.Contains(m.Subject, "復旧申請を受け付けました")
		})
		notMe := mailLink(t, started, d.URL+"/not-me?token=")
		p.navigation(chromedp.Navigate(notMe), "/not-me", notMeTitle)
		p.clickTo(button("ログアウトして報告する"), "/not-me", notMeTitle)
		if el := time.Since(confirmed); el >= coolingOff {
			t.Fatalf("the report came %s after the confirmation, not within the %s period: the test was too slow to tell", el, coolingOff)
		}
		p.expectText(`//p[@role="status" and normalize-space()="` + notMeDone + `"]`)
		p.screen("80-3-8-not-me-done")

		// After the period: still the app's code, which signs her in.
		time.Sleep(time.Until(confirmed.Add(coolingOff + 500*time.Millisecond)))
		p.open("/login", "ログイン")
		p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
		p.screen("80-3-9-login-code-after-cancelled")
		p.typeInto("ワンタイムコードの入力", oathtool(t, key))
		p.clickTo(button("続ける"), "/", "マイページ")
		for _, m := range d.mailsTo(t, satoEmail) {
			if strings.Contains(m.Text, "二要素認証の設定がリセットされました。") {
				t.Errorf("the cancelled recovery still reset her second factor: mail %q", m.Subject)
			}
		}
	})
}

// TestConsoleRecoveryOnCustomerPage: Sato, locked out, asks for recovery and
// calls support. Operator B, answering, opens her page first: it shows her
// request awaiting the mail's link, then, once she followed it, waiting,
// with when its wait ends. The page's link leads to the request's row on
// 「復旧申請」, where B, having verified her, proposes the early approval;
// her page then shows the proposal (who, when, the identity check), and,
// once admin A approved it, 「承認済み (次回ログインで再登録)」.
func TestConsoleRecoveryOnCustomerPage(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const (
		aEmail = "admin-rc@tobira.example"
		bEmail = "support-rc@tobira.example"
		check  = "電話で登録住所と生年月日を確認"
	)
	seedA := d.createOperator(t, aEmail, "管理者 A", "admin")
	seedB := d.createOperator(t, bEmail, "サポート B", "support")

	sato := newBrowser(t, d.URL, axe)
	sato.requestRecovery(false)

	// Her page shows the request, unconfirmed: no wait yet, and the time
	// her mail's link works until.
	b := newBrowser(t, consoleURL, axe)
	b.consoleSignIn(bEmail, seedB, "")
	customerPath := b.satoInConsole()
	recovery := `//main//h2[normalize-space()="二要素認証の復旧申請"]/following-sibling::dl[1][@id="recovery"]`
	dd := func(dt string) string {
		return recovery + `/dt[normalize-space()="` + dt + `"]/following-sibling::dd[1]`
	}
	b.expectText(dd("状態") + `[normalize-space()="メール確認待ち"]`)
	b.expectText(dd("申請日時") + `[contains(., ":")]`)
	b.expectText(dd("確認リンクの期限") + `[contains(., ":")]`)
	b.expectText(`//main//p[normalize-space()="メールのリンクが確認されるまで承認できません。"]`)
	b.screen("80-10-1-console-customer-recovery-unconfirmed")
	// The same on the narrowest phone, with the checks of every console
	// page there (TestConsoleMobile): a code signs in once, so an
	// operator of its own.
	const cEmail = "support-rc-phone@tobira.example"
	seedC := d.createOperator(t, cEmail, "サポート C", "support")
	phone := newMobileBrowser(t, consoleURL, axe, mobileViewports[0])
	phone.consoleSignIn(cEmail, seedC, "")
	phone.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)
	phone.expectText(dd("確認リンクの期限") + `[contains(., ":")]`)
	phone.mobileScreen(mobileViewports[0], "81-40-console-customer-recovery-unconfirmed")

	// Confirmed: it waits out its period.
	sato.navigation(chromedp.Navigate(d.confirmLink(t)), "/recovery-request/confirm", "復旧の申請の確定")
	sato.clickTo(button("申請を確定する"), "/recovery-request/confirm", "復旧の申請の確定")
	b.navigationTo(chromedp.Reload(), 200, customerPath, satoName)
	b.expectText(dd("状態") + `[normalize-space()="待機中"]`)
	b.expectText(dd("有効になる日時") + `[contains(., ":")]`)
	b.screen("80-10-2-console-customer-recovery-waiting")

	// The link opens the request's row on 「復旧申請」, where its actions
	// are: B verified her by phone and proposes.
	b.clickTo(link("復旧申請の一覧でこの申請を開く"), "/recoveries", "二要素認証の復旧申請")
	if row := run(b, chromedp.Evaluate[string](`document.querySelector("tr:target")?.innerText ?? ""`)); !strings.Contains(row, satoEmail) {
		t.Errorf("the link from her page does not lead to her request's row (%s): %q", b.location(), row)
	}
	b.screen("80-10-3-console-recoveries-from-customer")
	b.typeInto("本人確認の方法", check)
	b.clickTo(button("本人確認のうえ早期承認を依頼"), "/recoveries", "二要素認証の復旧申請")
	b.confirmed("の復旧申請の早期承認を依頼しますか？")
	b.expectText(`//p[@role="status" and starts-with(normalize-space(), "早期承認を依頼しました。")]`)
	b.navigationTo(chromedp.Click(link(satoEmail)), 200, customerPath, satoName)
	b.expectText(dd("状態") + `[contains(., "待機中") and contains(., "` + bEmail + ` が") and contains(., "に早期承認を依頼 (別のオペレーターの承認待ち)")` +
		` and contains(., "本人確認: ` + check + `") and not(contains(., "operator:"))]`)
	b.screen("80-10-4-console-customer-recovery-proposed")

	// A approves on the list; her page says the wait is over.
	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	a.open("/recoveries", "二要素認証の復旧申請")
	a.clickTo(button("早期承認を承認"), "/recoveries", "二要素認証の復旧申請")
	a.confirmed(bEmail + " の本人確認にもとづき、")
	a.expectText(`//p[@role="status" and normalize-space()="復旧申請を早期承認しました。次回のログインで再登録できます。"]`)
	a.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)
	a.expectText(dd("状態") + `[contains(., "承認済み (次回ログインで再登録)") and contains(., "` + bEmail + ` が依頼し、` + aEmail + ` が早期承認")` +
		` and not(contains(., "待機中"))]`)
	a.screen("80-10-5-console-customer-recovery-approved")

	// In English too.
	a.lang = "en"
	a.navigationTo(chromedp.Click(button("English")), 200, customerPath, satoName)
	a.expectText(`//main//h2[normalize-space()="Second-factor recovery request"]/following-sibling::dl[1][@id="recovery"]` +
		`/dd[contains(., "approved: enrols anew at the next sign-in")]`)
	waitVisible(a, link("Open this request in the recovery requests"))
	a.screen("80-10-6-console-en-customer-recovery-approved")

	// Her next sign-in enrols anew; the request is done, and her page
	// shows none pending.
	sato.open("/login", "ログイン")
	sato.signIn(satoEmail, satoPassword, "/enrol", "2要素認証の設定")
	b.navigationTo(chromedp.Reload(), 200, customerPath, satoName)
	b.expectText(`//main//h2[normalize-space()="二要素認証の復旧申請"]/following-sibling::p[1][normalize-space()="処理待ちの申請はありません。"]`)
}

// TestConsoleRecoveryWaitOver: Sato's recovery request waits out its
// period (two seconds here) with nobody approving it early. It stays
// pending until her next sign-in: her page in the console says
// 「待機期間終了 (次回ログインで再登録)」, not 「待機中」, and that no early
// approval is needed, and its row on 「復旧申請」 offers none. Her next
// sign-in enrols anew, and the request is gone from her page.
func TestConsoleRecoveryWaitOver(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	const coolingOff = 2 * time.Second
	d := startDemoWith(t, `{"recovery_cooling_off": "2s"}`)
	consoleURL := d.consoleURL(t)
	const bEmail = "support-wo@tobira.example"
	seedB := d.createOperator(t, bEmail, "サポート B", "support")

	sato := newBrowser(t, d.URL, axe)
	sato.requestRecovery(false)
	sato.navigation(chromedp.Navigate(d.confirmLink(t)), "/recovery-request/confirm", "復旧の申請の確定")
	sato.clickTo(button("申請を確定する"), "/recovery-request/confirm", "復旧の申請の確定")
	sato.expectText(`//p[@role="status" and normalize-space()="申請を確定しました。"]`)
	// Confirmed by now: its period is over once that much more has passed
	// (a wait, not a timed assertion: nothing below depends on being quick).
	confirmed := time.Now()

	b := newBrowser(t, consoleURL, axe)
	b.consoleSignIn(bEmail, seedB, "")
	time.Sleep(time.Until(confirmed.Add(coolingOff + 200*time.Millisecond)))
	customerPath := b.satoInConsole()
	recovery := `//main//h2[normalize-space()="二要素認証の復旧申請"]/following-sibling::dl[1][@id="recovery"]`
	b.expectText(recovery + `/dt[normalize-space()="状態"]/following-sibling::dd[1][normalize-space()="待機期間終了 (次回ログインで再登録)"]`)
	b.expectText(`//main//p[starts-with(normalize-space(), "待機期間が終わっているため、早期承認は不要です。")]`)
	b.screen("80-11-1-console-customer-recovery-wait-over")

	b.clickTo(link("復旧申請の一覧でこの申請を開く"), "/recoveries", "二要素認証の復旧申請")
	row := run(b, chromedp.Evaluate[string](`document.querySelector("tr:target")?.innerText ?? ""`))
	if !strings.Contains(row, satoEmail) || !strings.Contains(row, "待機期間終了 (次回ログインで再登録)") || strings.Contains(row, "待機中") {
		t.Errorf("her request's row on 「復旧申請」 does not say its wait is over: %q", row)
	}
	if n := run(b, chromedp.Evaluate[int](`document.querySelectorAll("tr:target button, tr:target input").length`)); n != 0 {
		t.Errorf("her request's row offers %d button(s) or field(s) once its wait is over", n)
	}
	b.screen("80-11-2-console-recoveries-wait-over")

	// Her next sign-in enrols anew; nothing is pending any more.
	sato.open("/login", "ログイン")
	sato.signIn(satoEmail, satoPassword, "/enrol", "2要素認証の設定")
	b.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)
	b.expectText(`//main//h2[normalize-space()="二要素認証の復旧申請"]/following-sibling::p[1][normalize-space()="処理待ちの申請はありません。"]`)
}

// ---------------------------------------------------------------------------
// 4. Operators

// TestOperatorManagement: an admin disables a support operator from the
// console, which signs that operator out at once, enables them again, and
// gives them a new authenticator key, shown once as a QR code and as text,
// with which they sign in while the old key no longer works. A support
// operator has no such page.
func TestOperatorManagement(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const (
		aEmail = "admin-ops@tobira.example"
		bEmail = "support-ops@tobira.example"
	)
	seedA := d.createOperator(t, aEmail, "管理者 伊藤", "admin")
	seedB := d.createOperator(t, bEmail, "サポート 渡辺", "support")

	b := newBrowser(t, consoleURL, axe)
	b.consoleSignIn(bEmail, seedB, "")
	if n := run(b, chromedp.Evaluate[int](`document.querySelectorAll('nav a[href="/operators"]').length`)); n != 0 {
		t.Errorf("a support operator's navigation links the operators page")
	}
	// Every operator sees the sites that sign in through the portal.
	b.clickTo(link("連携サイト"), "/sites", "連携サイト")
	invoicesRow := `//table//tr[td[starts-with(normalize-space(), "適格請求書閲覧サイト")]]`
	b.expectText(invoicesRow + `/td[starts-with(normalize-space(), "機密クライアント")]`)
	b.expectText(invoicesRow + `//span[normalize-space()="通知あり"]`)
	b.expectText(`//table//tr/td[starts-with(normalize-space(), "申込／契約確認サイト")]`)
	b.screen("80-4-0-console-sites")

	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	a.clickTo(link("オペレーター"), "/operators", "オペレーター")
	row := `//table//tr[td[normalize-space()="` + bEmail + `"]]`
	a.expectText(row + `/td[normalize-space()="サポート"]`)
	a.expectText(row + `//span[normalize-space()="有効"]`)
	a.expectText(`//table//tr[td[normalize-space()="` + aEmail + `"]]//*[normalize-space()="ご自身のアカウント"]`)
	a.screen("80-4-1-console-operators")

	a.clickTo(chromedp.Search(row+`//button[normalize-space()="停止"]`), "/operators", "オペレーター")
	a.confirmed("(" + bEmail + ") を停止しますか？")
	a.expectText(`//p[@role="status" and normalize-space()="オペレーターを停止しました。ログイン中のセッションは終了しました。"]`)
	a.expectText(row + `//span[normalize-space()="停止中"]`)
	a.screen("80-4-2-console-operator-disabled")
	// B's next page is the sign-in.
	b.open("/login", consoleLoginTitle)
	b.openTo("/customers", "/login", consoleLoginTitle)

	a.clickTo(chromedp.Search(row+`//button[normalize-space()="再開"]`), "/operators", "オペレーター")
	a.expectText(`//p[@role="status" and normalize-space()="オペレーターを再開しました。"]`)
	a.expectText(row + `//span[normalize-space()="有効"]`)

	// A new key, for B who lost the phone.
	a.navigationTo(chromedp.Click(chromedp.Search(row+`//button[normalize-space()="認証アプリを再発行"]`)), 200, "/operators/", "認証アプリの新しいキー")
	a.confirmed("(" + bEmail + ") の認証アプリを再発行しますか？")
	key := a.shownKey("operator-qr", "operator-key", func(secret string) string {
		return "otpauth://totp/Tobira%20console:" + bEmail + "?secret=" + secret + "&issuer=Tobira%20console&algorithm=SHA1&digits=6&period=30"
	})
	if key == seedB {
		t.Fatalf("the new key page shows %q (the old key is %s)", key, seedB)
	}
	a.screen("80-4-3-console-operator-new-key")

	// The old key's code is refused, the new key's signs in.
	b.open("/login", consoleLoginTitle)
	b.typeInto("メールアドレス", bEmail)
	b.typeInto("パスワード", operatorPassword)
	b.clickTo(button("続ける"), "/login/code", consoleCodeTitle)
	b.typeInto("6桁のコード", oathtool(t, seedB))
	b.navigationStatus(chromedp.Click(button("ログイン")), 401, "/login/code", consoleCodeTitle)
	b.consoleSignIn(bEmail, key, "")
}

// TestOperatorOnboarding: an admin adds an operator in the console, which
// shows a one-time password and an authenticator key once; the new
// operator's first sign-in opens nothing but 「パスワードの変更」, and their
// own password then signs in. Later they forget it: the admin's
// 「パスワードを再発行」 ends their session and gives a one-time password again.
func TestOperatorOnboarding(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const (
		aEmail = "admin-onboard@tobira.example"
		nEmail = "newcomer@tobira.example"
		own    = "my own console passphrase"
	)
	seedA := d.createOperator(t, aEmail, "管理者 小林", "admin")

	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	a.clickTo(link("オペレーター"), "/operators", "オペレーター")
	a.clickTo(link("オペレーターを追加"), "/operators/new", "オペレーターを追加")
	a.typeInto("メールアドレス", nEmail)
	a.typeInto("氏名", "新人 加藤")
	a.do(chromedp.SetValue(chromedp.ID("role"), "support"))
	a.screen("80-7-1-console-operator-new")
	a.navigationTo(chromedp.Click(button("追加する")), 200, "/operators/handover", "オペレーターを追加しました")
	oneTime := run(a, chromedp.Text(chromedp.ID("operator-password")))
	if !regexp.MustCompile(`^[a-zA-Z2-9]{4}(-[a-zA-Z2-9]{4}){3}$`).MatchString(oneTime) {
		t.Fatalf("the one-time password shown: %q", oneTime)
	}
	seedN := a.shownKey("operator-qr", "operator-key", func(secret string) string {
		return "otpauth://totp/Tobira%20console:" + nEmail + "?secret=" + secret + "&issuer=Tobira%20console&algorithm=SHA1&digits=6&period=30"
	})
	a.screen("80-7-2-console-operator-added")
	// The page is a GET of its own: a reload shows the same password
	// again, where it sent the form again and was told the address is
	// taken, the password and key lost.
	a.navigationTo(chromedp.Reload(), 200, "/operators/handover", "オペレーターを追加しました")
	if again := run(a, chromedp.Text(chromedp.ID("operator-password"))); again != oneTime {
		t.Fatalf("the reloaded page shows the one-time password %q, first %q", again, oneTime)
	}

	// The first sign-in asks for the operator's own password, and for nothing else.
	n := newBrowser(t, consoleURL, axe)
	n.open("/login", consoleLoginTitle)
	n.typeInto("メールアドレス", nEmail)
	n.typeInto("パスワード", oneTime)
	n.clickTo(button("続ける"), "/login/code", consoleCodeTitle)
	n.typeInto("6桁のコード", oathtool(t, seedN))
	n.clickTo(button("ログイン"), "/password", "パスワードの変更")
	n.expectText(`//p[@role="status" and contains(normalize-space(), "一時パスワードでログインしています")]`)
	n.screen("80-7-3-console-password-forced")
	n.openTo("/customers", "/password", "パスワードの変更")
	n.typeInto("現在のパスワード", oneTime)
	n.typeInto("新しいパスワード", own)
	n.typeInto("新しいパスワード (確認)", own+"!")
	n.navigationStatus(chromedp.Click(button("変更する")), 422, "/password", "パスワードの変更")
	n.expectAlert("新しいパスワードと確認用のパスワードが一致しません。")
	n.typeInto("現在のパスワード", oneTime)
	n.typeInto("新しいパスワード", own)
	n.typeInto("新しいパスワード (確認)", own)
	n.clickTo(button("変更する"), "/customers", consoleCustomers)
	n.expectText(`//p[@role="status" and starts-with(normalize-space(), "パスワードを変更しました。")]`)

	// Forgotten: the admin issues a one-time password again.
	row := `//table//tr[td[normalize-space()="` + nEmail + `"]]`
	a.clickTo(link("オペレーター"), "/operators", "オペレーター")
	a.navigationTo(chromedp.Click(chromedp.Search(row+`//button[normalize-space()="パスワードを再発行"]`)), 200, "/operators/", "一時パスワードを発行しました")
	a.confirmed("(" + nEmail + ") のパスワードを再発行しますか？")
	again := run(a, chromedp.Text(chromedp.ID("operator-password")))
	if again == oneTime || again == "" {
		t.Fatalf("the reset's one-time password: %q (the first was %q)", again, oneTime)
	}
	a.screen("80-7-4-console-password-reset")
	n.openTo("/customers", "/login", consoleLoginTitle)
	n.typeInto("メールアドレス", nEmail)
	n.typeInto("パスワード", again)
	n.clickTo(button("続ける"), "/login/code", consoleCodeTitle)
}

// ---------------------------------------------------------------------------
// Helpers of the console journeys

// consoleURL is the console's address, as the demo printed it.
func (d *demo) consoleURL(t *testing.T) string {
	t.Helper()
	return d.printedURL(t, "オペレーターコンソール / Operator console")
}

var operatorSecretLine = regexp.MustCompile(`(?m)^secret: ([A-Z2-7]+)\s*$`)

// createOperator runs `tobira operators create` on the demo's data folder
// and returns the TOTP key it printed.
func (d *demo) createOperator(t *testing.T, email, name, role string) string {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(operatorPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := d.operator(t, "operators", "create", "--email", email, "--name", name, "--role", role,
		"--password-file", pw, "--data", d.data)
	m := operatorSecretLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("operators create printed no secret:\n%s", out)
	}
	return m[1]
}

// consoleSignIn signs in to the console: email and password, then the code.
func (p *page) consoleSignIn(email, seed, shot string) {
	p.t.Helper()
	p.open("/login", consoleLoginTitle)
	if shot != "" {
		p.screen(shot)
	}
	p.typeInto("メールアドレス", email)
	p.typeInto("パスワード", operatorPassword)
	p.clickTo(button("続ける"), "/login/code", consoleCodeTitle)
	p.typeInto("6桁のコード", oathtool(p.t, seed))
	p.clickTo(button("ログイン"), "/customers", consoleCustomers)
}

// navigationTo is navigation for a page whose path starts with prefix and
// whose heading contains h1; it returns the path.
func (p *page) navigationTo(a chromedp.Action[chromedp.Void], want int, prefix, h1 string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		p.t.Fatalf("browser: %v (at %s, expecting %s)", err, p.location(), prefix)
	}
	if resp == nil || int(resp.Status) != want {
		status := 0
		if resp != nil {
			status = int(resp.Status)
		}
		p.t.Fatalf("expected %s... with status %d; got status %d at %s", prefix, want, status, p.location())
	}
	p.expectText(`//h1[contains(normalize-space(), "` + h1 + `")]`)
	p.do(chromedp.Poll[chromedp.Void](`document.readyState === "complete"`))
	path := run(p, chromedp.Evaluate[string](`location.pathname`))
	if !strings.HasPrefix(path, prefix) {
		p.t.Fatalf("expected a page under %s, the browser is at %s", prefix, p.location())
	}
	return path
}

// scheduleWindow fills the console's form (datetime-local, Japan time)
// and schedules the window.
func (p *page) scheduleWindow(start, end time.Time, reasonJA, reasonEN string) {
	p.t.Helper()
	const local = "2006-01-02T15:04"
	p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("start").value = %q; document.getElementById("end").value = %q`,
		start.In(webkit.JST).Format(local), end.In(webkit.JST).Format(local))))
	p.typeInto("理由 (日本語)", reasonJA)
	p.typeInto("理由 (英語)", reasonEN)
	p.clickTo(button("予定する"), "/maintenance", consoleMaint)
	p.expectText(`//p[@role="status" and normalize-space()="メンテナンスを予定しました。"]`)
}

// requestRecovery is 「デバイスを紛失した場合」 from Sato's code step.
func (p *page) requestRecovery(shots bool) {
	p.t.Helper()
	shot := func(name string) {
		if shots {
			p.screen(name)
		}
	}
	p.open("/login", "ログイン")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
	shot("80-3-1-methods")
	p.clickTo(link("デバイスを紛失した場合 (復旧の申請)"), "/login/lockedout", "二要素認証の復旧の申請")
	waitVisible(p, button("復旧を申請する"))
	shot("80-3-2-lockedout")
	p.clickTo(button("復旧を申請する"), "/login/lockedout", "メールをご確認ください")
	p.expectText(`//main//p[normalize-space()="確認のメールを送りました。メールのリンクを1時間以内に開いて、申請を確定してください。"]`)
	shot("80-3-3-lockedout-sent")
	// The request is answered with a page of its own: a reload shows it
	// again, and sends no second mail whose link would void the first.
	p.navigation(chromedp.Reload(), "/login/lockedout", "メールをご確認ください")
}

// confirmLink is the link of Sato's recovery request mail.
func (d *demo) confirmLink(t *testing.T) string {
	t.Helper()
	m := d.waitMail(t, satoEmail, "the recovery request mail", func(m demoMail) bool {
		return strings.Contains(m.Subject, "復旧申請の確認")
	})
	return mailLink(t, m, d.URL+"/recovery-request/confirm?token=")
}

// httpGet is a plain GET in Japanese, its body read and closed.
func httpGet(t *testing.T, u string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Language", "ja")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

// TestEraseAccount: an admin erases a customer who asked to leave, typing
// the address again; the customer's sign-in stops working, and the account
// shows as erased with its contracts kept.
func TestEraseAccount(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const aEmail = "admin-erase@tobira.example"
	seedA := d.createOperator(t, aEmail, "管理者 佐々木", "admin")

	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	customerPath := a.satoInConsole()
	a.typeInto("確認のため、この顧客のメールアドレスを入力してください", "someone@example.jp")
	a.typeInto("削除の理由（本人からの退会・削除の申し出など。監査ログに残ります）", "本人から退会の申し出（電話、本人確認済み）")
	a.navigationTo(chromedp.Click(button("アカウントを削除")), 422, customerPath+"/erase", satoName)
	a.expectText(`//p[@role="alert" and normalize-space()="入力されたメールアドレスがこの顧客のものと一致しません。削除していません。"]`)
	a.screen("80-5-1-console-erase-mismatch")

	// Nothing was erased, and the form is empty again.
	a.typeInto("確認のため、この顧客のメールアドレスを入力してください", satoEmail)
	a.typeInto("削除の理由（本人からの退会・削除の申し出など。監査ログに残ります）", "本人から退会の申し出（電話、本人確認済み）")
	a.navigationTo(chromedp.Click(button("アカウントを削除")), 200, customerPath, "削除済みのアカウント")
	a.expectText(`//p[@role="status" and normalize-space()="アカウントを削除しました。各サイトのログインも終了しました。"]`)
	a.expectText(`//dl//dd//span[normalize-space()="削除済み"]`)
	a.expectText(`//table//td[starts-with(normalize-space(), "C-")]`)
	a.screen("80-5-2-console-erased")

	// Her address and password sign in no more.
	sato := newBrowser(t, d.URL, axe)
	sato.open("/login", "ログイン")
	sato.typeInto("メールアドレス", satoEmail)
	sato.typeInto("パスワード", satoPassword)
	sato.navigationStatus(chromedp.Click(button("続ける")), 401, "/login", "ログイン")
}

// ---------------------------------------------------------------------------
// 6. The audit log

// TestConsoleAuditLog: from a customer's page, the operator opens the
// customer's audit log, whose actions read as Japanese labels with their
// codes beside; once the customer is erased, the email finds nothing and
// says to use the customer ID, and the customer page's link still leads to
// the log, its rows marked 削除済み; the log filters by the operator who
// acted and the action, both chosen from lists.
func TestConsoleAuditLog(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const aEmail = "admin-audit@tobira.example"
	seedA := d.createOperator(t, aEmail, "管理者 監査", "admin")

	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	customerPath := a.satoInConsole()
	accountID := strings.TrimPrefix(customerPath, "/customers/")
	// 250 wrong passwords of hers, straight into the demo's database: more
	// than a page of the log.
	db, err := sqlstore.OpenSQLite(filepath.Join(d.data, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 250 {
		ev := store.AuditEvent{At: time.Now().Add(time.Duration(i) * time.Millisecond), AccountID: accountID, Actor: "customer",
			Action: store.ActionSignInPassword, Outcome: "fail", ClientIP: "203.0.113.9", Detail: fmt.Sprintf("wrong password %d", i)}
		if err := db.AppendAudit(t.Context(), &ev); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	a.clickTo(link("この顧客の監査ログをすべて表示"), "/audit", "監査ログ")
	a.expectText(`//input[@id="account" and @value="` + accountID + `"]`)
	a.expectText(`//table//td[@title="signin.password" and contains(., "パスワードの確認") and .//code[normalize-space()="signin.password"]]`)
	rows := func() int { return run(a, chromedp.Evaluate[int](`document.querySelectorAll("main tbody tr").length`)) }
	if n := rows(); n != 200 {
		t.Errorf("the first page of her log has %d rows, want 200", n)
	}
	a.screen("80-6-1-console-audit-customer")
	a.clickTo(link("次の200件 (古い記録) →"), "/audit", "監査ログ")
	a.expectText(`//table//td[@title="account.open" and contains(., "アカウントの開設")]`)
	a.expectText(`//input[@id="account" and @value="` + accountID + `"]`)
	if n := rows(); n != 51 {
		t.Errorf("the second page of her log has %d rows, want 51", n)
	}
	a.screen("80-6-2-console-audit-next-page")
	a.clickTo(link("← 前の200件 (新しい記録)"), "/audit", "監査ログ")
	a.expectText(`//table//td[normalize-space()="wrong password 249"]`)
	if n := rows(); n != 200 {
		t.Errorf("back on the first page: %d rows, want 200", n)
	}

	// Erased: her address names no account any more.
	a.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)
	a.typeInto("確認のため、この顧客のメールアドレスを入力してください", satoEmail)
	a.typeInto("削除の理由（本人からの退会・削除の申し出など。監査ログに残ります）", "本人から退会の申し出（電話、本人確認済み）")
	a.navigationTo(chromedp.Click(button("アカウントを削除")), 200, customerPath, "削除済みのアカウント")
	a.clickTo(link("監査ログ"), "/audit", "監査ログ")
	a.typeInto("顧客のメールアドレス", satoEmail)
	a.clickTo(button("絞り込む"), "/audit", "監査ログ")
	a.expectText(`//main//p[contains(., "顧客 ID で絞り込んでください")]`)

	// The customer page still leads to her log, by her id.
	a.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, "削除済みのアカウント")
	a.clickTo(link("この顧客の監査ログをすべて表示"), "/audit", "監査ログ")
	row := `//table//tr[td[@title="account.erase" and contains(., "アカウントの削除")]]`
	a.expectText(row + `/td[@title="operator:` + aEmail + `" and normalize-space()="` + aEmail + `"]`)
	a.expectText(row + `/td[.//span[normalize-space()="削除済み"] and .//a[normalize-space()="` + accountID + `"]]`)
	a.screen("80-6-3-console-audit-erased")

	// By the operator and the action, chosen from the lists.
	a.clickTo(link("監査ログ"), "/audit", "監査ログ")
	a.do(chromedp.SetValue(chromedp.ID("operator"), aEmail), chromedp.SetValue(chromedp.ID("action"), "console.signin"))
	a.clickTo(button("絞り込む"), "/audit", "監査ログ")
	a.expectText(`//table//tr/td[@title="console.signin" and contains(., "コンソールへのログイン")]`)
	if n := run(a, chromedp.Evaluate[int](`[...document.querySelectorAll("main tbody tr")].filter(r => !r.textContent.includes("`+aEmail+`") || !r.textContent.includes("console.signin")).length`)); n != 0 {
		t.Errorf("the log by operator and action shows %d other row(s)", n)
	}
	if got := run(a, chromedp.Evaluate[string](`location.search`)); !strings.Contains(got, "operator=admin-audit%40tobira.example") || !strings.Contains(got, "action=console.signin") {
		t.Errorf("the filter's address is %s", got)
	}
	a.screen("80-6-4-console-audit-operator")
}

// ---------------------------------------------------------------------------
// 7. The code asked again

// TestConsoleReauth: with console_reauth_after at 1s, an admin whose code
// is older than that erases Sato: the console asks for the code again
// (「認証コードの再確認」, 403) instead of erasing, keeping what was typed in
// the form; the code from the app, typed once, erases her in that one
// submit.
func TestConsoleReauth(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	const window = time.Second
	d := startDemoWith(t, `{"console_reauth_after": "1s"}`)
	consoleURL := d.consoleURL(t)
	const aEmail = "admin-reauth@tobira.example"
	seedA := d.createOperator(t, aEmail, "管理者 高橋", "admin")

	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	signedIn := time.Now()
	customerPath := a.satoInConsole()
	a.typeInto("確認のため、この顧客のメールアドレスを入力してください", satoEmail)
	a.typeInto("削除の理由（本人からの退会・削除の申し出など。監査ログに残ります）", `本人から退会の申し出 "<確認済み>"`)
	// The operator leaves the screen longer than the window.
	time.Sleep(time.Until(signedIn.Add(window + 200*time.Millisecond)))
	a.navigationTo(chromedp.Click(button("アカウントを削除")), 403, customerPath+"/erase", "認証コードの再確認")
	a.expectText(`//main//p[contains(., "認証アプリのコードをもう一度入力していただく必要があります")]`)
	if got := run(a, chromedp.Evaluate[string](`document.querySelector('main form input[name="erase_reason"]').value`)); got != `本人から退会の申し出 "<確認済み>"` {
		t.Errorf("the confirmation page carries the reason %q", got)
	}
	// The way back is her page with the search it was opened from.
	a.expectText(`//main//a[normalize-space()="実行せずに戻る" and @href="` + customerPath + "?q=" + url.QueryEscape(satoEmail) + `"]`)
	a.screen("80-9-1-console-reauth")

	// Not erased: her page, seen by a colleague, is as it was.
	const bEmail = "support-reauth@tobira.example"
	seedB := d.createOperator(t, bEmail, "サポート 中村", "support")
	other := newBrowser(t, consoleURL, axe)
	other.consoleSignIn(bEmail, seedB, "")
	other.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)

	// The sign-ins used this step's code: the next step's (accepted, and
	// after the stored step) spares waiting for a new one.
	a.typeInto("6桁のコード", oathtool(t, seedA, "-N", "now + 30 seconds"))
	a.navigationTo(chromedp.Click(button("確認して実行")), 200, customerPath, "削除済みのアカウント")
	a.expectText(`//p[@role="status" and normalize-space()="アカウントを削除しました。各サイトのログインも終了しました。"]`)
	// 「検索に戻る」 still goes back to the search.
	a.expectText(`//main//a[normalize-space()="← 検索に戻る" and @href="/customers?q=` + url.QueryEscape(satoEmail) + `"]`)
	a.screen("80-9-2-console-reauth-erased")
}
