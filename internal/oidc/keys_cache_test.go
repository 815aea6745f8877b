package oidc_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// status is the status of a GET of path on the portal.
func (e *portalEnv) status(path string) int {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// rotated gives the portal a retired key beside the one that signs, and
// returns the retired key's id and the current one's.
func (e *portalEnv) rotated() (retired, current string) {
	e.t.Helper()
	before := e.kids()
	if err := e.provider.RotateKeys(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	after := e.kids()
	if len(before) != 1 || len(after) != 2 {
		e.t.Fatalf("keys published %v, then after a rotation %v", before, after)
	}
	retired = before[0]
	current = after[0]
	if current == retired {
		current = after[1]
	}
	return retired, current
}

// /keys and /readyz decrypt each stored key once, by id, not at every
// request: a node probed every few seconds by its load balancer, and
// asked for /keys by every site, decrypted (and parsed) every key each
// time.
func TestKeysDecryptedOncePerKey(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	site.login(e.browser())
	e.rotated()
	e.serveWith(e.db) // a node that has decrypted nothing yet

	for round := range 3 {
		if got := e.status("/keys"); got != http.StatusOK {
			t.Fatalf("/keys: %d", got)
		}
		if got := e.status("/readyz"); got != http.StatusOK {
			t.Fatalf("/readyz: %d", got)
		}
		if got := len(e.kids()); got != 2 {
			t.Fatalf("/keys publishes %d keys, want 2", got)
		}
		if n := oidc.Decryptions(e.provider); n != 2 {
			t.Fatalf("round %d: %d decryptions, want 2 (each key once)", round+1, n)
		}
	}
	site.verify(site.login(e.browser()))
	if n := oidc.Decryptions(e.provider); n != 2 {
		t.Errorf("after a sign-in: %d decryptions, want 2", n)
	}
}

// unreadableKey is the store, which holds the key kid encrypted with a
// secret key no node has (one since dropped from previous_secret_keys).
type unreadableKey struct {
	*sqlstore.DB
	kid string
}

func (u unreadableKey) SigningKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	keys, err := u.DB.SigningKeys(ctx, now)
	for i := range keys {
		if keys[i].ID == u.kid {
			keys[i].PrivateKey = "gone:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		}
	}
	return keys, err
}

// A retired key that does not decrypt is left out of /keys, and the node
// stays ready: it signs with the current key, which it reads. Regression:
// /keys failed (500) and /readyz answered 503 on every node until the key
// expired, so a load balancer took them all out. A node that cannot read
// the key that signs is still not ready.
func TestRetiredKeyUnreadableKeepsTheNodeReady(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	site.login(e.browser())
	retired, current := e.rotated()

	e.serveWith(unreadableKey{DB: e.db, kid: retired})
	for range 2 {
		if got := e.status("/readyz"); got != http.StatusOK {
			t.Fatalf("/readyz with a retired key unreadable: %d, want 200", got)
		}
		if got := e.kids(); !slices.Equal(got, []string{current}) {
			t.Fatalf("/keys with a retired key unreadable: %v, want only the current %s", got, current)
		}
	}
	if n := oidc.Decryptions(e.provider); n != 2 {
		t.Errorf("%d decryptions, want 2: the unreadable key is not tried again", n)
	}
	site.verify(site.login(e.browser()))

	e.serveWith(unreadableKey{DB: e.db, kid: current})
	if got := e.status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the current key unreadable: %d, want 503", got)
	}
	if got := e.status("/keys"); got != http.StatusInternalServerError {
		t.Errorf("/keys with the current key unreadable: %d, want 500", got)
	}
}

// A node whose signing key another node retired (tobira signing-keys
// rotate, after a suspected leak) stops signing with it as soon as it
// lists the keys (/keys, or readiness, which a load balancer asks every
// few seconds). Regression: it signed with the retired key until its
// cache's minute was over.
func TestRetiredKeyStopsSigningOnceListed(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	kid := func(tok *oauth2.Token) any {
		t.Helper()
		r.verify(tok)
		h, _ := decodeJWT(t, tok.Extra("id_token").(string))
		return h["kid"]
	}
	old := kid(r.login(e.browser()))

	other, err := oidc.New(oidc.Config{Store: e.db, Keys: e.keys, Issuer: e.cfg.BaseURL, Log: e.log, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.RotateKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ks := e.kids(); len(ks) != 2 || !slices.Contains(ks, old.(string)) {
		t.Fatalf("published %v after another node's rotation, want the retired %v and a new key", ks, old)
	}
	if got := kid(r.login(e.browser())); got == old {
		t.Errorf("the node still signs with the key %v another node retired, after listing the keys", old)
	}
}
