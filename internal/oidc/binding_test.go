package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// requestIn starts an authorization request in browser b and returns its
// id, without following the portal to its sign-in page.
func (e *portalEnv) requestIn(b *http.Client, authURL string) string {
	e.t.Helper()
	_, loc := e.authorizeIn(b, authURL)
	if loc == nil || loc.Path != oidc.LoginPath || loc.Query().Get("id") == "" {
		e.t.Fatalf("authorize: location %v, want the request's sign-in page", loc)
	}
	return loc.Query().Get("id")
}

// open loads a portal path in browser b, without following redirects, with
// the Accept-Language given (none if empty).
func (e *portalEnv) open(b *http.Client, method, path string, form url.Values, lang string) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	res, err := noFollow(b).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(res.Body)
	return res, string(text)
}

// bindingCookie is the binding cookie browser b holds; nil without one.
func (e *portalEnv) bindingCookie(b *http.Client) *http.Cookie {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "tobira_oidc_browser" {
			return c
		}
	}
	return nil
}

// An authorization request is bound to the browser that started it: a
// customer lured to the sign-in link of an attacker's request, signed in
// or not, is told to go back to the site and start again, in their
// language, with a link to the site, and nothing changes: the request is
// not signed in, and the attacker's own browser can only go on to the
// sign-in page as before.
func TestAuthRequestBoundToBrowser(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	victim := e.browser()
	a.login(victim)
	stranger := e.browser() // never signed in

	attacker := newJarBrowser()
	id := e.requestIn(attacker, b.authURL("attacker", oauth2.GenerateVerifier()))
	lure := oidc.LoginPath + "?id=" + id

	e.clock.Advance(time.Second)
	for _, c := range []struct {
		name    string
		browser *http.Client
		lang    string
		want    []string
	}{
		{"signed in", victim, "", []string{"このログインは、このブラウザで始まったものではないため", "もう一度ログインを始めてください", "「b」に戻る"}},
		{"signed in, English", victim, "en", []string{"This sign-in was not started in this browser", "start signing in again", "Back to “b”"}},
		{"not signed in", stranger, "", []string{"このブラウザで始まったものではない", "「b」に戻る"}},
	} {
		res, body := e.open(c.browser, http.MethodGet, lure, nil, c.lang)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Errorf("%s: status %d, location %q, want 400 and the page", c.name, res.StatusCode, res.Header.Get("Location"))
		}
		for _, w := range append(c.want, `href="http://127.0.0.1:9/"`) {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", c.name, w)
			}
		}
	}
	// The callback, in another browser: the page too.
	if res, body := e.open(victim, http.MethodGet, "/authorize/callback?id="+id, nil, ""); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "このブラウザで始まったものではない") {
		t.Errorf("callback in another browser: %d", res.StatusCode)
	}

	// Nothing changed: the request is not signed in, and its browser goes
	// on to the sign-in page.
	req, err := e.provider.AuthRequest(context.Background(), id)
	if err != nil || req.SID != "" {
		t.Fatalf("the request after the other browser: %+v, %v; want it pending", req, err)
	}
	_, visited := e.follow(attacker, e.srv.URL+lure)
	if last := visited[len(visited)-1]; !strings.HasPrefix(last, "/login?") {
		t.Errorf("the request's own browser went to %v, want the sign-in page", visited)
	}
}

// The browser gets a random binding value in an HttpOnly, SameSite=Lax
// cookie, which the database keeps only hashed; every tab's request
// shares it, and each goes on in the browser.
func TestAuthRequestBindingCookie(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	br := e.browser()
	va, vb := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()

	res, err := noFollow(br).Get(a.authURL("tab-a", va))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var set *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "tobira_oidc_browser" {
			set = c
		}
	}
	if set == nil || len(set.Value) < 40 || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Path != "/" ||
		set.MaxAge != int(e.provider.RequestTTL().Seconds()) {
		t.Fatalf("binding cookie %+v: want a random value, HttpOnly, SameSite=Lax, Path=/, Max-Age of a request", set)
	}
	loc, _ := res.Location()
	idA := loc.Query().Get("id")
	ar, err := e.db.AuthRequestByID(context.Background(), idA, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ar.BrowserHash != secret.Hash(set.Value) {
		t.Errorf("stored %q, want the hash of the cookie's value", ar.BrowserHash)
	}

	// A second tab: the same value, renewed.
	idB := e.requestIn(br, b.authURL("tab-b", vb))
	if c := e.bindingCookie(br); c == nil || c.Value != set.Value {
		t.Errorf("after a second request the cookie is %+v, want the same value", c)
	}

	// The first tab signs in; the second then goes back to its site at once.
	back, at := e.trySignIn(br, e.srv.URL+oidc.LoginPath+"?id="+idA)
	if back == nil {
		t.Fatalf("the first tab stayed at %s", at)
	}
	a.verify(a.exchange(a.codeFrom(back, "tab-a"), va))
	back, visited := e.follow(br, e.srv.URL+oidc.LoginPath+"?id="+idB)
	if back == nil {
		t.Fatalf("the second tab stayed on the portal: %v", visited)
	}
	b.verify(b.exchange(b.codeFrom(back, "tab-b"), vb))
}

// A browser whose cookies were deleted after it started a request is told
// so, and to start again at the site; once it does, the sign-in goes on.
func TestAuthRequestCookiesCleared(t *testing.T) {
	e := newPortal(t)
	s := newSite(e, "site")
	br := e.browser()
	id := e.requestIn(br, s.authURL("st", oauth2.GenerateVerifier()))
	br.Jar = e.browser().Jar

	res, body := e.open(br, http.MethodGet, oidc.LoginPath+"?id="+id, nil, "")
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "クッキーが削除された可能性があります") {
		t.Fatalf("after the cookies were deleted: %d\n%s", res.StatusCode, body)
	}
	s.login(br)
}

// The consent form's answers, allow or decline, count only from the
// browser that started the request: from another, the page, and the
// request stays as it was.
func TestConsentBoundToBrowser(t *testing.T) {
	e := newPortal(t)
	const redirect = "http://127.0.0.1:9/third"
	third := &store.Client{Name: "他社アプリ", RedirectURIs: []string{redirect}}
	if _, err := e.provider.CreateClient(context.Background(), third); err != nil {
		t.Fatal(err)
	}
	victim := e.browser()
	newSite(e, "site").login(victim)

	attacker := newJarBrowser()
	id := e.requestIn(attacker, e.srv.URL+"/authorize?"+authParams(third.ID, redirect).Encode())
	for _, decision := range []string{"allow", "deny"} {
		res, body := e.open(victim, http.MethodPost, "/oidc/consent", url.Values{"id": {id}, "decision": {decision}}, "")
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" ||
			!strings.Contains(body, "このブラウザで始まったものではない") {
			t.Errorf("%s from another browser: %d, location %q", decision, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if req, err := e.provider.AuthRequest(context.Background(), id); err != nil || req.SID != "" {
		t.Errorf("the request after the answers: %+v, %v; want it pending", req, err)
	}
	// With the binding (which no other site can give it), the same answer
	// signs the request in: it was the binding that was refused.
	e.plantBinding(attacker, victim)
	res, _ := e.open(victim, http.MethodPost, "/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}}, "")
	if loc, _ := res.Location(); loc == nil || loc.Path != "/authorize/callback" {
		t.Errorf("allow with the binding: %d, location %v; want the callback", res.StatusCode, loc)
	}
}

// A silent request (prompt=none) opened in another browser shows no page
// (OpenID Connect Core 1.0, 3.1.2.1): the client hears login_required with
// its state, and gets no code, though the browser is signed in.
func TestSilentRequestInAnotherBrowser(t *testing.T) {
	e := newPortal(t)
	s := newSite(e, "site")
	victim := e.browser()
	s.login(victim)

	attacker := newJarBrowser()
	id := e.requestIn(attacker, s.authURL("attacker", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none")))
	back, visited := e.follow(victim, e.srv.URL+oidc.LoginPath+"?id="+id)
	if back == nil {
		t.Fatalf("the browser stayed on the portal: %v", visited)
	}
	if q := back.Query(); q.Get("error") != "login_required" || q.Get("state") != "attacker" || q.Get("code") != "" {
		t.Errorf("sent to %s, want login_required with the request's state", back)
	}
	// In its own browser, signed in, a silent request gets its code.
	s.sso(victim, oauth2.SetAuthURLParam("prompt", "none"))
}

// A request stored before the binding was kept (or by a node not yet
// upgraded) has none, and any browser goes on with it, for what is left of
// its lifetime.
func TestUnboundRequestGoesOn(t *testing.T) {
	e := newPortal(t)
	s := newSite(e, "site")
	br := e.browser()
	s.login(br)
	now := e.clock.Now()
	if err := e.db.CreateAuthRequest(context.Background(), &store.AuthRequest{ID: "before-0027", ClientID: s.c.ID,
		RedirectURI: s.redirect, State: "old", Scopes: []string{"openid"}, ResponseType: "code", MaxAge: -1,
		CreatedAt: now, ExpiresAt: now.Add(oidc.AuthRequestLifetime)}); err != nil {
		t.Fatal(err)
	}
	back, visited := e.follow(br, e.srv.URL+oidc.LoginPath+"?id=before-0027")
	if back == nil || back.Query().Get("code") == "" || back.Query().Get("state") != "old" {
		t.Errorf("an unbound request: sent to %v (visited %v), want a code", back, visited)
	}
}

// Over HTTPS the binding cookie carries the __Host- prefix, as the
// portal's other cookies do, and is Secure: no subdomain or plain-HTTP page
// can plant one, and the request's pages read it under that name.
func TestBindingCookieOverHTTPS(t *testing.T) {
	e := newPortal(t)
	e.cfg.BaseURL = "https://portal.example.jp"
	e.restart(true)
	const redirect = "https://shop.example.jp/cb"
	c := &store.Client{Name: "shop", RedirectURIs: []string{redirect}, FirstParty: true}
	if _, err := e.provider.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	serve := func(path string, cookie *http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://portal.example.jp"+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		e.handler.Load().(handlerBox).ServeHTTP(rec, req)
		return rec
	}
	rec := serve("/authorize?"+authParams(c.ID, redirect).Encode(), nil)
	loc, _ := rec.Result().Location()
	var set *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "__Host-tobira_oidc_browser" {
			set = ck
		}
	}
	if loc == nil || loc.Path != oidc.LoginPath || set == nil || !set.Secure || !set.HttpOnly ||
		set.SameSite != http.SameSiteLaxMode || set.Path != "/" || set.Domain != "" {
		t.Fatalf("authorize: location %v, cookie %+v; want __Host-tobira_oidc_browser, Secure, HttpOnly, SameSite=Lax, Path=/", loc, set)
	}
	lure := loc.RequestURI()
	// The sign-in page reads it under that name: it goes on to the
	// sign-in; without it, or under the plain name, the page says no.
	if rec := serve(lure, set); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login?") {
		t.Errorf("with the cookie: %d, location %q; want the sign-in page", rec.Code, rec.Header().Get("Location"))
	}
	for _, ck := range []*http.Cookie{nil, {Name: "tobira_oidc_browser", Value: set.Value}} {
		if rec := serve(lure, ck); rec.Code != http.StatusBadRequest {
			t.Errorf("with %v: %d, want the page", ck, rec.Code)
		}
	}
}

// The page's link back goes to the site as マイページ lists it, when one is
// on the origin of the client's redirect URI: its top page, by its name in
// the page's language.
func TestOtherBrowserLinksListedSite(t *testing.T) {
	e := newPortal(t)
	e.cfg.SiteLinks = []config.SiteLink{{Name: "申込サイト", NameEn: "Applications", URL: "http://127.0.0.1:9/top"}}
	e.restart(true)
	s := newSite(e, "b")
	id := e.requestIn(newJarBrowser(), s.authURL("st", oauth2.GenerateVerifier()))
	for lang, want := range map[string]string{"ja": "「申込サイト」に戻る", "en": "Back to “Applications”"} {
		_, body := e.open(e.browser(), http.MethodGet, oidc.LoginPath+"?id="+id, nil, lang)
		if !strings.Contains(body, want) || !strings.Contains(body, `href="http://127.0.0.1:9/top"`) {
			t.Errorf("%s: the page lacks %q to the site's top page", lang, want)
		}
	}
}

// A site's page may send its authorization request as a form (POST), which
// the portal takes from any origin. The browser withholds the binding
// cookie (SameSite=Lax) from a cross-site POST though it has one, but
// keeps a cookie the answer sets: the request must not give the browser a
// new value, which would leave the requests of its other tabs bound to
// one it no longer has (and any page could so spoil a customer's sign-in
// in progress). It goes on by GET, which carries the cookie.
func TestCrossSitePostKeepsBinding(t *testing.T) {
	e := newPortal(t)
	a, b := newSite(e, "a"), newSite(e, "b")
	br := e.browser()
	va, vb := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	idA := e.requestIn(br, a.authURL("tab-a", va))
	before := e.bindingCookie(br)

	// b's page posts its request: no cookie of the portal's goes with it.
	au, _ := url.Parse(b.authURL("tab-b", vb))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/authorize", strings.NewReader(au.Query().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	crossSite(req, "http://127.0.0.1:9", "navigate")
	res, err := noFollow(&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	portalURL, _ := url.Parse(e.srv.URL)
	br.Jar.SetCookies(portalURL, res.Cookies())
	if c := e.bindingCookie(br); c == nil || c.Value != before.Value {
		t.Errorf("after a cross-site POST the binding cookie is %+v, want the browser's own", c)
	}
	loc, err := res.Location()
	if err != nil {
		t.Fatalf("POST /authorize: %d, no redirect", res.StatusCode)
	}

	// The first tab signs in; the posted request then goes on in the
	// same browser.
	back, at := e.trySignIn(br, e.srv.URL+oidc.LoginPath+"?id="+idA)
	if back == nil {
		t.Fatalf("the first tab stayed at %s", at)
	}
	a.verify(a.exchange(a.codeFrom(back, "tab-a"), va))
	back, visited := e.follow(br, loc.String())
	if back == nil {
		t.Fatalf("the posted request stayed on the portal: %v", visited)
	}
	b.verify(b.exchange(b.codeFrom(back, "tab-b"), vb))
}
