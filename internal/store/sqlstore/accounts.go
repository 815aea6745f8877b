package sqlstore

import (
	"context"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const accountCols = `id, email, name, password_hash, created_at, mfa_failures, mfa_locked_until`

type rowScanner interface{ Scan(dest ...any) error }

func scanAccount(r rowScanner) (*store.Account, error) {
	var a store.Account
	err := r.Scan(&a.ID, &a.Email, &a.Name, &a.PasswordHash, msScan{&a.CreatedAt}, &a.MFAFailures, msScan{&a.MFALockedUntil})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAccount stores a; ErrConflict when its email or id is taken.
func (db *DB) CreateAccount(ctx context.Context, a *store.Account) error {
	_, err := db.c().exec(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.Name, a.PasswordHash, ms(a.CreatedAt), a.MFAFailures, ms(a.MFALockedUntil))
	return db.fail("create account", err)
}

func (db *DB) AccountByID(ctx context.Context, id string) (*store.Account, error) {
	a, err := scanAccount(db.c().queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	return a, db.fail("account by id", err)
}

func (db *DB) AccountByEmail(ctx context.Context, email string) (*store.Account, error) {
	a, err := scanAccount(db.c().queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE email = ?`, email))
	return a, db.fail("account by email", err)
}

// ListAccounts returns every account, oldest first, then by email.
func (db *DB) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := db.c().query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY created_at, email`)
	if err != nil {
		return nil, db.fail("list accounts", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, db.fail("list accounts", err)
		}
		out = append(out, *a)
	}
	return out, db.fail("list accounts", rows.Err())
}

// SetPasswordHash replaces the account's password hash; ErrNotFound for an
// unknown account.
func (db *DB) SetPasswordHash(ctx context.Context, accountID, hash string) error {
	n, err := db.c().affected(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, accountID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("set password hash", err)
}

// RecordMFAFailure counts one wrong code in a single write transaction, so
// concurrent failures each see, and are counted with, a distinct count.
func (db *DB) RecordMFAFailure(ctx context.Context, accountID string, lock func(failures int) time.Time) (*store.Account, error) {
	var a *store.Account
	err := db.inTx(ctx, func(c conn) error {
		var failures int
		err := c.queryRow(ctx, `UPDATE accounts SET mfa_failures = mfa_failures + 1 WHERE id = ? RETURNING mfa_failures`,
			accountID).Scan(&failures)
		if err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE accounts SET mfa_locked_until = ? WHERE id = ?`,
			ms(lock(failures)), accountID); err != nil {
			return err
		}
		a, err = scanAccount(c.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, accountID))
		return err
	})
	if err != nil {
		return nil, db.fail("record mfa failure", err)
	}
	return a, nil
}

// ClearMFAFailures resets the failure count and lifts any lock; ErrNotFound
// for an unknown account.
func (db *DB) ClearMFAFailures(ctx context.Context, accountID string) error {
	n, err := db.c().affected(ctx, `UPDATE accounts SET mfa_failures = 0, mfa_locked_until = 0 WHERE id = ?`, accountID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("clear mfa failures", err)
}
