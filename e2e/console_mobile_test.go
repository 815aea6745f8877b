package e2e

// Support staff answer a customer's call from a phone now and then.
// TestConsoleMobile walks every page of the operator console on the
// narrowest phone and at 200 % zoom of TestMobileScreens (the 390 px
// phone lays out as the 360 px one), with the same checks (the
// mobileChecks): no sideways scrolling (the lists read as cards), tap
// targets of 44 px, type of 16 px in fields, the focus on the field an
// error names, and at 200 % zoom the keyboard's walk through each page.
// Screenshots are output/m<viewport>-81-*.png; p.screen runs axe-core on
// each.

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tobira/tobira/internal/webkit"
)

// TestConsoleMobile: an admin signs in (a wrong password, a wrong code,
// the right one sent with Enter), opens an account, searches (Enter),
// opens customers (with the links from Sato's page to the rows of her
// reset and recovery requests), the audit log, the resets and recoveries
// waiting, the operators with the pages that hand over a password and a
// key, the sites, maintenance and their own password (with its error), each page through
// 「メニュー」; on the narrowest phone the lists again in English. Sato's
// recovery is proposed for early approval by one operator and, once the
// phones have seen it waiting, approved by another.
func TestConsoleMobile(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)

	// What the pages list: a reset another operator asked for (so the
	// admin may approve it), Sato's confirmed recovery request with its
	// early approval another operator proposed, a maintenance window.
	const bEmail = "support-mobile@tobira.example"
	seedB := d.createOperator(t, bEmail, "サポート 中村", "support")
	b := newBrowser(t, consoleURL, axe)
	b.consoleSignIn(bEmail, seedB, "")
	customerPath := b.satoInConsole()
	b.typeInto("リセットの理由 (必須)", "本人から電話で機種変更の申告あり (本人確認済み)")
	b.navigationTo(chromedp.Click(button("二要素認証のリセットを依頼")), 200, customerPath, satoName)

	sato := newBrowser(t, d.URL, axe)
	sato.requestRecovery(false)
	sato.navigation(chromedp.Navigate(d.confirmLink(t)), "/recovery-request/confirm", "復旧の申請の確定")
	sato.clickTo(button("申請を確定する"), "/recovery-request/confirm", "復旧の申請の確定")

	// B verified Sato by phone and proposes to end her wait early: it
	// takes a second operator, so the admins below find the proposal
	// waiting for them, and B can only withdraw it.
	b.open("/recoveries", "二要素認証の復旧申請")
	b.typeInto("本人確認の方法", "電話で登録住所と生年月日を確認")
	b.clickTo(button("本人確認のうえ早期承認を依頼"), "/recoveries", "二要素認証の復旧申請")
	b.confirmed("の復旧申請の早期承認を依頼しますか？ 別のオペレーターが承認すると")
	b.expectText(`//p[@role="status" and starts-with(normalize-space(), "早期承認を依頼しました。")]`)
	b.expectText(`//main//td[contains(., "自分の依頼")]`)
	waitVisible(b, button("取り下げ"))

	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)
	jst := func(t time.Time) string { return t.In(webkit.JST).Format("2006-01-02 15:04") }
	d.operator(t, "maintenance", "schedule", "--start", jst(start), "--end", jst(start.Add(3*time.Hour)),
		"--reason-ja", "データベースサーバーの定期点検", "--reason-en", "Regular database server inspection", "--data", d.data)

	for _, vp := range narrowViewports {
		t.Run(vp.name, func(t *testing.T) {
			// An admin of their own per viewport: a code signs in once.
			email := "admin-" + vp.name + "@tobira.example"
			seed := d.createOperator(t, email, "管理者 "+vp.name, "admin")
			p := newMobileBrowser(t, consoleURL, axe, vp)
			shot := func(name string) { p.mobileScreen(vp, "81-"+name) }

			// Sign-in: a wrong password, then the code by the keyboard.
			p.open("/login", consoleLoginTitle)
			p.expectAutofocus("email")
			shot("01-console-login")
			p.typeInto("メールアドレス", email)
			p.typeInto("パスワード", "wrong-password")
			p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login", consoleLoginTitle)
			p.expectErrorFocus("password")
			shot("02-console-login-error")
			p.do(chromedp.KeyEvent(operatorPassword))
			p.keyTo(kb.Enter, "/login/code", consoleCodeTitle)
			p.expectAutofocus("code")
			shot("03-console-code")
			p.typeInto("6桁のコード", "000000")
			p.navigationStatus(chromedp.Click(button("ログイン")), 401, "/login/code", consoleCodeTitle)
			p.expectErrorFocus("code")
			shot("04-console-code-error")
			p.do(chromedp.KeyEvent(oathtool(t, seed)))
			p.keyTo(kb.Enter, "/customers", consoleCustomers)
			p.expectAutofocus("q")
			shot("05-console-customers")
			p.do(chromedp.Click(phoneMenu))
			waitVisible(p, link("監査ログ"))
			shot("05b-console-menu")
			p.do(chromedp.Click(phoneMenu))

			// A customer with a long address, opened from the console.
			long := "s" + vp.name + ".hanako.sato.customer.service.department@longcompanydomainname.co.jp"
			p.menuTo("アカウント開設", "/customers/new", "アカウント開設")
			p.expectAutofocus("email")
			shot("06-console-open")
			p.typeInto("メールアドレス", "not-an-address")
			p.typeInto("氏名", "佐藤 花子")
			p.navigationStatus(chromedp.Click(button("開設して開通メールを送る")), 422, "/customers/new", "アカウント開設")
			p.expectErrorFocus("email")
			shot("07-console-open-error")
			p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""`))
			p.typeInto("メールアドレス", long)
			p.navigationTo(chromedp.Click(button("開設して開通メールを送る")), 200, "/customers/", "佐藤 花子")
			shot("08-console-customer-opened")

			// Search (Enter sends it) and the customer with her actions.
			p.menuTo("顧客検索", "/customers", consoleCustomers)
			p.expectAutofocus("q")
			p.do(chromedp.KeyEvent("s"))
			p.keyTo(kb.Enter, "/customers", consoleCustomers)
			p.expectText(`//main//a[normalize-space()="` + satoEmail + `"]`)
			p.expectText(`//main//a[normalize-space()="` + long + `"]`)
			shot("09-console-search")
			p.navigationTo(chromedp.Click(link(satoEmail)), 200, customerPath, satoName)
			p.expectText(`//main//p[contains(., "` + bEmail + ` が") and not(contains(., "operator:")) and contains(., "承認待ち")]`)
			// Her recovery request, with B's proposal, and the link to
			// its row on 「復旧申請」.
			p.expectText(`//main//dl[@id="recovery"]/dd[contains(., "待機中") and contains(., "` + bEmail + ` が") and contains(., "早期承認を依頼")` +
				` and contains(., "本人確認: 電話で登録住所と生年月日を確認") and not(contains(., "operator:"))]`)
			waitVisible(p, link("復旧申請の一覧でこの申請を開く"))
			shot("10-console-customer")
			p.clickTo(link("復旧申請の一覧でこの申請を開く"), "/recoveries", "二要素認証の復旧申請")
			if row := run(p, chromedp.Evaluate[string](`document.querySelector("tr:target")?.innerText ?? ""`)); !strings.Contains(row, satoEmail) {
				t.Errorf("the link from her page does not lead to her request's row: %q", row)
			}
			shot("10b-console-recovery-from-customer")
			// Her reset request's link leads to its row on 「2FAリセット承認」
			// the same way.
			p.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)
			p.clickTo(link("承認待ちの一覧へ"), "/resets", consoleResets)
			if row := run(p, chromedp.Evaluate[string](`document.querySelector("tr:target")?.innerText ?? ""`)); !strings.Contains(row, satoEmail) {
				t.Errorf("the reset link from her page does not lead to her request's row: %q", row)
			}
			shot("10c-console-reset-from-customer")
			p.navigation(chromedp.Navigate(consoleURL+"/customers?q=suzuki"), "/customers", consoleCustomers)
			p.navigationTo(chromedp.Click(link("suzuki@example.jp")), 200, "/customers/", "鈴木 一郎")
			waitVisible(p, button("開通メールを再送"))
			shot("11-console-customer-awaiting")

			// The audit log: all of it, then hers by the customer page's link.
			p.menuTo("監査ログ", "/audit", "監査ログ")
			p.expectText(`//table//td[@title="console.signin"]`)
			shot("12-console-audit")
			p.navigationTo(chromedp.Navigate(consoleURL+customerPath), 200, customerPath, satoName)
			p.clickTo(link("この顧客の監査ログをすべて表示"), "/audit", "監査ログ")
			shot("13-console-audit-customer")

			// The requests that wait for an operator.
			p.menuTo("2FAリセット承認", "/resets", consoleResets)
			waitVisible(p, button("承認"))
			shot("14-console-resets")
			p.menuTo("復旧申請", "/recoveries", "二要素認証の復旧申請")
			p.expectText(`//main//td[contains(., "` + bEmail + ` が") and contains(., "早期承認を依頼") and not(contains(., "operator:"))]`)
			waitVisible(p, button("早期承認を承認"))
			shot("15-console-recoveries")

			// Operators, a new one and the pages that hand over a password
			// and a key.
			p.menuTo("オペレーター", "/operators", "オペレーター")
			shot("16-console-operators")
			p.clickTo(link("オペレーターを追加"), "/operators/new", "オペレーターを追加")
			p.expectAutofocus("email")
			shot("17-console-operator-new")
			newcomer := "newcomer-" + vp.name + "@tobira.example"
			p.typeInto("メールアドレス", newcomer)
			p.typeInto("氏名", "新人 加藤")
			p.navigationTo(chromedp.Click(button("追加する")), 200, "/operators/handover", "オペレーターを追加しました")
			shot("18-console-operator-added")
			newKey := p.shownKey("operator-qr", "operator-key", func(secret string) string {
				return "otpauth://totp/Tobira%20console:" + newcomer + "?secret=" + secret + "&issuer=Tobira%20console&algorithm=SHA1&digits=6&period=30"
			})
			p.clickTo(link("オペレーター一覧に戻る"), "/operators", "オペレーター")
			row := `//table//tr[td[normalize-space()="` + newcomer + `"]]`
			p.navigationTo(chromedp.Click(chromedp.Search(row+`//button[normalize-space()="パスワードを再発行"]`)), 200, "/operators/", "一時パスワードを発行しました")
			shot("19-console-operator-password")
			oneTime := run(p, chromedp.Text(chromedp.ID("operator-password")))

			// Sites, maintenance, the operator's own password.
			p.menuTo("連携サイト", "/sites", "連携サイト")
			shot("20-console-sites")
			p.menuTo("メンテナンス", "/maintenance", consoleMaint)
			waitVisible(p, button("中止"))
			shot("21-console-maintenance")
			p.menuTo("パスワードの変更", "/password", "パスワードの変更")
			p.expectAutofocus("current")
			shot("22-console-password")
			p.typeInto("現在のパスワード", "wrong-password")
			p.typeInto("新しいパスワード", "my own console passphrase")
			p.typeInto("新しいパスワード (確認)", "my own console passphrase")
			p.navigationStatus(chromedp.Click(button("変更する")), 401, "/password", "パスワードの変更")
			p.expectErrorFocus("current")
			shot("23-console-password-error")

			p.navigationStatus(chromedp.Navigate(consoleURL+"/no-such-page"), 404, "/no-such-page", "エラー")
			shot("24-console-not-found")
			if got := p.bodyText(); !strings.Contains(got, "トップページへ") {
				t.Errorf("the missing page offers no way back:\n%s", got)
			}

			// The newcomer's first sign-in opens nothing but the password
			// change, whose 「メニュー」 holds the account's links alone.
			n := newMobileBrowser(t, consoleURL, axe, vp)
			n.open("/login", consoleLoginTitle)
			n.typeInto("メールアドレス", newcomer)
			n.typeInto("パスワード", oneTime)
			n.clickTo(button("続ける"), "/login/code", consoleCodeTitle)
			n.typeInto("6桁のコード", oathtool(t, newKey))
			n.clickTo(button("ログイン"), "/password", "パスワードの変更")
			n.mobileScreen(vp, "81-25-console-password-forced")
			n.do(chromedp.Click(phoneMenu))
			waitVisible(n, button("ログアウト"))
			n.mobileScreen(vp, "81-26-console-password-forced-menu")

			// English labels are longer: the lists again, in English, on
			// the narrowest phone.
			if vp.name != "360" {
				return
			}
			p.menuTo("オペレーター", "/operators", "オペレーター")
			p.lang = "en"
			p.do(chromedp.Click(phoneMenu))
			p.clickTo(button("English"), "/operators", "Operators")
			shot("30-console-en-operators")
			p.menuTo("Customers", "/customers", "Find customers")
			p.expectAutofocus("q")
			p.do(chromedp.KeyEvent("s"))
			p.keyTo(kb.Enter, "/customers", "Find customers")
			shot("31-console-en-search")
			p.navigationTo(chromedp.Click(link(satoEmail)), 200, customerPath, satoName)
			p.expectText(`//main//dl[@id="recovery"]/dd[contains(., "early approval proposed by ` + bEmail + `")]`)
			shot("32-console-en-customer")
			p.clickTo(link("All audit events of this customer"), "/audit", "Audit log")
			shot("33-console-en-audit")
			p.menuTo("2FA resets", "/resets", "Approve second-factor resets")
			shot("34-console-en-resets")
			p.menuTo("Recovery requests", "/recoveries", "Second-factor recovery requests")
			shot("35-console-en-recoveries")
			p.menuTo("Sites", "/sites", "Connected sites")
			shot("36-console-en-sites")
			p.menuTo("Maintenance", "/maintenance", "Maintenance")
			shot("37-console-en-maintenance")
		})
	}

	// A second operator approves on B's check: only now does Sato's wait
	// end, and the page names both of them.
	const approver = "approver-mobile@tobira.example"
	seedA := d.createOperator(t, approver, "管理者 承認", "admin")
	a := newBrowser(t, consoleURL, axe)
	a.consoleSignIn(approver, seedA, "")
	a.open("/recoveries", "二要素認証の復旧申請")
	a.clickTo(button("早期承認を承認"), "/recoveries", "二要素認証の復旧申請")
	a.confirmed(bEmail + " の本人確認にもとづき、")
	a.expectText(`//p[@role="status" and normalize-space()="復旧申請を早期承認しました。次回のログインで再登録できます。"]`)
	a.expectText(`//main//td[contains(., "` + bEmail + ` が依頼し、` + approver + ` が早期承認")]`)
	sato.open("/login", "ログイン")
	sato.signIn(satoEmail, satoPassword, "/enrol", "2要素認証の設定")
}

// phoneMenu is the console's 「メニュー」 on a narrow screen.
var phoneMenu = chromedp.Search(`//label[contains(@class, "menu-button")]`)

// menuTo opens 「メニュー」 and follows its link label to the page at path
// with the heading h1.
func (p *page) menuTo(label, path, h1 string) {
	p.t.Helper()
	p.do(chromedp.Click(phoneMenu))
	p.clickTo(link(label), path, h1)
}
