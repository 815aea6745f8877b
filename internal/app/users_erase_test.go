package app_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store/sqlstore"
)

// TestUsersErase: an operator erases an account from the command line,
// only with a reason and --yes; the address is free again, the account's
// id and contracts stay, and the audit log has the erasure.
func TestUsersErase(t *testing.T) {
	dir := dataDir(t, "")
	env := keyEnv()
	if r := run(t, env, "users", "create", "--email", "yamada@example.jp", "--name", "山田 太郎", "--data", dir); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	if r := run(t, env, "contracts", "create", "--email", "yamada@example.jp", "--service", "光回線 1G", "--plan", "ファミリー",
		"--monthly-fee", "4800", "--data", dir); r.code != 0 {
		t.Fatalf("contracts create: %s", r.stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"erase", "--email", "yamada@example.jp", "--reason", "退会の申し出"}, 1, "cannot be undone: check the address, then add --yes"},
		{[]string{"erase", "--email", "yamada@example.jp", "--yes"}, 1, "--reason is required"},
		{[]string{"erase", "--email", "nobody@example.jp", "--reason", "退会", "--yes"}, 1, "no account has the email address nobody@example.jp"},
		{[]string{"erase", "--reason", "退会", "--yes"}, 2, "--email is required"},
		{[]string{"erase", "--email", "Yamada@Example.JP", "--reason", "退会の申し出", "--yes"}, 0, "account erased: yamada@example.jp"},
		{[]string{"erase", "--email", "yamada@example.jp", "--reason", "退会の申し出", "--yes"}, 1, "no account has the email address yamada@example.jp"},
	} {
		r := run(t, env, append(append([]string{"users"}, tc.args...), "--data", dir)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("users %v: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, r.code, tc.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, env, "users", "list", "--data", dir); !regexp.MustCompile(`erased-\S+@erased\.invalid .* erased `).MatchString(r.stdout) ||
		strings.Contains(r.stdout, "山田") {
		t.Errorf("users list after the erasure:\n%s", r.stdout)
	}

	db, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list, err := db.ListAccounts(t.Context())
	if err != nil || len(list) != 1 || !list[0].Erased() || list[0].Name != "" {
		t.Fatalf("accounts after the erasure: %+v, %v", list, err)
	}
	id := list[0].ID
	if cs, err := db.ContractsOf(t.Context(), id); err != nil || len(cs) != 1 {
		t.Errorf("contracts after the erasure: %+v, %v; the business keeps them", cs, err)
	}
	evs, err := db.AuditOf(t.Context(), id, 1)
	if err != nil || len(evs) != 1 || evs[0].Action != "account.erase" || evs[0].Actor != "operator:cli" || evs[0].Detail != "退会の申し出" {
		t.Errorf("the audit log's last event: %+v, %v", evs, err)
	}
	// The address opens an account anew.
	if r := run(t, env, "users", "create", "--email", "yamada@example.jp", "--name", "山田 太郎", "--data", dir); r.code != 0 {
		t.Errorf("create again: %s", r.stderr)
	}
}
