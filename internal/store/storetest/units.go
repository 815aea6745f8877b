package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var errUndo = errors.New("storetest: undo the unit")

// unitFlow is a live flow of the account, for a unit to write.
func unitFlow(id, accountID string) *store.Flow {
	return &store.Flow{IDHash: id, AccountID: accountID, State: "mfa", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

// Units: several operations as one transaction (store.Units).
var unitTests = []test{
	{"CommitsTogether", func(t *testing.T, s store.Store) {
		a := newAccount(t, s, "u1")
		err := s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
			if _, err := tx.Hit(ctx, "unit:k", time.Minute, t0, 1); err != nil {
				return err
			}
			if err := tx.CreateFlow(ctx, unitFlow("uf", a.ID)); err != nil {
				return err
			}
			// The unit reads what it wrote.
			if _, err := tx.FlowByHash(ctx, "uf", t0); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &store.AuditEvent{At: t0, AccountID: a.ID, Actor: "customer", Action: "unit", Outcome: "ok"})
		})
		must(t, err)
		if n, err := s.Hit(t.Context(), "unit:k", time.Minute, t0, 0); err != nil || n != 1 {
			t.Errorf("limit after the unit: %d, %v; want 1", n, err)
		}
		if _, err := s.FlowByHash(t.Context(), "uf", t0); err != nil {
			t.Errorf("flow after the unit: %v", err)
		}
		evs, err := s.AuditOf(t.Context(), a.ID, 10)
		must(t, err)
		if len(evs) != 1 || evs[0].Action != "unit" {
			t.Errorf("audit after the unit: %+v", evs)
		}
	}},
	{"ErrorUndoesEverything", func(t *testing.T, s store.Store) {
		a := newAccount(t, s, "u2")
		err := s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
			if err := tx.CreateFlow(ctx, unitFlow("uf", a.ID)); err != nil {
				return err
			}
			if _, err := tx.ChargeMFAAttempt(ctx, a.ID, t0, func(int) time.Time { return time.Time{} }); err != nil {
				return err
			}
			return errUndo
		})
		wantErr(t, "Atomically", err, errUndo)
		if _, err := s.FlowByHash(t.Context(), "uf", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("flow after an undone unit: %v, want ErrNotFound", err)
		}
		got, err := s.AccountByID(t.Context(), a.ID)
		must(t, err)
		if got.MFAFailures != 0 {
			t.Errorf("failures after an undone unit: %d, want 0", got.MFAFailures)
		}
	}},
	{"NestedErrorUndoesOnlyItsOwn", func(t *testing.T, s store.Store) {
		a := newAccount(t, s, "u3")
		err := s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
			if err := tx.CreateFlow(ctx, unitFlow("outer", a.ID)); err != nil {
				return err
			}
			inner := tx.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
				if err := tx.CreateFlow(ctx, unitFlow("inner", a.ID)); err != nil {
					return err
				}
				return errUndo
			})
			if !errors.Is(inner, errUndo) {
				t.Errorf("inner unit: %v, want %v", inner, errUndo)
			}
			// A store method that is a transaction of its own nests too.
			_, err := tx.ChargeMFAAttempt(ctx, "no-such-account", t0, func(int) time.Time { return time.Time{} })
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ChargeMFAAttempt of no account in a unit: %v, want ErrNotFound", err)
			}
			return nil
		})
		must(t, err)
		if _, err := s.FlowByHash(t.Context(), "outer", t0); err != nil {
			t.Errorf("the outer unit's flow: %v", err)
		}
		if _, err := s.FlowByHash(t.Context(), "inner", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the undone inner unit's flow: %v, want ErrNotFound", err)
		}
	}},
	{"WriteAroundTheUnitFails", func(t *testing.T, s store.Store) {
		// On SQLite such a write would wait forever for the writer the
		// unit holds; it must fail at once instead.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		a := newAccount(t, s, "u4")
		var around error
		err := s.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
			around = s.CreateFlow(ctx, unitFlow("around", a.ID))
			return nil
		})
		must(t, err)
		if around == nil || errors.Is(around, context.DeadlineExceeded) {
			t.Errorf("a write around the unit: %v, want an error at once", around)
		}
	}},
	{"ReadAroundTheUnitFails", func(t *testing.T, s store.Store) {
		// Such a read would not see the unit's writes, and on PostgreSQL
		// it would take a second connection of the pool the unit holds
		// one of: units doing so could each wait for themselves.
		a := newAccount(t, s, "u6")
		var one, many error
		err := s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
			_, one = s.AccountByID(ctx, a.ID)
			_, many = s.FactorsOf(ctx, a.ID)
			_, err := tx.AccountByID(ctx, a.ID) // through the unit: fine
			return err
		})
		must(t, err)
		if one == nil || errors.Is(one, store.ErrNotFound) {
			t.Errorf("a read of one row around the unit: %v, want an error", one)
		}
		if many == nil {
			t.Errorf("a read of rows around the unit: %v, want an error", many)
		}
		if _, err := s.AccountByID(t.Context(), a.ID); err != nil {
			t.Errorf("the same read outside any unit: %v", err)
		}
	}},
	{"ConcurrentOnOneRow", func(t *testing.T, s store.Store) {
		// Units racing on one account's row, each going on after its
		// store call fails, as a step does when an audit event cannot
		// be written: a unit that lost the race runs again, and no
		// attempt is lost nor counted twice.
		a := newAccount(t, s, "u5")
		errs := race(func(int) error {
			return s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
				_, err := tx.ChargeMFAAttempt(ctx, a.ID, t0, func(int) time.Time { return time.Time{} })
				_ = err // logged, not returned
				return nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		got, err := s.AccountByID(t.Context(), a.ID)
		must(t, err)
		if got.MFAFailures != racers {
			t.Errorf("failures after %d units: %d", racers, got.MFAFailures)
		}
	}},
	{"Counting", func(t *testing.T, s store.Store) {
		// Counts that need not wait for the disk are counts all the
		// same: each racer's two are there afterwards, none lost, and a
		// reset within Counting drops a key.
		must(t, s.Counting(t.Context(), func(ctx context.Context, tx store.Limits) error {
			_, err := tx.Hit(ctx, "count:dropped", time.Minute, t0, 5)
			return err
		}))
		errs := race(func(int) error {
			return s.Counting(t.Context(), func(ctx context.Context, tx store.Limits) error {
				for _, key := range []string{"count:a", "count:b"} {
					if _, err := tx.Hit(ctx, key, time.Minute, t0, 1); err != nil {
						return err
					}
				}
				return tx.ResetLimit(ctx, "count:dropped")
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		for key, want := range map[string]int{"count:a": racers, "count:b": racers, "count:dropped": 0} {
			if n, err := s.Hit(t.Context(), key, time.Minute, t0, 0); err != nil || n != want {
				t.Errorf("%s after %d racers: %d, %v; want %d", key, racers, n, err, want)
			}
		}
		// fn's error is Counting's.
		err := s.Counting(t.Context(), func(ctx context.Context, tx store.Limits) error { return errUndo })
		wantErr(t, "Counting", err, errUndo)
	}},
	{"CountingInAUnitIsPartOfIt", func(t *testing.T, s store.Store) {
		a := newAccount(t, s, "u6")
		err := s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
			err := tx.Counting(ctx, func(ctx context.Context, l store.Limits) error {
				_, err := l.Hit(ctx, "count:in", time.Minute, t0, 1)
				return err
			})
			if err != nil {
				return err
			}
			return tx.CreateFlow(ctx, unitFlow("counted", a.ID))
		})
		must(t, err)
		if n, err := s.Hit(t.Context(), "count:in", time.Minute, t0, 0); err != nil || n != 1 {
			t.Errorf("count made in a unit: %d, %v; want 1", n, err)
		}
	}},
	{"CountingAroundTheUnitFails", func(t *testing.T, s store.Store) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var around error
		err := s.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
			around = s.Counting(ctx, func(ctx context.Context, l store.Limits) error {
				_, err := l.Hit(ctx, "count:around", time.Minute, t0, 1)
				return err
			})
			return nil
		})
		must(t, err)
		if around == nil || errors.Is(around, context.DeadlineExceeded) {
			t.Errorf("counting around the unit: %v, want an error at once", around)
		}
	}},
	{"Concurrent", func(t *testing.T, s store.Store) {
		// Units racing on one counter: each adds one, none is lost.
		errs := race(func(int) error {
			return s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
				_, err := tx.Hit(ctx, "unit:race", time.Minute, t0, 1)
				return err
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		if n, err := s.Hit(t.Context(), "unit:race", time.Minute, t0, 0); err != nil || n != racers {
			t.Errorf("count after %d units: %d, %v", racers, n, err)
		}
	}},
}
