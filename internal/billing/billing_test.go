package billing

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

func item(price int64, qty, rate int) store.InvoiceItem {
	return store.InvoiceItem{Description: "x", Quantity: qty, UnitPrice: price, TaxRate: rate, Reduced: rate == ReducedRate}
}

func TestTotals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		items []store.InvoiceItem
		want  []RateTotal
	}{
		{"none", nil, nil},
		{
			// Per line: 15 + 15 + 15 = 45 yen. Per rate: 465 × 10 % = 46.5 → 46.
			"per rate, not per line (10 %)",
			[]store.InvoiceItem{item(155, 1, 10), item(155, 1, 10), item(155, 1, 10)},
			[]RateTotal{{Rate: 10, Subtotal: 465, Tax: 46, Total: 511}},
		},
		{
			// Per line: 9 + 36 = 45 yen. Per rate: 579 × 8 % = 46.32 → 46.
			"per rate, not per line (8 %)",
			[]store.InvoiceItem{item(123, 1, 8), item(456, 1, 8)},
			[]RateTotal{{Rate: 8, Subtotal: 579, Tax: 46, Total: 625}},
		},
		{
			// 4,800 + 455 = 5,255 → 525.5 → 525; 2 × 1,150 = 2,300 → 184.
			"both rates, 10 % first whatever the item order",
			[]store.InvoiceItem{item(1150, 2, 8), item(4800, 1, 10), item(455, 1, 10)},
			[]RateTotal{
				{Rate: 10, Subtotal: 5255, Tax: 525, Total: 5780},
				{Rate: 8, Subtotal: 2300, Tax: 184, Total: 2484},
			},
		},
		{
			"quantity times price, rounded down once",
			[]store.InvoiceItem{item(333, 3, 10)}, // 999 → 99.9 → 99
			[]RateTotal{{Rate: 10, Subtotal: 999, Tax: 99, Total: 1098}},
		},
		{
			"a free item still shows its rate",
			[]store.InvoiceItem{item(0, 1, 8)},
			[]RateTotal{{Rate: 8, Subtotal: 0, Tax: 0, Total: 0}},
		},
		{
			"at the bounds, no overflow",
			[]store.InvoiceItem{item(maxUnitPrice, maxQuantity, 10)},
			[]RateTotal{{Rate: 10, Subtotal: 1e14, Tax: 1e13, Total: 1.1e14}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Totals(tc.items)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Totals:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSum(t *testing.T) {
	got := Sum(Totals([]store.InvoiceItem{item(1150, 2, 8), item(4800, 1, 10), item(455, 1, 10)}))
	if want := (RateTotal{Subtotal: 7555, Tax: 709, Total: 8264}); got != want {
		t.Errorf("Sum = %+v, want %+v", got, want)
	}
	if got := Sum(nil); got != (RateTotal{}) {
		t.Errorf("Sum(nil) = %+v", got)
	}
}

func TestValidRegistration(t *testing.T) {
	for s, want := range map[string]bool{
		// Corporate numbers of 国税庁, トヨタ自動車 and ソニーグループ, and the
		// demo's made-up one.
		"T7000012050002": true,
		"T1180301018771": true,
		"T5010401067252": true,
		"T5701234567891": true,
		"T9234567890123": true,
		// One digit changed, or two swapped: the check digit tells.
		"T1234567890123":  false,
		"T7000012050003":  false,
		"T7000010250002":  false,
		"T0000000000000":  false, // 9 - 0 mod 9 is 9
		"T9000000000000":  true,
		"T123456789012":   false, // 12 digits
		"T12345678901234": false, // 14 digits
		"t1234567890123":  false,
		"1234567890123":   false,
		"X1234567890123":  false,
		"T123456789012a":  false,
		"T１２３４５６７８９０１２３": false, // full-width digits
		"T-234567890123": false,
		"":               false,
	} {
		if got := ValidRegistration(s); got != want {
			t.Errorf("ValidRegistration(%q) = %v, want %v", s, got, want)
		}
	}
}

func validInvoice() *store.Invoice {
	start := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	return &store.Invoice{
		Number: "INV-202604-0001", IssuerName: "トビラ通信株式会社", IssuerRegistration: "T9234567890123",
		Recipient: "山田 太郎", IssuedAt: start.AddDate(0, 1, 0),
		PeriodStart: start, PeriodEnd: start.AddDate(0, 1, -1),
		Items: []store.InvoiceItem{
			{Description: "光回線 1G 月額基本料", Quantity: 1, UnitPrice: 4800, TaxRate: 10},
			{Description: "宅配ミネラルウォーター 12L", Quantity: 2, UnitPrice: 1150, TaxRate: 8, Reduced: true},
		},
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(validInvoice()); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	oneDay := validInvoice()
	oneDay.PeriodEnd = oneDay.PeriodStart
	if err := Validate(oneDay); err != nil {
		t.Errorf("a one-day period: %v", err)
	}

	for _, tc := range []struct {
		name   string
		change func(v *store.Invoice)
		want   string // in the error
	}{
		{"registration too short", func(v *store.Invoice) { v.IssuerRegistration = "T123456789012" }, "registration"},
		{"registration without T", func(v *store.Invoice) { v.IssuerRegistration = "1234567890123" }, "registration"},
		{"registration check digit", func(v *store.Invoice) { v.IssuerRegistration = "T1234567890123" }, "wrong check digit (its first digit would be 9)"},
		{"no issuer", func(v *store.Invoice) { v.IssuerName = "" }, "issuer name"},
		{"no recipient", func(v *store.Invoice) { v.Recipient = "" }, "recipient"},
		{"no number", func(v *store.Invoice) { v.Number = "" }, "number"},
		{"no issue date", func(v *store.Invoice) { v.IssuedAt = time.Time{} }, "issue date"},
		{"no period", func(v *store.Invoice) { v.PeriodEnd = time.Time{} }, "no period"},
		{"period backwards", func(v *store.Invoice) { v.PeriodEnd = v.PeriodStart.Add(-time.Hour) }, "period ends before"},
		{"no items", func(v *store.Invoice) { v.Items = nil }, "no items"},
		{"rate 5", func(v *store.Invoice) { v.Items[0].TaxRate = 5 }, "item 1: tax rate 5"},
		{"rate 0", func(v *store.Invoice) { v.Items[1].TaxRate, v.Items[1].Reduced = 0, false }, "item 2: tax rate 0"},
		{"zero quantity", func(v *store.Invoice) { v.Items[0].Quantity = 0 }, "item 1: quantity 0"},
		{"negative quantity", func(v *store.Invoice) { v.Items[1].Quantity = -1 }, "item 2: quantity -1"},
		{"huge quantity", func(v *store.Invoice) { v.Items[0].Quantity = maxQuantity + 1 }, "item 1: quantity"},
		{"negative price", func(v *store.Invoice) { v.Items[0].UnitPrice = -100 }, "item 1: unit price -100"},
		{"huge price", func(v *store.Invoice) { v.Items[0].UnitPrice = maxUnitPrice + 1 }, "item 1: unit price"},
		{"no description", func(v *store.Invoice) { v.Items[1].Description = "" }, "item 2: no description"},
		{"8 % not marked reduced", func(v *store.Invoice) { v.Items[1].Reduced = false }, "item 2: reduced is false at 8"},
		{"10 % marked reduced", func(v *store.Invoice) { v.Items[0].Reduced = true }, "item 1: reduced is true at 10"},
		{"too many items", func(v *store.Invoice) {
			v.Items = make([]store.InvoiceItem, maxItems+1)
			for i := range v.Items {
				v.Items[i] = item(1, 1, 10)
			}
		}, "1001 items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validInvoice()
			tc.change(v)
			err := Validate(v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error with %q", err, tc.want)
			}
		})
	}

	// Every problem is reported, not just the first.
	v := validInvoice()
	v.IssuerRegistration, v.Items[0].Quantity, v.Items[1].TaxRate = "", 0, 5
	err := Validate(v)
	for _, want := range []string{"registration", "item 1: quantity", "item 2: tax rate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate with three problems = %v, want it to name %q", err, want)
		}
	}
}
