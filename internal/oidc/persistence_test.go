package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
)

// restart replaces the node the server runs by a new one over the same
// database file: a restart when the old node's database is closed, a
// second node when it is kept open.
func (e *portalEnv) restart(closeOld bool) {
	e.t.Helper()
	old := e.db
	e.boot()
	if closeOld {
		if err := old.Close(); err != nil {
			e.t.Fatal(err)
		}
	}
}

// An authorization request made on one node is signed in and completed on
// another built over the same SQLite file, and the code it gives is
// exchanged there; the ID token verifies with the keys the first node
// published.
func TestAuthRequestSurvivesRestart(t *testing.T) {
	for _, c := range []struct {
		name     string
		closeOld bool
	}{{"restart", true}, {"second node", false}} {
		t.Run(c.name, func(t *testing.T) {
			e := newPortal(t)
			r := newSite(e, "site")
			kidsBefore := e.kids()
			firstDB, firstProvider, firstNode := e.db, e.provider, e.handler.Load()

			b := e.browser()
			verifier := oauth2.GenerateVerifier()
			_, loc := e.authorizeIn(b, r.authURL("st", verifier))
			if loc == nil || loc.Path != oidc.LoginPath {
				t.Fatalf("authorize: location %v", loc)
			}
			id := loc.Query().Get("id")

			e.restart(c.closeOld)
			if e.provider == firstProvider || e.db == firstDB {
				t.Fatal("restart built no new node")
			}
			req, err := e.provider.AuthRequest(context.Background(), id)
			if err != nil {
				t.Fatalf("the new node does not know the request: %v", err)
			}
			if req.ClientID != r.c.ID {
				t.Errorf("request %+v", req)
			}

			back := e.signIn(b, loc.String())
			tok := r.exchange(r.codeFrom(back, "st"), verifier)
			idt, claims := r.verify(tok)
			if idt.Subject != e.accountID || claims.Nonce != "nonce-st" {
				t.Errorf("ID token %+v", claims)
			}
			h, _ := decodeJWT(t, tok.Extra("id_token").(string))
			if len(kidsBefore) != 1 || h["kid"] != kidsBefore[0] {
				t.Errorf("ID token signed by %v, the first node published %v", h["kid"], kidsBefore)
			}
			if kids := e.kids(); len(kids) != 1 || kids[0] != kidsBefore[0] {
				t.Errorf("the new node publishes %v, the first published %v", kids, kidsBefore)
			}
			if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
				t.Errorf("userinfo on the new node: %d", status)
			}

			if !c.closeOld {
				// The first node reads the tokens the second issued.
				second := e.handler.Load()
				e.handler.Store(firstNode)
				if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
					t.Errorf("userinfo on the first node: %d", status)
				}
				if _, err := r.refresh(tok.RefreshToken); err != nil {
					t.Errorf("refresh on the first node: %v", err)
				}
				e.handler.Store(second)
			}
			// go-oidc with a fresh discovery verifies it too.
			op, err := gooidc.NewProvider(context.Background(), e.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := op.Verifier(&gooidc.Config{ClientID: r.c.ID}).Verify(context.Background(), tok.Extra("id_token").(string)); err != nil {
				t.Error(err)
			}
		})
	}
}

// authorizeIn sends browser b to an authorization URL without following
// the redirect, and returns the status and location.
func (e *portalEnv) authorizeIn(b *http.Client, authURL string) (int, *url.URL) {
	e.t.Helper()
	res, err := noFollow(b).Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	return res.StatusCode, loc
}
