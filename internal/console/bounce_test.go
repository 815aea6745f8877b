package console_test

import (
	"crypto/sha256"
	"encoding/hex"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/store"
)

// sameSiteJar is a browser's cookie jar that also keeps each cookie's
// SameSite, which net/http/cookiejar drops, so that a request from
// another site can be sent with the cookies a browser sends then.
type sameSiteJar struct {
	http.CookieJar
	mode map[string]http.SameSite
}

func (j *sameSiteJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		j.mode[c.Name] = c.SameSite
	}
	j.CookieJar.SetCookies(u, cs)
}

// strictBrowser is a browser that keeps its cookies' SameSite, signed in
// as email.
func (s *site) strictBrowser(email, seed string) (*browser, *sameSiteJar) {
	s.t.Helper()
	b := s.browser()
	jar := &sameSiteJar{CookieJar: b.c.Jar, mode: map[string]http.SameSite{}}
	b.c.Jar = jar
	if resp, _ := b.post("/login", "email", email, "password", password); resp.Request.URL.Path != "/login/code" {
		s.t.Fatalf("after the password: at %s", resp.Request.URL)
	}
	code, _ := mfa.TOTPCode(seed, s.clock.Now())
	if resp, _ := b.post("/login/code", "code", code); resp.Request.URL.Path != "/customers" {
		s.t.Fatalf("after the code: at %s", resp.Request.URL)
	}
	return b, jar
}

// fromElsewhere sends a request as a browser sends one another site
// started (a link in a mail, a form): without the SameSite=Strict cookies,
// and not following a redirect, which is another site's navigation still.
func (b *browser) fromElsewhere(jar *sameSiteJar, method, path string, form url.Values) (*http.Response, string) {
	b.s.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.srv.URL+path, nil)
	if body != nil {
		req, err = http.NewRequest(method, b.s.srv.URL+path, body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		b.s.t.Fatal(err)
	}
	for _, c := range jar.Cookies(req.URL) {
		if jar.mode[c.Name] != http.SameSiteStrictMode {
			req.AddCookie(c)
		}
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	jar.SetCookies(req.URL, resp.Cookies())
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var refresh = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)

// refreshTo is where the page's meta refresh goes, or "".
func refreshTo(body string) string {
	m := refresh.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestLinkFromElsewhereLandsSignedIn: a link to a console page followed
// from another site (a mail, a chat, a ticket) comes without the Strict
// session cookie; a signed-in operator is taken to the page, through a
// page of the console's own that asks for it again, where they were shown
// the sign-in. It is asked again once, never in a loop; the actions and
// the export are not.
func TestLinkFromElsewhereLandsSignedIn(t *testing.T) {
	s := newSite(t)
	seed := s.operator("boss@tobira.example", store.RoleAdmin)
	a := s.customerWithFactor("yamada@example.jp")
	b, jar := s.strictBrowser("boss@tobira.example", seed)
	if jar.mode[console.CookieName] != http.SameSiteStrictMode {
		t.Fatalf("the session cookie is not SameSite=Strict: %v", jar.mode[console.CookieName])
	}
	if !jarHas(s, jar, "tobira_console_lax") || jar.mode["tobira_console_lax"] != http.SameSiteLaxMode {
		t.Fatalf("no SameSite=Lax marker beside the session cookie: %v", jar.mode)
	}

	for _, page := range []string{"/customers/" + a.ID, "/audit?account=" + a.ID + "&action=mfa.reset", "/resets"} {
		resp, body := b.fromElsewhere(jar, "GET", page, nil)
		if resp.StatusCode != http.StatusOK || refreshTo(body) != page {
			t.Fatalf("%s from elsewhere: %d, refresh to %q, want the page asking for %s again\n%s",
				page, resp.StatusCode, refreshTo(body), page, body)
		}
		if !strings.Contains(body, `href="`+html.EscapeString(page)+`"`) || !strings.Contains(body, "ページを開く") {
			t.Errorf("%s: the page asking again has no link for a browser that does not refresh:\n%s", page, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: the page asking again is cached: %q", page, cc)
		}
		// The console's own page asks again: the browser sends every
		// cookie.
		resp, _ = b.get(refreshTo(body))
		if resp.StatusCode != http.StatusOK || resp.Request.URL.RequestURI() != page {
			t.Errorf("%s asked again: at %s %d", page, resp.Request.URL.RequestURI(), resp.StatusCode)
		}
	}

	// A browser whose request asked again still lacks the session goes to
	// the sign-in, which returns to the page: no second asking, no loop.
	page := "/customers/" + a.ID
	resp, body := b.fromElsewhere(jar, "GET", page, nil)
	if refreshTo(body) != page {
		t.Fatalf("from elsewhere again: %d %q", resp.StatusCode, body)
	}
	resp, body = b.fromElsewhere(jar, "GET", page, nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/login" || loc.Query().Get("next") != page || refreshTo(body) != "" {
		t.Fatalf("asked again without the session: %d to %q, want the sign-in returning to %s", resp.StatusCode, loc, page)
	}
	// Once a page came with the session, the next link is asked again.
	b.get("/customers")
	if resp, body := b.fromElsewhere(jar, "GET", page, nil); refreshTo(body) != page {
		t.Errorf("a link after a page with the session: %d, refresh %q", resp.StatusCode, refreshTo(body))
	}
	b.get("/customers")

	// An action from elsewhere is not acted on, nor asked again.
	resp, body = b.fromElsewhere(jar, "POST", "/customers/"+a.ID+"/lock", url.Values{"reason": {"from elsewhere"}, "confirmed": {"1"}})
	if refreshTo(body) != "" || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a POST from elsewhere: %d, refresh %q", resp.StatusCode, refreshTo(body))
	}
	if _, err := s.db.AccountLockOf(t.Context(), a.ID); err == nil {
		t.Error("a POST from elsewhere locked the account")
	}
	// Nor the hand-over of a one-time password.
	if resp, body := b.fromElsewhere(jar, "GET", "/operators/handover", nil); refreshTo(body) != "" || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the hand-over from elsewhere: %d, refresh %q", resp.StatusCode, refreshTo(body))
	}
	// Nor the export, a download the console records.
	resp, body = b.fromElsewhere(jar, "GET", "/audit.csv?account="+a.ID, nil)
	if refreshTo(body) != "" || resp.StatusCode != http.StatusSeeOther || strings.Contains(body, "account_id") {
		t.Errorf("the export from elsewhere: %d, refresh %q", resp.StatusCode, refreshTo(body))
	}
	for _, ev := range s.auditActions("") {
		if strings.Contains(ev, store.ActionAuditExport) {
			t.Errorf("an export from elsewhere recorded: %s", ev)
		}
	}

	// Signed out, the marker is gone: a link goes to the sign-in at once.
	b.post("/logout")
	if jarHas(s, jar, "tobira_console_lax") {
		t.Error("the sign-out left the Lax marker")
	}
	resp, body = b.fromElsewhere(jar, "GET", page, nil)
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if refreshTo(body) != "" || loc.Path != "/login" || loc.Query().Get("next") != page {
		t.Errorf("signed out, a link: %d to %q", resp.StatusCode, loc)
	}
}

// TestLinkFromElsewhereAfterIdleTimeout: a link followed after the sign-in
// ended is asked again, says the sign-in ended, and the sign-in returns
// to the page.
func TestLinkFromElsewhereAfterIdleTimeout(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	a := s.customerWithFactor("yamada@example.jp")
	b, jar := s.strictBrowser("kim@tobira.example", seed)
	s.clock.Advance(console.IdleTimeout + time.Minute)
	page := "/customers/" + a.ID
	_, body := b.fromElsewhere(jar, "GET", page, nil)
	if refreshTo(body) != page {
		t.Fatalf("from elsewhere: refresh %q", refreshTo(body))
	}
	resp, body := b.get(page)
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("next") != page || alert(body) != sessionEnded {
		t.Fatalf("asked again after the idle timeout: at %s, %q", resp.Request.URL, alert(body))
	}
	resp = s.signInFrom(b, body, seed)
	if resp.Request.URL.Path != page || resp.StatusCode != http.StatusOK {
		t.Errorf("after the sign-in: at %s %d, want %s", resp.Request.URL, resp.StatusCode, page)
	}
}

// jarHas tells whether the jar holds a cookie of the name for the site.
func jarHas(s *site, jar *sameSiteJar, name string) bool {
	u, _ := url.Parse(s.srv.URL)
	for _, c := range jar.Cookies(u) {
		if c.Name == name {
			return true
		}
	}
	return false
}

var staticRef = regexp.MustCompile(`(?:href|src)="(/static/[^"]*)"`)

// TestBouncePageStylesheetsVersioned: the page that asks again refers to
// its stylesheets with the version of the content served now, as every
// other page does, where it named them bare and a browser could keep the
// release before's for an hour; and it asks again for a customer's page
// with the search it was opened from.
func TestBouncePageStylesheetsVersioned(t *testing.T) {
	s := newSite(t)
	seed := s.operator("boss@tobira.example", store.RoleAdmin)
	a := s.customerWithFactor("yamada@example.jp")
	b, jar := s.strictBrowser("boss@tobira.example", seed)
	page := "/customers/" + a.ID + "?q=" + url.QueryEscape("山田 太郎")
	_, body := b.fromElsewhere(jar, "GET", page, nil)
	if refreshTo(body) != page {
		t.Fatalf("no page asking for %s again:\n%s", page, body)
	}
	refs := staticRef.FindAllStringSubmatch(body, -1)
	if len(refs) < 2 {
		t.Fatalf("the page asking again names %d files under /static/:\n%s", len(refs), body)
	}
	_, login := s.browser().get("/login")
	for _, m := range refs {
		ref := html.UnescapeString(m[1])
		u, err := url.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		_, content := b.get(u.Path)
		sum := sha256.Sum256([]byte(content))
		if want := u.Path + "?v=" + hex.EncodeToString(sum[:5]); ref != want {
			t.Errorf("the page asking again refers to %s, want %s", ref, want)
		}
		if !strings.Contains(login, `href="`+m[1]+`"`) {
			t.Errorf("%s is not what the other pages refer to", ref)
		}
	}
}
