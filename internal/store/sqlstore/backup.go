package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Backup describes a backup file of a SQLite database.
type Backup struct {
	Path     string
	Bytes    int64
	Schema   int // the schema version it is at
	Accounts int
}

// BackupSQLite writes a copy of the SQLite database at dbPath to path while
// servers and commands use it: VACUUM INTO copies one snapshot of it (a read
// transaction, so writers go on meanwhile), the changes still in the
// write-ahead log included, compacted into one self-contained file. It opens
// the database on a connection of its own and changes nothing in it, not
// even its schema: a newer program backs up before it migrates anything. The
// copy goes to path+".partial", created for it with mode 0600 (it holds
// password hashes and personal data), is synced and checked as CheckBackup
// does, and only then takes the name path, so that a file at path is always
// a whole, checked backup. path must not exist.
func BackupSQLite(ctx context.Context, dbPath, path string) (*Backup, error) {
	if _, err := os.Stat(dbPath); err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("sqlstore: backup: %s exists already", path)
	}
	// mode=rw: a missing file is an error, not a new database.
	src, err := sql.Open("sqlite", "file:"+(&url.URL{Path: dbPath}).EscapedPath()+"?mode=rw&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer src.Close()
	// A copy this program would refuse at --check is no backup for it: say
	// so of the database itself, before copying it only to drop the copy.
	var applied int
	if err := src.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&applied); err == nil {
		if known, err := SchemaVersion(); err == nil && applied > known {
			return nil, fmt.Errorf("sqlstore: backup: the database %s is at schema version %d, this program knows only up to %d: "+
				"back it up with the program that migrated it (or sqlite3's VACUUM INTO)", dbPath, applied, known)
		}
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	f.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(partial)
		}
	}()
	// VACUUM INTO takes an empty file, as this one is.
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, partial); err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	if err := syncFile(partial); err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	b, err := CheckBackup(ctx, partial)
	if err != nil {
		return nil, err
	}
	// Link, not rename: it fails rather than replace a file made at path
	// meanwhile.
	if err := os.Link(partial, path); err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	done = true
	os.Remove(partial)
	if err := syncFile(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	b.Path = path
	return b, nil
}

// syncFile flushes a file, or a folder's entries, to the disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// CheckBackup reads the SQLite file at path without changing it, nor making
// any file beside it, and checks that it can be restored by this program:
// SQLite's integrity check passes and its schema is one this program knows.
func CheckBackup(ctx context.Context, path string) (*Backup, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlstore: backup: %s is not a file", path)
	}
	// immutable: no lock, no -wal or -shm file; a backup is a file at rest.
	sdb, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&immutable=1")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer sdb.Close()
	bad := func(what string, err error) error {
		return fmt.Errorf("sqlstore: backup: %s is not a usable Tobira database (%s): %w", path, what, err)
	}
	var verdict string
	if err := sdb.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&verdict); err != nil {
		return nil, bad("integrity check", err)
	}
	if verdict != "ok" {
		return nil, bad("integrity check", errors.New(verdict))
	}
	b := &Backup{Path: path, Bytes: st.Size()}
	if err := sdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&b.Schema); err != nil {
		return nil, bad("schema", err)
	}
	known, err := SchemaVersion()
	if err != nil {
		return nil, err
	}
	if b.Schema > known {
		return nil, fmt.Errorf("sqlstore: backup: %s is at schema version %d, this program knows only up to %d", path, b.Schema, known)
	}
	if err := sdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&b.Accounts); err != nil {
		return nil, bad("accounts", err)
	}
	return b, nil
}
