package oidc_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/store"
)

const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// signedIn reports whether browser b has a portal session: /security shows
// the page (or a step-up) rather than sending it to /login.
func (e *portalEnv) signedIn(b *http.Client) bool {
	e.t.Helper()
	res, err := noFollow(b).Get(e.srv.URL + "/security")
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	return !(loc != nil && loc.Path == "/login")
}

// checkLogoutToken verifies a back-channel logout post as a site must
// (OpenID Connect Back-Channel Logout 1.0, 2.4 and 2.6) and returns the
// token's claims.
func (e *portalEnv) checkLogoutToken(p logoutPost, clientID, sid string) map[string]any {
	e.t.Helper()
	t := e.t
	ctx := context.Background()
	if p.method != http.MethodPost || !strings.HasPrefix(p.contentType, "application/x-www-form-urlencoded") {
		t.Errorf("logout delivered with %s %q", p.method, p.contentType)
	}
	raw := p.form.Get("logout_token")
	if raw == "" {
		t.Fatalf("no logout_token in %v", p.form)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	h := jws.Signatures[0].Protected
	if h.ExtraHeaders[jose.HeaderType] != "logout+jwt" {
		t.Errorf("logout token typ %v, want logout+jwt", h.ExtraHeaders[jose.HeaderType])
	}
	if !slices.Contains(e.kids(), h.KeyID) {
		t.Errorf("logout token kid %q not in /keys %v", h.KeyID, e.kids())
	}
	if _, err := gooidc.NewRemoteKeySet(ctx, e.srv.URL+"/keys").VerifySignature(ctx, raw); err != nil {
		t.Errorf("logout token signature: %v", err)
	}
	_, c := decodeJWT(t, raw)
	aud := c["aud"]
	if list, ok := aud.([]any); ok && len(list) == 1 {
		aud = list[0]
	}
	if c["iss"] != e.srv.URL || aud != clientID || c["sub"] != e.accountID {
		t.Errorf("logout token iss %v aud %v sub %v, want %s %s %s", c["iss"], c["aud"], c["sub"], e.srv.URL, clientID, e.accountID)
	}
	if sid != "" && c["sid"] != sid {
		t.Errorf("logout token sid %v, want the ID token's %s", c["sid"], sid)
	}
	events, _ := c["events"].(map[string]any)
	if _, ok := events[backchannelEvent]; !ok {
		t.Errorf("logout token events %v lack %s", c["events"], backchannelEvent)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("logout token has a nonce")
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if iat == 0 || exp <= iat || c["jti"] == nil || c["jti"] == "" {
		t.Errorf("logout token iat %v exp %v jti %v", c["iat"], c["exp"], c["jti"])
	}
	return c
}

// RP-initiated logout with a registered post_logout_redirect_uri: the
// browser goes back there with the state, the portal session is gone, the
// site's tokens are revoked and the site is told by back-channel.
func TestRPInitiatedLogout(t *testing.T) {
	e := newPortal(t)
	rc := newReceiver(t)
	const after = "http://127.0.0.1:9/signed-out"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"},
		PostLogoutRedirectURIs: []string{after}, BackchannelLogoutURI: rc.url()})
	b := e.browser()
	tok := r.login(b)
	_, claims := r.verify(tok)
	if !e.signedIn(b) {
		t.Fatal("not signed in after the flow")
	}

	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {after}, "state": {"bye"}}
	res, err := noFollow(b).Get(e.srv.URL + "/end_session?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	if loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != after || loc.Query().Get("state") != "bye" {
		t.Fatalf("end_session: status %d, location %v, want %s?state=bye", res.StatusCode, loc, after)
	}
	if e.signedIn(b) {
		t.Error("the portal session survived the logout")
	}
	e.grantEnded(r, tok, rc, claims.SID, "the logout")
}

// grantEnded checks that the grant of tok ended with what: its refresh and
// access tokens refused, and its site told once by back-channel logout.
func (e *portalEnv) grantEnded(r *rp, tok *oauth2.Token, rc *receiver, sid, what string) {
	t := e.t
	t.Helper()
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Errorf("the refresh token survived %s", what)
	}
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("the access token survived %s: %d", what, status)
	}
	e.provider.Wait()
	posts := rc.got()
	if len(posts) != 1 {
		t.Fatalf("site told %d times of %s, want 1", len(posts), what)
	}
	e.checkLogoutToken(posts[0], r.c.ID, sid)
}

// A post_logout_redirect_uri the site did not register is not followed.
func TestEndSessionUnregisteredRedirect(t *testing.T) {
	e := newPortal(t)
	const after = "http://127.0.0.1:9/signed-out"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"},
		PostLogoutRedirectURIs: []string{after}})
	b := e.browser()
	tok := r.login(b)
	defer func() {
		// A refused request ends nothing.
		if !e.signedIn(b) {
			t.Error("a refused end_session request ended the portal session")
		}
	}()
	for _, bad := range []string{"https://evil.example/", after + "/", after + "?x=1", "http://127.0.0.1:9/cb"} {
		q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {bad}, "state": {"s"}}
		res, err := noFollow(b).Get(e.srv.URL + "/end_session?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc, _ := res.Location(); loc != nil && !strings.HasPrefix(loc.String(), e.srv.URL+"/") {
			t.Errorf("unregistered post_logout_redirect_uri %s: sent to %s", bad, loc)
		} else if res.StatusCode != http.StatusBadRequest {
			t.Errorf("unregistered post_logout_redirect_uri %s: status %d, want 400", bad, res.StatusCode)
		}
	}
	// Without a hint or client_id the provider cannot know the site:
	// the redirect URI is not followed either.
	res, err := noFollow(b).Get(e.srv.URL + "/end_session?" + url.Values{"post_logout_redirect_uri": {after}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc != nil && !strings.HasPrefix(loc.String(), e.srv.URL+"/") {
		t.Errorf("post_logout_redirect_uri followed without a hint: %s", loc)
	}
}

// Without a post_logout_redirect_uri the portal's own page follows.
func TestEndSessionDefaultRedirect(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	b := e.browser()
	tok := r.login(b)
	res, err := noFollow(b).Get(e.srv.URL + "/end_session?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	if loc == nil || loc.Path != "/login" || loc.Query().Get("e") != "signedout" {
		t.Errorf("end_session without a redirect URI: %d %v", res.StatusCode, loc)
	}
	if e.signedIn(b) {
		t.Error("portal session survived")
	}
}

// backchannelPair signs in to two sites with back-channel logout through
// one browser (the second by single sign-on).
func backchannelPair(t *testing.T, e *portalEnv) (b *http.Client, sites []*rp, rcs []*receiver, toks []*oauth2.Token, sids []string) {
	b = e.browser()
	for i, name := range []string{"shop", "support"} {
		rc := newReceiver(t)
		r := e.newRP(&store.Client{Name: name, RedirectURIs: []string{"http://127.0.0.1:9/" + name}, BackchannelLogoutURI: rc.url()})
		var tok *oauth2.Token
		if i == 0 {
			tok = r.login(b)
		} else {
			tok = r.sso(b)
		}
		_, c := r.verify(tok)
		sites, rcs, toks, sids = append(sites, r), append(rcs, rc), append(toks, tok), append(sids, c.SID)
	}
	if sids[0] == "" || sids[0] != sids[1] {
		t.Fatalf("sids %q: want one portal session's", sids)
	}
	return
}

func (e *portalEnv) checkLoggedOut(sites []*rp, rcs []*receiver, toks []*oauth2.Token, sids []string) {
	e.t.Helper()
	e.provider.Wait()
	for i, r := range sites {
		posts := rcs[i].got()
		if len(posts) != 1 {
			e.t.Errorf("%s told %d times, want 1", r.c.Name, len(posts))
			continue
		}
		e.checkLogoutToken(posts[0], r.c.ID, sids[i])
		if _, err := r.refresh(toks[i].RefreshToken); err == nil {
			e.t.Errorf("%s's refresh token survived", r.c.Name)
		}
		if status, _ := e.userinfo(toks[i].AccessToken); !refusedToken(status) {
			e.t.Errorf("%s's access token survived: %d", r.c.Name, status)
		}
	}
}

// Signing out at the portal logs both sites out by back-channel.
func TestBackchannelLogoutAtSignOut(t *testing.T) {
	e := newPortal(t)
	b, sites, rcs, toks, sids := backchannelPair(t, e)
	res := e.signOut(b)
	if loc, _ := res.Location(); loc == nil || loc.Path != "/login" {
		t.Errorf("POST /logout: %d %v", res.StatusCode, loc)
	}
	if e.signedIn(b) {
		t.Error("portal session survived")
	}
	e.checkLoggedOut(sites, rcs, toks, sids)
}

// RP-initiated logout from one site logs the other out too: the portal
// session ends.
func TestBackchannelLogoutAtEndSession(t *testing.T) {
	e := newPortal(t)
	b, sites, rcs, toks, sids := backchannelPair(t, e)
	q := url.Values{"id_token_hint": {toks[0].Extra("id_token").(string)}}
	res, err := noFollow(b).Get(e.srv.URL + "/end_session?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	e.checkLoggedOut(sites, rcs, toks, sids)
}

// A reset of the second factor on the security page logs the sites out
// and revokes their tokens.
func TestBackchannelLogoutAtSecurityReset(t *testing.T) {
	e := newPortal(t)
	b, sites, rcs, toks, sids := backchannelPair(t, e)
	res, err := noFollow(b).PostForm(e.srv.URL+"/security/reset", e.resetForm())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc == nil || loc.Path != "/security" {
		t.Fatalf("POST /security/reset: %d %v", res.StatusCode, loc)
	}
	e.checkLoggedOut(sites, rcs, toks, sids)
}

// So does an operator's reset (tobira users reset-2fa).
func TestBackchannelLogoutAtOperatorReset(t *testing.T) {
	e := newPortal(t)
	_, sites, rcs, toks, sids := backchannelPair(t, e)
	if _, err := e.svc.OperatorResetMFA(context.Background(), e.email, "operator"); err != nil {
		t.Fatal(err)
	}
	e.checkLoggedOut(sites, rcs, toks, sids)
}

// A site whose back-channel endpoint fails is tried again, and the other
// sites are told all the same.
func TestBackchannelLogoutRetries(t *testing.T) {
	e := newPortal(t)
	var calls atomic.Int32
	release := make(chan struct{})
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-release // the site is slow, then fails
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(flaky.Close)
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "flaky", RedirectURIs: []string{"http://127.0.0.1:9/flaky"}, BackchannelLogoutURI: flaky.URL + "/bc"})
	other := e.newRP(&store.Client{Name: "other", RedirectURIs: []string{"http://127.0.0.1:9/other"}, BackchannelLogoutURI: rc.url()})
	b := e.browser()
	r.login(b)
	other.sso(b)

	// The sign-out answers while the slow site still holds its post.
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := noFollow(b).PostForm(e.srv.URL+"/logout", nil)
		if err == nil {
			res.Body.Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the sign-out waited for a site's back-channel endpoint")
	}
	close(release)
	e.provider.Wait()
	if n := calls.Load(); n != 2 {
		t.Errorf("flaky site called %d times, want 2 (one failure, one retry)", n)
	}
	if n := len(rc.got()); n != 1 {
		t.Errorf("the other site told %d times, want 1", n)
	}
}

// Signing out after a re-authentication (max_age exceeded, prompt=login)
// logs out the sites signed in before it too. Regression: portal.Finish
// replaced the portal session (deleting the old one without SessionEnded)
// while the sites' grants kept the old session's hash, so the sign-out
// revoked only the new session's grants; the earlier site kept working
// tokens and was never sent a logout token. The browser now keeps one sid
// across sign-ins.
func TestSignOutAfterReauthenticationLogsOutEarlierSites(t *testing.T) {
	e := newPortal(t)
	rcA, rcB := newReceiver(t), newReceiver(t)
	a := e.newRP(&store.Client{Name: "a", RedirectURIs: []string{"http://127.0.0.1:9/a"}, BackchannelLogoutURI: rcA.url()})
	bSite := e.newRP(&store.Client{Name: "b", RedirectURIs: []string{"http://127.0.0.1:9/b"}, BackchannelLogoutURI: rcB.url()})
	br := e.browser()
	ta := a.login(br)

	// b wants a sign-in at most a minute old; the session is older.
	e.clock.Advance(2 * time.Minute)
	verifier := oauth2.GenerateVerifier()
	back, at := e.trySignIn(br, bSite.authURL("b", verifier, oauth2.SetAuthURLParam("max_age", "60")))
	if back == nil {
		t.Fatalf("re-authentication ended at %s", at)
	}
	tb := bSite.exchange(bSite.codeFrom(back, "b"), verifier)
	_, ca := a.verify(ta)
	_, cb := bSite.verify(tb)
	if ca.SID == "" || cb.SID != ca.SID {
		t.Errorf("sid %q after the re-authentication, %q before: want the browser's one sid", cb.SID, ca.SID)
	}
	if cb.AuthTime <= ca.AuthTime {
		t.Errorf("auth_time %d after the re-authentication, %d before", cb.AuthTime, ca.AuthTime)
	}

	e.signOut(br)
	e.provider.Wait()
	if len(rcB.got()) != 1 {
		t.Errorf("b told %d times, want 1", len(rcB.got()))
	}
	if _, err := bSite.refresh(tb.RefreshToken); err == nil {
		t.Error("b's refresh token survived the sign-out")
	}
	if posts := rcA.got(); len(posts) != 1 {
		t.Errorf("a, signed in before the re-authentication, told %d times of the sign-out, want 1", len(posts))
	} else {
		e.checkLogoutToken(posts[0], a.c.ID, ca.SID)
	}
	if _, err := a.refresh(ta.RefreshToken); err == nil {
		t.Error("a's refresh token, from before the re-authentication, survived the sign-out")
	}
}

// A sign-in as another customer in a browser still signed in (prompt=login
// at a site, a shared computer) ends the first customer's portal session
// there as a sign-out does: the sites signed in through it are told at
// once and their tokens revoked, offline_access's too, rather than at the
// sweep after the session was found gone (which keeps offline_access's and
// leaves the other site showing the first customer's pages meanwhile). The
// second customer's sign-in gets a sid of its own.
func TestSignInAsAnotherLogsOutTheFirst(t *testing.T) {
	e := newPortal(t)
	rcA, rcB := newReceiver(t), newReceiver(t)
	a := e.newRP(&store.Client{Name: "a", RedirectURIs: []string{"http://127.0.0.1:9/a"}, BackchannelLogoutURI: rcA.url()})
	bSite := e.newRP(&store.Client{Name: "b", RedirectURIs: []string{"http://127.0.0.1:9/b"}, BackchannelLogoutURI: rcB.url()})
	br := e.browser()
	ta := a.login(br) // with offline_access
	_, ca := a.verify(ta)

	satoID := e.signInAsSato()
	verifier := oauth2.GenerateVerifier()
	back, at := e.trySignIn(br, bSite.authURL("b", verifier, oauth2.SetAuthURLParam("prompt", "login")))
	if back == nil {
		t.Fatalf("the second customer's sign-in ended at %s", at)
	}
	_, cb := bSite.verify(bSite.exchange(bSite.codeFrom(back, "b"), verifier))
	if cb.Subject != satoID || cb.SID == "" || cb.SID == ca.SID {
		t.Fatalf("b signed in %s with sid %q; want %s with a sid other than the first customer's %q", cb.Subject, cb.SID, satoID, ca.SID)
	}
	e.grantEnded(a, ta, rcA, ca.SID, "the second customer's sign-in in the same browser")
	if n := len(rcB.got()); n != 0 {
		t.Errorf("b, signed in as the second customer, told %d times", n)
	}
	if !e.signedIn(br) {
		t.Error("the browser is not signed in as the second customer")
	}
}

// RP-initiated logout ends the portal session of the browser it comes from,
// and what that session gave the sites; a session of the same customer in
// another browser (another device) and the tokens it gave stay.
// Regression: the library's storage.TerminateSession(userID, clientID),
// called after web.endSession had signed the browser out, revoked every
// grant of the account with that client in every browser and posted a
// logout token for each, with the other browsers' sids; the storage now
// answers with TerminateSessionFromRequest, which ends nothing more.
func TestEndSessionLeavesOtherBrowsers(t *testing.T) {
	e := newPortal(t)
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}, BackchannelLogoutURI: rc.url()})
	laptop, phone := e.browser(), e.browser()
	tl := r.login(laptop)
	tp := r.login(phone)
	_, cl := r.verify(tl)
	_, cp := r.verify(tp)
	if cl.SID == cp.SID {
		t.Fatalf("two browsers share the sid %q", cl.SID)
	}

	q := url.Values{"id_token_hint": {tl.Extra("id_token").(string)}}
	res, err := noFollow(laptop).Get(e.srv.URL + "/end_session?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	e.provider.Wait()

	if e.signedIn(laptop) {
		t.Error("the laptop's portal session survived its logout")
	}
	if _, err := r.refresh(tl.RefreshToken); err == nil {
		t.Error("the laptop's refresh token survived its logout")
	}
	if !e.signedIn(phone) {
		t.Error("the phone's portal session ended with the laptop's logout")
	}
	if _, err := r.refresh(tp.RefreshToken); err != nil {
		t.Errorf("the phone's refresh token was revoked by the laptop's logout: %v", err)
	}
	var sids []any
	for _, p := range rc.got() {
		_, c := decodeJWT(t, p.form.Get("logout_token"))
		sids = append(sids, c["sid"])
	}
	if len(sids) != 1 || sids[0] != cl.SID {
		t.Errorf("logout tokens for sids %v, want only the laptop's %s", sids, cl.SID)
	}
}

// signOut presses the portal's ログアウト in browser b and returns the
// answer, unfollowed, its body closed.
func (e *portalEnv) signOut(b *http.Client) *http.Response {
	e.t.Helper()
	res, err := noFollow(b).PostForm(e.srv.URL+"/logout", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// endSessionPage opens /end_session with q in browser b and returns the
// answer's status, Location and body; the headers are those of the answer.
func (e *portalEnv) endSessionPage(b *http.Client, q url.Values, header ...string) (int, *url.URL, string) {
	status, loc, body, _ := e.endSessionAnswer(b, q, header...)
	return status, loc, body
}

func (e *portalEnv) endSessionAnswer(b *http.Client, q url.Values, header ...string) (int, *url.URL, string, http.Header) {
	e.t.Helper()
	res, body := e.get(b, e.srv.URL+"/end_session?"+q.Encode(), header...)
	loc, _ := res.Location()
	return res.StatusCode, loc, body, res.Header
}

var signOutFormRe = regexp.MustCompile(`(?s)<form method="post" action="/logout"[^>]*>\s*<input type="hidden" name="next" value="([^"]*)">\s*<button[^>]*>ログアウト</button>`)

// An end_session request without an id_token_hint of this browser's
// session (a link or redirect from any page) signs nobody out: the portal
// asks 「ログアウトしますか?」 (RP-Initiated Logout 1.0, 2), and signs out
// when the customer confirms with a same-origin post; then the site's
// post_logout_redirect_uri follows as it would have.
func TestEndSessionWithoutHintAsks(t *testing.T) {
	e := newPortal(t)
	rc := newReceiver(t)
	const after = "http://127.0.0.1:8/signed-out" // another origin than the redirect URI's
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"},
		PostLogoutRedirectURIs: []string{after}, BackchannelLogoutURI: rc.url()})
	b := e.browser()
	tok := r.login(b)
	_, claims := r.verify(tok)
	// Another browser's sign-in, whose ID token names another session.
	other := r.login(e.browser())

	cases := []struct {
		name string
		q    url.Values
	}{
		{"no hint", url.Values{}},
		{"client and redirect, no hint", url.Values{"client_id": {r.c.ID}, "post_logout_redirect_uri": {after}, "state": {"bye"}}},
		{"another session's hint", url.Values{"id_token_hint": {other.Extra("id_token").(string)}, "post_logout_redirect_uri": {after}, "state": {"bye"}}},
	}
	for _, c := range cases {
		status, loc, body := e.endSessionPage(b, c.q, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
		if status != http.StatusOK || loc != nil || !strings.Contains(body, "ログアウトしますか?") || signOutFormRe.FindStringSubmatch(body) == nil {
			t.Errorf("%s: %d %v; want the confirmation page with a ログアウト form to /logout", c.name, status, loc)
		}
		if !e.signedIn(b) {
			t.Fatalf("%s: end_session signed the browser out without asking", c.name)
		}
	}
	e.provider.Wait()
	if n := len(rc.got()); n != 0 {
		t.Fatalf("the site was logged out %d times before the customer confirmed", n)
	}

	// Another site's page cannot post the confirmation.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/logout", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	crossSite(req, "https://evil.example", "navigate")
	res, err := noFollow(b).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !e.signedIn(b) {
		t.Fatalf("cross-site POST /logout: %d, signed in %v", res.StatusCode, e.signedIn(b))
	}

	// The customer confirms: signed out, and back at the site with its state.
	// The browser follows the form's redirects only to origins its
	// form-action names.
	_, _, body, h := e.endSessionAnswer(b, cases[1].q)
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:8 ") {
		t.Errorf("the confirmation's CSP %q does not let its form lead to the post-logout redirect URI", csp)
	}
	next := html.UnescapeString(signOutFormRe.FindStringSubmatch(body)[1])
	res, err = noFollow(b).PostForm(e.srv.URL+"/logout", url.Values{"next": {next}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	if res.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/end_session" {
		t.Fatalf("confirmed sign-out: %d %v, want back to /end_session", res.StatusCode, loc)
	}
	if e.signedIn(b) {
		t.Error("the portal session survived the confirmed sign-out")
	}
	status, back, _ := e.endSessionPage(b, loc.Query())
	if back == nil || back.Scheme+"://"+back.Host+back.Path != after || back.Query().Get("state") != "bye" {
		t.Errorf("after the confirmed sign-out: %d %v, want %s?state=bye", status, back, after)
	}
	e.grantEnded(r, tok, rc, claims.SID, "the confirmed sign-out")
}

// The customer sites' sign-out stays one click: their id_token_hint names
// the session, expired or not (a site's session outlives its ID token), and
// a step-up, which replaces the session's id, does not change that.
func TestEndSessionWithThisSessionsHint(t *testing.T) {
	e := newPortal(t)
	const after = "http://127.0.0.1:9/signed-out"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"},
		PostLogoutRedirectURIs: []string{after}})
	b := e.browser()
	tok := r.login(b)
	// The ID token expires, and the security page's step-up renews the
	// session under a new id.
	e.clock.Advance(oidc.IDTokenLifetime + time.Minute)
	if _, visited := e.follow(b, e.srv.URL+"/security"); visited[len(visited)-1] != "/login/code" {
		t.Fatalf("no step-up: visited %v", visited)
	}
	code, _ := mfa.TOTPCode(e.seed, e.clock.Now())
	res, err := noFollow(b).PostForm(e.srv.URL+"/login/code", url.Values{"code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc == nil || loc.Path != "/security" || !e.signedIn(b) {
		t.Fatalf("step-up: %d %v", res.StatusCode, loc)
	}
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "client_id": {r.c.ID}, "post_logout_redirect_uri": {after}}
	status, loc, _ := e.endSessionPage(b, q, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
	if loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != after {
		t.Fatalf("end_session with the session's (expired) hint: %d %v, want %s", status, loc, after)
	}
	if e.signedIn(b) {
		t.Error("the portal session survived")
	}
}

// A hint the provider did not sign is refused, and ends nothing.
func TestEndSessionForgedHint(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	b := e.browser()
	tok := r.login(b)
	raw := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	status, loc, body := e.endSessionPage(b, url.Values{"id_token_hint": {forged}})
	if status != http.StatusBadRequest || loc != nil || !strings.Contains(body, "ログアウトの要求が正しくないため、ログアウトできませんでした。") {
		t.Errorf("end_session with a forged hint: %d %v %.200s, want 400 and the page that says so", status, loc, body)
	}
	if !e.signedIn(b) {
		t.Error("a forged hint signed the browser out")
	}
}

// The portal posts a logout token to the back-channel URI registered, and
// nowhere else: a redirect from it is not followed. Registration admits
// only https (or this machine's plain HTTP) URIs; a site that answers with
// a redirect would otherwise have the portal post, or fetch, any address
// it names, inside the portal's network, with the customer's logout token.
func TestBackchannelLogoutFollowsNoRedirect(t *testing.T) {
	e := newPortal(t)
	var inside atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside.Add(1)
	}))
	t.Cleanup(internal.Close)
	var asked atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Redirect(w, r, internal.URL+"/admin", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(site.Close)
	r := e.newRP(&store.Client{Name: "redirecting", RedirectURIs: []string{"http://127.0.0.1:9/r"}, BackchannelLogoutURI: site.URL + "/bc"})
	b := e.browser()
	r.login(b)
	e.signOut(b)
	e.provider.Wait()
	if asked.Load() == 0 {
		t.Fatal("the registered back-channel URI was not called")
	}
	if n := inside.Load(); n != 0 {
		t.Errorf("the portal followed the site's redirect to another address %d times", n)
	}
}

// A portal session that expires logs its sites out by back-channel, as a
// sign-out does, when the sweep runs (EndExpiredSessions), and only once.
// The grant without offline_access is revoked; the one with it keeps its
// refresh token, meant to outlive the sign-in (Back-Channel Logout 1.0,
// 2.7). Another browser's live session keeps its site signed in.
func TestBackchannelLogoutAtSessionExpiry(t *testing.T) {
	e := newPortal(t)
	ctx := context.Background()
	rcA, rcB, rcC := newReceiver(t), newReceiver(t), newReceiver(t)
	a := e.newRP(&store.Client{Name: "a", RedirectURIs: []string{"http://127.0.0.1:9/a"}, BackchannelLogoutURI: rcA.url()})
	b := e.newRP(&store.Client{Name: "b", RedirectURIs: []string{"http://127.0.0.1:9/b"}, BackchannelLogoutURI: rcB.url()})
	c := e.newRP(&store.Client{Name: "c", RedirectURIs: []string{"http://127.0.0.1:9/c"}, BackchannelLogoutURI: rcC.url()})
	b.conf.Scopes = []string{"openid", "email"}
	br := e.browser()
	tokA := a.login(br)
	tokB := b.sso(br)
	_, ca := a.verify(tokA)
	_, cb := b.verify(tokB)
	if ca.SID == "" || ca.SID != cb.SID {
		t.Fatalf("sids %q %q: want one portal session's", ca.SID, cb.SID)
	}

	// Half-way through the first session, another browser signs in at c.
	e.clock.Advance(e.cfg.SessionTTL.Duration / 2)
	c.login(e.browser())
	if n, err := e.provider.EndExpiredSessions(ctx); err != nil || n != 0 {
		t.Fatalf("with every session live, EndExpiredSessions = %d, %v; want 0", n, err)
	}
	e.provider.Wait()
	if len(rcA.got())+len(rcB.got())+len(rcC.got()) != 0 {
		t.Fatal("a site was told while every portal session was live")
	}

	e.clock.Advance(e.cfg.SessionTTL.Duration/2 + time.Second)
	if e.signedIn(br) {
		t.Fatal("the first browser's portal session outlived session_ttl")
	}
	if n, err := e.provider.EndExpiredSessions(ctx); err != nil || n != 2 {
		t.Fatalf("EndExpiredSessions = %d, %v; want the 2 grants of the expired session", n, err)
	}
	for _, s := range []struct {
		r  *rp
		rc *receiver
	}{{a, rcA}, {b, rcB}} {
		posts := s.rc.got()
		if len(posts) != 1 {
			t.Errorf("%s told %d times of the expired session, want 1", s.r.c.Name, len(posts))
			continue
		}
		e.checkLogoutToken(posts[0], s.r.c.ID, ca.SID)
	}
	if n := len(rcC.got()); n != 0 {
		t.Errorf("the site of a live session was told %d times", n)
	}
	// Once told, not again.
	if n, err := e.provider.EndExpiredSessions(ctx); err != nil || n != 0 {
		t.Errorf("a second run: EndExpiredSessions = %d, %v; want 0", n, err)
	}
	if len(rcA.got()) != 1 || len(rcB.got()) != 1 {
		t.Errorf("sites told again: a %d, b %d times", len(rcA.got()), len(rcB.got()))
	}
	// a asked for offline_access: its refresh token still works.
	if _, err := a.refresh(tokA.RefreshToken); err != nil {
		t.Errorf("the offline_access refresh token was revoked with the session: %v", err)
	}
	// b's grant was revoked: nothing of it is left to revoke.
	if gs, err := e.db.RevokeGrantsOf(ctx, e.accountID, b.c.ID, "", e.clock.Now()); err != nil || len(gs) != 0 {
		t.Errorf("b's grant was live after its session expired: %+v, %v", gs, err)
	}
}

// A run of EndExpiredSessions cut off while a site is being told (the
// process stopping) leaves that grant unmarked: the next run tells the
// site, rather than the notice being lost.
func TestSessionExpiryNoticeSurvivesAnInterruptedRun(t *testing.T) {
	e := newPortal(t)
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	var calls atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			arrived <- struct{}{}
			// The first post hangs until the portal gives up on it.
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(site.Close)
	t.Cleanup(func() { close(release) })
	r := e.newRP(&store.Client{Name: "a", RedirectURIs: []string{"http://127.0.0.1:9/a"}, BackchannelLogoutURI: site.URL + "/bc"})
	r.login(e.browser())
	e.clock.Advance(e.cfg.SessionTTL.Duration + time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	if n, err := e.provider.EndExpiredSessions(ctx); err == nil || n != 0 {
		t.Fatalf("an interrupted run: EndExpiredSessions = %d, %v; want 0 and the interruption", n, err)
	}
	before := calls.Load()
	if n, err := e.provider.EndExpiredSessions(context.Background()); err != nil || n != 1 {
		t.Fatalf("the next run: EndExpiredSessions = %d, %v; want 1", n, err)
	}
	if calls.Load() != before+1 {
		t.Errorf("the next run posted %d times, want once", calls.Load()-before)
	}
}

// A site's logout from a browser that brought no portal cookie (cleared,
// say) still ends the portal session its id_token_hint names, and tells the
// sites signed in through it, as the site's page then says; the customer's
// other browser stays signed in. A hint of a session ended already ends
// nothing more, and returns to the site all the same.
func TestEndSessionHintWithoutCookie(t *testing.T) {
	e := newPortal(t)
	rc := newReceiver(t)
	const after = "http://127.0.0.1:9/signed-out"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"},
		PostLogoutRedirectURIs: []string{after}, BackchannelLogoutURI: rc.url()})
	b, other := e.browser(), e.browser()
	tok := r.login(b)
	_, claims := r.verify(tok)
	r.login(other)

	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "client_id": {r.c.ID}, "post_logout_redirect_uri": {after}}
	cookieless := e.browser()
	for i := range 2 {
		status, loc, _ := e.endSessionPage(cookieless, q, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
		if loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != after {
			t.Fatalf("end_session %d without the portal's cookie: %d %v, want %s", i+1, status, loc, after)
		}
	}
	if e.signedIn(b) {
		t.Error("the portal session the hint names survived")
	}
	if !e.signedIn(other) {
		t.Error("the customer's other browser was signed out")
	}
	e.grantEnded(r, tok, rc, claims.SID, "a logout without the portal's cookie")
}
