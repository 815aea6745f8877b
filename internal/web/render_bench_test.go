package web

import (
	"net/http/httptest"
	"testing"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// BenchmarkRender renders the pages of a sign-in: the login page, the page
// asking for the code, and the landing page.
func BenchmarkRender(b *testing.B) {
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		b.Fatal(err)
	}
	pages, err := webkit.ParsePages(templateFS, staticFS, msgs, pageNames...)
	if err != nil {
		b.Fatal(err)
	}
	user := &store.Account{Name: "佐藤 花子", Email: "sato@example.jp"}
	views := []struct {
		page string
		v    *view
	}{
		{"login", &view{Lang: "ja", Title: "login.title", Path: "/login", msgs: msgs, Data: loginData{Next: "/"}}},
		{"mfa", &view{Lang: "ja", Title: "mfa.title", Path: "/login/code", msgs: msgs, Data: struct{ StepUp bool }{}}},
		// マイページ with the two sites the demo lists, as home gives them.
		{"home", &view{Lang: "ja", Title: "home.title", Path: "/", User: user, msgs: msgs, Data: homeData{Sites: []siteLink{
			{"申込／契約確認サイト", "https://contracts.example.jp/"}, {"適格請求書閲覧サイト", "https://invoices.example.jp/"},
		}}}},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range views {
			if err := pages.Render(httptest.NewRecorder(), 200, p.v.Lang, p.page, p.v); err != nil {
				b.Fatal(err)
			}
		}
	}
}
