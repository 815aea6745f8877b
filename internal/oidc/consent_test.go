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

	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/store"
)

// A third-party client is allowed only what the customer agrees to, once;
// a first-party one (the customer sites) is never asked.
func TestConsent(t *testing.T) {
	e := newPortal(t)
	ctx := context.Background()
	const redirect = "http://127.0.0.1:9/third-party"
	c := &store.Client{Name: "他社アプリ", RedirectURIs: []string{redirect}}
	clientSecret, err := e.provider.CreateClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	op, err := gooidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: clientSecret, Endpoint: op.Endpoint(), RedirectURL: redirect,
		Scopes: []string{gooidc.ScopeOpenID, "email"}}
	b := e.browser()

	// First time: after the sign-in, the consent page names the client and
	// what it asks for.
	e.clock.Advance(mfa.Period * time.Second)
	consent := func(state string) *http.Response {
		res, err := b.Get(conf.AuthCodeURL(state))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := consent("s1")
	res.Body.Close()
	if res.Request.URL.Path != "/login" {
		t.Fatalf("authorize led to %s", res.Request.URL)
	}
	next := res.Request.URL.Query().Get("next")
	res, _ = b.PostForm(e.srv.URL+"/login", url.Values{"email": {e.email}, "password": {e.password}, "next": {next}})
	res.Body.Close()
	code, _ := mfa.TOTPCode(e.seed, e.clock.Now())
	res, err = b.PostForm(e.srv.URL+"/login/code", url.Values{"code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"アクセスの許可", "他社アプリ", "メールアドレス", "許可する", "拒否する"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	id := res.Request.URL.Query().Get("id")

	// Declined: the client hears access_denied, with its state.
	res, err = b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {id}, "decision": {"deny"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "s1" {
		t.Fatalf("declined: %v %v", loc, err)
	}

	// Allowed: a code; and the next time, no consent page.
	res = consent("s2")
	res.Body.Close()
	res, err = b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {res.Request.URL.Query().Get("id")}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, err := res.Location(); err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("allowed: %v %v", loc, err)
	}
	res = consent("s3")
	res.Body.Close()
	if loc, err := res.Location(); err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s3" {
		t.Fatalf("second time: %v %v (status %d at %s)", loc, err, res.StatusCode, res.Request.URL)
	}
	// Asking for more asks again.
	conf.Scopes = append(conf.Scopes, "profile")
	res = consent("s4")
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/oidc/login" {
		t.Fatalf("more scopes: status %d at %s, want the consent page", res.StatusCode, res.Request.URL)
	}

	// prompt=consent asks again, though everything asked was allowed
	// (OpenID Connect Core 1.0, 3.1.2.1).
	res, err = b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {res.Request.URL.Query().Get("id")}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = b.Get(conf.AuthCodeURL("s5", oauth2.SetAuthURLParam("prompt", "consent")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/oidc/login" || !strings.Contains(string(body), "許可する") {
		t.Fatalf("prompt=consent: status %d at %s, want the consent page", res.StatusCode, res.Request.URL)
	}
	res = consent("s6")
	res.Body.Close()
	if loc, _ := res.Location(); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("without prompt=consent: at %s, want a code", res.Request.URL)
	}
}

// The consent answered after a sign-out in another tab changes nothing and
// sends the browser to sign in, then back to the request, which asks
// again: the form's own address has no page to come back to.
func TestConsentAfterSignOut(t *testing.T) {
	e := newPortal(t)
	ctx := context.Background()
	const redirect = "http://127.0.0.1:9/third-party"
	c := &store.Client{Name: "他社アプリ", RedirectURIs: []string{redirect}}
	clientSecret, err := e.provider.CreateClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	op, err := gooidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: clientSecret, Endpoint: op.Endpoint(), RedirectURL: redirect,
		Scopes: []string{gooidc.ScopeOpenID, "email"}}
	b := e.browser()
	signIn := func(next string) *http.Response {
		t.Helper()
		e.clock.Advance(mfa.Period * time.Second)
		res, _ := b.PostForm(e.srv.URL+"/login", url.Values{"email": {e.email}, "password": {e.password}, "next": {next}})
		res.Body.Close()
		code, _ := mfa.TOTPCode(e.seed, e.clock.Now())
		res, err := b.PostForm(e.srv.URL+"/login/code", url.Values{"code": {code}})
		if err != nil {
			t.Fatal(err)
		}
		return res // its body for the caller to read and close
	}
	res, err := b.Get(conf.AuthCodeURL("s1"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res = signIn(res.Request.URL.Query().Get("next"))
	res.Body.Close()
	id := res.Request.URL.Query().Get("id")
	if res.Request.URL.Path != "/oidc/login" || id == "" {
		t.Fatalf("after the sign-in: at %s, want the consent page", res.Request.URL)
	}
	// Another tab signs out.
	res, _ = b.PostForm(e.srv.URL+"/logout", url.Values{})
	res.Body.Close()

	res, err = b.PostForm(e.srv.URL+"/oidc/consent", url.Values{"id": {id}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	next := res.Request.URL.Query().Get("next")
	if res.Request.URL.Path != "/login" || next != "/oidc/login?id="+id {
		t.Fatalf("consent signed out: at %s, want the login page coming back to the request", res.Request.URL)
	}
	if granted, err := e.db.ConsentOf(ctx, e.accountID, c.ID); err != nil || len(granted) != 0 {
		t.Errorf("consent kept while signed out: %v, %v", granted, err)
	}
	res = signIn(next)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Request.URL.Path != "/oidc/login" || !strings.Contains(string(body), "許可する") {
		t.Errorf("signed in again: at %s, want the consent page", res.Request.URL)
	}
}
