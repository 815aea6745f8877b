package oidc_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/web"
)

// callbackKey marks the context of a request to /authorize/callback.
type callbackKey struct{}

// readCounter is the store, counting the reads of authorization requests
// made while answering /authorize/callback.
type readCounter struct {
	*sqlstore.DB
	reads *atomic.Int32
}

func (c readCounter) AuthRequestByID(ctx context.Context, id string, now time.Time) (*store.AuthRequest, error) {
	if ctx.Value(callbackKey{}) != nil {
		c.reads.Add(1)
	}
	return c.DB.AuthRequestByID(ctx, id, now)
}

// The callback reads the authorization request once: the request the
// portal checked (its browser, the session that signed it in) is the one
// the code is issued for. The library's callback read it again by the
// form's id and answered with what that second read found, which could
// differ from what was checked (the request signed in again meanwhile).
func TestCallbackReadsTheRequestOnce(t *testing.T) {
	e := newPortal(t)
	var reads atomic.Int32
	st := readCounter{DB: e.db, reads: &reads}
	svc := portal.New(e.db, e.keys, e.cfg, e.log)
	svc.Now = e.clock.Now
	provider, err := oidc.New(oidc.Config{Store: st, Keys: e.keys, Issuer: e.cfg.BaseURL, Log: e.log, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(svc, e.log, web.WithOIDC(provider))
	if err != nil {
		t.Fatal(err)
	}
	e.svc, e.provider = svc, provider
	e.handler.Store(handlerBox{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/authorize/callback" {
			r = r.WithContext(context.WithValue(r.Context(), callbackKey{}, true))
		}
		h.ServeHTTP(w, r)
	})})

	site := e.newRP(&store.Client{Name: "contracts", RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	b := e.browser()
	if tok := site.login(b); tok.AccessToken == "" {
		t.Fatal("no access token")
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("the callback read the authorization request %d times, want once", n)
	}
	reads.Store(0)
	site.sso(b)
	if n := reads.Load(); n != 1 {
		t.Fatalf("the callback of a signed-in browser read the authorization request %d times, want once", n)
	}
}
