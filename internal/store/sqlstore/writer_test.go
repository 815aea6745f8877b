package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

	release := holdWriter(ctx, db)

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
	release()
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

// TestWriterBatchWithoutSavepoints: a batch in which no write fails runs
// without a savepoint per write; one in which a write fails runs again
// with them, and each write that ran twice is committed once.
func TestWriterBatchWithoutSavepoints(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()

	batch := func(fail int) (statements []string, runs []int, errs []error) {
		const n = 10
		runs, errs = make([]int, n), make([]error, n)
		var mu sync.Mutex
		release := holdWriter(ctx, db)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = db.inTx(ctx, func(c conn) error {
					mu.Lock()
					runs[i]++
					mu.Unlock()
					_, err := c.exec(ctx, `INSERT INTO limits (key, window_start, count) VALUES (?, 1, 1)
						ON CONFLICT (key, window_start) DO UPDATE SET count = limits.count + 1`, fmt.Sprint("f", fail, "k", i))
					if err == nil && i == fail {
						err = errors.New("refused")
					}
					return err
				})
			})
		}
		for db.wr.queued() < n+1 {
			time.Sleep(time.Millisecond)
		}
		db.TraceStatements(func(q string) {
			mu.Lock()
			defer mu.Unlock()
			statements = append(statements, q)
		})
		release()
		wg.Wait()
		db.TraceStatements(nil)
		for i, err := range errs {
			var n int
			herr := db.c().queryRow(ctx, `SELECT count FROM limits WHERE key = ?`, fmt.Sprint("f", fail, "k", i)).Scan(&n)
			if herr != nil && !errors.Is(herr, sql.ErrNoRows) {
				t.Fatal(herr)
			}
			want := 1
			if i == fail {
				want = 0
				if err == nil {
					t.Errorf("the failing write %d answered nil", i)
				}
			} else if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
			if n != want {
				t.Errorf("write %d: count %d, want %d (ran %d times)", i, n, want, runs[i])
			}
		}
		return statements, runs, errs
	}

	statements, runs, _ := batch(-1)
	if s := strings.Join(statements, "\n"); strings.Contains(s, "SAVEPOINT") {
		t.Errorf("a batch without failures ran savepoints:\n%s", s)
	}
	for i, n := range runs {
		if n != 1 {
			t.Errorf("write %d ran %d times in a batch without failures", i, n)
		}
	}

	statements, runs, _ = batch(4)
	if s := strings.Join(statements, "\n"); !strings.Contains(s, "SAVEPOINT") {
		t.Errorf("a batch with a failure ran no savepoints:\n%s", s)
	}
	if runs[4] != 2 {
		t.Errorf("the failing write ran %d times, want 2 (alone, then in its savepoint)", runs[4])
	}
}

// TestWriterCancelledWhileQueued: a caller that gives up while its write
// waits is told so, and its write never runs.
func TestWriterCancelledWhileQueued(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	release := holdWriter(t.Context(), db)
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
	release()
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

// TestLogStaysShort writes 80 MB through the writer, readers looking rows
// up all along (as sign-ins do; a reader that never stops holds the log
// whatever the writer does), and checks that the write-ahead log was started again from its
// beginning rather than grown to hold it all: checkpoints beside the writer
// alone never reach the end of a log the writer keeps adding to, and the
// log grows without bound unless the writer's own checkpoints still run.
func TestLogStaysShort(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tobira.db")
	db := openTemp(t, path)
	defer db.Close()
	if _, err := db.c().exec(ctx, `CREATE TABLE blobs (k INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const writers, rows, size = 16, 1250, 4096 // 80 MB, over 20,000 pages
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				err := db.c().queryRow(ctx, `SELECT length(v) FROM blobs WHERE k = ?`, rand.IntN(writers*rows)).Scan(&n)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					t.Error(err)
					return
				}
			}
		})
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			v := make([]byte, size)
			for i := range rows {
				if _, err := db.c().exec(ctx, `INSERT INTO blobs (k, v) VALUES (?, ?)`, w*rows+i, v); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// The writer checkpoints from 4,000 pages of log on (16 MB); readers
	// holding older pages delay the start again, the more so on a busy
	// machine, where a reader waits for a core while it holds its
	// snapshot: the log came to about 19 MB here at a quiet moment and
	// to 58 MB while the browser tests took both cores. Without the
	// writer's own checkpoints it grows to about 300 MB, every commit's
	// pages appended, so the bound is the data written.
	if fi.Size() > 80<<20 {
		t.Errorf("the log grew to %d MB for 80 MB written", fi.Size()>>20)
	}
}

// TestSyncBesideTheWriter: on a database set to wait for the disk, the
// writer's connection commits without a sync and a writer's caller hears
// back only after the syncer synced the log; counts alone (Counting) do
// not wait for a sync, and a batch of counts and a write is synced for the
// write; a database set to NORMAL never syncs; a failed sync refuses every
// later write.
func TestSyncBesideTheWriter(t *testing.T) {
	ctx := t.Context()
	counting := func(db *DB) error {
		return db.Counting(ctx, func(ctx context.Context, tx store.Limits) error {
			_, err := tx.Hit(ctx, "counted", time.Minute, t0, 1)
			return err
		})
	}
	writing := func(db *DB) error {
		return db.write(ctx, func(c conn) error {
			_, err := c.exec(ctx, `INSERT INTO audit_events (at, actor, action, outcome) VALUES (1, 'test', 'write', 'ok')`)
			return err
		})
	}

	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	if db.wr.syncs == nil {
		t.Fatal("no syncer on a database set to FULL")
	}
	if err := db.Writable(); err != nil {
		t.Fatalf("Writable of a new database: %v", err)
	}
	var level int
	if err := db.wr.conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil || level != 1 {
		t.Errorf("the writer's connection is at synchronous %d, %v; want 1 (NORMAL): the syncer syncs", level, err)
	}
	syncs := db.wr.syncs.syncs.Load
	before := syncs()
	if err := writing(db); err != nil {
		t.Fatal(err)
	}
	if syncs() != before+1 {
		t.Errorf("a write alone: %d syncs before its caller heard back; want 1", syncs()-before)
	}
	before = syncs()
	if err := counting(db); err != nil {
		t.Fatal(err)
	}
	if syncs() != before {
		t.Errorf("counts alone waited for %d syncs; want none", syncs()-before)
	}

	// Counts queued beside a write share its batch, which is synced for
	// the write.
	release := holdWriter(ctx, db)
	errs := make(chan error, 2)
	go func() { errs <- counting(db) }()
	go func() { errs <- writing(db) }()
	for db.wr.queued() < 3 {
		time.Sleep(time.Millisecond)
	}
	before = syncs()
	release()
	if err := errors.Join(<-errs, <-errs); err != nil {
		t.Fatal(err)
	}
	if got := syncs() - before; got < 1 || got > 2 {
		t.Errorf("the held write and a batch of counts and a write: %d syncs; want 1 or 2", got)
	}
	if n, err := db.Hit(ctx, "counted", time.Minute, t0, 0); err != nil || n != 2 {
		t.Errorf("counted %d, %v; want 2", n, err)
	}

	normal, err := OpenSQLiteSync(filepath.Join(t.TempDir(), "normal.db"), SyncNormal)
	if err != nil {
		t.Fatal(err)
	}
	defer normal.Close()
	if normal.wr.syncs != nil {
		t.Error("a database set to NORMAL has a syncer")
	}
	if err := errors.Join(counting(normal), writing(normal)); err != nil {
		t.Fatal(err)
	}

	// A sync that fails (here: its file closed under it) fails the write
	// it was for and every write after it, even one that could sync.
	db.wr.syncs.log.Close()
	if err := writing(db); err == nil || !strings.Contains(err.Error(), "syncing the write-ahead log failed") {
		t.Fatalf("a write whose sync failed: %v; want the sync's error", err)
	}
	if err := counting(db); err == nil || !strings.Contains(err.Error(), "syncing the write-ahead log failed") {
		t.Errorf("counts after a failed sync: %v; want them refused", err)
	}
	if db.Writable() == nil {
		t.Error("Writable after a failed sync: nil; want the sync's error, for readiness")
	}
	if normal.Writable() != nil {
		t.Errorf("Writable of a healthy database: %v", normal.Writable())
	}
}

// holdWriter keeps db's writer busy on one write until release is called,
// so that the writes sent meanwhile queue and share the next batch.
func holdWriter(ctx context.Context, db *DB) (release func()) {
	hold, holding := make(chan struct{}), make(chan struct{})
	go db.write(ctx, func(c conn) error {
		close(holding)
		<-hold
		return nil
	})
	<-holding
	return func() { close(hold) }
}

// BenchmarkWriterUnits: many callers' units of two writes each, queued at
// once so that they share the writer's batches, as sign-ins at load do.
// Compare the process's CPU time of two builds (`/usr/bin/time` around the
// test binary, alternated a few times): the wall time per unit moves with
// how the callers happen to fall into batches.
func BenchmarkWriterUnits(b *testing.B) {
	db := openTemp(b, filepath.Join(b.TempDir(), "tobira.db"))
	defer db.Close()
	ctx := b.Context()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprint("k", n.Add(1))
			err := db.inTx(ctx, func(c conn) error {
				if _, err := c.exec(ctx, `INSERT INTO limits (key, window_start, count) VALUES (?, 1, 1)`, key); err != nil {
					return err
				}
				_, err := c.exec(ctx, `UPDATE limits SET count = 2 WHERE key = ? AND window_start = 1`, key)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(db.wr.batches.Load()), "units/batch")
}
