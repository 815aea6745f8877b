package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// windowStart is the start, in unix ms, of the window of the given length
// that contains now.
func windowStart(now time.Time, window time.Duration) int64 {
	start, _ := store.Window(now, window)
	return start.UnixMilli()
}

// Hit adds n to key's counter in the window containing now and returns the
// new count; n = 0 only reads it (0 when there is none), and a negative n
// gives back what was counted, never going below zero.
func (db *DB) Hit(ctx context.Context, key string, window time.Duration, now time.Time, n int) (int, error) {
	if window < time.Millisecond {
		return 0, fmt.Errorf("sqlstore: hit %q: window %v under a millisecond", key, window)
	}
	start := windowStart(now, window)
	db, ctx = db.counters(ctx)
	if n == 0 {
		var count int
		err := db.c().queryRow(ctx, `SELECT count FROM limits WHERE key = ? AND window_start = ?`, key, start).Scan(&count)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil // nothing counted in this window yet
		}
		return count, db.fail("hit", err)
	}
	var count int
	if n < 0 {
		err := db.write(ctx, func(c conn) error {
			return c.queryRow(ctx, `UPDATE limits SET count = CASE WHEN count > ? THEN count - ? ELSE 0 END
				WHERE key = ? AND window_start = ? RETURNING count`, -n, -n, key, start).Scan(&count)
		})
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil // nothing was counted in this window
		}
		return count, db.fail("hit", err)
	}
	// One statement: concurrent hits of a key queue on its row (on any
	// engine) and each reads back its own total.
	// limits.count, qualified: PostgreSQL calls a bare count ambiguous here.
	err := db.write(ctx, func(c conn) error {
		return c.queryRow(ctx, `INSERT INTO limits (key, window_start, window_end, count) VALUES (?, ?, ?, ?)
			ON CONFLICT (key, window_start) DO UPDATE SET count = limits.count + excluded.count
			RETURNING count`, key, start, start+window.Milliseconds(), n).Scan(&count)
	})
	// Earlier windows of this key can never be hit again: the sweep drops
	// them (DeleteExpiredLimits).
	return count, db.fail("hit", err)
}

// ResetLimit drops every window of key.
func (db *DB) ResetLimit(ctx context.Context, key string) error {
	db, ctx = db.counters(ctx)
	_, err := db.c().exec(ctx, `DELETE FROM limits WHERE key = ?`, key)
	return db.fail("reset limit", err)
}

// Counting runs fn's counts as one write that does not wait for the disk
// (store.Limits): on SQLite in the writer's next batch, which commits
// without a sync when it holds nothing else (lazyBatch); on PostgreSQL on
// the counters' pool, whose commits do not wait for the log's flush.
func (db *DB) Counting(ctx context.Context, fn func(ctx context.Context, tx store.Limits) error) error {
	unit := func(ctx context.Context, tx store.Store) error { return fn(ctx, tx) }
	if db.tx != nil {
		return fn(ctx, db) // the unit commits them, as it does
	}
	if err := db.outsideUnit(ctx); err != nil {
		return err
	}
	switch {
	case db.wr != nil:
		return db.wr.do(ctx, countsOnly, db.unit(ctx, unit))
	case db.countersDB != nil:
		return fn(ctx, db.countersDB)
	}
	return db.Atomically(ctx, unit)
}

// DeleteExpiredLimits drops the counters whose window ended at or before
// now: Hit only ever reads the current window, so they can never count
// again. It deletes in batches until none is left and returns how many.
func (db *DB) DeleteExpiredLimits(ctx context.Context, now time.Time) (int64, error) {
	return db.sweep(ctx, "delete expired limits", "limits", "key, window_start", "window_end <= ?", ms(now))
}

// counters is where limits are counted. In a unit on PostgreSQL that is
// outside the unit, at once, a statement of its own: every sign-in from an
// office behind one address counts on one row, and a serializable unit
// holding that row would make every other one run again. A counter needs
// no transaction: each of its statements is whole by itself. On SQLite a
// unit runs alone in the one writer, and its counts commit with it.
func (db *DB) counters(ctx context.Context) (*DB, context.Context) {
	if db.tx == nil || db.wr != nil || db.root.countersDB == nil {
		return db, ctx
	}
	return db.root.countersDB, context.WithValue(ctx, unitKey{}, nil)
}
