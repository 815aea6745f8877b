package sqlstore

import (
	"context"
	"strings"

	"github.com/tobira/tobira/internal/store"
)

const invoiceCols = `id, account_id, number, issuer_name, issuer_registration, recipient, issued_at, period_start, period_end`

func scanInvoice(sc rowScanner) (store.Invoice, error) {
	var v store.Invoice
	err := sc.Scan(&v.ID, &v.AccountID, &v.Number, &v.IssuerName, &v.IssuerRegistration, &v.Recipient,
		msScan{&v.IssuedAt}, msScan{&v.PeriodStart}, msScan{&v.PeriodEnd})
	return v, err
}

// CreateInvoice stores inv and its items, in their order, in one transaction.
func (db *DB) CreateInvoice(ctx context.Context, inv *store.Invoice) error {
	return db.fail("create invoice", db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO invoices (`+invoiceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.AccountID, inv.Number, inv.IssuerName, inv.IssuerRegistration, inv.Recipient,
			ms(inv.IssuedAt), ms(inv.PeriodStart), ms(inv.PeriodEnd))
		if err != nil {
			return err
		}
		for i, it := range inv.Items {
			_, err := c.exec(ctx, `INSERT INTO invoice_items (invoice_id, position, description, quantity, unit_price, tax_rate, reduced)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, inv.ID, i, it.Description, it.Quantity, it.UnitPrice, it.TaxRate, flag(it.Reduced))
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// InvoicesOf returns the account's invoices, the latest issued first, each
// with its items. Two queries, not one per invoice.
func (db *DB) InvoicesOf(ctx context.Context, accountID string) ([]store.Invoice, error) {
	rows, err := db.c().query(ctx, `SELECT `+invoiceCols+` FROM invoices
		WHERE account_id = ? ORDER BY issued_at DESC, number DESC`, accountID)
	if err != nil {
		return nil, db.fail("invoices of", err)
	}
	defer rows.Close()
	var out []store.Invoice
	at := map[string]int{} // invoice id -> index in out
	for rows.Next() {
		v, err := scanInvoice(rows)
		if err != nil {
			return nil, db.fail("invoices of", err)
		}
		at[v.ID] = len(out)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail("invoices of", err)
	}
	rows.Close()
	if len(out) == 0 {
		return nil, nil
	}

	items, err := db.c().query(ctx, `SELECT it.invoice_id, it.description, it.quantity, it.unit_price, it.tax_rate, it.reduced
		FROM invoice_items it JOIN invoices inv ON inv.id = it.invoice_id
		WHERE inv.account_id = ? ORDER BY it.invoice_id, it.position`, accountID)
	if err != nil {
		return nil, db.fail("invoices of", err)
	}
	defer items.Close()
	for items.Next() {
		var id string
		var it store.InvoiceItem
		if err := items.Scan(&id, &it.Description, &it.Quantity, &it.UnitPrice, &it.TaxRate, &it.Reduced); err != nil {
			return nil, db.fail("invoices of", err)
		}
		// An invoice created between the two queries is not in out; skip its items.
		if i, ok := at[id]; ok {
			out[i].Items = append(out[i].Items, it)
		}
	}
	return out, db.fail("invoices of", items.Err())
}

// InvoicesPage returns one page of InvoicesOf and the account's count:
// the page's invoices on the index (account_id, issued_at, number), then
// the items of just those, on invoice_items' key.
func (db *DB) InvoicesPage(ctx context.Context, accountID string, p store.Page) ([]store.Invoice, int, error) {
	p = p.Bounded()
	total, err := db.countOf(ctx, "invoices page", "invoices", accountID)
	if err != nil || total <= p.Offset {
		return nil, total, err
	}
	out, err := queryAll(ctx, db, "invoices page", scanInvoice, invoicesPageQuery, accountID, p.Limit, p.Offset)
	if err != nil || len(out) == 0 {
		return nil, total, err
	}
	at := make(map[string]int, len(out)) // invoice id -> index in out
	ids := make([]any, len(out))
	for i, v := range out {
		at[v.ID], ids[i] = i, v.ID
	}
	items, err := db.c().query(ctx, invoiceItemsOfQuery(len(ids)), ids...)
	if err != nil {
		return nil, 0, db.fail("invoices page", err)
	}
	defer items.Close()
	for items.Next() {
		var id string
		var it store.InvoiceItem
		if err := items.Scan(&id, &it.Description, &it.Quantity, &it.UnitPrice, &it.TaxRate, &it.Reduced); err != nil {
			return nil, 0, db.fail("invoices page", err)
		}
		out[at[id]].Items = append(out[at[id]].Items, it)
	}
	if err := items.Err(); err != nil {
		return nil, 0, db.fail("invoices page", err)
	}
	return out, total, nil
}

const invoicesPageQuery = `SELECT ` + invoiceCols + ` FROM invoices
	WHERE account_id = ? ORDER BY issued_at DESC, number DESC LIMIT ? OFFSET ?`

// invoiceItemsOfQuery reads the items of n invoices (n is at most
// store.MaxPageSize), on invoice_items' key.
func invoiceItemsOfQuery(n int) string {
	return `SELECT invoice_id, description, quantity, unit_price, tax_rate, reduced
		FROM invoice_items WHERE invoice_id IN (?` + strings.Repeat(`, ?`, n-1) + `) ORDER BY invoice_id, position`
}

// InvoiceByNumber finds the account's invoice of this number, with its items.
func (db *DB) InvoiceByNumber(ctx context.Context, accountID, number string) (*store.Invoice, error) {
	v, err := scanInvoice(db.c().queryRow(ctx, `SELECT `+invoiceCols+` FROM invoices
		WHERE account_id = ? AND number = ?`, accountID, number))
	if err != nil {
		return nil, db.fail("invoice by number", err)
	}
	rows, err := db.c().query(ctx, `SELECT description, quantity, unit_price, tax_rate, reduced
		FROM invoice_items WHERE invoice_id = ? ORDER BY position`, v.ID)
	if err != nil {
		return nil, db.fail("invoice by number", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it store.InvoiceItem
		if err := rows.Scan(&it.Description, &it.Quantity, &it.UnitPrice, &it.TaxRate, &it.Reduced); err != nil {
			return nil, db.fail("invoice by number", err)
		}
		v.Items = append(v.Items, it)
	}
	return &v, db.fail("invoice by number", rows.Err())
}
