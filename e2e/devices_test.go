package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// deviceRows are the rows of 「ログイン中の端末」 on the security page.
const deviceRows = `//table[@id="devices"]/tbody/tr`

// TestSignedInDevices: Sato signs in on two browsers. The security page of
// the second lists both under 「ログイン中の端末」, this one marked 「この端末」,
// on a desktop and on phones; 「ログアウト」 on the other row signs that
// browser out, which finds itself at the login page at its next request.
func TestSignedInDevices(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)

	// The other device, signed in first.
	other := newBrowser(t, d.URL, axe)
	other.satoSignsIn(key)

	// This device: the next step's code (the first is spent).
	p := newBrowser(t, d.URL, axe)
	p.satoSignsIn(key, "-N", "now + 30 seconds")
	p.hoverAccountMenu(satoName)
	p.clickTo(link("セキュリティ"), "/security", "セキュリティ")

	p.expectText(`//h2[normalize-space()="ログイン中の端末"]`)
	if n := run(p, chromedp.Evaluate[int](`document.evaluate('count(`+deviceRows+`)', document, null, XPathResult.NUMBER_TYPE, null).numberValue`)); n != 2 {
		t.Fatalf("「ログイン中の端末」 lists %d devices, want 2", n)
	}
	// The newest sign-in first: this one, then the other with its button.
	p.expectText(deviceRows + `[1]/td[1][contains(., "Chrome (Linux)") and contains(., "この端末")]`)
	p.expectText(deviceRows + `[2]/td[1][contains(., "Chrome (Linux)")]//button[normalize-space()="ログアウト"]`)
	p.expectText(`//button[normalize-space()="ほかの端末をすべてログアウト"]`)
	p.screen("50-signed-in-devices")

	// The same page on phones and at 200 % zoom: nothing scrolls
	// sideways, the buttons are tap targets.
	for _, vp := range mobileViewports {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(vp.scale)}
		if vp.phone {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
		}
		p.do(chromedp.EmulateViewport(vp.width, vp.height, opts...))
		p.open("/security", "セキュリティ")
		p.mobileScreen(vp, "50-signed-in-devices")
	}
	p.do(chromedp.EmulateViewport(1280, 900))
	p.open("/security", "セキュリティ")

	// 「ログアウト」 on the other device's row.
	p.clickTo(chromedp.Search(deviceRows+`//button[normalize-space()="ログアウト"]`), "/security", "セキュリティ")
	p.expectText(`//p[@role="status" and normalize-space()="ほかの端末からログアウトしました。"]`)
	if n := run(p, chromedp.Evaluate[int](`document.evaluate('count(`+deviceRows+`)', document, null, XPathResult.NUMBER_TYPE, null).numberValue`)); n != 1 {
		t.Errorf("after 「ログアウト」 the list shows %d devices, want this one alone", n)
	}
	p.expectText(`//table[not(@id="devices")]//td[normalize-space()="ほかの端末のログアウト"]`)
	p.screen("51-signed-in-devices-after")

	// The other device is signed out: opening マイページ again, it lands
	// on the login page, which says its sign-in has ended.
	other.openTo("/", "/login", "ログイン")
	other.expectText(`//p[@role="alert" and starts-with(normalize-space(), "ログインが終了しています。")]`)
	other.screen("52-other-device-signed-out")
}
