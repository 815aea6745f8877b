package loadgen_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/loadgen"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/web"
)

// portalEnv is the real portal (SQLite store, service, OpenID Connect
// provider, web handler) on two local servers, as two nodes of one portal:
// base and other.
type portalEnv struct {
	base, other string
	svc         *portal.Service
	provider    *oidc.Provider
	db          *sqlstore.DB
}

func newPortal(t *testing.T) *portalEnv {
	t.Helper()
	var handler atomic.Value
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	})
	srv, other := httptest.NewServer(serve), httptest.NewServer(serve)
	t.Cleanup(srv.Close)
	t.Cleanup(other.Close)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.SecretKey = secret.NewKey()
	cfg.BaseURL = srv.URL
	cfg.Argon2 = account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	keys, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(cfg.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := portal.New(db, keys, cfg, log)
	provider, err := oidc.New(oidc.Config{Store: db, Keys: keys, Issuer: cfg.BaseURL, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	svc.SessionEnded, svc.GrantsEnded = provider.SessionEnded, provider.GrantsEnded
	h, err := web.New(svc, log, web.WithOIDC(provider))
	if err != nil {
		t.Fatal(err)
	}
	handler.Store(http.Handler(h))
	return &portalEnv{base: srv.URL, other: other.URL, svc: svc, provider: provider, db: db}
}

// enrolled creates a customer with a password, the authenticator app and a
// recovery code, as the portal stores them.
func (e *portalEnv) enrolled(t *testing.T, email string) *loadgen.Customer {
	t.Helper()
	ctx := t.Context()
	a, _, err := e.svc.OpenAccount(ctx, email, "負荷 太郎", "test")
	if err != nil {
		t.Fatal(err)
	}
	const password = "correct horse battery"
	if err := e.svc.SetPassword(ctx, a.ID, password); err != nil {
		t.Fatal(err)
	}
	seed := mfa.NewTOTPSecret()
	if err := e.db.AddFactor(ctx, &store.Factor{ID: secret.ID(), AccountID: a.ID, Kind: store.FactorTOTP,
		Secret: e.svc.Keys.Encrypt(seed, a.ID), LastStep: -1, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := loadgen.NewCustomer(a.Email, password, seed)
	if c.RecoveryCode, err = e.svc.NewRecoveryCode(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

// client registers a relying party.
func (e *portalEnv) client(t *testing.T, public, firstParty bool) loadgen.OIDCClient {
	t.Helper()
	c := &store.Client{Name: "負荷試験", RedirectURIs: []string{"http://127.0.0.1:9/callback"},
		Public: public, FirstParty: firstParty}
	sec, err := e.provider.CreateClient(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return loadgen.OIDCClient{ID: c.ID, Secret: sec, RedirectURI: c.RedirectURIs[0], Scopes: []string{"openid", "email"}}
}

// steps records the names of the steps a customer takes, and their errors.
type steps struct {
	names []string
	errs  []error
}

func (s *steps) observe(step string, d time.Duration, err error) {
	s.names = append(s.names, step)
	s.errs = append(s.errs, err)
}
