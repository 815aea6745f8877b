package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSelectAccountPrompt: a site that asks the customer to choose the
// account (prompt=select_account) is answered, in a browser signed in to
// the portal, with 「このアカウントで続けますか？」 and her name and email.
// 「続ける」 goes on (here to the consent of a third-party site, then back
// to the site with a code); 「別のアカウントでログイン」 asks first, then
// signs the browser out and shows the sign-in of the same request.
// Screenshots are output/61-*.png, and axe-core checks every screen.
func TestSelectAccountPrompt(t *testing.T) {
	axe := requireE2E(t)
	d := startDemo(t)
	key, _ := d.satoKeys(t)
	portal := originOf(t, d.URL)

	// The site: its callback says it got the browser back.
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html lang="ja"><head><title>テストサイト</title></head>` +
			`<body><main><h1>テストサイトに戻りました</h1></main></body></html>`))
	}))
	t.Cleanup(site.Close)
	// Registered before the portal serves a page: its pages' form-action
	// names the clients' origins as it last read them.
	clientID, _ := d.createClient(t, "テストサイト", site.URL+"/cb")
	authorize := func(state string) string {
		return d.URL + "/authorize?" + url.Values{"client_id": {clientID}, "redirect_uri": {site.URL + "/cb"},
			"response_type": {"code"}, "scope": {"openid email"}, "state": {state}, "nonce": {"n-" + state},
			"prompt": {"select_account"}}.Encode()
	}

	p := newSiteBrowser(t, d.URL, axe)
	p.satoSignsIn(key)

	p.visit(authorize("s1"), portal, "/oidc/login", "このアカウントで続けますか？")
	p.expectText(`//main//li[normalize-space()="` + satoName + `"]`)
	p.expectText(`//main//li[normalize-space()="` + satoEmail + `"]`)
	p.screen("61-01-select-account")
	p.clickTo(button("続ける"), "/oidc/select", "アクセスの許可")
	p.navigation(chromedp.Click(button("許可する")), "/cb", "テストサイトに戻りました")
	back, err := url.Parse(p.location())
	if err != nil || back.Query().Get("state") != "s1" || back.Query().Get("code") == "" {
		t.Fatalf("back at the site with %s, want a code and state s1", p.location())
	}

	p.visit(authorize("s2"), portal, "/oidc/login", "このアカウントで続けますか？")
	p.clickTo(link("別のアカウントでログイン"), "/oidc/switch", "別のアカウントでログインしますか？")
	p.expectText(`//main//p[contains(., "` + satoEmail + `")]`)
	p.screen("61-02-select-account-switch")
	// Not signed out yet: キャンセル shows the choice again.
	p.clickTo(link("キャンセル"), "/oidc/login", "このアカウントで続けますか？")
	p.clickTo(link("別のアカウントでログイン"), "/oidc/switch", "別のアカウントでログインしますか？")
	p.clickTo(button("ログアウトして続ける"), "/login", "ログイン")
	p.expectOrigin(portal)
	next, err := url.Parse(p.location())
	if err != nil {
		t.Fatal(err)
	}
	if nx, _ := url.Parse(next.Query().Get("next")); nx == nil || nx.Path != "/oidc/login" || nx.Query().Get("id") == "" {
		t.Fatalf("the sign-in after switching is at %s, want one that comes back to the request", p.location())
	}
	p.screen("61-03-select-account-sign-in")
	// Signed out of the portal.
	p.openTo("/security", "/login", "ログイン")
}
