package console_test

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestSitesPage: every operator sees the registered sites with where they
// send customers back and whether they hear of a sign-out, and no secret.
func TestSitesPage(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))

	if resp, body := kim.get("/sites"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "連携サイトはまだ登録されていません。") {
		t.Fatalf("GET /sites with no site: %d\n%s", resp.StatusCode, body)
	}

	ctx := t.Context()
	invoices := &store.Client{ID: "invoices", SecretHash: "hash-that-must-not-show", Name: "適格請求書閲覧サイト",
		RedirectURIs: []string{"https://invoice.example.jp/callback"}, BackchannelLogoutURI: "https://invoice.example.jp/logout/back",
		PostLogoutRedirectURIs: []string{"https://invoice.example.jp/"}, FirstParty: true, CreatedAt: s.clock.Now()}
	app := &store.Client{ID: "partner-app", Name: "<partner> & co", Public: true,
		RedirectURIs: []string{"http://127.0.0.1:7000/cb", "com.example.app:/cb"}, CreatedAt: s.clock.Now()}
	for _, c := range []*store.Client{invoices, app} {
		if err := s.db.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	resp, body := kim.get("/sites")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sites: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`<a href="/sites" aria-current="page">連携サイト</a>`,
		"適格請求書閲覧サイト", "<code>invoices</code>", "機密クライアント", "省略（自社サイト）", "通知あり",
		"https://invoice.example.jp/callback", "https://invoice.example.jp/logout/back", "ログアウト後の戻り先",
		html.EscapeString("<partner> & co"), "公開クライアント（PKCE）", "通知なし",
		"http://127.0.0.1:7000/cb", "com.example.app:/cb", "tobira clients",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the sites page lacks %q", want)
		}
	}
	if strings.Contains(body, "hash-that-must-not-show") || strings.Contains(body, "<partner>") {
		t.Errorf("the sites page shows a secret's hash or an unescaped name:\n%s", body)
	}

	// Signed out, the page is not shown.
	if resp, body := s.browser().get("/sites"); resp.Request.URL.Path != "/login" || strings.Contains(body, "invoices") {
		t.Errorf("GET /sites signed out: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
}
