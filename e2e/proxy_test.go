package e2e

// An off-the-shelf relying party: oauth2-proxy (built by
// ./scripts/test-deps.sh into e2e/bin/) protects a small upstream and signs
// its visitors in through the portal, as any OpenID Connect client would.
// Screenshots are output/61-*.png.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/app"
	"github.com/tobira/tobira/internal/testkit"
)

// oauth2ProxyPath is where ./scripts/test-deps.sh builds oauth2-proxy,
// relative to e2e/, the test's working directory.
const oauth2ProxyPath = "bin/oauth2-proxy"

// TestOAuth2Proxy registers oauth2-proxy as a confidential client with
// `tobira clients create`, and signs in through it: the proxy sends the
// browser to the portal, the customer signs in with her password and the
// app's code, and the proxy lets her through to the upstream, telling it her
// email.
func TestOAuth2Proxy(t *testing.T) {
	axe := requireE2E(t)
	bin := oauth2Proxy(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	portal := originOf(t, d.URL)

	// The upstream greets whoever the proxy says is signed in, and
	// remembers what it was told.
	var mu sync.Mutex
	var told []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email := r.Header.Get("X-Forwarded-Email")
		if email == "" {
			email = r.Header.Get("X-Auth-Request-Email")
		}
		mu.Lock()
		told = append(told, email)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>upstream</title></head>`+
			`<body><main><h1>hello %s</h1></main></body></html>`, html.EscapeString(email))
	}))
	t.Cleanup(upstream.Close)

	proxy := "http://" + testkit.FreeAddr(t)
	id, secret := d.createClient(t, "proxy", proxy+"/oauth2/callback")
	startOAuth2Proxy(t, bin, proxy, []string{
		"--provider=oidc",
		"--oidc-issuer-url=" + d.URL,
		"--client-id=" + id,
		"--client-secret=" + secret,
		"--redirect-url=" + proxy + "/oauth2/callback",
		"--http-address=" + strings.TrimPrefix(proxy, "http://"),
		"--upstream=" + upstream.URL,
		"--cookie-secret=" + cookieSecret(t),
		"--cookie-secure=false",
		"--email-domain=*",
		"--code-challenge-method=S256",
		"--skip-provider-button=true",
		"--insecure-oidc-allow-unverified-email=true",
		"--scope=openid email profile",
	})

	// Without signing in, the proxy lets nothing through to the upstream.
	res, err := (&http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}).Get(proxy + "/")
	if err != nil {
		t.Fatalf("GET %s/: %v", proxy, err)
	}
	res.Body.Close()
	mu.Lock()
	reached := len(told)
	mu.Unlock()
	if res.StatusCode == http.StatusOK || reached != 0 {
		t.Fatalf("oauth2-proxy let a visitor who is not signed in through to the upstream (%s)", res.Status)
	}

	// In the browser: the proxy sends it to the portal's login screen.
	p := newSiteBrowser(t, d.URL, axe)
	p.visit(proxy+"/", portal, "/login", "ログイン")
	p.screen("61-1-proxy-to-portal-login")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", oathtool(t, key))
	// oauth2-proxy is a third party: the portal asks her consent, naming
	// the client and what it asks for.
	p.clickTo(button("続ける"), "/oidc/login", "アクセスの許可")
	p.expectText(`//p[contains(., "「proxy」")]`)
	p.expectText(`//li[normalize-space()="メールアドレス"]`)
	p.screen("61-2-consent")
	// Signed in: the proxy shows the upstream, which it told her email.
	p.clickTo(button("許可する"), "/", "hello "+satoEmail)
	p.expectOrigin(originOf(t, proxy))
	p.screen("61-3-proxy-upstream")
	mu.Lock()
	defer mu.Unlock()
	if len(told) == 0 || told[len(told)-1] != satoEmail {
		t.Errorf("the upstream was told the emails %q; want %q", told, satoEmail)
	}
}

// oauth2Proxy is the oauth2-proxy binary: where ./scripts/test-deps.sh puts
// it, or on the PATH. Missing, it fails the test (the browser tests never
// skip when asked for).
func oauth2Proxy(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(oauth2ProxyPath); err == nil {
		abs, err := filepath.Abs(oauth2ProxyPath)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	if path, err := exec.LookPath("oauth2-proxy"); err == nil {
		return path
	}
	t.Fatalf("the browser tests need oauth2-proxy (e2e/%s, built from the Go module "+
		"github.com/oauth2-proxy/oauth2-proxy/v7): run ./scripts/test-deps.sh", oauth2ProxyPath)
	return ""
}

// cookieSecret is 32 random bytes, base64 as oauth2-proxy takes it.
func cookieSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(b)
}

var (
	clientIDLine     = regexp.MustCompile(`(?m)^client_id: (\S+)$`)
	clientSecretLine = regexp.MustCompile(`(?m)^client_secret: (\S+)$`)
)

// createClient registers a confidential client with the running demo's
// portal, as an operator does: `tobira clients create` on its data folder.
func (d *demo) createClient(t *testing.T, name, redirectURI string) (id, secret string) {
	t.Helper()
	stdout, stderr := &testkit.Buffer{}, &testkit.Buffer{}
	m := app.NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	m.Getenv = func(string) string { return "" }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"clients", "create", "--data", d.data, "--name", name, "--redirect-uri", redirectURI}
	if code := m.Run(ctx, args); code != 0 {
		t.Fatalf("tobira %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	out := stdout.String()
	i, s := clientIDLine.FindStringSubmatch(out), clientSecretLine.FindStringSubmatch(out)
	if i == nil || s == nil {
		t.Fatalf("tobira clients create printed no client_id and client_secret:\n%s", out)
	}
	return i[1], s[1]
}

// startOAuth2Proxy runs oauth2-proxy until the test ends, and waits (a
// bounded time) until it answers at base.
func startOAuth2Proxy(t *testing.T, bin, base string, args []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &testkit.Buffer{}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no OAUTH2_PROXY_* of the caller's
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel() // kills the proxy
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Error("oauth2-proxy did not stop within 10 s of being killed")
		}
		if t.Failed() {
			t.Logf("oauth2-proxy output (last lines):\n%s", lastLines(out.String(), 40))
		}
	})

	// A bounded poll for the proxy's port: its /ping answers once it serves.
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("oauth2-proxy exited before it listened: %v\n%s", err, out)
		default:
		}
		if res, err := client.Get(base + "/ping"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy did not answer at %s/ping within 30 s:\n%s", base, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
