package app_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/testkit"
)

// tooManyCookies is the Cookie header of a browser that keeps as many
// cookies for a site as Chrome and Firefox do at most: 180 of 4 KiB (name
// and value), about 720 KiB.
func tooManyCookies() string {
	cookies := make([]string, 180)
	for i := range cookies {
		name := fmt.Sprintf("c%03d=", i)
		cookies[i] = name + strings.Repeat("x", 4<<10-len(name))
	}
	return strings.Join(cookies, "; ")
}

// headersTooLarge is the start of every site's error.headers_too_large.
const headersTooLarge = "ブラウザから送られた情報 (Cookie) が大きすぎるため、表示できません。"

// getWithCookies asks for u with the browser's biggest Cookie header.
func getWithCookies(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Cookie", tooManyCookies())
	req.Header.Set("Accept-Language", "ja")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestEveryListenerAnswersBigCookiesInJapanese: the portal, both sites and
// the console answer the most cookies a browser can send with their page
// in the customer's language, where past 64 KiB Go's server answered in
// English plain text.
func TestEveryListenerAnswersBigCookiesInJapanese(t *testing.T) {
	d := startDemo(t, dataDir(t, ""), nil)
	urls := map[string]string{"portal": d.base + "/login"}
	for name, label := range map[string]string{"contracts": "Applications and contracts", "invoices": "Qualified invoices",
		"console": "Operator console"} {
		m := regexp.MustCompile(regexp.QuoteMeta(label) + `: (http://127\.0\.0\.1:\d+)\n`).FindStringSubmatch(d.stdout.String())
		if m == nil {
			t.Fatalf("the demo does not print the %s's address:\n%s", name, d.stdout)
		}
		urls[name] = m[1] + "/"
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for name, u := range urls {
		res, body := getWithCookies(t, c, u)
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(body, headersTooLarge) {
			t.Errorf("%s: %d %.200q, want 431 with the page that says %q", name, res.StatusCode, body, headersTooLarge)
		}
	}
}

// TestBigCookiesOverHTTP2: the portal serving HTTPS itself answers them
// over HTTP/2 with its page too, where Go's HTTP/2 server answered with its
// own English HTML.
func TestBigCookiesOverHTTP2(t *testing.T) {
	addr := testkit.FreeAddr(t)
	dir := dataDir(t, `, "base_url": "https://`+addr+`"`)
	cert := testkit.SelfSignedCert(t, dir, "portal", time.Now().Add(90*24*time.Hour), "127.0.0.1", "localhost")
	env := keyEnv()
	env["TOBIRA_TLS_CERT_FILE"], env["TOBIRA_TLS_KEY_FILE"] = cert.CertFile, cert.KeyFile
	start(t, env, "serve", "--data", dir, "--addr", addr, "--console-addr", "off")
	c := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, ForceAttemptHTTP2: true}}
	res, body := getWithCookies(t, c, "https://"+addr+"/login")
	if res.ProtoMajor != 2 || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(body, headersTooLarge) {
		t.Errorf("%s: %d %.200q, want 431 with the page that says %q", res.Proto, res.StatusCode, body, headersTooLarge)
	}
}
