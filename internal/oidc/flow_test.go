package oidc_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
	"github.com/tobira/tobira/internal/web"
)

// portalEnv is the real portal (store, service, provider, web) on a local
// test server, with one enrolled customer.
type portalEnv struct {
	t        *testing.T
	srv      *httptest.Server
	svc      *portal.Service
	provider *oidc.Provider
	seed     string
	email    string
	password string

	// clock is the time of the service and the provider; tests move it.
	clock     *testClock
	cfg       config.Config
	keys      *secret.Keyring
	db        *sqlstore.DB
	log       *slog.Logger
	accountID string
	handler   atomic.Value // holds handlerBox: the node the server runs
	// postClient, when set, is the HTTP client of the next node boot
	// builds, which posts its back-channel logout tokens.
	postClient *http.Client
}

type handlerBox struct{ http.Handler }

// portalOptions vary newPortalWith.
type portalOptions struct {
	// Frozen stops the clock: it moves only when a test advances it.
	// Otherwise it follows the wall clock plus what tests advanced it.
	Frozen bool
}

func newPortal(t *testing.T) *portalEnv { return newPortalWith(t, portalOptions{}) }

// serveWith makes the portal serve a provider over st, the portal's store
// wrapped (one that fails, or counts, where a test asks).
func (e *portalEnv) serveWith(st oidc.Store) {
	e.t.Helper()
	provider, err := oidc.New(oidc.Config{Store: st, Keys: e.keys, Issuer: e.cfg.BaseURL, Log: e.log, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc.SessionEnded, e.svc.GrantsEnded = provider.SessionEnded, provider.GrantsEnded
	h, err := web.New(e.svc, e.log, web.WithOIDC(provider))
	if err != nil {
		e.t.Fatal(err)
	}
	e.provider = provider
	e.handler.Store(handlerBox{h})
}

// signInAsSato opens a second customer, 佐藤 花子, with the first's password
// and TOTP seed, and makes the sign-ins that follow hers: it returns her
// account ID.
func (e *portalEnv) signInAsSato() string {
	e.t.Helper()
	ctx := e.t.Context()
	other, _, err := e.svc.OpenAccount(ctx, "sato@example.jp", "佐藤 花子", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.SetPassword(ctx, other.ID, e.password); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.AddFactor(ctx, &store.Factor{ID: "f-2", AccountID: other.ID, Kind: store.FactorTOTP,
		Secret: e.keys.Encrypt(e.seed, other.ID), LastStep: -1, CreatedAt: e.clock.Now()}); err != nil {
		e.t.Fatal(err)
	}
	e.email = "sato@example.jp"
	return other.ID
}

func newPortalWith(t *testing.T, o portalOptions) *portalEnv {
	t.Helper()
	e := &portalEnv{t: t, email: "yamada@example.jp", password: "correct horse battery", clock: newTestClock(o.Frozen)}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.Load().(handlerBox).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)

	e.cfg = testkit.Config(t, func(c *config.Config) { c.BaseURL = e.srv.URL })
	var err error
	e.keys, err = e.cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	e.boot()

	ctx := t.Context()
	a, _, err := e.svc.OpenAccount(ctx, e.email, "山田 太郎", "test")
	if err != nil {
		t.Fatal(err)
	}
	e.accountID = a.ID
	if err := e.svc.SetPassword(ctx, a.ID, e.password); err != nil {
		t.Fatal(err)
	}
	e.seed = mfa.NewTOTPSecret()
	if err := e.db.AddFactor(ctx, &store.Factor{ID: "f-1", AccountID: a.ID, Kind: store.FactorTOTP,
		Secret: e.keys.Encrypt(e.seed, a.ID), LastStep: -1, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return e
}

// boot opens the database file and builds a portal node over it (store,
// service, provider, web), which the server then runs.
func (e *portalEnv) boot() {
	t := e.t
	db, err := sqlstore.OpenSQLite(e.cfg.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := portal.New(db, e.keys, e.cfg, e.log)
	svc.Now = e.clock.Now
	provider, err := oidc.New(oidc.Config{Store: db, Keys: e.keys, Issuer: e.cfg.BaseURL, Log: e.log, Now: e.clock.Now,
		SignInTTL: e.cfg.SignInTTL(), HTTPClient: e.postClient})
	if err != nil {
		t.Fatal(err)
	}
	svc.SessionEnded, svc.GrantsEnded = provider.SessionEnded, provider.GrantsEnded
	h, err := web.New(svc, e.log, web.WithOIDC(provider))
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.svc, e.provider = db, svc, provider
	e.handler.Store(handlerBox{h})
}

// testClock is the portal's clock in tests.
type testClock struct {
	mu     sync.Mutex
	frozen bool
	base   time.Time
	offset time.Duration
}

func newTestClock(frozen bool) *testClock {
	return &testClock{frozen: frozen, base: time.Now()}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.base.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// toWindowStart moves the clock to the start of the next fixed window of
// length w (store.Window), so that what a test counts from then on falls
// in one window however slowly the machine runs it: a window turning over
// in the middle of a flood starts its count again.
func (c *testClock) toWindowStart(w time.Duration) {
	now := c.Now()
	_, end := store.Window(now, w)
	c.Advance(end.Sub(now))
}

// browser follows redirects on the portal and stops at the client's
// redirect URI, returning it.
func (e *portalEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), e.srv.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// signIn answers the portal's sign-in pages (password, then the app's code)
// the browser was sent to, and returns where the portal sent it at the end.
func (e *portalEnv) signIn(b *http.Client, authURL string) *url.URL {
	e.t.Helper()
	// A code is accepted once: each sign-in uses the next step's.
	e.clock.Advance(mfa.Period * time.Second)
	res, err := b.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/login" {
		e.t.Fatalf("authorize led to %s, want the login page", res.Request.URL)
	}
	next := res.Request.URL.Query().Get("next")
	res, err = b.PostForm(e.srv.URL+"/login", url.Values{"email": {e.email}, "password": {e.password}, "next": {next}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/login/code" {
		e.t.Fatalf("after the password: %s", res.Request.URL)
	}
	code, _ := mfa.TOTPCode(e.seed, e.clock.Now())
	res, err = b.PostForm(e.srv.URL+"/login/code", url.Values{"code": {code}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK && res.Request.URL.Path == oidc.LoginPath {
		// A third-party client: the consent page, allowed.
		res, err = b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {res.Request.URL.Query().Get("id")}, "decision": {"allow"}})
		if err != nil {
			e.t.Fatal(err)
		}
		res.Body.Close()
	}
	loc, err := res.Location()
	if err != nil {
		e.t.Fatalf("after the code: status %d at %s, no redirect to the client", res.StatusCode, res.Request.URL)
	}
	return loc
}

// A stock client (go-oidc with x/oauth2) completes the code flow with PKCE,
// verifies the ID token and calls userinfo.
func TestStockClientCodeFlowWithPKCE(t *testing.T) {
	e := newPortal(t)
	ctx := context.Background()
	const redirect = "http://127.0.0.1:9/callback"
	c := &store.Client{Name: "stock", RedirectURIs: []string{redirect}}
	clientSecret, err := e.provider.CreateClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: clientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: []string{gooidc.ScopeOpenID, "profile", "email", "offline_access"}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("nonce-1"))

	back := e.signIn(e.browser(), authURL)
	if got := back.Scheme + "://" + back.Host + back.Path; got != redirect || back.Query().Get("state") != "state-1" {
		t.Fatalf("redirected to %s", back)
	}
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&gooidc.Config{ClientID: c.ID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims struct {
		Email    string   `json:"email"`
		Name     string   `json:"name"`
		Nonce    string   `json:"nonce"`
		AuthTime int64    `json:"auth_time"`
		AMR      []string `json:"amr"`
		ACR      string   `json:"acr"`
		SID      string   `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != "" || claims.Name != "" || claims.Nonce != "nonce-1" || claims.AuthTime == 0 || claims.SID == "" ||
		strings.Join(claims.AMR, " ") != "pwd otp mfa" || claims.ACR == "" {
		t.Errorf("ID token claims %+v", claims)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Email != e.email || ui.Subject != idt.Subject {
		t.Errorf("userinfo %+v", ui)
	}
	// locale is the language the customer uses the portal in, as the
	// account keeps it: Japanese here, English once they switch.
	locale := func() string {
		t.Helper()
		var c struct{ Locale string }
		ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if err := ui.Claims(&c); err != nil {
			t.Fatal(err)
		}
		return c.Locale
	}
	if got := locale(); got != "ja" {
		t.Errorf("userinfo locale %q, want ja", got)
	}
	if err := e.db.SetAccountLang(ctx, e.accountID, "en"); err != nil {
		t.Fatal(err)
	}
	if got := locale(); got != "en" {
		t.Errorf("userinfo locale of a customer who uses the portal in English: %q, want en", got)
	}
	if err := e.db.SetAccountLang(ctx, e.accountID, "ja"); err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	// Refresh rotates the token; the old one replayed revokes the grant.
	fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh token not rotated")
	}
	// The refresh's ID token names the same sign-in (OpenID Connect Core
	// 1.0, 12.2): its time, methods, class and session.
	freshIDT, err := provider.Verifier(&gooidc.Config{ClientID: c.ID}).Verify(ctx, fresh.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("verify the refresh's ID token: %v", err)
	}
	first := claims
	claims.AuthTime, claims.ACR, claims.SID, claims.AMR = 0, "", "", nil
	if err := freshIDT.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.AuthTime != first.AuthTime || claims.ACR != first.ACR || claims.SID != first.SID ||
		strings.Join(claims.AMR, " ") != strings.Join(first.AMR, " ") || freshIDT.Subject != idt.Subject {
		t.Errorf("refresh's ID token claims %+v, want those of %+v", claims, first)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("a used refresh token was accepted again")
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
		t.Fatal("after a replay, the rotated refresh token still works: the grant was not revoked")
	}
}
