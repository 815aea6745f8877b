package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// headerWraps lists the header's words and buttons whose text breaks onto
// more than one line: the brand, the menu's links, the language switch,
// the operator and their links. Hidden ones (the folded menu of a phone)
// are skipped, and so is the brand on a phone, which may take two lines
// between its words beside 「メニュー」 (brandBeside checks that).
const headerWraps = `[...document.querySelectorAll(".top .brand, .top .menu-button, .top nav a, .top .lang button, .top .who, .top-right > a, .top-right form button")]
  .filter(e => !(e.matches(".brand") && innerWidth <= 720))
  .filter(e => e.getClientRects().length > 0)
  .filter(e => {
    // The lines its text stands on: a box of text whose middle is within
    // another's is on that one's line (the logo's 扉 is set apart).
    const lines = [];
    const w = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
    while (w.nextNode()) {
      const r = document.createRange();
      r.selectNodeContents(w.currentNode);
      for (const x of r.getClientRects()) {
        const mid = (x.top + x.bottom) / 2;
        if (x.width > 0 && !lines.some(l => mid > l.top && mid < l.bottom)) lines.push(x);
      }
    }
    return lines.length > 1;
  })
  .map(e => e.textContent.trim().replace(/\s+/g, " "))`

// brandBeside tells whether 「メニュー」 stands beside the console's name,
// on the header's one line, and the name breaks between words only: the
// Japanese name's katakana word keeps to one line.
const brandBeside = `(() => {
  const brand = document.querySelector(".top .brand");
  const b = brand.getBoundingClientRect();
  const m = document.querySelector(".top .menu-button").getBoundingClientRect();
  const word = "オペレーターコンソール";
  const text = [...brand.childNodes].find(n => n.nodeType === 3 && n.textContent.includes(word));
  let oneLine = true;
  if (text) {
    const r = document.createRange();
    const at = text.textContent.indexOf(word);
    r.setStart(text, at);
    r.setEnd(text, at + word.length);
    oneLine = new Set([...r.getClientRects()].map(x => Math.round(x.top))).size === 1;
  }
  return m.top < b.bottom && b.top < m.bottom && oneLine;
})()`

// TestConsoleLayoutWide: at 1280 px, in Japanese and in English, the
// console's header keeps each word and button on one line (「日本語」 stood
// one character a line, "Sign out" and the brand on two) and the audit log
// with long unbroken details stays within the window (it was 1358 px wide
// in English, 1322 px in Japanese); at 360 px the same log reads as cards
// within the screen. Screenshots are output/82-*.png and
// output/m360-82-*.png.
func TestConsoleLayoutWide(t *testing.T) {
	t.Parallel()
	axe := requireE2E(t)
	d := startDemo(t)
	consoleURL := d.consoleURL(t)

	// Details with nowhere to break: a path with a customer's id, an
	// address, a reason typed without spaces.
	db, err := sqlstore.OpenSQLite(filepath.Join(d.data, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	for i, detail := range []string{
		"/customers/39fd26b7a1c04e8f9d2b6c3e5f7a8b9c/unlock",
		"https://support.example.jp/tickets/" + strings.Repeat("0123456789abcdef", 8),
		"盗難の届出" + strings.Repeat("（本人確認済み・電話番号照合済み）", 6),
		"request 5404b0f0c2d14e6f8a9b0c1d2e3f4a5b by operator:tanaka-long-address@example.jp: " + strings.Repeat("x", 150),
	} {
		action := store.ActionAccountLock
		if strings.HasPrefix(detail, "request ") {
			action = store.ActionResetReject
		}
		ev := store.AuditEvent{At: time.Now().Add(time.Duration(i) * time.Millisecond), Actor: "operator:cli", Action: action,
			Outcome: "ok", ClientIP: "2001:db8:85a3::8a2e:370:7334", Detail: detail}
		if err := db.AppendAudit(t.Context(), &ev); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	const email = "admin-layout@tobira.example"
	seed := d.createOperator(t, email, "管理者 レイアウト", "admin")
	p := newBrowser(t, consoleURL, axe)
	p.consoleSignIn(email, seed, "")
	check := func(name string) {
		t.Helper()
		if wraps := run(p, chromedp.Evaluate[[]string](headerWraps)); len(wraps) > 0 {
			t.Errorf("%s: the header breaks %q onto two lines or more", name, wraps)
		}
		width := run(p, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if width > 1280 {
			t.Errorf("%s: the page is %d px wide in a window of 1280 px", name, width)
		}
		// Nothing in the page's card stands out of it.
		if over := run(p, chromedp.Evaluate[int](`(() => { const m = document.querySelector("main"); return m.scrollWidth - m.clientWidth; })()`)); over > 0 {
			t.Errorf("%s: the content is %d px wider than its card", name, over)
		}
		p.screen(name)
	}
	p.open("/audit", "監査ログ")
	check("82-1-console-audit-1280-ja")
	p.lang = "en"
	p.clickTo(button("English"), "/audit", "Audit log")
	check("82-2-console-audit-1280-en")
	p.clickTo(link("Customers"), "/customers", "Find customers")
	check("82-3-console-customers-1280-en")

	vp := mobileViewports[0]
	const phoneEmail = "admin-layout-phone@tobira.example"
	phoneSeed := d.createOperator(t, phoneEmail, "管理者 電話", "admin")
	m := newMobileBrowser(t, consoleURL, axe, vp)
	m.consoleSignIn(phoneEmail, phoneSeed, "")
	m.open("/audit", "監査ログ")
	if wraps := run(m, chromedp.Evaluate[[]string](headerWraps)); len(wraps) > 0 {
		t.Errorf("at 360 px the header breaks %q onto two lines or more", wraps)
	}
	if !run(m, chromedp.Evaluate[bool](brandBeside)) {
		t.Error("at 360 px 「メニュー」 is not beside the console's name, or the name breaks inside a word")
	}
	m.mobileScreen(vp, "82-4-console-audit-ja")
	m.lang = "en"
	m.do(chromedp.Click(phoneMenu))
	m.clickTo(button("English"), "/audit", "Audit log")
	if wraps := run(m, chromedp.Evaluate[[]string](headerWraps)); len(wraps) > 0 {
		t.Errorf("at 360 px in English the header breaks %q onto two lines or more", wraps)
	}
	if !run(m, chromedp.Evaluate[bool](brandBeside)) {
		t.Error("at 360 px in English 「Menu」 is not beside the console's name")
	}
	m.mobileScreen(vp, "82-5-console-audit-en")
}
