package testkit

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// DefaultPostgres is the machine's PostgreSQL service, as on CI.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Postgres returns the URL of an empty schema of its own in the test
// PostgreSQL server ($TOBIRA_TEST_POSTGRES, else DefaultPostgres), dropped
// when the test ends. Without a server the test skips, but in the full
// suite (and always on CI) it fails instead.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TOBIRA_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.PingContext(t.Context())
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		if FullSuite() {
			t.Fatalf("PostgreSQL at %s: %v", base, err)
		}
		t.Skipf("no PostgreSQL at %s (%v); set TOBIRA_TEST_POSTGRES", base, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "tobira_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// A background context: the test's own is done by now.
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TOBIRA_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
