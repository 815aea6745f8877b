package oidc_test

import (
	"html"
	"io"
	"net/http"
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
