package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.ResetRequests = (*DB)(nil)

const resetCols = `id, account_id, reason, requested_by, requested_at, decided_by, decided_at, decision`

func scanReset(r rowScanner) (*store.ResetRequest, error) {
	var q store.ResetRequest
	var decision string
	err := r.Scan(&q.ID, &q.AccountID, &q.Reason, &q.RequestedBy, msScan{&q.RequestedAt}, &q.DecidedBy, msScan{&q.DecidedAt}, &decision)
	if err != nil {
		return nil, err
	}
	q.Decision = store.ResetDecision(decision)
	return &q, nil
}

// CreateResetRequest stores r open; the unique index on open requests
// refuses a second one for the account.
func (db *DB) CreateResetRequest(ctx context.Context, r *store.ResetRequest) error {
	if r.ID == "" || r.Reason == "" || r.RequestedBy == "" || ms(r.RequestedAt) == 0 {
		return errors.New("sqlstore: create reset request: id, reason, requester and time are required")
	}
	r.DecidedBy, r.DecidedAt, r.Decision = "", time.Time{}, ""
	_, err := db.c().exec(ctx, `INSERT INTO reset_requests (`+resetCols+`) VALUES (?, ?, ?, ?, ?, '', 0, '')`,
		r.ID, r.AccountID, r.Reason, r.RequestedBy, ms(r.RequestedAt))
	return db.fail("create reset request", err)
}

// OpenResetRequest returns the account's open request.
func (db *DB) OpenResetRequest(ctx context.Context, accountID string) (*store.ResetRequest, error) {
	r, err := scanReset(db.c().queryRow(ctx, `SELECT `+resetCols+` FROM reset_requests
		WHERE account_id = ? AND decision = ''`, accountID))
	return r, db.fail("open reset request", err)
}

// ResetRequestByID returns the request id, open or decided.
func (db *DB) ResetRequestByID(ctx context.Context, id string) (*store.ResetRequest, error) {
	r, err := scanReset(db.c().queryRow(ctx, `SELECT `+resetCols+` FROM reset_requests WHERE id = ?`, id))
	return r, db.fail("reset request", err)
}

// ListOpenResetRequests returns the open requests, oldest first.
func (db *DB) ListOpenResetRequests(ctx context.Context) ([]store.ResetRequest, error) {
	return queryAll(ctx, db, "list reset requests", deref(scanReset), `SELECT `+resetCols+` FROM reset_requests WHERE decision = ''
		ORDER BY requested_at, id`)
}

// DecideResetRequest reads and decides the request in one write
// transaction (which takes the write lock at BEGIN), so of two deciding at
// once one wins and the other is stale.
func (db *DB) DecideResetRequest(ctx context.Context, id, operator string, decision store.ResetDecision, now time.Time) (*store.ResetRequest, error) {
	if !decision.Valid() || operator == "" || ms(now) == 0 {
		return nil, fmt.Errorf("sqlstore: decide reset request: bad decision %q by %q", decision, operator)
	}
	var out *store.ResetRequest
	err := db.inTx(ctx, func(c conn) error {
		r, err := scanReset(c.queryRow(ctx, `SELECT `+resetCols+` FROM reset_requests WHERE id = ?`, id))
		if err != nil {
			return err
		}
		switch {
		case !r.Open():
			return store.ErrStale
		case decision == store.ResetWithdrawn && r.RequestedBy != operator:
			return store.ErrNotOwnResetRequest
		case decision != store.ResetWithdrawn && r.RequestedBy == operator:
			return store.ErrOwnResetRequest
		}
		out, err = scanReset(c.queryRow(ctx, `UPDATE reset_requests SET decided_by = ?, decided_at = ?, decision = ?
			WHERE id = ? AND decision = '' RETURNING `+resetCols, operator, ms(now), string(decision), id))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrStale
		}
		return err
	})
	if err != nil {
		return nil, db.fail("decide reset request", err)
	}
	return out, nil
}
