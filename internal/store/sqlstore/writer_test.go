package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// TestWriterBatch holds the writer on one write while many more queue, so
// they share a transaction: the one that fails, the one that panics and the
// statement that breaks a constraint leave nothing behind, every other is
// committed, and each caller hears its own outcome.
func TestWriterBatch(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()

	hold, holding := make(chan struct{}), make(chan struct{})
	go db.write(ctx, func(c conn) error {
		close(holding)
		<-hold
		return nil
	})
	<-holding

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprint("k", i)
			if i == 11 {
				// One statement alone, without a savepoint: its
				// constraint fails and undoes only itself.
				errs[i] = db.write(ctx, func(c conn) error {
					_, err := c.exec(ctx, `INSERT INTO limits (key, window_start, count) VALUES (?, 1, 1), (?, 1, 1)`, key, key)
					return err
				})
				return
			}
			errs[i] = db.inTx(ctx, func(c conn) error {
				if _, err := c.exec(ctx, `INSERT INTO limits (key, window_start, count) VALUES (?, 1, 1)`, key); err != nil {
					return err
				}
				switch i {
				case 3:
					return errors.New("refused")
				case 7:
					panic("a bug")
				}
				return nil
			})
		})
	}
	// Wait until all are queued behind the held write, then let it go.
	for db.wr.queued() < n+1 {
		time.Sleep(time.Millisecond)
	}
	close(hold)
	wg.Wait()

	for i, err := range errs {
		exists, qerr := db.c().exists(ctx, `SELECT 1 FROM limits WHERE key = ?`, fmt.Sprint("k", i))
		if qerr != nil {
			t.Fatal(qerr)
		}
		switch i {
		case 3, 7, 11:
			if err == nil || exists {
				t.Errorf("write %d: err %v, row kept %v; want an error and no row", i, err, exists)
			}
		default:
			if err != nil || !exists {
				t.Errorf("write %d: err %v, row kept %v; want it committed", i, err, exists)
			}
		}
	}
	if db.wr.batches.Load() > 3 {
		t.Errorf("%d queued writes took %d batches; want them to share", n, db.wr.batches.Load())
	}
}

// TestWriterCancelledWhileQueued: a caller that gives up while its write
// waits is told so, and its write never runs.
func TestWriterCancelledWhileQueued(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	hold, holding := make(chan struct{}), make(chan struct{})
	go db.write(t.Context(), func(c conn) error {
		close(holding)
		<-hold
		return nil
	})
	<-holding
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		done <- db.write(ctx, func(c conn) error {
			_, err := c.exec(ctx, `INSERT INTO limits (key, window_start, count) VALUES ('gone', 1, 1)`)
			return err
		})
	}()
	for db.wr.queued() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(hold)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write = %v, want context.Canceled", err)
	}
	if n, err := db.Hit(t.Context(), "gone", time.Hour, time.UnixMilli(1), 0); err != nil || n != 0 {
		t.Fatalf("the cancelled write ran: count %d, %v", n, err)
	}
}

// TestWriterAfterClose: a write after Close is refused, not hung.
func TestWriterAfterClose(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	db.Close()
	err := db.CreateAccount(t.Context(), &store.Account{ID: "a", Email: "a@example.com", CreatedAt: t0})
	if err == nil {
		t.Fatal("a write after Close succeeded")
	}
}
