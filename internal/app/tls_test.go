package app_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/testkit"
)

// TestServeTLS: with tls_cert_file and tls_key_file the portal serves
// HTTPS itself, HTTP/2 included, and no plain HTTP.
func TestServeTLS(t *testing.T) {
	addr := testkit.FreeAddr(t)
	dir := dataDir(t, `, "base_url": "https://`+addr+`"`)
	cert := testkit.SelfSignedCert(t, dir, "portal", time.Now().Add(90*24*time.Hour), "127.0.0.1", "localhost")
	env := keyEnv()
	env["TOBIRA_TLS_CERT_FILE"], env["TOBIRA_TLS_KEY_FILE"] = cert.CertFile, cert.KeyFile

	node := start(t, env, "serve", "--data", dir, "--addr", addr, "--console-addr", "off")
	if !strings.Contains(node.stdout.String(), "https://"+addr) {
		t.Errorf("serve does not print its https address:\n%s", node.stdout)
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, ForceAttemptHTTP2: true}}
	res, err := client.Get("https://" + addr + "/login")
	if err != nil {
		t.Fatalf("GET https://%s/login: %v", addr, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 ||
		!strings.Contains(string(body), "ログイン") || res.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("GET /login over TLS: %d %s, TLS %+v, HSTS %q", res.StatusCode, res.Proto, res.TLS != nil, res.Header.Get("Strict-Transport-Security"))
	}
	for _, c := range res.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s without Secure", c.Name)
		}
	}
	// Monitoring sees when the certificate ends.
	res, err = client.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if want := fmt.Sprintf("\ntobira_tls_certificate_expiry_timestamp_seconds %d\n", cert.NotAfter.Unix()); !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, body)
	}
	// And the back-channel logouts: none posted or due on a new node.
	for _, want := range []string{"\ntobira_backchannel_logouts_pending 0\n", "\ntobira_backchannel_logouts_total{outcome=\"given_up\"} 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// TLS 1.1 and plain HTTP are refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool, MaxVersion: tls.VersionTLS11}}}
	if res, err := old.Get("https://" + addr + "/healthz"); err == nil {
		res.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}
	if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Error("plain HTTP was served")
		}
	}
	if code := node.stop(t); code != 0 {
		t.Errorf("serve exit %d: %s", code, node.stderr)
	}
	if !strings.Contains(node.stderr.String(), `"msg":"tls: certificate loaded"`) {
		t.Errorf("the log does not say which certificate was loaded:\n%s", node.stderr)
	}
}

// TestTLSSettingsChecked: a pair that does not load stops serve and fails
// check; check also names a certificate for another host, or one near its
// end, and the configuration refuses half a pair.
func TestTLSSettingsChecked(t *testing.T) {
	dir := dataDir(t, `, "base_url": "https://id.example.jp"`)
	until := time.Now().Add(90 * 24 * time.Hour)
	good := testkit.SelfSignedCert(t, dir, "good", until, "id.example.jp")
	other := testkit.SelfSignedCert(t, dir, "other", until, "www.example.jp")
	soon := testkit.SelfSignedCert(t, dir, "soon", time.Now().Add(5*24*time.Hour), "id.example.jp")
	check := func(certFile, keyFile string) result {
		t.Helper()
		env := keyEnv()
		env["TOBIRA_TLS_CERT_FILE"], env["TOBIRA_TLS_KEY_FILE"] = certFile, keyFile
		return run(t, env, "check", "--data", dir)
	}
	if r := check(good.CertFile, good.KeyFile); r.code != 0 || !strings.Contains(r.stdout, "ok     tls certificate "+good.CertFile+" for id.example.jp, until ") {
		t.Errorf("check with a good pair: exit %d\n%s", r.code, r.stdout)
	}
	if r := check(good.CertFile, other.KeyFile); r.code != 1 || !strings.Contains(r.stdout, "error  tls: tls_cert_file") {
		t.Errorf("check with a key of another certificate: exit %d\n%s", r.code, r.stdout)
	}
	if r := check(other.CertFile, other.KeyFile); r.code != 1 || !strings.Contains(r.stdout, "is for www.example.jp, not base_url's host id.example.jp") {
		t.Errorf("check with a certificate for another host: exit %d\n%s", r.code, r.stdout)
	}
	if r := check(soon.CertFile, soon.KeyFile); r.code != 0 || !strings.Contains(r.stdout, "warn   tls certificate "+soon.CertFile+" expires on ") {
		t.Errorf("check with a certificate ending in 5 days: exit %d\n%s", r.code, r.stdout)
	}
	if r := check(good.CertFile, ""); r.code != 1 || !strings.Contains(r.stdout, "tls_cert_file and tls_key_file go together") {
		t.Errorf("check with a certificate and no key: exit %d\n%s", r.code, r.stdout)
	}

	env := keyEnv()
	env["TOBIRA_TLS_CERT_FILE"], env["TOBIRA_TLS_KEY_FILE"] = good.CertFile, filepath.Join(dir, "missing.key")
	if r := run(t, env, "serve", "--data", dir, "--addr", testkit.FreeAddr(t), "--console-addr", "off"); r.code != 1 || !strings.Contains(r.stderr, "missing.key") {
		t.Errorf("serve with a missing key file: exit %d\n%s", r.code, r.stderr)
	}
}

// TestHTTPRedirect: with http_redirect_addr a node serving HTTPS sends
// plain HTTP on to base_url, path and query kept and a POST a POST, but
// serves the ACME challenges of acme_webroot, and no other file.
func TestHTTPRedirect(t *testing.T) {
	addr, plain := testkit.FreeAddr(t), testkit.FreeAddr(t)
	webroot := t.TempDir()
	challenges := filepath.Join(webroot, ".well-known", "acme-challenge")
	if err := os.MkdirAll(challenges, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(challenges, "tok-EN_1"), []byte("tok-EN_1.thumbprint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(webroot, "secret.txt"), []byte("not for the internet"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := dataDir(t, fmt.Sprintf(`, "base_url": "https://%s", "http_redirect_addr": %q, "acme_webroot": %q`, addr, plain, webroot))
	cert := testkit.SelfSignedCert(t, dir, "portal", time.Now().Add(90*24*time.Hour), "127.0.0.1")
	env := keyEnv()
	env["TOBIRA_TLS_CERT_FILE"], env["TOBIRA_TLS_KEY_FILE"] = cert.CertFile, cert.KeyFile
	start(t, env, "serve", "--data", dir, "--addr", addr, "--console-addr", "off")

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, "http://"+plain+"/login?next=%2Fsecurity", nil)
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusPermanentRedirect || loc != "https://"+addr+"/login?next=%2Fsecurity" {
			t.Errorf("%s over plain HTTP: %d to %q, want 308 to the same path over HTTPS", method, res.StatusCode, loc)
		}
	}
	res, body := get(t, "http://"+plain+"/.well-known/acme-challenge/tok-EN_1")
	if res.StatusCode != http.StatusOK || body != "tok-EN_1.thumbprint" {
		t.Errorf("the ACME challenge: %d %q", res.StatusCode, body)
	}
	for _, path := range []string{"/.well-known/acme-challenge/missing", "/.well-known/acme-challenge/..%2F..%2Fsecret.txt",
		"/.well-known/acme-challenge/", "/.well-known/acme-challenge/a.b"} {
		if res, _ := get(t, "http://"+plain+path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
}
