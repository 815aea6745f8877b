package app_test

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestCheck: tobira check names what would stop a node, and what a
// production node probably does not want, without changing the database.
func TestCheck(t *testing.T) {
	relay, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	smtp := func(port int) string {
		return fmt.Sprintf(`, "mail": {"sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": %d, "smtp_tls": "none", "from": "no-reply@example.jp"}`, port)
	}
	twilio := `, "phone": {"sender": "twilio", "twilio": {"account_sid": "AC0", "auth_token": "t", "from": "+815000000000"}}`

	t.Run("a node ready to serve", func(t *testing.T) {
		dir := dataDir(t, smtp(relay.Addr().(*net.TCPAddr).Port)+twilio+`, "base_url": "https://id.example.jp"`)
		env := keyEnv()
		if r := run(t, env, "signing-keys", "rotate", "--data", dir); r.code != 0 {
			t.Fatalf("signing-keys rotate: exit %d\n%s", r.code, r.stderr)
		}
		r := run(t, env, "check", "--data", dir)
		if r.code != 0 || !strings.Contains(r.stdout, "this binary's") || !strings.Contains(r.stdout, "ok     signing keys: readable") ||
			!strings.Contains(r.stdout, "connects") || !strings.HasSuffix(r.stdout, "0 errors, 0 warnings\n") {
			t.Fatalf("check: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}

		// Another key than the one the signing key was sealed with: the
		// node would stay out of the load balancer.
		r = run(t, keyEnv(), "check", "--data", dir)
		if r.code != 1 || !strings.Contains(r.stdout, "error  signing keys: unreadable with this secret key") {
			t.Errorf("check with another key: exit %d\nstdout: %s", r.code, r.stdout)
		}
	})

	// A retired signing key made under a secret key since dropped from
	// previous_secret_keys: the node serves, but check names the key and
	// what to do about it.
	t.Run("a retired signing key that does not decrypt", func(t *testing.T) {
		dir := dataDir(t, `, "base_url": "https://id.example.jp"`)
		old, now := keyEnv(), keyEnv()
		if r := run(t, old, "signing-keys", "rotate", "--data", dir); r.code != 0 {
			t.Fatalf("signing-keys rotate: exit %d\n%s", r.code, r.stderr)
		}
		if r := run(t, now, "signing-keys", "rotate", "--data", dir); r.code != 0 {
			t.Fatalf("signing-keys rotate with the new key: exit %d\n%s", r.code, r.stderr)
		}
		db, err := sql.Open("sqlite", filepath.Join(dir, "tobira.db"))
		if err != nil {
			t.Fatal(err)
		}
		var kid string
		var expires int64
		err = db.QueryRow(`SELECT id, expires_at FROM oidc_signing_keys WHERE retired_at <> 0`).Scan(&kid, &expires)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, now, "check", "--data", dir)
		want := "warn   signing key " + kid + ": retired, and it does not decrypt with this node's secret keys"
		at := "wait for it to expire at " + time.UnixMilli(expires).UTC().Format(time.RFC3339)
		if r.code != 0 || !strings.Contains(r.stdout, "ok     signing keys: readable") || !strings.Contains(r.stdout, want) ||
			!strings.Contains(r.stdout, "put the secret key it was made under back into previous_secret_keys") ||
			!strings.Contains(r.stdout, at) || !strings.Contains(r.stdout, "0 errors, 3 warnings") {
			t.Errorf("check: exit %d, want 0 with %q and %q\nstdout: %s", r.code, want, at, r.stdout)
		}

		// With the old key back among the previous ones, nothing to say.
		both := map[string]string{"TOBIRA_SECRET_KEY": now["TOBIRA_SECRET_KEY"], "TOBIRA_PREVIOUS_SECRET_KEYS": old["TOBIRA_SECRET_KEY"]}
		r = run(t, both, "check", "--data", dir)
		if r.code != 0 || strings.Contains(r.stdout, "signing key "+kid) {
			t.Errorf("check with the old key in previous_secret_keys: exit %d\nstdout: %s", r.code, r.stdout)
		}
	})

	t.Run("what it warns of and refuses", func(t *testing.T) {
		dir := dataDir(t, smtp(closedPort)+`, "base_url": "http://id.example.jp", "console_addr": ":8090", "hash_queue_wait": "45s"`)
		key := filepath.Join(dir, "secret.key")
		if err := os.WriteFile(key, []byte(keyEnv()["TOBIRA_SECRET_KEY"]+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := run(t, nil, "check", "--data", dir)
		for _, want := range []string{
			"not there yet; the first start creates it",
			"error  mail relay 127.0.0.1:" + fmt.Sprint(closedPort) + ": cannot connect",
			"warn   base_url http://id.example.jp is not https",
			`warn   phone.sender is "outbox"`,
			"warn   secret_key_file " + key + " is readable by every user of the machine (mode 0644)",
			"warn   console_addr :8090 listens beyond this machine's loopback",
			"warn   hash_queue_wait 45s is not below the portal's 30s to answer a request",
			"1 error, 5 warnings",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("check lacks %q\nstdout: %s", want, r.stdout)
			}
		}
		if r.code != 1 || !strings.Contains(r.stderr, "this node would not serve as configured") {
			t.Errorf("check: exit %d, stderr %q", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "tobira.db")); !os.IsNotExist(err) {
			t.Errorf("check made the database: %v", err)
		}

		// A database a newer binary migrated.
		if r := run(t, nil, "migrate", "--data", dir); r.code != 0 {
			t.Fatalf("migrate: %s", r.stderr)
		}
		db, err := sql.Open("sqlite", filepath.Join(dir, "tobira.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		r = run(t, nil, "check", "--data", dir)
		if r.code != 1 || !strings.Contains(r.stdout, "at schema version 9999, newer than this binary knows") {
			t.Errorf("check of a newer database: exit %d\nstdout: %s", r.code, r.stdout)
		}
	})

	// What serve refuses at start, check refuses before it, on a database
	// not made yet as on one it opens: the sample's smtp_username with
	// the password forgotten in the environment.
	t.Run("mail settings that stop the start", func(t *testing.T) {
		port := relay.Addr().(*net.TCPAddr).Port
		dir := dataDir(t, fmt.Sprintf(`, "mail": {"sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": %d, "smtp_tls": "none", "smtp_username": "tobira@example.jp", "from": "no-reply@example.jp"}`, port))
		env := keyEnv()
		for _, when := range []string{"before the first start", "on a database at this binary's schema"} {
			r := run(t, env, "check", "--data", dir)
			if r.code != 1 || !strings.Contains(r.stdout, "error  mail: smtp: set both username and password, or neither") ||
				strings.Contains(r.stdout, "opening the database") {
				t.Errorf("check %s: exit %d\nstdout: %s", when, r.code, r.stdout)
			}
			if r := run(t, env, "migrate", "--data", dir); r.code != 0 {
				t.Fatalf("migrate: exit %d, stderr %q", r.code, r.stderr)
			}
		}
		r := run(t, env, "users", "list", "--data", dir)
		if r.code != 1 || !strings.Contains(r.stderr, "tobira: mail: smtp: set both username and password") {
			t.Errorf("users list: exit %d, stderr %q; want the message CONFIG.md quotes", r.code, r.stderr)
		}
	})

	// A listen address serve could not listen on: check says so, as
	// serve would only when it tried.
	t.Run("a listen address without a port", func(t *testing.T) {
		dir := dataDir(t, `, "addr": "id.example.jp", "console_addr": "127.0.0.1:99999"`)
		r := run(t, keyEnv(), "check", "--data", dir)
		// Every problem on a line of its own, marked as an error.
		if r.code != 1 || !strings.Contains(r.stdout, "error  configuration: addr \"id.example.jp\": want HOST:PORT") ||
			!strings.Contains(r.stdout, "\nerror  configuration: console_addr \"127.0.0.1:99999\": port") {
			t.Errorf("check: exit %d\nstdout: %s", r.code, r.stdout)
		}
	})

	if r := run(t, nil, "check", "extra"); r.code != 2 {
		t.Errorf("check extra: exit %d", r.code)
	}
}
