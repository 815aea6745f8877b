// Package billing is the arithmetic of a qualified invoice (適格請求書):
// the consumption tax is computed once per invoice and tax rate, on the
// tax-exclusive subtotal of that rate, and rounded down (切り捨て). Rounding
// per line is what the qualified-invoice rules forbid, and it gives other
// amounts.
package billing

import (
	"errors"
	"fmt"

	"github.com/tobira/tobira/internal/store"
)

// The consumption tax rates, in percent.
const (
	StandardRate = 10
	ReducedRate  = 8 // 軽減税率: marked ※ on the invoice
)

// Rates lists the rates in the order an invoice prints them.
var Rates = []int{StandardRate, ReducedRate}

// Bounds that keep every sum far from overflowing int64: a rate's subtotal
// is at most maxItems × maxQuantity × maxUnitPrice = 10^17 yen, and ten
// times that, in Tax, is still below 9.2 × 10^18.
const (
	maxItems     = 1000
	maxQuantity  = 1_000_000
	maxUnitPrice = 100_000_000 // 1億円 a unit
)

// RateTotal is what an invoice shows for one tax rate.
type RateTotal struct {
	Rate     int   // percent
	Subtotal int64 // tax excluded, yen
	Tax      int64 // on Subtotal, rounded down
	Total    int64 // Subtotal + Tax
}

// Amount is one line's tax-exclusive amount.
func Amount(it store.InvoiceItem) int64 { return int64(it.Quantity) * it.UnitPrice }

// Tax is the consumption tax on a subtotal at a rate, rounded down.
func Tax(subtotal int64, rate int) int64 {
	// Subtotals are never negative (Validate), so integer division rounds down.
	return subtotal * int64(rate) / 100
}

// Totals returns a RateTotal for each rate the items use, 10 % before 8 %.
// The items are assumed valid (Validate).
func Totals(items []store.InvoiceItem) []RateTotal {
	var out []RateTotal
	for _, rate := range Rates {
		var sub int64
		used := false
		for _, it := range items {
			if it.TaxRate == rate {
				sub += Amount(it)
				used = true
			}
		}
		if used {
			tax := Tax(sub, rate)
			out = append(out, RateTotal{Rate: rate, Subtotal: sub, Tax: tax, Total: sub + tax})
		}
	}
	return out
}

// Sum adds up the rates' totals: the invoice's subtotal, tax and amount
// due. Its Rate is 0.
func Sum(ts []RateTotal) RateTotal {
	var s RateTotal
	for _, t := range ts {
		s.Subtotal += t.Subtotal
		s.Tax += t.Tax
		s.Total += t.Total
	}
	return s
}

// ValidRegistration tells whether s is a qualified invoice issuer's
// registration number: "T" and a 13-digit corporate number (法人番号) whose
// check digit is right.
func ValidRegistration(s string) bool { return RegistrationProblem(s) == "" }

// RegistrationProblem says what is wrong with the registration number s, in
// English for operators; "" when nothing is.
func RegistrationProblem(s string) string {
	if len(s) != 14 || s[0] != 'T' {
		return fmt.Sprintf("registration number %q is not T and 13 digits", s)
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return fmt.Sprintf("registration number %q is not T and 13 digits", s)
		}
	}
	if want := checkDigit(s[2:]); int(s[1]-'0') != want {
		return fmt.Sprintf("registration number %q has a wrong check digit (its first digit would be %d): mistyped?", s, want)
	}
	return ""
}

// checkDigit is the check digit of a corporate number's 12-digit body (the
// 法人番号's first digit): 9 - (Σ Pn × Qn mod 9), where Pn is the n-th
// digit from the right and Qn is 1 for odd n and 2 for even n. 国税庁's own
// number, 7000012050002, has body 000012050002 and check digit 7.
func checkDigit(body string) int {
	sum := 0
	for n := 1; n <= len(body); n++ {
		q := 1
		if n%2 == 0 {
			q = 2
		}
		sum += int(body[len(body)-n]-'0') * q
	}
	return 9 - sum%9
}

// Validate reports every reason inv is not a qualified invoice Tobira can
// issue, joined; nil when it is one.
func Validate(inv *store.Invoice) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if inv.Number == "" {
		bad("no invoice number")
	}
	if inv.IssuerName == "" {
		bad("no issuer name")
	}
	if p := RegistrationProblem(inv.IssuerRegistration); p != "" {
		errs = append(errs, errors.New(p))
	}
	if inv.Recipient == "" {
		bad("no recipient")
	}
	if inv.IssuedAt.IsZero() {
		bad("no issue date")
	}
	switch {
	case inv.PeriodStart.IsZero() || inv.PeriodEnd.IsZero():
		bad("no period")
	case inv.PeriodEnd.Before(inv.PeriodStart):
		bad("period ends before it starts")
	}
	switch {
	case len(inv.Items) == 0:
		bad("no items")
	case len(inv.Items) > maxItems:
		bad("%d items, at most %d", len(inv.Items), maxItems)
	}
	for i, it := range inv.Items {
		line := i + 1
		if it.Description == "" {
			bad("item %d: no description", line)
		}
		if it.Quantity <= 0 || it.Quantity > maxQuantity {
			bad("item %d: quantity %d, want 1 to %d", line, it.Quantity, maxQuantity)
		}
		if it.UnitPrice < 0 || it.UnitPrice > maxUnitPrice {
			bad("item %d: unit price %d, want 0 to %d", line, it.UnitPrice, maxUnitPrice)
		}
		switch it.TaxRate {
		case StandardRate, ReducedRate:
			// The reduced rate is the only 8 % there is for new supplies,
			// so the mark and the rate go together.
			if it.Reduced != (it.TaxRate == ReducedRate) {
				bad("item %d: reduced is %v at %d %%", line, it.Reduced, it.TaxRate)
			}
		default:
			bad("item %d: tax rate %d %%, want 10 or 8", line, it.TaxRate)
		}
	}
	return errors.Join(errs...)
}
