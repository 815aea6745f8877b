package oidc_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// A client that authenticates and names at /revoke a token issued to
// another client is refused as RFC 7009 2.2 asks, and the token stays
// live: 400 invalid_grant (RFC 6749 5.2: "issued to another client"), what
// the token endpoint answers for the same token. It authenticated, so it is
// no failed client authentication of its address. Regression: it was
// answered invalid_client (401), and counted as one.
func TestRevokeTokenOfAnotherClient(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	other := newSite(e, "other")
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	b := e.browser()
	tok := site.login(b)

	for _, c := range []struct {
		name string
		rp   *rp
	}{{"a confidential client", other}, {"a public client", spa}} {
		for _, which := range []struct{ name, token string }{{"refresh token", tok.RefreshToken}, {"access token", tok.AccessToken}} {
			for _, hint := range []string{"", "refresh_token", "access_token"} {
				form := url.Values{"token": {which.token}}
				if hint != "" {
					form.Set("token_type_hint", hint)
				}
				status, body := c.rp.post("/revoke", form)
				if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
					t.Errorf("%s revoking the site's %s (hint %q): %d %v, want 400 invalid_grant", c.name, which.name, hint, status, body)
				}
			}
		}
	}
	if got := e.metric(`tobira_oauth_failures_total{error="invalid_client"}`); got != "0" {
		t.Errorf("failed client authentications counted: %s, want 0: the clients authenticated", got)
	}
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Errorf("the site's access token after other clients named it at /revoke: %d", status)
	}
	if _, err := site.refresh(tok.RefreshToken); err != nil {
		t.Errorf("the site's refresh token after other clients named it at /revoke: %v", err)
	}
}
