package sqlstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
)

func TestBulkSQLite(t *testing.T) {
	testBulk(t, openTemp(t, filepath.Join(t.TempDir(), "tobira.db")))
}

func TestBulkPostgres(t *testing.T) {
	db, err := OpenPostgres(testkit.Postgres(t), Pool{})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	testBulk(t, db)
}

// testBulk loads more rows than a batch, in a count that ends in a partial
// INSERT, and reads them back as the portal does.
func testBulk(t *testing.T, db *DB) {
	ctx := t.Context()
	n := bulkBatch + 2*bulkRows + 7
	accounts := make([]store.Account, n)
	for i := range accounts {
		accounts[i] = store.Account{ID: fmt.Sprintf("acct-%06d", i), Email: fmt.Sprintf("bulk-%06d@example.jp", i),
			Name: "一括", PasswordHash: "$argon2id$hash", CreatedAt: t0}
	}
	accounts[n-1].MFAFailures, accounts[n-1].MFALockedUntil = 2, t0.Add(60e9)
	if err := db.BulkCreateAccounts(ctx, accounts); err != nil {
		t.Fatal(err)
	}
	var count int
	if err := db.c().queryRow(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&count); err != nil || count != n {
		t.Fatalf("%d accounts stored (%v), want %d", count, err, n)
	}
	for _, i := range []int{0, bulkRows - 1, bulkRows, bulkBatch, n - 1} {
		a, err := db.AccountByEmail(ctx, accounts[i].Email)
		if err != nil {
			t.Fatalf("account %d: %v", i, err)
		}
		if *a != accounts[i] {
			t.Errorf("account %d reads back as %+v, want %+v", i, *a, accounts[i])
		}
	}

	factors := []store.Factor{
		{ID: "f-1", AccountID: accounts[1].ID, Kind: store.FactorTOTP, Secret: "sealed", LastStep: -1, CreatedAt: t0},
		{ID: "f-2", AccountID: accounts[n-1].ID, Kind: store.FactorPhone, Secret: "+819012345678", Channel: "sms", CreatedAt: t0},
	}
	if err := db.BulkAddFactors(ctx, factors); err != nil {
		t.Fatal(err)
	}
	for _, f := range factors {
		got, err := db.FactorsOf(ctx, f.AccountID)
		if err != nil || len(got) != 1 || got[0] != f {
			t.Errorf("factors of %s: %+v (%v), want %+v", f.AccountID, got, err, f)
		}
	}

	// A taken address fails the batch it is in, as ErrConflict.
	err := db.BulkCreateAccounts(ctx, []store.Account{
		{ID: "new-1", Email: "new-1@example.jp", CreatedAt: t0},
		{ID: "new-2", Email: accounts[5].Email, CreatedAt: t0},
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("taken email: %v, want ErrConflict", err)
	}
	if _, err := db.AccountByEmail(ctx, "new-1@example.jp"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed batch left a row: %v", err)
	}
	err = db.BulkAddFactors(ctx, []store.Factor{{ID: "f-3", AccountID: "nobody", Kind: store.FactorTOTP, Secret: "x", CreatedAt: t0}})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("factor of an unknown account: %v, want ErrNotFound", err)
	}
	if err := db.BulkCreateAccounts(ctx, nil); err != nil {
		t.Errorf("no accounts: %v", err)
	}

	// Audit events, more than one INSERT's worth, read back newest first.
	events := make([]store.AuditEvent, bulkRows+3)
	for i := range events {
		events[i] = store.AuditEvent{At: t0.Add(time.Duration(i) * time.Second), AccountID: accounts[i%2].ID, Actor: "customer",
			Action: "signin", Outcome: "ok", ClientIP: "127.0.0.1", UserAgent: "tobira-loadgen/1", Detail: fmt.Sprint(i)}
	}
	if err := db.BulkAppendAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	got, err := db.AuditOf(ctx, accounts[0].ID, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("audit of account 0: %d events (%v), want 2", len(got), err)
	}
	last := events[len(events)-1]
	if len(events)%2 == 0 {
		last = events[len(events)-2]
	}
	got[0].ID = 0
	if got[0] != last || got[1].At != last.At.Add(-2*time.Second) {
		t.Errorf("audit of account 0 reads back as %+v, want %+v first", got, last)
	}
}
