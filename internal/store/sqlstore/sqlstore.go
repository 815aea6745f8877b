// Package sqlstore is Tobira's SQL backend over database/sql, for SQLite
// (modernc.org/sqlite, the embedded database) and PostgreSQL (pgx, for
// several nodes). Queries are written once with `?` placeholders; a small
// dialect value holds what differs between engines.
//
// Times are stored as integer unix milliseconds, a zero time.Time as 0, and
// are read back in UTC.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var _ store.Store = (*DB)(nil)

// DB is a store.Store over a SQL database.
type DB struct {
	sql *sql.DB // reads; on PostgreSQL every statement
	w   *sql.DB // writes: on SQLite one connection, on PostgreSQL sql itself
	d   *dialect

	// On SQLite: the writer that owns w's one connection once the schema
	// is up to date, and the readers' prepared statements.
	wr    *writer
	reads *stmtCache

	// tx, in the copy of DB that Atomically hands out, is the unit's
	// transaction: every statement runs on it. root is the DB it copies.
	tx   *conn
	root *DB

	// countersDB, on PostgreSQL, is where limits inside a unit are
	// counted (counters).
	countersDB *DB

	// retried counts the transactions run again (inTx), shared by the
	// copies a unit makes and by countersDB.
	retried *atomic.Int64
}

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// brings its schema up to date.
//
// The file may be open in other processes at the same time, such as a server
// and an operator's CLI command: WAL lets readers run beside the one writer,
// busy_timeout makes a writer wait for the lock instead of failing, and
// _txlock=immediate takes the write lock at BEGIN so a transaction never has to
// upgrade a read lock (which SQLite can only refuse, not wait for).
//
// Within the process, writes never contend for SQLite's lock at all: they go
// through one connection of their own, where a writer commits them in
// batches (writer.go), while reads share a pool beside it. So a crowd of
// customers signing in at once waits its turn instead of polling for the
// lock until busy_timeout runs out ("database is locked").
func OpenSQLite(path string) (*DB, error) { return OpenSQLiteSync(path, SyncFull) }

// How SQLite makes a commit durable (PRAGMA synchronous, in WAL mode).
const (
	// SyncFull syncs the log to disk at every commit: a commit the caller
	// was told of survives a power cut. The default.
	SyncFull = "full"
	// SyncNormal syncs only at checkpoints: a commit survives the
	// process's crash, but a power cut may undo the last ones (the file is
	// never corrupted). Commits cost no fsync.
	SyncNormal = "normal"
)

// OpenSQLiteSync is OpenSQLite with the durability of commits: SyncFull or
// SyncNormal.
func OpenSQLiteSync(path, sync string) (*DB, error) {
	if sync != SyncFull && sync != SyncNormal {
		return nil, fmt.Errorf("sqlstore: synchronous %q: want %q or %q", sync, SyncFull, SyncNormal)
	}
	// busy_timeout comes first so the journal_mode switch itself waits for a
	// process that holds the lock.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + sync + ")" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=temp_store(memory)" +
		"&_txlock=immediate"
	return open(&sqliteDialect, dsn)
}

func open(d *dialect, dsn string) (*DB, error) {
	var sdb *sql.DB
	var err error
	if d.openDB != nil {
		sdb, err = d.openDB(dsn)
	} else {
		sdb, err = sql.Open(d.driver, dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	db := &DB{sql: sdb, w: sdb, d: d, retried: new(atomic.Int64)}
	if d.oneWriter {
		if db.w, err = sql.Open(d.driver, dsn); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("sqlstore: open: %w", err)
		}
		db.w.SetMaxOpenConns(1)
		db.w.SetConnMaxLifetime(0)
		db.w.SetConnMaxIdleTime(0)
		// Readers are cheap in WAL mode, but each connection keeps its
		// own page cache: enough for the cores, not one per request.
		// One more is the writer's checkpointer's.
		sdb.SetMaxOpenConns(max(4, 2*runtime.GOMAXPROCS(0)) + 1)
		sdb.SetMaxIdleConns(max(4, 2*runtime.GOMAXPROCS(0)) + 1)
	}
	// Processes opening a new database at the same moment can find it
	// locked where no busy timeout applies; they take turns.
	for attempt := 1; ; attempt++ {
		err = db.migrate(context.Background())
		if err == nil || d.busy == nil || !d.busy(err) || attempt == 20 {
			break
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
	if err == nil && d.oneWriter {
		db.reads = newStmtCache(sdb)
		db.wr, err = newWriter(context.Background(), db.w, sdb, d)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Writable is nil unless the database refuses every write from now on:
// on SQLite after a failed sync of its log (syncer). Readiness checks it.
func (db *DB) Writable() error {
	if db.wr == nil || db.wr.syncs == nil {
		return nil
	}
	return db.wr.syncs.err()
}

// Stats are the database's figures for /metrics (store.Stats).
func (db *DB) Stats() store.Stats {
	st := store.Stats{Retried: db.retried.Load()}
	pool := func(name string, p *sql.DB) {
		s := p.Stats()
		st.Pools = append(st.Pools, store.PoolStats{Name: name, Max: s.MaxOpenConnections,
			InUse: s.InUse, Idle: s.Idle, Waits: s.WaitCount, WaitTime: s.WaitDuration})
	}
	if db.wr != nil {
		// The writer's pool is its one connection, which it always holds.
		pool("readers", db.sql)
		st.Writer = &store.WriterStats{Batches: db.wr.batches.Load(), Waiting: db.wr.queued()}
		if db.wr.syncs != nil {
			st.Writer.LogSyncs = db.wr.syncs.syncs.Load()
		}
		return st
	}
	pool("main", db.sql)
	if db.countersDB != nil {
		pool("limits", db.countersDB.sql)
	}
	return st
}

// Close closes the database.
func (db *DB) Close() error {
	var err error
	if db.wr != nil {
		err = db.wr.close()
	}
	if db.reads != nil {
		db.reads.close()
	}
	if db.countersDB != nil {
		err = errors.Join(err, db.countersDB.Close())
	}
	err = errors.Join(err, db.sql.Close())
	if db.w != db.sql {
		err = errors.Join(err, db.w.Close())
	}
	return err
}

// TraceStatements calls fn with the text of every statement the database
// runs from now on, reads and writes, until it is called with nil; on
// SQLite only (elsewhere it does nothing). fn runs on the statement's
// goroutine and must not block. It is for tests, such as the one that keeps
// every statement of a customer's visit on an index (QueryPlan).
func (db *DB) TraceStatements(fn func(query string)) {
	if db.reads == nil || db.wr == nil {
		return
	}
	var p *func(string)
	if fn != nil {
		p = &fn
	}
	db.reads.trace.Store(p)
	db.wr.stmts.trace.Store(p)
}

// QueryPlan returns SQLite's plan of query (EXPLAIN QUERY PLAN), one line
// per step, such as "SEARCH accounts USING INDEX accounts_email (email=?)";
// the query is planned, never run, with NULL for each of its `?`.
func (db *DB) QueryPlan(ctx context.Context, query string) ([]string, error) {
	if db.d != &sqliteDialect {
		return nil, fmt.Errorf("sqlstore: query plans are SQLite's only")
	}
	rows, err := db.sql.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, make([]any, strings.Count(query, "?"))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn binds a querier for reads and one for writes (the same in a
// transaction) to the dialect, so that every query is rebound and sent where
// it belongs.
type conn struct {
	q, w querier
	d    *dialect
	// ctx, when set, runs the statements instead of the caller's context:
	// in a transaction shared by several callers, one caller's cancelled
	// request must not interrupt the others' statements.
	ctx context.Context
	// unit, outside any unit, is what a unit of this database marks its
	// context with (unitKey): a statement with such a context went around
	// the unit it was sent from, and fails (aroundUnit).
	unit *sql.DB
}

// aroundUnit reports a statement sent from inside a unit but not through
// it. It fails on both engines: it would not see the unit's own writes; a
// write would wait on SQLite for the writer the unit holds; and on
// PostgreSQL it would take a second connection of the pool the unit holds
// one of, so that with every connection held by units doing so, each would
// wait for itself.
func (c conn) aroundUnit(ctx context.Context) bool {
	return c.unit != nil && ctx.Value(unitKey{}) == c.unit
}

// failedRow is a row whose statement was refused before it ran.
type failedRow struct{ err error }

func (r failedRow) Scan(...any) error { return r.err }

func (c conn) context(ctx context.Context) context.Context {
	if c.ctx != nil {
		return c.ctx
	}
	return ctx
}

// on picks the querier for a statement: a SELECT (or an EXPLAIN) reads,
// anything else (INSERT, UPDATE ... RETURNING, DELETE, WITH ... UPDATE)
// writes.
func (c conn) on(query string) querier {
	q := strings.TrimLeft(query, " \t\r\n")
	for _, read := range []string{"SELECT", "EXPLAIN"} {
		if len(q) >= len(read) && strings.EqualFold(q[:len(read)], read) {
			return c.q
		}
	}
	return c.w
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.aroundUnit(ctx) {
		return nil, errOutsideUnit
	}
	return c.w.ExecContext(c.context(ctx), c.d.rebind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.aroundUnit(ctx) {
		return nil, errOutsideUnit
	}
	return c.on(query).QueryContext(c.context(ctx), c.d.rebind(query), args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	if c.aroundUnit(ctx) {
		return failedRow{errOutsideUnit}
	}
	return c.on(query).QueryRowContext(c.context(ctx), c.d.rebind(query), args...)
}

// queryAll runs a query and scans every row it returns with scan; op names
// the operation in the error.
func queryAll[T any](ctx context.Context, db *DB, op string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.c().query(ctx, query, args...)
	if err != nil {
		return nil, db.fail(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, db.fail(op, err)
		}
		out = append(out, v)
	}
	return out, db.fail(op, rows.Err())
}

// deref turns a scanner of one record by pointer into one by value, for
// queryAll.
func deref[T any](scan func(rowScanner) (*T, error)) func(rowScanner) (T, error) {
	return func(r rowScanner) (T, error) {
		p, err := scan(r)
		if err != nil {
			var zero T
			return zero, err
		}
		return *p, nil
	}
}

// affected runs a statement and returns how many rows it changed.
func (c conn) affected(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// insertID runs an INSERT of one row into a table whose key is an integer
// id the database picks, and returns that id. It writes, so it runs in
// db.write or a unit.
func (c conn) insertID(ctx context.Context, insert string, args ...any) (int64, error) {
	if c.d.lastInsertID {
		res, err := c.exec(ctx, insert, args...)
		if err != nil {
			return 0, err
		}
		return res.LastInsertId()
	}
	var id int64
	err := c.queryRow(ctx, insert+" RETURNING id", args...).Scan(&id)
	return id, err
}

// exists tells whether query returns a row.
func (c conn) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := c.queryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// c returns a conn outside any transaction, or in a unit its transaction.
func (db *DB) c() conn {
	if db.tx != nil {
		return *db.tx
	}
	if db.wr != nil {
		return conn{q: db.reads, w: queuedWrites{db.wr}, d: db.d, unit: db.w}
	}
	return conn{q: db.sql, w: guarded{db.w}, d: db.d, unit: db.w}
}

// guarded is PostgreSQL's write side outside any unit: a statement sent
// from inside a unit but around it fails, as it must on SQLite, where it
// would wait for the writer the unit holds (writer.do), so that such a
// mistake shows on both engines. Writes that return rows go through
// db.write, which checks the same.
type guarded struct{ *sql.DB }

func (g guarded) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if ctx.Value(unitKey{}) == g.DB {
		return nil, errOutsideUnit
	}
	return g.DB.ExecContext(ctx, query, args...)
}

// write runs fn's one statement as a write outside any transaction of the
// caller's: on PostgreSQL it commits by itself, on SQLite it joins the
// writer's next batch. A statement that writes and returns rows (INSERT ...
// RETURNING) runs here or in inTx, never on c().
func (db *DB) write(ctx context.Context, fn func(c conn) error) error {
	if db.tx != nil {
		return fn(*db.tx)
	}
	if err := db.outsideUnit(ctx); err != nil {
		return err
	}
	if db.wr != nil {
		return db.wr.do(ctx, oneStatement, fn)
	}
	return fn(db.c())
}

// inTx runs fn in one write transaction, committing when it returns nil.
// Where the dialect says a failure is only a lost race with another
// transaction (PostgreSQL at SERIALIZABLE), fn runs again after a short,
// growing, random pause; fn must therefore set, not accumulate, what it
// gives back. In a unit, fn runs in a savepoint of the unit's transaction.
func (db *DB) inTx(ctx context.Context, fn func(c conn) error) error {
	if db.tx != nil {
		return db.savepoint(ctx, fn)
	}
	if err := db.outsideUnit(ctx); err != nil {
		return err
	}
	if db.wr != nil {
		return db.wr.do(ctx, unitWrite, fn)
	}
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, db.d.txOptions, fn)
		if err == nil || db.d.retry == nil || !db.d.retry(err) || attempt == maxTxAttempts {
			return err
		}
		db.retried.Add(1)
		pause := time.Duration(attempt) * time.Millisecond
		select {
		case <-time.After(pause/2 + rand.N(pause)):
		case <-ctx.Done():
			return err
		}
	}
}

// unitKey marks the context a unit hands its fn, with the *sql.DB the
// unit's transaction is on.
type unitKey struct{}

// errOutsideUnit is a statement sent from inside a unit but not through
// it (conn.aroundUnit, writer.do).
var errOutsideUnit = errors.New("sqlstore: a statement inside a unit went around it (use the store the unit hands out)")

func (db *DB) outsideUnit(ctx context.Context) error {
	if ctx.Value(unitKey{}) == db.w {
		return errOutsideUnit
	}
	return nil
}

// Atomically runs fn in one write transaction (store.Units): on SQLite in
// the writer's next batch, on PostgreSQL at SERIALIZABLE, run again when it
// loses a race.
func (db *DB) Atomically(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) error {
	if db.tx != nil {
		return db.savepoint(ctx, func(conn) error { return fn(ctx, db) })
	}
	return db.inTx(ctx, db.unit(ctx, fn))
}

// unit is the body of a unit's transaction: fn on a copy of db bound to it.
func (db *DB) unit(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) func(c conn) error {
	return func(c conn) error {
		var lost error
		if db.d.retry != nil {
			// fn may well log a store error and go on, as it does for an
			// audit event; a statement that lost a race must still run
			// the whole unit again, not end in a failed commit.
			c.q, c.w = raceWatch{c.q, db.d.retry, &lost}, raceWatch{c.w, db.d.retry, &lost}
		}
		tx := *db
		tx.tx, tx.root = &c, db
		err := fn(context.WithValue(ctx, unitKey{}, db.w), &tx)
		if lost != nil {
			return lost
		}
		return err
	}
}

// raceWatch notes the first statement of a unit that failed because the
// unit lost a race with another transaction.
type raceWatch struct {
	querier
	retry func(error) bool
	lost  *error
}

func (r raceWatch) note(err error) {
	if err != nil && *r.lost == nil && r.retry(err) {
		*r.lost = err
	}
}

func (r raceWatch) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := r.querier.ExecContext(ctx, query, args...)
	r.note(err)
	return res, err
}

func (r raceWatch) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := r.querier.QueryContext(ctx, query, args...)
	r.note(err)
	return rows, err
}

func (r raceWatch) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	row := r.querier.QueryRowContext(ctx, query, args...)
	r.note(row.Err())
	return row
}

// savepoint runs fn within the unit's transaction so that its error undoes
// only its own writes.
func (db *DB) savepoint(ctx context.Context, fn func(c conn) error) error {
	c := *db.tx
	if _, err := c.w.ExecContext(c.context(ctx), "SAVEPOINT unit"); err != nil {
		return err
	}
	if err := fn(c); err != nil {
		if _, rerr := c.w.ExecContext(c.context(ctx), "ROLLBACK TO unit"); rerr != nil {
			return errors.Join(err, rerr)
		}
		c.w.ExecContext(c.context(ctx), "RELEASE unit")
		return err
	}
	_, err := c.w.ExecContext(c.context(ctx), "RELEASE unit")
	return err
}

// maxTxAttempts bounds how often a transaction that keeps losing races runs.
const maxTxAttempts = 20

func (db *DB) tryTx(ctx context.Context, opts *sql.TxOptions, fn func(c conn) error) error {
	tx, err := db.w.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(conn{q: tx, w: tx, d: db.d}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// fail maps err to a store sentinel where one applies and otherwise wraps it
// with what was being done. A unique violation is ErrConflict; a foreign key
// violation means the account a row points at does not exist: ErrNotFound.
// Sentinels returned by the backend's own code pass through unchanged.
func (db *DB) fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrStale):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	switch db.d.classify(err) {
	case uniqueViolation:
		return store.ErrConflict
	case foreignKeyViolation:
		return store.ErrNotFound
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// ms is how a time is stored: unix milliseconds, with the zero time as 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// msTime reverses ms. 0 is the zero time, not 1970.
func msTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// msScan scans an integer time column into a time.Time.
type msScan struct{ t *time.Time }

func (s msScan) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	*s.t = msTime(n.Int64) // NULL reads as the zero time too
	return nil
}
