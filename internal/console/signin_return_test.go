package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/store"
)

// signInFrom signs kim in with b from the sign-in page body, through the
// code step, as the pages' forms send it, and returns where it lands.
func (s *site) signInFrom(b *browser, body, seed string) *http.Response {
	s.t.Helper()
	resp, body := b.do("POST", "/login", formIn(body, "/login", "email", "kim@tobira.example", "password", password))
	if resp.Request.URL.Path != "/login/code" {
		s.t.Fatalf("after the password: at %s %d", resp.Request.URL, resp.StatusCode)
	}
	// A step of its own: a code is taken once.
	s.clock.Advance(30 * time.Second)
	resp, _ = b.do("POST", "/login/code", formIn(body, "/login/code", "code", s.code(seed)))
	return resp
}

// formIn is what the form of body that posts to action sends: its hidden
// fields, and kv typed in.
func formIn(body, action string, kv ...string) url.Values {
	form := url.Values{}
	_, f, _ := strings.Cut(body, `<form method="post" action="`+action+`"`)
	f, _, _ = strings.Cut(f, "</form>")
	for _, m := range hiddenInput.FindAllStringSubmatch(f, -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return form
}

// alert is the text of the page's message of what went wrong, or "".
func alert(body string) string {
	_, after, ok := strings.Cut(body, `<p class="error" role="alert" id="form-error">`)
	if !ok {
		return ""
	}
	text, _, _ := strings.Cut(after, "</p>")
	return text
}

const (
	sessionEnded = "ログインの有効期限が切れました。もう一度ログインしてください。"
	notDone      = "ログインの有効期限が切れました。操作は行われていません。"
)

// TestSignedOutDeepLinkReturns: a page opened without a sign-in (a link
// to a customer) asks for one, without saying any ended, and returns to
// the page after the password and the code.
func TestSignedOutDeepLinkReturns(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers/" + a.ID
	b := s.browser()
	resp, body := b.get(page)
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("next") != page {
		t.Fatalf("signed out, %s went to %s", page, resp.Request.URL)
	}
	if strings.Contains(body, "有効期限") || notice(body) != "" || alert(body) != "" {
		t.Errorf("a browser that had no sign-in is told one ended: %q %q", notice(body), alert(body))
	}
	resp = s.signInFrom(b, body, seed)
	if resp.Request.URL.Path != page || resp.StatusCode != http.StatusOK {
		t.Errorf("after the sign-in: at %s %d, want %s", resp.Request.URL, resp.StatusCode, page)
	}
	// A search keeps its query.
	b = s.browser()
	resp, body = b.get("/customers?q=yamada")
	if resp = s.signInFrom(b, body, seed); resp.Request.URL.RequestURI() != "/customers?q=yamada" {
		t.Errorf("a search after the sign-in: at %s", resp.Request.URL.RequestURI())
	}
}

// TestEndedSessionSaysSoAndReturns: a page asked for after the sign-in
// ended (the idle timeout) goes to the sign-in, which says it ended, in
// the operator's language, and returns to the page.
func TestEndedSessionSaysSoAndReturns(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers/" + a.ID
	b := s.signIn("kim@tobira.example", seed)
	s.clock.Advance(console.IdleTimeout)
	resp, body := b.get(page)
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("next") != page || alert(body) != sessionEnded {
		t.Fatalf("an ended sign-in: at %s, alert %q", resp.Request.URL, alert(body))
	}
	if _, body := b.do("GET", resp.Request.URL.RequestURI(), nil, "Accept-Language", "en"); alert(body) != "Your sign-in has expired. Please sign in again." {
		t.Errorf("in English: alert %q", alert(body))
	}
	if resp = s.signInFrom(b, body, seed); resp.Request.URL.Path != page || resp.StatusCode != http.StatusOK {
		t.Errorf("after the sign-in: at %s %d, want %s", resp.Request.URL, resp.StatusCode, page)
	}
}

// TestRefusedPostSaysNothingDone: a form sent after the sign-in ended is
// not acted on; the sign-in says so, and returns to the page the form was
// on (from the action's path: no Referer is needed), not to the action.
func TestRefusedPostSaysNothingDone(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	bossSeed := s.operator("boss@tobira.example", store.RoleAdmin)
	a := s.customerWithFactor("yamada@example.jp")
	boss := s.signIn("boss@tobira.example", bossSeed)
	boss.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "端末の紛失")
	reset := s.openReset(a.ID)
	boss.post("/maintenance", "start", "2026-04-10T02:00", "end", "2026-04-10T05:00")
	ws, err := s.db.ListMaintenance(ctx, t0, false)
	if err != nil || len(ws) != 1 {
		t.Fatalf("windows: %+v %v", ws, err)
	}
	for _, c := range []struct {
		action, form string
		kv           []string
	}{
		{"/customers/" + a.ID + "/lock", "/customers/" + a.ID, []string{"reason", "盗難の届出"}},
		{"/resets/" + reset.ID + "/approve", "/resets", []string{"confirmed", "1"}},
		{"/maintenance/" + ws[0].ID + "/cancel", "/maintenance", nil},
		{"/maintenance", "/maintenance", []string{"start", "2026-04-11T02:00", "end", "2026-04-11T05:00"}},
		{"/customers/new", "/customers/new", []string{"email", "new@example.jp", "name", "新規"}},
		{"/recoveries/r1/propose", "/recoveries", []string{"reason", "電話で確認"}},
	} {
		s.clock.Advance(30 * time.Second)
		b := s.signIn("kim@tobira.example", seed)
		s.clock.Advance(console.IdleTimeout)
		resp, body := b.post(c.action, c.kv...)
		if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("next") != c.form || !strings.Contains(alert(body), notDone) {
			t.Errorf("POST %s after the sign-in ended: at %s, alert %q; want /login back to %s, saying nothing was done",
				c.action, resp.Request.URL, alert(body), c.form)
			continue
		}
		if resp = s.signInFrom(b, body, seed); resp.Request.URL.Path != c.form || resp.Request.Method != http.MethodGet {
			t.Errorf("POST %s: after the sign-in at %s %s, want GET %s", c.action, resp.Request.Method, resp.Request.URL, c.form)
		}
	}
	if _, err := s.db.AccountLockOf(ctx, a.ID); err == nil {
		t.Error("a refused form locked the customer")
	}
	if got := s.openReset(a.ID); !got.Open() || s.factors(a.ID) != 1 {
		t.Error("a refused form approved the reset")
	}
	if after, _ := s.db.ListMaintenance(ctx, t0, true); len(after) != 1 || after[0].ID != ws[0].ID || !after[0].CancelledAt.IsZero() {
		t.Errorf("a refused form changed the maintenance windows: %+v", after)
	}
	if _, err := s.db.AccountByEmail(ctx, "new@example.jp"); err == nil {
		t.Error("a refused form opened an account")
	}
}

// TestSignInReturnsOnlyHere: the page a sign-in returns to is a page of the
// console: another site's address, however written, lands at the
// customers page, as do the sign-in's own pages.
func TestSignInReturnsOnlyHere(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	host := strings.TrimPrefix(s.srv.URL, "http://")
	for _, next := range []string{
		"//evil.example/", "/\\evil.example/", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
		"/\t/evil.example", "%2F%2Fevil.example", "/login", "/login/code", "/logout", "evil.example",
		"/" + strings.Repeat("a", 1100),
	} {
		for _, raw := range []string{url.QueryEscape(next), strings.ReplaceAll(url.QueryEscape(next), "%2F", "%252F")} {
			b := s.browser()
			resp, body := b.get("/login?next=" + raw)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/login?next=%s: %d", raw, resp.StatusCode)
			}
			resp = s.signInFrom(b, body, seed)
			if resp.Request.URL.Host != host || resp.Request.URL.Path != "/customers" {
				t.Errorf("next=%s: landed at %s, want /customers", raw, resp.Request.URL)
			}
			// Signed in, the sign-in page goes there at once.
			if resp, _ := b.get("/login?next=" + raw); resp.Request.URL.Host != host || resp.Request.URL.Path != "/customers" {
				t.Errorf("signed in, /login?next=%s went to %s", raw, resp.Request.URL)
			}
		}
	}
}
