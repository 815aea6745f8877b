package e2e

// The portal serving HTTPS itself (tls_cert_file and tls_key_file), as a
// single node without a proxy in front does. Screenshots are
// output/65-*.png, and axe-core checks every screen.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tobira/tobira/internal/testkit"
)

// TestHTTPSJourney: over the portal's own TLS (a self-signed certificate,
// which the browser is told to accept and the demo's sites trust) the
// contracts site sends the customer to the portal, she signs in over
// HTTP/2, her portal cookies are __Host- and Secure, the site and the
// portal's security page have her, and one sign-out ends both.
func TestHTTPSJourney(t *testing.T) {
	axe := requireE2E(t)
	cert := testkit.SelfSignedCert(t, t.TempDir(), "portal", time.Now().Add(24*time.Hour), "127.0.0.1")
	d := startDemoWith(t, fmt.Sprintf(`{"tls_cert_file": %q, "tls_key_file": %q}`, cert.CertFile, cert.KeyFile))
	if !strings.HasPrefix(d.URL, "https://127.0.0.1:") {
		t.Fatalf("the portal is at %s, want https://127.0.0.1:PORT", d.URL)
	}
	key, _ := d.satoKeys(t)
	portal, contracts := originOf(t, d.URL), originOf(t, d.ContractsURL)
	p := newBrowserWith(t, d.URL, axe, chromedp.Flag("ignore-certificate-errors", true))

	p.visit(d.ContractsURL+"/", portal, "/login", "ログイン")
	if proto := run(p, chromedp.Evaluate[string](`performance.getEntriesByType("navigation")[0].nextHopProtocol`)); proto != "h2" {
		t.Errorf("the login page came over %q, want h2", proto)
	}
	p.screen("65-01-https-login")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", oathtool(t, key))
	p.clickTo(button("続ける"), "/", contractsHeading)
	p.expectOrigin(contracts)

	res := run(p, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{d.URL + "/"}})
	}))
	// Cookies are the host's whatever the port: the sites' (plain HTTP,
	// tobira_contracts...) show here too, and are not the portal's.
	session := false
	for _, c := range res.Cookies {
		if strings.HasPrefix(c.Name, "tobira_contracts") || strings.HasPrefix(c.Name, "tobira_invoices") {
			continue
		}
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || !c.HTTPOnly {
			t.Errorf("portal cookie %s: Secure %v, Path %q, HttpOnly %v; want __Host-, Secure, /, HttpOnly", c.Name, c.Secure, c.Path, c.HTTPOnly)
		}
		session = session || c.Name == "__Host-tobira_session"
	}
	if !session {
		t.Errorf("no __Host-tobira_session cookie among %d", len(res.Cookies))
	}

	p.visit(d.URL+"/security", portal, "/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	p.screen("65-02-https-security")

	p.visit(d.ContractsURL+"/", contracts, "/", contractsHeading)
	p.hoverSiteMenu(satoName, satoEmail, d.URL+"/security")
	p.clickTo(button("ログアウト"), "/", "ログアウトしました")
	p.expectOrigin(contracts)
	p.clickTo(link("もう一度ログインする"), "/login", "ログイン")
	p.expectOrigin(portal)
	p.openTo("/security", "/login", "ログイン")
}
