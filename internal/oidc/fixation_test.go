package oidc_test

import (
	"io"
	"net/http"
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
