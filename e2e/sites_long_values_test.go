package e2e

import (
	"testing"
	"time"

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
// hidden at the right.
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
	)
	today := time.Now().In(webkit.JST)
	d.operator(t, "applications", "create", "--email", satoEmail, "--service", service, "--plan", plan,
		"--number", appNo, "--data", d.data)
	d.operator(t, "contracts", "create", "--email", satoEmail, "--service", service, "--plan", plan,
		"--monthly-fee", "4800", "--start", today.Format("2006-01-02"), "--number", conNo, "--data", d.data)
	d.operator(t, "invoices", "create", "--email", satoEmail, "--period", today.Format("2006-01"), "--number", invNo,
		"--item", service+"|1|12345678|10", "--item", plan+"|2|6172839|8", "--data", d.data)

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
		p.visit(d.InvoicesURL+"/invoices/"+invNo, invoices, "/invoices/"+invNo, h["inv"])
		p.mobileScreen(vp, "74-long-values-invoice-"+lang)
		if lang == "ja" {
			p.visit(d.ContractsURL+"/", contracts, "/", h["contracts"])
		}
	}
}
