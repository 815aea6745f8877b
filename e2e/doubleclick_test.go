package e2e

import (
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDoubleClickSendsOnce: a second click of 「続ける」 while the first
// request is on its way (a double click) sends nothing more. It sent the form
// again, and Chromium showed only the second answer: at the recovery code's
// input, 「この画面は表示できません。」 (the first request had spent the code
// and moved the sign-in on), while the new code the first request issued was
// never shown, and a customer who had lost the device was locked out. The
// recovery screen now shows the new code, which then signs in.
func TestDoubleClickSendsOnce(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	_, recovery := d.satoKeys(t)

	p := newBrowser(t, d.URL, axe)
	p.open("/login", "ログイン")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
	p.clickTo(link("リカバリーコード"), "/login/recovery", "リカバリーコードの入力")
	p.typeInto("リカバリーコード", recovery)
	// Two clicks, the second in a task of its own after the first's, when
	// the first request has gone (chromedp's DoubleClick clicks twice in one
	// task, and the browser sends the form once whatever the page does).
	p.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const b = [...document.querySelectorAll("button")].find((x) => x.textContent.trim() === "続ける");
		b.click();
		setTimeout(() => b.click(), 5);
	})()`))
	p.arrived("/recovery-code", "あと少しです。")
	code := p.recoveryScreen(true)
	if code == recovery {
		t.Fatal("the recovery screen shows the spent code")
	}

	// The code shown is the account's: it signs in.
	q := newBrowser(t, d.URL, axe)
	q.open("/login", "ログイン")
	q.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	q.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
	q.clickTo(link("リカバリーコード"), "/login/recovery", "リカバリーコードの入力")
	q.typeInto("リカバリーコード", code)
	q.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	if n := len(regexp.MustCompile(`(?m)method=POST path=/login/recovery `).FindAllString(d.stderr.String(), -1)); n != 2 {
		t.Errorf("%d POSTs of the recovery code reached the portal, want 2 (one per browser)", n)
	}
}
