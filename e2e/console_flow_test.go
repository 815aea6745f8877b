package e2e

// The console without script, and when its sign-in ends: a destructive
// action asks on a confirmation page of its own; a page asked for after
// the sign-in ended says so and comes back after the sign-in; a form sent
// then is not acted on, and says so. Screenshots go to output/80-11-*.png.

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const consoleConfirmTitle = "操作の確認"

// TestConsoleConfirmWithoutScript: with script off, 「承認」 of a reset and
// 「中止」 of a maintenance window open a confirmation page that says what
// will happen; its way back does nothing, its button does it. A customer
// with no second factor is offered no reset, and a ?done= address shows
// no notice.
func TestConsoleConfirmWithoutScript(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const (
		aEmail = "admin-noscript@tobira.example"
		bEmail = "support-noscript@tobira.example"
	)
	seedA := d.createOperator(t, aEmail, "管理者 中村", "admin")
	seedB := d.createOperator(t, bEmail, "サポート 小林", "support")

	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(aEmail, seedA, "")
	// Yamada has no second factor: nothing to reset, and no form for it.
	a.typeInto("メールアドレス・氏名・契約番号・申込番号", yamadaEmail)
	a.clickTo(button("検索"), "/customers", consoleCustomers)
	a.navigationTo(chromedp.Click(link(yamadaEmail)), 200, "/customers/", yamadaName)
	a.expectText(`//main//p[normalize-space()="このお客さまは二要素認証を登録していないため、リセットするものはありません。"]`)
	if n := run(a, chromedp.Evaluate[int](`[...document.querySelectorAll("main button")].filter(b => b.textContent.trim() === "二要素認証のリセットを依頼").length`)); n != 0 {
		t.Errorf("the page of a customer without a factor offers %d reset request button(s)", n)
	}
	a.screen("80-11-1-console-customer-nothing-to-reset")

	a.open("/customers", consoleCustomers)
	customerPath := a.satoInConsole()
	a.typeInto("リセットの理由 (必須)", "本人から電話で端末紛失の申告あり")
	a.navigationTo(chromedp.Click(button("二要素認証のリセットを依頼")), 200, customerPath, satoName)

	// B approves without script.
	b := newBrowser(t, consoleURL, axe)
	b.consoleSignIn(bEmail, seedB, "")
	b.setScripts(false)
	b.open("/resets", consoleResets)
	row := `//table//tr[td//a[normalize-space()="` + satoEmail + `"]]`
	b.navigationTo(chromedp.Click(chromedp.Search(row+`//button[normalize-space()="承認"]`)), 200, "/resets/", consoleConfirmTitle)
	b.expectText(`//main//p[normalize-space()="` + satoEmail + ` の二要素認証をリセットしますか？ 登録済みの認証方法とリカバリーコードが削除されます。"]`)
	b.setScripts(true) // for axe-core; the page has loaded without script
	b.screen("80-11-2-console-confirm-reset")
	b.clickTo(link("実行せずに戻る"), "/resets", consoleResets)
	b.expectText(row + `//button[normalize-space()="承認"]`)
	b.setScripts(false)
	b.navigationTo(chromedp.Click(chromedp.Search(row+`//button[normalize-space()="承認"]`)), 200, "/resets/", consoleConfirmTitle)
	b.clickTo(button("承認"), "/resets", consoleResets)
	b.expectText(`//p[@role="status" and normalize-space()="リセットを承認し、二要素認証をリセットしました。お客さまに通知しました。"]`)
	b.expectText(`//main//p[normalize-space()="承認待ちの依頼はありません。"]`)
	// The notice was once: the page again, or a ?done= address, has none.
	b.navigation(chromedp.Navigate(consoleURL+"/resets?done=reset_approved"), "/resets", consoleResets)
	if n := run(b, chromedp.Evaluate[int](`document.querySelectorAll('[role="status"]').length`)); n != 0 {
		t.Errorf("/resets?done=reset_approved shows %d notice(s)", n)
	}

	// A cancels a maintenance window without script.
	a.clickTo(link("メンテナンス"), "/maintenance", consoleMaint)
	start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	a.scheduleWindow(start, start.Add(2*time.Hour), "設備更新", "Equipment upgrade")
	a.setScripts(false)
	a.open("/maintenance", consoleMaint)
	a.navigationTo(chromedp.Click(button("中止")), 200, "/maintenance/", consoleConfirmTitle)
	a.expectText(`//main//p[starts-with(normalize-space(), "このメンテナンス (") and contains(., "を中止しますか？")]`)
	a.setScripts(true)
	a.screen("80-11-3-console-confirm-maintenance")
	a.clickTo(button("中止"), "/maintenance", consoleMaint)
	a.expectText(`//p[@role="status" and normalize-space()="メンテナンスを中止しました。"]`)
}

// TestConsoleSessionEnded: a customer's page asked for once the console's
// sign-in ended says so on the sign-in page and comes back after the
// password and the code; a form sent then (a lock) is not acted on, the
// sign-in says so, and comes back to the customer's page.
func TestConsoleSessionEnded(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)
	const (
		email      = "support-ended@tobira.example"
		otherEmail = "support-ended-2@tobira.example"
	)
	seed := d.createOperator(t, email, "サポート 加藤", "support")
	otherSeed := d.createOperator(t, otherEmail, "サポート 吉田", "support")

	// signInAgain signs in from the sign-in page, with a code of the next
	// step (the first sign-in's is taken), and lands at landing.
	signInAgain := func(p *page, email, seed, landing string) {
		p.typeInto("メールアドレス", email)
		p.typeInto("パスワード", operatorPassword)
		p.clickTo(button("続ける"), "/login/code", consoleCodeTitle)
		p.typeInto("6桁のコード", oathtool(t, seed, "-N", "now + 30 seconds"))
		p.navigationTo(chromedp.Click(button("ログイン")), 200, landing, satoName)
	}

	p := newBrowser(t, consoleURL, axe)
	p.consoleSignIn(email, seed, "")
	customerPath := p.satoInConsole()
	p.endSession(consoleURL)
	p.openTo(customerPath, "/login", consoleLoginTitle)
	p.expectText(`//p[@role="alert" and normalize-space()="ログインの有効期限が切れました。もう一度ログインしてください。"]`)
	p.screen("80-11-4-console-session-ended")
	signInAgain(p, email, seed, customerPath)

	q := newBrowser(t, consoleURL, axe)
	q.consoleSignIn(otherEmail, otherSeed, "")
	q.satoInConsole()
	q.endSession(consoleURL)
	q.typeInto("ロックの理由", "盗難の届出")
	q.clickTo(button("アカウントをロック"), "/login", consoleLoginTitle)
	q.expectText(`//p[@role="alert" and contains(normalize-space(), "操作は行われていません。")]`)
	q.screen("80-11-5-console-session-ended-form")
	signInAgain(q, otherEmail, otherSeed, customerPath)
	if n := run(q, chromedp.Evaluate[int](`[...document.querySelectorAll("main .badge")].filter(b => b.textContent.trim() === "ロック中").length`)); n != 0 {
		t.Error("a lock sent after the sign-in ended locked the customer")
	}
}

// endSession gives the console's cookie a value no session has: the
// browser's sign-in ended (its idle timeout, an admin's action) as far as
// the console can tell.
func (p *page) endSession(consoleURL string) {
	p.t.Helper()
	yes := true
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "tobira_console", Value: "ended",
			URL: consoleURL + "/", Path: "/", HTTPOnly: &yes, SameSite: network.CookieSameSiteStrict})
		return err
	}))
}
