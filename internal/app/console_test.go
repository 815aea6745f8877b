package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/app"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/testkit"
)

var totpSecretRe = regexp.MustCompile(`(?m)^secret: ([A-Z2-7]+)$`)

func TestOperatorsCreate(t *testing.T) {
	dir := dataDir(t, "")
	env := keyEnv()
	env["TOBIRA_OPERATOR_PASSWORD"] = "a long operator password"
	r := run(t, env, "operators", "create", "--email", "Kim@Tobira.Example", "--name", "木村", "--role", "admin", "--data", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if totpSecretRe.FindString(r.stdout) == "" || !strings.Contains(r.stdout, "otpauth://totp/") || !strings.Contains(r.stdout, "kim@tobira.example") {
		t.Errorf("no TOTP key in:\n%s", r.stdout)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("another long password\n"), 0o600)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"--email", "kim@tobira.example", "--name", "x", "--role", "admin"}, env, 1, "already has an operator"},
		{[]string{"--email", "sato@tobira.example", "--name", "x", "--role", "root"}, env, 1, "want support or admin"},
		{[]string{"--email", "sato@tobira.example", "--name", "x", "--role", "support"}, keyEnv(), 2, "TOBIRA_OPERATOR_PASSWORD"},
		{[]string{"--email", "sato@tobira.example", "--name", "x", "--role", "support"},
			map[string]string{"TOBIRA_SECRET_KEY": env["TOBIRA_SECRET_KEY"], "TOBIRA_OPERATOR_PASSWORD": "short"}, 1, "at least"},
		{[]string{"--email", "sato@tobira.example", "--name", "x"}, env, 2, "--role is required"},
		{[]string{"--email", "sato@tobira.example", "--name", "佐藤", "--role", "support", "--password-file", pwFile}, env, 0, "operator created"},
	} {
		r := run(t, tc.env, append(append([]string{"operators", "create"}, tc.args...), "--data", dir)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
	r = run(t, env, "operators", "list", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "kim@tobira.example") || !strings.Contains(r.stdout, "sato@tobira.example") ||
		!strings.Contains(r.stdout, "admin") || !strings.Contains(r.stdout, "support") {
		t.Errorf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "operators"); r.code != 2 {
		t.Errorf("operators without a command: exit %d", r.code)
	}
}

// newCLIOperator makes the support operator kim@tobira.example with the CLI
// in a new data folder and returns the folder, the environment and the
// operator's TOTP seed.
func newCLIOperator(t *testing.T) (dir string, env map[string]string, seed string) {
	t.Helper()
	dir, env = dataDir(t, ""), keyEnv()
	env["TOBIRA_OPERATOR_PASSWORD"] = "a long operator password"
	r := run(t, env, "operators", "create", "--email", "kim@tobira.example", "--name", "木村", "--role", "support", "--data", dir)
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	return dir, env, totpSecretRe.FindStringSubmatch(r.stdout)[1]
}

func TestOperatorsDisableEnableReset(t *testing.T) {
	dir, env, first := newCLIOperator(t)
	state := func() string {
		t.Helper()
		r := run(t, env, "operators", "list", "--data", dir)
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, "kim@tobira.example ") {
				return strings.Fields(line)[3]
			}
		}
		t.Fatalf("list lacks the operator: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		return ""
	}
	for _, tc := range []struct {
		args  []string
		code  int
		want  string // in stdout or stderr
		state string // in the list afterwards
	}{
		{[]string{"disable", "--email", "Kim@Tobira.Example"}, 0, "operator disabled: 木村 <kim@tobira.example>", "disabled"},
		{[]string{"disable", "--email", "kim@tobira.example"}, 1, "kim@tobira.example is disabled already", "disabled"},
		{[]string{"enable", "--email", "KIM@tobira.example"}, 0, "operator enabled: 木村 <kim@tobira.example>", "active"},
		{[]string{"enable", "--email", "kim@tobira.example"}, 1, "kim@tobira.example is not disabled", "active"},
		{[]string{"disable", "--email", "nobody@tobira.example"}, 1, "no operator with the email nobody@tobira.example", "active"},
		{[]string{"enable", "--email", "nobody@tobira.example"}, 1, "no operator with the email nobody@tobira.example", "active"},
		{[]string{"reset-2fa", "--email", "nobody@tobira.example"}, 1, "no operator with the email nobody@tobira.example", "active"},
		{[]string{"reset-2fa", "--email", "not an address"}, 1, "not a valid email address", "active"},
		{[]string{"disable"}, 2, "--email is required", "active"},
		{[]string{"reset-2fa", "--email", "kim@tobira.example", "extra"}, 2, "unexpected arguments", "active"},
	} {
		r := run(t, env, append(append([]string{"operators"}, tc.args...), "--data", dir)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
		if got := state(); got != tc.state {
			t.Errorf("%v: list says %s, want %s", tc.args, got, tc.state)
		}
	}

	r := run(t, env, "operators", "reset-2fa", "--email", "Kim@tobira.example", "--data", dir)
	m := totpSecretRe.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !strings.Contains(r.stdout, "authenticator reset for 木村 <kim@tobira.example>") ||
		!strings.Contains(r.stdout, "otpauth://totp/") || strings.Contains(r.stdout, "still disabled") {
		t.Fatalf("reset-2fa: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if m[1] == first {
		t.Errorf("reset-2fa printed the old secret %s", first)
	}
	// A disabled operator gets a new key too, with a reminder.
	run(t, env, "operators", "disable", "--email", "kim@tobira.example", "--data", dir)
	r = run(t, env, "operators", "reset-2fa", "--email", "kim@tobira.example", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "still disabled") || totpSecretRe.FindString(r.stdout) == "" {
		t.Errorf("reset-2fa of a disabled operator: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if got := state(); got != "disabled" {
		t.Errorf("reset-2fa enabled the operator: %s", got)
	}
}

// The last enabled admin is not disabled: the console would have nobody to
// manage operators. Another admin first, and then it is.
func TestOperatorsLastAdmin(t *testing.T) {
	dir, env := dataDir(t, ""), keyEnv()
	env["TOBIRA_OPERATOR_PASSWORD"] = "a long operator password"
	create := func(email string) {
		t.Helper()
		if r := run(t, env, "operators", "create", "--email", email, "--name", "管理者", "--role", "admin", "--data", dir); r.code != 0 {
			t.Fatalf("create %s: exit %d\n%s", email, r.code, r.stderr)
		}
	}
	create("boss@tobira.example")
	r := run(t, env, "operators", "disable", "--email", "boss@tobira.example", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "boss@tobira.example is the last enabled admin") ||
		!strings.Contains(r.stderr, "tobira operators create --role admin") {
		t.Fatalf("disabling the last admin: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if l := run(t, env, "operators", "list", "--data", dir); !strings.Contains(l.stdout, "active") || strings.Contains(l.stdout, "disabled") {
		t.Errorf("after the refusal:\n%s", l.stdout)
	}
	create("deputy@tobira.example")
	if r := run(t, env, "operators", "disable", "--email", "boss@tobira.example", "--data", dir); r.code != 0 {
		t.Errorf("disabling one of two admins: exit %d\n%s", r.code, r.stderr)
	}
}

// The demo serves the console on its own listener, where an operator made
// with the CLI signs in with the password and the code.
func TestDemoConsole(t *testing.T) {
	dir, env, seed := newCLIOperator(t)

	ctx, cancel := context.WithCancel(t.Context())
	out, errb := &testkit.Buffer{}, &testkit.Buffer{}
	ready, done := make(chan string, 1), make(chan int, 1)
	m := &app.Main{Stdout: out, Stderr: errb, Getenv: func(k string) string { return env[k] }, Ready: func(base string) { ready <- base }}
	go func() {
		done <- m.Run(ctx, []string{"demo", "--data", dir, "--addr", "127.0.0.1:0", "--contracts-addr", "127.0.0.1:0",
			"--invoices-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"})
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case code := <-done:
		done <- code
		t.Fatalf("demo exited %d\nstdout: %s\nstderr: %s", code, out, errb)
	}
	u := regexp.MustCompile(`Operator console: (http://127\.0\.0\.1:\d+)\n`).FindStringSubmatch(out.String())
	if u == nil {
		t.Fatalf("console not listed:\n%s", out)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	post := func(path string, form url.Values) (*http.Response, string) {
		resp, err := c.PostForm(u[1]+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := post("/login", url.Values{"email": {"kim@tobira.example"}, "password": {"a long operator password"}}); resp.Request.URL.Path != "/login/code" {
		t.Fatalf("password: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	code, _ := mfa.TOTPCode(seed, time.Now())
	resp, body := post("/login/code", url.Values{"code": {code}})
	if resp.Request.URL.Path != "/customers" || !strings.Contains(body, "顧客検索") {
		t.Fatalf("code: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	resp, err := c.Get(u[1] + "/customers?q=" + url.QueryEscape("@"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("search: %d", resp.StatusCode)
	}
}

// TestOperatorsResetPassword: an operator who forgot their password gets
// the one given, or a one-time one printed once, which the list shows
// until the console has them replace it.
func TestOperatorsResetPassword(t *testing.T) {
	dir, env, _ := newCLIOperator(t)
	line := func() string {
		t.Helper()
		r := run(t, env, "operators", "list", "--data", dir)
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, "kim@tobira.example ") {
				return l
			}
		}
		t.Fatalf("list lacks the operator:\n%s", r.stdout)
		return ""
	}
	env["TOBIRA_OPERATOR_PASSWORD"] = "short"
	if r := run(t, env, "operators", "reset-password", "--email", "kim@tobira.example", "--data", dir); r.code != 1 || !strings.Contains(r.stderr, "at least 10 characters") {
		t.Errorf("a short password: exit %d, stderr %q", r.code, r.stderr)
	}
	env["TOBIRA_OPERATOR_PASSWORD"] = "another long password"
	r := run(t, env, "operators", "reset-password", "--email", "Kim@tobira.example", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "password reset for 木村 <kim@tobira.example>") || strings.Contains(r.stdout, "one-time password (") ||
		!strings.Contains(r.stdout, "their password is now the one in $TOBIRA_OPERATOR_PASSWORD") {
		t.Fatalf("reset-password with a password: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if l := line(); strings.Contains(l, "one-time") {
		t.Errorf("a password the operator gave is listed as one-time: %s", l)
	}
	delete(env, "TOBIRA_OPERATOR_PASSWORD")
	r = run(t, env, "operators", "reset-password", "--email", "kim@tobira.example", "--data", dir)
	oneTime := regexp.MustCompile(`(?m)^[a-zA-Z2-9]{4}(-[a-zA-Z2-9]{4}){3}$`).FindString(r.stdout)
	if r.code != 0 || oneTime == "" {
		t.Fatalf("reset-password without one: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if l := line(); !strings.Contains(l, "active (one-time password)") {
		t.Errorf("after a one-time password the list says: %s", l)
	}
	if r := run(t, env, "operators", "reset-password", "--email", "nobody@tobira.example", "--data", dir); r.code != 1 || !strings.Contains(r.stderr, "no operator with the email") {
		t.Errorf("nobody: exit %d, stderr %q", r.code, r.stderr)
	}
}
