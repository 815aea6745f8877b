package oidc_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// A logout request the portal cannot parse (a malformed escape in its query
// or form, a body over the limit) is the caller's error: a page that says
// the request is wrong, with 400 (413 for the size), that ends nothing.
// The library answered 500 with its own text, which the page replaced but
// not its status.
func TestEndSessionMalformedRequest(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	b := e.browser()
	r.login(b)

	// A browser signed in (the library went on with what it had parsed,
	// to 「ログアウトしました」 with nothing ended) and one that is not
	// (the library's 500).
	for _, client := range []*http.Client{b, e.browser()} {
		for _, tc := range []struct {
			name, method, query, body string
			status                    int
			msg                       string
		}{
			{"query", http.MethodGet, "?state=%zz", "", http.StatusBadRequest, "ご利用のサイトからのログアウトの要求が正しくないため"},
			{"form", http.MethodPost, "", "state=%zz", http.StatusBadRequest, "ご利用のサイトからのログアウトの要求が正しくないため"},
			{"size", http.MethodPost, "", "state=" + strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge, "送信されたデータが大きすぎます。"},
		} {
			req, err := http.NewRequest(tc.method, e.srv.URL+"/end_session"+tc.query, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			res, err := noFollow(client).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.status)
			}
			if !strings.Contains(html.UnescapeString(string(page)), tc.msg) {
				t.Errorf("%s: the page lacks %q:\n%s", tc.name, tc.msg, page)
			}
		}
	}
	if !e.signedIn(b) {
		t.Error("a malformed end_session request ended the portal session")
	}
}

// RP-initiated logout is a GET or a POST: another method (a DELETE with
// this session's hint) ends nothing and is told which methods the page
// takes. And the confirmation speaks the language the site asked for
// (ui_locales), as the sign-in's pages did.
func TestEndSessionMethodsAndLanguage(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	b := e.browser()
	tok := r.login(b)

	hint := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}
	req, err := http.NewRequest(http.MethodDelete, e.srv.URL+"/end_session?"+hint.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := noFollow(b).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if allow := res.Header.Get("Allow"); res.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("DELETE /end_session: %d, Allow %q; want 405 naming GET and POST", res.StatusCode, allow)
	}
	if !e.signedIn(b) {
		t.Fatal("a DELETE of /end_session signed the browser out")
	}

	for lang, want := range map[string]string{"en": "Sign out?", "ja": "ログアウトしますか?", "fr en": "Sign out?"} {
		status, _, body := e.endSessionPage(b, url.Values{"ui_locales": {lang}})
		if status != http.StatusOK || !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("ui_locales %q: %d, the confirmation lacks %q", lang, status, want)
		}
	}
}
