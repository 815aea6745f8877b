package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// The discovery document names the portal's endpoints and what it supports.
func TestDiscovery(t *testing.T) {
	e := newPortal(t)
	var d map[string]any
	e.getJSON("/.well-known/openid-configuration", &d)

	if d["issuer"] != e.srv.URL {
		t.Errorf("issuer %v, want %s", d["issuer"], e.srv.URL)
	}
	for key, path := range map[string]string{
		"authorization_endpoint": "/authorize",
		"token_endpoint":         "/oauth/token",
		"userinfo_endpoint":      "/userinfo",
		"jwks_uri":               "/keys",
		"end_session_endpoint":   "/end_session",
		"revocation_endpoint":    "/revoke",
	} {
		if d[key] != e.srv.URL+path {
			t.Errorf("%s = %v, want %s", key, d[key], e.srv.URL+path)
		}
	}
	list := func(key string) []string {
		var out []string
		vs, _ := d[key].([]any)
		for _, v := range vs {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	if m := list("code_challenge_methods_supported"); !slices.Contains(m, "S256") {
		t.Errorf("code_challenge_methods_supported %v lacks S256", m)
	}
	if g := list("grant_types_supported"); !slices.Contains(g, "refresh_token") || !slices.Contains(g, "authorization_code") {
		t.Errorf("grant_types_supported %v", g)
	}
	if a := list("id_token_signing_alg_values_supported"); !slices.Contains(a, "RS256") {
		t.Errorf("id_token_signing_alg_values_supported %v", a)
	}
	for _, key := range []string{"backchannel_logout_supported", "backchannel_logout_session_supported"} {
		if d[key] != true {
			t.Errorf("%s = %v, want true", key, d[key])
		}
	}
	// Every endpoint it names is one the portal routes to the provider.
	for _, key := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"end_session_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		u, _ := d[key].(string)
		if u == "" {
			continue
		}
		if !slices.Contains(oidc.Paths, u[len(e.srv.URL):]) {
			t.Errorf("%s %s is not among oidc.Paths", key, u)
		}
	}
}

// /keys publishes the current signing key.
func TestKeysPublishCurrentKey(t *testing.T) {
	e := newPortal(t)
	var ks jwks
	e.getJSON("/keys", &ks)
	if len(ks.Keys) != 1 {
		t.Fatalf("%d keys published, want 1: %+v", len(ks.Keys), ks)
	}
	k := ks.Keys[0]
	if k.Kid == "" || k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.N == "" || k.E == "" {
		t.Errorf("key %+v", k)
	}
	// An ID token names it.
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	tok := r.login(e.browser())
	h, _ := decodeJWT(t, tok.Extra("id_token").(string))
	if h["kid"] != k.Kid || h["alg"] != "RS256" {
		t.Errorf("ID token header %v, want kid %s", h, k.Kid)
	}
}

// After a rotation the new key signs and the old one stays published for
// KeyOverlap, so tokens it signed still verify; then it goes.
func TestKeyRotation(t *testing.T) {
	e := newPortal(t)
	ctx := context.Background()
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	before := e.kids()
	tok := r.login(e.browser())
	oldRaw := tok.Extra("id_token").(string)
	h, _ := decodeJWT(t, oldRaw)
	oldKid, _ := h["kid"].(string)
	if len(before) != 1 || before[0] != oldKid {
		t.Fatalf("published %v, ID token signed by %s", before, oldKid)
	}

	if err := e.provider.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	after := e.kids()
	if len(after) != 2 || !slices.Contains(after, oldKid) {
		t.Fatalf("after rotation published %v, want the old %s and a new one", after, oldKid)
	}
	newKid := after[0]
	if newKid == oldKid {
		newKid = after[1]
	}
	// A refresh's new ID token is signed with the new key.
	fresh, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if h, _ := decodeJWT(t, fresh.Extra("id_token").(string)); h["kid"] != newKid {
		t.Errorf("ID token after rotation signed by %v, want the new key %s", h["kid"], newKid)
	}
	r.verify(fresh)
	// So is a new sign-in's.
	if h, _ := decodeJWT(t, r.login(e.browser()).Extra("id_token").(string)); h["kid"] != newKid {
		t.Errorf("new sign-in's ID token signed by %v, want %s", h["kid"], newKid)
	}
	// The token signed before the rotation still verifies against the
	// published keys, fetched afresh as a site would.
	if _, err := gooidc.NewRemoteKeySet(ctx, e.srv.URL+"/keys").VerifySignature(ctx, oldRaw); err != nil {
		t.Errorf("ID token signed before the rotation: %v", err)
	}
	op, err := gooidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Verifier(&gooidc.Config{ClientID: r.c.ID}).Verify(ctx, oldRaw); err != nil {
		t.Errorf("go-oidc refuses the ID token signed before the rotation: %v", err)
	}

	// Still published just before the overlap ends...
	e.clock.Advance(oidc.KeyOverlap - 2*time.Minute)
	if ks := e.kids(); !slices.Contains(ks, oldKid) {
		t.Errorf("old key gone %v before its overlap ended: %v", oidc.KeyOverlap-2*time.Minute, ks)
	}
	// ...and gone after it.
	e.clock.Advance(4 * time.Minute)
	if ks := e.kids(); slices.Contains(ks, oldKid) || !slices.Contains(ks, newKid) || len(ks) != 1 {
		t.Errorf("after the overlap published %v, want only the new key %s", ks, newKid)
	}
	if _, err := gooidc.NewRemoteKeySet(ctx, e.srv.URL+"/keys").VerifySignature(ctx, oldRaw); err == nil {
		t.Error("a token signed by a key past its overlap still verifies")
	}
}

// A key that has signed for KeyRotation is replaced without anyone asking.
func TestKeyRotatesByAge(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	first := e.kids()
	if len(first) != 1 {
		t.Fatalf("published %v", first)
	}
	e.clock.Advance(oidc.KeyRotation + time.Minute)
	tok := r.login(e.browser())
	h, _ := decodeJWT(t, tok.Extra("id_token").(string))
	if h["kid"] == first[0] {
		t.Errorf("a key older than %v still signs", oidc.KeyRotation)
	}
	r.verify(tok)
	ks := e.kids()
	if len(ks) != 2 || !slices.Contains(ks, first[0]) || !slices.Contains(ks, h["kid"].(string)) {
		t.Errorf("published %v, want the retired %s (overlap) and the new %v", ks, first[0], h["kid"])
	}
	e.clock.Advance(oidc.KeyOverlap + time.Minute)
	if ks := e.kids(); slices.Contains(ks, first[0]) {
		t.Errorf("retired key still published after its overlap: %v", ks)
	}
}

// TestReadyNeedsTheSecretKey: a node whose secret_key is not the one the
// signing keys were encrypted with reports itself not ready, so a load
// balancer leaves it out instead of sending it customers it would fail. A
// node on a new database is ready before its first key is made.
func TestReadyNeedsTheSecretKey(t *testing.T) {
	e := newPortal(t)
	ready := func() int {
		resp, err := http.Get(e.srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz before the first key = %d, want 200", got)
	}
	// What tobira serve does beside its start: make the first key.
	if err := e.provider.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz = %d, want 200", got)
	}
	// The same database, another node with another key.
	e.cfg.SecretKey = secret.NewKey()
	var err error
	if e.keys, err = e.cfg.Keyring(); err != nil {
		t.Fatal(err)
	}
	e.boot()
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with another secret key = %d, want 503", got)
	}
}

// The discovery document advertises only what the provider does (OpenID
// Connect Discovery 1.0, 3; the conformance suite's Config OP profile): one
// response type, two grants, the scopes and claims it gives, no device
// endpoint, no JWT client assertions, no request objects. And what it
// does not name is refused.
func TestDiscoveryAdvertisesOnlyWhatIsSupported(t *testing.T) {
	e := newPortal(t)
	var d map[string]any
	e.getJSON("/.well-known/openid-configuration", &d)
	list := func(key string) []string {
		var out []string
		vs, _ := d[key].([]any)
		for _, v := range vs {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	for key, want := range map[string][]string{
		"response_types_supported":                      {"code"},
		"response_modes_supported":                      {"query", "fragment"},
		"grant_types_supported":                         {"authorization_code", "refresh_token"},
		"scopes_supported":                              {"openid", "profile", "email", "offline_access"},
		"code_challenge_methods_supported":              {"S256"},
		"id_token_signing_alg_values_supported":         {"RS256"},
		"subject_types_supported":                       {"public"},
		"token_endpoint_auth_methods_supported":         {"none", "client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic"},
		"prompt_values_supported":                       {"none", "login", "consent", "select_account"},
	} {
		if got := list(key); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	for _, key := range []string{"device_authorization_endpoint", "token_endpoint_auth_signing_alg_values_supported",
		"introspection_endpoint_auth_signing_alg_values_supported", "revocation_endpoint_auth_signing_alg_values_supported",
		"request_object_signing_alg_values_supported", "request_parameter_supported", "claims_parameter_supported"} {
		if v, ok := d[key]; ok && v != false {
			t.Errorf("%s = %v, advertised but not supported", key, v)
		}
	}
	if d["request_uri_parameter_supported"] != false {
		t.Errorf("request_uri_parameter_supported = %v, want false (it defaults to true when absent)", d["request_uri_parameter_supported"])
	}
	claims := list("claims_supported")
	for _, c := range claims {
		if slices.Contains([]string{"phone_number", "family_name", "given_name", "preferred_username", "act", "scopes"}, c) {
			t.Errorf("claims_supported names %s, which the provider never gives", c)
		}
	}
	for _, c := range []string{"sub", "auth_time", "acr", "amr", "sid", "email", "name"} {
		if !slices.Contains(claims, c) {
			t.Errorf("claims_supported %v lacks %s", claims, c)
		}
	}

	// A grant type it does not name is unsupported_grant_type, whatever
	// the library would have tried with it.
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	for _, g := range []string{"urn:ietf:params:oauth:grant-type:jwt-bearer", "client_credentials", "password",
		"urn:ietf:params:oauth:grant-type:token-exchange", "implicit"} {
		status, body := r.post("/oauth/token", url.Values{"grant_type": {g}, "assertion": {"a.b.c"}})
		if status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
			t.Errorf("grant_type %s: %d %v, want 400 unsupported_grant_type", g, status, body)
		}
	}
}
