package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/app"
	"github.com/tobira/tobira/internal/testkit"
)

// childEnv makes this test binary run tobira's Main instead of the tests:
// the bench starts its servers as child processes of its own binary, which
// in these tests is the test binary.
const childEnv = "GO_TEST_RUN_TOBIRA"

func init() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.NewMain().Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// benchReport is what the tests read of --json.
type benchReport struct {
	Engine    string    `json:"engine"`
	Schema    string    `json:"schema"`
	Nodes     int       `json:"nodes"`
	Accounts  int       `json:"accounts"`
	Customers int       `json:"customers"`
	StartupMS []float64 `json:"startup_ms"`
	RestartMS float64   `json:"restart_ms"`
	Hashes    float64   `json:"hashes_per_second"`
	ByAtOnce  []struct {
		AtOnce    int     `json:"at_once"`
		PerSecond float64 `json:"per_second"`
	} `json:"hash_ceiling_by_hashes_at_once"`
	Flow   string   `json:"flow"`
	Pprof  []string `json:"pprof"`
	Levels []struct {
		Concurrency  int            `json:"concurrency"`
		SignInsPerS  float64        `json:"sign_ins_per_second"`
		Ceiling      float64        `json:"hashes_per_second"`
		Percent      float64        `json:"percent_of_hash_ceiling"`
		Before       float64        `json:"hashes_per_second_before"`
		After        float64        `json:"hashes_per_second_after"`
		MailsQueued  int            `json:"mails_queued"`
		SignIns      int            `json:"sign_ins"`
		Iterations   int            `json:"iterations"`
		OIDCFlows    int            `json:"oidc_flows"`
		Errors       map[string]int `json:"errors"`
		PeakRSSBytes int64          `json:"peak_rss_bytes"`
		PoolWaits    int64          `json:"pool_waits"`
		Interrupted  bool           `json:"interrupted"`
		Steps        map[string]struct {
			Count int `json:"count"`
		} `json:"steps"`
		DB *struct {
			Waits   int64   `json:"connection_waits"`
			WaitMS  float64 `json:"connection_wait_ms"`
			Retried int64   `json:"transactions_retried"`
		} `json:"db"`
	} `json:"levels"`
}

// runBench runs the bench with a small load and cheap hashing and reads
// its report.
func runBench(t *testing.T, env map[string]string, args ...string) (result, benchReport) {
	t.Helper()
	t.Setenv(childEnv, "1")
	path := filepath.Join(t.TempDir(), "bench.json")
	r := run(t, env, append([]string{"bench", "--json", path}, args...)...)
	if r.code != 0 {
		t.Fatalf("bench: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, raw)
	}
	return r, rep
}

// checkLevels: every level of the full flow completed its iterations with
// no error, and queued no mail.
func checkLevels(t *testing.T, rep benchReport, iterations int, levels ...int) {
	t.Helper()
	checkFlow(t, rep, "full", iterations, 0, levels...)
}

// fullSteps and signInSteps are the steps each iteration of a flow takes.
var (
	signInSteps = []string{"login-page", "login", "code-page", "code", "landing", "sign-in"}
	fullSteps   = append(slices.Clone(signInSteps), "security", "authorize", "token", "logout", "oidc-flow")
)

// checkFlow: every level of flow completed its iterations with no error,
// and queued mails mails.
func checkFlow(t *testing.T, rep benchReport, flow string, iterations, mails int, levels ...int) {
	t.Helper()
	if rep.Flow != flow {
		t.Errorf("flow %q reported, want %q", rep.Flow, flow)
	}
	if len(rep.Levels) != len(levels) {
		t.Fatalf("%d levels reported, want %d", len(rep.Levels), len(levels))
	}
	steps, flows := fullSteps, iterations
	if flow == "signin" {
		steps, flows = signInSteps, 0
	}
	for i, lv := range rep.Levels {
		if lv.Concurrency != levels[i] {
			t.Errorf("level %d: concurrency %d, want %d", i, lv.Concurrency, levels[i])
		}
		if lv.SignIns != iterations || lv.Iterations != iterations || lv.OIDCFlows != flows {
			t.Errorf("level %d: %d sign-ins, %d iterations, %d OIDC flows; want %d, %d, %d",
				lv.Concurrency, lv.SignIns, lv.Iterations, lv.OIDCFlows, iterations, iterations, flows)
		}
		if len(lv.Errors) > 0 {
			t.Errorf("level %d: errors %v", lv.Concurrency, lv.Errors)
		}
		for _, step := range steps {
			if lv.Steps[step].Count != iterations {
				t.Errorf("level %d: step %s measured %d times, want %d", lv.Concurrency, step, lv.Steps[step].Count, iterations)
			}
		}
		for step, st := range lv.Steps {
			if flow == "signin" && !slices.Contains(steps, step) && st.Count > 0 {
				t.Errorf("level %d: step %s measured %d times, not part of the %s flow", lv.Concurrency, step, st.Count, flow)
			}
		}
		if lv.MailsQueued != mails {
			t.Errorf("level %d: %d mails queued to the customers, want %d", lv.Concurrency, lv.MailsQueued, mails)
		}
		if lv.DB == nil || lv.DB.Waits < 0 || lv.DB.WaitMS < 0 || lv.DB.Retried < 0 {
			t.Errorf("level %d: the servers' database figures %+v, want them read", lv.Concurrency, lv.DB)
		}
	}
}

func TestBench(t *testing.T) {
	r, rep := runBench(t, nil, "--hashing", "cheap", "--concurrency", "1,2", "--count", "5",
		"--pool", "30", "--accounts", "200")
	checkLevels(t, rep, 5, 1, 2)
	if rep.Engine != "SQLite" || rep.Nodes != 1 || rep.Accounts != 200 || rep.Customers != 30 {
		t.Errorf("report header %+v", rep)
	}
	if len(rep.StartupMS) != 1 || rep.RestartMS <= 0 || rep.Hashes <= 0 {
		t.Errorf("start-up %v, restart %v, hashes per second %v", rep.StartupMS, rep.RestartMS, rep.Hashes)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil && rep.Levels[0].PeakRSSBytes == 0 {
		t.Error("no peak memory of the server measured")
	}
	for _, want := range []string{"| customers | sign-ins | sign-ins/s |", "\n| 1 | 5 |", "\n| 2 | 5 |", "SQLite, 1 node", "cheap (argon2id m=8 KiB, t=1, p=1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Errors:") {
		t.Errorf("report shows errors:\n%s", r.stdout)
	}
}

// TestBenchProductionCeiling: with production hashing each level is a share
// of the ceiling measured right before and right after it, the one after a
// level being the next one's before, and the report says so.
func TestBenchProductionCeiling(t *testing.T) {
	r, rep := runBench(t, nil, "--hashing", "production", "--flow", "signin", "--concurrency", "1,2",
		"--count", "2", "--pool", "30", "--accounts", "50")
	checkFlow(t, rep, "signin", 2, 0, 1, 2)
	for i, lv := range rep.Levels {
		if lv.Before <= 0 || lv.After <= 0 || lv.Ceiling != (lv.Before+lv.After)/2 {
			t.Errorf("level %d: ceiling %v of %v before and %v after; want their mean", lv.Concurrency, lv.Ceiling, lv.Before, lv.After)
		}
		if want := 100 * lv.SignInsPerS / lv.Ceiling; lv.Percent != want {
			t.Errorf("level %d: %v %% of the ceiling, want %v", lv.Concurrency, lv.Percent, want)
		}
		if i > 0 && lv.Before != rep.Levels[i-1].After {
			t.Errorf("level %d measured its own ceiling before (%v), not the previous level's after (%v)", lv.Concurrency, lv.Before, rep.Levels[i-1].After)
		}
	}
	if want := "again right before and right after each level"; !strings.Contains(r.stdout, want) {
		t.Errorf("report lacks %q:\n%s", want, r.stdout)
	}
	// The ceiling is the best of one hash at a time and one per core (on
	// one core, of one alone).
	best, atOnce := 0.0, []int{}
	for _, c := range rep.ByAtOnce {
		best = max(best, c.PerSecond)
		atOnce = append(atOnce, c.AtOnce)
	}
	cores := runtime.GOMAXPROCS(0)
	if !slices.IsSorted(atOnce) || len(slices.Compact(slices.Clone(atOnce))) != len(atOnce) ||
		!slices.Contains(atOnce, 1) || !slices.Contains(atOnce, cores) || best <= 0 || rep.Hashes != best {
		t.Errorf("ceiling %v of %+v, want the best of 1 and %d at once, and any between", rep.Hashes, rep.ByAtOnce, cores)
	}
	if cores > 1 && !strings.Contains(r.stdout, "hashes/s at best (1 at once ") {
		t.Errorf("report does not give the rate of one hash at a time:\n%s", r.stdout)
	}
}

// TestBenchSignInFlow: the sign-in alone, the customers returning from a
// browser the portal knows (no new-browser notice), the profiler passed to
// the server.
func TestBenchSignInFlow(t *testing.T) {
	pprof := testkit.FreeAddr(t)
	r, rep := runBench(t, map[string]string{"TOBIRA_PPROF_ADDR": pprof},
		"--hashing", "cheap", "--flow", "signin", "--concurrency", "1,3", "--count", "6", "--pool", "30")
	checkFlow(t, rep, "signin", 6, 0, 1, 3)
	if want := "http://" + pprof + "/debug/pprof/"; len(rep.Pprof) != 1 || rep.Pprof[0] != want {
		t.Errorf("profiler %q, want [%s]", rep.Pprof, want)
	}
	// The per-level figures of CPU without the hash and as a multiple of
	// the load tool's are left out where a level's few sign-ins measured
	// no CPU tick; what explains them is always there.
	for _, want := range []string{"flow: signin", "browsers: returning customers", "Password hashing is estimated", "the server's CPU as a multiple of it", "| mails queued |", "Database, per level (the servers' tobira_db_connection_waits_total"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestBenchNewBrowsers: with no earlier sign-in seeded, each account's
// first sign-in queues a new-browser notice.
func TestBenchNewBrowsers(t *testing.T) {
	r, rep := runBench(t, nil, "--hashing", "cheap", "--flow", "signin", "--new-browsers",
		"--concurrency", "2", "--count", "5", "--pool", "30")
	checkFlow(t, rep, "signin", 5, 5, 2)
	if !strings.Contains(r.stdout, "browsers: new (--new-browsers)") {
		t.Errorf("report does not say the browsers are new:\n%s", r.stdout)
	}
}

// freePorts is a loopback address whose port and the next are free, both
// below the kernel's ephemeral range (32768 and up by default): a port
// from bind(0) is odd here, and the next, even one is what outgoing
// connections take first, so it could be gone by the time the second node
// binds its profiler seconds later. Below the range nothing takes a port
// unasked.
func freePorts(t *testing.T) string {
	t.Helper()
	for range 100 {
		p := 20000 + 2*rand.IntN(6000)
		var held []net.Listener
		for _, port := range []int{p, p + 1} {
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				held = append(held, ln)
			}
		}
		for _, ln := range held {
			ln.Close()
		}
		if len(held) == 2 {
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		}
	}
	t.Fatal("no two free ports in a row")
	return ""
}

// TestBenchPostgresNodes runs two servers on one PostgreSQL database, in a
// schema the bench creates and drops.
func TestBenchPostgresNodes(t *testing.T) {
	database := testkit.Postgres(t)
	pprof := freePorts(t)
	_, rep := runBench(t, map[string]string{"TOBIRA_PPROF_ADDR": pprof}, "--hashing", "cheap", "--concurrency", "3", "--count", "6", "--pool", "30",
		"--nodes", "2", "--database", database)
	checkLevels(t, rep, 6, 3)
	if rep.Engine != "PostgreSQL" || rep.Nodes != 2 || len(rep.StartupMS) != 2 || rep.Schema == "" {
		t.Errorf("report header %+v", rep)
	}
	host, port, _ := net.SplitHostPort(pprof)
	p, _ := strconv.Atoi(port)
	want := []string{"http://" + pprof + "/debug/pprof/", "http://" + net.JoinHostPort(host, strconv.Itoa(p+1)) + "/debug/pprof/"}
	if !slices.Equal(rep.Pprof, want) {
		t.Errorf("profilers %q, want %q", rep.Pprof, want)
	}
	db, err := sql.Open("pgx", database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1`, rep.Schema).Scan(&n); err != nil || n != 0 {
		t.Errorf("the bench's schema %s is left (%d, %v)", rep.Schema, n, err)
	}
}

// TestBenchTarget benches a server already running, seeding its database.
func TestBenchTarget(t *testing.T) {
	addr := testkit.FreeAddr(t)
	// The provider's redirects go to its base URL.
	dir := dataDir(t, `, "base_url": "http://`+addr+`"`)
	env := keyEnv()
	start(t, env, "serve", "--data", dir, "--addr", addr, "--console-addr", "off")
	// --hashing production is the server's own hashing: OPERATIONS.md's
	// command line gives it.
	r, rep := runBench(t, env, "--target", "http://"+addr, "--hashing", "production", "--data", dir, "--concurrency", "2", "--count", "4", "--pool", "10")
	checkLevels(t, rep, 4, 2)
	if len(rep.StartupMS) != 0 || rep.RestartMS != 0 || rep.Levels[0].PeakRSSBytes != 0 {
		t.Errorf("a running server's start-up or memory reported: %+v", rep)
	}
	if !strings.Contains(r.stdout, "running already") {
		t.Errorf("report does not name the target:\n%s", r.stdout)
	}
}

// TestBenchTargetWithoutTheAccounts benches a running server on another
// database than the one the bench seeded: every password is refused, each
// an error of its kind, and the accounts, whose codes were not used, are
// not used up (with --count the customers would wait for the next TOTP
// step and the report ask for a larger pool).
func TestBenchTargetWithoutTheAccounts(t *testing.T) {
	addr := testkit.FreeAddr(t)
	served := dataDir(t, `, "base_url": "http://`+addr+`"`)
	env := keyEnv()
	start(t, env, "serve", "--data", served, "--addr", addr, "--console-addr", "off")
	other := dataDir(t, `, "base_url": "http://`+addr+`"`)
	r, rep := runBench(t, env, "--target", "http://"+addr, "--data", other, "--concurrency", "1", "--count", "3", "--pool", "2")
	lv := rep.Levels[0]
	if lv.SignIns != 0 || lv.Errors["login: password refused"] != 3 || len(lv.Errors) != 1 || lv.PoolWaits != 0 {
		t.Errorf("%d sign-ins, errors %v, %d pool waits; want 0, 3 passwords refused, 0", lv.SignIns, lv.Errors, lv.PoolWaits)
	}
	if !strings.Contains(r.stdout, "refused every password of the bench's accounts") || strings.Contains(r.stdout, "raise --pool") {
		t.Errorf("report does not say why every password was refused:\n%s", r.stdout)
	}
}

// TestBenchInterrupted: SIGINT in the middle of a level ends the run with a
// report of the part that ran, the level marked so, the requests cut short
// not counted as the server's errors and its figures read, and removes
// the temporary data folder.
func TestBenchInterrupted(t *testing.T) {
	t.Setenv(childEnv, "1")
	path := filepath.Join(t.TempDir(), "bench.json")
	ctx, interrupt := context.WithCancel(t.Context())
	var out, errb testkit.Buffer
	m := &app.Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := make(chan int)
	go func() {
		code <- m.Run(ctx, []string{"bench", "--json", path, "--hashing", "cheap", "--pool", "200",
			"--concurrency", "2", "--duration", "10m"})
	}()
	for !strings.Contains(errb.String(), "virtual customers") {
		select {
		case c := <-code:
			t.Fatalf("exit %d before the load:\n%s", c, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond) // requests under way
	interrupt()
	if c := <-code; c != 1 || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and a word of the interrupt", c, errb.String())
	}
	var rep benchReport
	raw, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(raw, &rep)
	}
	if err != nil || len(rep.Levels) != 1 {
		t.Fatalf("--json: %v\n%s", err, raw)
	}
	lv := rep.Levels[0]
	if !lv.Interrupted || len(lv.Errors) > 0 || lv.DB == nil || lv.MailsQueued != 0 {
		t.Errorf("level: interrupted %v, errors %v, database %+v, mails %d; want true, none, read, 0",
			lv.Interrupted, lv.Errors, lv.DB, lv.MailsQueued)
	}
	if !strings.Contains(out.String(), "interrupted after") {
		t.Errorf("report does not say the level was interrupted:\n%s", out.String())
	}
	_, rest, _ := strings.Cut(errb.String(), "accounts (200 with the authenticator app) in ")
	db, _, _ := strings.Cut(rest, "...")
	if dir := filepath.Dir(db); !strings.Contains(dir, "tobira-bench-") {
		t.Errorf("no data folder named in %q", errb.String())
	} else if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data folder %s left behind (%v)", dir, err)
	}
}

// TestBenchInterruptedBeforeTheLoad: SIGINT while the bench measures the
// hash ceiling says that nothing was measured, not "context canceled".
func TestBenchInterruptedBeforeTheLoad(t *testing.T) {
	t.Setenv(childEnv, "1")
	ctx, interrupt := context.WithCancel(t.Context())
	var out, errb testkit.Buffer
	m := &app.Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := make(chan int)
	go func() {
		code <- m.Run(ctx, []string{"bench", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1"})
	}()
	for !strings.Contains(errb.String(), "measuring argon2id") {
		select {
		case c := <-code:
			t.Fatalf("exit %d before the ceiling:\n%s", c, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	interrupt()
	if c := <-code; c != 1 || !strings.Contains(errb.String(), "interrupted (context canceled) before the load: nothing measured") ||
		strings.Contains(errb.String(), "ended with") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and that nothing was measured", c, errb.String())
	}
}

// TestBenchTargetNotAnswering: a --target where no server answers is
// refused before the bench seeds its accounts in the database named.
func TestBenchTargetNotAnswering(t *testing.T) {
	addr := testkit.FreeAddr(t)
	dir := dataDir(t, `, "base_url": "http://`+addr+`"`)
	r := run(t, keyEnv(), "bench", "--target", "http://"+addr, "--data", dir, "--concurrency", "1", "--count", "1", "--pool", "2")
	if r.code == 0 || !strings.Contains(r.stderr, "no server answers") {
		t.Errorf("exit %d, stderr %q; want a failure naming the target", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "tobira.db")); err == nil {
		t.Error("the bench made a database in the data folder of a server not running")
	}
}

// TestBenchTargetHTTPS benches a running server that serves HTTPS itself
// with a self-signed certificate, trusted from its configuration.
func TestBenchTargetHTTPS(t *testing.T) {
	addr := testkit.FreeAddr(t)
	dir := dataDir(t, `, "base_url": "https://`+addr+`"`)
	cert := testkit.SelfSignedCert(t, dir, "portal", time.Now().Add(24*time.Hour), "127.0.0.1")
	env := keyEnv()
	env["TOBIRA_TLS_CERT_FILE"], env["TOBIRA_TLS_KEY_FILE"] = cert.CertFile, cert.KeyFile
	start(t, env, "serve", "--data", dir, "--addr", addr, "--console-addr", "off")
	_, rep := runBench(t, env, "--target", "https://"+addr, "--data", dir, "--concurrency", "2", "--count", "4", "--pool", "10")
	checkLevels(t, rep, 4, 2)
}

func TestBenchUsage(t *testing.T) {
	// A refusal that failed would start servers: children of this binary.
	t.Setenv(childEnv, "1")
	for _, args := range [][]string{
		{"--nodes", "2"},
		{"--hashing", "fast"},
		{"--concurrency", "1,x"},
		{"--count", "0", "--duration", "0s"},
		{"--target", "http://example.com:8080"},
		{"--target", "http://127.0.0.1:8080", "--hashing", "cheap"},
		{"--target", "http://127.0.0.1:8080/portal"},
		{"--target", "http://127.0.0.1:8080/?x=1"},
		{"--data", t.TempDir()},
		{"--oidc", "2"},
		// Each of these, were it taken, would run a short bench.
		{"--sqlite-synchronous", "normal", "--database", "postgres://127.0.0.1:1/none", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1"},
		{"--fresh-schema=false", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1"},
		{"--target", "http://127.0.0.1:8080", "--sqlite-synchronous", "normal"},
		{"--oidc", "NaN", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1"},
		{"--count", "-5", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--duration", "1ms"},
		{"--rate", "-1", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1"},
		{"--rate", "NaN", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1"},
		{"--rate", "+Inf", "--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1"},
		{"--flow", "oidc"},
		{"--flow", "signin", "--oidc", "0.5"},
		{"extra"},
	} {
		r := run(t, nil, append([]string{"bench"}, args...)...)
		if r.code != 2 || r.stderr == "" {
			t.Errorf("bench %v: exit %d, stderr %q; want 2 and a message", args, r.code, r.stderr)
		}
	}
	// A report that cannot be written is found out before the run.
	r := run(t, nil, "bench", "--json", filepath.Join(t.TempDir(), "missing", "bench.json"),
		"--hashing", "cheap", "--pool", "2", "--concurrency", "1", "--count", "1")
	if r.code == 0 || !strings.Contains(r.stderr, "--json") || strings.Contains(r.stderr, "seeding") {
		t.Errorf("--json in a missing folder: exit %d, stderr %q; want a failure before seeding", r.code, r.stderr)
	}
	for _, addr := range []string{"192.0.2.1:6060", "127.0.0.1", "127.0.0.1:0", "localhost:6060"} {
		r := run(t, map[string]string{"TOBIRA_PPROF_ADDR": addr}, "bench")
		if r.code != 2 || !strings.Contains(r.stderr, "TOBIRA_PPROF_ADDR") {
			t.Errorf("TOBIRA_PPROF_ADDR=%s: exit %d, stderr %q; want 2 and a message", addr, r.code, r.stderr)
		}
	}
}
