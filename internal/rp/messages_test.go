package rp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/rp"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
)

// failingSessions is a site's session store that cannot store one.
type failingSessions struct{ store.SiteSessions }

func (failingSessions) CreateSiteSession(context.Context, *store.SiteSession) error {
	return errors.New("disk full")
}

// The sign-in's callback says what went wrong in Japanese and English, as
// its other answers do, where two said "portal unreachable" and "internal
// error" only: the portal unreachable at the callback (a site started again
// while the portal is down), and a session the site could not store.
func TestCallbackFailuresInBothLanguages(t *testing.T) {
	bilingual := func(t *testing.T, status int, body string, wantStatus int, want ...string) {
		t.Helper()
		if status != wantStatus {
			t.Errorf("status %d, want %d", status, wantStatus)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("the answer %q lacks %q", body, w)
			}
		}
	}

	t.Run("portal unreachable", func(t *testing.T) {
		e := newPortal(t)
		a := e.newSite("contracts")
		// A sign-in started before the site was started again with the
		// portal down: its signin cookie, made with the site's key.
		in, _ := json.Marshal(map[string]any{"State": "s-1", "Nonce": "n", "Verifier": "v", "Return": "/r",
			"Expires": a.site.Now().Add(time.Minute)})
		down := &rp.Site{Name: "contracts", BaseURL: a.url, Issuer: "http://" + testkit.FreeAddr(t), ClientID: a.client.ID,
			Store: a.sessions, Keys: e.keys, Now: a.site.Now, Log: quiet}
		req := httptest.NewRequest(http.MethodGet, a.url+"/auth/callback?state=s-1&code=c", nil)
		name := "tobira_contracts_signin_" + secret.Hash("s-1")[:16]
		req.AddCookie(&http.Cookie{Name: name, Value: e.keys.Encrypt(string(in), name)})
		rec := httptest.NewRecorder()
		down.Routes().ServeHTTP(rec, req)
		bilingual(t, rec.Code, rec.Body.String(), http.StatusServiceUnavailable,
			"ポータルサイトに接続できません", "The portal cannot be reached")
	})

	t.Run("session not stored", func(t *testing.T) {
		e := newPortal(t)
		a := e.newSiteWith("contracts", func(s *rp.Site) { s.Store = failingSessions{s.Store} })
		p := a.login(newBrowser(t), "/r", nil)
		bilingual(t, p.status, p.body, http.StatusInternalServerError,
			"ログインできませんでした", "The sign-in did not complete")
	})
}
