package console_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/store"
)

// searchQ is a search with what a query must escape, and what would leave
// the console if it were not: an operator may paste anything.
const searchQ = "山田 太郎&x=1#//evil.example"

// cancelLink is the way back of the page that asks for the code again.
var cancelLink = regexp.MustCompile(`<p class="other"><a href="([^"]*)">`)

// wantSearchKept fails the test unless resp ended on the customer's page
// opened from the search q, with 「検索に戻る」 back to that search.
func wantSearchKept(t *testing.T, what string, resp *http.Response, body, id, q string) {
	t.Helper()
	page := "/customers/" + id + "?q=" + url.QueryEscape(q)
	if got := resp.Request.URL.RequestURI(); got != page {
		t.Errorf("%s: at %s, want %s", what, got, page)
	}
	back := backLink.FindStringSubmatch(body)
	if want := "/customers?q=" + url.QueryEscape(q); back == nil || html.UnescapeString(back[1]) != want {
		t.Errorf("%s: 「検索に戻る」 %q, want %s", what, back, want)
	}
}

// TestCustomerActionsKeepSearch: an action on a customer's page opened from
// a search (resend, lock, unlock, a reset asked and withdrawn, erase)
// returns to the page with its way back to that search, where it returned
// to the page without it; so does an action refused, the code asked
// again, and its way back.
func TestCustomerActionsKeepSearch(t *testing.T) {
	s := newSite(t)
	seed := s.operator("boss@tobira.example", store.RoleAdmin)
	boss := s.signIn("boss@tobira.example", seed)
	a := s.customerWithFactor("yamada@example.jp")
	fresh, _, err := s.svc.OpenAccount(t.Context(), "sato@example.jp", "佐藤 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	from := func(id string) string { return "/customers/" + id + "?q=" + url.QueryEscape(searchQ) }

	_, body := boss.get(from(fresh.ID))
	resp, body := boss.do("POST", "/customers/"+fresh.ID+"/resend", formIn(body, "/customers/"+fresh.ID+"/resend"))
	wantSearchKept(t, "resend", resp, body, fresh.ID, searchQ)

	_, body = boss.get(from(a.ID))
	lock := "/customers/" + a.ID + "/lock"
	// Refused (no reason): the page shown again keeps it, in its link, its
	// forms and the language switch's return.
	resp, body = boss.do("POST", lock, formIn(body, lock))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a lock without a reason: %d", resp.StatusCode)
	}
	if back := backLink.FindStringSubmatch(body); back == nil || html.UnescapeString(back[1]) != "/customers?q="+url.QueryEscape(searchQ) {
		t.Errorf("refused lock: 「検索に戻る」 %q", back)
	}
	if got := formIn(body, "/lang").Get("next"); got != from(a.ID) {
		t.Errorf("refused lock: the language switch returns to %s, want %s", got, from(a.ID))
	}
	resp, body = boss.do("POST", lock, formIn(body, lock, "reason", "不正利用の疑い"))
	wantSearchKept(t, "lock", resp, body, a.ID, searchQ)

	// Unlock asks for the code again: its way back, and the action once
	// the code is typed, keep the search.
	s.stale()
	unlock := "/customers/" + a.ID + "/unlock"
	resp, body = boss.do("POST", unlock, formIn(body, unlock))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unlock with an old code: %d", resp.StatusCode)
	}
	if got := cancelLink.FindStringSubmatch(body); got == nil || html.UnescapeString(got[1]) != from(a.ID) {
		t.Errorf("the code page's way back: %q, want %s", got, from(a.ID))
	}
	form := reauthForm(t, body, unlock)
	form.Set("reauth_code", s.code(seed))
	resp, body = boss.do("POST", unlock, form)
	wantSearchKept(t, "unlock", resp, body, a.ID, searchQ)

	reset := "/customers/" + a.ID + "/reset-mfa"
	resp, body = boss.do("POST", reset, formIn(body, reset, "reset_reason", "端末紛失"))
	wantSearchKept(t, "reset request", resp, body, a.ID, searchQ)
	withdraw := "/resets/" + s.openReset(a.ID).ID + "/withdraw"
	resp, body = boss.do("POST", withdraw, formIn(body, withdraw))
	wantSearchKept(t, "reset withdrawn", resp, body, a.ID, searchQ)

	erase := "/customers/" + a.ID + "/erase"
	resp, body = boss.do("POST", erase, formIn(body, erase, "confirm_email", a.Email, "erase_reason", "本人の依頼"))
	wantSearchKept(t, "erase", resp, body, a.ID, searchQ)
}

// TestCustomerActionSearchBounded: the search an action's form sends back
// is cut to the search page's limit, and whatever it holds the action
// returns to the customer's page, never elsewhere.
func TestCustomerActionSearchBounded(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	long := strings.Repeat("山", 250)
	for _, c := range []struct{ q, want string }{
		{long, strings.Repeat("山", 200)},
		{"  //evil.example/\r\n  ", "//evil.example/"},
		{"https://evil.example/", "https://evil.example/"},
		{"   ", ""},
	} {
		resp, _ := kim.noRedirects().post("/customers/"+a.ID+"/lock", "reason", "確認のため", "q", c.q)
		want := "/customers/" + a.ID
		if c.want != "" {
			want += "?q=" + url.QueryEscape(c.want)
		}
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != want {
			t.Errorf("q %.20q: %d to %s, want %s", c.q, resp.StatusCode, got, want)
		}
		if err := s.db.UnlockAccount(t.Context(), a.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCustomerFormAfterSignInKeepsSearch: a form of a customer's page
// opened from a search, sent once the sign-in ended or while the operator
// must first pick their own password (a tab opened before an admin's
// reset), is not acted on, and the sign-in or the change goes back to the
// page with its way back to the search, where it went to the page
// without it (or, for the change, to the customers page).
func TestCustomerFormAfterSignInKeepsSearch(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers/" + a.ID + "?q=" + url.QueryEscape(searchQ)
	lock := "/customers/" + a.ID + "/lock"

	b := s.signIn("kim@tobira.example", seed)
	_, body := b.get(page)
	s.clock.Advance(console.IdleTimeout)
	resp, body := b.do("POST", lock, formIn(body, lock, "reason", "盗難の届出"))
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("next") != page {
		t.Errorf("a form after the sign-in ended: at %s, want /login back to %s", resp.Request.URL, page)
	}
	resp = s.signInFrom(b, body, seed)
	if got := resp.Request.URL.RequestURI(); got != page {
		t.Errorf("signed in again: at %s, want %s", got, page)
	}

	_, body = b.get(page)
	_, oneTime, err := console.SetOperatorPassword(t.Context(), s.svc, s.db, "kim@tobira.example", "", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	// Signed in again, with the one-time password, in another tab of the
	// same browser.
	s.clock.Advance(30 * time.Second)
	if resp, _ := b.post("/login", "email", "kim@tobira.example", "password", oneTime); resp.Request.URL.Path != "/login/code" {
		t.Fatalf("after the one-time password: at %s", resp.Request.URL)
	}
	if resp, _ := b.post("/login/code", "code", s.code(seed)); resp.Request.URL.Path != "/password" {
		t.Fatalf("signed in with a one-time password: at %s", resp.Request.URL)
	}
	resp, body = b.do("POST", lock, formIn(body, lock, "reason", "盗難の届出"))
	if resp.Request.URL.Path != "/password" || resp.Request.URL.Query().Get("next") != page {
		t.Fatalf("the old tab's form: at %s, want /password on to %s", resp.Request.URL, page)
	}
	const own = "my own long passphrase"
	resp, body = b.do("POST", "/password", formIn(body, "/password", "current", oneTime, "new", own, "confirm", own))
	wantSearchKept(t, "after the change", resp, body, a.ID, searchQ)
	if _, err := s.db.AccountLockOf(t.Context(), a.ID); err == nil {
		t.Error("a form sent before the sign-in or the change locked the customer")
	}
}
