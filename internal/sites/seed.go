package sites

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/tobira/tobira/internal/billing"
	"github.com/tobira/tobira/internal/store"
)

// The demo's issuer. The registration number is made up (its check digit
// is right, as a corporate number's would be).
const (
	DemoIssuer             = "トビラ通信株式会社"
	DemoIssuerRegistration = "T5701234567891"
)

// SeedDemo gives the account a believable history, relative to now: three
// applications (開通済, 審査中, キャンセル), two running contracts, and the
// invoices of the last three months with items at both tax rates. Numbers
// are derived from the account id, so each demo customer has their own, and
// seeding an account again changes nothing.
//
// The invoices are made out to the account's name when st can tell it (the
// full store can: it has AccountByID), else to the account's id.
func SeedDemo(ctx context.Context, st store.Sites, accountID string, now time.Time) error {
	recipient, err := recipientOf(ctx, st, accountID)
	if err != nil {
		return err
	}
	now = now.In(jst)
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, jst) }
	today := day(now)
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, jst)
	// Five digits of the account's own, so two demo customers do not share
	// numbers (numbers are unique across accounts).
	tag := fmt.Sprintf("%05d", crc32.ChecksumIEEE([]byte(accountID))%100000)

	fiber := thisMonth.AddDate(0, -4, 0) // the line was opened four months ago
	apps := []store.Application{
		{Service: "光回線 1G", Plan: "ファミリー 2年割", Status: store.ApplicationActive, AppliedAt: fiber.AddDate(0, 0, -18)},
		{Service: "光回線 10G", Plan: "ファミリー", Status: store.ApplicationCancelled, AppliedAt: today.AddDate(0, -2, -3)},
		{Service: "光電話", Plan: "基本プラン", Status: store.ApplicationReviewing, AppliedAt: today.AddDate(0, 0, -3)},
	}
	for i := range apps {
		a := &apps[i]
		a.AccountID = accountID
		a.Number = fmt.Sprintf("A-%d-%s%d", a.AppliedAt.Year(), tag, i+1)
		a.ID = "demo-" + a.Number
		err := st.CreateApplication(ctx, a)
		if errors.Is(err, store.ErrConflict) {
			err = seeded(st.ApplicationByNumber(ctx, accountID, a.Number))
		}
		if err != nil {
			return fmt.Errorf("seed application %s: %w", a.Number, err)
		}
	}

	water := thisMonth.AddDate(0, -3, 0)
	cons := []store.Contract{
		{Service: "光回線 1G", Plan: "ファミリー 2年割", StartDate: fiber, MonthlyFee: 4800, Status: store.ContractActive},
		{Service: "宅配ミネラルウォーター", Plan: "12L × 2本／月", StartDate: water, MonthlyFee: 2320, Status: store.ContractActive},
	}
	for i := range cons {
		k := &cons[i]
		k.AccountID = accountID
		k.Number = fmt.Sprintf("C-%d-%s%d", k.StartDate.Year(), tag, i+1)
		k.ID = "demo-" + k.Number
		err := st.CreateContract(ctx, k)
		if errors.Is(err, store.ErrConflict) {
			err = seeded(st.ContractByNumber(ctx, accountID, k.Number))
		}
		if err != nil {
			return fmt.Errorf("seed contract %s: %w", k.Number, err)
		}
	}

	// The last three months, each issued on the first of the next.
	for back := 3; back >= 1; back-- {
		start := thisMonth.AddDate(0, -back, 0)
		items := []store.InvoiceItem{
			{Description: "光回線 1G 月額基本料 (ファミリー 2年割)", Quantity: 1, UnitPrice: 4800, TaxRate: 10},
			{Description: "Wi-Fi ルーターレンタル", Quantity: 1, UnitPrice: 455, TaxRate: 10},
			{Description: "ユニバーサルサービス料", Quantity: 1, UnitPrice: 2, TaxRate: 10},
			{Description: "電話リレーサービス料", Quantity: 1, UnitPrice: 1, TaxRate: 10},
			// 8 %: per line the tax would be 185 + 55 = 240 yen; once on the
			// rate's 3,017 yen it is 241.36 → 241 (with three bottles: 333
			// per line, 334 per rate). The invoices show the per-rate amounts.
			{Description: "宅配ミネラルウォーター 12L", Quantity: 2 + back%2, UnitPrice: 1160, TaxRate: 8, Reduced: true},
			{Description: "ミネラルウォーター 500ml (24本)", Quantity: 1, UnitPrice: 697, TaxRate: 8, Reduced: true},
		}
		if back == 2 { // a one-off, with the month's other 10 % items
			items = slices.Insert(items, 2, store.InvoiceItem{Description: "訪問設定サポート", Quantity: 1, UnitPrice: 6600, TaxRate: 10})
		}
		inv := &store.Invoice{
			AccountID:          accountID,
			Number:             fmt.Sprintf("INV-%s-%s", start.Format("200601"), tag),
			IssuerName:         DemoIssuer,
			IssuerRegistration: DemoIssuerRegistration,
			Recipient:          recipient,
			IssuedAt:           start.AddDate(0, 1, 0),
			PeriodStart:        start,
			PeriodEnd:          start.AddDate(0, 1, -1),
			Items:              items,
		}
		inv.ID = "demo-" + inv.Number
		if err := billing.Validate(inv); err != nil {
			return fmt.Errorf("seed invoice %s: %w", inv.Number, err)
		}
		err := st.CreateInvoice(ctx, inv)
		if errors.Is(err, store.ErrConflict) {
			err = seeded(st.InvoiceByNumber(ctx, accountID, inv.Number))
		}
		if err != nil {
			return fmt.Errorf("seed invoice %s: %w", inv.Number, err)
		}
	}
	return nil
}

// seeded turns the lookup after a conflict into the answer: nil when the
// number is this account's already (seeded before), an error when it is
// another account's.
func seeded[T any](_ T, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("number taken by another account: %w", store.ErrConflict)
	}
	return err
}

// recipientOf is the name invoices are made out to.
func recipientOf(ctx context.Context, st store.Sites, accountID string) (string, error) {
	accounts, ok := st.(interface {
		AccountByID(ctx context.Context, id string) (*store.Account, error)
	})
	if !ok {
		return accountID, nil
	}
	a, err := accounts.AccountByID(ctx, accountID)
	if err != nil {
		return "", fmt.Errorf("seed: account %s: %w", accountID, err)
	}
	if a.Name != "" {
		return a.Name, nil
	}
	return a.Email, nil
}
