package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// writer is SQLite's one writer, shared by the whole process. Callers hand
// it their writes; it runs every write waiting at that moment in one
// transaction, each in a savepoint of its own, and commits them together:
// group commit. A crowd of customers then costs one fsync per batch, not
// one per statement, and no caller ever polls for SQLite's lock.
//
// A caller hears back only after the commit, so what it wrote is visible
// to every read it makes next, and, with the database set to wait for the
// disk (synchronous = FULL), after the sync of the log that makes it
// durable, which the syncer does beside the writer; only limits' counts
// (Counting) do not wait for it. One caller's failure rolls back its own
// savepoint, not the batch.
type writer struct {
	pool    *sql.DB   // the pool of one connection conn is from
	conn    *sql.Conn // the one write connection, never returned to its pool
	stmts   *stmtCache
	d       *dialect
	reqs    chan *writeReq
	done    chan struct{} // closed by close
	stopped chan struct{} // closed by loop as it returns
	once    sync.Once

	checkpointer *sql.Conn     // a connection of the readers' pool, for checkpoints
	ckStopped    chan struct{} // closed by checkpoints as it returns

	// syncs, where the database is set to wait for the disk and keeps its
	// log in a file, makes each batch durable beside the writer, whose own
	// connection commits without a sync; nil where commits need no sync
	// (synchronous = NORMAL) or the connection syncs itself.
	syncs *syncer

	waiting atomic.Int64 // callers whose write is sent or waiting to be
	batches atomic.Int64 // transactions committed or rolled back
}

// maxBatch bounds how many callers share a transaction, so the first of
// them does not wait behind an endless queue.
const maxBatch = 128

type writeReq struct {
	ctx  context.Context
	fn   func(c conn) error
	err  chan error
	kind writeKind
}

// writeKind is how a write runs in its batch.
type writeKind uint8

const (
	// unitWrite: several statements, in a savepoint of their own unless
	// alone in the batch.
	unitWrite writeKind = iota
	// oneStatement: one statement, which SQLite applies whole or not at
	// all, so it needs no savepoint of its own.
	oneStatement
	// countsOnly: a unitWrite of limits' counts alone (DB.Counting).
	countsOnly
)

// errClosed is the answer to a write sent after Close.
var errClosed = errors.New("sqlstore: database closed")

func newWriter(ctx context.Context, pool, readers *sql.DB, d *dialect) (*writer, error) {
	c, err := pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// Checkpoints run beside the writer, on a connection of their own; the
	// writer's own, which start the log again, wait for 4,000 pages of log
	// (16 MB) instead of SQLite's 1,000, and find nearly all of it copied.
	ck, err := readers.Conn(ctx)
	if err == nil {
		_, err = c.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 4000")
	}
	var syncs *syncer
	if err == nil {
		syncs, err = syncBeside(ctx, c)
	}
	if err != nil {
		c.Close()
		if ck != nil {
			ck.Close()
		}
		return nil, err
	}
	w := &writer{pool: pool, conn: c, stmts: newStmtCache(c), d: d, reqs: make(chan *writeReq),
		done: make(chan struct{}), stopped: make(chan struct{}), checkpointer: ck, ckStopped: make(chan struct{}),
		syncs: syncs}
	go w.loop()
	go w.checkpoints()
	return w, nil
}

// syncBeside starts the syncer of the writer's connection c where the
// database is set to wait for the disk (synchronous = FULL) and keeps its
// write-ahead log in a file, and sets c to commit without a sync (NORMAL),
// which the syncer then does. Elsewhere (NORMAL, or a database in memory)
// it returns nil and c commits as it is set to.
func syncBeside(ctx context.Context, c *sql.Conn) (*syncer, error) {
	var level int
	var mode, file string
	if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
		return nil, err
	}
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, err
	}
	if err := c.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		return nil, err
	}
	if level < syncLevelFull || !strings.EqualFold(mode, "wal") || file == "" {
		return nil, nil
	}
	s, err := newSyncer(file + "-wal")
	if err != nil {
		return nil, err
	}
	// Unprepared, before any transaction: SQLite applies the setting when
	// the statement is prepared and refuses it within a transaction.
	if _, err := c.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// checkpointEvery is how often the log is copied into the database beside
// the writer.
const checkpointEvery = 100 * time.Millisecond

// checkpoints copies the log into the database every checkpointEvery,
// PASSIVE: what no reader still needs, then a sync of the database file,
// never waiting for a reader or the writer. The writer's own checkpoints
// (SQLite's, after a commit that finds the log past wal_autocheckpoint
// pages) are still what lets the log start again from its beginning, as a
// checkpoint beside a writer that goes on committing never reaches the end
// of the log (TestLogStaysShort); but they find it nearly all copied, so a
// commit no longer waits behind the copy of thousands of pages and their
// sync. That wait was the slowest hundredth of the sign-ins' steps.
func (w *writer) checkpoints() {
	defer close(w.ckStopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		w.checkpointer.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// do runs fn in the next batch and returns its error once the batch is
// committed. If ctx ends while fn waits for its turn, fn is not run; once
// it runs, it runs to the end and is committed or not with its batch,
// whatever happens to ctx meanwhile, so the caller always learns the truth.
func (w *writer) do(ctx context.Context, kind writeKind, fn func(c conn) error) error {
	if ctx.Value(unitKey{}) == w.pool {
		// Sent from inside a unit, which this writer is running: the
		// write would wait for itself.
		return errOutsideUnit
	}
	r := &writeReq{ctx: ctx, fn: fn, err: make(chan error, 1), kind: kind}
	w.waiting.Add(1)
	defer w.waiting.Add(-1)
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return errClosed
	}
	return <-r.err
}

func (w *writer) loop() {
	defer close(w.stopped)
	for {
		var batch []*writeReq
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-w.done:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		w.run(batch)
	}
}

// queued is how many callers wait for the writer now.
func (w *writer) queued() int { return int(w.waiting.Load()) }

// run commits one batch and answers each of its callers.
//
// A batch of several writes runs first without a savepoint per write:
// SAVEPOINT and RELEASE are two statements more for every unit, a tenth
// of a sign-in's writes, and few writes fail: a broken constraint, a full
// disk, a count refused on a step already closed (ChargeMFAAttempt); a
// wrong code, or a step the portal refuses, is an outcome its unit
// commits. Should one fail, the batch is rolled back and run again with
// the savepoints, which keep that failure to its own write, at twice the
// batch's cost: a unit may run more than once (store.Units.Atomically),
// so each sets, not accumulates, what it hands out.
func (w *writer) run(batch []*writeReq) {
	w.batches.Add(1)
	if w.syncs != nil {
		if err := w.syncs.err(); err != nil {
			for _, r := range batch {
				r.err <- err
			}
			return
		}
	}
	if len(batch) == 1 || !w.commit(batch, false) {
		w.commit(batch, true)
	}
}

// commit runs batch in one transaction, each write in a savepoint of its
// own when guarded (and not alone, nor one statement that SQLite applies
// whole or not at all), and answers each caller. Unguarded, it gives up
// at the first write that fails, rolls back and answers nobody: false.
func (w *writer) commit(batch []*writeReq, guarded bool) bool {
	// The transaction is the writer's, not any caller's: a caller's
	// cancelled context must not interrupt the others' statements.
	ctx := context.Background()
	errs := make([]error, len(batch))
	ran := make([]bool, len(batch)) // fn ran: its writes may be in the commit
	exec := func(stmt string) error {
		_, err := w.stmts.ExecContext(ctx, stmt) // prepared once, as any
		return err
	}
	fail := func(err error) bool {
		exec("ROLLBACK")
		for _, r := range batch {
			r.err <- err
		}
		return true
	}
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		return fail(err)
	}
	alone := len(batch) == 1
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		savepoint := guarded && !alone && r.kind != oneStatement
		if savepoint {
			if err := exec("SAVEPOINT w"); err != nil {
				return fail(err)
			}
		}
		c := conn{q: w.stmts, w: w.stmts, d: w.d, ctx: context.WithoutCancel(r.ctx)}
		errs[i], ran[i] = call(r.fn, c), true
		switch {
		case errs[i] == nil && !savepoint:
		case alone:
			return fail(errs[i])
		case !guarded && r.kind != oneStatement:
			exec("ROLLBACK")
			return false
		case !savepoint && !undoesItself(errs[i]):
			// An I/O error, a full disk: SQLite may have rolled the
			// whole transaction back. Nobody's write is kept.
			return fail(errs[i])
		case !savepoint:
		case errs[i] != nil:
			if err := exec("ROLLBACK TO w"); err != nil {
				return fail(err)
			}
			fallthrough
		default:
			if err := exec("RELEASE w"); err != nil {
				return fail(err)
			}
		}
	}
	if err := exec("COMMIT"); err != nil {
		return fail(err)
	}
	var durable []answer
	for i, r := range batch {
		if w.syncs == nil || r.kind == countsOnly || !ran[i] {
			r.err <- errs[i]
			continue
		}
		durable = append(durable, answer{r, errs[i]})
	}
	if w.syncs != nil {
		w.syncs.handOver(durable)
	}
	return true
}

// syncLevelFull is PRAGMA synchronous's number for FULL.
const syncLevelFull = 2

// Limits' counts (DB.Counting) do not wait for the sync: a limit is counted
// before the attempt it allows, which ends in a write of its own that does
// wait (its audit event, its flow), and that sync takes the log before it
// to the disk too, as does the checkpoint beside the writer within a tenth
// of a second. A machine's crash may lose the counts of that moment;
// SQLite's file stays whole either way.

// undoesItself tells an error that undid only its own statement, leaving the
// transaction as it was: a broken constraint, or an error of the caller's
// code rather than SQLite's (no rows, a panic turned into an error).
func undoesItself(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return true
	}
	return sqliteDialect.classify(err) != noConstraint
}

// call runs fn, turning a panic into an error: the writer serves every
// caller and must outlive one caller's bug.
func call(fn func(c conn) error, c conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlstore: panic in a write: %v", p)
		}
	}()
	return fn(c)
}

// close stops the writer after the batch it is running and releases its
// connection.
func (w *writer) close() error {
	w.once.Do(func() { close(w.done) })
	<-w.stopped
	<-w.ckStopped
	var err error
	if w.syncs != nil {
		err = w.syncs.close() // the last batches' callers hear back
	}
	w.checkpointer.Close()
	w.stmts.close()
	return errors.Join(err, w.conn.Close())
}

// queuedWrites is the write side of a conn outside any transaction on
// SQLite: each statement is a write of its own, sent to the writer.
type queuedWrites struct{ w *writer }

func (q queuedWrites) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := q.w.do(ctx, oneStatement, func(c conn) error {
		var err error
		res, err = c.w.ExecContext(c.ctx, query, args...)
		return err
	})
	return res, err
}

// QueryContext and QueryRowContext would hand rows out of a transaction the
// writer has moved on from: such statements (UPDATE ... RETURNING) run in
// db.write or db.inTx instead.
func (q queuedWrites) QueryContext(_ context.Context, query string, _ ...any) (*sql.Rows, error) {
	panic("sqlstore: a write that returns rows must run in db.write or db.inTx: " + query)
}

func (q queuedWrites) QueryRowContext(_ context.Context, query string, _ ...any) *sql.Row {
	panic("sqlstore: a write that returns rows must run in db.write or db.inTx: " + query)
}

// stmtCache prepares each statement once and keeps it, so SQLite parses
// and plans it once, not at every call. It serves a pool (the readers) or
// the writer's own connection.
type stmtCache struct {
	prep interface {
		PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	}
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// trace, when set, sees every statement run through the cache
	// (DB.TraceStatements).
	trace atomic.Pointer[func(query string)]
}

// maxStatements bounds the cache; queries built at run time (lists of
// placeholders) may have many shapes, and the rarest run unprepared.
const maxStatements = 512

func newStmtCache(prep interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}) *stmtCache {
	return &stmtCache{prep: prep, m: make(map[string]*sql.Stmt)}
}

// stmt returns the prepared query, or nil when the cache is full.
func (s *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if trace := s.trace.Load(); trace != nil {
		(*trace)(query)
	}
	s.mu.Lock()
	st, ok := s.m[query]
	full := len(s.m) >= maxStatements
	s.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := s.prep.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[query]; ok {
		st.Close()
		return old, nil
	}
	s.m[query] = st
	return st, nil
}

func (s *stmtCache) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, st := range s.m {
		st.Close()
		delete(s.m, q)
	}
}

func (s *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.direct().ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (s *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.direct().QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (s *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, query)
	if st == nil || err != nil {
		// An error to prepare shows again, as the Row's, when run unprepared.
		return s.direct().QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// direct is what the cache prepares on, to run a statement unprepared.
func (s *stmtCache) direct() querier { return s.prep.(querier) }
