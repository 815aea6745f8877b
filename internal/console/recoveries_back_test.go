package console_test

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

var recoveryLink = regexp.MustCompile(`<a class="line-link" href="(/recoveries[^"]*)">`)

// TestRecoveriesBackToCustomer: the recoveries page opened from a
// customer's page (its link to the request's row) leads back to that page,
// with the search it was opened from, where it had no way back; opened
// from the menu, or with a from that names no customer's page, it has no
// such link.
func TestRecoveriesBackToCustomer(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	s.waitingRecovery("rec-1", a)
	page := "/customers/" + a.ID + "?q=" + url.QueryEscape("山田 太郎&x")
	_, body := kim.get(page)
	m := recoveryLink.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the customer's page has no link to the recoveries page:\n%s", body)
	}
	link := html.UnescapeString(m[1])
	for lang, label := range map[string]string{"ja": "← 顧客に戻る", "en": "← Back to the customer"} {
		_, list := kim.do("GET", link, nil, "Accept-Language", lang)
		back := regexp.MustCompile(`<a class="line-link" href="([^"]*)">` + label + `</a>`).FindStringSubmatch(list)
		if back == nil || html.UnescapeString(back[1]) != page || !strings.Contains(list, `<tr id="recovery-rec-1">`) {
			t.Errorf("%s: the recoveries page opened from %s has no %q back to %s:\n%s", lang, link, label, page, list)
		}
	}
	for _, u := range []string{"/recoveries", "/recoveries?from=%2F%2Fevil.example%2Fcustomers%2Fx",
		"/recoveries?from=%2Fcustomers%2F..", "/recoveries?from=%2Fcustomers%2Fnew", "/recoveries?from=%2Foperators",
		"/recoveries?from=https%3A%2F%2Fevil.example%2F", "/recoveries?from=%2Fcustomers%2Fx%2Flock"} {
		if _, list := kim.get(u); strings.Contains(list, "顧客に戻る") {
			t.Errorf("%s: a way back to a customer's page", u)
		}
	}
}
