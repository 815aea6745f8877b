package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// tokenCall posts to the token endpoint as r from any goroutine.
func (r *rp) tokenCall(form url.Values) (int, map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, r.e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(r.c.ID), url.QueryEscape(r.secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var m map[string]any
	err = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m, err
}

// race runs n calls at once and returns their answers.
func race(n int, call func() (int, map[string]any, error)) (ok []map[string]any, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, body, err := call()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if status == http.StatusOK {
				ok = append(ok, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, errs
}

// One code sent to the token endpoint several times at once: at most one
// exchange succeeds, and since the code was replayed its tokens are
// revoked.
func TestConcurrentCodeExchange(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect},
		"code_verifier": {verifier}}
	ok, errs := race(4, func() (int, map[string]any, error) { return r.tokenCall(form) })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(ok) > 1 {
		t.Fatalf("%d exchanges of one code succeeded", len(ok))
	}
	for _, body := range ok {
		at, _ := body["access_token"].(string)
		if status, _ := e.userinfo(at); !refusedToken(status) {
			t.Errorf("the replayed code's access token works: %d", status)
		}
		rt, _ := body["refresh_token"].(string)
		if _, err := r.refresh(rt); err == nil {
			t.Error("the replayed code's refresh token works")
		}
	}
}

// One refresh token used several times at once: at most one refresh
// succeeds, and the reuse revokes the grant, the winner's new tokens too.
func TestConcurrentRefresh(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	tok := r.login(e.browser())
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	ok, errs := race(4, func() (int, map[string]any, error) { return r.tokenCall(form) })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(ok) > 1 {
		t.Fatalf("%d refreshes with one token succeeded", len(ok))
	}
	for _, body := range ok {
		rt, _ := body["refresh_token"].(string)
		if _, err := r.refresh(rt); err == nil {
			t.Error("after a concurrent reuse the winner's new refresh token works")
		}
		at, _ := body["access_token"].(string)
		if status, _ := e.userinfo(at); !refusedToken(status) {
			t.Errorf("after a concurrent reuse the winner's access token works: %d", status)
		}
	}
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("after a concurrent reuse the grant's first access token works: %d", status)
	}
}
