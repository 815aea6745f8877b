package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/store"
)

// Single sign-on: a browser signed in at the portal gets a code for a
// second site without any sign-in page, and the ID token says when it
// signed in (the same auth_time and session).
func TestSingleSignOn(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	br := e.browser()
	ta := a.login(br)
	_, ca := a.verify(ta)

	e.clock.Advance(time.Minute)
	tb := b.sso(br)
	idb, cb := b.verify(tb)
	if idb.Subject != e.accountID || cb.Nonce != "nonce-sso-b" {
		t.Errorf("SSO ID token: %+v", cb)
	}
	if cb.AuthTime != ca.AuthTime || cb.SID != ca.SID || cb.SID == "" {
		t.Errorf("SSO ID token auth_time %d sid %q, want the sign-in's %d %q", cb.AuthTime, cb.SID, ca.AuthTime, ca.SID)
	}
	if strings.Join(cb.AMR, " ") != strings.Join(ca.AMR, " ") {
		t.Errorf("SSO amr %v, sign-in's %v", cb.AMR, ca.AMR)
	}
	// The same site again, too.
	a.sso(br)

	// Another browser has no session: it is asked to sign in.
	_, visited := e.follow(newJarBrowser(), a.authURL("x", oauth2.GenerateVerifier()))
	if last := visited[len(visited)-1]; !strings.HasPrefix(last, "/login") {
		t.Errorf("a browser without a session ended at %s", last)
	}
}

// After the portal session expires the browser is asked to sign in again.
func TestExpiredSessionAsksAgain(t *testing.T) {
	e := newPortal(t)
	a := newSite(e, "a")
	br := e.browser()
	a.login(br)
	e.clock.Advance(e.cfg.SessionTTL.Duration + time.Minute)
	_, visited := e.follow(br, a.authURL("x", oauth2.GenerateVerifier()))
	if last := visited[len(visited)-1]; !strings.HasPrefix(last, "/login") {
		t.Errorf("an expired session ended at %s, want the login page", last)
	}
}

// prompt=login, max_age=0, and a max_age the sign-in is older than: a
// browser signed in at the portal is shown the login page again (not sent
// straight back), and after signing in the ID token's auth_time is newer.
//
// Regression (prompt=login and max_age=0): after the customer signed in
// again the portal showed the login page once more, forever. The library
// turns prompt=login into max_age=0 (op.ValidateAuthReqPrompt), which the
// store keeps; Request.Satisfied wanted now - signedIn <= 0s, false as soon
// as any time had passed since the sign-in (the session's time is stored to
// the millisecond, so even a clock that stands still did not help). A
// sign-in made after the request was created now satisfies it.
func TestReauthentication(t *testing.T) {
	for _, c := range []struct {
		name    string
		opts    []oauth2.AuthCodeOption
		advance time.Duration
	}{
		{"prompt=login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, 0},
		{"max_age=0", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0")}, 0},
		{"max_age=60 after 2 minutes", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "60")}, 2 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPortal(t)
			testReauthentication(t, e, c.opts, c.advance)
		})
	}
}

func testReauthentication(t *testing.T, e *portalEnv, opts []oauth2.AuthCodeOption, advance time.Duration) {
	a, b := newSite(e, "a"), newSite(e, "b")
	br := e.browser()
	_, first := a.verify(a.login(br))
	e.clock.Advance(advance)

	verifier := oauth2.GenerateVerifier()
	back, at := e.trySignIn(br, b.authURL("again", verifier, opts...))
	if back == nil {
		t.Fatalf("after signing in again the browser is at %s, not back at the site", at)
	}
	_, again := b.verify(b.exchange(b.codeFrom(back, "again"), verifier))
	if again.AuthTime <= first.AuthTime {
		t.Errorf("auth_time %d after signing in again, first sign-in's %d", again.AuthTime, first.AuthTime)
	}
}

// max_age the session is young enough for: no sign-in page.
func TestMaxAgeSatisfied(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	br := e.browser()
	_, first := a.verify(a.login(br))
	e.clock.Advance(30 * time.Second)
	_, c := b.verify(b.sso(br, oauth2.SetAuthURLParam("max_age", "3600")))
	if c.AuthTime != first.AuthTime {
		t.Errorf("auth_time %d, want the sign-in's %d", c.AuthTime, first.AuthTime)
	}
}

// Request.Satisfied on its own.
func TestRequestSatisfied(t *testing.T) {
	created := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name          string
		fresh         bool
		maxAge        int64
		signedIn, now time.Time
		want          bool
	}{
		{"no constraint", false, -1, created.Add(-time.Hour), created, true},
		{"max_age ok", false, 600, created.Add(-5 * time.Minute), created, true},
		{"max_age exceeded", false, 600, created.Add(-11 * time.Minute), created, false},
		{"fresh, old sign-in", true, -1, created.Add(-time.Second), created, false},
		{"fresh, new sign-in", true, -1, created.Add(time.Second), created.Add(2 * time.Second), true},
		// prompt=login reaches Satisfied as Fresh with MaxAge 0 (the library
		// sets max_age=0 for it): a sign-in made for the request, a moment
		// before the browser comes back, must satisfy it.
		{"prompt=login, signed in for it", true, 0, created.Add(time.Second), created.Add(time.Second + 50*time.Millisecond), true},
		{"max_age=0, signed in for it", false, 0, created.Add(time.Second), created.Add(time.Second + 50*time.Millisecond), true},
	} {
		r := &oidc.Request{CreatedAt: created, Fresh: c.fresh, MaxAge: c.maxAge}
		if got := r.Satisfied(c.signedIn, c.now); got != c.want {
			t.Errorf("%s: Satisfied = %v, want %v", c.name, got, c.want)
		}
	}
}

// The library keeps prompt=login as max_age=0 on the stored request.
func TestPromptLoginStoredAsMaxAgeZero(t *testing.T) {
	e := newPortal(t)
	a := newSite(e, "a")
	_, loc := e.authorize(authParams(a.c.ID, a.redirect, "prompt", "login"))
	if loc == nil || loc.Path != oidc.LoginPath {
		t.Fatalf("location %v", loc)
	}
	req, err := e.provider.AuthRequest(context.Background(), loc.Query().Get("id"))
	if err != nil {
		t.Fatal(err)
	}
	if !req.Fresh || req.ClientID != a.c.ID {
		t.Errorf("request %+v", req)
	}
	t.Logf("prompt=login is stored with MaxAge %d", req.MaxAge)
}

// An unknown or expired request id at /oidc/login is an error page, not a
// sign-in.
func TestOIDCLoginUnknownRequest(t *testing.T) {
	e := newPortal(t)
	a := newSite(e, "a")
	res, err := newJarBrowser().Get(e.srv.URL + oidc.LoginPath + "?id=nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown request: %d", res.StatusCode)
	}
	_, loc := e.authorize(authParams(a.c.ID, a.redirect))
	e.clock.Advance(e.provider.RequestTTL() + time.Minute)
	res, err = newJarBrowser().Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("expired request: %d", res.StatusCode)
	}
	// Nor can the callback be reached for a request nobody signed in.
	_, loc = e.authorize(authParams(a.c.ID, a.redirect))
	res, err = newJarBrowser().Get(e.srv.URL + "/authorize/callback?id=" + url.QueryEscape(loc.Query().Get("id")))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if l, _ := res.Location(); l != nil && l.Query().Get("code") != "" {
		t.Errorf("callback of a request nobody signed in gave a code: %s", l)
	}
}

// prompt=none (OpenID Connect Core 1.0, 3.1.2.1) shows no page. Without a
// session the client hears login_required at its redirect URI, with its
// state; signed in, the code comes straight back; a third-party client the
// customer has not consented to hears consent_required.
func TestPromptNone(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	none := oauth2.SetAuthURLParam("prompt", "none")
	br := e.browser()
	refused := func(state, want string, back *url.URL, visited []string) {
		t.Helper()
		for _, p := range visited {
			if strings.HasPrefix(p, "/login") || strings.HasPrefix(p, "/oidc/consent") {
				t.Errorf("prompt=none showed %s (visited %v)", p, visited)
			}
		}
		if back == nil || back.Query().Get("error") != want || back.Query().Get("state") != state || back.Query().Has("code") {
			t.Fatalf("prompt=none: sent to %v (visited %v), want %s with state %s", back, visited, want, state)
		}
	}
	back, visited := e.follow(br, a.authURL("silent", oauth2.GenerateVerifier(), none))
	refused("silent", "login_required", back, visited)

	a.login(br)
	b.verify(b.sso(br, none))

	ctx := context.Background()
	const redirect = "http://127.0.0.1:9/third-party"
	c := &store.Client{Name: "他社アプリ", RedirectURIs: []string{redirect}}
	secret, err := e.provider.CreateClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: a.conf.Endpoint, RedirectURL: redirect,
		Scopes: []string{gooidc.ScopeOpenID}}
	back, visited = e.follow(br, conf.AuthCodeURL("third", none, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	refused("third", "consent_required", back, visited)
}

// The browser going back to (or reloading) /authorize/callback after the
// site exchanged the code gets the page that says the request is no longer valid,
// in Japanese, not the library's text.
func TestCallbackAgain(t *testing.T) {
	e := newPortal(t)
	a := newSite(e, "a")
	br := e.browser()
	a.login(br)
	verifier := oauth2.GenerateVerifier()
	back, visited := e.follow(br, a.authURL("again", verifier))
	a.exchange(a.codeFrom(back, "again"), verifier)
	callback := ""
	for _, p := range visited {
		if strings.HasPrefix(p, "/authorize/callback?") {
			callback = p
		}
	}
	if callback == "" {
		t.Fatalf("no callback among %v", visited)
	}
	res, err := noFollow(br).Get(e.srv.URL + callback)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ログインの要求が無効か、有効期限が切れました。") {
		t.Errorf("the callback again: %d %.200s", res.StatusCode, body)
	}
}

// login_hint fills in the login page's address, and ui_locales chooses the
// language of the portal's pages for the sign-in (OpenID Connect Core 1.0,
// 3.1.2.1), below a language the customer chose.
func TestLoginHintAndUILocales(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	loginPage := func(b *http.Client, opts ...oauth2.AuthCodeOption) (string, *url.URL) {
		t.Helper()
		res, err := b.Get(r.authURL("st", oauth2.GenerateVerifier(), opts...))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.Request.URL.Path != "/login" {
			t.Fatalf("authorize led to %s, want the login page", res.Request.URL)
		}
		return string(body), res.Request.URL
	}
	b := e.browser()
	page, _ := loginPage(b, oauth2.SetAuthURLParam("login_hint", "hanako@example.jp"),
		oauth2.SetAuthURLParam("ui_locales", "fr-CA en-GB ja"))
	if !strings.Contains(page, `value="hanako@example.jp"`) {
		t.Error("the login page does not fill in the login_hint")
	}
	if !strings.Contains(page, `<html lang="en"`) {
		t.Error("ui_locales fr-CA en-GB ja: the login page is not in English")
	}
	// The sign-in goes on in that language, as the next request asks.
	page, _ = loginPage(b, oauth2.SetAuthURLParam("ui_locales", "ja"))
	if !strings.Contains(page, `<html lang="ja"`) || strings.Contains(page, "hanako@") {
		t.Error("ui_locales ja without login_hint: want Japanese and no address filled in")
	}
	// A language the portal does not speak changes nothing.
	page, _ = loginPage(e.browser(), oauth2.SetAuthURLParam("ui_locales", "fr"))
	if !strings.Contains(page, `<html lang="ja"`) {
		t.Error("ui_locales fr: want the default, Japanese")
	}
	// The customer's own choice stays.
	chose := e.browser()
	u, _ := url.Parse(e.srv.URL)
	chose.Jar.SetCookies(u, []*http.Cookie{{Name: "tobira_lang", Value: "ja", Path: "/"}})
	if page, _ = loginPage(chose, oauth2.SetAuthURLParam("ui_locales", "en")); !strings.Contains(page, `<html lang="ja"`) {
		t.Error("a customer who chose Japanese got the page in ui_locales' English")
	}
	// The hint is only a suggestion: the sign-in takes the address typed.
	tok := r.login(e.browser(), oauth2.SetAuthURLParam("login_hint", "someone-else@example.jp"))
	if _, c := r.verify(tok); c.Subject != e.accountID {
		t.Errorf("signed in as %s", c.Subject)
	}
}

// An id_token_hint names whom the client expects (OpenID Connect Core 1.0,
// 3.1.2.1): a browser signed in as that customer gets a code at once; one
// signed in as someone else is not used for it (prompt=none hears
// login_required; otherwise the sign-in page), and a sign-in made for the
// request as someone else is refused with login_required rather than
// giving the client another customer.
func TestIDTokenHintAtAuthorize(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")

	// A second customer, with a browser of their own.
	yamadaEmail := e.email
	satoID := e.signInAsSato()
	_, sato := r.verify(r.login(e.browser()))
	satoHint := r.login(e.browser()).Extra("id_token").(string)
	if sato.Subject != satoID {
		t.Fatalf("signed in as %s, want %s", sato.Subject, satoID)
	}
	e.email = yamadaEmail

	yamada := e.browser()
	yamadaHint := r.login(yamada).Extra("id_token").(string)
	none := oauth2.SetAuthURLParam("prompt", "none")
	hint := func(h string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("id_token_hint", h) }

	// Hinted as the browser's customer: a code, no page.
	_, c := r.verify(r.sso(yamada, none, hint(yamadaHint)))
	if c.Subject != e.accountID {
		t.Errorf("signed in as %s, want %s", c.Subject, e.accountID)
	}
	// Hinted as another: prompt=none is login_required...
	back, visited := e.follow(yamada, r.authURL("x", oauth2.GenerateVerifier(), none, hint(satoHint)))
	if back == nil || back.Query().Get("error") != "login_required" || back.Query().Get("state") != "x" || back.Query().Has("code") {
		t.Fatalf("prompt=none with another's hint: sent to %v (visited %v), want login_required", back, visited)
	}
	// ...and without it the sign-in page, where signing in as the hinted
	// customer gives their code...
	e.email = "sato@example.jp"
	back, _ = e.trySignIn(yamada, r.authURL("y", oauth2.GenerateVerifier(), hint(satoHint)))
	if back == nil || back.Query().Get("code") == "" {
		t.Fatalf("signed in as the hinted customer: sent to %v", back)
	}
	// ...and as someone else, login_required.
	e.email = yamadaEmail
	back, _ = e.trySignIn(e.browser(), r.authURL("z", oauth2.GenerateVerifier(), hint(satoHint)))
	if back == nil || back.Query().Get("error") != "login_required" || back.Query().Get("state") != "z" || back.Query().Has("code") {
		t.Fatalf("signed in as another than the hint: sent to %v, want login_required", back)
	}
}

// The consent form's answer signs in only a request that the browser's
// session may sign in without a page more: one posted straight away (the
// page was never shown) must not answer prompt=login with the old sign-in
// (the same check keeps an id_token_hint of another account, and an
// account without a second factor, from being signed in so).
func TestConsentPostChecksTheRequest(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	br := e.browser()
	a.login(br)
	e.clock.Advance(time.Second)

	_, visited := e.follow(br, b.authURL("again", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "login")))
	id := ""
	for _, p := range visited {
		if v, ok := strings.CutPrefix(p, oidc.LoginPath+"?id="); ok {
			id = v
		}
	}
	if id == "" {
		t.Fatalf("no sign-in page of the request among %v", visited)
	}
	res, err := noFollow(br).PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc != nil && strings.HasPrefix(loc.Path, "/authorize/callback") {
		if back, _ := e.follow(br, loc.String()); back != nil && back.Query().Get("code") != "" {
			t.Fatalf("prompt=login answered with the old sign-in through the consent form: %s", back)
		}
		t.Fatalf("the consent form signed the request in: %s", loc)
	}
}

// TestRequestWaitsForASlowSignIn: a customer sent by a site to sign in for
// the first time may take the portal's slowest sign-in, an hour to install
// the authenticator app and set it up (enrol_ttl) and the recovery code's
// screen (flow_ttl), and is then sent back to the site, not told that its
// request expired; one that waited longer still is.
func TestRequestWaitsForASlowSignIn(t *testing.T) {
	e := newPortal(t)
	if got, want := e.provider.RequestTTL(), e.cfg.EnrolTTL.Duration+e.cfg.FlowTTL.Duration; got != want || got <= oidc.AuthRequestLifetime {
		t.Fatalf("requests wait %v, want enrol_ttl + flow_ttl, %v", got, want)
	}
	r := newSite(e, "site")
	for _, c := range []struct {
		wait time.Duration
		back bool
	}{
		{e.provider.RequestTTL() - 5*time.Minute, true},
		{e.provider.RequestTTL() + time.Minute, false},
	} {
		b := e.browser()
		res, err := b.Get(r.authURL("st", oauth2.GenerateVerifier()))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		login := res.Request.URL.String()
		e.clock.Advance(c.wait)
		back, at := e.trySignIn(b, login)
		if got := back != nil && back.Query().Get("code") != ""; got != c.back {
			t.Errorf("a sign-in %v after its request: back to the site with a code %v, want %v (sent to %v, or stopped at %s)",
				c.wait, got, c.back, back, at)
		}
	}
}
