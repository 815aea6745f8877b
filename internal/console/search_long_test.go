package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestSearchTooLongRefused: a search longer than the field allows (a
// pasted text, an edited address) is refused with a message in the
// operator's language, the field named and holding its start to shorten,
// where it was cut silently and the cut text searched: the customer whose
// address came after the cut was not found, and nothing said why.
func TestSearchTooLongRefused(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	s.customerWithFactor("yamada@example.jp")
	within := strings.Repeat("山", 199) + "田"
	long := strings.Repeat("あ", 200) + " yamada@example.jp"
	for _, c := range []struct {
		lang, want string
	}{
		{"ja", "検索語は200文字以内で入力してください。検索していません。"},
		{"en", "Enter at most 200 characters to search for. Nothing was searched."},
	} {
		resp, body := kim.do("GET", "/customers?q="+url.QueryEscape(long), nil, "Accept-Language", c.lang)
		if resp.StatusCode != http.StatusBadRequest || alert(body) != c.want {
			t.Errorf("%s: a search of %d characters: %d, alert %q, want 400 with %q", c.lang, len([]rune(long)), resp.StatusCode, alert(body), c.want)
		}
		tag := inputTag(body, "q")
		if !strings.Contains(tag, `aria-invalid="true"`) || !strings.Contains(tag, `aria-describedby="form-error q-help"`) ||
			!strings.Contains(tag, `maxlength="200"`) || !strings.Contains(tag, `value="`+html.EscapeString(strings.Repeat("あ", 200))+`"`) {
			t.Errorf("%s: the search field after the refusal: %s", c.lang, tag)
		}
		if strings.Contains(body, "<h2>") || strings.Contains(body, "yamada@example.jp</a>") {
			t.Errorf("%s: a refused search lists results:\n%s", c.lang, body)
		}
	}
	// Up to the limit, and with spaces around it, it searches.
	for _, q := range []string{within, "  " + within + "  ", "  yamada@example.jp  "} {
		if resp, body := kim.get("/customers?q=" + url.QueryEscape(q)); resp.StatusCode != http.StatusOK || alert(body) != "" ||
			strings.Contains(inputTag(body, "q"), "aria-invalid") {
			t.Errorf("a search of %d characters: %d, alert %q", len([]rune(q)), resp.StatusCode, alert(body))
		}
	}
}
