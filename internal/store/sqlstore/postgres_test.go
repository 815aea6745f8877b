package sqlstore

import (
	"sync"
	"testing"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/storetest"
	"github.com/tobira/tobira/internal/testkit"
)

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := OpenPostgres(testkit.Postgres(t), Pool{})
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestNumberPlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                        "SELECT 1",
		"a = ? AND b IN (?, ?)":           "a = $1 AND b IN ($2, $3)",
		"UPDATE t SET x = ? WHERE id = ?": "UPDATE t SET x = $1 WHERE id = $2",
		"? ? ? ? ? ? ? ? ? ?":             "$1 $2 $3 $4 $5 $6 $7 $8 $9 $10",
	} {
		if got := numberPlaceholders(in); got != want {
			t.Errorf("numberPlaceholders(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPostgresNodesMigrateAtOnce is several nodes starting together on a new
// database: each migration is applied once, and every node comes up.
func TestPostgresNodesMigrateAtOnce(t *testing.T) {
	url := testkit.Postgres(t)
	dbs := make([]*DB, 4)
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = OpenPostgres(url, Pool{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	want, err := postgresDialect.loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := dbs[0].sql.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("%d migrations recorded, want %d", n, len(want))
	}
}
