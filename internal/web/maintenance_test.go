package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
	"github.com/tobira/tobira/internal/web"
)

var _ web.Noticer = testkit.Noticer{}

// portalWith is the portal's handler built with opts, support as its
// support page.
func portalWith(t *testing.T, support string, opts ...web.Option) http.Handler {
	t.Helper()
	cfg := testkit.Config(t, func(c *config.Config) { c.SupportURL = support })
	db, err := sqlstore.OpenSQLite(cfg.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := web.New(portal.New(db, keys, cfg, log), log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var banner = regexp.MustCompile(`(?s)<div class="maintenance" role="status">.*?</div>`)

func get(t *testing.T, h http.Handler, path, lang string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if lang != "" {
		r.Header.Set("Accept-Language", lang)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestMaintenanceBanner(t *testing.T) {
	const support = "https://support.example.jp/maintenance"
	h := portalWith(t, support, web.WithMaintenance(testkit.Noticer{}))
	for _, tc := range []struct {
		path, lang string
		code       int
		want       []string
	}{
		{"/login", "", http.StatusOK, []string{"メンテナンスのお知らせ: 2026年6月1日 2:00〜5:00 (日本時間)", "詳しくはサポートページをご覧ください"}},
		{"/login", "en-US,en;q=0.9", http.StatusOK, []string{"Maintenance notice: the service will be unavailable on 1 June 2026", "Details on the support page"}},
		{"/forgot", "en", http.StatusOK, []string{"Maintenance notice:"}},
		{"/nowhere", "", http.StatusNotFound, []string{"メンテナンスのお知らせ:"}},
	} {
		name := tc.path + " " + tc.lang
		code, body := get(t, h, tc.path, tc.lang)
		if code != tc.code {
			t.Errorf("%s: %d, want %d", name, code, tc.code)
		}
		b := banner.FindString(body)
		if b == "" {
			t.Errorf("%s: no banner", name)
			continue
		}
		for _, want := range append(tc.want, `<a href="`+support+`">`, `aria-hidden="true"`) {
			if !strings.Contains(b, want) {
				t.Errorf("%s: no %q in the banner %s", name, want, b)
			}
		}
		// At the top of the page: before the header, outside main.
		if strings.Index(body, b) > strings.Index(body, "<header") {
			t.Errorf("%s: the banner is not at the top of the page", name)
		}
	}

	// No link without a support page.
	_, body := get(t, portalWith(t, "", web.WithMaintenance(testkit.Noticer{})), "/login", "")
	if b := banner.FindString(body); b == "" || strings.Contains(b, "<a ") {
		t.Errorf("no support URL: banner %q", b)
	}

	// No banner without a window, or without a schedule.
	for name, h := range map[string]http.Handler{
		"no window":   portalWith(t, support, web.WithMaintenance(testkit.Noticer{None: true})),
		"no schedule": portalWith(t, support),
	} {
		code, body := get(t, h, "/login", "")
		if code != http.StatusOK || strings.Contains(body, `class="maintenance"`) || strings.Contains(body, "メンテナンス") {
			t.Errorf("%s: %d, banner shown", name, code)
		}
	}
}

// TestForPrograms: the provider's endpoints for programs, which a
// maintenance window answers in JSON, and none of the browser's.
func TestForPrograms(t *testing.T) {
	for path, want := range map[string]bool{
		"/oauth/token": true, "/oauth/introspect": true, "/revoke": true, "/userinfo": true, "/keys": true,
		"/.well-known/openid-configuration": true,
		"/authorize":                        false, "/authorize/callback": false, "/end_session": false, "/login": false, "/security": false, "/": false,
	} {
		if got := web.ForPrograms(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("ForPrograms(%s) = %v, want %v", path, got, want)
		}
	}
}
