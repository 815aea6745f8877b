package console_test

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

var backLink = regexp.MustCompile(`<a class="line-link" href="([^"]*)">← 検索に戻る</a>`)

// TestCustomerBackToSearch: 「← 検索に戻る」 on a customer's page opened from
// the search's results goes back to that search, where it went to an
// empty search page; opened from elsewhere, to the search page.
func TestCustomerBackToSearch(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	const q = "山田 太郎"
	_, body := kim.get("/customers?q=" + url.QueryEscape(q))
	m := regexp.MustCompile(`<a href="(/customers/` + a.ID + `[^"]*)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no result for %q:\n%s", q, body)
	}
	resp, body := kim.get(html.UnescapeString(m[1]))
	if resp.Request.URL.Path != "/customers/"+a.ID {
		t.Fatalf("the result's link went to %s", resp.Request.URL)
	}
	back := backLink.FindStringSubmatch(body)
	if back == nil {
		t.Fatalf("no way back on the customer's page:\n%s", body)
	}
	resp, body = kim.get(html.UnescapeString(back[1]))
	if resp.Request.URL.Query().Get("q") != q || !strings.Contains(body, "yamada@example.jp") {
		t.Errorf("「検索に戻る」 went to %s, want the search for %q with its result", resp.Request.URL, q)
	}
	// From elsewhere (the resets page, a link), it goes to the search page.
	_, body = kim.get("/customers/" + a.ID)
	if back := backLink.FindStringSubmatch(body); back == nil || back[1] != "/customers" {
		t.Errorf("「検索に戻る」 without a search: %q", back)
	}
}
