package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/loadgen"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// cheapArgon2 is the smallest valid argon2id cost: what makes the load
// show everything but the hashing.
var cheapArgon2 = account.Argon2Params{MemoryKiB: 8, Time: 1, Threads: 1}

// generateConfig writes the servers' configuration in a new temporary
// data folder, with a new schema on PostgreSQL when asked.
func (b *bencher) generateConfig(ctx context.Context, database string) error {
	dir, err := os.MkdirTemp("", "tobira-bench-")
	if err != nil {
		return err
	}
	b.undo = append(b.undo, func() { os.RemoveAll(dir) })
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.SecretKey = secret.NewKey()
	cfg.ConsoleAddr = "off"
	// Every virtual customer comes from 127.0.0.1, and the limit counts
	// each attempt before its password is checked.
	cfg.PasswordFailuresPerClient = 1 << 30
	cfg.CodeFailuresPerClient = 1 << 30
	if b.o.hashing == "cheap" {
		cfg.Argon2 = cheapArgon2
	}
	cfg.SQLiteSynchronous = b.o.sqliteSync
	if database != "" {
		if b.o.freshSchema {
			if database, err = b.freshSchema(ctx, database); err != nil {
				return err
			}
		}
		cfg.Database = database
	}
	// Each node's port stays bound here until the node is started, so no
	// other program takes it while the bench seeds and measures the
	// ceiling; the profilers' ports are left to the profilers.
	avoid := map[int]bool{}
	if b.o.pprofAddr != "" {
		for i := range b.o.nodes {
			_, port, _ := net.SplitHostPort(pprofAddr(b.o.pprofAddr, i))
			p, _ := strconv.Atoi(port)
			avoid[p] = true
		}
	}
	for len(b.held) < b.o.nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		b.undo = append(b.undo, func() { ln.Close() })
		port := ln.Addr().(*net.TCPAddr).Port
		if avoid[port] {
			continue // closed by cleanup, not handed out
		}
		b.held = append(b.held, ln)
		b.bases = append(b.bases, "http://127.0.0.1:"+strconv.Itoa(port))
	}
	// Every node is the one issuer, reached at the first node's address.
	cfg.Addr = strings.TrimPrefix(b.bases[0], "http://")
	cfg.BaseURL = b.bases[0]
	if err := cfg.Validate(); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tobira.json"), raw, 0o600); err != nil {
		return err
	}
	b.cfg = cfg
	b.report.Hashing = b.o.hashing
	return nil
}

// freshSchema creates a schema for the run and returns database's URL
// with it as the search path; cleanup drops it.
func (b *bencher) freshSchema(ctx context.Context, database string) (string, error) {
	u, err := url.Parse(database)
	if err != nil {
		return "", fmt.Errorf("--database: %w", err)
	}
	admin, err := sql.Open("pgx", database)
	if err != nil {
		return "", err
	}
	schema := "tobira_bench_" + secret.ID()[:12]
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", fmt.Errorf("create schema for the run: %w", err)
	}
	b.undo = append(b.undo, func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			fmt.Fprintf(b.m.Stderr, "tobira bench: drop schema %s: %v\n", schema, err)
		}
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	b.report.Schema = schema
	return u.String(), nil
}

// seedChunk bounds the accounts held in memory at once while seeding.
const seedChunk = 100000

// seed writes the virtual customers' accounts, with one password hash for
// all, the authenticator app's key sealed as enrolment seals it and (unless
// --new-browsers) an earlier sign-in in the audit log, the filler accounts,
// and the bench's OpenID Connect client. The database stays open, for
// counting mails.
func (b *bencher) seed(ctx context.Context) error {
	start := time.Now()
	st, err := openStore(b.cfg)
	if err != nil {
		return err
	}
	b.st = st
	b.undo = append(b.undo, func() { st.Close() })
	keys, err := b.cfg.Keyring()
	if err != nil {
		return err
	}
	hash, err := account.NewHasher(b.cfg.Argon2, 1).Hash(ctx, b.password)
	if err != nil {
		return err
	}
	run := secret.ID()[:6] // emails of earlier runs stay apart
	b.mailPrefix = "bench-" + run + "-"
	now := time.Now()
	total := max(b.o.accounts, b.o.pool)
	addrs := b.clientAddrs()
	fmt.Fprintf(b.m.Stderr, "seeding %d accounts (%d with the authenticator app) in %s...\n", total, b.o.pool, databaseName(b.cfg))
	b.pool = &customerPool{}
	for from := 0; from < total; from += seedChunk {
		to := min(from+seedChunk, total)
		accounts := make([]store.Account, 0, to-from)
		var factors []store.Factor
		var events []store.AuditEvent
		for i := from; i < to; i++ {
			a := store.Account{ID: secret.ID(), Name: "負荷試験 " + strconv.Itoa(i), PasswordHash: hash, CreatedAt: now}
			if i < b.o.pool {
				a.Email = fmt.Sprintf("bench-%s-%07d@bench.example.jp", run, i)
				key := mfa.NewTOTPSecret()
				factors = append(factors, store.Factor{ID: secret.ID(), AccountID: a.ID, Kind: store.FactorTOTP,
					Secret: keys.Encrypt(key, a.ID), LastStep: -1, CreatedAt: now})
				b.pool.add(a.Email, key)
				if !b.o.newBrowsers {
					for _, ip := range addrs {
						events = append(events, knownBrowser(a.ID, ip, now))
					}
				}
			} else {
				a.Email = fmt.Sprintf("filler-%s-%08d@bench.example.jp", run, i)
			}
			accounts = append(accounts, a)
		}
		if err := st.BulkCreateAccounts(ctx, accounts); err != nil {
			return err
		}
		if err := st.BulkAddFactors(ctx, factors); err != nil {
			return err
		}
		if err := st.BulkAppendAudit(ctx, events); err != nil {
			return err
		}
	}
	// A database just seeded is not how one of its size runs day to day.
	// A --target's database is the operator's, and was not just seeded
	// whole: it is left as it is.
	switch {
	case b.o.target != "":
	case b.cfg.Database != "":
		settlePostgres(ctx, b.cfg.Database, b.m.Stderr)
	default:
		// Closing the last connection copies the seeding's write-ahead
		// log (tens of MB with a million accounts) into the file and
		// removes it, so the server does not start by copying it while the
		// first level runs.
		if err := st.Close(); err != nil {
			return err
		}
		if st, err = openStore(b.cfg); err != nil {
			return err
		}
		b.st = st
	}
	provider, err := oidc.New(oidc.Config{Store: st, Keys: keys, Issuer: b.cfg.BaseURL,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	// A customer site of the operator's own: a public client with PKCE,
	// asking no consent.
	c := &store.Client{Name: "tobira bench " + run, RedirectURIs: []string{"http://127.0.0.1:9/bench/callback"},
		Public: true, FirstParty: true}
	if _, err := provider.CreateClient(ctx, c); err != nil {
		return err
	}
	b.client = loadgen.OIDCClient{ID: c.ID, RedirectURI: c.RedirectURIs[0], Scopes: []string{"openid", "email"}}
	b.report.Accounts, b.report.Customers = total, b.o.pool
	b.report.SeedSeconds = time.Since(start).Seconds()
	return nil
}

// settlePostgres brings a database just seeded to how one of its size runs
// day to day: the tables seeded get their planner statistics, as autovacuum
// would have given them long since (where it is on), and a checkpoint
// writes out the hundreds of MB of buffers the seeding dirtied, which
// PostgreSQL would otherwise write during the load. The checkpoint needs a
// superuser or pg_checkpoint; without, the run goes on and says so.
func settlePostgres(ctx context.Context, database string, stderr io.Writer) {
	db, err := sql.Open("pgx", database)
	if err != nil {
		fmt.Fprintf(stderr, "note: settling the database after seeding: %v\n", err)
		return
	}
	defer db.Close()
	for _, stmt := range []string{"ANALYZE accounts, factors, audit_events", "CHECKPOINT"} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			fmt.Fprintf(stderr, "note: %s after seeding: %v\n", stmt, err)
		}
	}
}

// knownBrowser is the audit event of an earlier sign-in of the account, a
// day ago, from the virtual customers' browser at ip: what makes the portal
// know the browser (the same User-Agent, its version numbers aside, from
// the same network, signed in with success in the last 90 days; see
// noticeNewBrowser in internal/portal), so that the load's sign-ins queue
// no new-browser notice, as a returning customer's would not.
func knownBrowser(accountID, ip string, now time.Time) store.AuditEvent {
	return store.AuditEvent{At: now.Add(-24 * time.Hour), AccountID: accountID, Actor: "customer",
		Action: store.ActionSignIn, Outcome: "ok", ClientIP: ip, UserAgent: loadgen.UserAgent}
}

// clientAddrs are the addresses the servers see the virtual customers
// come from: the nodes' loopback address, or both 127.0.0.1 and ::1 when a
// --target names localhost, which may resolve to either.
func (b *bencher) clientAddrs() []string {
	var out []string
	for _, base := range b.bases {
		u, err := url.Parse(base)
		if err != nil {
			continue
		}
		if host := u.Hostname(); host == "localhost" {
			out = append(out, "127.0.0.1", "::1")
		} else if net.ParseIP(host) != nil {
			out = append(out, host)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// newestMail is the id of the newest mail queued so far, 0 for none.
func (b *bencher) newestMail(ctx context.Context) (int64, error) {
	if b.st == nil {
		return 0, errors.New("no database")
	}
	ms, err := b.st.ListMails(ctx, 1)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[0].ID, nil
}

// countMails sets lv's count of the mails queued to the virtual customers
// since the mail with id since.
func (b *bencher) countMails(ctx context.Context, since int64, lv *benchLevel) error {
	for limit := 1024; ; limit *= 4 {
		ms, err := b.st.ListMails(ctx, limit)
		if err != nil {
			return err
		}
		if len(ms) == limit && ms[len(ms)-1].ID > since {
			continue // newest first: older ones may be new still
		}
		lv.MailsQueued = 0
		for _, m := range ms {
			if m.ID > since && strings.HasPrefix(m.To, b.mailPrefix) {
				lv.MailsQueued++
			}
		}
		return nil
	}
}

// hashCeiling is how many password hashes a second this machine computes
// at best: what sign-ins a second cannot exceed, each checking one
// password. It is the best of hashRate with one hash at a time, with one
// for each set of cores as many as a hash's lanes, and with one per core,
// whose rates it also returns: which does most depends on the machine and
// the parameters, as hashes side by side share the processor's cache and
// memory, and a hash's lanes wait for each other four times a pass.
func hashCeiling(ctx context.Context, p account.Argon2Params, d time.Duration) (best float64, rates []ceilingRate) {
	for _, n := range ceilingConcurrencies(p) {
		r := hashRate(ctx, p, n, d)
		rates = append(rates, ceilingRate{AtOnce: n, PerSecond: r})
		best = max(best, r)
	}
	return best, rates
}

// busyCores is how many cores the best of rates kept busy: its hashes at
// once, each with p's lanes, at most every core. A sign-in's hash costs
// that many cores over the ceiling in CPU: where one hash at a time did
// best (a machine busy with other work), all the cores were not hashing.
func busyCores(p account.Argon2Params, rates []ceilingRate, best float64) int {
	cores := runtime.GOMAXPROCS(0)
	for _, r := range rates {
		if r.PerSecond == best && best > 0 {
			return min(cores, r.AtOnce*max(1, int(p.Threads)))
		}
	}
	return cores
}

// ceilingRate is the hashes a second with AtOnce hashes at a time.
type ceilingRate struct {
	AtOnce    int     `json:"at_once"`
	PerSecond float64 `json:"per_second"`
}

// ceilingConcurrencies are the numbers of hashes at once hashCeiling tries.
func ceilingConcurrencies(p account.Argon2Params) []int {
	cores := runtime.GOMAXPROCS(0)
	ns := []int{1, max(1, cores/max(1, int(p.Threads))), cores}
	slices.Sort(ns)
	return slices.Compact(ns)
}

// hashRate is how many hashes a second n goroutines compute, each hashing
// one password after the other for d. Each hashes once before the clock
// starts: the first hashes of a process wait for the kernel to hand it the
// memory, and a first measurement without that read about a sixth lower
// than the next.
func hashRate(ctx context.Context, p account.Argon2Params, n int, d time.Duration) float64 {
	h := account.NewHasher(p, n)
	var warm sync.WaitGroup
	for range n {
		warm.Go(func() { h.Hash(ctx, "a password of the bench") })
	}
	warm.Wait()
	var count atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if _, err := h.Hash(ctx, "a password of the bench"); err == nil {
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}
