package sites

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/billing"
)

func TestInvoicesHome(t *testing.T) {
	e := newEnv(t)
	invs, err := e.db.InvoicesOf(t.Context(), hanako.AccountID)
	must(t, err)
	if len(invs) != 3 {
		t.Fatalf("seeded %d invoices, want 3", len(invs))
	}
	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			r := do(t, e.invoices, req{path: "/", who: "hanako", lang: lang})
			if r.code != http.StatusOK {
				t.Fatalf("GET / = %d", r.code)
			}
			has(t, "home", r.body, map[string]string{"ja": "適格請求書閲覧サイト", "en": "Qualified invoices"}[lang])
			for _, inv := range invs {
				total := billing.Sum(billing.Totals(inv.Items)).Total
				has(t, "home", r.body, `href="/invoices/`+inv.Number+`"`, formatDate(lang, inv.IssuedAt),
					formatDate(lang, inv.PeriodStart), formatDate(lang, inv.PeriodEnd), FormatYen(lang, total))
			}
			lacks(t, "home", r.body, e.other.inv)
		})
	}
	// The seeded months' amounts due, worked out by hand: April and February
	// 10,294 yen, March 16,301 yen; the newest first.
	r := do(t, e.invoices, req{path: "/", who: "hanako"})
	has(t, "amounts", r.body, "10,294円", "16,301円", "2026年4月1日〜2026年4月30日")
	if i, j := strings.Index(r.body, "2026年4月1日〜"), strings.Index(r.body, "2026年2月1日〜"); i < 0 || i > j {
		t.Errorf("April's invoice not listed before February's")
	}
}

var rowRE = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)

// rowWith returns the table row that contains s.
func rowWith(t *testing.T, body, s string) string {
	t.Helper()
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[0], s) {
			return m[0]
		}
	}
	t.Errorf("no row with %q", s)
	return ""
}

func TestInvoicePage(t *testing.T) {
	e := newEnv(t)
	invs, err := e.db.InvoicesOf(t.Context(), hanako.AccountID)
	must(t, err)
	for _, lang := range []string{"ja", "en"} {
		for _, inv := range invs {
			t.Run(lang+"/"+inv.Number, func(t *testing.T) {
				r := do(t, e.invoices, req{path: "/invoices/" + inv.Number, who: "hanako", lang: lang})
				if r.code != http.StatusOK {
					t.Fatalf("GET /invoices/%s = %d", inv.Number, r.code)
				}
				yen := func(n int64) string { return FormatYen(lang, n) }
				// (1) issuer and registration number, (2) date and period,
				// (6) the recipient.
				recipient := map[string]string{"ja": esc(hanako.Name) + " 様", "en": `Bill to: <span lang="ja">` + esc(hanako.Name) + `</span>`}[lang]
				has(t, "invoice", r.body, esc(DemoIssuer), DemoIssuerRegistration, inv.Number, recipient,
					formatDate(lang, inv.IssuedAt), formatDate(lang, inv.PeriodStart), formatDate(lang, inv.PeriodEnd),
					map[string]string{"ja": "適格請求書", "en": "Qualified Invoice"}[lang],
					map[string]string{"ja": "登録番号", "en": "Registration no."}[lang])
				// (3) what was supplied, the reduced-rate items marked ※.
				for _, it := range inv.Items {
					row := rowWith(t, r.body, esc(it.Description))
					if got := strings.Contains(row, "※"); got != it.Reduced {
						t.Errorf("item %q: ※ shown %v, want %v", it.Description, got, it.Reduced)
					}
					has(t, "item row", row, yen(it.UnitPrice), yen(billing.Amount(it)), fmt.Sprintf("%d%%", it.TaxRate))
				}
				has(t, "invoice", r.body, map[string]string{"ja": "※は軽減税率(8%)対象", "en": "※ Reduced tax rate (8%) item"}[lang])
				// (4), (5): per rate, the subtotal, its tax and the rate, as
				// billing computes them; then the grand total.
				totals := billing.Totals(inv.Items)
				if len(totals) != 2 {
					t.Fatalf("seeded invoice has %d rates, want both", len(totals))
				}
				for _, rt := range totals {
					row := rowWith(t, r.body, fmt.Sprintf(`data-rate="%d"`, rt.Rate))
					label := map[string]string{"ja": "%d%%対象", "en": "%d%% items"}[lang]
					has(t, "rate row", row, fmt.Sprintf(label, rt.Rate), yen(rt.Subtotal), yen(rt.Tax), yen(rt.Total))
					// On a phone each rate is a card of labelled amounts.
					has(t, "rate row", row, map[string]string{
						"ja": `data-label="小計 (税抜)" class="num">` + yen(rt.Subtotal) + `<`,
						"en": `data-label="Subtotal (excl. tax)" class="num">` + yen(rt.Subtotal) + `<`}[lang],
						map[string]string{"ja": `data-label="消費税" class="num">`, "en": `data-label="Consumption tax" class="num">`}[lang]+yen(rt.Tax)+`<`)
				}
				has(t, "totals", r.body, `<table class="totals stack">`)
				sum := billing.Sum(totals)
				has(t, "grand total", r.body, `data-grand-total>`+yen(sum.Total)+`<`, yen(sum.Subtotal), yen(sum.Tax))
				// The print button (shown by script) and the print stylesheet.
				has(t, "invoice", r.body, `data-print hidden>`+map[string]string{"ja": "印刷", "en": "Print"}[lang]+`</button>`,
					`href="/static/site.css?v=`)
			})
		}
	}
}

// TestInvoiceTaxPerRate pins the amounts of a seeded month where rounding
// per line would give another tax: 8 % on 3,480 + 697 yen is 334 yen
// (334.16), where per line it would be 278 + 55 = 333.
func TestInvoiceTaxPerRate(t *testing.T) {
	e := newEnv(t)
	invs, err := e.db.InvoicesOf(t.Context(), hanako.AccountID)
	must(t, err)
	april := invs[0]
	if !strings.HasPrefix(april.Number, "INV-202604-") {
		t.Fatalf("newest invoice %s, want April 2026's", april.Number)
	}
	r := do(t, e.invoices, req{path: "/invoices/" + april.Number, who: "hanako"})
	rows := map[int]string{10: rowWith(t, r.body, `data-rate="10"`), 8: rowWith(t, r.body, `data-rate="8"`)}
	has(t, "10 %", rows[10], "10%対象", "5,258円", "525円", "5,783円")
	has(t, "8 %", rows[8], "8%対象", "4,177円", "334円", "4,511円")
	has(t, "grand total", r.body, "data-grand-total>10,294円<")

	var perLine int64
	for _, it := range april.Items {
		if it.TaxRate == 8 {
			perLine += billing.Tax(billing.Amount(it), 8)
		}
	}
	if perLine != 333 {
		t.Errorf("per-line tax at 8 %% = %d; the seed no longer shows the difference", perLine)
	}
}

func TestInvoiceWithoutReducedItems(t *testing.T) {
	e := newEnv(t)
	r := do(t, e.invoices, req{path: "/invoices/" + e.other.inv, who: "ichiro"})
	if r.code != http.StatusOK {
		t.Fatalf("GET = %d", r.code)
	}
	// No ※ anywhere: no reduced item, so no note either.
	lacks(t, "invoice", r.body, "※", `data-rate="8"`)
	has(t, "invoice", r.body, `data-rate="10"`, "123,456円", "12,345円", "data-grand-total>135,801円<")
}

func TestInvoicesEmpty(t *testing.T) {
	e := newEnv(t)
	e.auth.Users["new"] = &User{AccountID: "acc-new"}
	has(t, "empty", do(t, e.invoices, req{path: "/", who: "new"}).body, "請求書はありません。")
	has(t, "empty", do(t, e.invoices, req{path: "/", who: "new", lang: "en"}).body, "You have no invoices.")
}

func TestPrintStylesheet(t *testing.T) {
	e := newEnv(t)
	r := do(t, e.invoices, req{path: "/static/site.css"})
	if r.code != http.StatusOK || !strings.HasPrefix(r.h.Get("Content-Type"), "text/css") {
		t.Fatalf("site.css: %d %s", r.code, r.h.Get("Content-Type"))
	}
	i := strings.Index(r.body, "@media print")
	if i < 0 {
		t.Fatal("no @media print")
	}
	has(t, "print rules", r.body[i:], ".top", ".account", "display: none")
	has(t, "page", r.body, "size: A4")
	js := do(t, e.invoices, req{path: "/static/site.js"})
	has(t, "site.js", js.body, "window.print()", `"Escape"`)
}

// The seeded invoices are valid qualified invoices with both rates.
func TestSeededInvoicesValid(t *testing.T) {
	e := newEnv(t)
	invs, err := e.db.InvoicesOf(t.Context(), hanako.AccountID)
	must(t, err)
	for _, inv := range invs {
		if err := billing.Validate(&inv); err != nil {
			t.Errorf("%s: %v", inv.Number, err)
		}
		if inv.Recipient != hanako.Name {
			t.Errorf("%s made out to %q, want the account's name", inv.Number, inv.Recipient)
		}
		rates := map[int]bool{}
		for _, it := range inv.Items {
			rates[it.TaxRate] = true
		}
		if !rates[8] || !rates[10] {
			t.Errorf("%s has rates %v, want 8 and 10", inv.Number, rates)
		}
	}
}

// TestRegistrationCheckDigit: an invoice whose registration number has a
// wrong check digit (one digit mistyped: T1234567890123 would need 9 in
// front) is shown, with a warning beside the number; the demo's, whose
// check digit is right, is shown without one.
func TestRegistrationCheckDigit(t *testing.T) {
	e := newEnv(t)
	invs, err := e.db.InvoicesOf(t.Context(), hanako.AccountID)
	must(t, err)
	bad := invs[0]
	bad.ID, bad.Number, bad.IssuerRegistration = "bad-reg", "INV-BADREG-1", "T1234567890123"
	must(t, e.db.CreateInvoice(t.Context(), &bad))
	warn := map[string]string{"ja": "この登録番号は正しくない可能性があります", "en": "This registration number may be wrong"}
	for _, lang := range []string{"ja", "en"} {
		r := do(t, e.invoices, req{path: "/invoices/" + bad.Number, who: "hanako", lang: lang})
		if r.code != http.StatusOK {
			t.Fatalf("GET /invoices/%s = %d", bad.Number, r.code)
		}
		has(t, lang+" bad registration", r.body, "T1234567890123", "data-registration-warning", warn[lang])
		r = do(t, e.invoices, req{path: "/invoices/" + invs[0].Number, who: "hanako", lang: lang})
		has(t, lang+" good registration", r.body, DemoIssuerRegistration)
		lacks(t, lang+" good registration", r.body, "data-registration-warning", warn[lang])
	}
}
