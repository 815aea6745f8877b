package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// noRedirects is b's client, with its cookies, that stops at a redirect:
// what an action answers, Set-Cookie and all.
func (b *browser) noRedirects() *browser {
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{s: b.s, c: &c}
}

// notice is the page's notice, "" for none.
func notice(body string) string {
	_, after, ok := strings.Cut(body, `<p class="notice" role="status">`)
	if !ok {
		return ""
	}
	text, _, _ := strings.Cut(after, "</p>")
	return text
}

// TestDoneLinkShowsNothing: an address with ?done= (a bookmark, the
// history, a link someone sent) shows the plain page: no notice of an
// action this browser did not take.
func TestDoneLinkShowsNothing(t *testing.T) {
	s := newSite(t)
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	for _, path := range []string{
		"/customers/" + a.ID + "?done=erased", "/customers/" + a.ID + "?done=locked", "/customers/" + a.ID + "?done=reset_approved",
		"/recoveries?done=recovery_approved", "/resets?done=reset_approved", "/maintenance?done=cancelled",
		"/customers?done=password_changed", "/operators?done=operator_disabled",
	} {
		resp, body := boss.get(path)
		if resp.StatusCode != http.StatusOK || notice(body) != "" {
			t.Errorf("%s: %d, notice %q; want the page without one", path, resp.StatusCode, notice(body))
		}
	}
	if _, err := s.db.AccountLockOf(t.Context(), a.ID); err == nil {
		t.Error("a ?done= link locked the customer")
	}
}

// TestNoticeOnceAfterTheAction: an action's page shows its notice once, at
// the page's own address, to the browser that acted; the cookie that
// carries it is HttpOnly, SameSite=Strict, scoped to the page, short-lived,
// and signed, so that one copied from another operator, moved to another
// page, altered or past its time shows nothing.
func TestNoticeOnceAfterTheAction(t *testing.T) {
	s := newSite(t)
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers/" + a.ID
	const locked = "アカウントをロックしました。"

	resp, body := boss.post(page+"/lock", "reason", "盗難の届出")
	if resp.Request.URL.Path != page || resp.Request.URL.RawQuery != "" || notice(body) != locked {
		t.Fatalf("lock: at %s, notice %q; want %s without a query, with %q", resp.Request.URL, notice(body), page, locked)
	}
	if _, body := boss.get(page); notice(body) != "" {
		t.Errorf("the page again: notice %q, want none (once)", notice(body))
	}

	// The cookie, as the action sets it.
	resp, _ = kim.noRedirects().post(page+"/unlock", "confirmed", "1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		t.Fatalf("unlock: %d to %q, want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	var flash *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "tobira_console_notice" {
			flash = c
		}
	}
	if flash == nil || !flash.HttpOnly || flash.SameSite != http.SameSiteStrictMode || flash.Path != page ||
		flash.MaxAge <= 0 || flash.MaxAge > 300 {
		t.Fatalf("the notice's cookie: %+v", flash)
	}
	u, _ := url.Parse(s.srv.URL)
	plant := func(b *browser, c *http.Cookie) {
		b.c.Jar.SetCookies(u, []*http.Cookie{c})
	}
	for _, c := range []struct {
		what   string
		cookie http.Cookie
	}{
		{"another operator's", *flash},
		{"moved to another page", http.Cookie{Name: flash.Name, Value: flash.Value, Path: "/"}},
		{"for another notice", http.Cookie{Name: flash.Name, Value: strings.Replace(flash.Value, "unlocked", "erased", 1), Path: page}},
		{"unsigned", http.Cookie{Name: flash.Name, Value: "erased.9999999999.x", Path: page}},
	} {
		b := boss
		plant(b, &c.cookie)
		for _, p := range []string{page, "/customers"} {
			if _, body := b.get(p); notice(body) != "" {
				t.Errorf("%s cookie at %s: notice %q, want none", c.what, p, notice(body))
			}
		}
	}

	// Past its time: the redirect never came (a dropped connection).
	resp, _ = kim.noRedirects().post(page+"/lock", "reason", "再調査")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("lock again: %d", resp.StatusCode)
	}
	s.clock.Advance(3 * time.Minute)
	if _, body := kim.get(page); notice(body) != "" {
		t.Errorf("a notice past its time: %q, want none", notice(body))
	}
}
