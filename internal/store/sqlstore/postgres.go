package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Pool bounds a database's connection pool. Zero fields keep the defaults
// of OpenPostgres.
type Pool struct {
	MaxOpen     int           // connections open at most, busy or idle
	MaxIdle     int           // idle connections kept for the next query
	MaxLifetime time.Duration // a connection is replaced after this long
	MaxIdleTime time.Duration // an idle connection is closed after this long
}

// DefaultPool is what a zero Pool opens: the store's tests and tools. A
// server's pool comes from its configuration (config.PoolSize), twice its
// cores by default, since more connections than a node feeds only queue in
// PostgreSQL.
var DefaultPool = Pool{MaxOpen: 16, MaxIdle: 16, MaxLifetime: 30 * time.Minute, MaxIdleTime: 5 * time.Minute}

// OpenPostgres connects to the PostgreSQL database at url (postgres://...
// or a key=value connection string, as libpq reads them) and brings its
// schema up to date. Several processes may do so at once: migrations take an
// advisory lock.
//
// Every write transaction runs at SERIALIZABLE isolation, so the store's
// read-then-write transactions keep the guarantee they have on SQLite (where
// one writer at a time holds the lock) across any number of nodes; a
// transaction that loses a conflict is run again.
func OpenPostgres(url string, pool Pool) (*DB, error) {
	if pool == (Pool{}) {
		pool = DefaultPool
	}
	db, err := open(&postgresDialect, url)
	if err != nil {
		return nil, err
	}
	db.sql.SetMaxOpenConns(pool.MaxOpen)
	db.sql.SetMaxIdleConns(pool.MaxIdle)
	db.sql.SetConnMaxLifetime(pool.MaxLifetime)
	db.sql.SetConnMaxIdleTime(pool.MaxIdleTime)
	// Limits counted inside a unit take a connection of a pool of their
	// own (DB.counters): from the units' pool, units that each hold a
	// connection would wait forever for one more.
	//
	// Its commits do not wait for the log to reach the disk
	// (synchronous_commit off): a sign-in counts and gives back its
	// counters in four statements of their own, and waiting for a flush of
	// PostgreSQL's log after each was most of the counters' time. A crash of
	// the database server may lose the counts of its last moments (at most
	// three times wal_writer_delay, 0.6 s by default), never corrupts them,
	// and loses nothing else: every other commit still waits for the flush.
	cp, err := openPostgres(url, "SET synchronous_commit = off")
	if err != nil {
		db.Close()
		return nil, err
	}
	n := max(2, pool.MaxOpen/4)
	cp.SetMaxOpenConns(n)
	cp.SetMaxIdleConns(n)
	cp.SetConnMaxLifetime(pool.MaxLifetime)
	cp.SetConnMaxIdleTime(pool.MaxIdleTime)
	db.countersDB = &DB{sql: cp, w: cp, d: db.d, retried: db.retried}
	return db, nil
}

// migrationLockKey is the advisory lock that migrations hold: any constant
// unlikely to be used by another program sharing the database ("tobira" in
// ASCII).
const migrationLockKey = 0x746f62697261

var postgresDialect = dialect{
	name:   "postgres",
	driver: "pgx",
	openDB: func(dsn string) (*sql.DB, error) { return openPostgres(dsn) },
	rebind: numberPlaceholders,
	classify: func(err error) constraint {
		switch sqlState(err) {
		case "23505": // unique_violation
			return uniqueViolation
		case "23503": // foreign_key_violation
			return foreignKeyViolation
		}
		return noConstraint
	},
	// Migrations wait on the advisory lock instead; PostgreSQL has no
	// equivalent of SQLite's locked new file.
	busy: nil,
	retry: func(err error) bool {
		switch sqlState(err) {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
		// A connection the server had ended (see lostConn): the
		// transaction never ran, and runs again on another.
		return errors.Is(err, driver.ErrBadConn)
	},
	txOptions: &sql.TxOptions{Isolation: sql.LevelSerializable},
	// READ COMMITTED: a serializable transaction's snapshot would be taken
	// before the lock is granted, and miss the migration the lock's previous
	// holder applied.
	migrationTxOptions: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	lockMigrations:     "SELECT pg_advisory_xact_lock(" + strconv.Itoa(migrationLockKey) + ")",
	skipLocked:         " FOR UPDATE SKIP LOCKED",
	like:               "ILIKE",
}

// openPostgres opens a pool whose connections report a session the server
// has ended as driver.ErrBadConn (lostConn). Each new session runs the setup
// statements first (SET, rather than parameters of the connection's start,
// which PgBouncer refuses unless told to ignore them).
func openPostgres(dsn string, setup ...string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	var opts []stdlib.OptionOpenDB
	if len(setup) > 0 {
		opts = append(opts, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
			for _, q := range setup {
				if _, err := c.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	return sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg, opts...)}), nil
}

// pgConnector hands out pgConns.
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return pgConn{conn.(*stdlib.Conn)}, nil
}

// pgConn is pgx's connection, but for one answer. When PostgreSQL has ended
// a pooled connection's session (a restart, a fail-over, an operator's
// pg_terminate_backend), the next statement sent on it is answered with the
// FATAL error of the session's end, not run. pgx passes that error on, and
// database/sql would hand it to the customer as a failed request; as
// driver.ErrBadConn instead, database/sql drops the connection and runs the
// statement again on a fresh one. Every connection of the pool fails so once
// after a database restart; none reaches a customer.
type pgConn struct{ *stdlib.Conn }

func (c pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.ExecContext(ctx, query, args)
	return res, c.lostConn(err)
}

// BeginTx is the first statement a unit of work or a transaction sends.
func (c pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	return tx, c.lostConn(err)
}

func (c pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.QueryContext(ctx, query, args)
	return rows, c.lostConn(err)
}

// lostConn turns the error of a session the server ended before running
// the statement into driver.ErrBadConn.
func (c pgConn) lostConn(err error) error {
	if err == nil || !c.Conn.Conn().IsClosed() {
		return err
	}
	switch sqlState(err) {
	case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return driver.ErrBadConn
	}
	return err
}

// sqlState is the SQLSTATE code of a PostgreSQL error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// numberPlaceholders turns each `?` into $1, $2, ... in order. No query in
// this package has a `?` inside a string literal or a comment, so a plain
// scan is enough; migrations have none at all.
func numberPlaceholders(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
