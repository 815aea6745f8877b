package sqlstore

import (
	"context"
	"strings"

	"github.com/tobira/tobira/internal/store"
)

// Bulk loading, for the load tool's seeding of many accounts: multi-row
// INSERTs, many of them to a transaction, so a million rows take seconds
// rather than a million commits.
const (
	// bulkRows is how many rows one INSERT carries: 8 columns of 500 rows
	// stay well under the parameters a statement may have (SQLite 32766,
	// PostgreSQL 65535).
	bulkRows = 500
	// bulkBatch is how many rows one transaction writes: few commits, each
	// rewriting the index pages all the rows before touched, yet a server
	// sharing the SQLite file waits for the write lock a second at most.
	bulkBatch = 100000
)

// BulkCreateAccounts stores accounts as CreateAccount does, in batches;
// ErrConflict when an email or id is taken, in which case the batches before
// the one that failed stay stored.
func (db *DB) BulkCreateAccounts(ctx context.Context, accounts []store.Account) error {
	return db.bulkInsert(ctx, "bulk create accounts", "accounts ("+accountCols+")", 8, len(accounts),
		func(i int, args []any) []any {
			return append(args, accountArgs(&accounts[i])...)
		})
}

// BulkAddFactors stores factors as AddFactor does, in batches; ErrNotFound
// when an account does not exist, ErrConflict for a taken id.
func (db *DB) BulkAddFactors(ctx context.Context, factors []store.Factor) error {
	return db.bulkInsert(ctx, "bulk add factors", "factors (id, account_id, kind, secret, channel, last_step, created_at)", 7, len(factors),
		func(i int, args []any) []any {
			f := &factors[i]
			return append(args, f.ID, f.AccountID, string(f.Kind), f.Secret, f.Channel, f.LastStep, ms(f.CreatedAt))
		})
}

// BulkAppendAudit stores events as AppendAudit does, in batches, without
// reading back their ids: the load tool's earlier sign-ins of its customers.
func (db *DB) BulkAppendAudit(ctx context.Context, events []store.AuditEvent) error {
	return db.bulkInsert(ctx, "bulk append audit", "audit_events ("+auditCols+")", 8, len(events),
		func(i int, args []any) []any {
			ev := &events[i]
			return append(args, ms(ev.At), ev.AccountID, ev.Actor, ev.Action, ev.Outcome, ev.ClientIP, ev.UserAgent, ev.Detail)
		})
}

// bulkInsert inserts n rows of cols columns into table, row(i) appending the
// i-th row's values.
func (db *DB) bulkInsert(ctx context.Context, op, table string, cols, n int, row func(i int, args []any) []any) error {
	full := insertRows(table, cols, bulkRows)
	args := make([]any, 0, cols*bulkRows)
	for start := 0; start < n; start += bulkBatch {
		end := min(start+bulkBatch, n)
		err := db.inTx(ctx, func(c conn) error {
			if db.d.name == "sqlite" {
				// On this connection only: SQLite journals each
				// statement of a transaction apart (a temporary file
				// by default), and a million rows' indexes do not fit
				// the default cache of 2 MiB; both made loading half
				// as fast.
				for _, pragma := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -262144"} {
					if _, err := c.exec(ctx, pragma); err != nil {
						return err
					}
				}
			}
			for from := start; from < end; from += bulkRows {
				to := min(from+bulkRows, end)
				args = args[:0]
				for i := from; i < to; i++ {
					args = row(i, args)
				}
				query := full
				if to-from < bulkRows {
					query = insertRows(table, cols, to-from)
				}
				if _, err := c.exec(ctx, query, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return db.fail(op, err)
		}
	}
	return nil
}

// insertRows is an INSERT of rows rows of cols placeholders each.
func insertRows(table string, cols, rows int) string {
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(len("INSERT INTO  VALUES ") + len(table) + rows*(len(one)+2))
	b.WriteString("INSERT INTO " + table + " VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}
