package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// racingRefresh is the store, in which a refresh at once with the one
// being answered spends its token right after it was read, while race is
// set: the request being answered loses the race.
type racingRefresh struct {
	*sqlstore.DB
	race *atomic.Bool
}

func (r racingRefresh) RefreshTokenByHash(ctx context.Context, hash string, now time.Time) (*store.RefreshToken, error) {
	rt, err := r.DB.RefreshTokenByHash(ctx, hash, now)
	if err == nil && r.race.CompareAndSwap(true, false) {
		if _, err := r.DB.UseRefreshToken(ctx, hash, now); err != nil {
			return nil, err
		}
	}
	return rt, err
}

// A refresh that loses the race to another use of its token is the
// client's error, 400 invalid_grant, and the reuse revokes the grant as a
// replay does. Regression: the library answered the store's verdict 500
// server_error, which a site retries with a token that is spent.
func TestRefreshLosingARaceIsInvalidGrant(t *testing.T) {
	e := newPortal(t)
	var race atomic.Bool
	e.serveWith(racingRefresh{DB: e.db, race: &race})
	site := newSite(e, "site")
	tok := site.login(e.browser())

	race.Store(true)
	status, body := site.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("a refresh that lost the race: %d %v, want 400 invalid_grant", status, body)
	}
	if race.Load() {
		t.Fatal("the race was not run")
	}
	// The replay semantics stay: a reuse revokes the grant.
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("the grant's access token after the reuse: %d, want refused", status)
	}
	if _, err := site.refresh(tok.RefreshToken); retrieveError(err) != "invalid_grant" {
		t.Errorf("the reused refresh token again: %v, want invalid_grant", err)
	}
}

// failingDelete is the store, which fails to delete auth requests while
// fail is set.
type failingDelete struct {
	*sqlstore.DB
	fail *atomic.Bool
}

func (f failingDelete) DeleteAuthRequest(ctx context.Context, id string) error {
	if f.fail.Load() {
		return errors.New("the database is unreachable")
	}
	return f.DB.DeleteAuthRequest(ctx, id)
}

// A code exchange whose spent request the store fails to delete gives the
// site its tokens all the same. Regression: it was answered 500 with the
// code spent, and the site's retry was taken for a replay, which revoked
// the grant just issued.
func TestCodeExchangeSurvivesAFailedDelete(t *testing.T) {
	e := newPortal(t)
	var fail atomic.Bool
	e.serveWith(failingDelete{DB: e.db, fail: &fail})
	site := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier)), "st")

	fail.Store(true)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {site.redirect}, "code_verifier": {verifier}}
	status, body := site.post("/oauth/token", form)
	if status != http.StatusOK {
		t.Fatalf("a code exchange whose request could not be deleted: %d %v, want 200", status, body)
	}
	fail.Store(false)
	at, _ := body["access_token"].(string)
	if status, _ := e.userinfo(at); status != http.StatusOK {
		t.Errorf("the exchange's access token: %d, want 200", status)
	}
	rt, _ := body["refresh_token"].(string)
	next, err := site.refresh(rt)
	if err != nil {
		t.Fatalf("the exchange's refresh token: %v", err)
	}
	// The code left with its request is spent: presented again it is a
	// replay, refused, which revokes what it gave.
	status, body = site.post("/oauth/token", form)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("the spent code again: %d %v, want 400 invalid_grant", status, body)
	}
	if status, _ := e.userinfo(next.AccessToken); !refusedToken(status) {
		t.Errorf("the grant's access token after the code's replay: %d, want refused", status)
	}
}
