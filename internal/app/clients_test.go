package app_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

var (
	clientIDRe     = regexp.MustCompile(`(?m)^client_id: (\S+)$`)
	clientSecretRe = regexp.MustCompile(`(?m)^client_secret: (\S+)$`)
)

// openData opens the data folder's database, as a second process would
// while the commands run.
func openData(t *testing.T, dir string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A client's life on the command line: created, changed, given a new
// secret and deleted, with what goes wrong on the way.
func TestClientsManage(t *testing.T) {
	dir := dataDir(t, "")
	env := keyEnv()
	clients := func(args ...string) result {
		t.Helper()
		return run(t, env, append(append([]string{"clients"}, args...), "--data", dir)...)
	}
	r := clients("create", "--name", "Shop", "--redirect-uri", "https://shop.example/cb",
		"--post-logout-redirect-uri", "https://shop.example/bye", "--backchannel-logout-uri", "https://shop.example/bc")
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	id, oldSecret := firstMatch(clientIDRe, r.stdout), firstMatch(clientSecretRe, r.stdout)
	if id == "" || oldSecret == "" {
		t.Fatalf("create printed no id or secret:\n%s", r.stdout)
	}
	r = clients("create", "--name", "SPA", "--public", "--redirect-uri", "http://127.0.0.1:9/spa")
	spaID := firstMatch(clientIDRe, r.stdout)
	if r.code != 0 || spaID == "" || clientSecretRe.MatchString(r.stdout) {
		t.Fatalf("create public: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// update replaces the flags given, a list as a whole, and keeps the rest.
	r = clients("update", "--id", id, "--name", "New Shop",
		"--redirect-uri", "https://shop.example/a", "--redirect-uri", "https://shop.example/b")
	if r.code != 0 {
		t.Fatalf("update: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"client updated: New Shop", "https://shop.example/bye", "https://shop.example/bc"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("update output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = clients("list")
	if r.code != 0 || !strings.Contains(r.stdout, "New Shop") || !strings.Contains(r.stdout, "https://shop.example/a https://shop.example/b") ||
		strings.Contains(r.stdout, "https://shop.example/cb") {
		t.Errorf("list after update: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = clients("update", "--id", id, "--post-logout-redirect-uri", "", "--backchannel-logout-uri", "")
	if r.code != 0 || strings.Count(r.stdout, "(none)") != 2 || !strings.Contains(r.stdout, "https://shop.example/a") {
		t.Errorf("update clearing the logout URIs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// rotate-secret prints a new secret, and only its hash is kept.
	r = clients("rotate-secret", "--id", id)
	newSecret := firstMatch(clientSecretRe, r.stdout)
	if r.code != 0 || newSecret == "" || newSecret == oldSecret || !strings.Contains(r.stdout, "client_id: "+id) {
		t.Fatalf("rotate-secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	db := openData(t, dir)
	c, err := db.ClientByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretHash != secret.Hash(newSecret) {
		t.Error("the stored hash is not the new secret's")
	}
	if c.Name != "New Shop" || c.PostLogoutRedirectURIs != nil || c.BackchannelLogoutURI != "" ||
		!slices.Equal(c.RedirectURIs, []string{"https://shop.example/a", "https://shop.example/b"}) {
		t.Errorf("client after the updates and the rotation: %+v", c)
	}

	// Refusals change nothing.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"rotate-secret", "--id", spaID}, 1, "public"},
		{[]string{"update", "--id", id, "--redirect-uri", "http://shop.example/cb"}, 1, "must use https"},
		{[]string{"update", "--id", id, "--redirect-uri", ""}, 1, "at least one redirect URI"},
		{[]string{"update", "--id", id}, 2, "nothing to change"},
		{[]string{"update", "--name", "x"}, 2, "--id is required"},
		{[]string{"delete"}, 2, "--id is required"},
		{[]string{"update", "--id", "no-such-client", "--name", "x"}, 1, `no client with the id "no-such-client"`},
		{[]string{"rotate-secret", "--id", "no-such-client"}, 1, `no client with the id "no-such-client"`},
		{[]string{"delete", "--id", "no-such-client"}, 1, `no client with the id "no-such-client"`},
		{[]string{"frobnicate"}, 2, "unknown clients command"},
	} {
		r := clients(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
	if c, err := db.ClientByID(t.Context(), id); err != nil || c.SecretHash != secret.Hash(newSecret) ||
		!slices.Equal(c.RedirectURIs, []string{"https://shop.example/a", "https://shop.example/b"}) {
		t.Errorf("client after refused commands: %+v, %v", c, err)
	}

	// delete takes the client's grants along and says how many were live.
	if r := run(t, env, "users", "create", "--email", "a@example.jp", "--name", "A", "--data", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	a, err := db.AccountByEmail(t.Context(), "a@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, g := range []store.Grant{
		{ID: "g-shop", ClientID: id, AccountID: a.ID, CreatedAt: now},
		{ID: "g-spa", ClientID: spaID, AccountID: a.ID, CreatedAt: now},
	} {
		if err := db.CreateGrant(t.Context(), &g); err != nil {
			t.Fatal(err)
		}
	}
	r = clients("delete", "--id", id)
	if r.code != 0 || !strings.Contains(r.stdout, "client deleted: New Shop") || !strings.Contains(r.stdout, "1 live grants revoked") {
		t.Fatalf("delete: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := db.GrantByID(t.Context(), "g-shop"); err == nil {
		t.Error("the deleted client's grant is still there")
	}
	if _, err := db.GrantByID(t.Context(), "g-spa"); err != nil {
		t.Errorf("another client's grant: %v", err)
	}
	r = clients("list")
	if r.code != 0 || strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, spaID) {
		t.Errorf("list after delete: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Each change is in the audit log, by the command line.
	var got []string
	for ev, err := range db.AuditOfActions(t.Context(), "", []string{"client.create", "client.update", "client.rotate_secret", "client.delete"}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Actor != "operator:cli" || !strings.Contains(ev.Detail, "(") {
			t.Errorf("audit event %+v", ev)
		}
		got = append(got, ev.Action)
	}
	slices.Reverse(got) // newest first
	want := []string{"client.create", "client.create", "client.update", "client.update", "client.rotate_secret", "client.delete"}
	if !slices.Equal(got, want) {
		t.Errorf("audit actions %v, want %v", got, want)
	}
}

func firstMatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}
