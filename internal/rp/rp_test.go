package rp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/rp"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/sites"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// currentUser asks the site directly who the request carrying the
// browser's site cookie is.
func currentUser(t *testing.T, s *siteEnv, b *browser) (*struct{ ID, Name, Email string }, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, s.url+"/", nil)
	if v := b.cookie(s.url, "tobira_"+s.name); v != "" {
		r.AddCookie(&http.Cookie{Name: "tobira_" + s.name, Value: v})
	}
	u, err := s.site.CurrentUser(r)
	if u == nil {
		return nil, err
	}
	return &struct{ ID, Name, Email string }{u.AccountID, u.Name, u.Email}, err
}

func visitedPortalLogin(e *portalEnv, p *page) bool {
	for _, v := range p.visited {
		if u, _ := url.Parse(v); u != nil && u.Host == e.addr && strings.HasPrefix(u.Path, "/login") {
			return true
		}
	}
	return false
}

// 1. A visitor signs in at the site through the portal (password, then the
// app's code) and comes back where they were going, with a site session.
func TestSignIn(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)

	if p := b.get(a.url+"/x", nil); p.body != "anonymous" {
		t.Fatalf("before sign-in the page shows %q", p.body)
	}
	// Up to the callback, to look at what it answers.
	cb := a.callback(b, "/x?tab=1")
	signInCookie := a.signInCookie(cb.Query().Get("state"))
	if b.cookie(a.url+"/auth/callback", signInCookie) == "" {
		t.Fatal("the sign-in in progress left no signin cookie")
	}
	p := b.do(http.MethodGet, cb.String(), nil)
	if p.status != http.StatusSeeOther || p.rawLoc != "/x?tab=1" {
		t.Fatalf("callback answered %d, Location %q; want 303 to /x?tab=1", p.status, p.rawLoc)
	}
	var sc *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "tobira_contracts" {
			sc = c
		}
	}
	if sc == nil || sc.Value == "" || !sc.HttpOnly || sc.Path != "/" || sc.SameSite != http.SameSiteLaxMode ||
		sc.MaxAge != int(rp.SessionTTL.Seconds()) {
		t.Errorf("session cookie %+v", sc)
	}
	if b.cookie(a.url+"/auth/callback", signInCookie) != "" {
		t.Error("the signin cookie outlived the callback")
	}
	p = b.follow(p, nil)
	if p.url.String() != a.url+"/x?tab=1" || p.body != a.signedInAs() {
		t.Fatalf("ended at %s showing %q, want %s showing %q", p.url, p.body, a.url+"/x?tab=1", a.signedInAs())
	}

	u, err := currentUser(t, a, b)
	if err != nil || u == nil || u.ID != e.accountID || u.Name != "山田 太郎" || u.Email != e.email {
		t.Fatalf("CurrentUser = %+v, %v", u, err)
	}

	created := a.sessions.list()
	if len(created) != 1 {
		t.Fatalf("%d sessions created, want 1", len(created))
	}
	ss := a.session(b)
	if ss == nil {
		t.Fatal("no stored session for the browser's cookie")
	}
	if ss.Site != "contracts" || ss.AccountID != e.accountID || ss.Name != "山田 太郎" || ss.Email != e.email ||
		ss.SID == "" || ss.IDToken == "" {
		t.Errorf("stored session %+v", ss)
	}
	if d := ss.ExpiresAt.Sub(ss.CreatedAt); d != rp.SessionTTL {
		t.Errorf("session lasts %v, want %v", d, rp.SessionTTL)
	}
	c := claimsOf(t, ss.IDToken)
	if c["sid"] != ss.SID {
		t.Errorf("session sid %q, ID token sid %v", ss.SID, c["sid"])
	}
	if c["sub"] != e.accountID || c["iss"] != e.url || c["nonce"] == nil {
		t.Errorf("ID token claims %v", c)
	}
	if aud := c["aud"]; aud != a.client.ID && !(func() bool {
		l, ok := aud.([]any)
		return ok && len(l) == 1 && l[0] == a.client.ID
	})() {
		t.Errorf("ID token aud %v, want %s", aud, a.client.ID)
	}
	// The cookie holds a token, not the stored hash.
	if b.cookie(a.url, "tobira_contracts") == ss.IDHash {
		t.Error("the cookie is the stored hash")
	}

	// Cookies are per host, not per port: the portal and the site see each
	// other's; none may share a name.
	portalNames, siteNames := b.namesSet(e.addr), b.namesSet(a.host)
	if len(portalNames) == 0 || len(siteNames) == 0 {
		t.Fatalf("cookies set: portal %v, site %v", portalNames, siteNames)
	}
	for _, n := range siteNames {
		if slices.Contains(portalNames, n) {
			t.Errorf("cookie %q is set by both the portal (%v) and the site (%v)", n, portalNames, siteNames)
		}
	}
}

// restart reports whether p sends the browser to start a sign-in again.
func restart(s *siteEnv, p *page) bool {
	return p.status == http.StatusSeeOther && p.loc != nil && p.loc.Host == s.host &&
		p.loc.Path == "/auth/login" && p.loc.Query().Get("return") == "/"
}

func setsSession(s *siteEnv, p *page) bool {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "tobira_"+s.name && c.Value != "" {
			return true
		}
	}
	return false
}

func withQuery(u *url.URL, set map[string]string) string {
	v := u.Query()
	for k, x := range set {
		if x == "" {
			v.Del(k)
		} else {
			v.Set(k, x)
		}
	}
	c := *u
	c.RawQuery = v.Encode()
	return c.String()
}

// 2. The callback creates no session from anything but the sign-in this
// browser started, completed by the portal, in time.
func TestCallbackRefuses(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	inv := e.newSite("invoices")
	b := newBrowser(t)
	// A portal session, so later sign-ins need no password.
	a.callback(b, "/")

	// refused checks p created no session and set no session cookie.
	refused := func(t *testing.T, p *page, before int) {
		t.Helper()
		if n := len(a.sessions.list()); n != before {
			t.Errorf("%d sessions created", n-before)
		}
		if setsSession(a, p) {
			t.Error("a session cookie was set")
		}
	}
	// restarted checks p started the sign-in again, refused.
	restarted := func(t *testing.T, p *page, before int) {
		t.Helper()
		if !restart(a, p) {
			t.Errorf("answered %d, Location %q; want the sign-in started again", p.status, p.rawLoc)
		}
		refused(t, p, before)
	}

	t.Run("no signin cookie", func(t *testing.T) {
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		p := newBrowser(t).do(http.MethodGet, cb.String(), nil)
		restarted(t, p, n)
	})

	t.Run("garbage signin cookie", func(t *testing.T) {
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		nb := newBrowser(t)
		nb.setCookie(a.url+"/auth/", a.signInCookie(cb.Query().Get("state")), "garbage", "/auth/")
		p := nb.do(http.MethodGet, cb.String(), nil)
		restarted(t, p, n)
	})

	t.Run("signin cookie made with another key", func(t *testing.T) {
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		cfg := config.Default()
		cfg.SecretKey = secret.NewKey()
		other, err := cfg.Keyring()
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := json.Marshal(map[string]any{"State": cb.Query().Get("state"), "Nonce": "n",
			"Verifier": "v", "Return": "/r", "Expires": time.Now().Add(time.Hour)})
		nb := newBrowser(t)
		name := a.signInCookie(cb.Query().Get("state"))
		nb.setCookie(a.url+"/auth/", name, other.Encrypt(string(forged), name), "/auth/")
		p := nb.do(http.MethodGet, cb.String(), nil)
		restarted(t, p, n)
	})

	t.Run("the other site's signin cookie", func(t *testing.T) {
		cb := inv.callback(b, "/r")
		n := len(a.sessions.list())
		nb := newBrowser(t)
		state := cb.Query().Get("state")
		nb.setCookie(a.url+"/auth/", a.signInCookie(state), b.cookie(inv.url+"/auth/", inv.signInCookie(state)), "/auth/")
		p := nb.do(http.MethodGet, a.url+"/auth/callback?"+cb.RawQuery, nil)
		restarted(t, p, n)
	})

	t.Run("wrong state", func(t *testing.T) {
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		for _, state := range []string{"forged", ""} {
			p := b.do(http.MethodGet, withQuery(cb, map[string]string{"state": state}), nil)
			if !restart(a, p) {
				t.Errorf("state %q: answered %d, Location %q; want the sign-in started again", state, p.status, p.rawLoc)
			}
			refused(t, p, n)
		}
	})

	t.Run("expired sign-in", func(t *testing.T) {
		defer a.offset.Store(0)
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		a.advance(10*time.Minute + time.Second)
		p := b.do(http.MethodGet, cb.String(), nil)
		restarted(t, p, n)
	})

	t.Run("a sign-in as slow as the portal's slowest completes", func(t *testing.T) {
		// A first sign-in may take enrol_ttl and flow_ttl at the portal.
		slow := e.newSiteWith("slow", func(s *rp.Site) { s.SignInTTL = 75 * time.Minute })
		cb := slow.callback(b, "/r")
		n := len(slow.sessions.list())
		// 50 minutes (the ID token, dated by the wall clock, lasts an
		// hour: the site's clock alone moves here).
		slow.advance(50 * time.Minute)
		p := b.do(http.MethodGet, cb.String(), nil)
		if p.status != http.StatusSeeOther || p.rawLoc != "/r" || !setsSession(slow, p) || len(slow.sessions.list()) != n+1 {
			t.Errorf("50 minutes: answered %d, Location %q", p.status, p.rawLoc)
		}
		slow.offset.Store(0)
		cb = slow.callback(b, "/r")
		slow.advance(75*time.Minute + time.Second)
		if p := b.do(http.MethodGet, cb.String(), nil); !restart(slow, p) {
			t.Errorf("75 minutes and a second: answered %d, Location %q; want the sign-in started again", p.status, p.rawLoc)
		}
	})

	t.Run("a sign-in 9 minutes old completes", func(t *testing.T) {
		defer a.offset.Store(0)
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		a.advance(9 * time.Minute)
		p := b.do(http.MethodGet, cb.String(), nil)
		if p.status != http.StatusSeeOther || p.rawLoc != "/r" || !setsSession(a, p) || len(a.sessions.list()) != n+1 {
			t.Errorf("answered %d, Location %q", p.status, p.rawLoc)
		}
	})

	t.Run("error from the portal", func(t *testing.T) {
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		u := a.url + "/auth/callback?" + url.Values{"state": {cb.Query().Get("state")}, "error": {"access_denied"},
			"error_description": {"the customer declined"}}.Encode()
		p := b.do(http.MethodGet, u, nil)
		if p.status != http.StatusForbidden {
			t.Errorf("answered %d, want 403", p.status)
		}
		refused(t, p, n)
		// With a code as well, the error still wins.
		p = b.do(http.MethodGet, withQuery(cb, map[string]string{"error": "access_denied"}), nil)
		if p.status != http.StatusForbidden {
			t.Errorf("with a code: answered %d, want 403", p.status)
		}
		refused(t, p, n)
	})

	t.Run("another issuer", func(t *testing.T) {
		cb := a.callback(b, "/r")
		if cb.Query().Get("iss") != e.url {
			t.Errorf("the portal's answer %s does not name it (iss)", cb)
		}
		n := len(a.sessions.list())
		for _, iss := range []string{"https://evil.example", e.url + "/"} {
			p := b.do(http.MethodGet, withQuery(cb, map[string]string{"iss": iss}), nil)
			if p.status != http.StatusForbidden {
				t.Errorf("iss %q: answered %d, want 403", iss, p.status)
			}
			refused(t, p, n)
		}
		// The portal's own iss signs in.
		p := b.do(http.MethodGet, cb.String(), nil)
		if p.status != http.StatusSeeOther || !setsSession(a, p) {
			t.Errorf("with the portal's iss: answered %d, Location %q", p.status, p.rawLoc)
		}
	})

	t.Run("no code", func(t *testing.T) {
		cb := a.callback(b, "/r")
		n := len(a.sessions.list())
		p := b.do(http.MethodGet, withQuery(cb, map[string]string{"code": ""}), nil)
		if p.status != http.StatusBadGateway {
			t.Errorf("answered %d, want 502", p.status)
		}
		refused(t, p, n)
	})

	t.Run("code of another client", func(t *testing.T) {
		cbA := a.callback(b, "/r")
		cbB := inv.callback(b, "/r")
		n := len(a.sessions.list())
		p := b.do(http.MethodGet, withQuery(cbA, map[string]string{"code": cbB.Query().Get("code")}), nil)
		if p.status != http.StatusBadGateway {
			t.Errorf("answered %d, want 502", p.status)
		}
		refused(t, p, n)
	})

	t.Run("replayed code", func(t *testing.T) {
		cb1 := a.callback(b, "/r")
		p := b.do(http.MethodGet, cb1.String(), nil)
		if p.status != http.StatusSeeOther || !setsSession(a, p) {
			t.Fatalf("first use of the code: %d", p.status)
		}
		n := len(a.sessions.list())
		// The same callback again: its sign-in is over.
		p = b.do(http.MethodGet, cb1.String(), nil)
		if !restart(a, p) {
			t.Errorf("replayed callback answered %d, Location %q; want the sign-in started again", p.status, p.rawLoc)
		}
		refused(t, p, n)
		// The used code in a new sign-in's callback.
		cb2 := a.callback(b, "/r")
		p = b.do(http.MethodGet, withQuery(cb2, map[string]string{"code": cb1.Query().Get("code")}), nil)
		if p.status != http.StatusBadGateway {
			t.Errorf("used code in a new sign-in: answered %d, want 502", p.status)
		}
		refused(t, p, n)
	})
}

// 3. A sign-in ends on the site, whatever return it was given.
func TestReturnPaths(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	a.mustLogin(b, "/x")
	for _, tc := range []struct{ ret, want string }{
		{"/contracts/C-1?tab=2", "/contracts/C-1?tab=2"},
		{"", "/"},
		{"//evil.example", "/"},
		{"//evil.example/x", "/"},
		{"https://evil.example", "/"},
		{"http:/evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\\/evil.example", "/"},
		{"evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		// Browsers drop tabs from a URL before reading it (WHATWG URL
		// parser), so "/<TAB>/evil.example" is "//evil.example" to them.
		{"/\t/evil.example", "/"},
	} {
		t.Run(strconv.Quote(tc.ret), func(t *testing.T) {
			cb := a.callback(b, tc.ret)
			p := b.do(http.MethodGet, cb.String(), nil)
			if p.status != http.StatusSeeOther || p.rawLoc != tc.want {
				t.Fatalf("return %q: callback answered %d, Location %q; want 303 to %q", tc.ret, p.status, p.rawLoc, tc.want)
			}
			p = b.follow(p, nil)
			if p.url.String() != a.url+tc.want || p.body != a.signedInAs() {
				t.Errorf("return %q: ended at %s showing %q", tc.ret, p.url, p.body)
			}
		})
	}
}

// 4. Signing out at one site ends its session, the portal's, and (by
// back-channel) the other site's of the same portal session; the browser
// comes back to the site.
func TestLogout(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	inv := e.newSite("invoices")
	b := newBrowser(t)
	a.mustLogin(b, "/x")
	p := inv.mustLogin(b, "/y")
	if visitedPortalLogin(e, p) {
		t.Fatalf("signed in at the portal, the second site still asked for a sign-in: %v", p.visited)
	}
	ssA, ssB := a.session(b), inv.session(b)
	if ssA == nil || ssB == nil {
		t.Fatal("no sessions after sign-in")
	}
	if ssA.SID == "" || ssA.SID != ssB.SID {
		t.Errorf("sids %q and %q: both sites signed in from the same portal session", ssA.SID, ssB.SID)
	}
	// Another customer browser, signed in only at the other site.
	other := newBrowser(t)
	inv.mustLogin(other, "/")
	if inv.session(other).SID == ssB.SID {
		t.Fatal("two browsers share a portal session")
	}
	cookieA := b.cookie(a.url, "tobira_contracts")

	p = b.do(http.MethodPost, a.url+"/auth/logout", url.Values{})
	if p.status != http.StatusSeeOther || p.loc == nil {
		t.Fatalf("logout answered %d, Location %q", p.status, p.rawLoc)
	}
	if p.loc.Scheme+"://"+p.loc.Host != e.url || p.loc.Path != "/end_session" {
		t.Errorf("logout sent the browser to %s, want the portal's /end_session", p.loc)
	}
	q := p.loc.Query()
	if q.Get("client_id") != a.client.ID || q.Get("post_logout_redirect_uri") != a.url+"/" || q.Get("state") != sites.SignedOut || q.Get("id_token_hint") != ssA.IDToken {
		t.Errorf("end_session query %v", q)
	}
	if b.cookie(a.url, "tobira_contracts") != "" {
		t.Error("the site cookie outlived the logout")
	}
	if _, err := e.db.SiteSessionByHash(context.Background(), secret.Hash(cookieA), a.now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the site session outlived the logout: %v", err)
	}

	p = b.follow(p, nil)
	if p.status != http.StatusOK || p.url.String() != a.url+"/?state="+sites.SignedOut || p.body != "anonymous" {
		t.Fatalf("after the portal's sign-out: %d at %s showing %q (visited %v)", p.status, p.url, p.body, p.visited)
	}
	e.provider.Wait()
	if s := inv.session(b); s != nil {
		t.Error("the other site's session outlived the sign-out")
	}
	if p := b.get(inv.url+"/y", nil); p.body != "anonymous" {
		t.Errorf("the other site still shows %q", p.body)
	}
	if len(inv.tokens()) != 1 {
		t.Errorf("the other site got %d logout tokens, want 1", len(inv.tokens()))
	}
	if inv.session(other) == nil {
		t.Error("another browser's session at the other site ended too")
	}
	// Signed out of the portal: the portal asks for a sign-in again.
	if p := b.do(http.MethodGet, e.url+"/security", nil); p.loc == nil || p.loc.Path != "/login" {
		t.Errorf("the portal session outlived the sign-out: /security answered %d, Location %q", p.status, p.rawLoc)
	}
	if p := a.login(b, "/x", nil); !visitedPortalLogin(e, p) || p.body != a.signedInAs() {
		t.Errorf("signing in again: ended at %s showing %q without the portal's sign-in (visited %v)", p.url, p.body, p.visited)
	}

	// Cookies are per host, not per port: no two servers may share a name.
	hosts := map[string]string{"portal": e.addr, "contracts": a.host, "invoices": inv.host}
	for _, n1 := range slices.Sorted(maps.Keys(hosts)) {
		for _, n2 := range slices.Sorted(maps.Keys(hosts)) {
			if n1 >= n2 {
				continue
			}
			for _, c := range b.namesSet(hosts[n1]) {
				if slices.Contains(b.namesSet(hosts[n2]), c) {
					t.Errorf("cookie %q is set by both %s and %s", c, n1, n2)
				}
			}
		}
	}
}

// Signing out with no site session still signs out of the portal and comes
// back to the site.
func TestLogoutWithoutSession(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	p := b.do(http.MethodPost, a.url+"/auth/logout", url.Values{})
	if p.status != http.StatusSeeOther || p.loc == nil || p.loc.Path != "/end_session" || p.loc.Query().Has("id_token_hint") ||
		p.loc.Query().Get("client_id") != a.client.ID {
		t.Fatalf("logout answered %d, Location %q", p.status, p.rawLoc)
	}
	if p = b.follow(p, nil); p.url.String() != a.url+"/?state="+sites.SignedOut || p.body != "anonymous" {
		t.Errorf("ended at %s showing %q (visited %v)", p.url, p.body, p.visited)
	}
}

// Signing out hours after signing in, when the ID token kept as the hint
// has expired (the site session has not), still comes back to the site.
func TestLogoutWithExpiredHint(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	a.mustLogin(b, "/x")
	e.clock.Advance(2 * time.Hour) // the site's clock follows the portal's
	if a.session(b) == nil {
		t.Fatal("the site session did not last 2 hours")
	}
	p := b.post(a.url+"/auth/logout", url.Values{}, nil)
	if p.url.String() != a.url+"/?state="+sites.SignedOut || p.body != "anonymous" {
		t.Errorf("ended with %d at %s: %.200q (visited %v)", p.status, p.url, p.body, p.visited)
	}
}

// 5. The back-channel endpoint ends exactly the sessions a valid logout
// token names, and refuses anything else with 400, ending nothing.
func TestBackchannelLogout(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	inv := e.newSite("invoices")
	b1, b2 := newBrowser(t), newBrowser(t)
	a.mustLogin(b1, "/")
	inv.mustLogin(b1, "/")
	a.mustLogin(b2, "/")
	inv.mustLogin(b2, "/")
	type key struct {
		s *siteEnv
		b *browser
	}
	names := map[key]string{{a, b1}: "contracts/b1", {inv, b1}: "invoices/b1", {a, b2}: "contracts/b2", {inv, b2}: "invoices/b2"}
	sids := map[key]string{}
	for k := range names {
		ss := k.s.session(k.b)
		if ss == nil {
			t.Fatalf("%s: no session", names[k])
		}
		sids[k] = ss.SID
	}
	sid1, sid2 := sids[key{a, b1}], sids[key{a, b2}]
	if sid1 == sid2 || sids[key{inv, b1}] != sid1 || sids[key{inv, b2}] != sid2 {
		t.Fatalf("sids %v", sids)
	}
	// live checks which sessions are left.
	live := func(t *testing.T, want ...key) {
		t.Helper()
		for k, n := range names {
			if got := k.s.session(k.b) != nil; got != slices.Contains(want, k) {
				t.Errorf("session %s live: %v, want %v", n, got, !got)
			}
		}
	}
	all := []key{{a, b1}, {inv, b1}, {a, b2}, {inv, b2}}

	// b1 signs out at the portal; its logout tokens are held back.
	a.capture.Store(true)
	inv.capture.Store(true)
	b1.post(e.url+"/logout", url.Values{}, nil)
	e.provider.Wait()
	a.capture.Store(false)
	inv.capture.Store(false)
	if len(a.tokens()) != 1 || len(inv.tokens()) != 1 {
		t.Fatalf("logout tokens: %d for contracts, %d for invoices; want 1 each", len(a.tokens()), len(inv.tokens()))
	}
	tokA, tokB := a.tokens()[0], inv.tokens()[0]
	claimsA := claimsOf(t, tokA)
	if claimsA["sid"] != sid1 || claimsA["sub"] != e.accountID {
		t.Fatalf("logout token claims %v, want sid %s", claimsA, sid1)
	}
	live(t, all...)

	kid, portalKey := e.signingKey()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// like makes claimsA changed by edit, with a new jti.
	like := func(edit func(map[string]any)) map[string]any {
		c := maps.Clone(claimsA)
		c["jti"] = secret.ID()
		edit(c)
		return c
	}
	now := e.clock.Now()
	ev := map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	unsigned := func(c map[string]any) string {
		h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "logout+jwt"})
		p, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}

	for _, tc := range []struct {
		name  string
		token func() string
	}{
		{"garbage", func() string { return "garbage" }},
		{"empty", func() string { return "" }},
		{"three garbage parts", func() string { return "a.b.c" }},
		{"signed by another key, the portal's kid", func() string { return sign(t, kid, otherKey, like(func(map[string]any) {})) }},
		{"signed by another key, its own kid", func() string { return sign(t, "mine", otherKey, like(func(map[string]any) {})) }},
		{"unsigned", func() string { return unsigned(like(func(map[string]any) {})) }},
		{"another client's", func() string { return tokB }},
		{"another audience", func() string {
			return sign(t, kid, portalKey, like(func(c map[string]any) { c["aud"] = inv.client.ID }))
		}},
		{"another issuer", func() string {
			return sign(t, kid, portalKey, like(func(c map[string]any) { c["iss"] = "https://evil.example" }))
		}},
		{"no events", func() string { return sign(t, kid, portalKey, like(func(c map[string]any) { delete(c, "events") })) }},
		{"another event", func() string {
			return sign(t, kid, portalKey, like(func(c map[string]any) {
				c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
			}))
		}},
		{"a nonce", func() string { return sign(t, kid, portalKey, like(func(c map[string]any) { c["nonce"] = "n-1" })) }},
		{"no sid and no sub", func() string {
			return sign(t, kid, portalKey, like(func(c map[string]any) { delete(c, "sid"); delete(c, "sub") }))
		}},
		{"expired", func() string {
			return sign(t, kid, portalKey, like(func(c map[string]any) {
				c["iat"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-8*time.Minute).Unix()
			}))
		}},
		{"an ID token", func() string { return a.session(b2).IDToken }},
		{"events only (no iss, aud)", func() string {
			return sign(t, kid, portalKey, map[string]any{"sid": sid1, "sub": e.accountID, "events": ev,
				"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": secret.ID()})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := a.backchannel(tc.token())
			if code != http.StatusBadRequest {
				t.Errorf("answered %d (%q), want 400", code, body)
			}
			live(t, all...)
		})
	}

	t.Run("the portal's token, expired", func(t *testing.T) {
		defer a.offset.Store(0)
		a.advance(3 * time.Minute) // the portal's logout tokens last 2
		if code, body := a.backchannel(tokA); code != http.StatusBadRequest {
			t.Errorf("answered %d (%q), want 400", code, body)
		}
		live(t, all...)
	})

	// The portal's own tokens: each ends its sid's sessions at its site.
	if code, body := a.backchannel(tokA); code != http.StatusOK {
		t.Fatalf("the portal's logout token: %d (%q), want 200", code, body)
	}
	live(t, key{inv, b1}, key{a, b2}, key{inv, b2})
	if code, body := inv.backchannel(tokB); code != http.StatusOK {
		t.Fatalf("the portal's logout token for the other site: %d (%q), want 200", code, body)
	}
	live(t, key{a, b2}, key{inv, b2})

	// A token made here the way the portal makes them is accepted too: the
	// refusals above were for what each changed, not for being made here.
	ok := sign(t, kid, portalKey, like(func(c map[string]any) { c["sid"] = sid2 }))
	if code, body := a.backchannel(ok); code != http.StatusOK {
		t.Fatalf("a well-made logout token: %d (%q), want 200", code, body)
	}
	live(t, key{inv, b2})
	// A token with a subject and no sid ends every session of the account
	// at the site.
	bySub := sign(t, kid, portalKey, like(func(c map[string]any) { delete(c, "sid"); c["aud"] = inv.client.ID }))
	if code, body := inv.backchannel(bySub); code != http.StatusOK {
		t.Fatalf("a logout token without sid: %d (%q), want 200", code, body)
	}
	live(t)
}

// 6. An expired site session signs nobody in.
func TestExpiredSiteSession(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	a.mustLogin(b, "/x")
	a.advance(rp.SessionTTL - time.Minute)
	if u, err := currentUser(t, a, b); u == nil || err != nil {
		t.Fatalf("a minute before expiry: CurrentUser = %v, %v", u, err)
	}
	a.advance(2 * time.Minute)
	if u, err := currentUser(t, a, b); u != nil || err != nil {
		t.Errorf("after expiry: CurrentUser = %+v, %v; want nil, nil", u, err)
	}
	if p := b.get(a.url+"/x", nil); p.body != "anonymous" {
		t.Errorf("after expiry the page shows %q", p.body)
	}
	// A cookie the site never issued: nobody.
	r := httptest.NewRequest(http.MethodGet, a.url+"/", nil)
	r.AddCookie(&http.Cookie{Name: "tobira_contracts", Value: "made-up"})
	if u, err := a.site.CurrentUser(r); u != nil || err != nil {
		t.Errorf("made-up cookie: CurrentUser = %+v, %v", u, err)
	}
}

// 7. A site may start before the portal: it reads the portal's discovery
// document at the first sign-in that finds the portal up.
func TestDiscoveryWaitsForPortal(t *testing.T) {
	e := newStoppedPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	p := b.do(http.MethodGet, a.url+"/auth/login?return=/x", nil)
	if p.status != http.StatusServiceUnavailable {
		t.Fatalf("with the portal down, /auth/login answered %d", p.status)
	}
	for _, want := range []string{"ポータルサイトに接続できません", "The portal cannot be reached"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the answer %q lacks %q", p.body, want)
		}
	}
	if a.signInsKept(b) != 0 {
		t.Error("a sign-in was started with the portal down")
	}
	if code, _ := a.backchannel("x"); code != http.StatusServiceUnavailable {
		t.Errorf("with the portal down, the back-channel endpoint answered %d, want 503", code)
	}

	e.start()
	a.mustLogin(b, "/x")
	if u, err := currentUser(t, a, b); u == nil || err != nil || u.ID != e.accountID {
		t.Errorf("CurrentUser = %+v, %v", u, err)
	}
}

// tamper changes the ID token in the portal's token responses to the site.
type tamper struct {
	mu   sync.Mutex
	edit func(idToken string) (string, bool) // false: drop the ID token
}

func (tp *tamper) set(edit func(string) (string, bool)) {
	tp.mu.Lock()
	tp.edit = edit
	tp.mu.Unlock()
}

func (tp *tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	tp.mu.Lock()
	edit := tp.edit
	tp.mu.Unlock()
	if err != nil || edit == nil || r.URL.Path != "/oauth/token" || res.StatusCode != http.StatusOK {
		return res, err
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		return nil, err
	}
	raw, _ := m["id_token"].(string)
	if changed, keep := edit(raw); keep {
		m["id_token"] = changed
	} else {
		delete(m, "id_token")
	}
	body, _ := json.Marshal(m)
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Del("Content-Length")
	return res, nil
}

// The callback keeps no sign-in whose ID token is not the one this sign-in
// asked for: checked signature, issuer, audience, expiry and nonce.
func TestCallbackRefusesIDToken(t *testing.T) {
	e := newPortal(t)
	tp := &tamper{}
	a := e.newSiteWith("contracts", func(s *rp.Site) { s.HTTPClient = &http.Client{Transport: tp} })
	b := newBrowser(t)
	// A portal session (later sign-ins need no password) and an ID token
	// signed (the portal makes its key at the first).
	a.mustLogin(b, "/")
	kid, portalKey := e.signingKey()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	resign := func(key *rsa.PrivateKey, edit func(c map[string]any)) func(string) (string, bool) {
		return func(raw string) (string, bool) {
			c := claimsOf(t, raw)
			edit(c)
			return signJWT(t, "JWT", kid, key, c), true
		}
	}
	now := e.clock.Now()
	for _, tc := range []struct {
		name string
		edit func(string) (string, bool)
		ok   bool
	}{
		{"re-signed unchanged (control)", resign(portalKey, func(map[string]any) {}), true},
		{"another nonce", resign(portalKey, func(c map[string]any) { c["nonce"] = "someone-else's" }), false},
		{"no nonce", resign(portalKey, func(c map[string]any) { delete(c, "nonce") }), false},
		{"another audience", resign(portalKey, func(c map[string]any) { c["aud"] = "another-client" }), false},
		{"another issuer", resign(portalKey, func(c map[string]any) { c["iss"] = "https://evil.example" }), false},
		{"expired", resign(portalKey, func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}), false},
		{"signed by another key", resign(otherKey, func(map[string]any) {}), false},
		{"no ID token", func(string) (string, bool) { return "", false }, false},
		{"garbage ID token", func(string) (string, bool) { return "garbage", true }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb := a.callback(b, "/r")
			n := len(a.sessions.list())
			tp.set(tc.edit)
			p := b.do(http.MethodGet, cb.String(), nil)
			tp.set(nil)
			if tc.ok {
				if p.status != http.StatusSeeOther || p.rawLoc != "/r" || !setsSession(a, p) || len(a.sessions.list()) != n+1 {
					t.Errorf("answered %d, Location %q; want a session and 303 to /r", p.status, p.rawLoc)
				}
				return
			}
			if p.status != http.StatusBadGateway {
				t.Errorf("answered %d, want 502", p.status)
			}
			if len(a.sessions.list()) != n || setsSession(a, p) {
				t.Error("a session was created")
			}
		})
	}
}

// userinfoTamper changes the portal's userinfo answers to the site.
type userinfoTamper struct {
	mu   sync.Mutex
	edit func(res *http.Response) *http.Response
}

func (ut *userinfoTamper) set(edit func(*http.Response) *http.Response) {
	ut.mu.Lock()
	ut.edit = edit
	ut.mu.Unlock()
}

func (ut *userinfoTamper) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	ut.mu.Lock()
	edit := ut.edit
	ut.mu.Unlock()
	if err != nil || edit == nil || r.URL.Path != "/userinfo" {
		return res, err
	}
	return edit(res), nil
}

// answer replaces a response's body (and status).
func answer(res *http.Response, status int, body string) *http.Response {
	res.Body.Close()
	res.StatusCode = status
	res.Body = io.NopCloser(strings.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Del("Content-Length")
	return res
}

// The site reads the customer's name and email from the portal's userinfo
// endpoint, the ID token having none, and keeps no sign-in whose userinfo
// answer is not about the ID token's subject (OpenID Connect Core 1.0,
// 5.3.2) or that it could not read.
func TestCallbackRefusesUserinfo(t *testing.T) {
	e := newPortal(t)
	ut := &userinfoTamper{}
	a := e.newSiteWith("contracts", func(s *rp.Site) { s.HTTPClient = &http.Client{Transport: ut} })
	b := newBrowser(t)
	a.mustLogin(b, "/")
	if ss := a.session(b); ss == nil || ss.Email != e.email || ss.Name != "山田 太郎" {
		t.Fatalf("stored session %+v, want the customer's name and email from userinfo", ss)
	}
	if c := claimsOf(t, a.session(b).IDToken); c["email"] != nil || c["name"] != nil {
		t.Errorf("the ID token the site keeps carries personal data: %v", c)
	}
	rewrite := func(edit func(m map[string]any)) func(*http.Response) *http.Response {
		return func(res *http.Response) *http.Response {
			var m map[string]any
			if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
				t.Errorf("userinfo answer: %v", err)
			}
			edit(m)
			body, _ := json.Marshal(m)
			return answer(res, res.StatusCode, string(body))
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*http.Response) *http.Response
		ok   bool
	}{
		{"unchanged (control)", rewrite(func(map[string]any) {}), true},
		{"another subject", rewrite(func(m map[string]any) { m["sub"] = "someone-else"; m["email"] = "evil@example.jp" }), false},
		{"no subject", rewrite(func(m map[string]any) { delete(m, "sub") }), false},
		{"refused", func(res *http.Response) *http.Response {
			return answer(res, http.StatusUnauthorized, `{"error":"invalid_token"}`)
		}, false},
		{"server error", func(res *http.Response) *http.Response { return answer(res, http.StatusInternalServerError, "") }, false},
		{"garbage", func(res *http.Response) *http.Response { return answer(res, http.StatusOK, "garbage") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb := a.callback(b, "/r")
			n := len(a.sessions.list())
			ut.set(tc.edit)
			p := b.do(http.MethodGet, cb.String(), nil)
			ut.set(nil)
			if tc.ok {
				if p.status != http.StatusSeeOther || p.rawLoc != "/r" || !setsSession(a, p) || len(a.sessions.list()) != n+1 {
					t.Errorf("answered %d, Location %q; want a session and 303 to /r", p.status, p.rawLoc)
				}
				return
			}
			if p.status != http.StatusBadGateway || !strings.Contains(p.body, "The sign-in did not complete") {
				t.Errorf("answered %d %q, want 502 and the site's message", p.status, p.body)
			}
			if len(a.sessions.list()) != n || setsSession(a, p) {
				t.Error("a session was created")
			}
		})
	}
}

// The sign-in asks the portal for the site's language (ui_locales): the
// customer's choice on the site, else their browser's.
func TestLoginAsksForTheSitesLanguage(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	for _, c := range []struct {
		header, value, want string
	}{
		{"Cookie", webkit.LangCookie + "=en", "en"},
		{"Accept-Language", "en-US,en;q=0.9", "en"},
		{"", "", "ja"},
	} {
		req, _ := http.NewRequest(http.MethodGet, a.url+"/auth/login?return=/", nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusSeeOther || loc.Query().Get("ui_locales") != c.want {
			t.Errorf("%s %q: %d to %s, want ui_locales=%s", c.header, c.value, resp.StatusCode, resp.Header.Get("Location"), c.want)
		}
	}
}

// tokenCalls counts the site's calls of the portal's token endpoint, with
// how each authenticated the client.
type tokenCalls struct {
	mu    sync.Mutex
	calls []string // "header" or "form"
}

func (tc *tokenCalls) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/oauth/token" {
		how := "form"
		if _, _, ok := r.BasicAuth(); ok {
			how = "header"
		}
		tc.mu.Lock()
		tc.calls = append(tc.calls, how)
		tc.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (tc *tokenCalls) list() []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return slices.Clone(tc.calls)
}

// A site presents a code once, as the portal registered it to (HTTP
// Basic): one the portal refuses is not sent again in the form. x/oauth2,
// left to find the style itself, retried a refused exchange the other
// way, and every refusal was a second presentation of the code, which
// the portal takes for a replay: it revokes what the code gave and warns
// of an attack that was none.
func TestExchangePresentsTheCodeOnce(t *testing.T) {
	e := newPortal(t)
	tc := &tokenCalls{}
	a := e.newSiteWith("contracts", func(s *rp.Site) { s.HTTPClient = &http.Client{Transport: tc} })
	b := newBrowser(t)
	a.mustLogin(b, "/")
	if got := tc.list(); !slices.Equal(got, []string{"header"}) {
		t.Fatalf("a sign-in called the token endpoint %v, want once with HTTP Basic", got)
	}
	// A code that expired before the browser brought it back; the site's
	// clock stays, so that its sign-in has not.
	cb := a.callback(b, "/r")
	e.clock.Advance(oidc.CodeLifetime + time.Second)
	a.advance(-oidc.CodeLifetime - time.Second)
	if p := b.get(cb.String(), nil); p.status != http.StatusBadGateway {
		t.Fatalf("an expired code: %d at %s, want the site's refusal", p.status, p.url)
	}
	if got := tc.list()[1:]; !slices.Equal(got, []string{"header"}) {
		t.Errorf("a refused exchange called the token endpoint %v, want once with HTTP Basic", got)
	}
}

// A sign-in at the site replaces the browser's session there, as the
// portal's own sign-in does: the session it had ends, rather than living
// on, unseen, for the rest of its twelve hours for whoever kept a copy of
// its cookie (on a shared computer, the customer who signed in before).
func TestSignInReplacesTheSiteSession(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	a.mustLogin(b, "/")
	first := b.cookie(a.url, "tobira_contracts")
	a.mustLogin(b, "/")
	second := b.cookie(a.url, "tobira_contracts")
	if first == "" || second == "" || first == second {
		t.Fatalf("session cookies %q then %q: want two different ones", first, second)
	}
	if _, err := e.db.SiteSessionByHash(context.Background(), secret.Hash(first), a.now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced session still resolves: %v", err)
	}
	if a.session(b) == nil {
		t.Error("the new session does not resolve")
	}
}

// A portal session that expires ends the site sessions it gave, when the
// portal's sweep tells the sites (oidc.Provider.EndExpiredSessions), long
// before the site's own SessionTTL.
func TestSiteSessionEndsWithExpiredPortalSession(t *testing.T) {
	e := newPortal(t)
	e.svc.Config.SessionTTL.Duration = 2 * time.Hour
	a, inv := e.newSite("contracts"), e.newSite("invoices")
	b := newBrowser(t)
	a.mustLogin(b, "/x")
	inv.mustLogin(b, "/y")
	e.clock.Advance(2*time.Hour + time.Second)
	for _, s := range []*siteEnv{a, inv} {
		if u, err := currentUser(t, s, b); u == nil || err != nil {
			t.Fatalf("%s: before the sweep CurrentUser = %v, %v; the site's own lifetime should not have ended it", s.name, u, err)
		}
	}
	if n, err := e.provider.EndExpiredSessions(context.Background()); err != nil || n != 2 {
		t.Fatalf("EndExpiredSessions = %d, %v; want the 2 sites' grants", n, err)
	}
	e.provider.Wait()
	for _, s := range []*siteEnv{a, inv} {
		if u, err := currentUser(t, s, b); u != nil || err != nil {
			t.Errorf("%s: after the portal session expired and the sweep ran, CurrentUser = %+v, %v", s.name, u, err)
		}
		if len(s.tokens()) != 1 {
			t.Errorf("%s: %d logout tokens, want 1", s.name, len(s.tokens()))
		}
	}
	if p := b.get(a.url+"/x", nil); p.body != "anonymous" {
		t.Errorf("after the portal session expired the page shows %q", p.body)
	}
}

// With the portal's session_ttl (PortalSessionTTL), a site session ends
// when the portal session it came from does, by the ID token's auth_time,
// even if no back-channel logout comes: a sign-in at the site late in the
// portal session gets what is left of it, not SessionTTL more.
func TestSiteSessionEndsWithPortalSessionByAuthTime(t *testing.T) {
	e := newPortal(t)
	e.svc.Config.SessionTTL.Duration = time.Hour
	a := e.newSiteWith("contracts", func(s *rp.Site) { s.PortalSessionTTL = time.Hour })
	b := newBrowser(t)
	a.mustLogin(b, "/")
	first := a.session(b)
	authTime, err := claimsOf(t, first.IDToken)["auth_time"].(json.Number).Int64()
	if err != nil {
		t.Fatal(err)
	}
	portalEnd := time.Unix(authTime, 0).Add(time.Hour)
	if !first.ExpiresAt.Equal(portalEnd) {
		t.Errorf("site session expires at %v, want the portal session's end %v", first.ExpiresAt, portalEnd)
	}

	// Forty minutes on, a sign-in at the site by single sign-on. (Not
	// later: the provider's library dates ID tokens by the wall clock, and
	// the site checks them by the test's.)
	e.clock.Advance(40 * time.Minute)
	cb := a.callback(b, "/")
	p := b.do(http.MethodGet, cb.String(), nil)
	var sc *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "tobira_contracts" {
			sc = c
		}
	}
	if sc == nil || sc.MaxAge <= 0 || time.Duration(sc.MaxAge)*time.Second > 21*time.Minute {
		t.Fatalf("the late sign-in answered %d %q, cookie %+v: want it to last what is left of the portal session, about 20 minutes", p.status, p.body, sc)
	}
	late := a.session(b)
	if late == nil || !late.ExpiresAt.Equal(portalEnd) {
		t.Fatalf("the late sign-in's session %+v, want it to end at %v", late, portalEnd)
	}
	e.clock.Advance(20*time.Minute + time.Second)
	if u, err := currentUser(t, a, b); u != nil || err != nil {
		t.Errorf("after the portal session's end: CurrentUser = %+v, %v; want nobody", u, err)
	}
}

// A sign-in whose ID token says its portal session has already ended
// (auth_time plus PortalSessionTTL in the past) is refused: a session
// that would end before it begins is not stored.
func TestCallbackRefusesEndedPortalSession(t *testing.T) {
	e := newPortal(t)
	tp := &tamper{}
	a := e.newSiteWith("contracts", func(s *rp.Site) {
		s.HTTPClient = &http.Client{Transport: tp}
		s.PortalSessionTTL = time.Hour
	})
	b := newBrowser(t)
	a.mustLogin(b, "/")
	kid, portalKey := e.signingKey()
	for _, tc := range []struct {
		name string
		age  time.Duration
		ok   bool
	}{
		{"signed in 59 minutes ago (control)", 59 * time.Minute, true},
		{"signed in an hour and a second ago", time.Hour + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb := a.callback(b, "/r")
			n := len(a.sessions.list())
			tp.set(func(raw string) (string, bool) {
				c := claimsOf(t, raw)
				c["auth_time"] = a.now().Add(-tc.age).Unix()
				return signJWT(t, "JWT", kid, portalKey, c), true
			})
			p := b.do(http.MethodGet, cb.String(), nil)
			tp.set(nil)
			if tc.ok {
				if p.status != http.StatusSeeOther || !setsSession(a, p) || len(a.sessions.list()) != n+1 {
					t.Errorf("answered %d, Location %q; want a session", p.status, p.rawLoc)
				}
				return
			}
			if p.status != http.StatusBadGateway || len(a.sessions.list()) != n || setsSession(a, p) {
				t.Errorf("answered %d with %d sessions created; want 502 and none", p.status, len(a.sessions.list())-n)
			}
		})
	}
}

// A HEAD of the sign-in's pages, which link checkers, prefetchers and
// monitors send freely, is refused and changes nothing: the mux routes it
// to the GET patterns, and a HEAD of the callback spent the code, so that
// the browser's own request of it found the code used, and a HEAD of
// /auth/login started a sign-in, dropping the one in progress.
func TestHeadChangesNothing(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	cb := a.callback(b, "/r")
	signInCookie := a.signInCookie(cb.Query().Get("state"))
	for _, u := range []string{a.url + "/auth/login?return=/other", cb.String()} {
		p := b.do(http.MethodHead, u, nil)
		if p.status != http.StatusMethodNotAllowed || p.header.Get("Allow") != http.MethodGet {
			t.Errorf("HEAD %s: %d, Allow %q; want 405, Allow GET", u, p.status, p.header.Get("Allow"))
		}
		if len(p.header.Values("Set-Cookie")) != 0 {
			t.Errorf("HEAD %s set cookies: %v", u, p.header.Values("Set-Cookie"))
		}
	}
	if b.cookie(a.url+"/auth/callback", signInCookie) == "" {
		t.Fatal("the sign-in in progress lost its cookie to a HEAD")
	}
	if p := b.do(http.MethodGet, cb.String(), nil); p.status != http.StatusSeeOther || p.rawLoc != "/r" {
		t.Fatalf("the browser's own callback after the HEAD: %d, Location %q; want 303 to /r", p.status, p.rawLoc)
	}
}
