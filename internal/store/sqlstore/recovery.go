package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.RecoveryRequests = (*DB)(nil)

const recoveryCols = `id, account_id, status, confirm_token_hash, confirm_expires_at, created_at,
	confirmed_at, effective_at, cancelled_at, cancel_reason, completed_at, approved_by,
	proposed_by, proposed_at, proposed_reason`

// recoveryOpen is the condition of an open request.
const recoveryOpen = `status IN ('unconfirmed', 'waiting')`

func scanRecovery(r rowScanner) (*store.RecoveryRequest, error) {
	var q store.RecoveryRequest
	var status string
	err := r.Scan(&q.ID, &q.AccountID, &status, &q.ConfirmTokenHash, msScan{&q.ConfirmExpiresAt}, msScan{&q.CreatedAt},
		msScan{&q.ConfirmedAt}, msScan{&q.EffectiveAt}, msScan{&q.CancelledAt}, &q.CancelReason, msScan{&q.CompletedAt}, &q.ApprovedBy,
		&q.ProposedBy, msScan{&q.ProposedAt}, &q.ProposedReason)
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
		_, err = c.exec(ctx, `INSERT INTO recovery_requests (`+recoveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.AccountID, string(r.Status), r.ConfirmTokenHash, ms(r.ConfirmExpiresAt), ms(r.CreatedAt),
			ms(r.ConfirmedAt), ms(r.EffectiveAt), ms(r.CancelledAt), r.CancelReason, ms(r.CompletedAt), r.ApprovedBy,
			r.ProposedBy, ms(r.ProposedAt), r.ProposedReason)
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

// RecoveryRequestByID returns the request id, whatever its status.
func (db *DB) RecoveryRequestByID(ctx context.Context, id string) (*store.RecoveryRequest, error) {
	r, err := recoveryByID(ctx, db.c(), id)
	return r, db.fail("recovery request by id", err)
}

func recoveryByID(ctx context.Context, c conn, id string) (*store.RecoveryRequest, error) {
	return scanRecovery(c.queryRow(ctx, `SELECT `+recoveryCols+` FROM recovery_requests WHERE id = ?`, id))
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

// ProposeRecoveryApproval reads the request and records the proposal in
// one write transaction; the UPDATE's own condition, that the request still
// waits, its period running, without a proposal, makes one of two
// proposals at once the only one.
func (db *DB) ProposeRecoveryApproval(ctx context.Context, id, operator, reason string, now time.Time) (*store.RecoveryRequest, error) {
	if operator == "" || reason == "" || ms(now) == 0 {
		return nil, errors.New("sqlstore: propose recovery approval: operator, reason and time are required")
	}
	var out *store.RecoveryRequest
	err := db.inTx(ctx, func(c conn) error {
		r, err := recoveryByID(ctx, c, id)
		if err != nil {
			return err
		}
		switch {
		case r.Status != store.RecoveryWaiting:
			return store.ErrRecoveryNotWaiting
		case r.ApprovedBy != "":
			return store.ErrRecoveryApproved
		case r.WaitOver(now):
			return store.ErrRecoveryWaitOver
		case r.ProposedBy != "":
			return store.ErrRecoveryProposed
		}
		out, err = scanRecovery(c.queryRow(ctx, `UPDATE recovery_requests
			SET proposed_by = ?, proposed_at = ?, proposed_reason = ?
			WHERE id = ? AND status = 'waiting' AND approved_by = '' AND proposed_by = '' AND effective_at > ?
			RETURNING `+recoveryCols, operator, ms(now), reason, id, ms(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrRecoveryProposed
		}
		return err
	})
	if err != nil {
		return nil, db.fail("propose recovery approval", err)
	}
	return out, nil
}

// DecideRecoveryProposal reads and decides the proposal in one write
// transaction. The UPDATE names the proposal it read (its operator and
// time), so that a decision never lands on another: of two approvals at
// once one wins and the other is stale, and a proposal withdrawn and made
// again meanwhile is not approved on what the operator read of the first.
func (db *DB) DecideRecoveryProposal(ctx context.Context, id string, proposedAt time.Time, operator string, decision store.ResetDecision, now time.Time) (*store.RecoveryRequest, error) {
	if !decision.Valid() || operator == "" || ms(now) == 0 {
		return nil, fmt.Errorf("sqlstore: decide recovery proposal: bad decision %q by %q", decision, operator)
	}
	var out *store.RecoveryRequest
	err := db.inTx(ctx, func(c conn) error {
		r, err := recoveryByID(ctx, c, id)
		if err != nil {
			return err
		}
		switch {
		case r.Status != store.RecoveryWaiting:
			return store.ErrRecoveryNotWaiting
		case !r.Proposed() || !r.ProposedAt.Equal(proposedAt):
			return store.ErrStale
		case r.WaitOver(now):
			// The period ended before any approval: the proposal lapsed.
			return store.ErrRecoveryWaitOver
		case decision == store.ResetWithdrawn && r.ProposedBy != operator:
			return store.ErrNotOwnRecoveryProposal
		case decision != store.ResetWithdrawn && r.ProposedBy == operator:
			return store.ErrOwnRecoveryProposal
		}
		// The period still runs (effective_at > now), so an approval ends
		// it at now.
		const same = ` WHERE id = ? AND status = 'waiting' AND approved_by = '' AND proposed_by = ? AND proposed_at = ? AND effective_at > ?`
		if decision == store.ResetApproved {
			out, err = scanRecovery(c.queryRow(ctx, `UPDATE recovery_requests
				SET effective_at = ?, approved_by = ?`+same+`
				RETURNING `+recoveryCols,
				ms(now), operator, id, r.ProposedBy, ms(r.ProposedAt), ms(now)))
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrStale
			}
			return err
		}
		n, err := c.affected(ctx, `UPDATE recovery_requests SET proposed_by = '', proposed_at = 0, proposed_reason = ''`+same,
			id, r.ProposedBy, ms(r.ProposedAt), ms(now))
		if err == nil && n == 0 {
			err = store.ErrStale
		}
		out = r
		return err
	})
	if err != nil {
		return nil, db.fail("decide recovery proposal", err)
	}
	return out, nil
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
