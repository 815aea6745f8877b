package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A request to the token, revocation or introspection endpoint whose body
// is not a well-formed url-encoded form (RFC 6749 3.2) is refused with
// invalid_request saying what is wrong, and acts on nothing. Regression:
// the library went on with what it could parse, so a JSON body or one cut
// at the size limit was told grant_type was missing, and a refresh whose
// scope did not parse was answered with every scope of the grant and
// spent the refresh token.
func TestTokenEndpointsRefuseMalformedBodies(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	rt := url.QueryEscape(tok.RefreshToken)

	for _, c := range []struct {
		name, path, contentType, body string
		status                        int
		says                          string
	}{
		{"malformed scope", "/oauth/token", "application/x-www-form-urlencoded",
			"grant_type=refresh_token&refresh_token=" + rt + "&scope=openid%zzemail", http.StatusBadRequest, "well-formed"},
		{"not UTF-8", "/oauth/token", "application/x-www-form-urlencoded",
			"grant_type=refresh_token&refresh_token=" + rt + "&scope=openid%ff", http.StatusBadRequest, "well-formed"},
		{"JSON", "/oauth/token", "application/json",
			`{"grant_type":"refresh_token","refresh_token":"` + tok.RefreshToken + `"}`, http.StatusUnsupportedMediaType, "x-www-form-urlencoded"},
		{"too large", "/oauth/token", "application/x-www-form-urlencoded",
			"grant_type=refresh_token&refresh_token=" + rt + "&pad=" + strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge, "too large"},
		{"revoke, malformed", "/revoke", "application/x-www-form-urlencoded",
			"token=" + rt + "&token_type_hint=%zz", http.StatusBadRequest, "well-formed"},
		{"introspect, JSON", "/oauth/introspect", "application/json",
			`{"token":"` + tok.AccessToken + `"}`, http.StatusUnsupportedMediaType, "x-www-form-urlencoded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", c.contentType)
			req.SetBasicAuth(url.QueryEscape(r.c.ID), url.QueryEscape(r.secret))
			status, body := e.do(req)
			desc, _ := body["error_description"].(string)
			if status != c.status || body["error"] != "invalid_request" || !strings.Contains(desc, c.says) {
				t.Errorf("%d %v, want %d invalid_request saying %q", status, body, c.status, c.says)
			}
		})
	}

	// Nothing was spent or revoked: the refresh token and the access token
	// still work.
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Errorf("after the refused requests, the access token is refused: %d", status)
	}
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Errorf("after the refused requests, the refresh token is refused: %v", err)
	}
}

// Revocation requires the token (RFC 7009 2.1): a request without one is
// invalid_request, not 200. Regression: a site that sent its refresh
// token as refresh_token= rather than token= was answered 200, and
// believed it revoked while it worked on. (Introspection without a token
// answers active false, which a resource server already refuses.)
func TestRevocationNeedsAToken(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/revoke", url.Values{"refresh_token": {tok.RefreshToken}}},
		{"/revoke", url.Values{"token": {""}, "token_type_hint": {"refresh_token"}}},
	} {
		status, body := r.post(c.path, c.form)
		if status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("%s %v: %d %v, want 400 invalid_request", c.path, c.form, status, body)
		}
	}
	next, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("the refresh token was revoked after all: %v", err)
	}
	// Named rightly, in any case, the token is revoked.
	if status, body := r.post("/revoke", url.Values{"TOKEN": {next.RefreshToken}}); status != http.StatusOK {
		t.Errorf("revoke: %d %v", status, body)
	}
	if _, err := r.refresh(next.RefreshToken); err == nil {
		t.Error("the revoked refresh token still works")
	}
}

// The discovery document and the keys answer GET and HEAD alone: another
// method is 405 with Allow. Regression: any method got the document. A
// CORS preflight is answered as before.
func TestDiscoveryAndKeysTakeOnlyGET(t *testing.T) {
	e := newPortal(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/keys"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
			req, _ := http.NewRequest(method, e.srv.URL+path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q; want 405 with Allow: GET, HEAD", method, path, res.StatusCode, res.Header.Get("Allow"))
			}
		}
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, _ := http.NewRequest(method, e.srv.URL+path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s: %d %s", method, path, res.StatusCode, res.Header.Get("Content-Type"))
			}
		}
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
		req.Header.Set("Origin", "https://spa.example")
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 300 || res.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("preflight of %s: %d, Access-Control-Allow-Origin %q", path, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}
