package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/portal"
)

const msgStepUpExpired = "ご本人確認の有効期限が切れました。もう一度お試しください。"

// clockJar is a cookie jar that lets a cookie's Max-Age run out on the
// site's clock, as a browser's does on its own: the jar underneath counts
// real time, in which a test that moves the clock past a flow's life took
// a moment, so it would still send a cookie the browser had dropped.
type clockJar struct {
	http.CookieJar
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time // by cookie name, for those set with a Max-Age
}

func (j *clockJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	for _, c := range cookies {
		if c.MaxAge > 0 {
			j.until[c.Name] = j.now().Add(time.Duration(c.MaxAge) * time.Second)
		} else {
			delete(j.until, c.Name)
		}
	}
	j.mu.Unlock()
	j.CookieJar.SetCookies(u, cookies)
}

func (j *clockJar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	return slices.DeleteFunc(j.CookieJar.Cookies(u), func(c *http.Cookie) bool {
		end, ok := j.until[c.Name]
		return ok && !now.Before(end)
	})
}

// clockBrowser is a browser whose cookies expire on the site's clock.
func (s *site) clockBrowser() *browser {
	b := s.browser()
	b.c.Jar = &clockJar{CookieJar: b.jar, now: s.clock.Now, until: map[string]time.Time{}}
	return b
}

// sends reports whether the browser would send the cookie name now.
func (b *browser) sends(name string) bool {
	u, _ := url.Parse(b.s.srv.URL)
	return slices.ContainsFunc(b.c.Jar.Cookies(u), func(c *http.Cookie) bool { return c.Name == name })
}

// expiredTo is where a flow that expired sends the browser: the login page
// that says so and goes on to next.
func expiredTo(next string) string { return "/login?e=expired&next=" + url.QueryEscape(next) }

// TestExpiredSignInReturnsWhereItStarted: a sign-in for the security page
// left at the code screen past flow_ttl, then sent: the browser has
// dropped the flow cookie with the flow, and the login page that says the
// sign-in expired goes on to the security page, not to マイページ. So with
// a browser that still sends the cookie a moment later, and at enrolment,
// whose flow lasts enrol_ttl.
func TestExpiredSignInReturnsWhereItStarted(t *testing.T) {
	s := newSite(t)
	c, signedIn := s.enrolled()
	expect(t, signedIn.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")

	b := s.clockBrowser()
	expect(t, b.get("/security"), http.StatusSeeOther, "/login?next=%2Fsecurity")
	s.clock.Advance(30 * time.Second)
	r := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security"}})
	expect(t, r, http.StatusSeeOther, "/login/code")
	// The return cookie outlives the flow by as long as the slowest
	// sign-in may take (no provider here), and no longer.
	grace := s.svc.Config.SignInTTL()
	if rc := setCookieOf(r, "tobira_flow_return"); rc == nil || !rc.HttpOnly || rc.SameSite != http.SameSiteLaxMode ||
		rc.MaxAge != int((s.svc.Config.FlowTTL.Duration+grace)/time.Second) {
		t.Fatalf("the return cookie: %+v, want HttpOnly, SameSite=Lax, Max-Age flow_ttl + %v", rc, grace)
	}
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
	if b.sends("tobira_flow") || !b.sends("tobira_flow_return") {
		t.Fatal("past flow_ttl the browser should have dropped the flow cookie and kept the return cookie")
	}
	r = b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusSeeOther, expiredTo("/security"))
	if setCookieOf(r, "tobira_session") != nil {
		t.Fatal("an expired flow gave a session")
	}
	if rc := setCookieOf(r, "tobira_flow_return"); rc == nil || rc.MaxAge >= 0 {
		t.Errorf("the return cookie was not spent: %+v", rc)
	}
	page := b.get(expiredTo("/security"))
	expect(t, page, http.StatusOK, "")
	contains(t, page, msgExpired, `name="next" value="/security"`)
	// The next sign-in goes to the security page.
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security"}}), http.StatusSeeOther, "/login/code")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), "二要素認証", "✓設定されています")
	if b.sends("tobira_flow_return") {
		t.Error("the finished sign-in left its return cookie")
	}

	// A browser that still sends the flow cookie (its clock a little
	// behind) finds the flow gone all the same, and goes the same way; a
	// GET of the step's page too.
	kept := s.browser()
	s.clock.Advance(30 * time.Second)
	expect(t, kept.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security/reset"}}), http.StatusSeeOther, "/login/code")
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Second)
	expect(t, kept.get("/login/code"), http.StatusSeeOther, expiredTo("/security/reset"))

	// At enrolment, whose flow lasts enrol_ttl.
	n := s.customer("new@example.jp")
	e := s.clockBrowser()
	expect(t, e.post("/login", url.Values{"email": {n.email}, "password": {n.password}, "next": {"/security"}}), http.StatusSeeOther, "/enrol")
	s.clock.Advance(s.svc.Config.EnrolTTL.Duration + time.Minute)
	expect(t, e.post("/enrol", url.Values{"code": {"123456"}}), http.StatusSeeOther, expiredTo("/security"))

	// A sign-in from the login page itself expires as before: the login
	// page, then マイページ.
	p := s.clockBrowser()
	s.clock.Advance(30 * time.Second)
	p.login(c, "/login/code")
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
	expect(t, p.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/login?e=expired")
}

// TestReturnCookieNoOpenRedirect: the return cookie leads only to a local
// path the portal signed, and only until its time: one altered, made up,
// or kept past it is ignored (the login page, then マイページ), and one
// signed for a path that is not local, which no form lets through, is
// kept on the portal all the same.
func TestReturnCookieNoOpenRedirect(t *testing.T) {
	s := newSite(t)
	c, signedIn := s.enrolled()
	expect(t, signedIn.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b := s.browser()
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security"}}), http.StatusSeeOther, "/login/code")
	genuine := b.cookie("tobira_flow_return")
	kind, rest, _ := strings.Cut(genuine, ".")
	exp, rest, _ := strings.Cut(rest, ".")
	_, sig, _ := strings.Cut(rest, ".")
	b64 := func(p string) string { return base64.RawURLEncoding.EncodeToString([]byte(p)) }

	for name, value := range map[string]string{
		"another path, the signature kept": kind + "." + exp + "." + b64("/security/reset") + "." + sig,
		"a later time, the signature kept": kind + ".99999999999." + b64("/security") + "." + sig,
		"made up":                          "in.99999999999." + b64("https://evil.example/") + ".x",
		"garbage":                          "garbage",
	} {
		t.Run(name, func(t *testing.T) {
			x := s.browser()
			x.setCookie("tobira_flow_return", value)
			expect(t, x.post("/login/code", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login?e=expired")
		})
	}

	// The genuine cookie past its time.
	late := s.browser()
	late.setCookie("tobira_flow_return", genuine)
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + s.svc.Config.SignInTTL() + time.Second)
	expect(t, late.post("/login/code", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login?e=expired")

	// A flow whose return path is not local (the web layer never starts
	// one): its cookie, signed, still leads to the portal only.
	for _, foreign := range []string{"https://evil.example/", "//evil.example/", `/\evil.example`} {
		f, err := s.svc.Password(s.ctx, c.email, c.password, foreign, portal.Client{IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		x := s.browser()
		x.setCookie("tobira_flow_return", s.svc.ReturnCookie(f, s.clock.Now().Add(time.Hour)))
		expect(t, x.post("/login/code", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login?e=expired")
	}
}

// TestLongReturnPathNotRemembered: a return path too long for a cookie
// (a crafted link's next) is not remembered past the flow, nor is an
// earlier sign-in's left in its place; the sign-in still goes there.
func TestLongReturnPathNotRemembered(t *testing.T) {
	s := newSite(t)
	c, signedIn := s.enrolled()
	expect(t, signedIn.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b := s.clockBrowser()
	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security"}}), http.StatusSeeOther, "/login/code")
	long := "/security?x=" + strings.Repeat("a", 2000)
	r := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {long}})
	expect(t, r, http.StatusSeeOther, "/login/code")
	if rc := setCookieOf(r, "tobira_flow_return"); rc == nil || rc.MaxAge >= 0 {
		t.Fatalf("the return cookie of a long path: %+v, want it cleared", rc)
	}
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/login?e=expired")

	s.clock.Advance(30 * time.Second)
	expect(t, b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {long}}), http.StatusSeeOther, "/login/code")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, long)
}

// TestExpiredStepUp: a signed-in customer opens 「セキュリティ」, is asked
// for a fresh code, and sends it after the step-up's flow expired. They
// are told the check expired, on a new check for the same page, and its
// code takes them there; not to マイページ without a word.
func TestExpiredStepUp(t *testing.T) {
	for _, page := range []string{"/security", "/security/reset", "/security/password"} {
		t.Run(page, func(t *testing.T) {
			s := newSite(t)
			c := s.customer("yamada@example.jp")
			b := s.clockBrowser()
			b.enrol(c)
			s.clock.Advance(time.Hour)
			expect(t, b.get(page), http.StatusSeeOther, "/login/code")
			s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
			r := b.post("/login/code", url.Values{"code": {s.code(c)}})
			expect(t, r, http.StatusSeeOther, "/login/code?e=expired")
			if setCookieOf(r, "tobira_session") != nil {
				t.Fatal("an expired step-up renewed the session")
			}
			setOnce(t, r)
			again := b.get("/login/code?e=expired")
			expect(t, again, http.StatusOK, "")
			contains(t, again, msgStepUpExpired, "セキュリティ設定を変更するため")
			s.clock.Advance(30 * time.Second)
			expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, page)
			expect(t, b.get(page), http.StatusOK, "")
		})
	}

	// In English, and with the flow cookie still sent.
	s := newSite(t)
	c, b := s.enrolled()
	b.lang = "en"
	s.clock.Advance(time.Hour)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
	r := b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusSeeOther, "/login/code?e=expired")
	setOnce(t, r)
	contains(t, b.get("/login/code?e=expired"), "Your confirmation has expired. Please confirm it is you again.")

	// The code screen of a step-up that has not expired, and a sign-in's,
	// say nothing of it whatever the address.
	fresh := s.browser()
	s.clock.Advance(30 * time.Second)
	fresh.login(c, "/login/code")
	if r := fresh.get("/login/code?e=expired"); strings.Contains(r.text(), msgStepUpExpired) {
		t.Error("a sign-in's code screen speaks of an expired check")
	}
}

// setOnce checks that the answer that started a new step-up in place of
// one that expired gives the browser its flow and return cookies once
// each, not cleared and set again (RFC 6265, 4.1.1).
func setOnce(t *testing.T, r *resp) {
	t.Helper()
	for _, name := range []string{"tobira_flow", "tobira_flow_return"} {
		var set []*http.Cookie
		for _, c := range r.Cookies() {
			if c.Name == name {
				set = append(set, c)
			}
		}
		if len(set) != 1 || set[0].MaxAge <= 0 {
			t.Fatalf("%s set as %v, want the new check's, once", name, set)
		}
	}
}

// TestExpiredStepUpWhenSessionFresh: a step-up that expired while another
// tab renewed the session goes straight to its page; one whose session
// ended meanwhile asks for a sign-in that comes back to it.
func TestExpiredStepUpWhenSessionFresh(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.clockBrowser()
	b.enrol(c)
	s.clock.Advance(time.Hour)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	stale := b.cookie("tobira_flow_return")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	// The tab still showing the earlier check's screen, its cookies as
	// then, sends after that check's life.
	b.setCookie("tobira_flow_return", stale)
	s.clock.Advance(time.Minute)
	r := b.post("/login/code", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusSeeOther, "/security")
	if rc := setCookieOf(r, "tobira_flow_return"); rc == nil || rc.MaxAge >= 0 {
		t.Errorf("the return cookie was not spent: %+v", rc)
	}

	// The session ended (signed out elsewhere) while the check waited.
	s.clock.Advance(time.Hour)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	if err := s.svc.Store.DeleteSessionsOf(s.ctx, c.acct.ID, ""); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	expect(t, b.get("/security"), http.StatusSeeOther, "/login?next=%2Fsecurity&e=ended")
}

// TestExpiredPhoneStepUp: a step-up with the phone that expired starts
// again at the phone's screen, which says why and sends no text until the
// customer asks for one; the code then goes on to the page.
func TestExpiredPhoneStepUp(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	b := s.clockBrowser()
	b.enrolPhone(c, rec, "090-1234-5678", "sms")
	s.clock.Advance(time.Hour)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/phone")
	expect(t, b.post("/login/phone/send", url.Values{}), http.StatusSeeOther, "/login/phone")
	code := rec.Last(t).Code
	before := rec.Count()
	s.clock.Advance(s.svc.Config.FlowTTL.Duration + time.Minute)
	expect(t, b.post("/login/phone", url.Values{"code": {code}}), http.StatusSeeOther, "/login/phone?e=expired")
	page := b.get("/login/phone?e=expired")
	expect(t, page, http.StatusOK, "")
	contains(t, page, msgStepUpExpired, "セキュリティ設定を変更するため", "コードを送信")
	if n := rec.Count() - before; n != 0 {
		t.Fatalf("the expired step-up sent %d texts by itself", n)
	}
	expect(t, b.post("/login/phone/send", url.Values{}), http.StatusSeeOther, "/login/phone")
	expect(t, b.post("/login/phone", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/security")
	expect(t, b.get("/security"), http.StatusOK, "")
}

// TestSecondTabAtAnotherStep: two tabs of one sign-in share its cookie.
// When one moves the flow on, a form the other still shows, posted, sends
// the browser to the step the flow is at, and does nothing else: the code
// is not checked (not counted as wrong, not spent if right), the flow
// does not move, no session starts. A cookie of an earlier step, or a
// forged one, is still refused (TestOldFlowCookie).
func TestSecondTabAtAnotherStep(t *testing.T) {
	s := newSite(t)
	c, signedIn := s.enrolled()
	expect(t, signedIn.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b := s.browser()
	s.clock.Advance(30 * time.Second)
	b.login(c, "/login/code")
	// Tab B: a recovery code moves the flow to the recovery screen.
	expect(t, b.post("/login/recovery", url.Values{"code": {c.recovery}}), http.StatusSeeOther, "/recovery-code")
	atRecovery := b.cookie("tobira_flow")
	// Tab A, still at the code screen: wrong codes, more than the lock
	// takes, and then the right one.
	for range 11 {
		r := b.post("/login/code", url.Values{"code": {s.wrongCode(c)}})
		expect(t, r, http.StatusSeeOther, "/recovery-code")
		if len(r.Cookies()) != 0 {
			t.Fatalf("the refused step set cookies: %v", r.Cookies())
		}
	}
	right := s.code(c)
	expect(t, b.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther, "/recovery-code")
	expect(t, b.post("/enrol", url.Values{"code": {right}}), http.StatusSeeOther, "/recovery-code")
	if b.cookie("tobira_session") != "" || b.cookie("tobira_flow") != atRecovery {
		t.Fatal("a form of another step changed the sign-in")
	}
	// Tab B goes on; the recovery screen shows the new code.
	rc := b.get("/recovery-code")
	expect(t, rc, http.StatusOK, "")
	m := recoveryRe.FindStringSubmatch(rc.body)
	if m == nil {
		t.Fatal("no recovery code on show")
	}
	c.recovery = m[1]
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/")
	// The app's code tab A sent was never checked: it still signs in, and
	// the eleven wrong ones closed nothing.
	other := s.browser()
	other.login(c, "/login/code")
	expect(t, other.post("/login/code", url.Values{"code": {right}}), http.StatusSeeOther, "/")

	// At enrolment: tab B confirmed the app, tab A sends the enrolment's
	// code again; no second factor is added.
	n := s.customer("new@example.jp")
	e := s.browser()
	e.login(n, "/enrol")
	page := e.get("/enrol")
	n.seed = strings.ReplaceAll(secretRe.FindStringSubmatch(page.body)[1], " ", "")
	expect(t, e.post("/enrol", url.Values{"code": {s.code(n)}}), http.StatusSeeOther, "/recovery-code")
	enrolled := s.methods(n)
	expect(t, e.post("/enrol", url.Values{"code": {s.code(n)}}), http.StatusSeeOther, "/recovery-code")
	if ms := s.methods(n); !slices.Equal(ms, enrolled) {
		t.Fatalf("methods after a second tab's enrolment form: %v, want %v", ms, enrolled)
	}
	// A later step's form with the flow at an earlier one leads back to
	// it too, and skips nothing.
	f := s.browser()
	f.login(s.customer("third@example.jp"), "/enrol")
	expect(t, f.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/enrol")
	if f.cookie("tobira_session") != "" {
		t.Fatal("a later step's form gave a session")
	}
}

// TestAnotherStepPhoneOnly: for an account whose second factor is its
// phone, the step a form of another step leads to is the phone's screen,
// as after the password, and going there sends no text.
func TestAnotherStepPhoneOnly(t *testing.T) {
	s, rec := phoneSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrolPhone(c, rec, "090-1234-5678", "sms")
	expect(t, b.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	b.login(c, "/login/phone")
	before := rec.Count()
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/login/phone")
	expect(t, b.post("/enrol", url.Values{"code": {"123456"}}), http.StatusSeeOther, "/login/phone")
	expect(t, b.get("/recovery-code"), http.StatusSeeOther, "/login/phone")
	if n := rec.Count() - before; n != 0 || b.cookie("tobira_session") != "" {
		t.Fatalf("forms of another step sent %d texts, or signed in", n)
	}
	expect(t, b.post("/login/phone", url.Values{"code": {rec.Last(t).Code}}), http.StatusSeeOther, "/")
}

// returnDeadline is the deadline stamped in a return cookie's value (the
// unix time between its two dots: secret.Keyring.Stamp).
func returnDeadline(t *testing.T, c *http.Cookie) time.Time {
	t.Helper()
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("return cookie %q is no stamp", c.Value)
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		t.Fatalf("return cookie %q: %v", c.Value, err)
	}
	return time.Unix(sec, 0)
}

// TestReturnCookieKeepsItsDeadline: the return cookie is set again at
// each step of a sign-in or step-up, and each time with the deadline it
// got when the flow started (the flow's end and the grace), and the
// Max-Age left until then: a flow kept open, step after step, or its
// page opened again and again, never moves it later. Only a new flow (a
// new password, a new step-up once the last expired) has a new one.
func TestReturnCookieKeepsItsDeadline(t *testing.T) {
	s := newSite(t)
	grace := s.svc.Config.SignInTTL()
	var deadline time.Time
	check := func(r *resp, what string) {
		t.Helper()
		rc := setCookieOf(r, "tobira_flow_return")
		if rc == nil {
			t.Fatalf("%s: no return cookie", what)
		}
		got := returnDeadline(t, rc)
		if deadline.IsZero() {
			deadline = got
		}
		if !got.Equal(deadline) {
			t.Errorf("%s: the return cookie's deadline is %v, was %v when the flow started", what, got, deadline)
		}
		if left := int(deadline.Sub(s.clock.Now()) / time.Second); rc.MaxAge > left+1 {
			t.Errorf("%s: Max-Age %d, only %d s are left until the deadline", what, rc.MaxAge, left)
		}
	}

	// A first sign-in, through enrolment (enrol_ttl), with pauses.
	c := s.customer("yamada@example.jp")
	b := s.clockBrowser()
	r := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/security"}})
	expect(t, r, http.StatusSeeOther, "/enrol")
	check(r, "password")
	if want := s.clock.Now().Add(s.svc.Config.EnrolTTL.Duration + grace).Truncate(time.Second); !deadline.Equal(want) {
		t.Fatalf("the first deadline is %v, want enrol_ttl + %v from the password: %v", deadline, grace, want)
	}
	s.clock.Advance(40 * time.Minute)
	page := b.get("/enrol")
	m := secretRe.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no key on the enrolment page:\n%s", excerpt(page.body))
	}
	c.seed = strings.ReplaceAll(m[1], " ", "")
	s.clock.Advance(10 * time.Minute)
	r = b.post("/enrol", url.Values{"code": {s.code(c)}})
	expect(t, r, http.StatusSeeOther, "/recovery-code")
	check(r, "enrolment code")

	// A step-up whose page is opened again and again while it waits.
	expect(t, b.post("/recovery-code", url.Values{"recorded": {"yes"}}), http.StatusSeeOther, "/security")
	s.clock.Advance(s.svc.Config.StepUpMaxAge.Duration + time.Minute)
	deadline = time.Time{}
	r = b.get("/security")
	expect(t, r, http.StatusSeeOther, "/login/code")
	check(r, "step-up")
	for range 3 {
		s.clock.Advance(4 * time.Minute)
		r = b.get("/security")
		expect(t, r, http.StatusSeeOther, "/login/code")
		check(r, "the step-up's page again")
	}
	// Past the flow's end it is a new step-up, with a deadline of its own.
	s.clock.Advance(s.svc.Config.FlowTTL.Duration)
	r = b.get("/security")
	expect(t, r, http.StatusSeeOther, "/login/code")
	if got := returnDeadline(t, setCookieOf(r, "tobira_flow_return")); !got.After(deadline) {
		t.Errorf("a new step-up's return cookie has the deadline %v of the one before", got)
	}
}

// TestExpiredSessionSaysSo: a browser that comes back after its session
// ran out (session_ttl after the sign-in) is told that its sign-in has
// ended, once, as one signed out from another device is: its cookie
// outlives the session (by session_ttl), where it went with it, and the
// login page said nothing, as to a browser that had never signed in.
func TestExpiredSessionSaysSo(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.clockBrowser()
	b.enrol(c)
	s.clock.Advance(s.svc.Config.SessionTTL.Duration + time.Hour)
	if !b.sends("tobira_session") {
		t.Fatal("the browser dropped its session cookie with the session")
	}
	r := b.get("/security")
	expect(t, r, http.StatusSeeOther, "/login?next=%2Fsecurity&e=ended")
	contains(t, b.get("/login?next=%2Fsecurity&e=ended"), "ログインが終了しています。")
	expect(t, b.get("/security"), http.StatusSeeOther, "/login?next=%2Fsecurity")

	// A session renewed by a step-up keeps its end, and its new cookie
	// outlives it too.
	b = s.clockBrowser()
	b.signIn(c)
	s.clock.Advance(s.svc.Config.SessionTTL.Duration - time.Hour)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login/code")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security")
	s.clock.Advance(2 * time.Hour)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login?next=%2Fsecurity&e=ended")

	// Long after, the browser is one that starts anew.
	b = s.clockBrowser()
	b.signIn(c)
	s.clock.Advance(2*s.svc.Config.SessionTTL.Duration + time.Minute)
	expect(t, b.get("/security"), http.StatusSeeOther, "/login?next=%2Fsecurity")
}
