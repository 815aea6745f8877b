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

// failingClients is the store, whose client reads fail while fail is set.
type failingClients struct {
	*sqlstore.DB
	fail *atomic.Bool
}

func (f failingClients) ClientByID(ctx context.Context, id string) (*store.Client, error) {
	if f.fail.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return f.DB.ClientByID(ctx, id)
}

// A client the provider cannot read (the database failing) is the
// server's error at the token, revocation and introspection endpoints:
// 500 server_error, not counted against the client's address. Regression:
// the library answers any error at client authentication invalid_client,
// 401, which told a client with the right secret that it was wrong, and
// counted it as a failed client authentication of its address.
func TestClientReadErrorIsTheServers(t *testing.T) {
	e := newPortal(t)
	var fail atomic.Bool
	e.serveWith(failingClients{DB: e.db, fail: &fail})
	site := newSite(e, "site")
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	tok := site.login(e.browser())
	verifier := oauth2.GenerateVerifier()
	code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier)), "st")

	fail.Store(true)
	for _, c := range []struct {
		name string
		rp   *rp
		path string
		form url.Values
	}{
		{"code exchange, HTTP Basic", site, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {site.redirect}, "code_verifier": {verifier}}},
		{"refresh, HTTP Basic", site, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}},
		{"refresh, public client", spa, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}},
		{"revoke, HTTP Basic", site, "/revoke", url.Values{"token": {tok.RefreshToken}}},
		{"introspection, HTTP Basic", site, "/oauth/introspect", url.Values{"token": {tok.AccessToken}}},
		{"revoke, public client", spa, "/revoke", url.Values{"token": {tok.RefreshToken}}},
	} {
		status, body := c.rp.post(c.path, c.form)
		if status != http.StatusInternalServerError || body["error"] != "server_error" {
			t.Errorf("%s while clients cannot be read: %d %v, want 500 server_error", c.name, status, body)
		}
	}
	if got := e.metric(`tobira_oauth_failures_total{error="invalid_client"}`); got != "0" {
		t.Errorf("failed client authentications counted: %s, want 0", got)
	}
	fail.Store(false)
	if _, err := site.refresh(tok.RefreshToken); err != nil {
		t.Errorf("refresh once the clients read again: %v", err)
	}
	site.verify(site.exchange(code, verifier)) // the code was not spent
}

// failingKeys is the store, whose signing keys cannot be read while fail
// is set.
type failingKeys struct {
	*sqlstore.DB
	fail *atomic.Bool
}

func (f failingKeys) SigningKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	if f.fail.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return f.DB.SigningKeys(ctx, now)
}

// A token request on a node that cannot read its signing key is answered
// 500 and spends nothing: the client retries with the same code or refresh
// token once the key reads again. Regression: the library signs the ID
// token after it has spent the refresh token and stored the new ones, so
// the refresh token was spent by the failed request, and the client's
// retry was taken for a replay, which revoked the grant and logged the
// site out.
func TestSigningKeyErrorSpendsNothing(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	tok := site.login(e.browser())
	verifier := oauth2.GenerateVerifier()
	code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier)), "st")

	// A node that has not read its key yet, while the database fails.
	var fail atomic.Bool
	fail.Store(true)
	e.serveWith(failingKeys{DB: e.db, fail: &fail})

	for _, c := range []struct {
		name string
		form url.Values
	}{
		{"refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}},
		{"code exchange", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {site.redirect}, "code_verifier": {verifier}}},
	} {
		status, body := site.post("/oauth/token", c.form)
		if status != http.StatusInternalServerError || body["error"] != "server_error" {
			t.Errorf("%s without a readable signing key: %d %v, want 500 server_error", c.name, status, body)
		}
	}
	fail.Store(false)
	if _, err := site.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("the retried refresh: %v", err)
	}
	site.verify(site.exchange(code, verifier))
}

// failingCodes is the store, whose reads of codes fail while fail is set.
type failingCodes struct {
	*sqlstore.DB
	fail *atomic.Bool
}

func (f failingCodes) AuthRequestByCode(ctx context.Context, hash string, now time.Time) (*store.AuthRequest, error) {
	if f.fail.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return f.DB.AuthRequestByCode(ctx, hash, now)
}

func (f failingCodes) SpentCode(ctx context.Context, hash string) (*store.SpentCode, error) {
	if f.fail.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return f.DB.SpentCode(ctx, hash)
}

// A code the store cannot read is the server's error: 500 server_error,
// which tells the client to try again and counts nothing. Regression: the
// library answers any failure to read a code invalid_grant, which tells
// the client its good code is bad, and counted it against its address.
func TestCodeReadErrorIsTheServers(t *testing.T) {
	e := newPortal(t)
	var fail atomic.Bool
	e.serveWith(failingCodes{DB: e.db, fail: &fail})
	site := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier)), "st")

	fail.Store(true)
	status, body := site.post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {site.redirect}, "code_verifier": {verifier}})
	if status != http.StatusInternalServerError || body["error"] != "server_error" {
		t.Errorf("a code exchange while codes cannot be read: %d %v, want 500 server_error", status, body)
	}
	if got := e.metric(`tobira_oauth_failures_total{error="invalid_grant"}`); got != "0" {
		t.Errorf("failed grants counted: %s, want 0", got)
	}
	fail.Store(false)
	site.verify(site.exchange(code, verifier))
}

// failingRevocation is the store, whose refresh token reads or grant
// revocations fail while the matching flag is set.
type failingRevocation struct {
	*sqlstore.DB
	failRead, failRevoke *atomic.Bool
}

func (f failingRevocation) RefreshTokenByHash(ctx context.Context, hash string, now time.Time) (*store.RefreshToken, error) {
	if f.failRead.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return f.DB.RefreshTokenByHash(ctx, hash, now)
}

func (f failingRevocation) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	if f.failRevoke.Load() {
		return errors.New("the database is unreachable")
	}
	return f.DB.RevokeGrant(ctx, id, at)
}

// A revocation the store fails is answered 500, which the client retries,
// not 200. Regression: a refresh token that could not be read was taken
// for an unknown one, and a grant that could not be revoked was logged,
// both answered 200: the site believed its customer's token revoked while
// it still worked.
func TestRevocationStoreErrorIsNoSuccess(t *testing.T) {
	e := newPortal(t)
	var failRead, failRevoke atomic.Bool
	e.serveWith(failingRevocation{DB: e.db, failRead: &failRead, failRevoke: &failRevoke})
	site := newSite(e, "site")
	tok := site.login(e.browser())

	for _, flag := range []*atomic.Bool{&failRead, &failRevoke} {
		flag.Store(true)
		for _, hint := range []string{"", "refresh_token", "access_token"} {
			form := url.Values{"token": {tok.RefreshToken}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			status, body := site.post("/revoke", form)
			if status != http.StatusInternalServerError || body["error"] != "server_error" {
				t.Errorf("revoke (hint %q, read fails %v) while the store fails: %d %v, want 500 server_error", hint, failRead.Load(), status, body)
			}
		}
		flag.Store(false)
	}
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Fatalf("the access token after revocations that failed: %d", status)
	}
	if status, body := site.post("/revoke", url.Values{"token": {tok.RefreshToken}}); status != http.StatusOK {
		t.Fatalf("the revocation once the store works: %d %v", status, body)
	}
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("the access token after the revocation: %d, want refused", status)
	}
}

// failingRefresh is the store, whose refresh token reads fail while fail is
// set.
type failingRefresh struct {
	*sqlstore.DB
	fail *atomic.Bool
}

func (f failingRefresh) RefreshTokenByHash(ctx context.Context, hash string, now time.Time) (*store.RefreshToken, error) {
	if f.fail.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return f.DB.RefreshTokenByHash(ctx, hash, now)
}

// A refresh token the store cannot read is the server's error: 500
// server_error, which a site retries, not counted against its address.
// Regression: the library answers any failure to read the token
// invalid_grant, which a site takes for a refresh token that is no more:
// it drops it and signs its customer out.
func TestRefreshReadErrorIsTheServers(t *testing.T) {
	e := newPortal(t)
	var fail atomic.Bool
	e.serveWith(failingRefresh{DB: e.db, fail: &fail})
	site := newSite(e, "site")
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	toks := map[*rp]*oauth2.Token{site: site.login(e.browser()), spa: spa.login(e.browser())}

	fail.Store(true)
	for r, tok := range toks {
		status, body := r.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if status != http.StatusInternalServerError || body["error"] != "server_error" {
			t.Errorf("%s: a refresh while refresh tokens cannot be read: %d %v, want 500 server_error", r.c.Name, status, body)
		}
	}
	if got := e.metric(`tobira_oauth_failures_total{error="invalid_grant"}`); got != "0" {
		t.Errorf("failed grants counted: %s, want 0", got)
	}
	fail.Store(false)
	for r, tok := range toks {
		if _, err := r.refresh(tok.RefreshToken); err != nil {
			t.Errorf("%s: the refresh once the store reads again: %v", r.c.Name, err)
		}
	}
	// A made-up token is still the client's error.
	if _, err := site.refresh("rt.made-up"); retrieveError(err) != "invalid_grant" {
		t.Errorf("a made-up refresh token: %v, want invalid_grant", err)
	}
}

// failingIssue is the store, which fails to store refresh tokens while
// fail is set.
type failingIssue struct {
	*sqlstore.DB
	fail *atomic.Bool
}

func (f failingIssue) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	if f.fail.Load() {
		return errors.New("the database is unreachable")
	}
	return f.DB.CreateRefreshToken(ctx, t)
}

// A code exchange or a refresh whose new tokens the store fails to keep is
// answered 500 and leaves the presented code or refresh token unspent: the
// site's retry with it succeeds. Regression: the code or token was spent
// before the new tokens were stored, so the retry was taken for a replay,
// which revoked the grant and logged the site out.
func TestTokenStoreErrorSpendsNothing(t *testing.T) {
	e := newPortal(t)
	var fail atomic.Bool
	e.serveWith(failingIssue{DB: e.db, fail: &fail})
	site := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier)), "st")
	fail.Store(true)
	status, body := site.post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {site.redirect}, "code_verifier": {verifier}})
	if status != http.StatusInternalServerError || body["error"] != "server_error" {
		t.Errorf("a code exchange while refresh tokens cannot be stored: %d %v, want 500 server_error", status, body)
	}
	fail.Store(false)
	tok := site.exchange(code, verifier)
	site.verify(tok)

	fail.Store(true)
	status, body = site.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != http.StatusInternalServerError || body["error"] != "server_error" {
		t.Errorf("a refresh while refresh tokens cannot be stored: %d %v, want 500 server_error", status, body)
	}
	fail.Store(false)
	next, err := site.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("the retried refresh: %v", err)
	}
	if status, _ := e.userinfo(next.AccessToken); status != http.StatusOK {
		t.Errorf("the retried refresh's access token: %d", status)
	}
	// Rotation holds: the token is spent now, and a replay ends the grant.
	if _, err := site.refresh(tok.RefreshToken); retrieveError(err) != "invalid_grant" {
		t.Fatalf("the spent refresh token again: %v, want invalid_grant", err)
	}
	if status, _ := e.userinfo(next.AccessToken); !refusedToken(status) {
		t.Errorf("the access token after a replay: %d, want refused", status)
	}
}
