package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestPostgresAuditAppendOnly is TestAuditAppendOnly on PostgreSQL.
func TestPostgresAuditAppendOnly(t *testing.T) {
	db, err := OpenPostgres(testkit.Postgres(t), Pool{})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	defer db.Close()
	auditAppendOnly(t, db)
}

// TestPostgresCountersCommitLazily: the limits' pool commits without
// waiting for PostgreSQL's log to be flushed; the other connections do as
// the server is configured.
func TestPostgresCountersCommitLazily(t *testing.T) {
	url := testkit.Postgres(t)
	db, err := OpenPostgres(url, Pool{})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	defer db.Close()
	plain, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	setting := func(pool *sql.DB) string {
		t.Helper()
		var v string
		if err := pool.QueryRowContext(t.Context(), "SHOW synchronous_commit").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := setting(db.countersDB.sql); got != "off" {
		t.Errorf("the counters' pool: synchronous_commit %s, want off", got)
	}
	if got, want := setting(db.sql), setting(plain); got != want {
		t.Errorf("the pool: synchronous_commit %s, want the server's %s", got, want)
	}
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

// TestPostgresSessionEnded: PostgreSQL ends the sessions of every pooled
// connection (a restart, a fail-over); the next reads, writes and
// transactions run on fresh connections without an error.
func TestPostgresSessionEnded(t *testing.T) {
	ctx := t.Context()
	url := testkit.Postgres(t)
	db, err := OpenPostgres(url+"&application_name=tobira-session-ended", Pool{MaxOpen: 2, MaxIdle: 2, MaxLifetime: time.Hour, MaxIdleTime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	// A unit of work, whose limits count on a pool of their own: both
	// pools then hold connections for PostgreSQL to end.
	unit := func(ctx context.Context, tx store.Store) error {
		if _, err := tx.Hit(ctx, "k", time.Hour, t0, 1); err != nil {
			return err
		}
		_, err := tx.ChargeMFAAttempt(ctx, "acc-1", t0, func(int) time.Time { return time.Time{} })
		return err
	}
	if err := db.Atomically(ctx, unit); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var ended int
	if err := admin.QueryRow(`SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'tobira-session-ended') AS t`).Scan(&ended); err != nil || ended == 0 {
		t.Fatalf("ended %d sessions: %v", ended, err)
	}
	// A unit first: its BEGIN is the first statement on an ended session.
	if err := db.Atomically(ctx, unit); err != nil {
		t.Errorf("unit after the sessions ended: %v", err)
	}
	if _, err := db.AccountByID(ctx, "acc-1"); err != nil {
		t.Errorf("read after the sessions ended: %v", err)
	}
	if _, err := db.Hit(ctx, "k", time.Hour, t0, 1); err != nil {
		t.Errorf("write after the sessions ended: %v", err)
	}
	if _, err := db.ChargeMFAAttempt(ctx, "acc-1", t0, func(int) time.Time { return time.Time{} }); err != nil {
		t.Errorf("transaction after the sessions ended: %v", err)
	}
}

// TestPostgresAppliedSchema: 0 before the first start, the newest version
// after it, and nothing migrated by asking.
func TestPostgresAppliedSchema(t *testing.T) {
	ctx := t.Context()
	url := testkit.Postgres(t)
	for range 2 {
		if v, err := AppliedSchema(ctx, "", url); err != nil || v != 0 {
			t.Fatalf("a new schema: %d, %v; want 0", v, err)
		}
	}
	db, err := OpenPostgres(url, Pool{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	want, _ := SchemaVersion()
	if v, err := AppliedSchema(ctx, "", url); err != nil || v != want {
		t.Errorf("after opening: %d, %v; want %d", v, err, want)
	}
}

// TestPostgresStats: the figures /metrics shows, the two pools with their
// limits and a unit run again after losing a race: two units read the
// same account, then both change it; the second to write loses.
func TestPostgresStats(t *testing.T) {
	db, err := OpenPostgres(testkit.Postgres(t), Pool{MaxOpen: 8, MaxIdle: 8})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	defer db.Close()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	if err := db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Retried != 0 || st.Writer != nil {
		t.Fatalf("before any race: %+v", st)
	}

	var read sync.WaitGroup
	read.Add(2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			first := true
			err := db.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
				if _, err := tx.AccountByID(ctx, "acc-1"); err != nil {
					return err
				}
				if first { // both have read before either writes
					first = false
					read.Done()
					read.Wait()
				}
				return tx.SetPasswordHash(ctx, "acc-1", fmt.Sprint("hash-", i))
			})
			if err != nil {
				t.Errorf("unit %d: %v", i, err)
			}
			if first {
				read.Done() // failed before it read: the other goes on alone
			}
		})
	}
	wg.Wait()

	st := db.Stats()
	if st.Retried < 1 {
		t.Errorf("retried %d after two units raced on one row, want at least 1", st.Retried)
	}
	want := map[string]int{"main": 8, "limits": 2}
	if len(st.Pools) != len(want) {
		t.Fatalf("pools %+v, want %v", st.Pools, want)
	}
	for _, p := range st.Pools {
		if p.Max != want[p.Name] || p.InUse != 0 {
			t.Errorf("pool %+v, want %s at most %d and none in use", p, p.Name, want[p.Name])
		}
	}
}

// TestPostgresAuditByOperatorUsesIndex is TestAuditByOperatorUsesIndex on
// PostgreSQL, where the partial index is usable only when the query
// repeats its condition.
func TestPostgresAuditByOperatorUsesIndex(t *testing.T) {
	// The table is empty: only with scans priced out does the plan show
	// whether the index may be used at all.
	plan := postgresPlans(t, []string{"enable_seqscan"})
	q, args := listAuditQuery(store.AuditFilter{Actor: "operator:kim@tobira.example", Before: store.AuditCursor{At: time.Now(), ID: 7}, Limit: 201})
	if p := plan(q, args...); !strings.Contains(p, "audit_events_operator") {
		t.Errorf("%s\n  plan:\n%s", q, p)
	}
}

// postgresPlans opens a fresh PostgreSQL store and returns what gives the
// plan (EXPLAIN) of a query there, in a transaction whose planner settings
// named in off are off.
func postgresPlans(t *testing.T, off []string) func(q string, args ...any) string {
	t.Helper()
	db, err := OpenPostgres(testkit.Postgres(t), Pool{})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := t.Context()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	for _, setting := range off {
		if _, err := tx.ExecContext(ctx, `SET LOCAL `+setting+` = off`); err != nil {
			t.Fatal(err)
		}
	}
	return func(q string, args ...any) string {
		t.Helper()
		rows, err := tx.QueryContext(ctx, "EXPLAIN "+numberPlaceholders(q), args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		return strings.Join(plan, "\n")
	}
}

// TestPostgresSitesPagesUseIndexes is TestSitesPagesUseIndexes on
// PostgreSQL: a page of a customer's list is read on the (account_id,
// date, number) index, with no sort.
func TestPostgresSitesPagesUseIndexes(t *testing.T) {
	// The tables are empty: only with scans and sorts priced out does the
	// plan show whether the index may give the page in order at all.
	plan := postgresPlans(t, []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"})
	for q, index := range map[string]string{
		applicationsPageQuery: "applications_account_page",
		contractsPageQuery:    "contracts_account_page",
		invoicesPageQuery:     "invoices_account_page",
	} {
		if p := plan(q, "acc-1", 20, 40); !strings.Contains(p, index) || strings.Contains(p, "Sort") {
			t.Errorf("%s\n  plan:\n%s", q, p)
		}
	}
}
