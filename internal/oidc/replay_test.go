package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/store"
)

// tokenPost posts form to the token endpoint, with HTTP Basic as id and
// secret when id is set, and decodes the answer.
func (e *portalEnv) tokenPost(form url.Values, id, secret string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return e.do(req)
}

// replayTry is a presentation of a spent code that is not its client's
// (replayOfAnother): how it authenticates, and the answer it deserves.
type replayTry struct {
	name            string
	form            url.Values // beside grant_type, code and redirect_uri
	basicID, secret string
	status          int
	error           string
}

// replayOfAnother presents r's spent code in each of tries, none from r,
// and checks each answer, and that the tokens of the code's exchange
// still work after all of them.
func (e *portalEnv) replayOfAnother(r *rp, code string, tok *oauth2.Token, tries []replayTry) {
	e.t.Helper()
	for _, try := range tries {
		form := cloneValues(try.form)
		form.Set("grant_type", "authorization_code")
		form.Set("code", code)
		form.Set("redirect_uri", r.redirect)
		status, body := e.tokenPost(form, try.basicID, try.secret)
		if status != try.status || body["error"] != try.error {
			e.t.Errorf("%s: %d %v, want %d %s", try.name, status, body, try.status, try.error)
		}
	}
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		e.t.Errorf("%s: the access token of the code's exchange after replays by others: %d, want 200", r.c.Name, status)
	}
}

// A spent code presented again revokes the grant its exchange gave (RFC
// 6749 4.1.2) only when the request is its client's: a confidential
// client's with its secret (and the PKCE verifier, when the request had a
// challenge), a public client's with the verifier. Any other request is
// answered as a live code's would be (invalid_client for no client or a
// wrong secret, invalid_request or invalid_grant for a missing or wrong
// verifier, invalid_grant for another client) and changes nothing.
// Regression: the library reads the code before it authenticates the
// client, and the replay revoked the grant whoever sent it, so that anyone
// who saw a spent code signed the customer out of the site.
func TestCodeReplayRevokesOnlyForItsClient(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	other := newSite(e, "other")
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	spa2 := e.newRP(&store.Client{Name: "spa2", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa2"}})

	t.Run("confidential", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier)), "st")
		tok := site.exchange(code, verifier)
		v := url.Values{"code_verifier": {verifier}}
		e.replayOfAnother(site, code, tok, []replayTry{
			{name: "no client", form: v, status: http.StatusUnauthorized, error: "invalid_client"},
			{name: "client_id without its secret", form: url.Values{"code_verifier": {verifier}, "client_id": {site.c.ID}},
				status: http.StatusUnauthorized, error: "invalid_client"},
			{name: "a wrong secret", form: v, basicID: site.c.ID, secret: "wrong", status: http.StatusUnauthorized, error: "invalid_client"},
			{name: "a wrong secret in the form", form: url.Values{"code_verifier": {verifier}, "client_id": {site.c.ID}, "client_secret": {"wrong"}},
				status: http.StatusUnauthorized, error: "invalid_client"},
			{name: "an unknown client", form: v, basicID: "no-such-client", secret: site.secret, status: http.StatusUnauthorized, error: "invalid_client"},
			{name: "another client, authenticated", form: v, basicID: other.c.ID, secret: other.secret, status: http.StatusBadRequest, error: "invalid_grant"},
			{name: "a public client with the verifier", form: url.Values{"code_verifier": {verifier}, "client_id": {spa.c.ID}},
				status: http.StatusBadRequest, error: "invalid_grant"},
			{name: "the secret without the verifier", basicID: site.c.ID, secret: site.secret, status: http.StatusBadRequest, error: "invalid_request"},
			{name: "the secret with a wrong verifier", form: url.Values{"code_verifier": {oauth2.GenerateVerifier()}},
				basicID: site.c.ID, secret: site.secret, status: http.StatusBadRequest, error: "invalid_grant"},
		})
		if _, err := site.refresh(tok.RefreshToken); err != nil {
			t.Fatalf("the refresh token of the code's exchange after replays by others: %v", err)
		}
		// The client's own replay still revokes the grant.
		if _, err := site.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_grant" {
			t.Fatalf("the client's own replay: %v, want invalid_grant", err)
		}
		if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
			t.Errorf("the access token after the client's own replay: %d, want refused", status)
		}
	})

	t.Run("public", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := spa.codeFrom(e.signIn(e.browser(), spa.authURL("st", verifier)), "st")
		tok := spa.exchange(code, verifier)
		e.replayOfAnother(spa, code, tok, []replayTry{
			{name: "no client", form: url.Values{"code_verifier": {verifier}}, status: http.StatusUnauthorized, error: "invalid_client"},
			{name: "client_id without the verifier", form: url.Values{"client_id": {spa.c.ID}}, status: http.StatusBadRequest, error: "invalid_request"},
			{name: "client_id with a wrong verifier", form: url.Values{"client_id": {spa.c.ID}, "code_verifier": {oauth2.GenerateVerifier()}},
				status: http.StatusBadRequest, error: "invalid_grant"},
			{name: "another public client with the verifier", form: url.Values{"client_id": {spa2.c.ID}, "code_verifier": {verifier}},
				status: http.StatusBadRequest, error: "invalid_grant"},
			{name: "a confidential client with the verifier", form: url.Values{"code_verifier": {verifier}},
				basicID: other.c.ID, secret: other.secret, status: http.StatusBadRequest, error: "invalid_grant"},
		})
		// The client's own replay, its parameters named in capitals,
		// which the library reads as their lower-case names.
		status, body := e.tokenPost(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {spa.redirect},
			"CLIENT_ID": {spa.c.ID}, "Code_Verifier": {verifier}}, "", "")
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("the client's own replay: %d %v, want 400 invalid_grant", status, body)
		}
		if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
			t.Errorf("the access token after the client's own replay: %d, want refused", status)
		}
	})
}

// A used refresh token presented again revokes its grant (rotation's
// replay detection) only when its own client presents it. Another client,
// authenticated, is refused with invalid_grant and revokes nothing.
// Regression: the library reads the token before it compares the clients,
// and the read of a used one revoked the grant, so that any client, a
// public one by its client_id alone, could end another site's grant with a
// leaked used token.
func TestUsedRefreshTokenOfAnotherClient(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	other := newSite(e, "other")
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	tok := site.login(e.browser())
	next, err := site.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*rp{other, spa} {
		if _, err := c.refresh(tok.RefreshToken); retrieveError(err) != "invalid_grant" {
			t.Errorf("%s presenting the site's used refresh token: %v, want invalid_grant", c.c.Name, err)
		}
	}
	if status, _ := e.userinfo(next.AccessToken); status != http.StatusOK {
		t.Errorf("the site's access token after other clients presented its used refresh token: %d", status)
	}
	last, err := site.refresh(next.RefreshToken)
	if err != nil {
		t.Fatalf("the site's refresh token after other clients presented its used one: %v", err)
	}
	// The site's own replay still revokes the grant.
	if _, err := site.refresh(tok.RefreshToken); retrieveError(err) != "invalid_grant" {
		t.Fatalf("the site's own replay: %v, want invalid_grant", err)
	}
	if _, err := site.refresh(last.RefreshToken); err == nil {
		t.Error("after the site's own replay its newest refresh token still works")
	}
}
