package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/app"
	"github.com/tobira/tobira/internal/buildinfo"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
)

// dataDir is a data folder with cheap password hashing, so tests are fast.
func dataDir(t *testing.T, extraJSON string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := `{"argon2": {"memory_kib": 64, "time": 1, "threads": 1}` + extraJSON + `}`
	if err := os.WriteFile(filepath.Join(dir, "tobira.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb testkit.Buffer
	m := &app.Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := m.Run(t.Context(), args)
	return result{code, out.String(), errb.String()}
}

func keyEnv() map[string]string { return map[string]string{"TOBIRA_SECRET_KEY": secret.NewKey()} }

var linkRe = regexp.MustCompile(`https?://\S+/activate\?token=[A-Za-z0-9_%-]+`)

func TestUsersCreate(t *testing.T) {
	dir := dataDir(t, "")
	env := keyEnv()
	r := run(t, env, "users", "create", "--email", "Yamada@Example.JP", "--name", "山田 太郎", "--data", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "yamada@example.jp") || !strings.Contains(r.stdout, "山田 太郎") {
		t.Errorf("stdout does not name the account:\n%s", r.stdout)
	}
	link := linkRe.FindString(r.stdout)
	if link == "" || !strings.HasPrefix(link, "http://127.0.0.1:8080/activate?token=") {
		t.Fatalf("no activation link in:\n%s", r.stdout)
	}
	u, _ := url.Parse(link)
	if len(u.Query().Get("token")) < 40 {
		t.Errorf("token %q is short", u.Query().Get("token"))
	}

	// The same address again, in another case.
	r = run(t, env, "users", "create", "--email", "YAMADA@example.jp", "--name", "別人", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "already has an account") {
		t.Errorf("taken address: exit %d, stderr %q", r.code, r.stderr)
	}
	// A malformed address.
	r = run(t, env, "users", "create", "--email", "not-an-address", "--name", "X", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, `"not-an-address" is not a valid email address`) {
		t.Errorf("malformed address: exit %d, stderr %q", r.code, r.stderr)
	}
	// A name too long.
	r = run(t, env, "users", "create", "--email", "b@example.jp", "--name", strings.Repeat("名", 101), "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "name") {
		t.Errorf("long name: exit %d, stderr %q", r.code, r.stderr)
	}

	// Usage errors: exit 2 with a message, nothing created.
	for _, args := range [][]string{
		{"users", "create", "--name", "X", "--data", dir},
		{"users", "create", "--email", "c@example.jp", "--data", dir},
		{"users", "create", "--email", "c@example.jp", "--name", "X", "--data", dir, "extra"},
		{"users", "create", "--bogus", "--data", dir},
		{"users", "frobnicate", "--data", dir},
		{"users"},
	} {
		r := run(t, env, args...)
		if r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, r.code, r.stderr)
		}
	}
	r = run(t, env, "users", "create", "--name", "X", "--data", dir)
	if !strings.Contains(r.stderr, "--email is required") {
		t.Errorf("missing --email: stderr %q", r.stderr)
	}

	r = run(t, env, "users", "list", "--data", dir)
	if r.code != 0 {
		t.Fatalf("list: exit %d, %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "@example.jp"); n != 1 {
		t.Errorf("list shows %d accounts, want 1:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stdout, "EMAIL") || !strings.Contains(r.stdout, "awaiting activation") {
		t.Errorf("list:\n%s", r.stdout)
	}
}

func TestUsersResetTwoFactor(t *testing.T) {
	dir := dataDir(t, "")
	env := keyEnv()
	if r := run(t, env, "users", "create", "--email", "a@example.jp", "--name", "A", "--data", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := run(t, env, "users", "reset-2fa", "--email", "nobody@example.jp", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "no account") {
		t.Errorf("unknown email: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, env, "users", "reset-2fa", "--email", "bad", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "not a valid email address") {
		t.Errorf("malformed email: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, env, "users", "reset-2fa", "--data", dir)
	if r.code != 2 {
		t.Errorf("no --email: exit %d", r.code)
	}
	r = run(t, env, "users", "reset-2fa", "--email", "A@example.jp", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "a@example.jp") {
		t.Errorf("known email: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestMigrate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new-folder")
	r := run(t, nil, "migrate", "--data", dir)
	if r.code != 0 {
		t.Fatalf("migrate: exit %d, %s", r.code, r.stderr)
	}
	db := filepath.Join(dir, "tobira.db")
	schema, err := sqlstore.SchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	// It says what it did, for an upgrade's record: "migrated from N" on
	// a database an older binary made (TestCheck makes one of those).
	if want := fmt.Sprintf("schema up to date: %s (version %d, created)\n", db, schema); r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("no database: %v", err)
	}
	// Twice is fine.
	r = run(t, nil, "migrate", "--data", dir)
	if want := fmt.Sprintf("schema up to date: %s (version %d, unchanged)\n", db, schema); r.code != 0 || r.stdout != want {
		t.Fatalf("second migrate: exit %d, stdout %q, want %q; stderr %s", r.code, r.stdout, want, r.stderr)
	}
	if r := run(t, nil, "migrate", "--data", dir, "extra"); r.code != 2 {
		t.Errorf("migrate extra: exit %d", r.code)
	}
	// The data folder from the environment.
	envDir := filepath.Join(t.TempDir(), "from-env")
	if r := run(t, map[string]string{"TOBIRA_DATA": envDir}, "migrate"); r.code != 0 {
		t.Fatalf("migrate with TOBIRA_DATA: exit %d, %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(envDir, "tobira.db")); err != nil {
		t.Fatalf("TOBIRA_DATA not used: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{nil, 2, "tobira demo"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"help"}, 0, "tobira users create"},
		{[]string{"--help"}, 0, "tobira migrate"},
		{[]string{"migrate", "--nope"}, 2, "nope"},
	} {
		r := run(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.out) {
			t.Errorf("%v: exit %d (want %d), output %q lacks %q", tc.args, r.code, tc.code, r.stdout+r.stderr, tc.out)
		}
	}
}

// TestHelpListsServeFlags: every flag of serve and demo (as their -h
// lists them) is in `tobira help`: README.md and CONFIG.md name
// --console-addr, which the help left out.
func TestHelpListsServeFlags(t *testing.T) {
	help := run(t, nil, "help").stdout
	for _, cmd := range []string{"serve", "demo"} {
		r := run(t, nil, cmd, "-h")
		flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(r.stderr, -1)
		if len(flags) < 5 {
			t.Fatalf("%s -h lists %d flags:\n%s", cmd, len(flags), r.stderr)
		}
		for _, f := range flags {
			if !strings.Contains(help, "[--"+f[1]+" ") {
				t.Errorf("tobira help lacks %s's --%s", cmd, f[1])
			}
		}
	}
}

// TestHelpFlagSucceeds: -h and --help print a command's flags and exit 0,
// as `tobira help` does (a script that checks for a flag with
// `tobira backup -h` must not see a failure), while a wrong flag is still a
// usage error.
func TestHelpFlagSucceeds(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "-h"}, {"backup", "--help"}, {"check", "-h"}, {"migrate", "-h"},
		{"users", "create", "-h"}, {"maintenance", "schedule", "-h"}, {"signing-keys", "rotate", "-h"},
	} {
		r := run(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stderr, "-data") {
			t.Errorf("%v: exit %d, stderr %q; want 0 and the flags", args, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{{"serve", "--bogus"}, {"backup"}, {"users", "create", "--data"}} {
		if r := run(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
	}
}

// TestHelpListsEverySubcommand: every subcommand a command group takes (as
// its own usage line names them) is in `tobira help`, so an operator who
// reads the help finds every command there is.
func TestHelpListsEverySubcommand(t *testing.T) {
	help := run(t, nil, "help").stdout
	for _, group := range []string{"users", "operators", "clients", "applications", "contracts", "invoices", "maintenance", "signing-keys"} {
		// Its usage asked for is an answer, not an error.
		for _, h := range []string{"-h", "--help", "help"} {
			if r := run(t, nil, group, h); r.code != 0 || !strings.HasPrefix(r.stderr, "usage: tobira "+group+" ") {
				t.Errorf("%s %s: exit %d, stderr %q: want its usage line and 0", group, h, r.code, r.stderr)
			}
		}
		r := run(t, nil, group)
		usage, _, _ := strings.Cut(r.stderr, "\n")
		names, ok := strings.CutPrefix(usage, "usage: tobira "+group+" ")
		if r.code != 2 || !ok {
			t.Errorf("%s alone: exit %d, stderr %q: want its usage line", group, r.code, r.stderr)
			continue
		}
		names, _, _ = strings.Cut(names, " ")
		for _, sub := range strings.Split(names, "|") {
			if !strings.Contains(help, "tobira "+group+" "+sub+" ") && !strings.Contains(help, "tobira "+group+" "+sub+"\n") {
				t.Errorf("tobira help lacks %q", "tobira "+group+" "+sub)
			}
		}
	}
}

// TestVersion: the build on the first line, the schema this binary migrates
// a database to on the second, no database needed.
func TestVersion(t *testing.T) {
	schema, err := sqlstore.SchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("tobira %s\ndatabase schema %d\n", buildinfo.Read(), schema)
	// tobira-admin (OPERATIONS.md) adds --config and --data to every
	// command; README.md says every command takes --database.
	for _, args := range [][]string{{"version"}, {"--version"},
		{"version", "--config", "/etc/tobira/tobira.json", "--data", "/var/lib/tobira"}, {"version", "--database", "postgres://tobira@db/tobira"}} {
		if r := run(t, nil, args...); r.code != 0 || r.stdout != want {
			t.Errorf("%v: exit %d, stdout %q, want %q", args, r.code, r.stdout, want)
		}
	}
	if r := run(t, nil, "version", "--json"); r.code != 2 || !strings.Contains(r.stderr, "usage: tobira version") {
		t.Errorf("version --json: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestBadConfig(t *testing.T) {
	dir := dataDir(t, `, "adress": "typo"`)
	r := run(t, keyEnv(), "users", "list", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "adress") {
		t.Errorf("unknown config field: exit %d, stderr %q", r.code, r.stderr)
	}
	dir = dataDir(t, `, "hash_concurrency": -1, "flow_ttl": "0s"`)
	r = run(t, keyEnv(), "users", "list", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "hash_concurrency") || !strings.Contains(r.stderr, "flow_ttl") {
		t.Errorf("invalid config: exit %d, stderr %q; want both problems named", r.code, r.stderr)
	}
	r = run(t, map[string]string{"TOBIRA_SECRET_KEY": "short"}, "users", "list", "--data", t.TempDir())
	if r.code != 1 || !strings.Contains(r.stderr, "secret_key") {
		t.Errorf("bad key: exit %d, stderr %q", r.code, r.stderr)
	}
	// A config file named on the command line must exist: a typo must not
	// start the server on the defaults.
	r = run(t, keyEnv(), "serve", "--config", filepath.Join(t.TempDir(), "tobria.json"), "--data", t.TempDir())
	if r.code != 1 || !strings.Contains(r.stderr, "--config") || !strings.Contains(r.stderr, "tobria.json") {
		t.Errorf("missing --config file: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, keyEnv(), "serve", "--database", "mysql://x", "--data", t.TempDir())
	if r.code != 1 || !strings.Contains(r.stderr, "postgres://") {
		t.Errorf("a database URL of another kind: exit %d, stderr %q", r.code, r.stderr)
	}
}

// running is a command that serves (serve, demo) until the test stops it.
type running struct {
	base   string // what it gave Ready
	stdout *testkit.Buffer
	stderr *testkit.Buffer
	cancel context.CancelFunc
	done   chan int
}

// start runs `tobira args...` with env until it is ready, and stops it
// when the test ends if the test has not.
func start(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	d := &running{stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, cancel: cancel, done: make(chan int, 1)}
	ready := make(chan string, 1)
	m := &app.Main{Stdout: d.stdout, Stderr: d.stderr, Getenv: func(k string) string { return env[k] },
		Ready: func(base string) { ready <- base }}
	go func() { d.done <- m.Run(ctx, args) }()
	select {
	case d.base = <-ready:
	case code := <-d.done:
		cancel()
		t.Fatalf("%s exited %d before it was ready\nstdout: %s\nstderr: %s", args[0], code, d.stdout, d.stderr)
	}
	t.Cleanup(func() {
		cancel()
		<-d.done
	})
	return d
}

// startDemo runs `tobira demo` on dir, every server on a free port.
func startDemo(t *testing.T, dir string, env map[string]string) *running {
	t.Helper()
	return start(t, env, "demo", "--data", dir, "--addr", "127.0.0.1:0",
		"--contracts-addr", "127.0.0.1:0", "--invoices-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0")
}

// stop stops it as SIGTERM would and returns its exit code.
func (d *running) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	code := <-d.done
	d.done <- code // for Cleanup
	return code
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestDemo(t *testing.T) {
	dir := dataDir(t, "")
	d := startDemo(t, dir, nil)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(d.base) || strings.HasSuffix(d.base, ":0") {
		t.Fatalf("Ready gave %q", d.base)
	}
	out := d.stdout.String()
	for _, email := range []string{"yamada@example.jp", "sato@example.jp", "takahashi@example.jp", "suzuki@example.jp"} {
		if !strings.Contains(out, email) {
			t.Errorf("demo output does not list %s:\n%s", email, out)
		}
	}
	if !strings.Contains(out, d.base) {
		t.Errorf("demo output does not print the portal's URL %s", d.base)
	}
	if res, body := get(t, d.base+"/healthz"); res.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", res.StatusCode, body)
	}
	if res, body := get(t, d.base+"/login"); res.StatusCode != 200 || !strings.Contains(body, "ログイン") {
		t.Errorf("/login: %d", res.StatusCode)
	}

	// Operator commands work on the same folder while the demo runs, with
	// the demo's own key file, and print links to the running demo.
	r := run(t, nil, "users", "list", "--data", dir)
	if r.code != 0 {
		t.Fatalf("users list during the demo: exit %d, %s", r.code, r.stderr)
	}
	for _, email := range []string{"yamada@example.jp", "sato@example.jp", "takahashi@example.jp", "suzuki@example.jp"} {
		if !strings.Contains(r.stdout, email) {
			t.Errorf("users list lacks %s:\n%s", email, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "totp,recovery") || !strings.Contains(r.stdout, "phone,recovery") || !strings.Contains(r.stdout, "awaiting activation") {
		t.Errorf("users list does not show the demo customers' states:\n%s", r.stdout)
	}
	r = run(t, nil, "users", "create", "--email", "new@example.jp", "--name", "新規", "--data", dir)
	if r.code != 0 {
		t.Fatalf("users create during the demo: exit %d, %s", r.code, r.stderr)
	}
	link := linkRe.FindString(r.stdout)
	if !strings.HasPrefix(link, d.base+"/activate?token=") {
		t.Fatalf("link %q does not point at the running demo %s", link, d.base)
	}
	// The link works on the running demo.
	if res, body := get(t, link); res.StatusCode != 200 || !strings.Contains(body, "新規") {
		t.Errorf("GET activation link: %d", res.StatusCode)
	}

	if code := d.stop(t); code != 0 {
		t.Fatalf("demo exit %d after cancel\nstderr: %s", code, d.stderr)
	}
	if !strings.Contains(d.stdout.String(), "shutting down") {
		t.Errorf("no shutdown message:\n%s", d.stdout)
	}

	// A second start keeps the data (and the key).
	d2 := startDemo(t, dir, nil)
	if !strings.Contains(d2.stdout.String(), "(5 accounts") {
		t.Errorf("second start does not report the 5 existing customers:\n%s", d2.stdout)
	}
	r = run(t, nil, "users", "list", "--data", dir)
	if strings.Count(r.stdout, "@example.jp") != 5 {
		t.Errorf("after restart:\n%s", r.stdout)
	}
	if code := d2.stop(t); code != 0 {
		t.Fatalf("second demo exit %d", code)
	}
}

func TestDemoAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := run(t, nil, "demo", "--data", dataDir(t, ""), "--addr", ln.Addr().String())
	if r.code != 1 || !strings.Contains(r.stderr, "cannot listen") {
		t.Errorf("address in use: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestConfiguredBaseURLWins: an operator who tried the demo in a data folder
// and then configures base_url for production in that folder's tobira.json.
// The demo's leftover base-url file must not override the configuration:
// activation links must point at the configured portal, and `serve` must
// keep its https base URL, and with it Secure cookies and HSTS.
func TestConfiguredBaseURLWins(t *testing.T) {
	dir := dataDir(t, "")
	d := startDemo(t, dir, nil)
	if code := d.stop(t); code != 0 {
		t.Fatalf("demo exit %d", code)
	}
	// Production configuration in the same folder.
	cfg := `{"argon2": {"memory_kib": 64, "time": 1, "threads": 1}, "base_url": "https://portal.example.jp"}`
	if err := os.WriteFile(filepath.Join(dir, "tobira.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	r := run(t, nil, "users", "create", "--email", "prod@example.jp", "--name", "本番", "--data", dir)
	if r.code != 0 {
		t.Fatalf("users create: exit %d, %s", r.code, r.stderr)
	}
	if link := linkRe.FindString(r.stdout); !strings.HasPrefix(link, "https://portal.example.jp/activate?token=") {
		t.Errorf("activation link %q does not use the configured base_url https://portal.example.jp "+
			"(the demo's base-url file overrides tobira.json)", link)
	}

	addr := testkit.FreeAddr(t)
	node := start(t, nil, "serve", "--data", dir, "--addr", addr, "--console-addr", "127.0.0.1:0")
	if node.base != "https://portal.example.jp" {
		t.Errorf("serve runs with base URL %q, want the configured https://portal.example.jp", node.base)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.PostForm("http://"+addr+"/lang", url.Values{"lang": {"en"}, "next": {"/login"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("serve with an https base_url sends no HSTS header")
	}
	if len(res.Cookies()) == 0 {
		t.Fatalf("POST /lang: %d, no cookie", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if !c.Secure {
			t.Errorf("serve with an https base_url sets cookie %s without Secure", c.Name)
		}
	}
	if code := node.stop(t); code != 0 {
		t.Errorf("serve exit %d: %s", code, node.stderr)
	}
}

// TestServeDrains: told to stop, serve with a shutdown_grace first fails
// /readyz while it goes on serving customers, then stops cleanly.
func TestServeDrains(t *testing.T) {
	addr := testkit.FreeAddr(t)
	dir := dataDir(t, `, "base_url": "http://`+addr+`", "shutdown_grace": "6s"`)
	node := start(t, keyEnv(), "serve", "--data", dir, "--addr", addr, "--console-addr", "off")
	status := func(path string) int {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz before stopping = %d", got)
	}
	// The log names the build and warns of what tobira check warns of.
	for _, want := range []string{`"msg":"tobira starting"`, `"level":"WARN","msg":"mail.sender is \"outbox\"`} {
		if !strings.Contains(node.stderr.String(), want) {
			t.Errorf("the start-up log lacks %s:\n%s", want, node.stderr)
		}
	}
	node.cancel()
	for !strings.Contains(node.stdout.String(), "draining") {
		time.Sleep(10 * time.Millisecond)
	}
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining = %d, want 503", got)
	}
	if got := status("/login"); got != http.StatusOK {
		t.Errorf("/login while draining = %d, want 200", got)
	}
	if code := node.stop(t); code != 0 {
		t.Fatalf("serve exited %d after draining: %s", code, node.stderr)
	}
}

// TestUsersLockUnlock: an operator locks an account from the command line,
// with a reason the console shows, and unlocks it; both are in the audit
// log.
func TestUsersLockUnlock(t *testing.T) {
	dir := dataDir(t, "")
	env := keyEnv()
	if r := run(t, env, "users", "create", "--email", "yamada@example.jp", "--name", "山田 太郎", "--data", dir); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"lock", "--email", "Yamada@Example.JP", "--reason", "本人から不正利用の申告"}, 0, "account locked: yamada@example.jp"},
		{[]string{"lock", "--email", "yamada@example.jp", "--reason", "再度"}, 1, "yamada@example.jp is locked already"},
		{[]string{"unlock", "--email", "yamada@example.jp"}, 0, "account unlocked: yamada@example.jp"},
		{[]string{"unlock", "--email", "yamada@example.jp"}, 1, "yamada@example.jp is not locked"},
		{[]string{"lock", "--email", "nobody@example.jp", "--reason", "x"}, 1, "no account has the email address nobody@example.jp"},
		{[]string{"lock", "--email", "yamada@example.jp"}, 1, "--reason is required"},
		{[]string{"lock", "--email", "yamada@example.jp", "--reason", "  "}, 1, "--reason is required"},
		{[]string{"lock", "--email", "yamada@example.jp", "--reason", strings.Repeat("理", 201)}, 1, "at most 200 characters"},
		{[]string{"lock"}, 2, "--email is required"},
	} {
		r := run(t, env, append(append([]string{"users"}, tc.args...), "--data", dir)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("users %v: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, r.code, tc.code, r.stdout, r.stderr)
		}
	}
	r := run(t, env, "users", "lock", "--email", "yamada@example.jp", "--reason", "再ロック", "--data", dir)
	if r.code != 0 {
		t.Fatalf("lock again: %s", r.stderr)
	}
	if r := run(t, env, "users", "list", "--data", dir); !regexp.MustCompile(`yamada@example\.jp .* locked `).MatchString(r.stdout) {
		t.Errorf("users list does not show the lock:\n%s", r.stdout)
	}
	db, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.AccountByEmail(t.Context(), "yamada@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.AccountLockOf(t.Context(), a.ID)
	if err != nil || l.LockedBy != "operator:cli" || l.Reason != "再ロック" {
		t.Errorf("the lock: %+v, %v", l, err)
	}
	evs, err := db.AuditOf(t.Context(), a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range evs {
		acts = append(acts, e.Actor+" "+e.Action+" "+e.Detail)
	}
	got := strings.Join(acts, "\n")
	for _, want := range []string{"operator:cli account.lock 本人から不正利用の申告", "operator:cli account.unlock ", "operator:cli account.lock 再ロック"} {
		if !strings.Contains(got, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, got)
		}
	}
}

// TestFailedCommandLeavesNoFolders: a command given a data folder that is
// not there makes it, and removes what it made when it then fails (a
// mistyped --data); one that succeeds keeps it, and check, which changes
// nothing, never leaves one.
// TestDataFolderNotMade: a data folder the command cannot make (under
// systemd, /var/lib/tobira before the service's first start makes it) is
// named as such, with what to do, not as an invalid configuration.
func TestDataFolderNotMade(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "tobira.json")
	if err := os.WriteFile(conf, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "data")
	for _, cmd := range [][]string{{"check"}, {"migrate"}, {"users", "list"}} {
		r := run(t, keyEnv(), append(cmd, "--config", conf, "--data", dir)...)
		out := r.stdout + r.stderr
		if r.code != 1 || !strings.Contains(out, "data folder "+dir+": ") || !strings.Contains(out, "install -d -m 0700 -o tobira -g tobira "+dir) {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", cmd, r.code, r.stdout, r.stderr)
		}
	}
}

func TestFailedCommandLeavesNoFolders(t *testing.T) {
	base := t.TempDir()
	typo := filepath.Join(base, "typo", "data")
	if r := run(t, nil, "users", "list", "--data", typo); r.code != 1 || !strings.Contains(r.stderr, "secret key") {
		t.Fatalf("users list without a key: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(base, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed command left its folders: %v", err)
	}

	checked := filepath.Join(base, "checked")
	if r := run(t, keyEnv(), "check", "--data", checked); r.code != 0 {
		t.Fatalf("check: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(checked); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check left the data folder it made: %v", err)
	}

	kept := filepath.Join(base, "kept")
	if r := run(t, keyEnv(), "users", "list", "--data", kept); r.code != 0 {
		t.Fatalf("users list: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(kept, "tobira.db")); err != nil {
		t.Errorf("a command that succeeded lost its data folder: %v", err)
	}
	// A folder that was there before stays, even empty, when a command fails.
	there := filepath.Join(base, "there")
	if err := os.Mkdir(there, 0o700); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "users", "list", "--data", there); r.code != 1 {
		t.Fatalf("users list without a key: exit %d", r.code)
	}
	if _, err := os.Stat(there); err != nil {
		t.Errorf("a failed command removed a folder it did not make: %v", err)
	}
}
