package store

import (
	"context"
	"time"
)

// The customer sites' records. Numbers (申込番号, 契約番号, 請求書番号) are
// what customers see and quote to support; they are unique across all
// accounts. Dates (AppliedAt, StartDate, IssuedAt, the period) are instants,
// the sites show them as dates in Japan's time zone. Amounts are whole yen.

// ApplicationStatus is where an application (申込) stands.
type ApplicationStatus string

const (
	ApplicationReceived  ApplicationStatus = "received"  // 受付済
	ApplicationReviewing ApplicationStatus = "reviewing" // 審査中
	ApplicationActive    ApplicationStatus = "active"    // 開通済
	ApplicationCancelled ApplicationStatus = "cancelled" // キャンセル
)

// Application is a customer's application for a service (申込).
type Application struct {
	ID        string
	AccountID string
	Number    string // e.g. "A-2026-000123"
	Service   string // e.g. "光回線 1G"
	Plan      string
	Status    ApplicationStatus
	AppliedAt time.Time
}

// ContractStatus is whether a contract (契約) runs.
type ContractStatus string

const (
	ContractActive ContractStatus = "active" // 契約中
	ContractEnded  ContractStatus = "ended"  // 終了
)

// Contract is a service a customer has (契約).
type Contract struct {
	ID         string
	AccountID  string
	Number     string // e.g. "C-2026-000045"
	Service    string
	Plan       string
	StartDate  time.Time
	MonthlyFee int64 // yen, tax excluded (the rate depends on the service)
	Status     ContractStatus
}

// Invoice is a qualified invoice (適格請求書).
type Invoice struct {
	ID        string
	AccountID string
	Number    string
	// The issuer and its registration number: "T" and 13 digits.
	IssuerName         string
	IssuerRegistration string
	Recipient          string // the customer's name, shown with 様
	IssuedAt           time.Time
	// The period of the supplies billed, both days included.
	PeriodStart, PeriodEnd time.Time
	Items                  []InvoiceItem // in the order they are printed
}

// InvoiceItem is one line of an invoice. Tax is not per line: it is
// computed once per rate over the invoice (package billing).
type InvoiceItem struct {
	Description string
	Quantity    int
	UnitPrice   int64 // yen, tax excluded
	TaxRate     int   // percent: 10, or 8 for the reduced rate
	Reduced     bool  // under the reduced rate, marked ※
}

// MaxPageSize bounds a page of a list: the most records one read returns.
const MaxPageSize = 100

// Page asks for one page of a list: at most Limit records, after the first
// Offset of the list's order.
type Page struct{ Offset, Limit int }

// Bounded is p as a store reads it: a Limit outside 1..MaxPageSize is
// MaxPageSize, a negative Offset is 0.
func (p Page) Bounded() Page {
	if p.Limit < 1 || p.Limit > MaxPageSize {
		p.Limit = MaxPageSize
	}
	p.Offset = max(p.Offset, 0)
	return p
}

// Sites stores the customer sites' applications, contracts and invoices. A
// lookup by number takes the account too and answers ErrNotFound for another
// account's number, so a customer never sees another's data.
type Sites interface {
	// CreateApplication: ErrConflict for a taken id or number, ErrNotFound
	// for an unknown account.
	CreateApplication(ctx context.Context, a *Application) error
	// ApplicationsOf returns the account's applications, newest first.
	ApplicationsOf(ctx context.Context, accountID string) ([]Application, error)
	// ApplicationsPage returns one page of the account's applications, in
	// ApplicationsOf's order, and how many the account has in all.
	ApplicationsPage(ctx context.Context, accountID string, p Page) ([]Application, int, error)
	ApplicationByNumber(ctx context.Context, accountID, number string) (*Application, error)
	// SetApplicationStatus moves the application of this id from status
	// `from` to `to`: ErrNotFound when there is none, ErrStale when it is no
	// longer in `from`, so that of two operators only one moves it (and
	// only one sends the activation mail when it becomes active).
	SetApplicationStatus(ctx context.Context, id string, from, to ApplicationStatus) error

	CreateContract(ctx context.Context, c *Contract) error
	// ContractsOf returns the account's contracts, newest start first.
	ContractsOf(ctx context.Context, accountID string) ([]Contract, error)
	// ContractsPage returns one page of the account's contracts, in
	// ContractsOf's order, and how many the account has in all.
	ContractsPage(ctx context.Context, accountID string, p Page) ([]Contract, int, error)
	ContractByNumber(ctx context.Context, accountID, number string) (*Contract, error)

	// CreateInvoice stores the invoice and its items, in one transaction:
	// nothing of it when any part is refused (a taken number, an unknown
	// account, an item of a rate other than 8 or 10). Check it with
	// billing.Validate first; the store is only the last line.
	CreateInvoice(ctx context.Context, inv *Invoice) error
	// InvoicesOf returns the account's invoices, newest first, with items.
	InvoicesOf(ctx context.Context, accountID string) ([]Invoice, error)
	// InvoicesPage returns one page of the account's invoices, in
	// InvoicesOf's order, each with its items, and how many the account
	// has in all.
	InvoicesPage(ctx context.Context, accountID string, p Page) ([]Invoice, int, error)
	InvoiceByNumber(ctx context.Context, accountID, number string) (*Invoice, error)
}
