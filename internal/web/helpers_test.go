package web_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
	"github.com/tobira/tobira/internal/web"
)

// t0 is 5 s into a TOTP step and into a 15-minute throttle window.
var t0 = time.Date(2026, 4, 1, 0, 0, 5, 0, time.UTC)

var jst = time.FixedZone("JST", 9*60*60)

// site is the portal's handler over a real service and SQLite store, served
// by httptest.
type site struct {
	t       testing.TB
	ctx     context.Context
	svc     *portal.Service
	clock   *testkit.Clock
	handler http.Handler
	srv     *httptest.Server
}

func newSite(t testing.TB, change ...func(*config.Config)) *site {
	t.Helper()
	cfg := testkit.Config(t, change...)
	db, err := sqlstore.OpenSQLite(cfg.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := portal.New(db, keys, cfg, log)
	clock := testkit.NewClock(t0)
	svc.Now = clock.Now
	h, err := web.New(svc, log)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return &site{t: t, ctx: t.Context(), svc: svc, clock: clock, handler: h, srv: srv}
}

// customer is an account with a password and what its owner knows.
type customer struct {
	email, password string
	acct            *store.Account
	seed, recovery  string
}

func (s *site) customer(email string) *customer {
	s.t.Helper()
	a, _, err := s.svc.OpenAccount(s.ctx, email, "山田 太郎", "operator:test")
	if err != nil {
		s.t.Fatal(err)
	}
	c := &customer{email: email, password: "correct horse battery", acct: a}
	if err := s.svc.SetPassword(s.ctx, a.ID, c.password); err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *site) code(c *customer) string {
	s.t.Helper()
	code, err := mfa.TOTPCode(c.seed, s.clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return code
}

func (s *site) wrongCode(c *customer) string {
	now := s.clock.Now()
	taken := map[string]bool{}
	for d := -1; d <= 1; d++ {
		code, _ := mfa.TOTPCode(c.seed, now.Add(time.Duration(d*30)*time.Second))
		taken[code] = true
	}
	for _, s := range []string{"000000", "111111", "222222", "333333"} {
		if !taken[s] {
			return s
		}
	}
	panic("unreachable")
}

func (s *site) methods(c *customer) []portal.Method {
	s.t.Helper()
	ms, err := s.svc.Methods(s.ctx, c.acct.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return ms
}

// tag is what the reset's form of c's security page names as its factors
// (the field factors), as the page would send it now.
func (s *site) tag(c *customer) string {
	s.t.Helper()
	_, tag, err := s.svc.MethodsTagged(s.ctx, c.acct.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return tag
}

// reset is the reset's form as c's security page sends it now: with the
// factors it names.
func (b *browser) reset(c *customer, header ...string) *resp {
	b.t.Helper()
	return b.post("/security/reset", url.Values{"factors": {b.s.tag(c)}}, header...)
}

// browser is a cookie-keeping client that does not follow redirects, so
// every step's status and Location can be checked.
type browser struct {
	t    testing.TB
	s    *site
	c    *http.Client
	jar  *cookiejar.Jar
	lang string // Accept-Language, when set
	ua   string // User-Agent, when set
}

func (s *site) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return &browser{t: s.t, s: s, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type resp struct {
	*http.Response
	body string
}

// text is the body with HTML entities decoded, for comparing messages.
func (r *resp) text() string { return html.UnescapeString(r.body) }

func (b *browser) do(req *http.Request) *resp {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	if b.ua != "" {
		req.Header.Set("User-Agent", b.ua)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return &resp{Response: res, body: string(body)}
}

func (b *browser) get(path string, header ...string) *resp {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.s.ctx, http.MethodGet, b.s.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) *resp {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.s.ctx, http.MethodPost, b.s.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.s.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.s.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// expect checks a response's status and, for a redirect, its Location.
func expect(t testing.TB, r *resp, status int, location string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, excerpt(r.body))
	}
	if location != "" {
		if got := r.Header.Get("Location"); got != location {
			t.Fatalf("%s %s: Location %q, want %q", r.Request.Method, r.Request.URL.Path, got, location)
		}
	}
}

func excerpt(body string) string {
	if i := strings.Index(body, `role="alert"`); i >= 0 {
		body = body[i:]
	}
	if len(body) > 400 {
		body = body[:400]
	}
	return body
}

func contains(t testing.TB, r *resp, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.text(), w) {
			t.Errorf("%s %s: page lacks %q\n%s", r.Request.Method, r.Request.URL.Path, w, excerpt(r.body))
		}
	}
}

// setCookieOf returns the response's Set-Cookie for name, or nil.
func setCookieOf(r *resp, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var (
	secretRe   = regexp.MustCompile(`<code class="secret" id="secret">([A-Z2-7 ]+)</code>`)
	recoveryRe = regexp.MustCompile(`<code id="recovery-code">([0-9A-Z]{24})</code>`)
)

// login sends the password form and expects the step it leads to.
func (b *browser) login(c *customer, wantLocation string) *resp {
	b.t.Helper()
	r := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}})
	expect(b.t, r, http.StatusSeeOther, wantLocation)
	return r
}

// enrolling is a customer, yamada@example.jp, past the password of a first
// sign-in: at the enrolment of a second factor.
func (s *site) enrolling() (*customer, *browser) {
	s.t.Helper()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.login(c, "/enrol")
	return c, b
}

// enrolled is a customer, yamada@example.jp, who has enrolled the app in
// a first sign-in and is signed in, and the browser they did it in.
func (s *site) enrolled() (*customer, *browser) {
	s.t.Helper()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrol(c)
	return c, b
}

// enrol is a first sign-in through every screen; it returns the session
// cookie's value.
func (b *browser) enrol(c *customer) string {
	b.t.Helper()
	b.login(c, "/enrol")
	page := b.get("/enrol")
	expect(b.t, page, http.StatusOK, "")
	m := secretRe.FindStringSubmatch(page.body)
	if m == nil {
		b.t.Fatalf("enrolment page shows no key:\n%s", page.body)
	}
	c.seed = strings.ReplaceAll(m[1], " ", "")
	expect(b.t, b.post("/enrol", url.Values{"code": {b.s.code(c)}}), http.StatusSeeOther, "/recovery-code")
	rc := b.get("/recovery-code")
	expect(b.t, rc, http.StatusOK, "")
	m = recoveryRe.FindStringSubmatch(rc.body)
	if m == nil {
		b.t.Fatalf("recovery page shows no code:\n%s", rc.body)
	}
	c.recovery = m[1]
	r := b.post("/recovery-code", url.Values{"recorded": {"yes"}})
	expect(b.t, r, http.StatusSeeOther, "/")
	return b.cookie("tobira_session")
}

// signIn is a later sign-in with the app, a TOTP step after the last one.
func (b *browser) signIn(c *customer) string {
	b.t.Helper()
	b.s.clock.Advance(30 * time.Second)
	b.login(c, "/login/code")
	expect(b.t, b.post("/login/code", url.Values{"code": {b.s.code(c)}}), http.StatusSeeOther, "/")
	return b.cookie("tobira_session")
}

func (s *site) live(token string) bool {
	_, err := s.svc.Session(s.ctx, token)
	return err == nil
}
