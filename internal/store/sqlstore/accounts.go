package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const accountCols = `id, email, name, password_hash, created_at, mfa_failures, mfa_locked_until, lang`

type rowScanner interface{ Scan(dest ...any) error }

// accountDests are where accountCols scan to.
func accountDests(a *store.Account) []any {
	return []any{&a.ID, &a.Email, &a.Name, &a.PasswordHash, msScan{&a.CreatedAt}, &a.MFAFailures, msScan{&a.MFALockedUntil}, &a.Lang}
}

// accountArgs are a's values for accountCols; an empty Lang becomes
// store.DefaultLang, in a too.
func accountArgs(a *store.Account) []any {
	if a.Lang == "" {
		a.Lang = store.DefaultLang
	}
	return []any{a.ID, a.Email, a.Name, a.PasswordHash, ms(a.CreatedAt), a.MFAFailures, ms(a.MFALockedUntil), a.Lang}
}

func scanAccount(r rowScanner) (*store.Account, error) {
	var a store.Account
	err := r.Scan(accountDests(&a)...)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAccount stores a; ErrConflict when its email or id is taken.
func (db *DB) CreateAccount(ctx context.Context, a *store.Account) error {
	_, err := db.c().exec(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, accountArgs(a)...)
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
	return queryAll(ctx, db, "list accounts", deref(scanAccount), `SELECT `+accountCols+` FROM accounts ORDER BY created_at, email`)
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

// RehashPassword replaces the account's password hash only while it is
// old; the condition in the UPDATE makes a password set meanwhile win.
func (db *DB) RehashPassword(ctx context.Context, accountID, old, hash string) error {
	c := db.c()
	n, err := c.affected(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?`, hash, accountID, old)
	if err == nil && n == 0 {
		err = staleOrMissing(ctx, c, `SELECT 1 FROM accounts WHERE id = ?`, accountID)
	}
	return db.fail("rehash password", err)
}

// ChargeMFAAttempt reads and updates the account in one write transaction
// (SQLite's BEGIN IMMEDIATE serialises them; PostgreSQL will need SELECT ...
// FOR UPDATE), so concurrent attempts each see a distinct count and none
// slips past a lock another has just set.
func (db *DB) ChargeMFAAttempt(ctx context.Context, accountID string, now time.Time, lock func(failures int) time.Time) (*store.Account, error) {
	var a *store.Account
	err := db.inTx(ctx, func(c conn) error {
		var err error
		a, err = scanAccount(c.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, accountID))
		if err != nil {
			return err
		}
		if now.Before(a.MFALockedUntil) {
			return store.ErrLocked
		}
		a.MFAFailures++
		if until := lock(a.MFAFailures); until.After(a.MFALockedUntil) {
			a.MFALockedUntil = until.UTC()
		}
		_, err = c.exec(ctx, `UPDATE accounts SET mfa_failures = ?, mfa_locked_until = ? WHERE id = ?`,
			a.MFAFailures, ms(a.MFALockedUntil), accountID)
		return err
	})
	if errors.Is(err, store.ErrLocked) {
		return a, err
	}
	if err != nil {
		return nil, db.fail("charge mfa attempt", err)
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

// SetAccountLang records the language the customer uses; ErrNotFound for
// an unknown account.
func (db *DB) SetAccountLang(ctx context.Context, accountID, lang string) error {
	n, err := db.c().affected(ctx, `UPDATE accounts SET lang = ? WHERE id = ?`, lang, accountID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("set account lang", err)
}

// erasedRows are the statements of EraseAccount that delete the rows an
// account has, each given the account's id.
var erasedRows = []string{
	`DELETE FROM factors WHERE account_id = ?`,
	`DELETE FROM recovery_codes WHERE account_id = ?`,
	`DELETE FROM sessions WHERE account_id = ?`,
	`DELETE FROM flows WHERE account_id = ?`,
	`DELETE FROM one_time_tokens WHERE account_id = ?`,
	`DELETE FROM phone_codes WHERE account_id = ?`,
	`DELETE FROM oidc_auth_requests WHERE account_id = ?`,
	`DELETE FROM oidc_consents WHERE account_id = ?`,
	`DELETE FROM site_sessions WHERE account_id = ?`,
	`DELETE FROM account_locks WHERE account_id = ?`,
	`DELETE FROM recovery_requests WHERE account_id = ?`,
	`DELETE FROM reset_requests WHERE account_id = ?`,
}

// EraseAccount: see store.Accounts. The mails to the address go by their
// recipient, which no index serves: erasing is rare, the mail table small
// beside the accounts.
func (db *DB) EraseAccount(ctx context.Context, accountID string, ev *store.AuditEvent) ([]store.Grant, error) {
	if ms(ev.At) <= 0 {
		return nil, errZeroTime("erase account")
	}
	var grants []store.Grant
	var evID int64
	err := db.inTx(ctx, func(c conn) error {
		var email string
		if err := c.queryRow(ctx, `SELECT email FROM accounts WHERE id = ?`, accountID).Scan(&email); err != nil {
			return err
		}
		if (store.Account{Email: email}).Erased() {
			return store.ErrNotFound
		}
		for _, q := range erasedRows {
			if _, err := c.exec(ctx, q, accountID); err != nil {
				return err
			}
		}
		if _, err := c.exec(ctx, `DELETE FROM mails WHERE recipient = ?`, email); err != nil {
			return err
		}
		var err error
		if grants, err = revokeGrants(ctx, c, `account_id = ? AND revoked_at = 0`, ms(ev.At), accountID); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE accounts SET email = ?, name = '', password_hash = '', mfa_failures = 0, mfa_locked_until = 0, lang = ?
			WHERE id = ?`, store.ErasedEmail(accountID), store.DefaultLang, accountID); err != nil {
			return err
		}
		evID, err = appendAudit(ctx, c, ev)
		return err
	})
	if err != nil {
		return nil, db.fail("erase account", err)
	}
	ev.ID = evID
	return grants, nil
}
