package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tobira/tobira/internal/store/sqlstore"
)

// backup copies the SQLite database to a file while the server runs
// (--to), or checks such a copy before it is restored (--check), with this
// binary alone: the container image has no sqlite3 to do it.
func (m *Main) backup(ctx context.Context, args []string) error {
	f := m.flags("backup")
	to := f.String("to", "", "write the backup to this file, which must not exist")
	check := f.String("check", "", "check this backup file instead: whole, and at a schema this program knows")
	if err := f.Parse(args); err != nil {
		return errUsage
	}
	if f.NArg() > 0 || (*to == "") == (*check == "") {
		fmt.Fprint(m.Stderr, "usage: tobira backup --to FILE | --check FILE [--data DIR]\n")
		return errUsage
	}
	if *check != "" {
		b, err := sqlstore.CheckBackup(ctx, *check)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "backup ok: %s\n%s\n", b.Path, backupSummary(b))
		return nil
	}
	cfg, err := m.load(f, modeBackup)
	if err != nil {
		return err
	}
	if cfg.Database != "" {
		return errors.New("the database is PostgreSQL: back it up with pg_dump (docs/OPERATIONS.md, \"Backup and restore\")")
	}
	// A PostgreSQL node whose URL is in the service's environment file,
	// which deploy/tobira-backup.service does not read, looks like a
	// SQLite node with no database.
	if _, err := os.Stat(cfg.DatabasePath()); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no SQLite database at %s to back up: is --data the node's data folder? "+
			"A node on PostgreSQL (database, TOBIRA_DATABASE_URL or --database) is backed up with pg_dump, not with this command", cfg.DatabasePath())
	}
	b, err := sqlstore.BackupSQLite(ctx, cfg.DatabasePath(), *to)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "backup written: %s\n%s\n", b.Path, backupSummary(b))
	return nil
}

func backupSummary(b *sqlstore.Backup) string {
	return fmt.Sprintf("schema %d, %d accounts, %.1f MiB; integrity ok", b.Schema, b.Accounts, float64(b.Bytes)/(1<<20))
}
