package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tobira/tobira/internal/webkit"
)

// TestMobileSitesLongValues: records whose values are long and have no
// place to break (a service's name of kanji and kana, a plan's name of one
// Latin word, a number of the 40 characters --number allows, an item's
// description) and an invoice of tens of millions of yen, on a 360 px
// phone, in both languages. The values stretched the list's cards, the
// details' grid and the invoice's items past the screen: the page scrolled
// sideways and the amounts beside them were off screen; the amounts pushed
// the invoice's totals per rate wider than the screen, their 合計 (税込)
// hidden at the right. An invoice of over ten billion yen (11 digits and
// more) pushed its ご請求金額 past the edge of its box, and its amount cells
// past theirs, without the page itself scrolling: every amount must stay
// inside its box.
func TestMobileSitesLongValues(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	vp := mobileViewports[0]
	const (
		service = "光回線ビジネスプレミアム固定アイピーアドレス八個付き法人向け長期割引特別契約回線サービス"
		plan    = "BusinessPremiumFixedAddressEightLongTermDiscount"
		appNo   = "A-2026-LONGNUMBER-0123456789-0123456789"
		conNo   = "C-2026-LONGNUMBER-0123456789-0123456789"
		invNo   = "INV-LONGNUMBER-0123456789-0123456789-01"
		// 12,345,678,000 + 9,876,543,200 yen before tax: ¥24,246,912,456
		// due, 11 digits; and 100,000,000 yen a unit, a million units (the
		// most --item takes), ¥220,000,000,000,000 due, 15 digits.
		bigNo  = "INV-BIG-AMOUNTS"
		hugeNo = "INV-HUGE-AMOUNTS"
	)
	today := time.Now().In(webkit.JST)
	d.operator(t, "applications", "create", "--email", satoEmail, "--service", service, "--plan", plan,
		"--number", appNo, "--data", d.data)
	d.operator(t, "contracts", "create", "--email", satoEmail, "--service", service, "--plan", plan,
		"--monthly-fee", "4800", "--start", today.Format("2006-01-02"), "--number", conNo, "--data", d.data)
	d.operator(t, "invoices", "create", "--email", satoEmail, "--period", today.Format("2006-01"), "--number", invNo,
		"--item", service+"|1|12345678|10", "--item", plan+"|2|6172839|8", "--data", d.data)
	d.operator(t, "invoices", "create", "--email", satoEmail, "--period", today.Format("2006-01"), "--number", bigNo,
		"--item", service+"|1000|12345678|10", "--item", plan+"|100|98765432|8", "--data", d.data)
	d.operator(t, "invoices", "create", "--email", satoEmail, "--period", today.Format("2006-01"), "--number", hugeNo,
		"--item", service+"|1000000|100000000|10", "--item", plan+"|1000000|100000000|10", "--data", d.data)

	p := newMobileBrowser(t, d.URL, axe, vp)
	p.satoSignsIn(key)
	contracts, invoices := originOf(t, d.ContractsURL), originOf(t, d.InvoicesURL)
	for _, lang := range []string{"ja", "en"} {
		h := map[string]map[string]string{
			"ja": {"contracts": contractsHeading, "invoices": invoicesHeading, "app": "申込 ", "con": "契約 ", "inv": "適格請求書"},
			"en": {"contracts": "Your applications and contracts", "invoices": "Your invoices", "app": "Application ", "con": "Contract ", "inv": "Qualified Invoice"},
		}[lang]
		if lang == "en" {
			// The choice holds on both sites (the demo's share a host).
			p.lang = "en"
			p.clickTo(button("English"), "/", h["contracts"])
		} else {
			p.visit(d.ContractsURL+"/", contracts, "/", h["contracts"])
		}
		p.mobileScreen(vp, "70-long-values-contracts-"+lang)
		p.visit(d.ContractsURL+"/applications/"+appNo, contracts, "/applications/"+appNo, h["app"]+appNo)
		p.mobileScreen(vp, "71-long-values-application-"+lang)
		p.visit(d.ContractsURL+"/contracts/"+conNo, contracts, "/contracts/"+conNo, h["con"]+conNo)
		p.mobileScreen(vp, "72-long-values-contract-"+lang)
		p.visit(d.InvoicesURL+"/", invoices, "/", h["invoices"])
		p.mobileScreen(vp, "73-long-values-invoices-"+lang)
		p.amountsFit("invoices-" + lang)
		p.visit(d.InvoicesURL+"/invoices/"+invNo, invoices, "/invoices/"+invNo, h["inv"])
		p.mobileScreen(vp, "74-long-values-invoice-"+lang)
		p.amountsFit("invoice-" + lang)
		p.visit(d.InvoicesURL+"/invoices/"+bigNo, invoices, "/invoices/"+bigNo, h["inv"])
		p.mobileScreen(vp, "75-big-amounts-invoice-"+lang)
		p.amountsFit("big-invoice-" + lang)
		p.amountDue(lang, "24,246,912,456")
		p.visit(d.InvoicesURL+"/invoices/"+hugeNo, invoices, "/invoices/"+hugeNo, h["inv"])
		p.mobileScreen(vp, "76-huge-amounts-invoice-"+lang)
		p.amountsFit("huge-invoice-" + lang)
		p.amountDue(lang, "220,000,000,000,000")
		if lang == "ja" {
			p.visit(d.ContractsURL+"/", contracts, "/", h["contracts"])
		}
	}
}

// amountsFit fails for every amount that sticks out of its box: the amount
// due in its frame, an amount in its cell. The page need not scroll for
// that to happen (the frame is narrower than the screen), so the check of
// sideways scrolling does not see it.
func (p *page) amountsFit(name string) {
	p.t.Helper()
	for _, problem := range run(p, chromedp.Evaluate[[]string](amountsFitCheck)) {
		p.t.Errorf("%s: %s", name, problem)
	}
}

// amountDue fails unless the amount due reads digits, whole (a break
// inside it must not lose or add a character).
func (p *page) amountDue(lang, digits string) {
	p.t.Helper()
	due := run(p, chromedp.Evaluate[string](`document.querySelector("[data-grand-total]").textContent`))
	if want := map[string]string{"ja": digits + "円", "en": "¥" + digits}[lang]; strings.TrimSpace(due) != want {
		p.t.Errorf("%s: the amount due reads %q, want %q", lang, due, want)
	}
}

const amountsFitCheck = `(() => {
  const problems = [];
  const boxes = document.querySelectorAll(".due-box, .due-box strong, td.num, table.stack td, .details dd");
  for (const box of boxes) {
    const b = box.getBoundingClientRect();
    if (b.width === 0) continue;
    const cs = getComputedStyle(box);
    const left = b.left + parseFloat(cs.borderLeftWidth), right = b.right - parseFloat(cs.borderRightWidth);
    const range = document.createRange();
    range.selectNodeContents(box);
    for (const r of range.getClientRects()) {
      if (r.width > 0 && (r.right > right + 0.5 || r.left < left - 0.5)) {
        problems.push("<" + box.tagName.toLowerCase() + "." + box.className + "> 「" + box.innerText.trim().replace(/\s+/g, " ").slice(0, 40) +
          "」: content from " + Math.round(r.left) + " to " + Math.round(r.right) + " px sticks out of its box, " + Math.round(left) + " to " + Math.round(right) + " px");
        break;
      }
    }
  }
  return problems;
})()`
