package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.Maintenance = (*DB)(nil)

const maintenanceCols = `id, start_at, end_at, reason_ja, reason_en, created_by, created_at, cancelled_at`

func scanMaintenance(r rowScanner) (store.MaintenanceWindow, error) {
	var w store.MaintenanceWindow
	err := r.Scan(&w.ID, msScan{&w.Start}, msScan{&w.End}, &w.ReasonJA, &w.ReasonEN, &w.CreatedBy,
		msScan{&w.CreatedAt}, msScan{&w.CancelledAt})
	return w, err
}

// CreateMaintenance stores w unless it overlaps a window that stands. The
// check and the insert share one write transaction, so of two operators
// scheduling at once only one window of an overlapping pair is kept.
func (db *DB) CreateMaintenance(ctx context.Context, w *store.MaintenanceWindow) error {
	if w.ID == "" || !w.End.After(w.Start) || ms(w.End) <= ms(w.Start) {
		return fmt.Errorf("sqlstore: create maintenance: window %q must have an id and end after it starts", w.ID)
	}
	err := db.inTx(ctx, func(c conn) error {
		overlap, err := c.exists(ctx, `SELECT 1 FROM maintenance_windows
			WHERE cancelled_at = 0 AND start_at < ? AND end_at > ?`, ms(w.End), ms(w.Start))
		if err != nil {
			return err
		}
		if overlap {
			return store.ErrConflict
		}
		_, err = c.exec(ctx, `INSERT INTO maintenance_windows (`+maintenanceCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, ms(w.Start), ms(w.End), w.ReasonJA, w.ReasonEN, w.CreatedBy, ms(w.CreatedAt), ms(w.CancelledAt))
		return err
	})
	return db.fail("create maintenance", err)
}

// ListMaintenance returns the live windows at now, or with includePast all.
func (db *DB) ListMaintenance(ctx context.Context, now time.Time, includePast bool) ([]store.MaintenanceWindow, error) {
	q := `SELECT ` + maintenanceCols + ` FROM maintenance_windows`
	var args []any
	if !includePast {
		q += ` WHERE cancelled_at = 0 AND end_at > ?`
		args = append(args, ms(now))
	}
	return queryAll(ctx, db, "list maintenance", scanMaintenance, q+` ORDER BY start_at, id`, args...)
}

// CancelMaintenance calls a window off.
func (db *DB) CancelMaintenance(ctx context.Context, id string, at time.Time) (*store.MaintenanceWindow, error) {
	if at.IsZero() {
		return nil, fmt.Errorf("sqlstore: cancel maintenance %q: no time given", id)
	}
	var w store.MaintenanceWindow
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE maintenance_windows SET cancelled_at = ? WHERE id = ? AND cancelled_at = 0`, ms(at), id)
		if err != nil {
			return err
		}
		w, err = scanMaintenance(c.queryRow(ctx, `SELECT `+maintenanceCols+` FROM maintenance_windows WHERE id = ?`, id))
		if err != nil {
			return err // sql.ErrNoRows: fail makes it ErrNotFound
		}
		if n == 0 {
			return store.ErrStale
		}
		return nil
	})
	if errors.Is(err, store.ErrStale) {
		return &w, err
	}
	if err != nil {
		return nil, db.fail("cancel maintenance", err)
	}
	return &w, nil
}
