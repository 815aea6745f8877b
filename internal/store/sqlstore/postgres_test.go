package sqlstore

import (
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
