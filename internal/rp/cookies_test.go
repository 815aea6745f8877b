package rp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/rp"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// TestCookiesOverHTTPS: a site served over HTTPS names its cookies with
// the __Host- prefix (Secure, no Domain, path /), which neither a
// plain-HTTP answer nor a sibling subdomain can set: a session cookie
// planted without the prefix signs no one in, and the sign-out clears the
// prefixed one.
func TestCookiesOverHTTPS(t *testing.T) {
	e := newPortal(t)
	const base = "https://contracts.example.jp"
	site := &rp.Site{Name: "contracts", BaseURL: base, Issuer: e.url, ClientID: "contracts-client", ClientSecret: "s",
		Store: e.db, Keys: e.keys, Now: e.clock.Now, Log: quiet}
	h := site.Routes()
	setCookie := func(rec *httptest.ResponseRecorder, name string) *http.Cookie {
		t.Helper()
		for _, c := range rec.Result().Cookies() {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no cookie %s among %v", name, rec.Result().Header["Set-Cookie"])
		return nil
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, base+"/auth/login?return=/x", nil))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: status %d", rec.Code)
	}
	state, _ := url.Parse(rec.Header().Get("Location"))
	if c := setCookie(rec, "__Host-tobira_contracts_signin_"+secret.Hash(state.Query().Get("state"))[:16]); !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Errorf("sign-in cookie %+v: want Secure, HttpOnly, Path=/, no Domain", c)
	}

	token := secret.Token(32)
	now := e.clock.Now()
	if err := e.db.CreateSiteSession(context.Background(), &store.SiteSession{IDHash: secret.Hash(token), Site: "contracts",
		AccountID: e.accountID, Name: "山田 太郎", Email: e.email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cookie string
		signed bool
	}{{"tobira_contracts", false}, {"__Host-tobira_contracts", true}} {
		r := httptest.NewRequest(http.MethodGet, base+"/", nil)
		r.AddCookie(&http.Cookie{Name: tc.cookie, Value: token})
		u, err := site.CurrentUser(r)
		if err != nil || (u != nil) != tc.signed {
			t.Errorf("cookie %s: user %+v, %v; signed in: want %v", tc.cookie, u, err, tc.signed)
		}
	}

	r := httptest.NewRequest(http.MethodPost, base+"/auth/logout", nil)
	r.AddCookie(&http.Cookie{Name: "__Host-tobira_contracts", Value: token})
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if c := setCookie(rec, "__Host-tobira_contracts"); c.MaxAge >= 0 || !c.Secure || c.Path != "/" {
		t.Errorf("sign-out cookie %+v: want it cleared, Secure, Path=/", c)
	}
}
