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
	pages, err := webkit.ParsePages(templateFS, msgs, pageNames...)
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
		{"home", &view{Lang: "ja", Title: "home.title", Path: "/", User: user, msgs: msgs}},
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
