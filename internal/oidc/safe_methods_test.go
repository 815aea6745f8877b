package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// storedRequests removes every authorization request stored and says how
// many there were.
func (e *portalEnv) storedRequests() int64 {
	e.t.Helper()
	n, err := e.db.DeleteExpiredAuthRequests(e.t.Context(), e.clock.Now().Add(24*365*time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// refused fails the test unless res is a 405 whose Allow is allow.
func (e *portalEnv) refused(what string, res *http.Response, allow string) {
	e.t.Helper()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != allow {
		e.t.Errorf("%s: %d, Allow %q; want 405 with Allow %q", what, res.StatusCode, res.Header.Get("Allow"), allow)
	}
}

// The provider's pages that act for a browser (/authorize stores a
// request, /oidc/login signs it in or ends it, /authorize/callback issues
// a code, /end_session signs out) refuse HEAD, 405 with Allow, and change
// nothing; /authorize and its callback refuse any method but GET and POST.
// Regression: a HEAD reached the GET's handler (the mux routes HEAD to a
// GET pattern; /authorize took every method), so that each HEAD probe or
// link prefetch of a site's sign-in link stored a request, and a HEAD of
// an end_session link with the session's hint signed the customer out.
func TestSafeMethodsChangeNothing(t *testing.T) {
	e := newPortal(t)
	site := newSite(e, "site")
	b := e.browser()
	tok := site.login(b)
	e.storedRequests()

	verifier := oauth2.GenerateVerifier()
	authPath := strings.TrimPrefix(site.authURL("st", verifier), e.srv.URL)
	for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions} {
		fresh := e.browser()
		res, _ := e.open(fresh, method, authPath, nil, "")
		e.refused(method+" /authorize", res, "GET, POST")
		if e.bindingCookie(fresh) != nil {
			t.Errorf("%s /authorize set the binding cookie", method)
		}
		res, _ = e.open(b, method, authPath, nil, "")
		e.refused(method+" /authorize in a signed-in browser", res, "GET, POST")
	}
	if n := e.storedRequests(); n != 0 {
		t.Errorf("/authorize with other methods than GET and POST stored %d requests, want none", n)
	}

	// A request of the signed-in browser: a HEAD of its sign-in page
	// neither signs it in nor ends it.
	id := e.requestIn(b, site.authURL("st", verifier))
	res, _ := e.open(b, http.MethodHead, "/oidc/login?id="+url.QueryEscape(id), nil, "")
	e.refused("HEAD /oidc/login", res, "GET")
	req, err := e.provider.AuthRequest(t.Context(), id)
	if err != nil {
		t.Fatalf("the request after a HEAD of its sign-in page: %v", err)
	}
	if req.SID != "" {
		t.Error("a HEAD of the sign-in page signed the request in")
	}
	res, _ = e.open(b, http.MethodPost, "/oidc/login?id="+url.QueryEscape(id), url.Values{}, "")
	e.refused("POST /oidc/login", res, "GET")

	// Signed in by its GET, a HEAD of its callback issues no code.
	res, _ = e.open(b, http.MethodGet, "/oidc/login?id="+url.QueryEscape(id), nil, "")
	callback, _ := res.Location()
	if callback == nil || callback.Path != "/authorize/callback" {
		t.Fatalf("the sign-in page of a signed-in browser: %d, location %v; want the callback", res.StatusCode, callback)
	}
	for _, method := range []string{http.MethodHead, http.MethodPut} {
		res, _ = e.open(b, method, callback.RequestURI(), nil, "")
		e.refused(method+" /authorize/callback", res, "GET, POST")
	}
	back, _ := e.follow(b, e.srv.URL+callback.RequestURI())
	site.verify(site.exchange(site.codeFrom(back, "st"), verifier))

	// A HEAD of an end_session link with this session's hint signs out
	// nobody; another method's 405 names no HEAD either.
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}
	res, _ = e.open(b, http.MethodHead, "/end_session?"+q.Encode(), nil, "")
	e.refused("HEAD /end_session", res, "GET, POST")
	res, _ = e.open(b, http.MethodDelete, "/end_session?"+q.Encode(), nil, "")
	e.refused("DELETE /end_session", res, "GET, POST")
	if !e.signedIn(b) {
		t.Error("a HEAD of /end_session signed the browser out")
	}
	if status, _ := e.userinfo(tok.AccessToken); status != http.StatusOK {
		t.Errorf("the site's access token after a HEAD of /end_session: %d", status)
	}
	// The GET still signs out.
	if status, _, _ := e.endSessionPage(b, q); status >= 400 || e.signedIn(b) {
		t.Errorf("GET /end_session with the session's hint: %d, signed in %v; want signed out", status, e.signedIn(b))
	}
}
