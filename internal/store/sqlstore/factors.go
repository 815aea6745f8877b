package sqlstore

import (
	"context"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// AddFactor stores f; ErrConflict for a taken id, ErrNotFound for an unknown
// account.
func (db *DB) AddFactor(ctx context.Context, f *store.Factor) error {
	return db.fail("add factor", insertFactor(ctx, db.c(), f))
}

// AddFirstFactor stores f unless the account has a factor already. The
// check and the insert share one write transaction, so of two concurrent
// enrolments exactly one wins.
func (db *DB) AddFirstFactor(ctx context.Context, f *store.Factor) error {
	err := db.inTx(ctx, func(c conn) error {
		taken, err := c.exists(ctx, `SELECT 1 FROM factors WHERE account_id = ?`, f.AccountID)
		if err != nil {
			return err
		}
		if taken {
			return store.ErrConflict
		}
		return insertFactor(ctx, c, f)
	})
	return db.fail("add first factor", err)
}

func insertFactor(ctx context.Context, c conn, f *store.Factor) error {
	_, err := c.exec(ctx, `INSERT INTO factors (id, account_id, kind, secret, channel, last_step, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.AccountID, string(f.Kind), f.Secret, f.Channel, f.LastStep, ms(f.CreatedAt))
	return err
}

// FactorsOf returns the account's factors, oldest first.
func (db *DB) FactorsOf(ctx context.Context, accountID string) ([]store.Factor, error) {
	return queryAll(ctx, db, "factors of", func(r rowScanner) (store.Factor, error) {
		var f store.Factor
		err := r.Scan(&f.ID, &f.AccountID, &f.Kind, &f.Secret, &f.Channel, &f.LastStep, msScan{&f.CreatedAt})
		return f, err
	}, `SELECT id, account_id, kind, secret, channel, last_step, created_at
		FROM factors WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

// AdvanceTOTPStep accepts step only if it is after the last accepted one; the
// condition in the UPDATE makes a replay lose even when two arrive at once.
func (db *DB) AdvanceTOTPStep(ctx context.Context, factorID string, step int64) error {
	c := db.c()
	n, err := c.affected(ctx, `UPDATE factors SET last_step = ? WHERE id = ? AND last_step < ?`, step, factorID, step)
	if err == nil && n == 0 {
		err = staleOrMissing(ctx, c, `SELECT 1 FROM factors WHERE id = ?`, factorID)
	}
	return db.fail("advance totp step", err)
}

// staleOrMissing explains a conditional update that changed nothing:
// ErrStale when the row is there (the condition lost), ErrNotFound when not.
func staleOrMissing(ctx context.Context, c conn, query string, args ...any) error {
	ok, err := c.exists(ctx, query, args...)
	switch {
	case err != nil:
		return err
	case ok:
		return store.ErrStale
	default:
		return store.ErrNotFound
	}
}

// SetRecoveryCode replaces any previous code of the account; ErrNotFound for
// an unknown account.
func (db *DB) SetRecoveryCode(ctx context.Context, accountID, hash string, at time.Time) error {
	_, err := db.c().exec(ctx, `INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at`,
		accountID, hash, ms(at))
	return db.fail("set recovery code", err)
}

func (db *DB) HasRecoveryCode(ctx context.Context, accountID string) (bool, error) {
	ok, err := db.c().exists(ctx, `SELECT 1 FROM recovery_codes WHERE account_id = ?`, accountID)
	return ok, db.fail("has recovery code", err)
}

// SpendRecoveryCode deletes the matching code. Of two concurrent calls only
// one DELETE can remove the row, and only it sees a row affected.
func (db *DB) SpendRecoveryCode(ctx context.Context, accountID, hash string) error {
	n, err := db.c().affected(ctx, `DELETE FROM recovery_codes WHERE account_id = ? AND code_hash = ?`, accountID, hash)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return db.fail("spend recovery code", err)
}

// ResetMFA removes the account's factors, recovery code and phone codes in
// flight, ends its sessions but keepSession, clears its failure count and
// appends ev, all or nothing.
func (db *DB) ResetMFA(ctx context.Context, accountID, keepSession string, ev *store.AuditEvent) error {
	var id int64
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE accounts SET mfa_failures = 0, mfa_locked_until = 0 WHERE id = ?`, accountID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		for _, q := range []string{
			`DELETE FROM factors WHERE account_id = ?`,
			`DELETE FROM recovery_codes WHERE account_id = ?`,
			// A code already sent must not complete a sign-in with a
			// factor that is gone.
			`DELETE FROM phone_codes WHERE account_id = ?`,
		} {
			if _, err := c.exec(ctx, q, accountID); err != nil {
				return err
			}
		}
		// No session has an empty id_hash, so keepSession = "" ends them all.
		if _, err := c.exec(ctx, `DELETE FROM sessions WHERE account_id = ? AND id_hash <> ?`, accountID, keepSession); err != nil {
			return err
		}
		if ev != nil {
			id, err = appendAudit(ctx, c, ev)
		}
		return err
	})
	if err != nil {
		return db.fail("reset mfa", err)
	}
	if ev != nil {
		ev.ID = id // only once committed
	}
	return nil
}
