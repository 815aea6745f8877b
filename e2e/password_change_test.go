package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

const (
	passwordChangeTitle = "パスワードの変更"
	passwordChangedMsg  = "パスワードを変更しました。このブラウザ以外でのログインは終了しました。"
)

// TestChangePassword is Sato, signed in, changing her password on the
// security page: 「パスワード」 → 「パスワードを変更」, a wrong current
// password and a confirmation that differs are said on the form, then the
// change; her other device is signed out, this browser stays signed in, a
// notice is mailed; at 申込／契約確認サイト the other device is signed out
// and this browser is not; after signing out the old password is refused and the
// new one, with the app's code, signs her in.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	key, recovery := d.satoKeys(t)
	const newPassword = "sato-atarashii-2026"

	// Sato is signed in on another device too, with the recovery code
	// (so that the app's codes are left for this browser).
	other := newBrowser(t, d.URL, axe)
	other.open("/login", "ログイン")
	other.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	other.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
	other.clickTo(link("リカバリーコード"), "/login/recovery", "リカバリーコードの入力")
	other.typeInto("リカバリーコード", recovery)
	other.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	other.recoveryScreen(true)
	// ... and at 申込／契約確認サイト, through the portal.
	contracts := originOf(t, d.ContractsURL)
	other.visit(d.ContractsURL+"/", contracts, "/", contractsHeading)
	otherContracts := other.cookie(d.ContractsURL, "tobira_contracts")

	p := newBrowser(t, d.URL, axe)
	p.satoSignsIn(key)
	p.visit(d.ContractsURL+"/", contracts, "/", contractsHeading)
	pContracts := p.cookie(d.ContractsURL, "tobira_contracts")
	p.visit(d.URL+"/", originOf(t, d.URL), "/", "マイページ")

	// The account menu's 「セキュリティ」, and its 「パスワード」 section.
	p.hoverAccountMenu(satoName)
	p.clickTo(link("セキュリティ"), "/security", "セキュリティ")
	p.expectText(`//section//h2[normalize-space()="パスワード"]`)
	waitVisible(p, link("パスワードを変更"))
	p.screen("95-1-security-password")

	p.clickTo(link("パスワードを変更"), "/security/password", passwordChangeTitle)
	for _, label := range []string{"現在のパスワード", "新しいパスワード", "新しいパスワード (確認)"} {
		waitVisible(p, field(label))
		if typ := run(p, chromedp.Evaluate[string](`document.evaluate('//input[@id=//label[normalize-space()="`+label+`"]/@for]', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.type`)); typ != "password" {
			t.Errorf("「%s」 is an input of type %q, want password", label, typ)
		}
	}
	waitVisible(p, button("変更する"))
	p.expectFocusID("current")
	p.screen("95-2-password-change")

	// A wrong current password: said on the form, nothing changed.
	p.typeInto("現在のパスワード", "tobira-demo-x")
	p.typeInto("新しいパスワード", newPassword)
	p.typeInto("新しいパスワード (確認)", newPassword)
	p.navigationStatus(chromedp.Click(button("変更する")), 401, "/security/password", passwordChangeTitle)
	p.expectAlert("現在のパスワードが正しくありません。")
	p.screen("95-3-password-change-wrong-current")

	// The two new ones differ.
	p.typeInto("現在のパスワード", satoPassword)
	p.typeInto("新しいパスワード", newPassword)
	p.typeInto("新しいパスワード (確認)", newPassword+"x")
	p.navigationStatus(chromedp.Click(button("変更する")), 400, "/security/password", passwordChangeTitle)
	p.expectAlert(passwordsDiffer)
	p.screen("95-4-password-change-mismatch")

	// Right: back on the security page, which says so, still signed in.
	p.typeInto("現在のパスワード", satoPassword)
	p.typeInto("新しいパスワード", newPassword)
	p.typeInto("新しいパスワード (確認)", newPassword)
	p.clickTo(button("変更する"), "/security", "セキュリティ")
	p.expectText(`//p[@role="status" and normalize-space()="` + passwordChangedMsg + `"]`)
	p.expectText(`//td[normalize-space()="パスワードの変更"]`)
	p.screen("95-5-security-password-changed")

	// The other device's sign-ins have ended, at the portal and at the
	// site; this browser's go on, at the site too.
	other.openTo("/security", "/login", "ログイン")
	d.expectSiteSessionEnded(t, d.ContractsURL, "tobira_contracts", otherContracts)
	p.visit(d.ContractsURL+"/", contracts, "/", contractsHeading)
	if got := p.cookie(d.ContractsURL, "tobira_contracts"); got != pContracts {
		t.Error("this browser's session at the site ended with the change (the site signed it in again)")
	}
	p.visit(d.URL+"/security", originOf(t, d.URL), "/security", "セキュリティ")

	// A security notice says the password changed, with a "not me" link.
	n := d.waitMail(t, satoEmail, "the security notice of the password change", func(m demoMail) bool {
		return strings.Contains(m.Text, "パスワードが変更されました。")
	})
	if !strings.Contains(n.Subject, "セキュリティに関するお知らせ") || !strings.Contains(n.Text, "第三者がお客様のパスワードを変更した可能性があります。") {
		t.Errorf("the notice of the change: %q\n%s", n.Subject, n.Text)
	}
	mailLink(t, n, d.URL+"/not-me?token=")

	// Sign out; the old password is refused, the new one signs in.
	p.hoverAccountMenu(satoName)
	p.clickTo(button("ログアウト"), "/login", "ログイン")
	p.typeInto("メールアドレス", satoEmail)
	p.typeInto("パスワード", satoPassword)
	p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login", "ログイン")
	p.expectAlert(badCredentialsMsg)
	p.screen("95-6-old-password-refused")
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""; document.getElementById("password").value = ""`))
	p.signIn(satoEmail, newPassword, "/login/code", "ワンタイムパスワードの入力")
	// This browser used this step's code: the next step's (accepted, and
	// after the stored step) spares waiting for a new one.
	p.typeInto("ワンタイムコードの入力", oathtool(t, key, "-N", "now + 30 seconds"))
	p.clickTo(button("続ける"), "/", "マイページ")
	p.expectText(`//main//p[contains(., "` + satoName + ` 様")]`)
	p.screen("95-7-signed-in-with-new-password")
}
