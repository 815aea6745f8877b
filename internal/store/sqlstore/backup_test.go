package sqlstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestBackup: a backup taken while another connection writes holds every
// account committed before it, is private to its owner, restores, and is
// never written over an existing file.
func TestBackup(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	live := filepath.Join(dir, "tobira.db")
	db := openTemp(t, live)
	defer db.Close()
	newAccount := func(i int) error {
		return db.CreateAccount(ctx, &store.Account{ID: fmt.Sprintf("acc-%d", i), Email: fmt.Sprintf("a%d@example.jp", i), CreatedAt: t0})
	}
	for i := range 50 {
		if err := newAccount(i); err != nil {
			t.Fatal(err)
		}
	}

	// Writes go on during the backup.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 50; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := newAccount(i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	path := filepath.Join(dir, "backups", "tobira-2026-11-26.db")
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := BackupSQLite(ctx, live, path)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("BackupSQLite: %v", err)
	}
	schema, _ := SchemaVersion()
	if b.Path != path || b.Schema != schema || b.Accounts < 50 || b.Bytes == 0 {
		t.Errorf("BackupSQLite = %+v, want %s at schema %d with at least 50 accounts", b, path, schema)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("backup folder holds %v, want the backup alone (no .partial, -wal or -shm)", names)
	}

	// It restores: a copy opened as a database has the accounts.
	restored := filepath.Join(t.TempDir(), "tobira.db")
	copyFile(t, path, restored)
	rdb := openTemp(t, restored)
	defer rdb.Close()
	if a, err := rdb.AccountByEmail(ctx, "a49@example.jp"); err != nil || a.ID != "acc-49" {
		t.Errorf("restored account: %+v, %v", a, err)
	}

	// An existing file is left as it is.
	if _, err := BackupSQLite(ctx, live, path); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("BackupSQLite over a backup: %v", err)
	}
	if again, err := CheckBackup(ctx, path); err != nil || again.Accounts != b.Accounts {
		t.Errorf("the first backup after a second one was refused: %+v, %v", again, err)
	}
	// A folder that is not there fails and leaves nothing.
	if _, err := BackupSQLite(ctx, live, filepath.Join(dir, "nowhere", "x.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("BackupSQLite into a missing folder: %v", err)
	}
	// A database that is not there is not made.
	if _, err := BackupSQLite(ctx, filepath.Join(dir, "typo.db"), filepath.Join(dir, "y.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("BackupSQLite of a missing database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("BackupSQLite made the missing database: %v", err)
	}
}

// TestCheckBackup refuses what this program could not restore.
func TestCheckBackup(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckBackup(ctx, garbage); err == nil || !strings.Contains(err.Error(), "not a usable Tobira database") {
		t.Errorf("CheckBackup of garbage: %v", err)
	}
	if _, err := CheckBackup(ctx, filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CheckBackup of a missing file: %v", err)
	}

	// A database a newer program migrated.
	newer := filepath.Join(dir, "newer.db")
	db := openTemp(t, newer)
	err := db.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "newer-backup.db")
	db.Close()
	// The error names the database, not a copy it dropped.
	if _, err := BackupSQLite(ctx, newer, path); err == nil || !strings.Contains(err.Error(), "the database "+newer+" is at schema version 9999") {
		t.Errorf("BackupSQLite of a newer schema: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused backup was left at its path: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
