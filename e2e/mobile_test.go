package e2e

// Most customers open these pages on a phone. TestMobileScreens walks every
// customer-facing screen of the portal and of the two customer sites on two
// phones (360×740 at 3×, 390×844 at 2×, touch) and on a desktop window of
// 1280 px at 200 % zoom (a 640 px wide layout at 2×), and checks on each
// screen what a customer on a small screen trips over: sideways scrolling,
// tap targets under 44 px, inputs that make iOS zoom the page (type under
// 16 px), the wrong keyboard or autofill for a field, and where the focus is
// after an error. Screenshots are output/m<viewport>-*.png; p.screen runs
// axe-core on each as everywhere else.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tobira/tobira/internal/webkit"
)

type viewport struct {
	name          string
	width, height int64
	scale         float64
	phone         bool // mobile and touch
	// sameAs names the viewport whose layout this one shares (no
	// breakpoint of the stylesheets falls between their widths): its
	// screens get the mobileChecks, which measure this width, and not
	// axe-core again, whose verdict on the same rules of layout is the
	// other's. axe-core was two fifths of the walks' time.
	sameAs string
}

var mobileViewports = []viewport{
	{"360", 360, 740, 3, true, ""},
	{"390", 390, 844, 2, true, "360"},
	// 1280 px at 200 % zoom lays the page out in 640 CSS pixels.
	{"zoom200", 640, 450, 2, false, ""},
}

// narrowViewports are the narrowest phone and 200 % zoom: the walks of
// pages that few open on a phone (the operator console) take these.
var narrowViewports = []viewport{mobileViewports[0], mobileViewports[2]}

// TestMobileScreens follows the customer through every screen the manual
// shows, and the pages around them (activation, forgotten password, an
// expired link, a missing page, the errors of each form, sign-out), on each
// viewport. The focus checks cover the keyboard too: the field with the
// error has the focus and names the message, and Enter in the enrolment's
// code field sends it.
func TestMobileScreens(t *testing.T) {
	axe := requireE2E(t)
	for _, vp := range mobileViewports {
		t.Run(vp.name, func(t *testing.T) {
			d := startDemo(t)
			key, _ := d.satoKeys(t)
			shot := func(p *page, name string) { p.mobileScreen(vp, name) }

			// Yamada: the activation, the login screen and its error, the
			// forgotten password, an expired link, a page that is not there,
			// and the first sign-in with the enrolment.
			p := newMobileBrowser(t, d.URL, axe, vp)
			p.navigation(chromedp.Navigate(d.activationLink(t, suzukiEmail)), "/activate", "パスワードの設定")
			p.expectAutofocus("password")
			shot(p, "01-activate")
			p.typeInto("新しいパスワード", "tobira-suzuki-1")
			p.typeInto("新しいパスワード (確認)", "tobira-suzuki-2")
			p.navigationStatus(chromedp.Click(button("続ける")), 400, "/activate", "パスワードの設定")
			p.expectErrorFocus("password")
			shot(p, "01b-activate-error")
			p.open("/forgot", "パスワードの再設定")
			shot(p, "02-forgot")
			p.navigationStatus(chromedp.Navigate(p.base+"/reset-password?token=expired"), 404, "/reset-password", "新しいパスワードの設定")
			shot(p, "03-reset-link-expired")
			p.navigationStatus(chromedp.Navigate(p.base+"/no-such-page"), 404, "/no-such-page", "ページが見つかりません")
			shot(p, "04-not-found")
			// A sign-in left too long: the login screen says it expired.
			p.navigation(chromedp.Navigate(p.base+"/login?e=expired"), "/login", "ログイン")
			shot(p, "04b-login-expired")

			p.open("/login", "ログイン")
			p.expectAutofocus("email")
			shot(p, "05-login")
			p.typeInto("メールアドレス", yamadaEmail)
			p.typeInto("パスワード", "wrong-password")
			p.navigationStatus(chromedp.Click(button("続ける")), 401, "/login", "ログイン")
			p.expectErrorFocus("password")
			shot(p, "06-login-error")
			p.typeInto("パスワード", yamadaPassword)
			p.clickTo(button("続ける"), "/enrol", "2要素認証の設定")
			shot(p, "07-enrol-qr")
			secret := p.enrolmentSecret(yamadaEmail)
			p.expectAppLink(secret, vp.phone)

			p.clickTo(link("別の方法を探す"), "/enrol/methods", "別の方法を探す")
			shot(p, "08-enrol-methods")
			p.clickTo(link("電話"), "/enrol/phone", "アカウントの安全性向上")
			p.expectAutofocus("number")
			shot(p, "09-enrol-phone")
			p.typeInto("電話番号の入力", "123")
			p.navigationStatus(chromedp.Click(button("続ける")), 400, "/enrol/phone", "アカウントの安全性向上")
			p.expectErrorFocus("number")
			shot(p, "10-enrol-phone-error")
			p.clickTo(link("別の方法を試す"), "/enrol/methods", "別の方法を探す")
			p.clickTo(link("認証アプリ (Google Authenticator)"), "/enrol", "2要素認証の設定")
			secret = p.enrolmentSecret(yamadaEmail)
			p.typeInto("ワンタイムコードの入力", "000000")
			p.navigationStatus(chromedp.Click(button("続ける")), 401, "/enrol", "2要素認証の設定")
			p.expectErrorFocus("code")
			shot(p, "11-enrol-code-error")
			// The focus is in the field: type the code and press Enter.
			p.do(chromedp.KeyEvent(oathtool(t, secret)))
			p.keyTo(kb.Enter, "/recovery-code", "あと少しです。")
			shot(p, "12-recovery-code")
			p.do(chromedp.Click(chromedp.Search(`//label[normalize-space()="コードを安全に記録しました"]`)))
			p.clickTo(button("続ける"), "/", "マイページ")
			shot(p, "13-mypage")
			p.tapAccountMenu(vp)
			shot(p, "14-account-menu")
			p.tapAway(vp)
			p.open("/security", "セキュリティ")
			shot(p, "15-security")
			p.do(chromedp.Click(link("リセット")))
			waitVisible(p, chromedp.ID("reset-dialog"))
			shot(p, "16-reset-dialog")
			p.do(chromedp.Click(button("キャンセル")))
			p.open("/security/reset", "二要素認証設定のリセット")
			shot(p, "17-reset-page")
			p.open("/end_session", "ログアウトしますか?")
			shot(p, "18-signout-confirm")

			// Sato: the app's code and its error, the other methods, the
			// recovery code; then both customer sites.
			s := newMobileBrowser(t, d.URL, axe, vp)
			s.visit(d.ContractsURL+"/", originOf(t, d.URL), "/login", "ログイン")
			s.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
			s.expectAutofocus("code")
			shot(s, "20-login-code")
			s.typeInto("ワンタイムコードの入力", "000000")
			s.navigationStatus(chromedp.Click(button("続ける")), 401, "/login/code", "ワンタイムパスワードの入力")
			s.expectErrorFocus("code")
			shot(s, "21-login-code-error")
			s.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
			shot(s, "22-login-methods")
			s.clickTo(link("リカバリーコード"), "/login/recovery", "リカバリーコードの入力")
			s.expectAutofocus("recovery")
			shot(s, "23-recovery-input")
			s.clickTo(link("別の方法を試す"), "/login/methods", "別の方法を試す")
			s.clickTo(link("認証アプリ (Google Authenticator)"), "/login/code", "ワンタイムパスワードの入力")
			s.typeInto("ワンタイムコードの入力", oathtool(t, key))
			s.clickTo(button("続ける"), "/", contractsHeading)
			shot(s, "30-contracts-home")
			s.tapAccountMenu(vp)
			shot(s, "31-contracts-account-menu")
			s.tapAway(vp)
			s.followFirst("/applications/")
			shot(s, "32-application")
			s.visit(d.ContractsURL+"/", originOf(t, d.ContractsURL), "/", contractsHeading)
			s.followFirst("/contracts/")
			shot(s, "33-contract")
			s.visit(d.InvoicesURL+"/", originOf(t, d.InvoicesURL), "/", invoicesHeading)
			shot(s, "34-invoices-home")
			s.followFirst("/invoices/")
			shot(s, "35-invoice")
			s.tapAccountMenu(vp)
			s.clickTo(button("ログアウト"), "/", "ログアウトしました")
			shot(s, "36-signed-out")

			// Takahashi: the phone's code at sign-in.
			k := newMobileBrowser(t, d.URL, axe, vp)
			k.open("/login", "ログイン")
			k.signIn(takahashiEmail, takahashiPassword, "/login/phone", "ご本人確認")
			k.expectAutofocus("code")
			shot(k, "40-phone-code")
		})
	}
}

// newMobileBrowser is newBrowser with the viewport's size, pixel ratio and,
// for a phone, a mobile layout and touch.
func newMobileBrowser(t *testing.T, base, axe string, vp viewport) *page {
	t.Helper()
	p := newBrowser(t, base, axe)
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(vp.scale)}
	if vp.phone {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	p.do(chromedp.EmulateViewport(vp.width, vp.height, opts...))
	return p
}

// mobileScreen takes the screen's screenshot (and axe-core's check, but
// at a viewport that lays out as another) and checks what a customer on a
// small screen would trip over.
func (p *page) mobileScreen(vp viewport, name string) {
	p.t.Helper()
	if vp.sameAs == "" {
		p.screen("m" + vp.name + "-" + name)
	} else {
		p.screenshot("m" + vp.name + "-" + name)
	}
	problems := run(p, chromedp.Evaluate[[]string](fmt.Sprintf(mobileChecks, vp.width)))
	for _, problem := range problems {
		p.t.Errorf("%s at %d px (%s): %s", name, vp.width, p.location(), problem)
	}
	if !vp.phone {
		// The keyboard moves the focus: where it was matters to the
		// screen's next step, so the walk comes last, and puts it back.
		before := run(p, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
		p.keyboardWalk(name)
		if before != "" {
			p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).focus()`, before)))
		}
	}
}

// mobileChecks lists what is wrong with the page on a small screen.
// The width is the device's, not window.innerWidth: a mobile browser widens
// its layout viewport to content that overflows, so innerWidth grows with
// the fault it should reveal.
const mobileChecks = `((vw) => {
  const problems = [];
  const describe = (el) => {
    const text = (el.innerText || el.value || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return "<" + el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") + ">" +
      (text ? " 「" + text + "」" : "");
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && cs.visibility !== "hidden" && !el.closest("[hidden]");
  };

  // 1. No sideways scrolling: not of the page, nor of a part of it.
  const sw = document.documentElement.scrollWidth;
  if (sw > vw) {
    const wide = [...document.querySelectorAll("body *")].filter(el => shown(el) && el.getBoundingClientRect().right > vw + 0.5)
      .filter(el => !el.parentElement || el.parentElement.getBoundingClientRect().right <= vw + 0.5).slice(0, 5).map(describe);
    problems.push("the page scrolls sideways: " + sw + " px wide in a " + vw + " px viewport (" + wide.join(", ") + ")");
  }
  // What sticks out at the left cannot be scrolled to at all (what lies
  // wholly off screen is hidden on purpose, as the skip link).
  const cut = [...document.querySelectorAll("body *")].filter(el => {
    const r = el.getBoundingClientRect();
    return shown(el) && r.left < -0.5 && r.right > 0;
  });
  if (cut.length) problems.push("cut off at the left edge: " + cut.slice(0, 3).map(describe).join(", "));
  for (const el of document.querySelectorAll("body *")) {
    const ox = getComputedStyle(el).overflowX;
    if ((ox === "auto" || ox === "scroll") && shown(el) && el.scrollWidth > el.clientWidth + 1) {
      problems.push(describe(el) + " scrolls sideways: " + el.scrollWidth + " px of content in " + el.clientWidth + " px");
    }
    // A label hidden for sight and read out (.visually-hidden) clips on purpose.
    if ((ox === "hidden" || ox === "clip") && shown(el) && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 1) {
      problems.push(describe(el) + " cuts off its content: " + el.scrollWidth + " px of it in " + el.clientWidth + " px");
    }
  }

  // 2. Tap targets of at least 44×44 px. A link inside a sentence is
  // exempt (WCAG 2.5.5), a checkbox or radio counts with its label.
  const inSentence = (el) => {
    const parent = el.parentElement;
    return parent && parent.innerText.trim().length > el.innerText.trim().length + 1;
  };
  for (const el of document.querySelectorAll("a[href], button, input, select, textarea, summary")) {
    if (!shown(el) || el.type === "hidden" || el.classList.contains("skip")) continue;
    // 「編集」 beside the phone number is no sentence.
    if (el.tagName === "A" && inSentence(el) && !el.closest(".sent-to")) continue;
    let r = el.getBoundingClientRect();
    let box = {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    if ((el.type === "checkbox" || el.type === "radio") && el.labels && el.labels.length) {
      const row = el.parentElement.getBoundingClientRect();
      box = {left: Math.min(box.left, row.left), right: Math.max(box.right, row.right),
        top: Math.min(box.top, row.top), bottom: Math.max(box.bottom, row.bottom)};
    }
    const w = box.right - box.left, h = box.bottom - box.top;
    if (w < 43.5 || h < 43.5) problems.push("the tap target " + describe(el) + " is " + Math.round(w) + "×" + Math.round(h) + " px, under 44×44");
  }

  // 3. Form fields: type of 16 px at least (iOS zooms the page into a
  // smaller one), and the keyboard and autofill that fit.
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!shown(el) || el.type === "hidden") continue;
    if (el.type !== "checkbox" && el.type !== "radio" && parseFloat(getComputedStyle(el).fontSize) < 16) {
      problems.push(describe(el) + " has type of " + getComputedStyle(el).fontSize + ", under 16 px: iOS zooms in on it");
    }
    const ac = (el.getAttribute("autocomplete") || "").trim();
    if (el.id === "code") {
      if (el.getAttribute("inputmode") !== "numeric") problems.push("the code field has inputmode=" + el.getAttribute("inputmode") + ", not numeric");
      if (ac !== "one-time-code") problems.push("the code field has autocomplete=" + ac + ", not one-time-code");
    }
    if (el.type === "password" && ac !== "current-password" && ac !== "new-password") {
      problems.push(describe(el) + " has autocomplete=" + ac + ", not current-password or new-password");
    }
    // The console's address fields name a customer or a colleague, not
    // the one who types: autofill stays off there.
    const others = document.body.classList.contains("console") && ac === "off";
    if (el.type === "email" && ac !== "username" && ac !== "email" && !others) problems.push(describe(el) + " has autocomplete=" + ac);
    if (/email/.test(el.name) && el.type !== "email") problems.push(describe(el) + " is of type " + el.type + ", not email");
    if (el.type === "tel" && !/^tel/.test(ac)) problems.push(describe(el) + " has autocomplete=" + ac);
  }

  // 4. Codes the customer copies by eye: the recovery code on one line, the
  // key broken only between its groups of four.
  const lines = (node, from, to) => {
    const range = document.createRange();
    range.setStart(node, from);
    range.setEnd(node, to);
    return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
  };
  const recovery = document.getElementById("recovery-code");
  if (recovery && recovery.firstChild && lines(recovery.firstChild, 0, recovery.firstChild.length) > 1) {
    problems.push("the recovery code " + recovery.textContent.trim() + " breaks over lines");
  }
  const key = document.getElementById("secret");
  if (key && key.firstChild) {
    const text = key.firstChild.textContent;
    for (const m of text.matchAll(/\S+/g)) {
      if (lines(key.firstChild, m.index, m.index + m[0].length) > 1) problems.push("the key breaks inside its group " + m[0]);
    }
  }
  return problems;
})(%d)`

// expectErrorFocus checks a form sent back with an error: the message is
// announced (role=alert), the field id names it (aria-describedby), and the
// focus is on that field, so the customer types again at once.
func (p *page) expectErrorFocus(id string) {
	p.t.Helper()
	waitVisible(p, chromedp.Search(`//main//*[@role="alert" and @id="form-error"]`))
	if got := run(p, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById(%q).getAttribute("aria-describedby") || ""`, id))); !strings.Contains(got, "form-error") {
		p.t.Errorf("at %s the field #%s is not described by the error message (aria-describedby=%q)", p.location(), id, got)
	}
	if got := p.focusSettles(id); got != id {
		p.t.Errorf("at %s after the error the focus is on #%q, not on the field #%s", p.location(), got, id)
	}
}

// expectAutofocus checks that the page put the focus on the field id as it
// loaded (autofocus).
func (p *page) expectAutofocus(id string) {
	p.t.Helper()
	if got := p.focusSettles(id); got != id {
		p.t.Errorf("at %s the focus is on #%q, not on the field #%s", p.location(), got, id)
	}
}

// focusSettles waits for the focus to reach the element id (the browser
// applies autofocus at a rendering step after the load), at most a step's
// bound, and returns the id of the element that has it.
func (p *page) focusSettles(id string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	_ = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`!!document.activeElement && document.activeElement.id === %q`, id)))
	return run(p, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
}

// expectAppLink checks what a customer needs who reads the enrolment screen
// on the phone that holds the authenticator app, and so cannot scan it: a
// link that opens the app with the key (the QR code's otpauth:// URI), shown
// on a touch screen, and a button that copies the key.
func (p *page) expectAppLink(secret string, phone bool) {
	t := p.t
	t.Helper()
	want := "otpauth://totp/Tobira:" + yamadaEmail + "?secret=" + secret + "&issuer=Tobira&algorithm=SHA1&digits=6&period=30"
	type appLink struct {
		Href  string `json:"href"`
		Shown bool   `json:"shown"`
	}
	got := run(p, chromedp.Evaluate[appLink](`(() => {
		const a = document.querySelector('main a[href^="otpauth:"]');
		if (!a) return {href: "", shown: false};
		const r = a.getBoundingClientRect();
		return {href: a.getAttribute("href"), shown: r.width > 0 && r.height > 0 && getComputedStyle(a).visibility !== "hidden"};
	})()`))
	if got.Href != want {
		t.Errorf("the enrolment screen has no link that opens the authenticator app with the key: otpauth link %q, want %q", got.Href, want)
	} else if phone && !got.Shown {
		t.Error("the enrolment screen's link to the authenticator app does not show on a phone")
	}
	waitVisible(p, button("キーのコピー"))
	p.do(chromedp.Click(button("キーのコピー")))
	p.expectText(`//span[@role="status" and normalize-space()="コピーしました"]`)
	if copied := run(p, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); copied != secret {
		t.Errorf("「キーのコピー」 put %q on the clipboard, want the key %q", copied, secret)
	}
}

// tapAccountMenu taps the account icon at the top right (clicks it, without
// a touch screen) and checks that the menu opens.
func (p *page) tapAccountMenu(vp viewport) {
	p.t.Helper()
	icon := chromedp.Search(`//*[@data-account-button]`)
	if vp.phone {
		p.do(chromedp.Tap(icon))
	} else {
		p.do(chromedp.Click(icon))
	}
	if !p.menuSettles(true) {
		p.t.Fatal("a tap on the account icon does not open the menu")
	}
}

// tapAway taps the page at its left edge, away from the open account menu,
// and checks that the menu closes.
func (p *page) tapAway(vp viewport) {
	p.t.Helper()
	if vp.phone {
		p.do(chromedp.TapXY(4, 200))
	} else {
		p.do(chromedp.MouseClickXY(4, 200))
	}
	if !p.menuSettles(false) {
		p.t.Fatal("a tap away from the open account menu does not close it")
	}
}

// followFirst follows the first link of the page whose href starts with
// prefix, and waits for the page it opens.
func (p *page) followFirst(prefix string) {
	p.t.Helper()
	sel := chromedp.Search(`//main//a[starts-with(@href, "` + prefix + `")]`)
	href := run(p, chromedp.Evaluate[string](`document.querySelector('main a[href^="`+prefix+`"]').getAttribute("href")`))
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel)); err != nil || resp == nil || resp.Status != 200 {
		p.t.Fatalf("following %s: %v, %+v", href, err, resp)
	}
	waitVisible(p, chromedp.Search(`//h1`))
	p.do(chromedp.Poll[chromedp.Void](`document.readyState === "complete"`))
	p.expectPath(href)
}

// keyboardWalk tabs through the whole page from its top, as a keyboard user
// does at 200 % zoom: every element that takes the focus shows it (an
// outline of 2 px at least), and the focus moves through the page in the
// order it reads, top to bottom.
func (p *page) keyboardWalk(name string) {
	p.t.Helper()
	p.do(chromedp.Evaluate[chromedp.Void](`(() => {
		if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
		window.scrollTo(0, 0);
	})()`))
	type stop struct {
		Desc    string  `json:"desc"`
		Shown   bool    `json:"shown"`
		InMain  bool    `json:"inMain"`
		Top     float64 `json:"top"`
		Bottom  float64 `json:"bottom"`
		None    bool    `json:"none"`
		Visible bool    `json:"visible"`
	}
	var stops []stop
	seen := map[string]bool{}
	for range 40 {
		p.do(chromedp.KeyEvent(kb.Tab))
		s := run(p, chromedp.Evaluate[stop](`(() => {
			const a = document.activeElement;
			if (!a || a === document.body) return {none: true};
			const cs = getComputedStyle(a), r = a.getBoundingClientRect();
			const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) || (cs.boxShadow && cs.boxShadow !== "none");
			return {
				desc: "<" + a.tagName.toLowerCase() + (a.id ? "#" + a.id : "") + "> 「" + (a.innerText || a.value || a.getAttribute("aria-label") || "").trim().slice(0, 30) + "」",
				shown: ring, inMain: !!a.closest("main"), visible: r.width > 0 && r.height > 0,
				top: r.top + window.scrollY, bottom: r.bottom + window.scrollY,
			};
		})()`))
		if s.None || seen[s.Desc] {
			break
		}
		seen[s.Desc] = true
		stops = append(stops, s)
	}
	if len(stops) == 0 {
		p.t.Errorf("%s: Tab reaches nothing at %s", name, p.location())
		return
	}
	var last *stop
	for i := range stops {
		s := &stops[i]
		if !s.Visible {
			p.t.Errorf("%s: Tab stops at %s, which does not show", name, s.Desc)
			continue
		}
		if !s.Shown {
			p.t.Errorf("%s: %s has the keyboard focus but shows no focus ring", name, s.Desc)
		}
		if s.InMain {
			if last != nil && s.Bottom <= last.Top {
				p.t.Errorf("%s: Tab goes up the page, from %s to %s above it", name, last.Desc, s.Desc)
			}
			last = s
		}
	}
}

// TestMobileLongEmail is a customer whose address is long and has no place
// to break (a company's department address): on a 360 px phone it breaks
// in the account menus (of the portal and of a customer site) and in
// 「ログアウトしますか?」 instead of pushing the page sideways.
func TestMobileLongEmail(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	vp := mobileViewports[0]
	const email = "hanako.sato.customer.service.department@longcompanydomainname.co.jp"
	out := d.operator(t, "users", "create", "--email", email, "--name", "佐藤 花子", "--data", d.data)
	link := regexp.MustCompile(`https?://\S+/activate\?token=\S+`).FindString(out)
	if link == "" {
		t.Fatalf("users create printed no activation link:\n%s", out)
	}
	const password = "long-address-2026"
	p := newMobileBrowser(t, d.URL, axe, vp)
	p.navigation(chromedp.Navigate(link), "/activate", "パスワードの設定")
	p.typeInto("新しいパスワード", password)
	p.typeInto("新しいパスワード (確認)", password)
	p.clickTo(button("続ける"), "/login", "ログイン")
	p.signIn(email, password, "/enrol", "2要素認証の設定")
	p.mobileScreen(vp, "50-long-email-enrol")
	secret := p.enrolmentSecret(email)
	p.typeInto("ワンタイムコードの入力", oathtool(t, secret))
	p.clickTo(button("続ける"), "/recovery-code", "あと少しです。")
	p.do(chromedp.Click(chromedp.Search(`//label[normalize-space()="コードを安全に記録しました"]`)))
	p.clickTo(button("続ける"), "/", "マイページ")
	p.tapAccountMenu(vp)
	p.mobileScreen(vp, "51-long-email-account-menu")
	p.tapAway(vp)
	p.visit(d.InvoicesURL+"/", originOf(t, d.InvoicesURL), "/", invoicesHeading)
	p.tapAccountMenu(vp)
	p.mobileScreen(vp, "52-long-email-invoices-account-menu")
	p.open("/end_session", "ログアウトしますか?")
	p.mobileScreen(vp, "53-long-email-signout-confirm")
}

// TestMobileSecurityActivity: the security page's 最近のアクティビティ on a
// 360 px phone, after the forgotten-password path, whose entry
// 「パスワード再設定メールの送信」 Chromium's phrase-wise Japanese line
// breaking kept whole as 「パスワード再設定メールの」: the table was wider
// than the page, which scrolled sideways.
func TestMobileSecurityActivity(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	vp := mobileViewports[0]
	p := newMobileBrowser(t, d.URL, axe, vp)
	p.open("/forgot", "パスワードの再設定")
	p.typeInto("メールアドレス", satoEmail)
	p.clickTo(button("送信"), "/forgot", "パスワードの再設定")
	p.satoSignsIn(key)
	p.open("/security", "セキュリティ")
	p.expectText(`//table//td[normalize-space()="パスワード再設定メールの送信"]`)
	p.mobileScreen(vp, "54-security-activity")
	p.expectDateLines(2)
	// In English the date broke into four lines: 「28 Nov」「2026」
	// 「14:16」「JST」.
	p.lang = "en"
	p.clickTo(button("English"), "/security", "Security")
	p.mobileScreen(vp, "54b-security-activity-en")
	p.expectDateLines(2)
	// On a desktop of 1280 px each date keeps one line, in both languages.
	desktop := viewport{name: "1280", width: 1280, height: 900, scale: 1}
	p.do(chromedp.EmulateViewport(desktop.width, desktop.height))
	p.open("/security", "Security")
	p.screen("m1280-54c-security-activity-en")
	p.expectDateLines(1)
	p.lang = ""
	p.clickTo(button("日本語"), "/security", "セキュリティ")
	p.screen("m1280-54d-security-activity")
	p.expectDateLines(1)
}

// expectDateLines checks the security page's dates (日時, ログイン日時):
// the date and the time of day each kept on one line, and the two together
// on at most lines lines.
func (p *page) expectDateLines(lines int) {
	p.t.Helper()
	problems := run(p, chromedp.Evaluate[[]string](fmt.Sprintf(`(() => {
  const problems = [];
  const cells = document.querySelectorAll("td.when");
  if (cells.length === 0) problems.push("no dates on the page");
  for (const td of cells) {
    const parts = [...td.querySelectorAll("time > span")];
    if (parts.length !== 2) { problems.push("「" + td.innerText + "」 is not a date and a time of day"); continue; }
    const broken = parts.filter(s => s.getClientRects().length !== 1);
    if (broken.length) problems.push("「" + broken[0].innerText + "」 breaks across lines");
    const tops = new Set(parts.map(s => Math.round(s.getBoundingClientRect().top)));
    if (tops.size > %d) problems.push("「" + td.innerText.replace(/\s+/g, " ") + "」 takes " + tops.size + " lines");
  }
  return problems;
})()`, lines)))
	for _, problem := range problems {
		p.t.Errorf("the security page at %s: %s", p.location(), problem)
	}
}

// TestMobileMaintenanceNotice: the notice of a coming maintenance window, a
// banner across the top of every page, on a 360 px phone.
func TestMobileMaintenanceNotice(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	vp := mobileViewports[0]
	start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	jst := func(t time.Time) string { return t.In(webkit.JST).Format("2006-01-02 15:04") }
	d.operator(t, "maintenance", "schedule", "--start", jst(start), "--end", jst(start.Add(3*time.Hour)),
		"--reason-ja", "ネットワーク設備の更新工事", "--reason-en", "Network equipment upgrade", "--data", d.data)
	p := newMobileBrowser(t, d.URL, axe, vp)
	for i := 0; ; i++ {
		p.open("/login", "ログイン")
		if run(p, chromedp.Evaluate[bool](`!!document.querySelector(".maintenance")`)) {
			break
		}
		if i == 20 {
			t.Fatal("the login page shows no maintenance notice after the window was scheduled")
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.mobileScreen(vp, "55-maintenance-notice-login")
}

// TestMobileEnglish: the screens whose English is longer than their
// Japanese, on a 360 px phone in English.
func TestMobileEnglish(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	vp := mobileViewports[0]
	shot := func(p *page, name string) { p.mobileScreen(vp, name) }

	p := newMobileBrowser(t, d.URL, axe, vp)
	p.acceptLanguage("en")
	p.lang = "en"
	p.open("/login", "Sign in")
	shot(p, "60-en-login")
	p.typeInto("Email address", yamadaEmail)
	p.typeInto("Password", yamadaPassword)
	p.clickTo(button("Continue"), "/enrol", "Set up two-step verification")
	shot(p, "61-en-enrol")
	p.clickTo(link("Find another method"), "/enrol/methods", "Find another method")
	p.clickTo(link("Phone"), "/enrol/phone", "Make your account safer")
	shot(p, "62-en-enrol-phone")
	p.typeInto("Phone number", "090-1234-5678")
	p.clickTo(button("Continue"), "/enrol/phone/code", "Confirm it is you")
	shot(p, "63-en-phone-code")

	s := newMobileBrowser(t, d.URL, axe, vp)
	s.acceptLanguage("en")
	s.lang = "en"
	s.visit(d.InvoicesURL+"/", originOf(t, d.URL), "/login", "Sign in")
	s.typeInto("Email address", satoEmail)
	s.typeInto("Password", satoPassword)
	s.clickTo(button("Continue"), "/login/code", "Enter your one-time password")
	s.typeInto("One-time code", oathtool(t, key))
	s.clickTo(button("Continue"), "/", "Your invoices")
	shot(s, "64-en-invoices-home")
	s.followFirst("/invoices/")
	shot(s, "65-en-invoice")
	s.visit(d.ContractsURL+"/", originOf(t, d.ContractsURL), "/", "Your applications and contracts")
	shot(s, "66-en-contracts-home")
}
