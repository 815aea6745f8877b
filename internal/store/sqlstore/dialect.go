package sqlstore

import (
	"database/sql"
	"embed"
	"errors"
	"io/fs"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// migrationFiles holds the numbered schema files of every dialect, one
// directory per dialect.
//
//go:embed migrations
var migrationFiles embed.FS

// constraint is what kind of constraint a failed statement broke, as far as
// the store boundary cares.
type constraint int

const (
	noConstraint constraint = iota
	uniqueViolation
	foreignKeyViolation
)

// dialect is everything that differs between database engines. Queries in
// this package are written once, in SQL both SQLite and PostgreSQL accept
// (ON CONFLICT ... DO UPDATE, RETURNING, NULLIF, COALESCE), with `?`
// placeholders that rebind turns into the engine's own.
type dialect struct {
	name   string // also the directory of its migrations
	driver string // database/sql driver name
	// openDB, when set, opens the pool instead of sql.Open(driver, dsn).
	openDB func(dsn string) (*sql.DB, error)

	// rebind rewrites the `?` placeholders of a query for the engine.
	rebind func(query string) string

	// classify tells which constraint, if any, err reports.
	classify func(err error) constraint

	// busy tells an error that says the database is locked by another
	// process at a moment its busy timeout does not cover (SQLite's start of
	// WAL mode on a new file): worth trying again.
	busy func(err error) bool

	// retry tells an error after which the whole transaction may simply run
	// again (PostgreSQL's serialization failures); nil when none is.
	retry func(err error) bool

	// txOptions begins every write transaction; migrationTxOptions begins
	// a migration's, which must see what another process committed while
	// it waited for lockMigrations.
	txOptions, migrationTxOptions *sql.TxOptions

	// lockMigrations runs first in every migration transaction so that two
	// processes starting at once apply each migration only once. Empty when
	// beginning the transaction already takes the write lock.
	lockMigrations string

	// skipLocked ends a SELECT of rows to claim, so that claimers running
	// side by side pass over each other's rows instead of waiting.
	skipLocked string

	// like is the operator of a case-insensitive pattern match.
	like string

	// oneWriter sends every write through one connection of its own, for an
	// engine with one writer at a time.
	oneWriter bool

	// lastInsertID tells an engine whose driver reports the id an INSERT
	// gave its row (sql.Result.LastInsertId): insertID then runs the
	// INSERT alone instead of with RETURNING id, which on SQLite costs
	// about as much again (its rows are kept in a table of their own
	// until the statement ends, then read back through database/sql's
	// rows).
	lastInsertID bool
}

// migrations returns the dialect's numbered schema files.
func (d *dialect) migrations() (fs.FS, error) {
	return fs.Sub(migrationFiles, "migrations/"+d.name)
}

// sqliteDialect is SQLite through modernc.org/sqlite. Its write
// transactions are serial (BEGIN IMMEDIATE), so none ever needs a retry.
var sqliteDialect = dialect{
	name:   "sqlite",
	driver: "sqlite",
	// SQLite understands `?` itself.
	rebind: func(query string) string { return query },
	classify: func(err error) constraint {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return noConstraint
		}
		// The driver turns on extended result codes, so the code names
		// the constraint kind and no message parsing is needed.
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
		return noConstraint
	},
	busy: func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
	},
	// _txlock=immediate makes every BeginTx a BEGIN IMMEDIATE, which takes
	// the database's write lock before the first statement.
	lockMigrations: "",
	// One writer at a time: nothing is locked for a claimer to skip.
	skipLocked: "",
	// SQLite's LIKE ignores the case of ASCII letters already.
	like:         "LIKE",
	oneWriter:    true,
	lastInsertID: true,
}
