package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/store"
)

// After RotateSecret the token endpoint refuses the old secret, for a code
// and for a refresh token, and accepts the new one. Tokens issued before the
// rotation keep working with the new secret.
func TestRotateSecret(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	ctx := context.Background()
	b := e.browser()
	before := r.login(b)

	newSecret, err := e.provider.RotateSecret(ctx, r.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == "" || newSecret == r.secret {
		t.Fatalf("RotateSecret returned %q, the old secret was %q", newSecret, r.secret)
	}

	verifier := oauth2.GenerateVerifier()
	back, _ := e.follow(b, r.authURL("st", verifier))
	code := r.codeFrom(back, "st")
	if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_client" {
		t.Errorf("exchange with the old secret: %v, want invalid_client", err)
	}
	if _, err := r.refresh(before.RefreshToken); retrieveError(err) != "invalid_client" {
		t.Errorf("refresh with the old secret: %v, want invalid_client", err)
	}

	r.conf.ClientSecret = newSecret
	tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange with the new secret: %v", err)
	}
	r.verify(tok)
	if _, err := r.refresh(before.RefreshToken); err != nil {
		t.Errorf("refresh of a token issued before the rotation, with the new secret: %v", err)
	}
}

// A public client has no secret to rotate; an unknown one is not found.
func TestRotateSecretRefused(t *testing.T) {
	e := newPortal(t)
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	ctx := context.Background()
	if _, err := e.provider.RotateSecret(ctx, spa.c.ID); !errors.Is(err, oidc.ErrPublicClient) {
		t.Errorf("RotateSecret of a public client: %v, want ErrPublicClient", err)
	}
	c, err := e.db.ClientByID(ctx, spa.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretHash != "" {
		t.Errorf("a public client was given a secret hash %q", c.SecretHash)
	}
	if _, err := e.provider.RotateSecret(ctx, "no-such-client"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateSecret of an unknown client: %v, want ErrNotFound", err)
	}
}

// UpdateClient checks URIs as registration does, and the authorization
// endpoint follows the new redirect URIs at once.
func TestUpdateClient(t *testing.T) {
	e := newPortal(t)
	const oldURI, newURI = "http://127.0.0.1:9/old", "https://rp.example.jp/new"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{oldURI}})
	ctx := context.Background()

	for _, bad := range []store.Client{
		{ID: r.c.ID, Name: "site", RedirectURIs: []string{"http://rp.example.jp/cb"}},
		{ID: r.c.ID, Name: "site", RedirectURIs: []string{newURI}, PostLogoutRedirectURIs: []string{"/bye"}},
		{ID: r.c.ID, Name: "site", RedirectURIs: []string{newURI}, BackchannelLogoutURI: "https://rp.example.jp/bc#x"},
		{ID: r.c.ID, Name: "site"},
		{ID: r.c.ID, Name: " ", RedirectURIs: []string{newURI}},
	} {
		if err := e.provider.UpdateClient(ctx, &bad); err == nil {
			t.Errorf("UpdateClient accepted %+v", bad)
		}
	}

	up := *r.c
	up.Name, up.RedirectURIs = "renamed", []string{newURI}
	if err := e.provider.UpdateClient(ctx, &up); err != nil {
		t.Fatal(err)
	}
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	pkce := []string{"code_challenge", challenge, "code_challenge_method", "S256"}
	if status, loc := e.authorize(authParams(r.c.ID, oldURI, pkce...)); loc != nil || status != http.StatusBadRequest {
		t.Errorf("the replaced redirect URI: status %d, location %v", status, loc)
	}
	if _, loc := e.authorize(authParams(r.c.ID, newURI, pkce...)); loc == nil || loc.Path != "/oidc/login" {
		t.Errorf("the new redirect URI refused: location %v", loc)
	}

	ghost := store.Client{ID: "no-such-client", Name: "ghost", RedirectURIs: []string{newURI}}
	if err := e.provider.UpdateClient(ctx, &ghost); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateClient of an unknown client: %v, want ErrNotFound", err)
	}
}
