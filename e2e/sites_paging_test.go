package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestMobileSitesPaging: a customer with more invoices than a page holds
// sees the newest twenty, then the rest behind 「次へ」, on a 360 px phone:
// the links between the pages are tap targets of their own, nothing
// scrolls sideways, and a page number that is not one gets a message in the
// customer's language.
func TestMobileSitesPaging(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	vp := mobileViewports[0]
	for i := range 21 { // older than the demo's own: they end the list
		period := fmt.Sprintf("%d-%02d", 2024+i/12, 1+i%12)
		d.operator(t, "invoices", "create", "--email", satoEmail, "--period", period, "--number", fmt.Sprintf("INV-PAGE-%02d", i),
			"--item", "光回線 1G 月額基本料|1|4800|10", "--data", d.data)
	}

	p := newMobileBrowser(t, d.URL, axe, vp)
	p.satoSignsIn(key)
	invoices := originOf(t, d.InvoicesURL)
	for _, lang := range []string{"ja", "en"} {
		w := map[string]map[string]string{
			"ja": {"h1": invoicesHeading, "prev": "前へ", "next": "次へ", "first": "1 / 2 ページ", "second": "2 / 2 ページ",
				"bad": "ページの指定が正しくありません。", "error": "エラー"},
			"en": {"h1": "Your invoices", "prev": "Previous", "next": "Next", "first": "Page 1 of 2", "second": "Page 2 of 2",
				"bad": "That page number is not valid.", "error": "Error"},
		}[lang]
		if lang == "en" {
			p.visit(d.InvoicesURL+"/", invoices, "/", invoicesHeading)
			p.lang = "en"
			p.clickTo(button("English"), "/", w["h1"])
		} else {
			p.visit(d.InvoicesURL+"/", invoices, "/", w["h1"])
		}
		rows := func() int { return run(p, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`)) }
		if n := rows(); n != 20 {
			t.Errorf("%s: page 1 lists %d invoices, want 20", lang, n)
		}
		body := p.bodyText()
		if !strings.Contains(body, w["first"]) || strings.Contains(body, "INV-PAGE-00") {
			t.Errorf("%s: page 1 does not read %q, or lists the oldest invoice:\n%s", lang, w["first"], body)
		}
		p.mobileScreen(vp, "80-paging-first-"+lang)

		p.clickTo(link(w["next"]), "/", w["h1"])
		if n := rows(); n < 1 || n > 20 {
			t.Errorf("%s: page 2 lists %d invoices", lang, n)
		}
		body = p.bodyText()
		if !strings.Contains(body, w["second"]) || !strings.Contains(body, "INV-PAGE-00") {
			t.Errorf("%s: page 2 does not read %q, or lacks the oldest invoice:\n%s", lang, w["second"], body)
		}
		if q := run(p, chromedp.Evaluate[string](`location.search`)); q != "?page=2" {
			t.Errorf("%s: page 2 at %q", lang, q)
		}
		p.mobileScreen(vp, "81-paging-second-"+lang)
		p.clickTo(link(w["prev"]), "/", w["h1"])
		if n := rows(); n != 20 {
			t.Errorf("%s: back on page 1, %d invoices", lang, n)
		}

		p.navigationStatus(chromedp.Navigate(d.InvoicesURL+"/?page=-3"), 400, "/", w["error"])
		if body := p.bodyText(); !strings.Contains(body, w["bad"]) {
			t.Errorf("%s: a bad page number reads:\n%s", lang, body)
		}
		p.mobileScreen(vp, "82-paging-bad-"+lang)
	}
}
