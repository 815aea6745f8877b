package e2e

// Single sign-on: the demo's two customer sites, 申込／契約確認サイト and
// 適格請求書閲覧サイト, each a relying party of the portal on its own origin.
// The customer signs in once, at the portal, and is signed in on both sites;
// signs out once, on either site, and is signed out everywhere; and a reset
// of the second factor ends the sites' sessions too. Screenshots are
// output/60-*.png, and axe-core checks every screen.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// regexpT13 is an invoice issuer's registration number (適格請求書発行事業者
// 登録番号): T and 13 digits.
var regexpT13 = regexp.MustCompile(`^T[0-9]{13}$`)

// The sites' pages (internal/sites/locales/ja.json).
const (
	contractsHeading = "申込・契約の確認"
	invoicesHeading  = "請求書一覧"
	invoiceHeading   = "適格請求書"
)

// TestSingleSignOn follows the customer across the portal and both sites:
// the contracts site sends her to the portal to sign in; the invoices site
// then signs her in without asking; its account menu (manual III–V) opens
// the portal's security page; ログアウト on one site signs her out of the
// portal and of the other site.
func TestSingleSignOn(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	portal, contracts, invoices := originOf(t, d.URL), originOf(t, d.ContractsURL), originOf(t, d.InvoicesURL)
	if portal == contracts || portal == invoices || contracts == invoices {
		t.Fatalf("the portal and the sites must be separate origins: %s, %s, %s", portal, contracts, invoices)
	}
	p := newSiteBrowser(t, d.URL, axe)

	// 申込／契約確認サイト: nobody is signed in, so it sends the browser to
	// the portal's login screen.
	p.visit(d.ContractsURL+"/", portal, "/login", "ログイン")
	p.screen("60-01-contracts-to-portal-login")

	// I–II. Email and password, then the app's code: back on the site that
	// asked, with her applications (申込) and contracts (契約).
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", oathtool(t, key))
	p.clickTo(button("続ける"), "/", contractsHeading)
	p.expectOrigin(contracts)
	p.expectText(`//h2[normalize-space()="申込"]`)
	p.expectText(`//h2[normalize-space()="契約"]`)
	p.expectText(`//table//a[starts-with(@href, "/applications/A-")]`)
	p.expectText(`//table//a[starts-with(@href, "/contracts/C-")]`)
	p.screen("60-02-contracts-home")
	// The account icon at the top right: the menu is hers.
	p.hoverSiteMenu(satoName, satoEmail, d.URL+"/security")
	p.screen("60-03-contracts-account-menu")
	contractsSession := p.cookie(d.ContractsURL, "tobira_contracts")

	// 適格請求書閲覧サイト in the same browser: no password asked, the
	// invoice list shows at once.
	p.visit(d.InvoicesURL+"/", invoices, "/", invoicesHeading)
	p.expectText(`//main//table//a[starts-with(@href, "/invoices/")]`)
	p.screen("60-04-invoices-home")
	invoicesSession := p.cookie(d.InvoicesURL, "tobira_invoices")

	// One invoice: a qualified invoice (適格請求書).
	number := strings.TrimPrefix(run(p, chromedp.Evaluate[string](
		`document.querySelector('main table a[href^="/invoices/"]').getAttribute("href")`)), "/invoices/")
	p.clickTo(link(number), "/invoices/"+number, invoiceHeading)
	p.expectOrigin(invoices)
	p.checkQualifiedInvoice(number, satoName)
	p.screen("60-05-invoice")

	// III. The account icon at the top right of the invoices site: the
	// dropdown shows her name, 「セキュリティ」 and ログアウト.
	p.hoverSiteMenu(satoName, satoEmail, d.URL+"/security")
	p.screen("60-06-invoices-account-menu")

	// IV–V. 「セキュリティ」 opens the portal's security page, signed in by
	// the same sign-in: 「✓設定されています」.
	p.clickTo(link("セキュリティ"), "/security", "セキュリティ")
	p.expectOrigin(portal)
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)
	p.screen("60-07-security-from-invoices")

	// Back to the invoices site; ログアウト in its menu.
	p.visit(d.InvoicesURL+"/", invoices, "/", invoicesHeading)
	p.hoverSiteMenu(satoName, satoEmail, d.URL+"/security")
	// The sign-out ends on the invoices site, which says so: the site sent
	// the browser to sign out of the portal, and the portal back to the
	// site. Its link signs in again at the portal.
	p.clickTo(button("ログアウト"), "/", "ログアウトしました")
	p.expectOrigin(invoices)
	p.screen("60-08-signed-out")
	p.clickTo(link("もう一度ログインする"), "/login", "ログイン")
	p.expectOrigin(portal)

	// Signed out of the portal too: its security page asks to sign in.
	p.openTo("/security", "/login", "ログイン")
	p.expectOrigin(portal)

	// And of the contracts site: the portal told it by back-channel (which
	// the portal sends in the background, so the test waits for it, a
	// bounded time), and visiting it leads to the portal's login screen.
	d.expectSiteSessionEnded(t, d.InvoicesURL, "tobira_invoices", invoicesSession)
	d.expectSiteSessionEnded(t, d.ContractsURL, "tobira_contracts", contractsSession)
	p.visit(d.ContractsURL+"/", portal, "/login", "ログイン")
	p.visit(d.InvoicesURL+"/invoices/"+number, portal, "/login", "ログイン")
}

// TestSSOBackAfterSignOut: signed out at the invoices site, the customer
// goes back twice: to the invoice, then to the invoice list, whose first
// visit had signed her in through the portal. Each sends her to sign in
// again. The browser had kept the redirects of that sign-in and replayed
// them on the way back, to its callback, which sent it to the list, which
// sent it to sign in again, until Chromium stopped with "too many
// redirects" (ERR_TOO_MANY_REDIRECTS).
func TestSSOBackAfterSignOut(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	portal, invoices := originOf(t, d.URL), originOf(t, d.InvoicesURL)
	p := newSiteBrowser(t, d.URL, axe)
	p.signInAtSite(d.InvoicesURL, portal, invoicesHeading, key)
	number := strings.TrimPrefix(run(p, chromedp.Evaluate[string](
		`document.querySelector('main table a[href^="/invoices/"]').getAttribute("href")`)), "/invoices/")
	p.clickTo(link(number), "/invoices/"+number, invoiceHeading)
	p.hoverSiteMenu(satoName, satoEmail, d.URL+"/security")
	p.clickTo(button("ログアウト"), "/", "ログアウトしました")
	p.expectOrigin(invoices)

	back := chromedp.Evaluate[chromedp.Void](`history.back()`)
	p.navigation(back, "/login", "ログイン")
	p.expectOrigin(portal)
	p.navigation(back, "/login", "ログイン")
	p.expectOrigin(portal)
	p.screen("60-09-back-after-sign-out")
}

// TestSSOEndSessionFromElsewhereAsks: the portal's sign-out endpoint
// opened without the sites' id_token_hint (a link on any page) signs nobody
// out: the portal asks 「ログアウトしますか?」 and signs out, of the sites
// too, only when the customer clicks ログアウト. (The sites' own ログアウト
// sends the hint and signs out at once: TestSingleSignOn.)
func TestSSOEndSessionFromElsewhereAsks(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	portal, contracts := originOf(t, d.URL), originOf(t, d.ContractsURL)
	p := newSiteBrowser(t, d.URL, axe)
	p.signInAtSite(d.ContractsURL, portal, contractsHeading, key)
	contractsSession := p.cookie(d.ContractsURL, "tobira_contracts")

	p.openTo("/end_session", "/end_session", "ログアウトしますか?")
	p.expectText(`//main//p[contains(., "` + satoEmail + `")]`)
	p.screen("60-20-end-session-confirm")
	// Not signed out yet: キャンセル leads to the portal, still signed in,
	// and the contracts site still shows her contracts.
	p.clickTo(link("キャンセル"), "/", "マイページ")
	p.visit(d.ContractsURL+"/", contracts, "/", contractsHeading)

	p.openTo("/end_session", "/end_session", "ログアウトしますか?")
	p.clickTo(chromedp.Search(`//main//form[@action="/logout"]//button[normalize-space()="ログアウト"]`), "/login", "ログイン")
	p.expectOrigin(portal)
	p.expectText(`//p[@role="status" and normalize-space()="ログアウトしました。"]`)
	p.openTo("/security", "/login", "ログイン")
	d.expectSiteSessionEnded(t, d.ContractsURL, "tobira_contracts", contractsSession)
}

// TestSSOSignInLinkInAnotherBrowser: the sign-in link of a request that
// another browser started (an attacker's, sent to the customer) does not
// sign it in with the customer's portal session: the portal says the
// sign-in was not started in this browser, and its button leads back to
// the site, which starts a sign-in of its own, signed in at once.
func TestSSOSignInLinkInAnotherBrowser(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	portal, contracts := originOf(t, d.URL), originOf(t, d.ContractsURL)

	other := newSiteBrowser(t, d.URL, axe)
	other.visit(d.ContractsURL+"/", portal, "/login", "ログイン")
	at, err := url.Parse(other.location())
	if err != nil || !strings.HasPrefix(at.Query().Get("next"), "/oidc/login?id=") {
		t.Fatalf("the other browser is at %s, want the sign-in of a request", other.location())
	}
	lure := at.Query().Get("next")

	p := newSiteBrowser(t, d.URL, axe)
	p.signInAtSite(d.InvoicesURL, portal, invoicesHeading, key)

	p.navigationStatus(chromedp.Navigate(d.URL+lure), http.StatusBadRequest, "/oidc/login", "リクエストを処理できませんでした")
	p.expectOrigin(portal)
	p.expectText(`//p[@role="alert" and contains(., "このログインは、このブラウザで始まったものではないため")]`)
	p.screen("60-30-sign-in-link-in-another-browser")
	p.clickTo(link("「申込／契約確認サイト」に戻る"), "/", contractsHeading)
	p.expectOrigin(contracts)
}

// TestSiteSessionEndsAtReset: a reset of the second factor on the portal's
// security page (manual VI–VIII) ends the sites' sessions. The customer is
// signed in to the contracts site on this computer and on another device;
// she follows the manual from the contracts site to the reset. The other
// device, whose portal session the reset ends too, is sent to sign in again;
// so is this browser: its contracts site session ended, and the site sends
// it to sign in.
func TestSiteSessionEndsAtReset(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	portal, contracts := originOf(t, d.URL), originOf(t, d.ContractsURL)

	// Another device signed in to the contracts site.
	other := newSiteBrowser(t, d.URL, axe)
	other.signInAtSite(d.ContractsURL, portal, contractsHeading, key)
	other.expectOrigin(contracts)
	otherSession := other.cookie(d.ContractsURL, "tobira_contracts")

	// This computer: the contracts site, signed in through the portal. The
	// code just used is spent (the portal refuses a step it has accepted, and
	// any before it), so the app's next one, which the portal accepts.
	p := newSiteBrowser(t, d.URL, axe)
	p.visit(d.ContractsURL+"/", portal, "/login", "ログイン")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", oathtool(t, key, "-N", "now + 30 seconds"))
	p.clickTo(button("続ける"), "/", contractsHeading)
	p.expectOrigin(contracts)
	session := p.cookie(d.ContractsURL, "tobira_contracts")

	// III–V. The menu's 「セキュリティ」: the portal's security page.
	p.hoverSiteMenu(satoName, satoEmail, d.URL+"/security")
	p.clickTo(link("セキュリティ"), "/security", "セキュリティ")
	p.expectOrigin(portal)
	p.expectText(`//p[@id="mfa-status" and normalize-space()="✓設定されています"]`)

	// VI–VIII. 「リセット」, 「リセットする」: two-step verification is not set.
	p.do(chromedp.Click(link("リセット")))
	waitVisible(p, chromedp.ID("reset-dialog"))
	p.clickTo(button("リセットする"), "/security", "セキュリティ")
	p.expectText(`//p[@id="mfa-status" and normalize-space()="設定されていません"]`)
	p.screen("60-10-security-after-reset")

	// Both site sessions ended: the site answers their cookies by sending
	// the browser to sign in.
	d.expectSiteSessionEnded(t, d.ContractsURL, "tobira_contracts", session)
	d.expectSiteSessionEnded(t, d.ContractsURL, "tobira_contracts", otherSession)

	// The other device reloads the contracts site: its portal session ended
	// with the reset as well, so the portal asks it to sign in.
	other.reloadTo(portal, "/login", "ログイン")
	other.screen("60-11-other-device-after-reset")

	// This browser reloads the contracts site: its site session ended, and
	// the portal does not sign it in from the session the reset kept, since
	// the account has no second factor now: the next sign-in enrols one
	// (manual IX).
	p.navigation(chromedp.Navigate(d.ContractsURL+"/"), "/login", "ログイン")
	p.expectOrigin(portal)
	p.signIn(satoEmail, satoPassword, "/enrol", "2要素認証の設定")
	p.screen("60-12-enrol-after-reset")
}

// ---------------------------------------------------------------------------
// Helpers for the sites

// newSiteBrowser is newBrowser for journeys that cross origins: when the
// test fails, it logs what the pages said on the console, where Chromium
// reports what a Content-Security-Policy blocked (a form's redirect to
// another origin, for one), which the page load's error does not say.
// signInAtSite opens a customer site, which sends the browser to the
// portal (at origin portal) to sign in: 佐藤's password and the code of
// her app (key), and the browser is back on the site, at its page headed
// heading.
func (p *page) signInAtSite(site, portal, heading, key string) {
	p.t.Helper()
	p.visit(site+"/", portal, "/login", "ログイン")
	p.signIn(satoEmail, satoPassword, "/login/code", "ワンタイムパスワードの入力")
	p.typeInto("ワンタイムコードの入力", oathtool(p.t, key))
	p.clickTo(button("続ける"), "/", heading)
}

func newSiteBrowser(t *testing.T, base, axe string) *page {
	t.Helper()
	p := newBrowser(t, base, axe)
	var mu sync.Mutex
	var said []string
	go func() {
		for m, err := range chromedp.Console(p.ctx) {
			if err != nil {
				return
			}
			mu.Lock()
			said = append(said, strings.TrimSpace(m.Text))
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() && len(said) > 0 {
			t.Logf("the browser's console:\n  %s", strings.Join(said, "\n  "))
		}
	})
	return p
}

// originOf is the scheme://host:port of a URL.
func originOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		t.Fatalf("not an absolute URL: %q (%v)", raw, err)
	}
	return u.Scheme + "://" + u.Host
}

// visit loads an absolute URL, a site's or the portal's, and waits for the
// page at origin and path with heading h1, wherever redirects lead.
func (p *page) visit(rawURL, origin, path, h1 string) {
	p.t.Helper()
	p.navigation(chromedp.Navigate(rawURL), path, h1)
	p.expectOrigin(origin)
}

// reloadTo reloads the page and waits for where it leads.
func (p *page) reloadTo(origin, path, h1 string) {
	p.t.Helper()
	p.navigation(chromedp.Reload(), path, h1)
	p.expectOrigin(origin)
}

func (p *page) expectOrigin(want string) {
	p.t.Helper()
	if got := run(p, chromedp.Evaluate[string](`location.origin`)); got != want {
		p.t.Fatalf("expected a page of %s, the browser is at %s", want, p.location())
	}
}

// cookie is the value of the browser's cookie name for rawURL; the test
// fails when there is none.
func (p *page) cookie(rawURL, name string) string {
	p.t.Helper()
	res := run(p, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	}))
	for _, c := range res.Cookies {
		if c.Name == name && c.Value != "" {
			return c.Value
		}
	}
	p.t.Fatalf("the browser has no cookie %s for %s", name, rawURL)
	return ""
}

// mouseAway moves the mouse to the bottom left, away from any menu.
func (p *page) mouseAway() {
	p.t.Helper()
	p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 5, 880))
}

// hoverSiteMenu is manual III on a customer site: the mouse onto the
// account icon at the top right opens the dropdown with the customer's
// name and email, 「セキュリティ」 (the portal's security page) and
// ログアウト (a form to the site's /auth/logout).
func (p *page) hoverSiteMenu(name, email, security string) {
	t := p.t
	t.Helper()
	p.mouseAway()
	if p.menuVisible() {
		t.Fatal("the account menu shows before the mouse is on the icon")
	}
	type point struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	}
	c := run(p, chromedp.Evaluate[point](`(() => {
		const r = document.querySelector(".account [data-account-button]").getBoundingClientRect();
		return {x: r.left + r.width / 2, y: r.top + r.height / 2};
	})()`))
	if c.X < 1280*0.75 || c.Y > 100 {
		t.Errorf("the account icon is at (%.0f, %.0f), not at the top right", c.X, c.Y)
	}
	p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, c.X, c.Y))
	waitVisible(p, chromedp.ID("account-menu"))
	waitVisible(p, chromedp.Search(`//div[@id="account-menu"]//p[contains(normalize-space(), "`+name+`") and contains(., "`+email+`")]`))
	waitVisible(p, chromedp.Search(`//div[@id="account-menu"]//a[normalize-space()="セキュリティ" and @href="`+security+`"]`))
	waitVisible(p, chromedp.Search(`//div[@id="account-menu"]//form[@method="post" and @action="/auth/logout"]//button[normalize-space()="ログアウト"]`))
	if exp := run(p, chromedp.Evaluate[string](`document.querySelector("[data-account-button]").getAttribute("aria-expanded")`)); exp != "true" {
		t.Errorf("the account menu shows but its button says aria-expanded=%q", exp)
	}
}

// checkQualifiedInvoice checks what a qualified invoice must show: the
// issuer's name and registration number (T and 13 digits), the period, the
// items with the reduced-rate ones marked, the recipient, and per tax rate
// the total and the tax, computed once per rate and rounded down.
func (p *page) checkQualifiedInvoice(number, recipient string) {
	t := p.t
	t.Helper()
	type line struct {
		Amount, Rate string
		Reduced      bool
	}
	type total struct {
		Rate, Label, Subtotal, Tax, Total string
	}
	type doc struct {
		Registration, Issuer, Recipient, Meta, Grand string
		Lines                                        []line
		Totals                                       []total
		Sum                                          []string
	}
	v := run(p, chromedp.Evaluate[doc](`(() => {
		const text = (e) => e ? e.textContent.replace(/\s+/g, " ").trim() : "";
		const cells = (tr) => [...tr.querySelectorAll("th, td")].map(text);
		return {
			registration: text(document.querySelector("[data-registration]")),
			issuer: text(document.querySelector(".issuer-name")),
			recipient: text(document.querySelector(".recipient .to")),
			meta: text(document.querySelector(".issuer .meta")),
			grand: text(document.querySelector("[data-grand-total]")),
			lines: [...document.querySelectorAll("table.items tbody tr")].map(tr => {
				const c = cells(tr);
				return {amount: c[3], rate: c[4], reduced: c[0].includes("※")};
			}),
			totals: [...document.querySelectorAll("table.totals tbody tr")].map(tr => {
				const c = cells(tr);
				return {rate: tr.dataset.rate, label: c[0], subtotal: c[1], tax: c[2], total: c[3]};
			}),
			sum: cells(document.querySelector("table.totals tfoot tr")),
		};
	})()`))

	if !regexpT13.MatchString(v.Registration) {
		t.Errorf("the issuer's registration number %q is not T and 13 digits", v.Registration)
	}
	if v.Issuer == "" {
		t.Error("the invoice does not name its issuer")
	}
	if v.Recipient != recipient+" 様" {
		t.Errorf("the invoice is made out to %q, want %q", v.Recipient, recipient+" 様")
	}
	if !strings.Contains(v.Meta, number) || !strings.Contains(v.Meta, "ご利用期間") || !strings.Contains(v.Meta, "発行日") {
		t.Errorf("the invoice's number, date and period: %q", v.Meta)
	}
	if len(v.Lines) == 0 {
		t.Fatal("the invoice has no items")
	}
	subtotals := map[int64]int64{}
	for i, l := range v.Lines {
		rate, err := strconv.ParseInt(strings.TrimSuffix(l.Rate, "%"), 10, 64)
		if err != nil {
			t.Fatalf("item %d: tax rate %q", i+1, l.Rate)
		}
		if l.Reduced != (rate == 8) {
			t.Errorf("item %d at %d%%: reduced-rate mark ※ is %v", i+1, rate, l.Reduced)
		}
		subtotals[rate] += yen(t, l.Amount)
	}
	if len(subtotals) != 2 || subtotals[10] == 0 || subtotals[8] == 0 {
		t.Errorf("the demo's invoices have items at 10%% and 8%%; this one's subtotals are %v", subtotals)
	}
	if len(v.Totals) != len(subtotals) {
		t.Fatalf("the invoice has %d per-rate totals for %d rates: %+v", len(v.Totals), len(subtotals), v.Totals)
	}
	var sumSub, sumTax, sumTotal int64
	for _, r := range v.Totals {
		rate, err := strconv.ParseInt(r.Rate, 10, 64)
		if err != nil {
			t.Fatalf("per-rate total with rate %q", r.Rate)
		}
		sub, tax, tot := yen(t, r.Subtotal), yen(t, r.Tax), yen(t, r.Total)
		if r.Label != r.Rate+"%対象" {
			t.Errorf("the %d%% row is labelled %q", rate, r.Label)
		}
		if sub != subtotals[rate] {
			t.Errorf("the %d%% subtotal is %d円; its items add up to %d円", rate, sub, subtotals[rate])
		}
		// The tax once per rate, rounded down (not per line).
		if want := sub * rate / 100; tax != want {
			t.Errorf("the %d%% tax is %d円, want %d円 (%d円 × %d%%, rounded down)", rate, tax, want, sub, rate)
		}
		if tot != sub+tax {
			t.Errorf("the %d%% total is %d円, want %d円 + %d円", rate, tot, sub, tax)
		}
		sumSub, sumTax, sumTotal = sumSub+sub, sumTax+tax, sumTotal+tot
	}
	if len(v.Sum) != 4 || yen(t, v.Sum[1]) != sumSub || yen(t, v.Sum[2]) != sumTax || yen(t, v.Sum[3]) != sumTotal {
		t.Errorf("the invoice's sum row %q does not add up to %d円, %d円, %d円", v.Sum, sumSub, sumTax, sumTotal)
	}
	if yen(t, v.Grand) != sumTotal {
		t.Errorf("ご請求金額 is %q, want %d円", v.Grand, sumTotal)
	}
}

// yen reads an amount as the Japanese pages write it: 1,234円.
func yen(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSuffix(s, "円"), ",", ""), 10, 64)
	if err != nil || !strings.HasSuffix(s, "円") {
		t.Fatalf("not an amount in yen: %q", s)
	}
	return n
}

// expectSiteSessionEnded checks that a site no longer knows a session
// cookie: asked for its top page with it, it sends the browser to sign in.
// The portal ends the sites' sessions by back-channel posts it sends in the
// background, so this waits for that, a bounded time.
func (d *demo) expectSiteSessionEnded(t *testing.T, site, cookie, value string) {
	t.Helper()
	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	want := "/auth/login?return=%2F"
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for {
		req, err := http.NewRequest(http.MethodGet, site+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: cookie, Value: value})
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s/: %v", site, err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusSeeOther && res.Header.Get("Location") == want {
			return
		}
		last = res.Status + " " + res.Header.Get("Location")
		if time.Now().After(deadline) {
			t.Fatalf("%s still knows the session %s=%.8s… 10 s after it should have ended: GET / answers %s, want 303 to %s",
				site, cookie, value, last, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
