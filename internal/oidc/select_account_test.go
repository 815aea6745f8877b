package oidc_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
)

var selectAccount = oauth2.SetAuthURLParam("prompt", "select_account")

// selectPage opens a prompt=select_account request in the signed-in
// browser b and returns the request's id and the page it stopped on,
// which must be the account chooser: no code is issued yet.
func (e *portalEnv) selectPage(b *http.Client, r *rp, state, verifier string) (id, body string) {
	e.t.Helper()
	e.clock.Advance(time.Second) // the session was signed in before the request
	back, visited := e.follow(b, r.authURL(state, verifier, selectAccount))
	if back != nil {
		e.t.Fatalf("prompt=select_account went on without asking: sent to %s (visited %v)", back, visited)
	}
	last, _ := url.Parse(visited[len(visited)-1])
	if last.Path != oidc.LoginPath {
		e.t.Fatalf("prompt=select_account stopped at %s, want the account chooser", last)
	}
	res, body := e.get(b, e.srv.URL+last.RequestURI(), "Accept-Language", "ja")
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("the account chooser: %d", res.StatusCode)
	}
	return last.Query().Get("id"), body
}

// Without a portal session, prompt=select_account is an ordinary sign-in,
// and the code goes to the site.
func TestSelectAccountWithoutSessionSignsIn(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier, selectAccount)), "st")
	_, claims := site.verify(site.exchange(code, verifier))
	if claims.Subject != e.accountID {
		t.Errorf("signed in as %s, want %s", claims.Subject, e.accountID)
	}
}

// A browser signed in is asked 「このアカウントで続けますか？」 with its
// account's name and email; 「続ける」 (a same-origin form: a cross-site
// post is refused and changes nothing) sends the code to the site.
// Regression: the request went on silently with the session.
func TestSelectAccountContinues(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	b := e.browser()
	site.login(b)

	verifier := oauth2.GenerateVerifier()
	id, body := e.selectPage(b, site, "st", verifier)
	for _, want := range []string{"このアカウントで続けますか？", "山田 太郎", e.email, "続ける", "別のアカウントでログイン",
		`action="/oidc/select"`, "/oidc/switch?id=" + id} {
		if !strings.Contains(body, want) {
			t.Errorf("the account chooser lacks %q", want)
		}
	}
	form := url.Values{"id": {id}, "account": {e.accountID}}

	// Another site's page posting the form is refused; the request waits.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oidc/select", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	crossSite(req, "https://evil.example", "navigate")
	res, err := noFollow(b).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site 「続ける」: %d, want 403", res.StatusCode)
	}
	if r, err := e.provider.AuthRequest(t.Context(), id); err != nil || r.SID != "" {
		t.Fatalf("after a cross-site 「続ける」 the request is %+v, %v; want it open", r, err)
	}

	// 「続ける」 for an account the browser is no longer signed in as asks
	// again.
	res, err = noFollow(b).PostForm(e.srv.URL+"/oidc/select", url.Values{"id": {id}, "account": {"someone-else"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc == nil || loc.Path != oidc.LoginPath {
		t.Errorf("「続ける」 for another account: %d to %v, want the chooser again", res.StatusCode, loc)
	}

	res, err = noFollow(b).PostForm(e.srv.URL+"/oidc/select", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		t.Fatalf("「続ける」: %d, no redirect", res.StatusCode)
	}
	back, visited := e.follow(b, loc.String())
	code := site.codeFrom(back, "st")
	for _, p := range visited {
		if strings.HasPrefix(p, "/login") {
			t.Errorf("「続ける」 showed %s", p)
		}
	}
	_, claims := site.verify(site.exchange(code, verifier))
	if claims.Subject != e.accountID {
		t.Errorf("signed in as %s, want %s", claims.Subject, e.accountID)
	}
}

// 「別のアカウントでログイン」 asks first (the page changes nothing), then
// signs the browser out and starts the sign-in again, which comes back to
// the same request: another customer signs in there, and the site gets
// her code.
func TestSelectAccountSwitches(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	b := e.browser()
	first := site.login(b)

	verifier := oauth2.GenerateVerifier()
	id, _ := e.selectPage(b, site, "st", verifier)
	res, body := e.get(b, e.srv.URL+"/oidc/switch?id="+url.QueryEscape(id), "Accept-Language", "ja")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("「別のアカウントでログイン」: %d", res.StatusCode)
	}
	then := oidc.LoginPath + "?id=" + url.QueryEscape(id)
	for _, want := range []string{"別のアカウントでログインしますか？", e.email, `action="/logout"`, `value="` + then + `"`} {
		if !strings.Contains(body, strings.ReplaceAll(want, "&", "&amp;")) {
			t.Errorf("the confirmation lacks %q", want)
		}
	}
	if status, _ := e.userinfo(first.AccessToken); status != http.StatusOK {
		t.Fatalf("showing the confirmation signed out: userinfo %d", status)
	}

	// Confirmed: signed out, and on to the request's sign-in.
	res, err := noFollow(b).PostForm(e.srv.URL+"/logout", url.Values{"next": {then}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	loc, err := res.Location()
	if err != nil || loc.RequestURI() != then {
		t.Fatalf("the confirmed sign-out: %d to %v, want %s", res.StatusCode, loc, then)
	}
	if status, _ := e.userinfo(first.AccessToken); !refusedToken(status) {
		t.Errorf("after switching accounts the first customer's site session lives: %d", status)
	}
	sato := e.signInAsSato()
	back, _ := e.trySignIn(b, e.srv.URL+then)
	code := site.codeFrom(back, "st")
	_, claims := site.verify(site.exchange(code, verifier))
	if claims.Subject != sato {
		t.Errorf("signed in as %s, want the other account %s", claims.Subject, sato)
	}
}
