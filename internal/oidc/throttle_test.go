package oidc_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// One address may leave only so many authorization requests open: a
// flood of requests it never goes on with is refused, with a page that
// says so in the customer's language, before anything is stored. Requests
// signed in or answered give their count back, so a customer who signs in
// many times, and the sites' silent checks, never meet the limit; nor do
// requests the provider refuses, which store nothing.
func TestAuthorizeRequestsBoundedPerAddress(t *testing.T) {
	const bound = portal.OpenAuthorizationsPerClient
	e := newPortal(t)
	e.clock.toWindowStart(portal.OpenAuthorizationsWindow)
	site := e.newRP(&store.Client{Name: "contracts", RedirectURIs: []string{"http://127.0.0.1:9/callback"}})

	// Sign-ins, silent checks answered at once, and requests refused for
	// their redirect URI: each gives its count back, or the flood below
	// would be refused before the bound.
	b := e.browser()
	site.login(b)
	for range 20 {
		site.sso(b)
	}
	for range 20 {
		sb := e.browser()
		res, _ := e.get(sb, site.authURL("silent", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none")))
		loc, _ := res.Location()
		if loc == nil || !strings.Contains(loc.RawQuery, "id=") {
			t.Fatalf("silent check: status %d, location %v", res.StatusCode, loc)
		}
		// The portal's sign-in page answers it login_required.
		res, _ = e.get(sb, loc.String())
		if loc, _ := res.Location(); loc == nil || loc.Query().Get("error") != "login_required" {
			t.Fatalf("silent check: status %d, location %v", res.StatusCode, loc)
		}
	}
	bad := strings.Replace(site.authURL("bad", oauth2.GenerateVerifier()), "127.0.0.1%3A9", "127.0.0.1%3A8", 1)
	for range 20 {
		if res, _ := e.get(e.browser(), bad); res.StatusCode != http.StatusBadRequest {
			t.Fatalf("a request with an unregistered redirect URI: status %d, want 400", res.StatusCode)
		}
	}

	// Requests left open: the bound's worth is stored, then refused.
	flood := e.browser()
	for i := range bound {
		res, _ := e.get(flood, site.authURL("flood", oauth2.GenerateVerifier()))
		if loc, _ := res.Location(); loc == nil || !strings.HasPrefix(loc.Path, "/oidc/login") {
			t.Fatalf("open request %d: status %d, location %v", i+1, res.StatusCode, loc)
		}
	}
	for _, tc := range []struct{ lang, want string }{
		{"ja", "お使いのネットワークから短い時間に多くのログインの要求があったため、受け付けを一時的に停止しています。"},
		{"en", "Too many sign-in requests came from your network in a short time"},
	} {
		fresh := e.browser()
		res, body := e.get(fresh, site.authURL("flood", oauth2.GenerateVerifier()), "Accept-Language", tc.lang)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Fatalf("request over the bound: status %d, Retry-After %q, want 429 with it", res.StatusCode, res.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("429 page in %s lacks %q:\n%s", tc.lang, tc.want, body)
		}
		for _, c := range res.Cookies() {
			if strings.Contains(c.Name, "oidc_browser") {
				t.Errorf("a refused request set the cookie %s", c.Name)
			}
		}
	}
	// The language the site asks for (ui_locales) comes before the
	// browser's, as on the sign-in pages.
	res, body := e.get(e.browser(), site.authURL("flood", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("ui_locales", "en")),
		"Accept-Language", "ja")
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many sign-in requests came from your network") {
		t.Errorf("request over the bound with ui_locales=en: status %d, want 429 in English:\n%s", res.StatusCode, body)
	}
}

// A request's count is given back once, when it closes: at its first
// code, or when it is refused or declined before one. A request whose
// code was issued and whose sign-in page is then opened again, by a
// browser without its binding (which a silent request answers
// login_required), closes nothing more and gives nothing back, or every
// sign-in would let one more request stay open beyond the bound.
func TestAuthorizeCountGivenBackOnce(t *testing.T) {
	const bound = portal.OpenAuthorizationsPerClient
	e := newPortal(t)
	e.clock.toWindowStart(portal.OpenAuthorizationsWindow)
	site := e.newRP(&store.Client{Name: "contracts", RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	b := e.browser()
	site.login(b)

	flood := e.browser()
	stored := func(n int) {
		t.Helper()
		for i := range n {
			res, _ := e.get(flood, site.authURL("flood", oauth2.GenerateVerifier()))
			if loc, _ := res.Location(); loc == nil || !strings.HasPrefix(loc.Path, "/oidc/login") {
				t.Fatalf("open request %d of %d: status %d, location %v", i+1, n, res.StatusCode, loc)
			}
		}
	}
	stored(bound - 1)

	// A silent check of the signed-in browser: its code is issued, and
	// its count given back.
	back, visited := e.follow(b, site.authURL("silent", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none")))
	site.codeFrom(back, "silent")
	login := ""
	for _, p := range visited {
		if strings.HasPrefix(p, "/oidc/login?") {
			login = p
		}
	}
	if login == "" {
		t.Fatalf("the silent check visited no sign-in page: %v", visited)
	}
	// Its sign-in page again, in a browser without its binding: the
	// request is refused, and gives nothing back again.
	res, _ := e.get(e.browser(), e.srv.URL+login)
	if loc, _ := res.Location(); loc == nil || loc.Query().Get("error") != "login_required" {
		t.Fatalf("the silent check's sign-in page in another browser: status %d, location %v", res.StatusCode, loc)
	}

	// The bound is where it was: one more request is stored, not two.
	stored(1)
	if res, _ := e.get(flood, site.authURL("flood", oauth2.GenerateVerifier())); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request beyond the bound: status %d, want 429", res.StatusCode)
	}
}

// The callback of a request not signed in yet (its browser went there
// before the sign-in) answers the client interaction_required with its
// state, and so ends the request, as the other answers do: its sign-in
// page then says it is gone, and its count is given back.
func TestCallbackBeforeSignInEndsTheRequest(t *testing.T) {
	const bound = portal.OpenAuthorizationsPerClient
	e := newPortal(t)
	e.clock.toWindowStart(portal.OpenAuthorizationsWindow)
	site := e.newRP(&store.Client{Name: "contracts", RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	flood := e.browser()
	request := func() *http.Response {
		t.Helper()
		res, _ := e.get(flood, site.authURL("flood", oauth2.GenerateVerifier()))
		return res
	}
	for i := range bound - 1 {
		if loc, _ := request().Location(); loc == nil || !strings.HasPrefix(loc.Path, "/oidc/login") {
			t.Fatalf("open request %d: location %v", i+1, loc)
		}
	}

	b := e.browser()
	res, _ := e.get(b, site.authURL("early", oauth2.GenerateVerifier()))
	loc, _ := res.Location()
	if loc == nil || loc.Query().Get("id") == "" {
		t.Fatalf("authorize: status %d, location %v", res.StatusCode, loc)
	}
	id := loc.Query().Get("id")
	res, _ = e.get(b, e.srv.URL+"/authorize/callback?id="+id)
	if back, _ := res.Location(); back == nil || back.Query().Get("error") != "interaction_required" || back.Query().Get("state") != "early" {
		t.Fatalf("callback before the sign-in: status %d, location %v; want interaction_required with the state", res.StatusCode, back)
	}
	if res, _ := e.get(b, loc.String()); res.StatusCode != http.StatusBadRequest {
		t.Errorf("the sign-in page of the answered request: status %d, want 400 (gone)", res.StatusCode)
	}

	// Its count given back, the bound is one request away, as before it.
	if loc, _ := request().Location(); loc == nil || !strings.HasPrefix(loc.Path, "/oidc/login") {
		t.Fatalf("the bound's last request: location %v", loc)
	}
	if res := request(); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request beyond the bound: status %d, want 429", res.StatusCode)
	}
}
