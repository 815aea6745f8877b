package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/loadgen"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

const benchUsage = `usage: tobira bench [flags]

Drives virtual customers through the whole sign-in (login page, password,
the page asking for the authenticator code, the code, landing page), the
security page, the OpenID Connect code flow with PKCE and the sign-out
(--flow full), or through the sign-in alone (--flow signin: then the
customer forgets its cookies instead of signing out), level after level of
concurrency, on 127.0.0.1, and prints a Markdown table: sign-ins per
second (also as a share of the argon2id hashes per second this machine can
do, with production hashing measured again right before and right after
each level), latency percentiles per step, errors by kind, the server's
start-up time (its first start, which makes the signing key, and a
restart: it stops the first server and starts it again before the load),
idle and peak memory, CPU time per sign-in (also without the password
hash's estimated share), the servers' mean time per password hash (their
tobira_password_hash_seconds), their waits for a database connection and
transactions run again (tobira_db_*), and the mails the sign-ins queued.

By default it starts the server itself (this binary's 'serve', or
--server-bin), on a generated configuration in a temporary data folder that
it removes afterwards: SQLite there, or --database postgres://... (in a
schema of its own, created and dropped, unless --fresh-schema=false), with
--nodes N servers on that one database, each request going to the next
node. The generated configuration allows every password attempt from
127.0.0.1 (password_failures_per_client, code_failures_per_client), since all virtual customers come
from there. --target URL benches a server already running on this machine
instead; --data, --config and --database then name its configuration and
database, where the bench adds its customers (they stay there). A server
that serves HTTPS itself (https://127.0.0.1:PORT) is trusted with the
certificate of its tls_cert_file.

The accounts are written to the database before the load: --pool accounts
with a password and the authenticator app, used in turn (each signs in at
most once per 30-second TOTP step: the portal refuses a code of a step
already used), and --accounts in all, the others without a factor, to show
a large table does not slow sign-in. Each pool account gets an earlier
sign-in in its audit log, a day old, from the virtual customers' browser
and network, so that the portal knows the browser and queues no
"new browser" notice mail; --new-browsers leaves it out, and every first
sign-in of an account in the run then queues one. A database the bench
made is then settled, as one of its size runs day to day rather than just
after a bulk load: SQLite's write-ahead log is copied into the file,
PostgreSQL's seeded tables analysed and a checkpoint taken.

With TOBIRA_PPROF_ADDR=127.0.0.1:PORT in the environment, the servers the
bench starts serve the Go profiler: node 1 there, node i at PORT+i-1. Every
other TOBIRA_* variable is kept from them: the generated configuration
decides.

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
	flow        string
	newBrowsers bool
	rate        float64
	sqliteSync  string
	pprofAddr   string
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
	f.IntVar(&o.pool, "pool", 120000, "accounts with the authenticator app that the virtual customers sign in with")
	f.Float64Var(&o.oidcRatio, "oidc", 1, "share of iterations that run the OpenID Connect code flow (0 to 1; --flow full)")
	f.StringVar(&o.flow, "flow", "full", "an iteration: full (sign-in, security page, code flow, sign-out) or signin (login page to landing page, then the cookies dropped)")
	f.BoolVar(&o.newBrowsers, "new-browsers", false, "seed no earlier sign-in: every account's first sign-in is from a new browser and queues a notice mail")
	f.StringVar(&o.sqliteSync, "sqlite-synchronous", "full", "SQLite's commits: full (synced at every commit) or normal (at checkpoints; see sqlite_synchronous in docs/CONFIG.md)")
	f.Float64Var(&o.rate, "rate", 0, "start at most this many iterations a second in all (an offered load, e.g. half the peak); 0: as fast as the customers go")
	f.StringVar(&o.jsonPath, "json", "", "also write the raw numbers to this file")
	f.StringVar(&o.target, "target", "", "bench this running server (http://127.0.0.1:PORT, or https://) instead of starting one")
	f.StringVar(&o.serverBin, "server-bin", "", "the tobira binary to start (default this one)")
	if err := f.Parse(args); err != nil {
		return errUsage
	}
	if *f.database == "" && o.target == "" {
		// As every command, the bench's servers work where
		// $TOBIRA_DATABASE_URL says unless told otherwise.
		*f.database = m.Getenv("TOBIRA_DATABASE_URL")
	}
	o.pprofAddr = m.Getenv("TOBIRA_PPROF_ADDR")
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
	if o.jsonPath != "" {
		// Found out now, not after the whole run.
		if err := writable(o.jsonPath); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	b := &bencher{m: m, o: o, password: "bench password " + secret.Token(6)}
	defer b.cleanup()
	if err := b.prepare(ctx, f); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted (%w) before the load: nothing measured", ctx.Err())
		}
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
	case o.count < 0:
		// Else a negative count would run for --duration unsaid.
		return "--count must not be negative"
	case o.rate < 0 || math.IsNaN(o.rate) || math.IsInf(o.rate, 0):
		return "--rate: want a number of iterations a second, not negative (0: as fast as the customers go)"
	case o.sqliteSync != "full" && o.sqliteSync != "normal":
		return "--sqlite-synchronous: want full or normal"
	case o.hashing != "production" && o.hashing != "cheap":
		return "--hashing: want production or cheap"
	case o.nodes < 1:
		return "--nodes must be at least 1"
	case o.pool < 1 || o.accounts < 0:
		return "--pool must be at least 1 and --accounts not negative"
	case !(o.oidcRatio >= 0 && o.oidcRatio <= 1): // NaN too
		return "--oidc: want a share between 0 and 1"
	case o.flow != "full" && o.flow != "signin":
		return "--flow: want full or signin"
	case o.flow == "signin" && given["oidc"]:
		return "--oidc: the code flow is part of --flow full only"
	}
	if o.flow == "signin" {
		o.oidcRatio = 0
	}
	if o.target != "" {
		u, err := url.Parse(o.target)
		switch {
		case err != nil || u.Scheme != "http" && u.Scheme != "https" || !loopback(u.Hostname()) ||
			u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil:
			// A path would be put before the portal's own: every page
			// not found.
			return "--target: want a server on this machine, http://127.0.0.1:PORT (or https://)"
		case o.nodes > 1 || given["server-bin"] || given["fresh-schema"] || given["sqlite-synchronous"]:
			return "--nodes, --server-bin, --fresh-schema and --sqlite-synchronous start servers: not with --target"
		case o.hashing != "production":
			// production is the configuration's: the server's own.
			return "--hashing: with --target the server's configuration decides (production, the default)"
		}
		return ""
	}
	if o.pprofAddr != "" {
		host, port, err := net.SplitHostPort(o.pprofAddr)
		p, perr := strconv.Atoi(port)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || perr != nil || p < 1 || p+o.nodes-1 > 65535 {
			return fmt.Sprintf("TOBIRA_PPROF_ADDR %q: want a loopback address such as 127.0.0.1:6060", o.pprofAddr)
		}
	}
	if given["data"] || given["config"] {
		return "--data and --config name a running server's configuration: only with --target"
	}
	if db := *f.database; db != "" && !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
		return "--database: want a postgres:// URL"
	}
	if given["sqlite-synchronous"] && *f.database != "" {
		return "--sqlite-synchronous is SQLite's: not with --database"
	}
	if given["fresh-schema"] && *f.database == "" {
		return "--fresh-schema is for --database postgres://...: SQLite's file is the run's own"
	}
	if o.nodes > 1 && *f.database == "" {
		return "--nodes above 1 share one database: give --database postgres://... (SQLite is one node's file)"
	}
	return ""
}

// writable checks that path can be written, leaving no file that was not
// there.
func writable(path string) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	if errors.Is(statErr, os.ErrNotExist) {
		os.Remove(path)
	}
	return nil
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
	// st is the database, open for counting the mails each level queued
	// to mailPrefix..., the virtual customers' addresses.
	st         *sqlstore.DB
	mailPrefix string
	nodes      []*benchNode
	bases      []string
	// held keeps node i's port bound until node i starts (nil where the
	// bench starts no servers).
	held []net.Listener
	// transport reaches a target serving HTTPS itself, trusting its
	// certificate; nil: the virtual customers' own.
	transport http.RoundTripper
	rr        atomic.Uint64
	report    benchReport
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
		if strings.HasPrefix(b.cfg.BaseURL, "https://") && b.cfg.TLSCertFile != "" {
			tc, err := trustingCert(b.cfg.TLSCertFile)
			if err != nil {
				return err
			}
			b.transport = loadgen.NewTransport(tc)
		}
		b.report.Hashing = "the server's"
		// Else the bench would seed the accounts in its database (making
		// one where there was none) and count every visit an error.
		if err := b.probeTarget(ctx); err != nil {
			return err
		}
	} else if err := b.generateConfig(ctx, *f.database); err != nil {
		return err
	}
	b.report.fill(b.cfg, b.o)
	if err := b.seed(ctx); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	fmt.Fprintf(b.m.Stderr, "measuring argon2id hashes per second on %d cores...\n", runtime.GOMAXPROCS(0))
	b.report.HashesPerSecond, b.report.CeilingRates = hashCeiling(ctx, b.cfg.Argon2, 2*time.Second)
	b.report.HashCores = busyCores(b.cfg.Argon2, b.report.CeilingRates, b.report.HashesPerSecond)
	if b.report.HashesPerSecond > 0 {
		// One argon2id verify per sign-in, at what a core spends on one
		// while the cores the best rate kept busy all hash.
		b.report.HashCPUPerSignInMS = 1000 * float64(b.report.HashCores) / b.report.HashesPerSecond
	}
	if b.o.target == "" {
		return b.startNodes(ctx)
	}
	return nil
}

// probeTarget checks that the --target answers HTTP at all.
func (b *bencher) probeTarget(ctx context.Context) error {
	client := &http.Client{Transport: b.transport, Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, "GET", b.bases[0]+"/healthz", nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("--target %s: no server answers there (%v): start it first, or name the one running", b.o.target, err)
	}
	res.Body.Close()
	return nil
}

// run drives the levels, then reports.
func (b *bencher) run(ctx context.Context) error {
	b.report.IdleRSSBytes = b.sumProc(func(pid int) int64 { return procStatus(pid, "VmRSS") })
	var runErr error
	// With production hashing the machine's share of its cores drifts
	// over minutes, so a level is measured against the ceiling of its own
	// moment: measured right before and right after it (the one after is
	// the next level's before), and the mean of the two taken.
	bracket := b.o.hashing == "production"
	var before float64
	for i, conc := range b.o.levels {
		ceiling := b.report.HashesPerSecond
		if bracket {
			if i == 0 {
				before = b.measureCeiling(ctx)
			}
			ceiling = before
		}
		fmt.Fprintf(b.m.Stderr, "%d virtual customers...\n", conc)
		lv := b.level(ctx, conc, ceiling)
		if bracket && ctx.Err() == nil {
			before = b.closeBracket(ctx, &lv, before)
		}
		b.report.Levels = append(b.report.Levels, lv)
		if ctx.Err() != nil {
			runErr = fmt.Errorf("interrupted (%w): the report covers the run until then", ctx.Err())
			break
		}
	}
	if n := b.endedNode(); n != nil && runErr == nil {
		// Its errors are in the report; the run is no measure of a
		// server that holds, and a script must not take it for one.
		runErr = fmt.Errorf("the server at %s ended during the run (%v): the report covers the run until then", n.base, n.err)
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

// closeBracket measures the ceiling right after the level lv, takes the
// mean of it and before as the level's, and returns it: the next level's
// before. A measurement an interrupt cut short is none (taken, it made
// the ceiling lower, a 0 halved it): lv keeps before alone.
func (b *bencher) closeBracket(ctx context.Context, lv *benchLevel, before float64) float64 {
	after := b.measureCeiling(ctx)
	if ctx.Err() != nil {
		return before
	}
	lv.bracket(before, after)
	lv.estimateRest(b.report.HashCores)
	return after
}

// serverFigures are counters summed over the servers' /metrics.
type serverFigures struct {
	hashes        int64   // tobira_password_hash_seconds_count
	hashSeconds   float64 // tobira_password_hash_seconds_sum
	dbWaits       int64   // tobira_db_connection_waits_total, every pool
	dbWaitSeconds float64 // tobira_db_connection_wait_seconds_total
	dbRetried     int64   // tobira_db_transactions_retried_total
}

// serverFigureNames is how many metrics serverFigures sums.
const serverFigureNames = 5

// serverMetrics reads and sums the servers' counters since they started;
// ok is false when a server's could not be read, or lacks them (a server
// of an older version).
func (b *bencher) serverMetrics(ctx context.Context) (f serverFigures, ok bool) {
	client := &http.Client{Transport: b.transport, Timeout: 2 * time.Second}
	for _, base := range b.bases {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
		if err != nil {
			return f, false
		}
		resp, err := client.Do(req)
		if err != nil {
			return f, false
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return f, false
		}
		seen := map[string]bool{}
		for line := range strings.Lines(string(body)) {
			series, value, _ := strings.Cut(strings.TrimSpace(line), " ")
			name, _, _ := strings.Cut(series, "{")
			v, err := strconv.ParseFloat(value, 64)
			if err != nil || strings.HasPrefix(name, "#") {
				continue
			}
			switch name {
			case "tobira_password_hash_seconds_count":
				f.hashes += int64(v)
			case "tobira_password_hash_seconds_sum":
				f.hashSeconds += v
			case "tobira_db_connection_waits_total":
				f.dbWaits += int64(v)
			case "tobira_db_connection_wait_seconds_total":
				f.dbWaitSeconds += v
			case "tobira_db_transactions_retried_total":
				f.dbRetried += int64(v)
			default:
				continue
			}
			seen[name] = true
		}
		if len(seen) < serverFigureNames {
			return f, false
		}
	}
	return f, len(b.bases) > 0
}

// measureCeiling measures the hash ceiling again, between levels, after a
// second's pause: right after a level the servers still collect its
// garbage and give its memory back, and a ceiling measured then read up to
// a sixth lower than one a second later.
func (b *bencher) measureCeiling(ctx context.Context) float64 {
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return 0
	}
	fmt.Fprintf(b.m.Stderr, "measuring argon2id hashes per second again...\n")
	best, _ := hashCeiling(ctx, b.cfg.Argon2, 2*time.Second)
	return best
}

// base picks the node for the next request: each in turn.
func (b *bencher) base() string {
	return b.bases[b.rr.Add(1)%uint64(len(b.bases))]
}

// level runs conc virtual customers until the duration or count is spent,
// and measures the servers meanwhile.
func (b *bencher) level(ctx context.Context, conc int, ceiling float64) benchLevel {
	// Peak memory of this level only: writing 5 to clear_refs resets
	// VmHWM (Linux).
	resetPeaks := true
	for _, n := range b.nodes {
		if os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", n.cmd.Process.Pid), []byte("5"), 0) != nil {
			resetPeaks = false
		}
	}
	mail0, mailErr := b.newestMail(ctx)
	figures0, figuresRead := b.serverMetrics(ctx)
	cpu0, self0 := b.sumProc(procCPU), procCPU(os.Getpid())
	rec := &loadgen.Recorder{}
	var signIns, iterations, flows atomic.Int64
	waits0 := b.pool.waits.Load()
	start := time.Now()
	// With --rate, iteration i may start only at start + i/rate: the
	// customers offer that load, whatever the server's answer time.
	var paced atomic.Int64
	var pace func(until context.Context) bool
	if b.o.rate > 0 {
		pace = func(until context.Context) bool {
			at := start.Add(time.Duration(float64(paced.Add(1)-1) / b.o.rate * float64(time.Second)))
			select {
			case <-time.After(time.Until(at)):
				return true
			case <-until.Done():
				return false
			}
		}
	}
	// done counts each customer's iterations; every time done*oidcRatio
	// passes a whole number, one has the code flow (half the customers
	// half a step later, so that a share of 0.5 mixes).
	done := make([]float64, conc)
	// Requests still unanswered a grace after the level's duration are
	// cut (loadgen.Level): a server that stops answering does not stretch
	// the level to the requests' timeout.
	elapsed := loadgen.Level{Workers: conc, Duration: b.o.duration, Count: b.o.count, Wait: pace,
		Iteration: func(reqs, until context.Context, w int) bool {
			// Customers waiting for the pool's next TOTP step stop at
			// the level's end.
			acct, err := b.pool.take(until)
			if err != nil {
				return false
			}
			c := loadgen.NewCustomer(acct.email, b.password, acct.key)
			if b.transport != nil {
				c.HTTP.Transport = b.transport
			}
			c.Observe = rec.Observe
			withOIDC := int((done[w]+1)*b.o.oidcRatio+float64(w)*0.5) > int(done[w]*b.o.oidcRatio+float64(w)*0.5)
			done[w]++
			signedIn, flowed, err := b.iteration(reqs, c, acct, withOIDC)
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
			return true
		}}.Run(ctx)
	lv := benchLevel{
		Concurrency: conc, Seconds: elapsed.Seconds(),
		SignIns: signIns.Load(), Iterations: iterations.Load(), OIDCFlows: flows.Load(),
		Errors: rec.Errors(), PoolWaits: b.pool.waits.Load() - waits0, Steps: map[string]benchStep{},
		PeakIsLevel: resetPeaks, Interrupted: ctx.Err() != nil, Cut: rec.Cut(),
	}
	if lv.Interrupted {
		// The requests the interrupt cut short are not the server's
		// errors; what the level did until then is still read from the
		// servers and the database.
		delete(lv.Errors, "transport: canceled")
		ctx = context.WithoutCancel(ctx)
	}
	for name, l := range rec.Steps() {
		lv.Steps[name] = benchStep{Count: l.Count, P50: ms(l.P50), P95: ms(l.P95), P99: ms(l.P99), Max: ms(l.Max)}
	}
	lv.SignInsPerSecond = float64(lv.SignIns) / elapsed.Seconds()
	lv.ofCeiling(ceiling)
	if len(b.nodes) > 0 {
		lv.PeakRSSBytes = b.sumProc(func(pid int) int64 { return procStatus(pid, "VmHWM") })
		lv.ServerCPUSeconds = float64(b.sumProc(procCPU)-cpu0) / float64(time.Second)
	}
	lv.BenchCPUSeconds = float64(procCPU(os.Getpid())-self0) / float64(time.Second)
	if f, ok := b.serverMetrics(ctx); ok && figuresRead {
		if f.hashes > figures0.hashes {
			lv.ServerHashMS = 1000 * (f.hashSeconds - figures0.hashSeconds) / float64(f.hashes-figures0.hashes)
		}
		lv.DB = &benchDB{Waits: f.dbWaits - figures0.dbWaits, WaitMS: 1000 * (f.dbWaitSeconds - figures0.dbWaitSeconds),
			Retried: f.dbRetried - figures0.dbRetried}
	}
	if lv.SignIns > 0 {
		lv.ServerCPUPerSignInMS = 1000 * lv.ServerCPUSeconds / float64(lv.SignIns)
		lv.BenchCPUPerSignInMS = 1000 * lv.BenchCPUSeconds / float64(lv.SignIns)
		lv.estimateRest(b.report.HashCores)
	}
	// The notices are queued in the sign-in's request: by now all are in.
	if mailErr == nil {
		mailErr = b.countMails(ctx, mail0, &lv)
	}
	if mailErr != nil {
		lv.MailsQueued = -1
		fmt.Fprintf(b.m.Stderr, "tobira bench: mails queued not counted: %v\n", mailErr)
	}
	return lv
}

// iteration is one virtual customer's visit: the sign-in, then with
// --flow full the security page, the code flow when asked, and the
// sign-out, or with --flow signin the cookies dropped. It stops at the
// first step that fails; the recorder counted that step's error.
func (b *bencher) iteration(ctx context.Context, c *loadgen.Customer, acct *poolAccount, withOIDC bool) (signedIn, flowed bool, err error) {
	start := time.Now()
	// Until its code is sent the account used none of its TOTP step: a
	// visit that ends sooner gives it back, else a server refusing every
	// password, or not answering, would use the pool up and the report
	// ask for a larger one.
	if err := c.StartSignIn(ctx, b.base()); err != nil {
		b.pool.giveBack(acct)
		return false, false, err
	}
	if err := c.SubmitPassword(ctx, b.base()); err != nil {
		b.pool.giveBack(acct)
		return false, false, err
	}
	now := time.Now()
	code, err := c.Code(now)
	if err != nil {
		b.pool.giveBack(acct)
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
	if b.o.flow == "signin" {
		// No sign-out: the browser forgets its session, and the next
		// iteration is a fresh sign-in.
		c.DropCookies()
		return true, false, nil
	}
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
	// before is step before take, for giveBack; only the customer that
	// took the account uses it.
	before int64
}

// customerPool hands out accounts in turn, each at most once per TOTP
// step: the portal refuses a step's code once the account used it.
type customerPool struct {
	mu    sync.Mutex
	all   []*poolAccount
	next  int
	waits atomic.Int64 // how often every account had signed in this step
}

// giveBack returns an account taken whose code was not sent: it may sign
// in again within this step.
func (p *customerPool) giveBack(a *poolAccount) {
	a.step.Store(a.before)
}

func (p *customerPool) add(email, key string) {
	a := &poolAccount{email: email, key: key}
	a.step.Store(-1)
	p.all = append(p.all, a)
}

// take returns the account used longest ago, or failing that one given
// back since, waiting for the next TOTP step when every account signed in
// during this step.
func (p *customerPool) take(ctx context.Context) (*poolAccount, error) {
	for {
		p.mu.Lock()
		now := time.Now()
		// The accounts go in turn, so the one at next is the one used
		// longest ago; when it signed in during this step, one further
		// on may have been given back.
		for i := range len(p.all) {
			j := (p.next + i) % len(p.all)
			a := p.all[j]
			if a.step.Load() < mfa.Step(now) {
				p.next = (j + 1) % len(p.all)
				// Taken: no other customer gets it before it is used.
				a.before = a.step.Load()
				a.step.Store(mfa.Step(now))
				p.mu.Unlock()
				return a, nil
			}
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
