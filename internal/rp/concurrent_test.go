package rp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Two sign-ins at the same site in one browser at once (two tabs restored
// together, or reloaded after a sign-out while the portal was still signed
// in) each come back to their own page. With one sign-in cookie for both,
// each callback found the other's state and started its sign-in again,
// which overwrote the other's cookie once more: the tabs went round
// between the site and the portal until the browser gave up on too many
// redirects.
func TestTwoSignInsAtOnce(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	first := a.callback(b, "/one")  // signs in at the portal
	second := a.callback(b, "/two") // signed in there already
	for _, tc := range []struct {
		callback *url.URL
		want     string
	}{{first, "/one"}, {second, "/two"}} {
		p := b.get(tc.callback.String(), nil)
		if p.status != http.StatusOK || p.url.String() != a.url+tc.want || p.body != a.signedInAs() {
			t.Errorf("the sign-in to %s ended with %d at %s: %q (visited %v)", tc.want, p.status, p.url, p.body, p.visited)
		}
	}
	if n := a.signInsKept(b); n != 0 {
		t.Errorf("%d sign-in cookies left after both sign-ins finished", n)
	}
}

// A browser keeps a few sign-ins in progress at a site, not one cookie per
// tab ever left at the portal's login page: the oldest give way, and the
// newest still finish.
func TestSignInsInProgressBounded(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	var callbacks []*url.URL
	for i := range 7 {
		callbacks = append(callbacks, a.callback(b, "/"+string(rune('a'+i))))
	}
	if n := a.signInsKept(b); n != 4 {
		t.Errorf("the browser keeps %d sign-in cookies, want 4", n)
	}
	last := callbacks[len(callbacks)-1]
	if p := b.get(last.String(), nil); p.status != http.StatusOK || p.url.String() != a.url+"/g" {
		t.Errorf("the newest sign-in ended with %d at %s (visited %v)", p.status, p.url, p.visited)
	}
	// The oldest has given way: its callback starts a sign-in again.
	if p := b.do(http.MethodGet, callbacks[0].String(), nil); !restart(a, p) {
		t.Errorf("the oldest sign-in's callback answered %d, Location %q; want the sign-in started again", p.status, p.rawLoc)
	}
}

// refusingJar is a browser's cookie store that refuses some cookies, as a
// browser set to block a site's cookies does.
type refusingJar struct {
	http.CookieJar
	refuse func(*http.Cookie) bool
}

func (j refusingJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	var kept []*http.Cookie
	for _, c := range cookies {
		if !j.refuse(c) {
			kept = append(kept, c)
		}
	}
	j.CookieJar.SetCookies(u, kept)
}

// A browser that keeps no cookie of the site gets, after one more try, a
// page that says why the sign-in cannot finish, in Japanese and English,
// where it went round between the site and the portal for ever.
func TestSignInWithoutSiteCookies(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	b.c.Jar = refusingJar{b.jar, func(c *http.Cookie) bool { return strings.HasPrefix(c.Name, "tobira_contracts") }}
	p := a.login(b, "/x", nil)
	if p.status != http.StatusBadRequest || p.url.Host != a.host || p.url.Path != "/auth/callback" {
		t.Fatalf("the sign-in ended with %d at %s; want 400 at the callback (visited %v)", p.status, p.url, p.visited)
	}
	for _, want := range []string{"Cookie を有効にしてから", "allow cookies for this site"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the answer %q lacks %q", p.body, want)
		}
	}
	starts := 0
	for _, v := range p.visited {
		if u, _ := url.Parse(v); u != nil && u.Host == a.host && u.Path == "/auth/login" {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("the site started the sign-in again %d times after the first; want once (visited %v)", starts, p.visited)
	}
	if n := len(a.sessions.list()); n != 0 {
		t.Errorf("%d sessions created", n)
	}
}

// A sign-in left at the portal's login page while the customer signed in
// in another tab goes on when its page is shown again (the back button, a
// reload): the portal does not ask for the password again, and the site
// comes back to the page it was going to.
func TestSignInLeftAtLoginPageGoesOn(t *testing.T) {
	e := newPortal(t)
	a := e.newSite("contracts")
	b := newBrowser(t)
	left := b.get(a.url+"/auth/login?return="+url.QueryEscape("/one"), nil)
	if !e.atPortalLogin(left) {
		t.Fatalf("the first sign-in is at %d %s, want the portal's login page", left.status, left.url)
	}
	a.mustLogin(b, "/two")
	p := b.get(left.url.String(), nil)
	if p.status != http.StatusOK || p.url.String() != a.url+"/one" || p.body != a.signedInAs() {
		t.Errorf("the login page shown again ended with %d at %s: %.80q (visited %v)", p.status, p.url, p.body, p.visited)
	}
}
