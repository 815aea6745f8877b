package oidc_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
)

// An authorization request is the browser's that started it. An attacker
// starts one for a customer site (their own state and PKCE verifier) and
// lures a signed-in customer to its sign-in page, where the portal signs it
// in with the customer's session at once (a first-party site asks no
// consent): the attacker's browser, loading the request's callback, must
// not get the code, which their state and verifier would turn into the
// customer's tokens at the site.
func TestAuthRequestStaysInItsBrowser(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	victim := e.browser()
	a.login(victim)

	attacker := newJarBrowser()
	verifier := oauth2.GenerateVerifier()
	_, visited := e.follow(attacker, b.authURL("attacker", verifier))
	lure := ""
	for _, p := range visited {
		if strings.HasPrefix(p, oidc.LoginPath+"?id=") {
			lure = p
		}
	}
	if lure == "" {
		t.Fatalf("no sign-in page of the request among %v", visited)
	}
	id := strings.TrimPrefix(lure, oidc.LoginPath+"?id=")

	// The customer opens the link: their browser is sent back to the site.
	// The request is the browser's that started it (TestAuthRequest
	// BoundToBrowser): had the attacker's binding cookie got into the
	// customer's browser, the session's check below must still hold.
	e.plantBinding(attacker, victim)
	e.clock.Advance(time.Second)
	back, _ := e.follow(victim, e.srv.URL+lure)
	if back == nil {
		t.Fatal("the customer's browser stayed on the portal")
	}
	// The attacker loads the callback, before or after the customer did.
	res, err := attacker.Get(e.srv.URL + "/authorize/callback?id=" + id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if loc, _ := res.Location(); loc != nil && loc.Query().Get("code") != "" {
		if tok, err := b.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
			t.Fatalf("the attacker's browser got the customer's code, and tokens: %v", tok.Extra("id_token") != nil)
		}
		t.Fatalf("the attacker's browser got a code: %s", loc)
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("the callback in another browser: %d\n%s", res.StatusCode, body)
	}
}

// The library reads the callback's id from the form, a POST's body before
// the query: an attacker must not get a customer's code by naming in the
// query a request of their own that is not signed in (which the check of
// the session skips) and the customer's in the body.
func TestAuthRequestCallbackIDInBody(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	victim := e.browser()
	a.login(victim)

	attacker := newJarBrowser()
	requestID := func(verifier string) string {
		t.Helper()
		_, visited := e.follow(attacker, b.authURL("attacker", verifier))
		for _, p := range visited {
			if id, ok := strings.CutPrefix(p, oidc.LoginPath+"?id="); ok {
				return id
			}
		}
		t.Fatalf("no sign-in page of the request among %v", visited)
		return ""
	}
	verifier := oauth2.GenerateVerifier()
	lured := requestID(verifier)
	decoy := requestID(oauth2.GenerateVerifier()) // the attacker's own, never signed in

	e.plantBinding(attacker, victim) // as in TestAuthRequestStaysInItsBrowser
	e.clock.Advance(time.Second)
	if back, _ := e.follow(victim, e.srv.URL+oidc.LoginPath+"?id="+lured); back == nil {
		t.Fatal("the customer's browser stayed on the portal")
	}
	res, err := attacker.Post(e.srv.URL+"/authorize/callback?id="+decoy,
		"application/x-www-form-urlencoded", strings.NewReader("id="+lured))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if loc, _ := res.Location(); loc != nil && loc.Query().Get("code") != "" {
		if _, err := b.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
			t.Fatalf("the attacker got the customer's code and tokens: %s", loc)
		}
		t.Fatalf("the attacker got a code: %s", loc)
	}
	if res.StatusCode < 400 {
		t.Errorf("a callback with the id in its body: %d\n%s", res.StatusCode, body)
	}
}

// plantBinding gives browser to the binding cookie of browser from, which
// a browser never lets another site set (HttpOnly, and __Host- over
// HTTPS): so that a test gets past the binding to what checks after it.
func (e *portalEnv) plantBinding(from, to *http.Client) {
	e.t.Helper()
	u, _ := url.Parse(e.srv.URL)
	for _, c := range from.Jar.Cookies(u) {
		if c.Name == "tobira_oidc_browser" {
			to.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
			return
		}
	}
	e.t.Fatal("the browser has no binding cookie")
}
