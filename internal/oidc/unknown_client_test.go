package oidc_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// An unknown client_id is the caller's error, not the server's: the token
// endpoint answers invalid_client (401, RFC 6749 5.2), and RP-initiated
// logout the page that says the site's request is wrong, with 400; both
// answered 500 server_error ("oidc: client not found"), which also paged
// operators for what any visitor may send.
func TestUnknownClientIsNoServerError(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	b := e.browser()
	tok := r.login(b)

	for _, form := range []url.Values{
		{"grant_type": {"refresh_token"}, "refresh_token": {"whatever"}, "client_id": {"no-such-client"}},
		{"grant_type": {"authorization_code"}, "code": {"whatever"}, "client_id": {"no-such-client"}, "code_verifier": {strings.Repeat("a", 43)}},
	} {
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		status, body := e.do(req)
		if status == http.StatusInternalServerError || body["error"] == "server_error" {
			t.Errorf("%s grant of an unknown client: %d %v, want a client error", form.Get("grant_type"), status, body)
		}
	}

	for _, q := range []url.Values{
		{"client_id": {"no-such-client"}},
		{"client_id": {"no-such-client"}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"s"}},
	} {
		res, err := noFollow(b).Get(e.srv.URL + "/end_session?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("end_session of an unknown client (%s): status %d, want 400", q.Encode(), res.StatusCode)
		}
		if !strings.Contains(html.UnescapeString(string(page)), "ご利用のサイトからのログアウトの要求が正しくないため") {
			t.Errorf("end_session of an unknown client: the page does not say the request is wrong:\n%s", page)
		}
	}
	if !e.signedIn(b) {
		t.Error("a refused end_session request ended the portal session")
	}
	_ = tok
}
