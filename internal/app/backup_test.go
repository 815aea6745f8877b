package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndRestore: a backup taken with the binary alone restores into a
// new data folder, where the accounts are; a check tells a usable backup
// from a broken one; the command never writes over a file.
func TestBackupAndRestore(t *testing.T) {
	dir := dataDir(t, "")
	env := keyEnv()
	for _, email := range []string{"yamada@example.jp", "sato@example.jp"} {
		if r := run(t, env, "users", "create", "--email", email, "--name", "顧客", "--data", dir); r.code != 0 {
			t.Fatalf("users create: exit %d\n%s", r.code, r.stderr)
		}
	}
	backups := t.TempDir()
	file := filepath.Join(backups, "tobira-2026-11-26.db")
	r := run(t, env, "backup", "--to", file, "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "backup written: "+file) || !strings.Contains(r.stdout, "2 accounts") ||
		!strings.Contains(r.stdout, "integrity ok") {
		t.Fatalf("backup: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// As deploy/tobira-backup.service runs it: without the environment
	// file that holds the node's secrets, so with neither a secret key nor
	// the SMS provider's token the configuration's sender needs.
	unattended := filepath.Join(backups, "unattended.db")
	if r := run(t, map[string]string{"TOBIRA_PHONE_SENDER": "twilio"}, "backup", "--to", unattended, "--data", dir); r.code != 0 ||
		!strings.Contains(r.stdout, "backup written: "+unattended) {
		t.Errorf("backup without the node's secrets: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// The unit on a PostgreSQL node, whose URL is in the environment file
	// the unit does not read: a data folder without a SQLite database.
	empty := t.TempDir()
	if r := run(t, nil, "backup", "--to", filepath.Join(backups, "none.db"), "--data", empty); r.code != 1 ||
		!strings.Contains(r.stderr, "no SQLite database at "+filepath.Join(empty, "tobira.db")) || !strings.Contains(r.stderr, "pg_dump") {
		t.Errorf("backup of a folder without a database: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(backups, "none.db.partial")); !os.IsNotExist(err) {
		t.Errorf("a backup of nothing left a file: %v", err)
	}
	if r := run(t, nil, "backup", "--check", file); r.code != 0 || !strings.Contains(r.stdout, "backup ok: "+file) {
		t.Errorf("backup --check: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// Restore: the backup is the database of a new data folder.
	restored := t.TempDir()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "tobira.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "users", "list", "--data", restored)
	if r.code != 0 || !strings.Contains(r.stdout, "yamada@example.jp") || !strings.Contains(r.stdout, "sato@example.jp") {
		t.Errorf("users list on the restored backup: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	broken := filepath.Join(backups, "broken.db")
	if err := os.WriteFile(broken, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stderr
	}{
		{"over a file", env, []string{"--to", file, "--data", dir}, 1, "exists already"},
		{"a broken backup", nil, []string{"--check", broken}, 1, "not a usable Tobira database"},
		{"PostgreSQL", env, []string{"--to", filepath.Join(backups, "pg.db"), "--data", dir,
			"--database", "postgres://tobira@db.internal.example.jp/tobira"}, 1, "pg_dump"},
		{"neither flag", nil, nil, 2, "usage: tobira backup"},
		{"both flags", nil, []string{"--to", "a.db", "--check", "b.db"}, 2, "usage: tobira backup"},
	} {
		r := run(t, tc.env, append([]string{"backup"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d (want %d), stderr %q lacks %q", tc.name, r.code, tc.code, r.stderr, tc.want)
		}
	}
	if after, err := os.ReadFile(file); err != nil || string(after) != string(data) {
		t.Errorf("the backup changed after a second backup to its name was refused (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(backups, "pg.db")); !os.IsNotExist(err) {
		t.Errorf("a refused backup left a file: %v", err)
	}
}
