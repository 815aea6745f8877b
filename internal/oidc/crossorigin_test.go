package oidc_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/store"
)

// What a browser adds to a request a page of another origin makes.
func crossSite(req *http.Request, origin, mode string) {
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", mode)
}

// A public client is a page in the browser (ApplicationTypeUserAgent): it
// calls the token and revocation endpoints with fetch() from its own
// origin. Those calls must be answered, with CORS headers, as a
// confidential client's server-to-server calls are.
//
// BUG: web.Server.ServeHTTP wraps every route, the provider's endpoints
// included, in http.CrossOriginProtection (server.go, csrf), which refuses
// any cross-origin POST with 403 before the provider (and its CORS
// handling) sees it. A browser client's code exchange, refresh and
// revocation all fail; only the preflight passes. The provider's endpoints
// that clients call (/oauth/token, /revoke, /oauth/introspect, /userinfo)
// need no CSRF check: they take no cookies.
func TestBrowserClientCallsFromItsOrigin(t *testing.T) {
	e := newPortal(t)
	const origin = "http://127.0.0.1:9"
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{origin + "/spa"}})
	verifier := oauth2.GenerateVerifier()
	code := spa.codeFrom(e.signIn(e.browser(), spa.authURL("st", verifier)), "st")

	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		crossSite(req, origin, "cors")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	// The preflight a browser may send first.
	req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/oauth/token", nil)
	crossSite(req, origin, "cors")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 || res.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("preflight of the token endpoint: %d, Access-Control-Allow-Origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}

	res = post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {spa.redirect}, "code_verifier": {verifier}, "client_id": {spa.c.ID}})
	if res.StatusCode != http.StatusOK {
		t.Errorf("the browser client's code exchange from its origin: %d, want 200", res.StatusCode)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin && got != "*" {
		t.Errorf("token answer's Access-Control-Allow-Origin %q, want %s", got, origin)
	}

	res = post("/revoke", url.Values{"token": {"no-such-token"}, "client_id": {spa.c.ID}})
	if res.StatusCode != http.StatusOK {
		t.Errorf("the browser client's revocation from its origin: %d, want 200", res.StatusCode)
	}
}

// OpenID Connect Core 3.1.2.1 and RP-Initiated Logout 1.0 2: the
// authorization and logout endpoints must accept POST as well as GET, and
// a site's page sends that POST as a form from its own origin.
//
// BUG: the portal's cross-origin protection (see
// TestBrowserClientCallsFromItsOrigin) refuses both with 403. The same
// requests by GET are accepted, so the refusal protects nothing.
func TestFormPostFromSiteOrigin(t *testing.T) {
	e := newPortal(t)
	const origin = "https://rp.example.jp"
	const after = origin + "/signed-out"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb", origin + "/cb"},
		PostLogoutRedirectURIs: []string{after}})

	navigate := func(b *http.Client, path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		crossSite(req, origin, "navigate")
		res, err := noFollow(b).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	// The browser sends no cookie of the portal's with the POST: the
	// request goes on by GET, which carries them (TestCrossSitePostKeepsBinding).
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	jar := newJarBrowser()
	res := navigate(jar, "/authorize", authParams(r.c.ID, origin+"/cb",
		"code_challenge", challenge, "code_challenge_method", "S256"))
	if loc, _ := res.Location(); loc == nil || loc.Path != "/authorize" || res.StatusCode != http.StatusSeeOther {
		t.Errorf("POST /authorize from the site's page: %d, location %v; want a GET of the request", res.StatusCode, loc)
	} else if _, visited := e.follow(jar, loc.String()); len(visited) < 2 || !strings.HasPrefix(visited[1], "/oidc/login?") {
		t.Errorf("POST /authorize from the site's page: visited %v, want the request's sign-in page", visited)
	}

	b := e.browser()
	tok := r.login(b)
	res = navigate(b, "/end_session", url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {after}, "state": {"bye"}})
	if loc, _ := res.Location(); loc == nil || !strings.HasPrefix(loc.String(), after) || loc.Query().Get("state") != "bye" {
		t.Errorf("POST /end_session from the site's page: %d, location %v", res.StatusCode, loc)
	}
}

// No other site may read, with the customer's cookies, what the portal
// answers a signed-in browser at the provider's endpoints: the pages of a
// refused /authorize or /end_session name the customer. A credentialed
// fetch() from another origin must not be allowed (no
// Access-Control-Allow-Credentials), while clients' pages still call the
// token endpoint from any origin, without cookies.
func TestNoCredentialedCrossOriginReads(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	b := e.browser()
	r.login(b)
	const evil = "https://evil.example"
	for _, path := range []string{
		"/authorize?client_id=nobody&redirect_uri=x&response_type=code&scope=openid",
		"/end_session?id_token_hint=garbage",
		"/userinfo",
		"/.well-known/openid-configuration",
	} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		crossSite(req, evil, "cors")
		res, err := noFollow(b).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Header.Get("Access-Control-Allow-Credentials") == "true" {
			t.Errorf("%s: Access-Control-Allow-Credentials: true for %s (the answer names %v)", path, evil,
				strings.Contains(string(body), e.email))
		}
		if ao := res.Header.Get("Access-Control-Allow-Origin"); ao == evil && strings.Contains(string(body), e.email) {
			t.Errorf("%s: %s may read a page that shows the customer's address", path, evil)
		}
	}
	// A preflight for a credentialed call is not granted either.
	req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/oauth/token", nil)
	crossSite(req, evil, "cors")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Credentials") == "true" || res.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("preflight: Allow-Origin %q, Allow-Credentials %q; want any origin, no credentials",
			res.Header.Get("Access-Control-Allow-Origin"), res.Header.Get("Access-Control-Allow-Credentials"))
	}
}
