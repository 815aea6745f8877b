package sqlstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// seedEndedSessions fills db with live accounts, each with a live portal
// session and a grant of it, created first, then ended grants whose
// sessions are gone, created after them: the order in which the sweep's
// GrantsOfEndedSessions meets them, live grants first, is its worst.
func seedEndedSessions(tb testing.TB, db *DB, live, ended int) {
	tb.Helper()
	ctx := tb.Context()
	accounts := max(live, ended)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
			INSERT INTO accounts (id, email, created_at) SELECT 'a' || i, 'a' || i || '@example.com', 1 FROM n`, []any{accounts}},
		{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
			INSERT INTO sessions (id_hash, account_id, created_at, expires_at, sid)
			SELECT 'h' || i, 'a' || i, 1, ?, 's' || i FROM n`, []any{accounts, ms(t0.Add(24 * time.Hour))}},
		{`INSERT INTO oidc_clients (id, name, created_at) VALUES ('shop', 'shop', 1)`, nil},
		{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
			INSERT INTO oidc_grants (id, client_id, account_id, session_hash, created_at)
			SELECT 'g' || i, 'shop', 'a' || i, 's' || i, 1 + i FROM n`, []any{live}},
		{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
			INSERT INTO oidc_grants (id, client_id, account_id, session_hash, created_at)
			SELECT 'e' || i, 'shop', 'a' || i, 'gone' || i, 1 + ? + i FROM n`, []any{ended, live}},
	} {
		if q.args == nil || q.args[0] != 0 {
			if _, err := db.c().exec(ctx, q.sql, q.args...); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchmarkGrantsOfEndedSessions is one run of the sweep's
// EndExpiredSessions in the store, on SQLite: read the grants of ended
// sessions a batch of 100 at a time and mark each one, until a batch comes
// short, with 1,000 ended grants behind no grant of a live session, or
// behind 100,000. "from-start" reads each batch from the oldest grant, as
// the sweep did before it kept its place; "after-last" reads on after the
// last grant of the batch before, as it does now.
//
// Measured on the shared two-core test machine, with another test suite
// running beside it (load 4 to 12, so the figures spread), per run, in two
// runs of go test -bench GrantsOfEndedSessions (5 and 3 iterations):
//
//	live=0/from-start         0.6 to 1.3 s  (the 1,000 marks, each a commit)
//	live=0/after-last         0.6 to 1.2 s
//	live=100000/from-start    7.4 to 15  s  (eleven reads past the 100,000)
//	live=100000/after-last    0.5 to 0.9 s  (one)
//
// What is left grows with the grants of live sessions, one read past them
// a run (some 0.2 to 0.7 s for 100,000), not with the batches.
func BenchmarkGrantsOfEndedSessions(b *testing.B) {
	for _, live := range []int{0, 100_000} {
		for _, keyset := range []bool{false, true} {
			name := fmt.Sprintf("live=%d/from-start", live)
			if keyset {
				name = fmt.Sprintf("live=%d/after-last", live)
			}
			b.Run(name, func(b *testing.B) {
				const ended, batch = 1000, 100
				ctx := b.Context()
				db := openTemp(b, filepath.Join(b.TempDir(), "tobira.db"))
				defer db.Close()
				seedEndedSessions(b, db, live, ended)
				now := t0.Add(time.Hour)
				b.ResetTimer()
				for range b.N {
					n := 0
					var after store.GrantKey
					for {
						gs, err := db.GrantsOfEndedSessions(ctx, now, after, batch)
						if err != nil {
							b.Fatal(err)
						}
						for _, g := range gs {
							if err := db.SessionGrantEnded(ctx, g.ID, true, now); err != nil {
								b.Fatal(err)
							}
						}
						n += len(gs)
						if len(gs) < batch {
							break
						}
						if keyset {
							after = gs[len(gs)-1].Key()
						}
					}
					if n != ended {
						b.Fatalf("%d grants of ended sessions, want %d", n, ended)
					}
					b.StopTimer()
					if _, err := db.c().exec(ctx, `UPDATE oidc_grants SET session_ended_at = 0, revoked_at = 0 WHERE id LIKE 'e%'`); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}
