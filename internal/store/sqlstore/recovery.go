package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.RecoveryRequests = (*DB)(nil)

const recoveryCols = `id, account_id, status, confirm_token_hash, confirm_expires_at, created_at,
	confirmed_at, effective_at, cancelled_at, cancel_reason, completed_at, approved_by`

// recoveryOpen is the condition of an open request.
const recoveryOpen = `status IN ('unconfirmed', 'waiting')`

func scanRecovery(r rowScanner) (*store.RecoveryRequest, error) {
	var q store.RecoveryRequest
	var status string
	err := r.Scan(&q.ID, &q.AccountID, &status, &q.ConfirmTokenHash, msScan{&q.ConfirmExpiresAt}, msScan{&q.CreatedAt},
		msScan{&q.ConfirmedAt}, msScan{&q.EffectiveAt}, msScan{&q.CancelledAt}, &q.CancelReason, msScan{&q.CompletedAt}, &q.ApprovedBy)
	if err != nil {
		return nil, err
	}
	q.Status = store.RecoveryStatus(status)
	return &q, nil
}

// CreateRecoveryRequest stores r as unconfirmed, in one transaction with
// the cancelling of an earlier unconfirmed request.
func (db *DB) CreateRecoveryRequest(ctx context.Context, r *store.RecoveryRequest) error {
	r.Status = store.RecoveryUnconfirmed
	err := db.inTx(ctx, func(c conn) error {
		waiting, err := c.exists(ctx, `SELECT 1 FROM recovery_requests WHERE account_id = ? AND status = 'waiting'`, r.AccountID)
		if err != nil {
			return err
		}
		if waiting {
			return store.ErrConflict
		}
		if _, err := c.exec(ctx, `UPDATE recovery_requests SET status = 'cancelled', cancelled_at = ?, cancel_reason = 'superseded'
			WHERE account_id = ? AND status = 'unconfirmed'`, ms(r.CreatedAt), r.AccountID); err != nil {
			return err
		}
		_, err = c.exec(ctx, `INSERT INTO recovery_requests (`+recoveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.AccountID, string(r.Status), r.ConfirmTokenHash, ms(r.ConfirmExpiresAt), ms(r.CreatedAt),
			ms(r.ConfirmedAt), ms(r.EffectiveAt), ms(r.CancelledAt), r.CancelReason, ms(r.CompletedAt), r.ApprovedBy)
		return err
	})
	return db.fail("create recovery request", err)
}

// ConfirmRecoveryRequest is one conditional UPDATE, so a link confirms once.
func (db *DB) ConfirmRecoveryRequest(ctx context.Context, tokenHash string, now time.Time, coolingOff time.Duration) (*store.RecoveryRequest, error) {
	if ms(now) == 0 {
		return nil, errors.New("sqlstore: confirm recovery request: zero time")
	}
	var r *store.RecoveryRequest
	err := db.write(ctx, func(c conn) error {
		var err error
		r, err = scanRecovery(c.queryRow(ctx, `UPDATE recovery_requests
			SET status = 'waiting', confirmed_at = ?, effective_at = ?
			WHERE confirm_token_hash = ? AND status = 'unconfirmed' AND confirm_expires_at > ?
			RETURNING `+recoveryCols,
			ms(now), ms(now.Add(coolingOff)), tokenHash, ms(now)))
		return err
	})
	return r, db.fail("confirm recovery request", err)
}

// RecoveryRequestByToken returns the request a confirmation would take,
// or the waiting one it made.
func (db *DB) RecoveryRequestByToken(ctx context.Context, tokenHash string, now time.Time) (*store.RecoveryRequest, error) {
	r, err := scanRecovery(db.c().queryRow(ctx, `SELECT `+recoveryCols+` FROM recovery_requests
		WHERE confirm_token_hash = ? AND (status = 'waiting' OR (status = 'unconfirmed' AND confirm_expires_at > ?))`, tokenHash, ms(now)))
	return r, db.fail("recovery request by token", err)
}

// PendingRecoveryOf returns the account's open request.
func (db *DB) PendingRecoveryOf(ctx context.Context, accountID string) (*store.RecoveryRequest, error) {
	r, err := scanRecovery(db.c().queryRow(ctx, `SELECT `+recoveryCols+` FROM recovery_requests
		WHERE account_id = ? AND `+recoveryOpen, accountID))
	return r, db.fail("pending recovery", err)
}

// CancelRecovery cancels the account's open request.
func (db *DB) CancelRecovery(ctx context.Context, accountID, reason string, now time.Time) (bool, error) {
	n, err := db.c().affected(ctx, `UPDATE recovery_requests SET status = 'cancelled', cancelled_at = ?, cancel_reason = ?
		WHERE account_id = ? AND `+recoveryOpen, ms(now), reason, accountID)
	return n > 0, db.fail("cancel recovery", err)
}

// ListPendingRecoveries returns the waiting requests and the live
// unconfirmed ones, oldest first.
func (db *DB) ListPendingRecoveries(ctx context.Context, now time.Time) ([]store.RecoveryRequest, error) {
	return queryAll(ctx, db, "list pending recoveries", deref(scanRecovery), `SELECT `+recoveryCols+` FROM recovery_requests
		WHERE status = 'waiting' OR (status = 'unconfirmed' AND confirm_expires_at > ?)
		ORDER BY created_at, id`, ms(now))
}

// ApproveRecoveryEarly brings the waiting request's EffectiveAt forward to
// now, once: a request approved already is ErrConflict, so that a second
// click records no second approval.
func (db *DB) ApproveRecoveryEarly(ctx context.Context, id, operator string, now time.Time) (*store.RecoveryRequest, error) {
	var r *store.RecoveryRequest
	err := db.inTx(ctx, func(c conn) error {
		var err error
		r, err = scanRecovery(c.queryRow(ctx, `UPDATE recovery_requests
			SET effective_at = CASE WHEN effective_at > ? THEN ? ELSE effective_at END, approved_by = ?
			WHERE id = ? AND status = 'waiting' AND approved_by = ''
			RETURNING `+recoveryCols,
			ms(now), ms(now), operator, id))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		approved, xerr := c.exists(ctx, `SELECT 1 FROM recovery_requests WHERE id = ? AND status = 'waiting' AND approved_by <> ''`, id)
		if xerr != nil {
			return xerr
		}
		if approved {
			return store.ErrConflict
		}
		return err
	})
	return r, db.fail("approve recovery early", err)
}

// CompleteRecovery marks the effective waiting request completed, once.
func (db *DB) CompleteRecovery(ctx context.Context, id string, now time.Time) error {
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE recovery_requests SET status = 'completed', completed_at = ?
			WHERE id = ? AND status = 'waiting' AND effective_at <= ?`, ms(now), id, ms(now))
		if err != nil || n > 0 {
			return err
		}
		ok, err := c.exists(ctx, `SELECT 1 FROM recovery_requests WHERE id = ?`, id)
		if err == nil {
			err = store.ErrStale
			if !ok {
				err = store.ErrNotFound
			}
		}
		return err
	})
	return db.fail("complete recovery", err)
}
