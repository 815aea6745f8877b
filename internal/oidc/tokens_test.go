package oidc_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

func newSite(e *portalEnv, name string) *rp {
	return e.newRP(&store.Client{Name: name, RedirectURIs: []string{"http://127.0.0.1:9/" + name}})
}

// A code exchanged twice: the second exchange is refused, and the tokens of
// the first are revoked (RFC 6749 4.1.2).
func TestCodeReuseRevokesTokens(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")

	first, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := e.userinfo(first.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo before the replay: %d", status)
	}
	_, err = r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if retrieveError(err) != "invalid_grant" {
		t.Fatalf("second exchange: %v, want invalid_grant", err)
	}
	if status, _ := e.userinfo(first.AccessToken); !refusedToken(status) {
		t.Errorf("userinfo with the first exchange's access token after the replay: %d", status)
	}
	if _, err := r.refresh(first.RefreshToken); err == nil {
		t.Error("the first exchange's refresh token still works after the replay")
	}
	// A third try is refused as well.
	if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_grant" {
		t.Errorf("third exchange: %v", err)
	}
}

// A code of one client cannot be exchanged by another.
func TestCodeOfAnotherClient(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	verifier := oauth2.GenerateVerifier()
	code := a.codeFrom(e.signIn(e.browser(), a.authURL("st", verifier)), "st")
	stolen := b.conf
	stolen.RedirectURL = a.redirect
	if _, err := stolen.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_grant" {
		t.Errorf("b exchanged a's code: %v", err)
	}
}

// A code lives CodeLifetime from its issue (RFC 6749 4.1.2: ten minutes at
// most), not as long as its authorization request (AuthRequestLifetime).
func TestCodeExpires(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
	e.clock.Advance(oidc.CodeLifetime)
	if _, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_grant" {
		t.Errorf("a code %v old: %v, want invalid_grant", oidc.CodeLifetime, err)
	}
	// One a little younger is exchanged.
	verifier = oauth2.GenerateVerifier()
	code = r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
	e.clock.Advance(oidc.CodeLifetime - time.Second)
	r.verify(r.exchange(code, verifier))
}

// Each refresh returns a new refresh token; replaying one two rotations old
// revokes the grant, so the newest refresh and access tokens stop working,
// and the site is told by back-channel.
func TestRefreshReuseAfterTwoRotations(t *testing.T) {
	e := newPortal(t)
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}, BackchannelLogoutURI: rc.url()})
	t0 := r.login(e.browser())
	t1, err := r.refresh(t0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := r.refresh(t1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tok := range []*oauth2.Token{t0, t1, t2} {
		if tok.RefreshToken == "" || seen[tok.RefreshToken] {
			t.Fatalf("refresh token not rotated: %q", tok.RefreshToken)
		}
		seen[tok.RefreshToken] = true
		if tok.Extra("id_token") == nil {
			t.Error("a refresh gave no ID token")
		}
	}
	if status, _ := e.userinfo(t2.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo with the newest access token: %d", status)
	}

	if _, err := r.refresh(t0.RefreshToken); retrieveError(err) != "invalid_grant" {
		t.Fatalf("replayed refresh token: %v, want invalid_grant", err)
	}
	if _, err := r.refresh(t2.RefreshToken); err == nil {
		t.Error("after the replay the newest refresh token still works")
	}
	if status, _ := e.userinfo(t2.AccessToken); !refusedToken(status) {
		t.Errorf("after the replay the newest access token still works: %d", status)
	}
	if _, err := r.refresh(t1.RefreshToken); err == nil {
		t.Error("after the replay the middle refresh token works")
	}
	e.provider.Wait()
	if got := rc.got(); len(got) != 1 {
		t.Errorf("site told %d times by back-channel of the revoked grant, want 1", len(got))
	}
}

// The same replay of the middle token, one rotation old.
func TestRefreshReuseOfMiddleToken(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	t0 := r.login(e.browser())
	t1, err := r.refresh(t0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := r.refresh(t1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.refresh(t1.RefreshToken); err == nil {
		t.Fatal("a used refresh token was accepted again")
	}
	if _, err := r.refresh(t2.RefreshToken); err == nil {
		t.Error("after a replay the newest refresh token still works")
	}
}

// A client cannot use another client's refresh token.
func TestRefreshTokenOfAnotherClient(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	tok := a.login(e.browser())
	if _, err := b.refresh(tok.RefreshToken); err == nil {
		t.Fatal("b refreshed a's token")
	}
	// Public clients neither.
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	if _, err := spa.refresh(tok.RefreshToken); err == nil {
		t.Fatal("a public client refreshed a's token")
	}
	// The refusals spent nothing: a's own refresh still works (it was once
	// spent before the library compared the clients, so that a's next use
	// counted as a replay and revoked a's grant).
	if _, err := a.refresh(tok.RefreshToken); err != nil {
		t.Errorf("after other clients presented it, a's own refresh token is refused: %v", err)
	}
}

// Scopes asked for at a refresh narrow the new access and ID tokens; more
// than the grant had is refused. The new refresh token keeps the scopes of
// the one it replaces (RFC 6749 6: "identical"). Regression: it was given
// the narrowed ones, so a site that once asked for fewer lost the others
// for good, offline_access too.
func TestRefreshNarrowsScopes(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	if status, ui := e.userinfo(tok.AccessToken); status != http.StatusOK || ui["name"] == nil || ui["email"] == nil {
		t.Fatalf("userinfo with all scopes: %d %v", status, ui)
	}

	status, body := r.post("/oauth/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tok.RefreshToken}, "scope": {"openid email offline_access"}})
	if status != http.StatusOK {
		t.Fatalf("narrowing refresh: %d %v", status, body)
	}
	if sc, _ := body["scope"].(string); strings.Contains(sc, "profile") {
		t.Errorf("narrowed refresh answered scope %q", sc)
	}
	at, _ := body["access_token"].(string)
	rt, _ := body["refresh_token"].(string)
	status, ui := e.userinfo(at)
	if status != http.StatusOK || ui["email"] != e.email || ui["name"] != nil {
		t.Errorf("userinfo with the narrowed access token: %d %v, want email and no name", status, ui)
	}
	if _, claims := decodeJWT(t, body["id_token"].(string)); claims["name"] != nil || claims["email"] != nil || claims["sub"] != e.accountID {
		t.Errorf("narrowed ID token claims %v", claims)
	}

	// The refresh token that replaced it has the grant's scopes: profile
	// comes back when asked for, and with no scope asked, all of them.
	status, body = r.post("/oauth/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {rt}, "scope": {"openid profile"}})
	if status != http.StatusOK {
		t.Fatalf("refresh with profile after a narrowed one: %d %v", status, body)
	}
	rt, _ = body["refresh_token"].(string)
	status, body = r.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if status != http.StatusOK {
		t.Fatalf("refresh after two narrowed ones: %d %v", status, body)
	}
	if sc, _ := body["scope"].(string); strings.Join(strings.Fields(sc), " ") != strings.Join(scopesAll, " ") {
		t.Errorf("refresh after two narrowed ones answered scope %q, want %q", sc, strings.Join(scopesAll, " "))
	}
	at, _ = body["access_token"].(string)
	if status, ui := e.userinfo(at); status != http.StatusOK || ui["name"] == nil || ui["email"] == nil {
		t.Errorf("userinfo after two narrowed refreshes: %d %v, want name and email", status, ui)
	}
	rt, _ = body["refresh_token"].(string)

	// More than the grant had is refused, and spends nothing.
	status, body = r.post("/oauth/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {rt}, "scope": {"openid phone"}})
	if status == http.StatusOK || body["error"] != "invalid_scope" {
		t.Errorf("widening refresh: %d %v, want invalid_scope", status, body)
	}
	if _, err := r.refresh(rt); err != nil {
		t.Errorf("after a widening refresh was refused, the refresh token is refused: %v", err)
	}
}

// A refresh request the provider refuses does not spend the refresh token.
// Regression: storage.TokenRequestByRefreshToken marked the token used
// (UseRefreshToken) before the library checked the requested scopes
// (op.ValidateRefreshTokenScopes) or the client, so the client's next,
// valid, refresh was taken for a replay: invalid_grant, the whole grant
// revoked and the site logged out by back-channel. The token is now spent
// in CreateAccessAndRefreshTokens.
func TestRefusedRefreshDoesNotSpendToken(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())

	status, body := r.post("/oauth/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tok.RefreshToken}, "scope": {"openid email admin"}})
	if status == http.StatusOK {
		t.Fatalf("refresh asking for a scope never granted was accepted: %v", body)
	}
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Errorf("after a refresh refused for its scope, the unused refresh token is refused: %v", err)
	}
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Errorf("after a refresh refused for its scope, the grant's access token is refused: %d", status)
	}
}

// Userinfo answers with the claims of the access token's scopes.
func TestUserinfoClaimsByScope(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	b := e.browser()
	tok := r.login(b)
	status, ui := e.userinfo(tok.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d %v", status, ui)
	}
	if ui["sub"] != e.accountID || ui["email"] != e.email || ui["email_verified"] != true || ui["name"] != "山田 太郎" {
		t.Errorf("userinfo with email and profile: %v", ui)
	}

	r.conf.Scopes = []string{"openid"}
	tok = r.sso(b)
	status, ui = e.userinfo(tok.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d %v", status, ui)
	}
	if ui["sub"] != e.accountID || len(ui) != 1 {
		t.Errorf("userinfo with openid only: %v, want only sub", ui)
	}
	if _, claims := decodeJWT(t, tok.Extra("id_token").(string)); claims["email"] != nil || claims["name"] != nil {
		t.Errorf("ID token with openid only carries %v", claims)
	}

	r.conf.Scopes = []string{"openid", "email"}
	tok = r.sso(b)
	if _, ui = e.userinfo(tok.AccessToken); ui["email"] != e.email || ui["email_verified"] != true || ui["name"] != nil {
		t.Errorf("userinfo with email: %v", ui)
	}
	// No token, or a forged one.
	for _, bad := range []string{"", "not-a-token", tok.AccessToken + "x"} {
		if status, _ := e.userinfo(bad); !refusedToken(status) {
			t.Errorf("userinfo with token %q: %d", bad, status)
		}
	}
}

// An ID token carries no personal data: the code flow, the only one the
// provider serves, issues an access token with it, so the claims of the
// profile and email scopes come from the userinfo endpoint alone (OpenID
// Connect Core 1.0, 5.4). A site keeps its ID token and sends it back as a
// logout's id_token_hint, in a URL's query that proxies log. The ID token
// keeps what names the sign-in; a refresh's ID token is the same.
func TestIDTokenCarriesNoPersonalData(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	personal := []string{"email", "email_verified", "name", "given_name", "family_name", "locale", "preferred_username"}
	check := func(what, raw string) {
		t.Helper()
		_, claims := decodeJWT(t, raw)
		for _, c := range personal {
			if v, ok := claims[c]; ok {
				t.Errorf("%s carries %s %v", what, c, v)
			}
		}
		for _, c := range []string{"sub", "sid", "auth_time", "amr", "acr"} {
			if claims[c] == nil {
				t.Errorf("%s lacks %s: %v", what, c, claims)
			}
		}
		if claims["sub"] != e.accountID {
			t.Errorf("%s sub %v, want %s", what, claims["sub"], e.accountID)
		}
	}
	check("the code's ID token", tok.Extra("id_token").(string))
	status, ui := e.userinfo(tok.AccessToken)
	if status != http.StatusOK || ui["sub"] != e.accountID || ui["email"] != e.email || ui["email_verified"] != true ||
		ui["name"] != "山田 太郎" || ui["locale"] != "ja" {
		t.Errorf("userinfo: %d %v, want sub, email, email_verified, name and locale", status, ui)
	}
	fresh, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	check("the refresh's ID token", fresh.Extra("id_token").(string))
	if status, ui := e.userinfo(fresh.AccessToken); status != http.StatusOK || ui["email"] != e.email || ui["name"] != "山田 太郎" {
		t.Errorf("userinfo with the refresh's access token: %d %v", status, ui)
	}
}

// An access token lives AccessTokenLifetime; one of a revoked grant is dead.
func TestUserinfoExpiredAndRevoked(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	b := e.browser()
	tok := r.login(b)
	e.clock.Advance(oidc.AccessTokenLifetime - time.Minute)
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo a minute before expiry: %d", status)
	}
	e.clock.Advance(2 * time.Minute)
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("userinfo with an expired access token: %d", status)
	}
	// The refresh token outlives it.
	fresh, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after the access token expired: %v", err)
	}
	if status, _ := e.userinfo(fresh.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo with the refreshed token: %d", status)
	}
	// Signing out of the portal revokes the grant.
	res, err := b.PostForm(e.srv.URL+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if status, _ := e.userinfo(fresh.AccessToken); !refusedToken(status) {
		t.Errorf("userinfo after the grant was revoked: %d", status)
	}
}

// RFC 6750 3.1 answers an expired or revoked bearer token with 401 and
// WWW-Authenticate: Bearer error="invalid_token". Regression: the userinfo
// endpoint answered 403 {"error":"access_denied"}, as op.Userinfo turns any
// storage error (SetUserinfoFromToken's oidc.ErrAccessDenied) into 403.
func TestUserinfoRefusesWith401(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	e.clock.Advance(oidc.AccessTokenLifetime + time.Minute)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with an expired access token: %d, want 401 (RFC 6750 3.1)", res.StatusCode)
	}
	if h := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") || !strings.Contains(h, "invalid_token") {
		t.Errorf("WWW-Authenticate %q, want Bearer error=\"invalid_token\"", h)
	}
}

// Revocation (RFC 7009) of access tokens, unknown tokens, and the client
// checks. Refresh tokens: TestRevokeRefreshToken.
func TestRevocation(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	b := e.browser()
	r.login(b)

	// An access token.
	tok := r.sso(b)
	status, body := r.post("/revoke", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("userinfo with a revoked access token: %d", status)
	}

	// An unknown token is no error.
	for _, hint := range []string{"", "refresh_token", "access_token"} {
		form := url.Values{"token": {"no-such-token"}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		if status, body := r.post("/revoke", form); status != http.StatusOK {
			t.Errorf("revoke an unknown token (hint %q): %d %v, want 200", hint, status, body)
		}
	}

	// The client must authenticate.
	tok = r.sso(b)
	wrong := *r
	wrong.secret = "wrong"
	if status, _ := wrong.post("/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"access_token"}}); status != http.StatusUnauthorized {
		t.Errorf("revoke with a wrong secret: %d, want 401", status)
	}
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Errorf("a refused revocation revoked the token: %v", err)
	}

	// Another client cannot revoke the site's tokens.
	tok = r.sso(b)
	other := newSite(e, "other")
	for _, form := range []url.Values{
		{"token": {tok.RefreshToken}, "token_type_hint": {"access_token"}},
		{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}},
	} {
		other.post("/revoke", form)
	}
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Errorf("another client revoked the site's access token: %d", status)
	}
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Errorf("another client revoked the site's refresh token: %v", err)
	}
}

// Revoking a refresh token at /revoke revokes its grant, whatever the
// token_type_hint. Regression: it answered 200 but revoked nothing unless
// the hint was access_token. The library first calls
// storage.GetRefreshTokenInfo, which gives the token's hash as its id, then
// passes that id to storage.RevokeToken, which hashed it again, found
// nothing, and returned nil.
func TestRevokeRefreshToken(t *testing.T) {
	for _, hint := range []string{"", "refresh_token", "access_token"} {
		t.Run("hint="+hint, func(t *testing.T) {
			e := newPortal(t)
			r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
			tok := r.login(e.browser())
			form := url.Values{"token": {tok.RefreshToken}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			if status, body := r.post("/revoke", form); status != http.StatusOK {
				t.Fatalf("revoke: %d %v", status, body)
			}
			if _, err := r.refresh(tok.RefreshToken); err == nil {
				t.Error("the revoked refresh token still works")
			}
			if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
				t.Errorf("the revoked grant's access token still works: %d", status)
			}
		})
	}
}

// A public client revokes with its client_id alone.
func TestRevokeByPublicClient(t *testing.T) {
	e := newPortal(t)
	spa := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	tok := spa.login(e.browser())
	if status, body := spa.post("/revoke", url.Values{"token": {tok.AccessToken}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("revoked access token works: %d", status)
	}
	if _, err := spa.refresh(tok.RefreshToken); err != nil {
		t.Errorf("revoking the access token revoked the refresh token: %v", err)
	}
}

// A refresh token lives RefreshTokenLifetime.
func TestRefreshTokenExpires(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	e.clock.Advance(oidc.RefreshTokenLifetime - time.Hour)
	fresh, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh an hour before expiry: %v", err)
	}
	e.clock.Advance(oidc.RefreshTokenLifetime + time.Minute)
	if _, err := r.refresh(fresh.RefreshToken); retrieveError(err) != "invalid_grant" {
		t.Errorf("expired refresh token: %v, want invalid_grant", err)
	}
}

// An account an operator locked gets no tokens, even when the revocation
// of its grants that follows the lock's commit never ran (a node stopped
// in between): the lock is written to the store alone here. A grant in use
// is revoked at its first use after the lock, and a code not yet exchanged
// is spent, so that unlocking the account revives none of them.
func TestLockedAccountGetsNoTokens(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	ctx := t.Context()
	refreshFirst, userinfoFirst := r.login(e.browser()), r.login(e.browser())
	introspectFirst := r.login(e.browser())
	introspect := func(tok *oauth2.Token) any {
		t.Helper()
		status, body := r.post("/oauth/introspect", url.Values{"token": {tok.AccessToken}})
		if status != http.StatusOK {
			t.Fatalf("introspect: %d %v", status, body)
		}
		return body["active"]
	}
	if active := introspect(introspectFirst); active != true {
		t.Fatalf("introspect before the lock: active %v", active)
	}
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")

	if err := e.db.LockAccount(ctx, &store.AccountLock{AccountID: e.accountID, LockedBy: "operator:test", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_grant" {
		t.Errorf("exchanging a code after the lock: %v, want invalid_grant", err)
	}
	if _, err := r.refresh(refreshFirst.RefreshToken); err == nil {
		t.Error("a locked account's refresh token works")
	}
	if status, _ := e.userinfo(userinfoFirst.AccessToken); !refusedToken(status) {
		t.Errorf("userinfo with a locked account's access token: %d", status)
	}
	if active := introspect(introspectFirst); active == true {
		t.Error("introspection calls a locked account's access token active")
	}

	if err := e.db.UnlockAccount(ctx, e.accountID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_grant" {
		t.Errorf("exchanging the code after the unlock: %v, want invalid_grant", err)
	}
	if status, _ := e.userinfo(refreshFirst.AccessToken); !refusedToken(status) {
		t.Errorf("the grant refused at refresh still serves userinfo after the unlock: %d", status)
	}
	if _, err := r.refresh(userinfoFirst.RefreshToken); err == nil {
		t.Error("the grant refused at userinfo still refreshes after the unlock")
	}
	if _, err := r.refresh(introspectFirst.RefreshToken); err == nil {
		t.Error("the grant refused at introspection still refreshes after the unlock")
	}
	// The account itself signs in again.
	r.login(e.browser())
}

// An erased account's grants end at once, their sites told by
// back-channel, and its customer signs in nowhere.
func TestErasedAccountTokensEnd(t *testing.T) {
	e := newPortal(t)
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}, BackchannelLogoutURI: rc.url()})
	tok := r.login(e.browser())
	_, claims := r.verify(tok)

	if err := e.svc.EraseAccount(t.Context(), e.accountID, "operator:test", "退会の申し出"); err != nil {
		t.Fatal(err)
	}
	e.grantEnded(r, tok, rc, claims.SID, "the erasure")

	// Its address and password sign in no more.
	res, err := noFollow(e.browser()).PostForm(e.srv.URL+"/login", url.Values{"email": {e.email}, "password": {e.password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); res.StatusCode != http.StatusUnauthorized || loc != nil {
		t.Errorf("the erased account's password: status %d, sent to %v; want 401 on the login page", res.StatusCode, loc)
	}
}

// Answers that carry tokens, or what a token gives access to, are kept out
// of every cache (RFC 6749 5.1): the token endpoint's, for a code and for a
// refresh token, its errors too, and userinfo's, introspection's and
// revocation's.
func TestTokenAnswersAreNotCached(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")

	check := func(what string, res *http.Response) {
		t.Helper()
		res.Body.Close()
		if cc, p := res.Header.Get("Cache-Control"), res.Header.Get("Pragma"); cc != "no-store" || p != "no-cache" {
			t.Errorf("%s (%d): Cache-Control %q, Pragma %q; want no-store, no-cache", what, res.StatusCode, cc, p)
		}
	}
	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(r.c.ID), url.QueryEscape(r.secret))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {r.redirect}, "code_verifier": {verifier}})
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusOK || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %d %v", res.StatusCode, err)
	}
	check("token endpoint, code", res)
	check("token endpoint, refresh", post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
	check("token endpoint, refused code", post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"no-such-code"},
		"redirect_uri": {r.redirect}, "code_verifier": {verifier}}))
	check("introspection", post("/oauth/introspect", url.Values{"token": {tok.AccessToken}}))

	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: %d", res.StatusCode)
	}
	check("userinfo", res)
	check("revocation", post("/revoke", url.Values{"token": {tok.AccessToken}}))
}

// The introspection endpoint answers a client it cannot authenticate with
// OAuth's JSON error (RFC 6749 5.2), as the token endpoint does, not the
// library's plain text.
func TestIntrospectionErrorsAreJSON(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	for name, auth := range map[string]func(*http.Request){
		"no client":    func(*http.Request) {},
		"wrong secret": func(q *http.Request) { q.SetBasicAuth(r.c.ID, "not the secret") },
	} {
		q, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/introspect", strings.NewReader("token=x"))
		if err != nil {
			t.Fatal(err)
		}
		q.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		auth(q)
		res, err := http.DefaultClient.Do(q)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode < 400 || err != nil || body["error"] != "invalid_client" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, %v (%v)", name, res.StatusCode, res.Header.Get("Content-Type"), body, err)
		}
	}
}

// The userinfo endpoint takes the access token as RFC 6750 allows it: in
// the Authorization header or a POST's form body (2.1, 2.2), not in the URL
// (2.3: SHOULD NOT, as logs and Referer keep it) and not twice (2). Every
// refusal says why in WWW-Authenticate (3, 3.1) and in OAuth's JSON.
func TestUserinfoBearerUsage(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	call := func(method, query string, header string, form url.Values) (*http.Response, map[string]any) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, e.srv.URL+"/userinfo"+query, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res, m
	}

	if res, m := call(http.MethodGet, "", "Bearer "+tok.AccessToken, nil); res.StatusCode != http.StatusOK || m["sub"] != e.accountID {
		t.Errorf("header: %d %v", res.StatusCode, m)
	}
	if res, m := call(http.MethodPost, "", "", url.Values{"access_token": {tok.AccessToken}}); res.StatusCode != http.StatusOK || m["sub"] != e.accountID {
		t.Errorf("form body: %d %v", res.StatusCode, m)
	}
	for name, c := range map[string]struct {
		method, query, header string
		form                  url.Values
		status                int
		challenge, error      string
	}{
		"no token":      {http.MethodGet, "", "", nil, 401, "Bearer", "invalid_token"},
		"not bearer":    {http.MethodGet, "", "Basic Zm9vOmJhcg==", nil, 401, `Bearer error="invalid_token"`, "invalid_token"},
		"garbage token": {http.MethodGet, "", "Bearer garbage", nil, 401, `Bearer error="invalid_token"`, "invalid_token"},
		"in the query":  {http.MethodGet, "?access_token=" + url.QueryEscape(tok.AccessToken), "", nil, 400, `Bearer error="invalid_request"`, "invalid_request"},
		// The library reads its parameters whatever their case.
		"in the query, capitals": {http.MethodGet, "?Access_Token=" + url.QueryEscape(tok.AccessToken), "", nil, 400, `Bearer error="invalid_request"`, "invalid_request"},
		"twice, capitals": {http.MethodPost, "", "Bearer " + tok.AccessToken, url.Values{"ACCESS_TOKEN": {tok.AccessToken}},
			400, `Bearer error="invalid_request"`, "invalid_request"},
		"twice": {http.MethodPost, "", "Bearer " + tok.AccessToken, url.Values{"access_token": {tok.AccessToken}},
			400, `Bearer error="invalid_request"`, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			res, m := call(c.method, c.query, c.header, c.form)
			if res.StatusCode != c.status {
				t.Errorf("status %d, want %d", res.StatusCode, c.status)
			}
			if h := res.Header.Get("WWW-Authenticate"); h != c.challenge && !strings.HasPrefix(h, c.challenge+",") {
				t.Errorf("WWW-Authenticate %q, want %s", h, c.challenge)
			}
			if m["error"] != c.error || m["sub"] != nil {
				t.Errorf("body %v, want error %s", m, c.error)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

// The token endpoint's refusals are RFC 6749 5.2's: JSON with the error
// code, 400, and 401 for a failed client authentication, with the
// WWW-Authenticate of the scheme the client used (HTTP Basic); the
// revocation and introspection endpoints answer a wrong secret alike.
func TestTokenErrorsAsRFC6749(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect}, "code_verifier": {verifier}}
	send := func(path string, form url.Values, user, pass string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Errorf("%s: the answer is not JSON: %v", path, err)
		}
		return res, m
	}
	for _, path := range []string{"/oauth/token", "/revoke", "/oauth/introspect"} {
		res, m := send(path, exchange, r.c.ID, "wrong secret")
		if res.StatusCode != http.StatusUnauthorized || m["error"] != "invalid_client" {
			t.Errorf("%s, wrong secret: %d %v, want 401 invalid_client", path, res.StatusCode, m)
		}
		if h := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic ") {
			t.Errorf("%s, wrong secret by HTTP Basic: WWW-Authenticate %q, want Basic", path, h)
		}
	}
	for name, c := range map[string]struct {
		form   url.Values
		status int
		error  string
	}{
		"unknown code":       {url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {r.redirect}}, 400, "invalid_grant"},
		"other redirect_uri": {url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect + "/x"}, "code_verifier": {verifier}}, 400, "invalid_grant"},
		"no grant_type":      {url.Values{"code": {code}}, 400, "invalid_request"},
		"unsupported grant":  {url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		"unknown refresh":    {url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt.nope"}}, 400, "invalid_grant"},
	} {
		res, m := send("/oauth/token", c.form, r.c.ID, r.secret)
		if res.StatusCode != c.status || m["error"] != c.error {
			t.Errorf("%s: %d %v, want %d %s", name, res.StatusCode, m, c.status, c.error)
		}
		if res.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: WWW-Authenticate %q on a request whose client authenticated", name, res.Header.Get("WWW-Authenticate"))
		}
	}
	// The code refused above for its redirect_uri is still good.
	if res, m := send("/oauth/token", exchange, r.c.ID, r.secret); res.StatusCode != http.StatusOK || m["id_token"] == nil {
		t.Errorf("exchange: %d %v", res.StatusCode, m)
	}
}

// A code lives for minutes after it is issued, but no longer than the
// portal session that signed it: once a sign-out ends that session, or a
// reset of the second factor or a new password in another browser does
// (which revoke the session's grants), a code it signed before gives no
// tokens. Otherwise one who held the session (and its pending code with
// the verifier) would keep a grant, with a refresh token, through the
// very change that was to shut them out.
func TestCodeOfAnEndedSession(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(e *portalEnv, b *http.Client)
	}{
		{"sign-out", func(e *portalEnv, b *http.Client) { e.post(b, "/logout", nil) }},
		{"reset in another browser", func(e *portalEnv, _ *http.Client) {
			other := e.browser()
			newSite(e, "other").login(other)
			e.post(other, "/security/reset", e.resetForm())
		}},
		{"new password in another browser", func(e *portalEnv, _ *http.Client) {
			other := e.browser()
			newSite(e, "other").login(other)
			e.post(other, "/security/password", url.Values{"current": {e.password},
				"password": {"a new horse battery staple"}, "confirm": {"a new horse battery staple"}})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPortal(t)
			r := newSite(e, "site")
			b := e.browser()
			verifier := oauth2.GenerateVerifier()
			code := r.codeFrom(e.signIn(b, r.authURL("st", verifier)), "st")
			c.end(e, b)
			if e.signedIn(b) {
				t.Fatal("the session that signed the code is still on")
			}
			_, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
			if retrieveError(err) != "invalid_grant" {
				t.Errorf("exchange after the session ended: %v, want invalid_grant", err)
			}
		})
	}
}

// post posts form to the portal's path in browser b, from the portal's
// own pages, and fails unless the portal redirects.
func (e *portalEnv) post(b *http.Client, path string, form url.Values) {
	e.t.Helper()
	res, err := noFollow(b).PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("POST %s: %d", path, res.StatusCode)
	}
}

// A code the provider never issued is refused, and leaves nothing behind:
// the token endpoint answers anyone, and a made-up code that was stored
// (as spent, to tell a replay) would let whoever sends them fill the
// database and hold its writer, one transaction each.
func TestMadeUpCodeStoresNothing(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	anon := *r
	anon.secret = "" // no client authentication: client_id in the form
	for _, c := range []struct {
		name string
		rp   *rp
	}{{"with the client's secret", r}, {"without", &anon}} {
		code := "made-up-" + c.name
		status, body := c.rp.post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {r.redirect}, "code_verifier": {oauth2.GenerateVerifier()}})
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("%s: made-up code: %d %v, want 400 invalid_grant", c.name, status, body)
		}
		// Spending it now finds no earlier record of it.
		if prior, err := e.db.SpendCode(t.Context(), secret.Hash(code), "", "probe", e.clock.Now(), e.clock.Now().Add(time.Hour)); err != nil {
			t.Errorf("%s: the made-up code was stored as spent (grant %q): %v", c.name, prior, err)
		}
	}
}

// The token, revocation and introspection endpoints take their parameters
// in a POST's body only (RFC 6749 2.3.1, 3.2; RFC 7009 2.1; RFC 7662
// 2.1): a client secret, a code or a token in the URL stays in the logs
// of every proxy on the way, and in the browser's history. The library
// read them from the query of any method; such a request is refused, and
// spends nothing.
func TestTokenEndpointsTakeOnlyPOSTBodies(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {r.c.ID}, "client_secret": {r.secret}}
	token := url.Values{"token": {tok.AccessToken}, "client_id": {r.c.ID}, "client_secret": {r.secret}}
	for _, c := range []struct {
		method, path string
		query        url.Values
		status       int
	}{
		{http.MethodGet, "/oauth/token", refresh, http.StatusMethodNotAllowed},
		{http.MethodPut, "/oauth/token", refresh, http.StatusMethodNotAllowed},
		// An OPTIONS that is no CORS preflight reached the endpoint,
		// which read the URL: it refreshed, and it revoked.
		{http.MethodOptions, "/oauth/token", refresh, http.StatusMethodNotAllowed},
		{http.MethodOptions, "/revoke", token, http.StatusMethodNotAllowed},
		{http.MethodOptions, "/oauth/introspect", token, http.StatusMethodNotAllowed},
		{http.MethodPost, "/oauth/token", refresh, http.StatusBadRequest},
		{http.MethodGet, "/revoke", token, http.StatusMethodNotAllowed},
		{http.MethodPost, "/revoke", token, http.StatusBadRequest},
		{http.MethodGet, "/oauth/introspect", token, http.StatusMethodNotAllowed},
		{http.MethodPost, "/oauth/introspect", token, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(c.method, e.srv.URL+c.path+"?"+c.query.Encode(), nil)
		if c.method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		status, body := e.do(req)
		if status != c.status || body["error"] != "invalid_request" {
			t.Errorf("%s %s with the parameters in the URL: %d %v, want %d invalid_request", c.method, c.path, status, body, c.status)
		}
	}
	// A CORS preflight, which carries no parameters, is still answered.
	pre, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/oauth/token", nil)
	pre.Header.Set("Origin", "https://app.example.jp")
	pre.Header.Set("Access-Control-Request-Method", http.MethodPost)
	res, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		t.Errorf("CORS preflight of /oauth/token: %d", res.StatusCode)
	}
	// Nothing was spent or revoked: the tokens work as before.
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo with the access token: %d", status)
	}
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Errorf("refresh: %v", err)
	}
}

// useCounter is the store, counting UseRefreshToken: a write, through
// SQLite's one writer.
type useCounter struct {
	*sqlstore.DB
	uses *atomic.Int32
}

func (c useCounter) UseRefreshToken(ctx context.Context, hash string, now time.Time) (*store.RefreshToken, error) {
	c.uses.Add(1)
	return c.DB.UseRefreshToken(ctx, hash, now)
}

// A made-up refresh token is refused with a read: a public client needs
// no secret, so anyone who knows its id may send them, and each was a
// write (an attempt to spend it) queued behind the database's one writer,
// with the sign-ins. A token used before is still a replay, spent again
// to revoke its grant.
func TestMadeUpRefreshTokenWritesNothing(t *testing.T) {
	e := newPortal(t)
	var uses atomic.Int32
	e.serveWith(useCounter{DB: e.db, uses: &uses})
	r := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	tok := r.login(e.browser())

	uses.Store(0)
	status, body := r.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt.made-up"}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("a made-up refresh token: %d %v, want 400 invalid_grant", status, body)
	}
	if n := uses.Load(); n != 0 {
		t.Errorf("a made-up refresh token was spent %d times, want none", n)
	}
	// The control: a used token replayed ends its grant.
	fresh, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Fatal("a used refresh token was accepted again")
	}
	if _, err := r.refresh(fresh.RefreshToken); err == nil {
		t.Error("after a replay, the rotated refresh token still works: the grant was not revoked")
	}
}
