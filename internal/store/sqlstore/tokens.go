package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const tokenCols = `hash, purpose, account_id, created_at, expires_at, used_at, event`

func scanToken(r rowScanner) (*store.OneTimeToken, error) {
	var t store.OneTimeToken
	err := r.Scan(&t.Hash, &t.Purpose, &t.AccountID, msScan{&t.CreatedAt}, msScan{&t.ExpiresAt}, msScan{&t.UsedAt}, &t.Event)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken stores t; ErrConflict for a taken hash, ErrNotFound for an
// unknown account.
func (db *DB) CreateToken(ctx context.Context, t *store.OneTimeToken) error {
	_, err := db.c().exec(ctx, `INSERT INTO one_time_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.Purpose, t.AccountID, ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.UsedAt), t.Event)
	return db.fail("create token", err)
}

// UseToken marks the token used in one conditional UPDATE, so of concurrent
// uses exactly one matches the row while it is still unused.
func (db *DB) UseToken(ctx context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	if ms(now) == 0 {
		// used_at = 0 means unused; a zero now would leave the token usable.
		return nil, errors.New("sqlstore: use token: zero time")
	}
	var t *store.OneTimeToken
	err := db.write(ctx, func(c conn) error {
		var err error
		t, err = scanToken(c.queryRow(ctx, `UPDATE one_time_tokens SET used_at = ?
			WHERE hash = ? AND purpose = ? AND used_at = 0 AND expires_at > ?
			RETURNING `+tokenCols,
			ms(now), hash, purpose, ms(now)))
		return err
	})
	return t, db.fail("use token", err)
}

// TokenByHash returns the token if UseToken would accept it now, without
// using it; ErrNotFound otherwise.
func (db *DB) TokenByHash(ctx context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	t, err := scanToken(db.c().queryRow(ctx, `SELECT `+tokenCols+` FROM one_time_tokens
		WHERE hash = ? AND purpose = ? AND used_at = 0 AND expires_at > ?`,
		hash, purpose, ms(now)))
	return t, db.fail("token by hash", err)
}

// RevokeTokens marks the account's unused tokens of the purpose used.
func (db *DB) RevokeTokens(ctx context.Context, accountID, purpose string, now time.Time) (int64, error) {
	if ms(now) == 0 {
		return 0, errors.New("sqlstore: revoke tokens: zero time")
	}
	var n int64
	err := db.write(ctx, func(c conn) error {
		var err error
		n, err = c.affected(ctx, `UPDATE one_time_tokens SET used_at = ?
			WHERE account_id = ? AND purpose = ? AND used_at = 0`, ms(now), accountID, purpose)
		return err
	})
	return n, db.fail("revoke tokens", err)
}
