package oidc_test

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/store"
)

// Every authorization response names the provider (iss, RFC 9207): the
// code, an error the library sends from /authorize (in the query, or in
// the fragment), and an error the portal sends after the sign-in page
// (prompt=none without a session); the discovery document says so. A
// request that is not sent back gets no redirect at all.
func TestAuthorizationResponsesCarryIssuer(t *testing.T) {
	e := newPortal(t)
	// A redirect URI with a query of its own: iss goes beside the
	// response's parameters, not into a second query.
	const redirect = "http://127.0.0.1:9/cb?app=1"
	r := e.newRP(&store.Client{Name: "iss", RedirectURIs: []string{redirect}})

	var doc map[string]any
	e.getJSON("/.well-known/openid-configuration", &doc)
	if doc["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("discovery: authorization_response_iss_parameter_supported = %v, want true", doc["authorization_response_iss_parameter_supported"])
	}

	check := func(name string, params url.Values, want string) {
		t.Helper()
		if params.Get("iss") != e.srv.URL || params.Get("state") == "" || params.Get(want) == "" {
			t.Errorf("%s: response %v, want %s, state and iss %s", name, params, want, e.srv.URL)
		}
		if len(params["iss"]) != 1 {
			t.Errorf("%s: iss given %d times", name, len(params["iss"]))
		}
	}

	verifier := oauth2.GenerateVerifier()
	back := e.signIn(e.browser(), r.authURL("s1", verifier))
	if back == nil {
		t.Fatal("the browser was not sent back")
	}
	check("code", back.Query(), "code")
	if back.Query().Get("app") != "1" {
		t.Errorf("code: the redirect URI's own query is lost: %s", back)
	}
	r.exchange(back.Query().Get("code"), verifier)

	_, loc := e.authorize(authParams(r.c.ID, redirect, "scope", "email"))
	if loc == nil {
		t.Fatal("invalid_scope: not sent back")
	}
	check("invalid_scope", loc.Query(), "error")

	_, loc = e.authorize(authParams(r.c.ID, redirect, "response_type", "token"))
	if loc == nil || loc.Fragment == "" {
		t.Fatalf("unsupported_response_type: sent to %v, want the fragment", loc)
	}
	frag, err := url.ParseQuery(loc.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	check("unsupported_response_type", frag, "error")
	if loc.Query().Has("iss") {
		t.Errorf("unsupported_response_type: iss in the query too: %s", loc)
	}

	back, _ = e.follow(newJarBrowser(), e.srv.URL+"/authorize?"+authParams(r.c.ID, redirect, "prompt", "none").Encode())
	if back == nil || back.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none: sent to %v, want login_required", back)
	}
	check("login_required", back.Query(), "error")

	// Not sent back: no Location to carry anything.
	status, loc := e.authorize(authParams(r.c.ID, "http://127.0.0.1:9/other"))
	if loc != nil || status != 400 {
		t.Errorf("unregistered redirect_uri: status %d, location %v", status, loc)
	}
	if loc != nil && strings.Contains(loc.String(), "iss=") {
		t.Errorf("unregistered redirect_uri: %s", loc)
	}
}
