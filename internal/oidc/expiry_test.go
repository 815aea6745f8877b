package oidc_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/oidc"
)

// expiredAtCode starts a site's sign-in in browser b and leaves it at the
// code screen past flow_ttl, as a browser does: with the flow cookie
// dropped at its Max-Age. The code sent then lands on the login page that
// says the sign-in expired, which goes on to the site's request; its
// address is returned.
func (e *portalEnv) expiredAtCode(b *http.Client, authURL string) *url.URL {
	e.t.Helper()
	e.clock.Advance(mfa.Period * time.Second)
	res := e.must(b.Get(authURL))
	next := res.Request.URL.Query().Get("next")
	if res.Request.URL.Path != "/login" || !strings.HasPrefix(next, oidc.LoginPath+"?id=") {
		e.t.Fatalf("authorize led to %s, want the login page for the request", res.Request.URL)
	}
	res = e.must(b.PostForm(e.srv.URL+"/login", url.Values{"email": {e.email}, "password": {e.password}, "next": {next}}))
	if res.Request.URL.Path != "/login/code" {
		e.t.Fatalf("after the password: %s", res.Request.URL)
	}
	e.clock.Advance(e.cfg.FlowTTL.Duration + time.Minute)
	u, _ := url.Parse(e.srv.URL)
	b.Jar.SetCookies(u, []*http.Cookie{{Name: "tobira_flow", Path: "/", MaxAge: -1}})
	code, _ := mfa.TOTPCode(e.seed, e.clock.Now())
	res = e.must(b.PostForm(e.srv.URL+"/login/code", url.Values{"code": {code}}))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/login" || res.Request.URL.Query().Get("e") != "expired" ||
		res.Request.URL.Query().Get("next") != next || !strings.Contains(string(body), "ログインの有効期限が切れました。") {
		e.t.Fatalf("the expired sign-in's code led to %d %s, want the login page saying so, on to %s", res.StatusCode, res.Request.URL, next)
	}
	return res.Request.URL
}

func (e *portalEnv) must(res *http.Response, err error) *http.Response {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { res.Body.Close() })
	return res
}

// TestExpiredSignInReturnsToTheSite: a customer sent from a site to sign
// in, who leaves the code screen past flow_ttl, is told on the login page
// that the sign-in expired, and the sign-in there goes back to the site's
// request, which the site then completes; not to マイページ. (The browser
// tests cannot move the demo's clock, so this is where the journey is
// covered.)
func TestExpiredSignInReturnsToTheSite(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "invoices")
	b := e.browser()
	verifier := oauth2.GenerateVerifier()
	login := e.expiredAtCode(b, site.authURL("st-1", verifier))

	back := e.signIn(b, login.String())
	tok := site.exchange(site.codeFrom(back, "st-1"), verifier)
	if _, claims := site.verify(tok); claims.Nonce != "nonce-st-1" {
		t.Errorf("ID token claims %+v", claims)
	}
}

// TestExpiredSignInSiteRequestExpiredToo: when the site's request has
// expired as well by the time the customer signs in again, the sign-in
// ends at the page that says so and to start again from the site.
func TestExpiredSignInSiteRequestExpiredToo(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "invoices")
	b := e.browser()
	login := e.expiredAtCode(b, site.authURL("st-2", oauth2.GenerateVerifier()))
	e.clock.Advance(e.provider.RequestTTL())

	e.clock.Advance(mfa.Period * time.Second)
	res := e.must(b.PostForm(e.srv.URL+"/login", url.Values{"email": {e.email}, "password": {e.password}, "next": {login.Query().Get("next")}}))
	code, _ := mfa.TOTPCode(e.seed, e.clock.Now())
	res = e.must(b.PostForm(e.srv.URL+"/login/code", url.Values{"code": {code}}))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadRequest || res.Request.URL.Path != oidc.LoginPath ||
		!strings.Contains(string(body), "ログインの要求が無効か、有効期限が切れました。ご利用のサイトからもう一度お試しください。") {
		t.Fatalf("got %d at %s, want the page that says to start again from the site", res.StatusCode, res.Request.URL)
	}
}
