package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migration is one numbered schema file, e.g. 0001_init.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the dialect's schema files in version order.
func (d *dialect) loadMigrations() ([]migration, error) {
	fsys, err := d.migrations()
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// newestVersion is the version ms, in version order, take a database to.
func newestVersion(ms []migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// SchemaVersion is the newest schema this program knows: the version its
// migrations take a database to, the same on SQLite and PostgreSQL.
func SchemaVersion() (int, error) {
	ms, err := sqliteDialect.loadMigrations()
	if err != nil {
		return 0, err
	}
	return newestVersion(ms), nil
}

// migrate applies every migration not yet recorded in schema_migrations,
// each in its own transaction. The transaction takes the write lock before it
// looks at schema_migrations, so of two processes starting at once the second
// waits, then finds the migration recorded and skips it.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := db.d.loadMigrations()
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	for _, m := range ms {
		err := db.migrationTx(ctx, func(c conn) error {
			if db.d.lockMigrations != "" {
				if _, err := c.exec(ctx, db.d.lockMigrations); err != nil {
					return err
				}
			}
			// BIGINT is an integer in SQLite too, and wide enough in PostgreSQL.
			if _, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    BIGINT PRIMARY KEY,
				name       TEXT   NOT NULL,
				applied_at BIGINT NOT NULL
			)`); err != nil {
				return err
			}
			done, err := c.exists(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?`, m.version)
			if err != nil || done {
				return err
			}
			if _, err := c.exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			_, err = c.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
	}

	// A binary older than the database would write rows the newer schema may
	// not expect; refuse rather than guess.
	newest := newestVersion(ms)
	var applied int
	if err := db.c().queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if applied > newest {
		return fmt.Errorf("sqlstore: migrate: database is at schema version %d, this program knows only up to %d", applied, newest)
	}
	return nil
}

// migrationTx runs one migration's transaction: with the dialect's options
// on a database being opened, through the writer on an open SQLite one.
func (db *DB) migrationTx(ctx context.Context, fn func(c conn) error) error {
	if db.wr != nil {
		return db.wr.do(ctx, unitWrite, fn)
	}
	return db.tryTx(ctx, db.d.migrationTxOptions, fn)
}

// ErrNoDatabase is AppliedSchema of a SQLite file that is not there yet.
var ErrNoDatabase = errors.New("sqlstore: no database yet")

// AppliedSchema reads the schema version a database is at without changing
// anything in it: the PostgreSQL database at pgURL, else the SQLite file at
// sqlitePath (ErrNoDatabase when the file is missing). A database no
// program has migrated yet is at 0. Opening a store would migrate it; this
// tells an operator what the next start will do first.
func AppliedSchema(ctx context.Context, sqlitePath, pgURL string) (int, error) {
	var sdb *sql.DB
	var err error
	if pgURL != "" {
		sdb, err = openPostgres(pgURL)
	} else {
		if _, statErr := os.Stat(sqlitePath); errors.Is(statErr, os.ErrNotExist) {
			return 0, ErrNoDatabase
		}
		// mode=rw: never create the file.
		sdb, err = sql.Open("sqlite", "file:"+(&url.URL{Path: sqlitePath}).EscapedPath()+"?mode=rw&_pragma=busy_timeout(5000)")
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %w", err)
	}
	defer sdb.Close()
	var exists bool
	q := `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`
	if pgURL != "" {
		q = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	}
	if err := sdb.QueryRowContext(ctx, q).Scan(&exists); err != nil || !exists {
		if err != nil {
			err = fmt.Errorf("sqlstore: %w", err)
		}
		return 0, err
	}
	var v int
	if err := sdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: %w", err)
	}
	return v, nil
}
