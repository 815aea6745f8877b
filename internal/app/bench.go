package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/loadgen"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

const benchUsage = `usage: tobira bench [flags]

Drives virtual customers through the whole sign-in (login page, password,
authenticator code, landing page), the security page, the OpenID Connect
code flow with PKCE and the sign-out, level after level of concurrency, on
127.0.0.1, and prints a Markdown table: sign-ins per second (also as a share
of the argon2id hashes per second this machine can do), latency percentiles
per step, errors by kind, and the server's start-up time, idle and peak
memory, and CPU time per sign-in.

By default it starts the server itself (this binary's 'serve', or
--server-bin), on a generated configuration in a temporary data folder that
it removes afterwards: SQLite there, or --database postgres://... (in a
schema of its own, created and dropped, unless --fresh-schema=false), with
--nodes N servers on that one database, each request going to the next
node. The generated configuration allows every password attempt from
127.0.0.1 (password_failures_per_client), since all virtual customers come
from there. --target URL benches a server already running on this machine
instead; --data, --config and --database then name its configuration and
database, where the bench adds its customers (they stay there).

The accounts are written to the database before the load: --pool accounts
with a password and the authenticator app, used in turn (each signs in at
most once per 30-second TOTP step: the portal refuses a code of a step
already used), and --accounts in all, the others without a factor, to show
a large table does not slow sign-in.

Flags:
`

// benchFlags are the bench's settings.
type benchFlags struct {
	duration    time.Duration
	count       int
	levels      []int
	hashing     string
	nodes       int
	freshSchema bool
	accounts    int
	pool        int
	oidcRatio   float64
	jsonPath    string
	target      string
	serverBin   string
}

func (m *Main) bench(ctx context.Context, args []string) error {
	f := m.flags("bench")
	f.Usage = func() {
		fmt.Fprint(f.Output(), benchUsage)
		f.PrintDefaults()
	}
	var o benchFlags
	var levels string
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long each concurrency level runs")
	f.IntVar(&o.count, "count", 0, "run this many iterations per level instead of --duration")
	f.StringVar(&levels, "concurrency", "1,16,64,256", "virtual customers at once, one level after the other")
	f.StringVar(&o.hashing, "hashing", "production", "argon2id parameters: production (the configuration's) or cheap (8 KiB, 1 pass)")
	f.IntVar(&o.nodes, "nodes", 1, "servers to start on one database (more than one needs --database postgres://...)")
	f.BoolVar(&o.freshSchema, "fresh-schema", true, "with --database, create a schema for the run and drop it afterwards")
	f.IntVar(&o.accounts, "accounts", 0, "accounts in all, those beyond --pool without a second factor (e.g. 1000000)")
	f.IntVar(&o.pool, "pool", 20000, "accounts with the authenticator app that the virtual customers sign in with")
	f.Float64Var(&o.oidcRatio, "oidc", 1, "share of iterations that run the OpenID Connect code flow (0 to 1)")
	f.StringVar(&o.jsonPath, "json", "", "also write the raw numbers to this file")
	f.StringVar(&o.target, "target", "", "bench this running server (http://127.0.0.1:PORT) instead of starting one")
	f.StringVar(&o.serverBin, "server-bin", "", "the tobira binary to start (default this one)")
	if err := f.Parse(args); err != nil {
		return errUsage
	}
	if *f.database == "" && o.target == "" {
		// As every command, the bench's servers work where
		// $TOBIRA_DATABASE_URL says unless told otherwise.
		*f.database = m.Getenv("TOBIRA_DATABASE_URL")
	}
	var err error
	if o.levels, err = parseLevels(levels); err != nil {
		fmt.Fprintf(m.Stderr, "tobira bench: --concurrency: %v\n", err)
		return errUsage
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if msg := o.check(f, given); msg != "" {
		fmt.Fprintf(m.Stderr, "tobira bench: %s\n", msg)
		return errUsage
	}
	b := &bencher{m: m, o: o, password: "bench password " + secret.Token(6)}
	defer b.cleanup()
	if err := b.prepare(ctx, f); err != nil {
		return err
	}
	return b.run(ctx)
}

// check says what is wrong with the flags, or "".
func (o *benchFlags) check(f flags, given map[string]bool) string {
	switch {
	case f.NArg() > 0:
		return "unexpected arguments: " + strings.Join(f.Args(), " ")
	case o.duration <= 0 && o.count <= 0:
		return "--duration or --count must be positive"
	case o.hashing != "production" && o.hashing != "cheap":
		return "--hashing: want production or cheap"
	case o.nodes < 1:
		return "--nodes must be at least 1"
	case o.pool < 1 || o.accounts < 0:
		return "--pool must be at least 1 and --accounts not negative"
	case o.oidcRatio < 0 || o.oidcRatio > 1:
		return "--oidc: want a share between 0 and 1"
	}
	if o.target != "" {
		u, err := url.Parse(o.target)
		switch {
		case err != nil || u.Scheme != "http" && u.Scheme != "https" || !loopback(u.Hostname()):
			return "--target: want a server on this machine, http://127.0.0.1:PORT"
		case o.nodes > 1 || given["server-bin"] || given["fresh-schema"]:
			return "--nodes, --server-bin and --fresh-schema start servers: not with --target"
		case given["hashing"]:
			return "--hashing: with --target the server's configuration decides"
		}
		return ""
	}
	if given["data"] || given["config"] {
		return "--data and --config name a running server's configuration: only with --target"
	}
	if db := *f.database; db != "" && !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
		return "--database: want a postgres:// URL"
	}
	if o.nodes > 1 && *f.database == "" {
		return "--nodes above 1 share one database: give --database postgres://... (SQLite is one node's file)"
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseLevels reads "1,16,64".
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// bencher is one run of the bench.
type bencher struct {
	m        *Main
	o        benchFlags
	cfg      config.Config
	password string
	client   loadgen.OIDCClient
	pool     *customerPool
	nodes    []*benchNode
	bases    []string
	rr       atomic.Uint64
	report   benchReport
	// undo is what cleanup runs, last first: stop servers, drop the
	// schema, remove the folder.
	undo []func()
}

func (b *bencher) cleanup() {
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
}

// prepare makes the configuration, the database and its accounts, and
// starts the servers.
func (b *bencher) prepare(ctx context.Context, f flags) error {
	var err error
	if b.o.target != "" {
		if b.cfg, err = b.m.load(f, modeOperator); err != nil {
			return err
		}
		if target := strings.TrimSuffix(b.o.target, "/"); b.cfg.BaseURL != target {
			fmt.Fprintf(b.m.Stderr, "note: the server's base_url is %s: the OpenID Connect provider's redirects go there, not to %s\n",
				b.cfg.BaseURL, target)
		}
		b.cfg.BaseURL = strings.TrimSuffix(b.o.target, "/")
		b.bases = []string{b.cfg.BaseURL}
		b.report.Hashing = "the server's"
	} else if err := b.generateConfig(ctx, *f.database); err != nil {
		return err
	}
	b.report.fill(b.cfg, b.o)
	if err := b.seed(ctx); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	fmt.Fprintf(b.m.Stderr, "measuring argon2id hashes per second on %d cores...\n", runtime.GOMAXPROCS(0))
	b.report.HashesPerSecond = hashCeiling(ctx, b.cfg.Argon2, 2*time.Second)
	if b.o.target == "" {
		return b.startNodes(ctx)
	}
	return nil
}

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
	if b.o.hashing == "cheap" {
		cfg.Argon2 = cheapArgon2
	}
	if database != "" {
		if b.o.freshSchema {
			if database, err = b.freshSchema(ctx, database); err != nil {
				return err
			}
		}
		cfg.Database = database
	}
	for range b.o.nodes {
		port, err := freePort()
		if err != nil {
			return err
		}
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

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// seedChunk bounds the accounts held in memory at once while seeding.
const seedChunk = 100000

// seed writes the virtual customers' accounts, with one password hash for
// all and the authenticator app's key sealed as enrolment seals it, the
// filler accounts, and the bench's OpenID Connect client.
func (b *bencher) seed(ctx context.Context) error {
	start := time.Now()
	st, err := openStore(b.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := b.cfg.Keyring()
	if err != nil {
		return err
	}
	hash, err := account.NewHasher(b.cfg.Argon2, 1).Hash(ctx, b.password)
	if err != nil {
		return err
	}
	run := secret.ID()[:6] // emails of earlier runs stay apart
	now := time.Now()
	total := max(b.o.accounts, b.o.pool)
	fmt.Fprintf(b.m.Stderr, "seeding %d accounts (%d with the authenticator app) in %s...\n", total, b.o.pool, databaseName(b.cfg))
	b.pool = &customerPool{}
	for from := 0; from < total; from += seedChunk {
		to := min(from+seedChunk, total)
		accounts := make([]store.Account, 0, to-from)
		var factors []store.Factor
		for i := from; i < to; i++ {
			a := store.Account{ID: secret.ID(), Name: "負荷試験 " + strconv.Itoa(i), PasswordHash: hash, CreatedAt: now}
			if i < b.o.pool {
				a.Email = fmt.Sprintf("bench-%s-%07d@bench.example.jp", run, i)
				key := mfa.NewTOTPSecret()
				factors = append(factors, store.Factor{ID: secret.ID(), AccountID: a.ID, Kind: store.FactorTOTP,
					Secret: keys.Encrypt(key, a.ID), LastStep: -1, CreatedAt: now})
				b.pool.add(a.Email, key)
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

// hashCeiling is how many password hashes a second this machine computes
// with all its cores: what sign-ins a second cannot exceed, each checking
// one password.
func hashCeiling(ctx context.Context, p account.Argon2Params, d time.Duration) float64 {
	n := runtime.GOMAXPROCS(0)
	h := account.NewHasher(p, n)
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

// benchNode is a server the bench started.
type benchNode struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan struct{}
	err     error // how the process ended, once exited is closed
}

// startNodes starts the servers one after the other, each timed from its
// spawn until /readyz answers.
func (b *bencher) startNodes(ctx context.Context) error {
	bin := b.o.serverBin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	// The generated configuration decides, not the bench's environment.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOBIRA_") {
			env = append(env, kv)
		}
	}
	cfgPath := filepath.Join(b.cfg.DataDir, "tobira.json")
	b.undo = append(b.undo, b.stopNodes)
	for i, base := range b.bases {
		n := &benchNode{base: base, logPath: filepath.Join(b.cfg.DataDir, fmt.Sprintf("node-%d.log", i+1)), exited: make(chan struct{})}
		logFile, err := os.Create(n.logPath)
		if err != nil {
			return err
		}
		args := []string{"serve", "--config", cfgPath, "--addr", strings.TrimPrefix(base, "http://"), "--console-addr", "off"}
		if b.cfg.Database != "" {
			args = append(args, "--database", b.cfg.Database)
		}
		n.cmd = exec.Command(bin, args...)
		n.cmd.Env, n.cmd.Stdout, n.cmd.Stderr = env, logFile, logFile
		start := time.Now()
		if err := n.cmd.Start(); err != nil {
			logFile.Close()
			return fmt.Errorf("start %s: %w", bin, err)
		}
		b.nodes = append(b.nodes, n)
		go func() {
			n.err = n.cmd.Wait()
			logFile.Close()
			close(n.exited)
		}()
		if err := n.waitReady(ctx, time.Minute); err != nil {
			return err
		}
		b.report.StartupMS = append(b.report.StartupMS, ms(time.Since(start)))
	}
	return nil
}

// waitReady polls /readyz until it answers 200.
func (n *benchNode) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get(n.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-n.exited:
			return fmt.Errorf("the server at %s ended before it was ready (%v):\n%s", n.base, n.err, tail(n.logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server at %s was not ready within %s:\n%s", n.base, limit, tail(n.logPath))
		}
	}
}

// stopNodes asks every server to stop and waits for it.
func (b *bencher) stopNodes() {
	for _, n := range b.nodes {
		n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range b.nodes {
		select {
		case <-n.exited:
		case <-time.After(15 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
		}
		if n.err != nil {
			fmt.Fprintf(b.m.Stderr, "tobira bench: the server at %s ended with %v:\n%s", n.base, n.err, tail(n.logPath))
		}
	}
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// run drives the levels, then reports.
func (b *bencher) run(ctx context.Context) error {
	b.report.IdleRSSBytes = b.sumProc(func(pid int) int64 { return procStatus(pid, "VmRSS") })
	var runErr error
	for _, conc := range b.o.levels {
		fmt.Fprintf(b.m.Stderr, "%d virtual customers...\n", conc)
		lv := b.level(ctx, conc)
		b.report.Levels = append(b.report.Levels, lv)
		if ctx.Err() != nil {
			runErr = ctx.Err()
			break
		}
	}
	b.report.markdown(b.m.Stdout)
	if b.o.jsonPath != "" {
		raw, err := json.MarshalIndent(b.report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(b.o.jsonPath, append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	return runErr
}

// base picks the node for the next request: each in turn.
func (b *bencher) base() string {
	return b.bases[b.rr.Add(1)%uint64(len(b.bases))]
}

// level runs conc virtual customers until the duration or count is spent,
// and measures the servers meanwhile.
func (b *bencher) level(ctx context.Context, conc int) benchLevel {
	// Peak memory of this level only: writing 5 to clear_refs resets
	// VmHWM (Linux).
	resetPeaks := true
	for _, n := range b.nodes {
		if os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", n.cmd.Process.Pid), []byte("5"), 0) != nil {
			resetPeaks = false
		}
	}
	cpu0, self0 := b.sumProc(procCPU), procCPU(os.Getpid())
	rec := &loadgen.Recorder{}
	var signIns, iterations, flows atomic.Int64
	var started atomic.Int64
	waits0 := b.pool.waits.Load()
	start := time.Now()
	deadline := start.Add(b.o.duration)
	// Customers waiting for the pool's next TOTP step stop at the deadline.
	takeCtx := ctx
	if b.o.count == 0 {
		var cancel context.CancelFunc
		takeCtx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	more := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if b.o.count > 0 {
			return started.Add(1) <= int64(b.o.count)
		}
		return time.Now().Before(deadline)
	}
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			// done counts this customer's iterations; every time
			// done*oidcRatio passes a whole number, one has the code
			// flow (half the customers half a step later, so that a
			// share of 0.5 mixes).
			var done float64
			for more() {
				acct, err := b.pool.take(takeCtx)
				if err != nil {
					return
				}
				c := loadgen.NewCustomer(acct.email, b.password, acct.key)
				c.Observe = rec.Observe
				withOIDC := int((done+1)*b.o.oidcRatio+float64(w)*0.5) > int(done*b.o.oidcRatio+float64(w)*0.5)
				done++
				signedIn, flowed, err := b.iteration(ctx, c, acct, withOIDC)
				if signedIn {
					signIns.Add(1)
				}
				if flowed {
					flows.Add(1)
				}
				switch {
				case err == nil:
					iterations.Add(1)
				case errors.Is(err, loadgen.ErrLocked):
					// Throttled: a customer does not retry at once.
					time.Sleep(100 * time.Millisecond)
				case loadgen.Kind(err) == "transport: connection refused":
					time.Sleep(10 * time.Millisecond) // a server down: no busy loop
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	lv := benchLevel{
		Concurrency: conc, Seconds: elapsed.Seconds(),
		SignIns: signIns.Load(), Iterations: iterations.Load(), OIDCFlows: flows.Load(),
		Errors: rec.Errors(), PoolWaits: b.pool.waits.Load() - waits0, Steps: map[string]benchStep{},
		PeakIsLevel: resetPeaks,
	}
	for name, l := range rec.Steps() {
		lv.Steps[name] = benchStep{Count: l.Count, P50: ms(l.P50), P95: ms(l.P95), P99: ms(l.P99), Max: ms(l.Max)}
	}
	lv.SignInsPerSecond = float64(lv.SignIns) / elapsed.Seconds()
	if b.report.HashesPerSecond > 0 {
		lv.PercentOfCeiling = 100 * lv.SignInsPerSecond / b.report.HashesPerSecond
	}
	if len(b.nodes) > 0 {
		lv.PeakRSSBytes = b.sumProc(func(pid int) int64 { return procStatus(pid, "VmHWM") })
		lv.ServerCPUSeconds = float64(b.sumProc(procCPU)-cpu0) / float64(time.Second)
	}
	lv.BenchCPUSeconds = float64(procCPU(os.Getpid())-self0) / float64(time.Second)
	if lv.SignIns > 0 {
		lv.ServerCPUPerSignInMS = 1000 * lv.ServerCPUSeconds / float64(lv.SignIns)
		lv.BenchCPUPerSignInMS = 1000 * lv.BenchCPUSeconds / float64(lv.SignIns)
	}
	return lv
}

// iteration is one virtual customer's visit: the sign-in, the security
// page, the code flow when asked, and the sign-out. It stops at the first
// step that fails; the recorder counted that step's error.
func (b *bencher) iteration(ctx context.Context, c *loadgen.Customer, acct *poolAccount, withOIDC bool) (signedIn, flowed bool, err error) {
	start := time.Now()
	if err := c.StartSignIn(ctx, b.base()); err != nil {
		return false, false, err
	}
	if err := c.SubmitPassword(ctx, b.base()); err != nil {
		return false, false, err
	}
	now := time.Now()
	code, err := c.Code(now)
	if err != nil {
		return false, false, err
	}
	acct.step.Store(mfa.Step(now))
	if err := c.SubmitTOTP(ctx, b.base(), code); err != nil {
		return false, false, err
	}
	if err := c.Landing(ctx, b.base()); err != nil {
		return false, false, err
	}
	c.Observe("sign-in", time.Since(start), nil)
	if err := c.Security(ctx, b.base()); err != nil {
		return true, false, err
	}
	if withOIDC {
		start := time.Now()
		if err := c.OIDCCodeFlow(ctx, b.base(), b.client); err != nil {
			return true, false, err
		}
		c.Observe("oidc-flow", time.Since(start), nil)
		flowed = true
	}
	return true, flowed, c.SignOut(ctx, b.base())
}

// poolAccount is a virtual customer's account and the last TOTP step it
// signed in with.
type poolAccount struct {
	email, key string
	step       atomic.Int64
}

// customerPool hands out accounts in turn, each at most once per TOTP
// step: the portal refuses a step's code once the account used it.
type customerPool struct {
	mu    sync.Mutex
	all   []*poolAccount
	next  int
	waits atomic.Int64 // how often every account had signed in this step
}

func (p *customerPool) add(email, key string) {
	a := &poolAccount{email: email, key: key}
	a.step.Store(-1)
	p.all = append(p.all, a)
}

// take returns the account used longest ago, waiting for the next TOTP
// step when even that one signed in during this step.
func (p *customerPool) take(ctx context.Context) (*poolAccount, error) {
	for {
		p.mu.Lock()
		now := time.Now()
		a := p.all[p.next]
		if a.step.Load() < mfa.Step(now) {
			p.next = (p.next + 1) % len(p.all)
			// Taken: no other customer gets it before it is used.
			a.step.Store(mfa.Step(now))
			p.mu.Unlock()
			return a, nil
		}
		p.mu.Unlock()
		p.waits.Add(1)
		wait := time.Unix((mfa.Step(now)+1)*mfa.Period, 0).Sub(now)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// sumProc adds up f over the servers' processes; 0 with none.
func (b *bencher) sumProc(f func(pid int) int64) int64 {
	var sum int64
	for _, n := range b.nodes {
		sum += f(n.cmd.Process.Pid)
	}
	return sum
}

// procStatus reads a memory field of /proc/PID/status (kB), in bytes; 0
// where there is no /proc.
func procStatus(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// clockTick is Linux's USER_HZ, the unit of /proc/PID/stat's times (100 on
// every architecture Go runs on).
const clockTick = 10 * time.Millisecond

// procCPU is the process's CPU time so far (utime + stime of
// /proc/PID/stat), as a duration in nanoseconds; 0 where there is no /proc.
func procCPU(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return (utime + stime) * int64(clockTick)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchReport is everything the bench measured; --json writes it.
type benchReport struct {
	Date      time.Time            `json:"date"`
	Engine    string               `json:"engine"`
	Schema    string               `json:"schema,omitempty"`
	Target    string               `json:"target,omitempty"`
	Nodes     int                  `json:"nodes"`
	Hashing   string               `json:"hashing"`
	Argon2    account.Argon2Params `json:"argon2"`
	HashSlots int                  `json:"hash_concurrency"`
	GoVersion string               `json:"go_version"`
	OS        string               `json:"os"`
	CPUs      int                  `json:"cpus"`
	Duration  string               `json:"duration,omitempty"`
	Count     int                  `json:"count,omitempty"`
	OIDCRatio float64              `json:"oidc_ratio"`

	Accounts        int       `json:"accounts"`
	Customers       int       `json:"customers"`
	SeedSeconds     float64   `json:"seed_seconds"`
	HashesPerSecond float64   `json:"hashes_per_second"`
	StartupMS       []float64 `json:"startup_ms,omitempty"`
	IdleRSSBytes    int64     `json:"idle_rss_bytes,omitempty"`

	Levels []benchLevel `json:"levels"`
}

// benchLevel is one concurrency level's numbers.
type benchLevel struct {
	Concurrency      int     `json:"concurrency"`
	Seconds          float64 `json:"seconds"`
	SignIns          int64   `json:"sign_ins"`
	Iterations       int64   `json:"iterations"`
	OIDCFlows        int64   `json:"oidc_flows"`
	SignInsPerSecond float64 `json:"sign_ins_per_second"`
	PercentOfCeiling float64 `json:"percent_of_hash_ceiling"`
	// Steps are latencies in milliseconds of the steps that went well,
	// plus "sign-in" (login page to landing page) and "oidc-flow".
	Steps     map[string]benchStep `json:"steps"`
	Errors    map[string]int       `json:"errors"`
	PoolWaits int64                `json:"pool_waits"`
	// PeakRSSBytes is the servers' VmHWM summed, during this level when
	// PeakIsLevel (else since they started).
	PeakRSSBytes         int64   `json:"peak_rss_bytes,omitempty"`
	PeakIsLevel          bool    `json:"peak_is_level"`
	ServerCPUSeconds     float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerSignInMS float64 `json:"server_cpu_per_sign_in_ms,omitempty"`
	BenchCPUSeconds      float64 `json:"bench_cpu_seconds"`
	BenchCPUPerSignInMS  float64 `json:"bench_cpu_per_sign_in_ms"`
}

type benchStep struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (r *benchReport) fill(cfg config.Config, o benchFlags) {
	r.Date = time.Now().UTC().Truncate(time.Second)
	r.Engine = "SQLite"
	if cfg.Database != "" {
		r.Engine = "PostgreSQL"
	}
	r.Target = o.target
	r.Nodes = max(1, o.nodes)
	r.Argon2, r.HashSlots = cfg.Argon2, cfg.HashConcurrency
	r.GoVersion, r.OS, r.CPUs = runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU()
	if o.count > 0 {
		r.Count = o.count
	} else {
		r.Duration = o.duration.String()
	}
	r.OIDCRatio = o.oidcRatio
}

// stepOrder is the order of a visit's steps in the table.
var stepOrder = []string{"login-page", "login", "code", "landing", "security",
	"authorize", "oidc-login", "consent", "callback", "token", "logout"}

// markdown writes the report as Markdown, for docs/PERFORMANCE.md.
func (r *benchReport) markdown(w io.Writer) {
	fmt.Fprintf(w, "## tobira bench, %s\n\n", r.Date.Format("2006-01-02 15:04 UTC"))
	server := r.Engine + ", 1 node"
	if r.Nodes > 1 {
		server = fmt.Sprintf("%s, %d nodes", r.Engine, r.Nodes)
	}
	if r.Target != "" {
		server = r.Target + " (" + r.Engine + ", running already)"
	}
	fmt.Fprintf(w, "- server: %s; hashing: %s (argon2id m=%d KiB, t=%d, p=%d; hash_concurrency %d)\n",
		server, r.Hashing, r.Argon2.MemoryKiB, r.Argon2.Time, r.Argon2.Threads, r.HashSlots)
	fmt.Fprintf(w, "- %s %s, %d CPUs; the load tool runs on the same machine\n", r.GoVersion, r.OS, r.CPUs)
	fmt.Fprintf(w, "- accounts: %s with a password and the authenticator app, which the virtual customers use in turn", thousands(int64(r.Customers)))
	if r.Accounts > r.Customers {
		fmt.Fprintf(w, ", and %s without a second factor", thousands(int64(r.Accounts-r.Customers)))
	}
	fmt.Fprintf(w, "; seeded in %.1f s\n", r.SeedSeconds)
	per := r.Duration + " per level"
	if r.Count > 0 {
		per = fmt.Sprintf("%d iterations per level", r.Count)
	}
	fmt.Fprintf(w, "- load: %s; an iteration is a sign-in (login page, password, app code, landing page), the security page, "+
		"the OpenID Connect code flow (%.0f %% of iterations) and the sign-out\n", per, 100*r.OIDCRatio)
	fmt.Fprintf(w, "- hash ceiling: %s argon2id hashes/s on all cores\n", thousands(int64(r.HashesPerSecond)))
	if len(r.StartupMS) > 0 {
		var st []string
		for _, s := range r.StartupMS {
			st = append(st, fmt.Sprintf("%.0f ms", s))
		}
		fmt.Fprintf(w, "- start-up (spawn to /readyz): %s; idle RSS %s\n", strings.Join(st, ", "), mib(r.IdleRSSBytes))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| customers | sign-ins | sign-ins/s | % of hash ceiling | sign-in p50 / p95 / p99 ms | OIDC flow p50 / p95 / p99 ms | errors | server peak RSS | server CPU per sign-in | load tool CPU per sign-in |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, lv := range r.Levels {
		errs := 0
		for _, n := range lv.Errors {
			errs += n
		}
		peak, cpu := "n/a", "n/a"
		if lv.PeakRSSBytes > 0 {
			peak = mib(lv.PeakRSSBytes)
			if !lv.PeakIsLevel {
				peak += " (since start)"
			}
			cpu = fmt.Sprintf("%.2f ms", lv.ServerCPUPerSignInMS)
		}
		fmt.Fprintf(w, "| %d | %d | %.1f | %.2f %% | %s | %s | %d | %s | %s | %.2f ms |\n", lv.Concurrency, lv.SignIns,
			lv.SignInsPerSecond, lv.PercentOfCeiling, triple(lv.Steps["sign-in"]), triple(lv.Steps["oidc-flow"]), errs,
			peak, cpu, lv.BenchCPUPerSignInMS)
	}
	fmt.Fprintln(w, "\nCPU per sign-in is CPU time (utime + stime) during the level divided by the sign-ins completed: "+
		"it includes the security page, the code flow and the sign-out of each iteration.")

	steps := slices.Clone(stepOrder)
	seen := map[string]bool{"sign-in": true, "oidc-flow": true}
	for _, s := range stepOrder {
		seen[s] = true
	}
	for _, lv := range r.Levels {
		for _, s := range slices.Sorted(maps.Keys(lv.Steps)) {
			if !seen[s] {
				seen[s] = true
				steps = append(steps, s)
			}
		}
	}
	steps = slices.DeleteFunc(steps, func(s string) bool {
		return !slices.ContainsFunc(r.Levels, func(lv benchLevel) bool { return lv.Steps[s].Count > 0 })
	})
	fmt.Fprintf(w, "\nLatency per step, p50 / p95 / p99 in ms:\n\n| customers | %s |\n|---:|%s\n",
		strings.Join(steps, " | "), strings.Repeat("---:|", len(steps)))
	for _, lv := range r.Levels {
		var cells []string
		for _, s := range steps {
			cells = append(cells, triple(lv.Steps[s]))
		}
		fmt.Fprintf(w, "| %d | %s |\n", lv.Concurrency, strings.Join(cells, " | "))
	}

	var errRows []string
	for _, lv := range r.Levels {
		for _, k := range loadgen.SortedKinds(lv.Errors) {
			errRows = append(errRows, fmt.Sprintf("| %d | %s | %d |", lv.Concurrency, k, lv.Errors[k]))
		}
	}
	if len(errRows) > 0 {
		fmt.Fprintf(w, "\nErrors:\n\n| customers | kind | count |\n|---:|---|---:|\n%s\n", strings.Join(errRows, "\n"))
	}
	for _, lv := range r.Levels {
		if lv.PoolWaits > 0 {
			fmt.Fprintf(w, "\nWith %d customers, every account of the pool had signed in during the current 30-second step %d times "+
				"and the customers waited for the next: raise --pool.\n", lv.Concurrency, lv.PoolWaits)
		}
	}
}

// triple is "p50 / p95 / p99" of a step, or a dash.
func triple(s benchStep) string {
	if s.Count == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s / %s", short(s.P50), short(s.P95), short(s.P99))
}

// short writes milliseconds with the precision that means something.
func short(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// thousands writes 1000000 as 1,000,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
