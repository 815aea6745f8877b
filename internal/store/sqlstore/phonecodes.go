package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const phoneCodeCols = `flow_hash, account_id, phone, channel, chosen_channel, code_hash, previous_hash, sent_at, expires_at, attempts`

func scanPhoneCode(r rowScanner) (*store.PhoneCode, error) {
	var p store.PhoneCode
	err := r.Scan(&p.FlowHash, &p.AccountID, &p.Phone, &p.Channel, &p.Chosen, &p.CodeHash, &p.PreviousHash,
		msScan{&p.SentAt}, msScan{&p.ExpiresAt}, &p.Attempts)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// PutPhoneCode stores c as its flow's code, replacing every column of an
// earlier one (a resend: new hash, new times, attempts as c has them) and
// keeping the earlier hash as previous_hash; ErrNotFound for an unknown
// account. The flow itself need not exist.
func (db *DB) PutPhoneCode(ctx context.Context, c *store.PhoneCode) error {
	_, err := db.c().exec(ctx, `INSERT INTO phone_codes (`+phoneCodeCols+`) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?)
		ON CONFLICT (flow_hash) DO UPDATE SET
			account_id = excluded.account_id, phone = excluded.phone, channel = excluded.channel,
			chosen_channel = excluded.chosen_channel, previous_hash = phone_codes.code_hash, code_hash = excluded.code_hash,
			sent_at = excluded.sent_at, expires_at = excluded.expires_at, attempts = excluded.attempts`,
		c.FlowHash, c.AccountID, c.Phone, c.Channel, c.Chosen, c.CodeHash, ms(c.SentAt), ms(c.ExpiresAt), c.Attempts)
	return db.fail("put phone code", err)
}

// PhoneCodeOf returns the flow's code or ErrNotFound. Like SessionByHash it
// has no clock: the caller compares ExpiresAt with its own now.
func (db *DB) PhoneCodeOf(ctx context.Context, flowHash string) (*store.PhoneCode, error) {
	p, err := scanPhoneCode(db.c().queryRow(ctx, `SELECT `+phoneCodeCols+` FROM phone_codes WHERE flow_hash = ?`, flowHash))
	if err != nil {
		return nil, db.fail("phone code of", err)
	}
	return p, nil
}

// LatestPhoneCode returns the account's most recently sent code or
// ErrNotFound; phone_codes_account keeps it to the account's few rows.
func (db *DB) LatestPhoneCode(ctx context.Context, accountID string) (*store.PhoneCode, error) {
	p, err := scanPhoneCode(db.c().queryRow(ctx, `SELECT `+phoneCodeCols+` FROM phone_codes
		WHERE account_id = ? ORDER BY sent_at DESC, flow_hash LIMIT 1`, accountID))
	if err != nil {
		return nil, db.fail("latest phone code", err)
	}
	return p, nil
}

// ChargePhoneCode counts an attempt in one write transaction. The count is a
// conditional UPDATE (attempts < max), so it cannot pass max even where the
// engine lets two transactions run at once (PostgreSQL re-checks the
// condition after waiting for the row); only when it matches nothing does a
// SELECT tell a spent code (ErrLocked, returned unchanged) from a missing one.
func (db *DB) ChargePhoneCode(ctx context.Context, flowHash string, max int) (*store.PhoneCode, error) {
	var p *store.PhoneCode
	err := db.inTx(ctx, func(c conn) error {
		var err error
		p, err = scanPhoneCode(c.queryRow(ctx, `UPDATE phone_codes SET attempts = attempts + 1
			WHERE flow_hash = ? AND attempts < ?
			RETURNING `+phoneCodeCols, flowHash, max))
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		p, err = scanPhoneCode(c.queryRow(ctx, `SELECT `+phoneCodeCols+` FROM phone_codes WHERE flow_hash = ?`, flowHash))
		if err != nil {
			return err // no row: ErrNotFound through fail
		}
		return store.ErrLocked
	})
	if errors.Is(err, store.ErrLocked) {
		return p, err
	}
	if err != nil {
		return nil, db.fail("charge phone code", err)
	}
	return p, nil
}

// DeletePhoneCode removes the flow's code; removing one already gone is no
// error.
func (db *DB) DeletePhoneCode(ctx context.Context, flowHash string) error {
	_, err := db.c().exec(ctx, `DELETE FROM phone_codes WHERE flow_hash = ?`, flowHash)
	return db.fail("delete phone code", err)
}

// DeleteExpiredPhoneCodes removes codes whose ExpiresAt is at or before now.
func (db *DB) DeleteExpiredPhoneCodes(ctx context.Context, now time.Time) (int64, error) {
	return db.sweep(ctx, "delete expired phone codes", "phone_codes", "flow_hash", "expires_at <= ?", ms(now))
}
