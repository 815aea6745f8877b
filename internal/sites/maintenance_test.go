package sites

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/testkit"
)

var banner = regexp.MustCompile(`(?s)<div class="maintenance" role="status">.*?</div>`)

func TestMaintenanceBanner(t *testing.T) {
	e := newEnv(t)
	build := func(d Deps) (contracts, invoices http.Handler) {
		t.Helper()
		d.Store, d.Auth = e.db, e.auth
		c, err := NewContracts(d)
		must(t, err)
		i, err := NewInvoices(d)
		must(t, err)
		return c, i
	}
	const support = "https://support.example.jp/maintenance"
	c, i := build(Deps{Maintenance: testkit.Noticer{}, SupportURL: support})
	for _, tc := range []struct {
		name string
		h    http.Handler
		q    req
		code int
		want []string
	}{
		{"contracts, Japanese", c, req{path: "/", who: "hanako"}, http.StatusOK,
			[]string{"メンテナンスのお知らせ: 2026年6月1日 2:00〜5:00 (日本時間)", "詳しくはサポートページをご覧ください"}},
		{"invoices, English", i, req{path: "/", who: "hanako", lang: "en"}, http.StatusOK,
			[]string{"Maintenance notice: the service will be unavailable on 1 June 2026", "Details on the support page"}},
		{"invoice, English by cookie", i, req{path: "/invoices/nope", who: "hanako", lang: "ja", cookie: "en"}, http.StatusNotFound,
			[]string{"Maintenance notice:"}},
		{"not found, signed out", c, req{path: "/nowhere"}, http.StatusNotFound,
			[]string{"メンテナンスのお知らせ:"}},
	} {
		res := do(t, tc.h, tc.q)
		if res.code != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, res.code, tc.code)
		}
		b := banner.FindString(res.body)
		if b == "" {
			t.Errorf("%s: no banner", tc.name)
			continue
		}
		has(t, tc.name, b, append(tc.want, `<a href="`+support+`">`, `aria-hidden="true"`)...)
		// At the top of the page: before the header, outside main.
		if strings.Index(res.body, b) > strings.Index(res.body, `<header`) {
			t.Errorf("%s: the banner is not at the top of the page", tc.name)
		}
	}

	// No link without a support page.
	c, _ = build(Deps{Maintenance: testkit.Noticer{}})
	res := do(t, c, req{path: "/", who: "hanako"})
	b := banner.FindString(res.body)
	has(t, "no support URL", b, "メンテナンスのお知らせ:")
	lacks(t, "no support URL", b, "<a ")

	// No banner without a window, or without a schedule.
	for name, d := range map[string]Deps{
		"no window":   {Maintenance: testkit.Noticer{None: true}, SupportURL: support},
		"no schedule": {SupportURL: support},
	} {
		c, i := build(d)
		for _, h := range []http.Handler{c, i} {
			res := do(t, h, req{path: "/", who: "hanako"})
			if res.code != http.StatusOK {
				t.Errorf("%s: %d", name, res.code)
			}
			lacks(t, name, res.body, `class="maintenance"`, "メンテナンス")
		}
	}
}
