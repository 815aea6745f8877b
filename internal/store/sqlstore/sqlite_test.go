package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func openTemp(t testing.TB, path string) *DB {
	t.Helper()
	db, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("OpenSQLite(%s): %v", path, err)
	}
	return db
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	})
}

// TestTwoOpeners is a server and an operator's CLI command on one file: both
// open it, and each sees what the other wrote.
func TestTwoOpeners(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tobira.db")
	server := openTemp(t, path)
	defer server.Close()
	cli := openTemp(t, path)
	defer cli.Close()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(server.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	must(server.SetRecoveryCode(ctx, "acc-1", "code", t0))
	must(server.CreateSession(ctx, &store.Session{IDHash: "s-1", AccountID: "acc-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))

	a, err := cli.AccountByEmail(ctx, "a@example.com")
	must(err)
	if a.ID != "acc-1" {
		t.Fatalf("CLI read account %+v", a)
	}
	must(cli.ResetMFA(ctx, "acc-1", "", &store.AuditEvent{At: t0, AccountID: "acc-1", Actor: "operator:kim", Action: "mfa.reset", Outcome: "ok"}))

	if ok, err := server.HasRecoveryCode(ctx, "acc-1"); err != nil || ok {
		t.Errorf("server sees recovery code after the CLI's reset: %v, %v", ok, err)
	}
	if _, err := server.SessionByHash(ctx, "s-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("server sees session after the CLI's reset: %v", err)
	}
	evs, err := server.AuditOf(ctx, "acc-1", 10)
	must(err)
	if len(evs) != 1 || evs[0].Action != "mfa.reset" {
		t.Errorf("server sees audit %+v, want the CLI's reset", evs)
	}

	// Both write at once: the busy timeout makes one wait for the other.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, db := range []*DB{server, cli} {
		wg.Go(func() {
			for range 20 {
				if _, err := db.Hit(ctx, "k", time.Minute, t0, 1); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(err)
	}
	if n, err := cli.Hit(ctx, "k", time.Minute, t0, 0); err != nil || n != 40 {
		t.Errorf("after 40 hits from two openers: %d, %v", n, err)
	}
}

// TestMigrations checks that reopening applies nothing twice and that
// openers racing on a new file all succeed and record each migration once.
func TestMigrations(t *testing.T) {
	ctx := t.Context()
	ms, err := sqliteDialect.loadMigrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("loadMigrations: %v, %d files", err, len(ms))
	}
	countApplied := func(db *DB) int {
		t.Helper()
		var n int
		if err := db.c().queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("Reopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tobira.db")
		db := openTemp(t, path)
		if err := db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		for range 2 {
			db = openTemp(t, path)
			if n := countApplied(db); n != len(ms) {
				t.Errorf("%d migrations recorded, want %d", n, len(ms))
			}
			// Running them again in place is a no-op too.
			if err := db.migrate(ctx); err != nil {
				t.Errorf("migrate again: %v", err)
			}
			if _, err := db.AccountByID(ctx, "acc-1"); err != nil {
				t.Errorf("data lost on reopen: %v", err)
			}
			db.Close()
		}
	})

	t.Run("RacingOpeners", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tobira.db")
		dbs := make([]*DB, 4)
		errs := make([]error, len(dbs))
		var wg sync.WaitGroup
		for i := range dbs {
			wg.Go(func() { dbs[i], errs[i] = OpenSQLite(path) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("opener %d: %v", i, err)
			}
			defer dbs[i].Close()
		}
		if n := countApplied(dbs[0]); n != len(ms) {
			t.Errorf("%d migrations recorded, want %d", n, len(ms))
		}
	})

	t.Run("NewerDatabase", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tobira.db")
		db := openTemp(t, path)
		if _, err := db.c().exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future.sql', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if db, err := OpenSQLite(path); err == nil {
			db.Close()
			t.Error("OpenSQLite accepted a database newer than its migrations")
		}
	})
}

// sqliteMigration is the SQLite migration of that file name.
func sqliteMigration(t *testing.T, name string) migration {
	t.Helper()
	ms, err := sqliteDialect.loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return m.name == name })
	if i < 0 {
		t.Fatal("no migration " + name)
	}
	return ms[i]
}

// beforeMigration opens a new database with every migration, then takes the
// named one back off: the undo statements make its tables what they were
// before it, and its version is forgotten, so that the next open of path
// applies it again, as to a database of an older release.
func beforeMigration(t *testing.T, name string, undo ...string) (db *DB, path string) {
	t.Helper()
	m := sqliteMigration(t, name)
	path = filepath.Join(t.TempDir(), "tobira.db")
	db = openTemp(t, path)
	for _, q := range undo {
		if _, err := db.c().exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.c().exec(t.Context(), `DELETE FROM schema_migrations WHERE version = ?`, m.version); err != nil {
		t.Fatal(err)
	}
	return db, path
}

// TestUpgradeToPhone opens, with this program, a database a release before
// phone codes left: its factors read back with no channel, and the new
// tables work.
func TestUpgradeToPhone(t *testing.T) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The old schema, as the old program left it, with an enrolled phone.
	// Later migrations of phone_codes are taken back too: a release before
	// 0003 had none of them.
	db, path := beforeMigration(t, "0003_phone.sql",
		`DROP TABLE outbox`, `DROP TABLE phone_codes`, `ALTER TABLE factors DROP COLUMN channel`,
		`DELETE FROM schema_migrations WHERE name = '0025_phone_codes_previous.sql'`,
		`DELETE FROM schema_migrations WHERE name = '0032_phone_codes_chosen.sql'`)
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	_, err := db.c().exec(ctx, `INSERT INTO factors (id, account_id, kind, secret, last_step, created_at)
		VALUES ('f-1', 'acc-1', 'phone', '+41790000000', 0, ?)`, t0.UnixMilli())
	must(err)
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	fs, err := db.FactorsOf(ctx, "acc-1")
	must(err)
	if len(fs) != 1 || fs[0].Secret != "+41790000000" || fs[0].Channel != "" {
		t.Errorf("factors after the upgrade: %+v, want the phone with no channel", fs)
	}
	must(db.PutPhoneCode(ctx, &store.PhoneCode{FlowHash: "fl-1", AccountID: "acc-1", Phone: "+41790000000",
		Channel: "sms", CodeHash: "h", SentAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	must(db.AppendOutbox(ctx, &store.OutboxMessage{At: t0, To: "+41790000000", Channel: "sms", Body: "b"}))
}

// TestUpgradeToAccountLang opens, with this program, a database from
// before accounts had a language: every account reads back Japanese, and a
// language can be set.
func TestUpgradeToAccountLang(t *testing.T) {
	ctx := t.Context()
	db, path := beforeMigration(t, "0023_account_lang.sql", `ALTER TABLE accounts DROP COLUMN lang`)
	if _, err := db.c().exec(ctx, `INSERT INTO accounts (id, email, name, password_hash, created_at)
		VALUES ('acc-1', 'a@example.com', '', '', ?)`, t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	a, err := db.AccountByID(ctx, "acc-1")
	if err != nil || a.Lang != store.DefaultLang {
		t.Fatalf("account after the upgrade: %+v, %v, want Lang %q", a, err, store.DefaultLang)
	}
	if err := db.SetAccountLang(ctx, "acc-1", "en"); err != nil {
		t.Fatal(err)
	}
	if a, err := db.AccountByID(ctx, "acc-1"); err != nil || a.Lang != "en" {
		t.Errorf("account after SetAccountLang: %+v, %v", a, err)
	}
}

// TestUpgradeToSessionsWithoutRowid opens, with this program, a database
// whose sessions and flows are rowid tables, as releases before 0015 made
// them: nobody is signed out, no sign-in in progress is lost, and both are
// WITHOUT ROWID tables afterwards, with every index.
func TestUpgradeToSessionsWithoutRowid(t *testing.T) {
	ctx := t.Context()
	const name = "0015_sessions_flows_without_rowid.sql"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The old tables: the same script, without WITHOUT ROWID.
	db, path := beforeMigration(t, name, strings.ReplaceAll(sqliteMigration(t, name).sql, ") WITHOUT ROWID;", ");"))
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	sess := &store.Session{IDHash: "s-1", AccountID: "acc-1", CreatedAt: t0, MFAAt: t0, ExpiresAt: t0.Add(time.Hour),
		ClientIP: "192.0.2.1", UserAgent: "ua", AMR: []string{"pwd", "otp"}, SID: "sid-1"}
	must(db.CreateSession(ctx, sess))
	flow := &store.Flow{IDHash: "f-1", AccountID: "acc-1", State: "mfa", Data: "sealed", ReturnTo: "/security",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(db.CreateFlow(ctx, flow))
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	gotSess, err := db.SessionByHash(ctx, "s-1")
	must(err)
	if !reflect.DeepEqual(gotSess, sess) {
		t.Errorf("session after the upgrade:\n got %+v\nwant %+v", gotSess, sess)
	}
	gotFlow, err := db.FlowByHash(ctx, "f-1", t0)
	must(err)
	if !reflect.DeepEqual(gotFlow, flow) {
		t.Errorf("flow after the upgrade:\n got %+v\nwant %+v", gotFlow, flow)
	}
	for _, table := range []string{"sessions", "flows"} {
		var ddl string
		must(db.c().queryRow(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&ddl))
		if !strings.HasSuffix(ddl, "WITHOUT ROWID") {
			t.Errorf("%s after the upgrade: %s", table, ddl)
		}
	}
	var indexes []string
	rows, err := db.c().query(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('sessions', 'flows') ORDER BY name`)
	must(err)
	for rows.Next() {
		var n string
		must(rows.Scan(&n))
		indexes = append(indexes, n)
	}
	must(rows.Err())
	if want := []string{"flows_account", "flows_expires", "sessions_account", "sessions_expires", "sessions_sid"}; !slices.Equal(indexes, want) {
		t.Errorf("indexes after the upgrade: %v, want %v", indexes, want)
	}
}

// TestUpgradeToLimitsWindowEnd opens a database whose counters never
// recorded when their window ends: each gets thirty days from its start, so
// the sweep drops the ones long over and keeps the rest counting.
func TestUpgradeToLimitsWindowEnd(t *testing.T) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	db, path := beforeMigration(t, "0016_limits_window_end.sql", `ALTER TABLE limits DROP COLUMN window_end`)
	old, recent := t0.Add(-40*24*time.Hour), t0.Add(-time.Hour)
	_, err := db.c().exec(ctx, `INSERT INTO limits (key, window_start, count) VALUES ('old', ?, 5), ('recent', ?, 3)`,
		ms(old), ms(recent))
	must(err)
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	for key, start := range map[string]time.Time{"old": old, "recent": recent} {
		var end int64
		must(db.c().queryRow(ctx, `SELECT window_end FROM limits WHERE key = ?`, key).Scan(&end))
		if want := ms(start.Add(30 * 24 * time.Hour)); end != want {
			t.Errorf("%s: window_end %d, want %d", key, end, want)
		}
	}
	n, err := db.DeleteExpiredLimits(ctx, t0)
	must(err)
	if n != 1 {
		t.Errorf("DeleteExpiredLimits after the upgrade = %d, want 1 (the counter forty days old)", n)
	}
	if got, err := db.Hit(ctx, "recent", time.Hour, recent, 0); err != nil || got != 3 {
		t.Errorf("the recent counter after the sweep: %d, %v; want 3", got, err)
	}
}

// TestPhoneCodesFollowAccount checks the foreign key the interface cannot
// reach: deleting an account (only ever done by hand) takes its codes along.
func TestPhoneCodesFollowAccount(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	for _, id := range []string{"acc-1", "acc-2"} {
		if err := db.CreateAccount(ctx, &store.Account{ID: id, Email: id + "@example.com", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := db.PutPhoneCode(ctx, &store.PhoneCode{FlowHash: "fl-" + id, AccountID: id, Phone: "+41790000000",
			Channel: "sms", CodeHash: "h", SentAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.c().exec(ctx, `DELETE FROM accounts WHERE id = 'acc-1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PhoneCodeOf(ctx, "fl-acc-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted account's phone code: %v, want ErrNotFound", err)
	}
	if _, err := db.PhoneCodeOf(ctx, "fl-acc-2"); err != nil {
		t.Errorf("other account's phone code: %v", err)
	}
}

// TestAuditAppendOnly checks the database itself refuses to rewrite the log.
func TestAuditAppendOnly(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	auditAppendOnly(t, db)
}

// auditAppendOnly: no event changes, and none younger than 90 days goes,
// whatever statement the application sends; an older one may go.
func auditAppendOnly(t *testing.T, db *DB) {
	ctx := t.Context()
	// The database compares with its own clock: times from now.
	young := &store.AuditEvent{At: time.Now().Add(-store.AuditMinRetention + time.Hour), Actor: "system", Action: "x", Outcome: "ok"}
	old := &store.AuditEvent{At: time.Now().Add(-store.AuditMinRetention - time.Hour), Actor: "system", Action: "x", Outcome: "ok"}
	for _, ev := range []*store.AuditEvent{young, old} {
		if err := db.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`UPDATE audit_events SET outcome = 'fail' WHERE id = ?`,
		`DELETE FROM audit_events WHERE id = ?`,
	} {
		if _, err := db.c().exec(ctx, q, young.ID); err == nil {
			t.Errorf("%s of an event younger than 90 days: allowed", q)
		}
	}
	if _, err := db.c().exec(ctx, `UPDATE audit_events SET outcome = 'fail' WHERE id = ?`, old.ID); err == nil {
		t.Error("UPDATE of an event older than 90 days: allowed")
	}
	if n, err := db.c().affected(ctx, `DELETE FROM audit_events WHERE id = ?`, old.ID); err != nil || n != 1 {
		t.Errorf("DELETE of an event older than 90 days: %d, %v", n, err)
	}
}

// TestPathNeedsEscaping opens a file whose name would break a naive URI.
func TestPathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "tobira 1.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db := openTemp(t, path)
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at %q: %v", path, err)
	}
}

// TestOtherProcess runs writers in child processes (this test binary again)
// beside one in this process, as a server and CLI commands would be.
func TestOtherProcess(t *testing.T) {
	if path := os.Getenv("SQLSTORE_CHILD_DB"); path != "" {
		db := openTemp(t, path)
		defer db.Close()
		for range 50 {
			if _, err := db.Hit(t.Context(), "k", time.Minute, t0, 1); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	path := filepath.Join(t.TempDir(), "tobira.db")
	server := openTemp(t, path)
	defer server.Close()

	var cmds []*exec.Cmd
	outs := make([]bytes.Buffer, 2)
	for i := range outs {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestOtherProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SQLSTORE_CHILD_DB="+path)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for range 50 {
		if _, err := server.Hit(t.Context(), "k", time.Minute, t0, 1); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child process: %v\n%s", err, outs[i].String())
		}
	}
	if n, err := server.Hit(t.Context(), "k", time.Minute, t0, 0); err != nil || n != 150 {
		t.Errorf("after 150 hits from three processes: %d, %v", n, err)
	}
}

// TestSQLiteCrowdOfWriters is 256 customers writing at once, each in a
// transaction and in single statements: every write waits its turn, none
// fails with "database is locked", and every count is exact.
func TestSQLiteCrowdOfWriters(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	if err := db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	const crowd, each = 256, 8
	var wg sync.WaitGroup
	errs := make(chan error, crowd*each)
	for i := range crowd {
		wg.Go(func() {
			for j := range each {
				if _, err := db.Hit(ctx, "crowd", time.Hour, t0, 1); err != nil {
					errs <- err
				}
				s := &store.Session{IDHash: fmt.Sprintf("s-%d-%d", i, j), AccountID: "acc-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
				if err := db.CreateSession(ctx, s); err != nil {
					errs <- err
				}
				if _, err := db.ChargeMFAAttempt(ctx, "acc-1", t0, func(int) time.Time { return time.Time{} }); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a write failed in the crowd: %v", err)
	}
	if n, err := db.Hit(ctx, "crowd", time.Hour, t0, 0); err != nil || n != crowd*each {
		t.Fatalf("count = %d, %v; want %d", n, err, crowd*each)
	}
	a, err := db.AccountByID(ctx, "acc-1")
	if err != nil || a.MFAFailures != crowd*each {
		t.Fatalf("MFA failures = %+v, %v; want %d", a, err, crowd*each)
	}
}

// TestSchemaVersion: both engines' migrations end at the same version, the
// one SchemaVersion reports (what `tobira version` tells operators), and a
// database is left there by opening it.
func TestSchemaVersion(t *testing.T) {
	lite, err := sqliteDialect.loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := postgresDialect.loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	v, err := SchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v == 0 || v != newestVersion(lite) || v != newestVersion(pg) {
		t.Fatalf("SchemaVersion = %d; SQLite's migrations end at %d, PostgreSQL's at %d", v, newestVersion(lite), newestVersion(pg))
	}
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	var applied int
	if err := db.c().queryRow(t.Context(), `SELECT MAX(version) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != v {
		t.Errorf("a new database is at schema %d, want %d", applied, v)
	}
}

// TestAppliedSchema reads a database's version without creating or
// migrating it.
func TestAppliedSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tobira.db")
	if v, err := AppliedSchema(ctx, path, ""); !errors.Is(err, ErrNoDatabase) || v != 0 {
		t.Errorf("a missing file: %d, %v; want ErrNoDatabase", v, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("AppliedSchema made the file: %v", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := AppliedSchema(ctx, path, ""); err != nil || v != 0 {
		t.Errorf("an empty file: %d, %v; want 0", v, err)
	}
	db := openTemp(t, path)
	db.Close()
	want, _ := SchemaVersion()
	if v, err := AppliedSchema(ctx, path, ""); err != nil || v != want {
		t.Errorf("after opening: %d, %v; want %d", v, err, want)
	}
}

// TestUpgradeToWithdrawnResetRequests opens, with this program, a database
// whose reset requests allow no withdrawal, as releases before 0024 made
// them: the open and decided requests are all there afterwards, and the
// open one can be withdrawn.
func TestUpgradeToWithdrawnResetRequests(t *testing.T) {
	ctx := t.Context()
	const name = "0024_reset_requests_withdrawn.sql"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The old table: the same script, without the new decision.
	db, path := beforeMigration(t, name, strings.ReplaceAll(sqliteMigration(t, name).sql, ", 'withdrawn'", ""))
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-2", Email: "b@example.com", CreatedAt: t0}))
	must(db.CreateResetRequest(ctx, &store.ResetRequest{ID: "rr1", AccountID: "acc-1", Reason: "lost phone",
		RequestedBy: "operator:a", RequestedAt: t0}))
	must(db.CreateResetRequest(ctx, &store.ResetRequest{ID: "rr2", AccountID: "acc-2", Reason: "new phone",
		RequestedBy: "operator:a", RequestedAt: t0}))
	_, err := db.DecideResetRequest(ctx, "rr2", "operator:b", store.ResetRejected, t0.Add(time.Minute))
	must(err)
	if _, err := db.DecideResetRequest(ctx, "rr1", "operator:a", store.ResetWithdrawn, t0.Add(time.Minute)); err == nil {
		t.Fatal("the old table took a withdrawal: the test's old schema is not the old one")
	}
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	open, err := db.OpenResetRequest(ctx, "acc-1")
	must(err)
	if open.ID != "rr1" || open.Reason != "lost phone" || !open.RequestedAt.Equal(t0) {
		t.Errorf("open request after the upgrade: %+v", open)
	}
	if _, err := db.OpenResetRequest(ctx, "acc-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the rejected request is open again after the upgrade: %v", err)
	}
	w, err := db.DecideResetRequest(ctx, "rr1", "operator:a", store.ResetWithdrawn, t0.Add(2*time.Minute))
	must(err)
	if w.Decision != store.ResetWithdrawn {
		t.Errorf("withdrawn = %+v", w)
	}
	// The indexes came back: still one open request per account.
	must(db.CreateResetRequest(ctx, &store.ResetRequest{ID: "rr3", AccountID: "acc-1", Reason: "again",
		RequestedBy: "operator:a", RequestedAt: t0}))
	err = db.CreateResetRequest(ctx, &store.ResetRequest{ID: "rr4", AccountID: "acc-1", Reason: "twice",
		RequestedBy: "operator:b", RequestedAt: t0})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second open request after the upgrade: %v, want ErrConflict", err)
	}
}

// TestAuditByOperatorUsesIndex: the console's audit log of one operator,
// a page at a time, reads audit_events_operator in order, however many
// customers' events the log holds: no scan, no sort.
func TestAuditByOperatorUsesIndex(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	for _, f := range []store.AuditFilter{
		{Actor: "operator:kim@tobira.example", Limit: 201},
		{Actor: "operator:kim@tobira.example", Before: store.AuditCursor{At: time.Now(), ID: 7}, Limit: 201},
		{Actor: "operator:kim@tobira.example", After: store.AuditCursor{At: time.Now(), ID: 7}, Limit: 201},
	} {
		q, _ := listAuditQuery(f)
		plan, err := db.QueryPlan(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, "audit_events_operator") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\n  plan: %s", q, p)
		}
	}
}

// TestSessionsOfUseIndex: the security page's list of an account's
// sessions reads sessions_account in the list's order, and ending one of
// them by its sid finds it there: no scan, no sort.
func TestSessionsOfUseIndex(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	for _, q := range []string{sessionsOfQuery + ` LIMIT ?`, deleteSessionBySID} {
		plan, err := db.QueryPlan(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX sessions_account") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\n  plan: %s", q, p)
		}
	}
}

// TestUpgradeToSessionsAccountNewestFirst opens a database from before
// 0029, with signed-in customers: their sessions stay, are listed newest
// first, and sessions_account is (account_id, created_at) after it.
func TestUpgradeToSessionsAccountNewestFirst(t *testing.T) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	db, path := beforeMigration(t, "0029_sessions_account_newest_first.sql",
		`DROP INDEX sessions_account`, `CREATE INDEX sessions_account ON sessions (account_id)`)
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	for i, sid := range []string{"sid-old", "sid-new", "sid-mid"} {
		at := t0.Add([]time.Duration{0, 2 * time.Hour, time.Hour}[i])
		must(db.CreateSession(ctx, &store.Session{IDHash: "s-" + sid, AccountID: "acc-1", CreatedAt: at, MFAAt: at,
			ExpiresAt: at.Add(12 * time.Hour), SID: sid}))
	}
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	list, err := db.SessionsOf(ctx, "acc-1", t0.Add(3*time.Hour), 0)
	must(err)
	var sids []string
	for _, s := range list {
		sids = append(sids, s.SID)
	}
	if want := []string{"sid-new", "sid-mid", "sid-old"}; !slices.Equal(sids, want) {
		t.Errorf("sessions after the upgrade: %v, want %v", sids, want)
	}
	var cols []string
	rows, err := db.c().query(ctx, `SELECT name FROM pragma_index_info('sessions_account') ORDER BY seqno`)
	must(err)
	for rows.Next() {
		var n string
		must(rows.Scan(&n))
		cols = append(cols, n)
	}
	must(rows.Err())
	if want := []string{"account_id", "created_at"}; !slices.Equal(cols, want) {
		t.Errorf("sessions_account after the upgrade: %v, want %v", cols, want)
	}
}

// TestGrantsOfEndedSessionsUseIndex: the sweep reads only the grants whose
// site may yet have to be told, in their order, through
// oidc_grants_session_open, from just after the last of its previous batch,
// and finds each one's session by sessions_account: no scan of every grant,
// no sort, no read from the start at every batch.
func TestGrantsOfEndedSessionsUseIndex(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	plan, err := db.QueryPlan(t.Context(), grantsOfEndedSessionsQuery)
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "oidc_grants_session_open ((created_at,id)>(?,?))") ||
		!strings.Contains(p, "sessions_account") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("%s\n  plan: %s", grantsOfEndedSessionsQuery, p)
	}
}

// TestUpgradeToGrantsSessionEnded opens a database from before 0030: the
// live grants of sessions still stored are told when those end; those of
// sessions gone before the upgrade, whose end is unknown and long past,
// are not told all at once at the first sweep.
func TestUpgradeToGrantsSessionEnded(t *testing.T) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	db, path := beforeMigration(t, "0030_grants_session_ended.sql",
		`DROP INDEX oidc_grants_session_open`, `ALTER TABLE oidc_grants DROP COLUMN session_ended_at`)
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	must(db.CreateClient(ctx, &store.Client{ID: "shop", Name: "shop", RedirectURIs: []string{"https://shop.example/cb"}, CreatedAt: t0}))
	must(db.CreateSession(ctx, &store.Session{IDHash: "h-1", AccountID: "acc-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), SID: "s-1"}))
	for _, g := range []struct{ id, sid string }{{"g-stored", "s-1"}, {"g-gone", "s-0"}} {
		must(db.CreateGrant(ctx, &store.Grant{ID: g.id, ClientID: "shop", AccountID: "acc-1", SessionHash: g.sid, CreatedAt: t0}))
	}
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	got, err := db.GrantsOfEndedSessions(ctx, t0.Add(2*time.Hour), store.GrantKey{}, 10)
	must(err)
	if len(got) != 1 || got[0].ID != "g-stored" {
		t.Errorf("grants of ended sessions after the upgrade: %+v, want g-stored alone", got)
	}
}

// TestUpgradeToPhoneCodesChosen opens a database from before 0032 with a
// code in flight: it reads back with no choice of channel (its enrolment
// then saves the channel of its last code, as the release before did), and
// a new code keeps its choice.
func TestUpgradeToPhoneCodesChosen(t *testing.T) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	db, path := beforeMigration(t, "0032_phone_codes_chosen.sql", `ALTER TABLE phone_codes DROP COLUMN chosen_channel`)
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	_, err := db.c().exec(ctx, `INSERT INTO phone_codes (flow_hash, account_id, phone, channel, code_hash, sent_at, expires_at)
		VALUES ('fl-1', 'acc-1', '+819012345678', 'voice', 'h', ?, ?)`, t0.UnixMilli(), t0.Add(time.Minute).UnixMilli())
	must(err)
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	pc, err := db.PhoneCodeOf(ctx, "fl-1")
	must(err)
	if pc.Channel != "voice" || pc.Chosen != "" || pc.CodeHash != "h" {
		t.Errorf("code in flight after the upgrade: %+v, want voice with no choice", pc)
	}
	must(db.PutPhoneCode(ctx, &store.PhoneCode{FlowHash: "fl-1", AccountID: "acc-1", Phone: "+819012345678",
		Channel: "voice", Chosen: "sms", CodeHash: "h2", SentAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	if pc, err := db.PhoneCodeOf(ctx, "fl-1"); err != nil || pc.Chosen != "sms" {
		t.Errorf("new code after the upgrade: %+v, %v", pc, err)
	}
}

// TestClaimLogoutsUseIndex: the sweep's claim of the logout tokens due
// reads only the grants due one, in their order, through
// oidc_grants_logout_due, and finds each one it claims by its key: no scan
// of every grant, however many customers have signed in, and no sort.
func TestClaimLogoutsUseIndex(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	plan, err := db.QueryPlan(t.Context(), claimLogoutsQuery)
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Join(plan, "; ")
	if !strings.Contains(p, "INDEX oidc_grants_logout_due (logout_tried_at<?)") || !strings.Contains(p, "(id=?)") ||
		strings.Contains(p, "TEMP B-TREE") || strings.Contains(p, "SCAN ") {
		t.Errorf("%s\n  plan: %s", claimLogoutsQuery, p)
	}
}

// TestUpgradeToGrantsLogoutDue opens a database from before 0033 with a
// grant revoked at a sign-out and one live: the revoked one is due no
// logout token (its site was told then, or the notice was lost before
// there was a queue), and a sign-out after the upgrade leaves the live
// one's site due one.
func TestUpgradeToGrantsLogoutDue(t *testing.T) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	db, path := beforeMigration(t, "0033_grants_logout_due.sql",
		`DROP INDEX oidc_grants_logout_due`, `ALTER TABLE oidc_grants DROP COLUMN logout_tried_at`)
	must(db.CreateAccount(ctx, &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: t0}))
	must(db.CreateClient(ctx, &store.Client{ID: "shop", Name: "shop", RedirectURIs: []string{"https://shop.example/cb"},
		BackchannelLogoutURI: "https://shop.example/logout", CreatedAt: t0}))
	for _, g := range []struct {
		id, sid string
		revoked time.Time
	}{{"g-old", "s-0", t0.Add(time.Minute)}, {"g-live", "s-1", time.Time{}}} {
		_, err := db.c().exec(ctx, `INSERT INTO oidc_grants (id, client_id, account_id, session_hash, created_at, revoked_at)
			VALUES (?, 'shop', 'acc-1', ?, ?, ?)`, g.id, g.sid, t0.UnixMilli(), ms(g.revoked))
		must(err)
	}
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	now := t0.Add(time.Hour)
	got, err := db.ClaimLogouts(ctx, now, now, 10)
	must(err)
	if len(got) != 0 {
		t.Errorf("logouts due after the upgrade: %+v, want none", got)
	}
	_, err = db.RevokeGrantsOf(ctx, "", "", "s-1", now)
	must(err)
	got, err = db.ClaimLogouts(ctx, now, now.Add(time.Minute), 10)
	must(err)
	if len(got) != 1 || got[0].ID != "g-live" {
		t.Errorf("logouts due after a sign-out: %+v, want g-live", got)
	}
}

// TestUpgradeToRecoveryProposals opens, with this program, a database from
// before early approvals took two operators: a request waiting reads back
// with no proposal and can be proposed, one approved early by one operator
// stays approved and is not proposed again.
func TestUpgradeToRecoveryProposals(t *testing.T) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	db, path := beforeMigration(t, "0034_recovery_proposals.sql", `ALTER TABLE recovery_requests DROP COLUMN proposed_by`,
		`ALTER TABLE recovery_requests DROP COLUMN proposed_at`, `ALTER TABLE recovery_requests DROP COLUMN proposed_reason`)
	for _, id := range []string{"acc-1", "acc-2"} {
		must(db.CreateAccount(ctx, &store.Account{ID: id, Email: id + "@example.com", CreatedAt: t0}))
	}
	effective := t0.Add(72 * time.Hour)
	for _, r := range []struct{ id, account, approvedBy string }{{"r1", "acc-1", ""}, {"r2", "acc-2", "operator:kim@tobira.example"}} {
		_, err := db.c().exec(ctx, `INSERT INTO recovery_requests (id, account_id, status, confirm_token_hash, confirm_expires_at,
			created_at, confirmed_at, effective_at, approved_by) VALUES (?, ?, 'waiting', ?, ?, ?, ?, ?, ?)`,
			r.id, r.account, "tok-"+r.id, t0.Add(time.Hour).UnixMilli(), t0.UnixMilli(), t0.UnixMilli(), effective.UnixMilli(), r.approvedBy)
		must(err)
	}
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	r1, err := db.PendingRecoveryOf(ctx, "acc-1")
	must(err)
	if r1.Status != store.RecoveryWaiting || r1.Proposed() || r1.ProposedBy != "" || !r1.ProposedAt.IsZero() ||
		r1.ProposedReason != "" || !r1.EffectiveAt.Equal(effective) {
		t.Errorf("waiting request after the upgrade: %+v", r1)
	}
	r2, err := db.PendingRecoveryOf(ctx, "acc-2")
	must(err)
	if r2.ApprovedBy != "operator:kim@tobira.example" || r2.Proposed() {
		t.Errorf("approved request after the upgrade: %+v", r2)
	}
	if _, err := db.ProposeRecoveryApproval(ctx, "r2", "operator:sue@tobira.example", "電話で確認", t0.Add(2*time.Hour)); !errors.Is(err, store.ErrRecoveryApproved) {
		t.Errorf("proposing the request approved before the upgrade: %v", err)
	}
	if r, err := db.ProposeRecoveryApproval(ctx, "r1", "operator:sue@tobira.example", "電話で確認", t0.Add(2*time.Hour)); err != nil ||
		r.ProposedBy != "operator:sue@tobira.example" || !r.EffectiveAt.Equal(effective) {
		t.Errorf("proposal after the upgrade: %+v, %v", r, err)
	}
}

// TestUpgradeToSpentCodeChallenge opens, with this program, a database from
// before spent codes kept their request's PKCE challenge: a code spent then
// reads back with its grant and no challenge, and a replay of it is still
// one.
func TestUpgradeToSpentCodeChallenge(t *testing.T) {
	ctx := t.Context()
	db, path := beforeMigration(t, "0035_spent_codes_challenge.sql", `ALTER TABLE oidc_spent_codes DROP COLUMN code_challenge`)
	if _, err := db.c().exec(ctx, `INSERT INTO oidc_spent_codes (code_hash, grant_id, expires_at) VALUES (?, ?, ?)`,
		"code-1", "g-1", t0.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openTemp(t, path)
	defer db.Close()
	got, err := db.SpentCode(ctx, "code-1")
	if err != nil || got.GrantID != "g-1" || got.CodeChallenge != "" {
		t.Fatalf("a code spent before the upgrade: %+v, %v; want g-1 without a challenge", got, err)
	}
	if _, err := db.SpendCode(ctx, "code-1", "", "g-2", t0, t0.Add(time.Hour)); !errors.Is(err, store.ErrStale) {
		t.Errorf("spending it again: %v, want ErrStale", err)
	}
}

// TestSitesPagesUseIndexes: a page of a customer's applications, contracts
// or invoices reads the table's (account_id, date, number) index in the
// list's order, however many records the customer has: no scan, no sort;
// the count reads the same index, the page's items invoice_items' key.
func TestSitesPagesUseIndexes(t *testing.T) {
	db := openTemp(t, filepath.Join(t.TempDir(), "tobira.db"))
	defer db.Close()
	for q, index := range map[string]string{
		applicationsPageQuery:        "applications_account_page",
		contractsPageQuery:           "contracts_account_page",
		invoicesPageQuery:            "invoices_account_page",
		countOfQuery("applications"): "applications_account_page",
		countOfQuery("contracts"):    "contracts_account_page",
		countOfQuery("invoices"):     "invoices_account_page",
		invoiceItemsOfQuery(20):      "sqlite_autoindex_invoice_items",
		invoiceItemsOfQuery(1):       "sqlite_autoindex_invoice_items",
	} {
		plan, err := db.QueryPlan(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\n  plan: %s", q, p)
		}
	}
}
