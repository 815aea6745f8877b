package sqlstore

import (
	"context"

	"github.com/tobira/tobira/internal/store"
)

var _ store.Sites = (*DB)(nil)

// Applications.

const applicationCols = `id, account_id, number, service, plan, status, applied_at`

func scanApplication(sc rowScanner) (store.Application, error) {
	var a store.Application
	err := sc.Scan(&a.ID, &a.AccountID, &a.Number, &a.Service, &a.Plan, &a.Status, msScan{&a.AppliedAt})
	return a, err
}

// CreateApplication stores a.
func (db *DB) CreateApplication(ctx context.Context, a *store.Application) error {
	_, err := db.c().exec(ctx, `INSERT INTO applications (`+applicationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.AccountID, a.Number, a.Service, a.Plan, string(a.Status), ms(a.AppliedAt))
	return db.fail("create application", err)
}

// ApplicationsOf returns the account's applications, newest first; the
// number breaks ties, so the order is stable.
func (db *DB) ApplicationsOf(ctx context.Context, accountID string) ([]store.Application, error) {
	return queryAll(ctx, db, "applications of", scanApplication, `SELECT `+applicationCols+` FROM applications
		WHERE account_id = ? ORDER BY applied_at DESC, number DESC`, accountID)
}

// ApplicationsPage returns one page of ApplicationsOf and the account's
// count: two reads on the index (account_id, applied_at, number).
func (db *DB) ApplicationsPage(ctx context.Context, accountID string, p store.Page) ([]store.Application, int, error) {
	p = p.Bounded()
	total, err := db.countOf(ctx, "applications page", "applications", accountID)
	if err != nil || total <= p.Offset {
		return nil, total, err
	}
	apps, err := queryAll(ctx, db, "applications page", scanApplication, applicationsPageQuery, accountID, p.Limit, p.Offset)
	return apps, total, err
}

const applicationsPageQuery = `SELECT ` + applicationCols + ` FROM applications
	WHERE account_id = ? ORDER BY applied_at DESC, number DESC LIMIT ? OFFSET ?`

// countOf counts the account's records in one of the sites' tables.
func (db *DB) countOf(ctx context.Context, op, table, accountID string) (int, error) {
	var n int
	err := db.c().queryRow(ctx, countOfQuery(table), accountID).Scan(&n)
	return n, db.fail(op, err)
}

func countOfQuery(table string) string {
	return `SELECT count(*) FROM ` + table + ` WHERE account_id = ?`
}

// ApplicationByNumber finds the account's application of this number; another
// account's is not found.
func (db *DB) ApplicationByNumber(ctx context.Context, accountID, number string) (*store.Application, error) {
	a, err := scanApplication(db.c().queryRow(ctx, `SELECT `+applicationCols+` FROM applications
		WHERE account_id = ? AND number = ?`, accountID, number))
	if err != nil {
		return nil, db.fail("application by number", err)
	}
	return &a, nil
}

// SetApplicationStatus moves the application from `from` to `to`.
func (db *DB) SetApplicationStatus(ctx context.Context, id string, from, to store.ApplicationStatus) error {
	return db.fail("set application status", db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE applications SET status = ? WHERE id = ? AND status = ?`,
			string(to), id, string(from))
		if err != nil || n == 1 {
			return err
		}
		// Nothing moved: tell a missing application from one that moved on.
		found, err := c.exists(ctx, `SELECT 1 FROM applications WHERE id = ?`, id)
		switch {
		case err != nil:
			return err
		case !found:
			return store.ErrNotFound
		}
		return store.ErrStale
	}))
}

// Contracts.

const contractCols = `id, account_id, number, service, plan, start_date, monthly_fee, status`

func scanContract(sc rowScanner) (store.Contract, error) {
	var k store.Contract
	err := sc.Scan(&k.ID, &k.AccountID, &k.Number, &k.Service, &k.Plan, msScan{&k.StartDate}, &k.MonthlyFee, &k.Status)
	return k, err
}

// CreateContract stores k.
func (db *DB) CreateContract(ctx context.Context, k *store.Contract) error {
	_, err := db.c().exec(ctx, `INSERT INTO contracts (`+contractCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Number, k.Service, k.Plan, ms(k.StartDate), k.MonthlyFee, string(k.Status))
	return db.fail("create contract", err)
}

// ContractsOf returns the account's contracts, the latest start first.
func (db *DB) ContractsOf(ctx context.Context, accountID string) ([]store.Contract, error) {
	return queryAll(ctx, db, "contracts of", scanContract, `SELECT `+contractCols+` FROM contracts
		WHERE account_id = ? ORDER BY start_date DESC, number DESC`, accountID)
}

// ContractsPage returns one page of ContractsOf and the account's count:
// two reads on the index (account_id, start_date, number).
func (db *DB) ContractsPage(ctx context.Context, accountID string, p store.Page) ([]store.Contract, int, error) {
	p = p.Bounded()
	total, err := db.countOf(ctx, "contracts page", "contracts", accountID)
	if err != nil || total <= p.Offset {
		return nil, total, err
	}
	cons, err := queryAll(ctx, db, "contracts page", scanContract, contractsPageQuery, accountID, p.Limit, p.Offset)
	return cons, total, err
}

const contractsPageQuery = `SELECT ` + contractCols + ` FROM contracts
	WHERE account_id = ? ORDER BY start_date DESC, number DESC LIMIT ? OFFSET ?`

// ContractByNumber finds the account's contract of this number.
func (db *DB) ContractByNumber(ctx context.Context, accountID, number string) (*store.Contract, error) {
	k, err := scanContract(db.c().queryRow(ctx, `SELECT `+contractCols+` FROM contracts
		WHERE account_id = ? AND number = ?`, accountID, number))
	if err != nil {
		return nil, db.fail("contract by number", err)
	}
	return &k, nil
}
