package web_test

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// TestOversizedBody: a body over 64 KiB gets 413 with a message in the
// customer's language, and changes nothing.
func TestOversizedBody(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	form := url.Values{"email": {c.email}, "password": {c.password}, "pad": {strings.Repeat("a", 65<<10)}}.Encode()
	for _, tc := range []struct{ lang, msg string }{
		{"", "送信されたデータが大きすぎます。"},
		{"en", "The data sent is too large."},
	} {
		for _, path := range []string{"/login", "/login/code", "/security/reset", "/activate", "/lang"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.lang != "" {
				req.Header.Set("Accept-Language", tc.lang)
			}
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("POST %s with %d bytes: status %d, want 413", path, len(form), rec.Code)
				continue
			}
			if !strings.Contains(rec.Body.String(), tc.msg) {
				t.Errorf("POST %s: 413 page lacks %q", path, tc.msg)
			}
			for _, sc := range rec.Result().Cookies() {
				t.Errorf("POST %s: 413 set cookie %s", path, sc.Name)
			}
		}
	}
	// Just under the limit is an ordinary request.
	small := url.Values{"email": {c.email}, "password": {c.password}, "pad": {strings.Repeat("a", 60<<10)}}.Encode()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(small))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("a 60 KiB form: status %d, want 303", rec.Code)
	}
}

// TestOversizedBodyOverHTTP: the same over a real connection.
func TestOversizedBodyOverHTTP(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	r := b.post("/login", url.Values{"email": {"a@example.jp"}, "password": {strings.Repeat("p", 70<<10)}})
	expect(t, r, http.StatusRequestEntityTooLarge, "")
	contains(t, r, "送信されたデータが大きすぎます。")
}

// TestFormInOtherEncoding: a form sent as multipart/form-data (or any
// other encoding than the pages' own) is refused as such, 415 with a
// message in the customer's language, and changes nothing: a sign-in with
// both fields filled was told to fill them in, and a reset ran without the
// fields it had sent.
func TestFormInOtherEncoding(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	multipartOf := func(form url.Values) (string, string) {
		var body strings.Builder
		mw := multipart.NewWriter(&body)
		for k, vs := range form {
			for _, v := range vs {
				mw.WriteField(k, v)
			}
		}
		mw.Close()
		return body.String(), mw.FormDataContentType()
	}
	post := func(b *browser, path string, form url.Values, lang string) *resp {
		t.Helper()
		body, ct := multipartOf(form)
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		return b.do(req)
	}
	for _, tc := range []struct{ lang, msg string }{
		{"", "この送信形式には対応していません。"},
		{"en", "This way of sending the form is not supported."},
	} {
		r := post(s.browser(), "/login", url.Values{"email": {c.email}, "password": {c.password}}, tc.lang)
		expect(t, r, http.StatusUnsupportedMediaType, "")
		contains(t, r, tc.msg)
		if strings.Contains(r.text(), "メールアドレスとパスワードを入力してください。") {
			t.Errorf("a multipart sign-in is told to fill in the fields it filled")
		}
		if sc := setCookieOf(r, "tobira_flow"); sc != nil {
			t.Errorf("a refused multipart sign-in set the flow cookie")
		}
	}
	// Signed in, the reset refuses it too, and resets nothing.
	before := s.methods(c)
	r := post(b, "/security/reset", url.Values{"factors": {s.tag(c)}}, "")
	expect(t, r, http.StatusUnsupportedMediaType, "")
	if ms := s.methods(c); !slices.Equal(ms, before) {
		t.Errorf("a multipart reset changed the factors: %v, were %v", ms, before)
	}
	// The pages' own encoding signs in.
	s.browser().login(c, "/login/code")
}

func TestMalformedForm(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	for _, path := range []string{"/login", "/login/code", "/login/recovery", "/enrol", "/recovery-code", "/security/reset", "/activate", "/lang"} {
		for _, body := range []string{"email=%zz&password=x", "code=%", "a=%G1"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("POST %s %q: status %d, want 400", path, body, rec.Code)
				continue
			}
			if !strings.Contains(rec.Body.String(), "リクエストの形式が正しくありません。") {
				t.Errorf("POST %s: 400 page lacks the message", path)
			}
		}
	}
	// A malformed query string is malformed too.
	req := httptest.NewRequest(http.MethodPost, "/login?x=%zz", strings.NewReader(url.Values{"email": {c.email}, "password": {c.password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("malformed query: status %d, want 400", rec.Code)
	}
}

// TestSecurityHeaders: every response carries the CSP with frame-ancestors
// 'none' and nosniff; pages of the sign-in journey are never cached.
func TestSecurityHeaders(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	check := func(r *resp, page bool) {
		t.Helper()
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s %s: CSP %q", r.Request.Method, r.Request.URL.Path, csp)
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline or eval: %q", r.Request.URL.Path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", r.Request.URL.Path, h.Get("X-Content-Type-Options"))
		}
		if h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", r.Request.URL.Path, h.Get("X-Frame-Options"))
		}
		if h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: no Referrer-Policy", r.Request.URL.Path)
		}
		if page && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", r.Request.Method, r.Request.URL.Path, h.Get("Cache-Control"))
		}
		if page && !strings.HasPrefix(h.Get("Content-Type"), "text/html; charset=utf-8") {
			t.Errorf("%s: Content-Type %q", r.Request.URL.Path, h.Get("Content-Type"))
		}
	}
	check(b.get("/login"), true)
	check(b.post("/login", url.Values{"email": {c.email}, "password": {"wrong password"}}), true)
	check(b.get("/no/such/page"), true)
	check(b.get("/login/code"), false) // a redirect
	r := b.login(c, "/enrol")
	check(r, false)
	check(b.get("/enrol"), true)
	check(b.post("/enrol", url.Values{"code": {"000000"}}), true)
	check(b.get("/enrol/methods"), true)
	page := b.get("/enrol")
	c.seed = strings.ReplaceAll(secretRe.FindStringSubmatch(page.body)[1], " ", "")
	b.post("/enrol", url.Values{"code": {s.code(c)}})
	check(b.get("/recovery-code"), true)
	check(b.post("/recovery-code", nil), true)
	b.post("/recovery-code", url.Values{"recorded": {"yes"}})
	check(b.get("/"), true)
	check(b.get("/security"), true)
	check(b.get("/security/reset"), true)
	check(b.post("/security/reset", nil, "Sec-Fetch-Site", "cross-site"), true)
	check(b.get("/healthz"), false)
	st := b.get("/static/base.css")
	check(st, false)
	if st.StatusCode != http.StatusOK || !strings.Contains(st.Header.Get("Cache-Control"), "max-age") {
		t.Errorf("static: %d, Cache-Control %q", st.StatusCode, st.Header.Get("Cache-Control"))
	}
	nf := b.get("/no/such/page")
	expect(t, nf, http.StatusNotFound, "")
	contains(t, nf, "お探しのページは見つかりませんでした。")
	// Plain HTTP: no HSTS.
	if h := b.get("/login").Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS on plain HTTP: %q", h)
	}
}

func TestHealth(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	expect(t, b.get("/healthz"), http.StatusOK, "")
	expect(t, b.get("/readyz"), http.StatusOK, "")

	// A database that refuses every write (SQLite after a failed sync of
	// its log) takes the node out of the rotation; it is still alive.
	s.svc.Store = refusingWrites{s.svc.Store}
	r := b.get("/readyz")
	expect(t, r, http.StatusServiceUnavailable, "")
	contains(t, r, "database refuses writes")
	expect(t, b.get("/healthz"), http.StatusOK, "")
}

// refusingWrites is a store whose Writable says it refuses writes.
type refusingWrites struct{ store.Store }

func (refusingWrites) Writable() error { return errors.New("syncing the write-ahead log failed") }

// TestSecureCookiesOverHTTPS: with an https base URL every cookie is Secure
// and HSTS is sent.
func TestSecureCookiesOverHTTPS(t *testing.T) {
	s := newSite(t, func(c *config.Config) { c.BaseURL = "https://portal.example.jp" })
	c := s.customer("yamada@example.jp")
	req := httptest.NewRequest(http.MethodPost, "https://portal.example.jp/login",
		strings.NewReader(url.Values{"email": {c.email}, "password": {c.password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("status %d", rec.Code)
	}
	var flow *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "__Host-tobira_flow" {
			flow = ck
		}
	}
	if flow == nil || !flow.Secure || !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode || flow.Path != "/" || flow.Domain != "" {
		t.Fatalf("flow cookie %+v: want __Host-tobira_flow, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain", flow)
	}
	if !strings.Contains(rec.Header().Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("no HSTS: %q", rec.Header().Get("Strict-Transport-Security"))
	}
	lang := httptest.NewRequest(http.MethodPost, "https://portal.example.jp/lang", strings.NewReader("lang=en&next=/login"))
	lang.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	s.handler.ServeHTTP(rec, lang)
	for _, ck := range rec.Result().Cookies() {
		if !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie %s: Secure %v HttpOnly %v", ck.Name, ck.Secure, ck.HttpOnly)
		}
	}
}

// TestLanguage: Japanese by default; English from Accept-Language, and from
// the customer's own choice, which wins over the browser's.
func TestLanguage(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")

	ja := s.browser()
	r := ja.get("/login")
	contains(t, r, `<html lang="ja">`, "ログイン", "メールアドレス")

	en := s.browser()
	en.lang = "en-GB,en;q=0.9"
	r = en.get("/login")
	contains(t, r, `<html lang="en">`, "Sign in", "Email address", "Password", "Continue")
	if strings.Contains(r.body, "メールアドレス") {
		t.Error("the English page has Japanese labels")
	}
	r = en.post("/login", url.Values{"email": {c.email}, "password": {"wrong password"}})
	expect(t, r, http.StatusUnauthorized, "")
	contains(t, r, "The email address or password is incorrect.")

	other := s.browser()
	other.lang = "fr-FR,de;q=0.8"
	contains(t, other.get("/login"), `<html lang="ja">`)

	// The customer's choice.
	pick := s.browser()
	pick.lang = "ja"
	r = pick.post("/lang", url.Values{"lang": {"en"}, "next": {"/login?e=expired"}})
	expect(t, r, http.StatusSeeOther, "/login?e=expired")
	lc := setCookieOf(r, "tobira_lang")
	if lc == nil || lc.Value != "en" || !lc.HttpOnly || lc.SameSite != http.SameSiteLaxMode {
		t.Fatalf("language cookie %+v", lc)
	}
	r = pick.get("/login?e=expired")
	contains(t, r, `<html lang="en">`, "Sign in", "Your sign-in has expired.")
	r = pick.post("/lang", url.Values{"lang": {"ja"}, "next": {"//evil.example/"}})
	expect(t, r, http.StatusSeeOther, "/")
	contains(t, pick.get("/login"), `<html lang="ja">`)
	for _, bad := range []string{"", "fr", "EN", "en-US"} {
		r = pick.post("/lang", url.Values{"lang": {bad}})
		expect(t, r, http.StatusBadRequest, "")
	}

	// The whole sign-in in English.
	en.login(c, "/enrol")
	contains(t, en.get("/enrol"), "Set up two-step verification", "One-time code")
}

// TestInputThatIsNotText: a query or form with bytes that are not text
// (invalid UTF-8, a NUL) gets 400 and the page that says the request was
// malformed, before any route reads it; the provider's endpoints for
// programs answer as OAuth does. A User-Agent that is not text, or whose
// 300th byte falls inside a character, is stored as text: PostgreSQL
// refused the whole sign-in's audit event for it.
func TestInputThatIsNotText(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	for _, target := range []string{"/login?next=%ff", "/oidc/login?id=%00", "/authorize/callback?id=%ff", "/reset-password?token=a%00"} {
		r := b.get(target)
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, "リクエストの形式が正しくありません。")
	}
	r := b.post("/forgot", url.Values{"email": {"yamada@example.jp\x00"}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, "リクエストの形式が正しくありません。")
	res, err := http.Get(s.srv.URL + "/oauth/introspect?token=%ff")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"error":"invalid_request"`) {
		t.Errorf("the token endpoint's family: %d %s, want 400 invalid_request", res.StatusCode, body)
	}

	for _, ua := range []string{strings.Repeat("A", 299) + "日本", "Mozilla \xff\xfe (X11)"} {
		s.clock.Advance(30 * time.Second)
		other := s.browser()
		other.ua = ua
		other.login(c, "/login/code")
		events, err := s.svc.Store.AuditOf(t.Context(), c.acct.ID, 1)
		if err != nil || len(events) != 1 {
			t.Fatalf("audit: %v, %d events", err, len(events))
		}
		got := events[0].UserAgent
		if !utf8.ValidString(got) || len(got) > 300 || strings.ContainsRune(got, 0) {
			t.Errorf("User-Agent %.20q stored as %q", ua, got)
		}
	}
}

// TestHeadersTooLarge: a browser carrying too many cookies gets the portal's
// page in its language, not Go's plain text.
func TestHeadersTooLarge(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	r := b.get("/login", "Cookie", "tracking="+strings.Repeat("x", webkit.MaxHeaderBytes))
	expect(t, r, http.StatusRequestHeaderFieldsTooLarge, "")
	contains(t, r, "ブラウザから送られた情報 (Cookie) が大きすぎるため、表示できません。")
	expect(t, b.get("/login", "Cookie", "tracking="+strings.Repeat("x", 4<<10)), http.StatusOK, "")
}

// TestRefetchMarksGetPages: a page got by GET carries data-refetch, so that
// app.js asks for it again when the back button brings it back from the
// browser's memory; a page answering a POST does not, as asking again
// would send the form again.
func TestRefetchMarksGetPages(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	page := b.get("/login")
	expect(t, page, http.StatusOK, "")
	if !strings.Contains(page.body, "<body data-refetch>") {
		t.Errorf("GET /login: the page is not marked data-refetch")
	}
	refused := b.post("/login", url.Values{"email": {"nobody@example.jp"}, "password": {"wrong password"}})
	expect(t, refused, http.StatusUnauthorized, "")
	if strings.Contains(refused.body, "data-refetch") {
		t.Errorf("POST /login: the page answering the form is marked data-refetch")
	}
}

// TestErrorPages: an error page's heading says what happened (a page not
// found, a link that cannot be used, a request not processed) and comes
// first, its message after it as the alert; a page without a form has no
// form-error for fields to point to. The heading said 「エラー」, and
// followed the message.
func TestErrorPages(t *testing.T) {
	s := newSite(t)
	c, signedIn := s.enrolled()
	heading := regexp.MustCompile(`(?s)<main id="main"[^>]*>\s*<h1>([^<]*)</h1>\s*<p class="error" role="alert">([^<]*)</p>`)
	en := s.browser()
	en.lang = "en"
	for _, tc := range []struct {
		name         string
		r            *resp
		status       int
		title, alert string
	}{
		{"no page", s.browser().get("/no-such-page"), http.StatusNotFound, "ページが見つかりません", "お探しのページは見つかりませんでした。"},
		{"no page, signed in", signedIn.get("/no-such-page"), http.StatusNotFound, "ページが見つかりません", "お探しのページは見つかりませんでした。"},
		{"no page, English", en.get("/no-such-page"), http.StatusNotFound, "Page not found", "The page you were looking for was not found."},
		{"a spent link", s.browser().get("/not-me?token=no-such-token"), http.StatusNotFound, "このリンクは使用できません", "このリンクは無効か"},
		{"a bad request", s.browser().post("/lang", url.Values{"lang": {"fr"}}), http.StatusBadRequest, "リクエストを処理できませんでした", "リクエストの形式が正しくありません。"},
		{"a bad request, English", en.post("/lang", url.Values{"lang": {"fr"}}), http.StatusBadRequest, "Your request could not be processed", ""},
		{"another method", s.browser().post("/security", nil), http.StatusMethodNotAllowed, "リクエストを処理できませんでした", "この操作はこのページでは行えません。"},
	} {
		if tc.r.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, tc.r.StatusCode, tc.status)
		}
		m := heading.FindStringSubmatch(tc.r.text())
		if m == nil {
			t.Errorf("%s: the page does not open with a heading and then its alert:\n%s", tc.name, excerpt(tc.r.body))
			continue
		}
		if m[1] != tc.title || !strings.HasPrefix(m[2], tc.alert) {
			t.Errorf("%s: heading %q, alert %q; want %q, %q…", tc.name, m[1], m[2], tc.title, tc.alert)
		}
		if want := "<title>" + tc.title + " | "; !strings.Contains(tc.r.text(), want) {
			t.Errorf("%s: the title is not %q…", tc.name, want)
		}
		if strings.Contains(tc.r.body, "form-error") || strings.Count(tc.r.body, `role="alert"`) != 1 {
			t.Errorf("%s: the page has a form-error, or not one alert:\n%s", tc.name, excerpt(tc.r.body))
		}
	}
	// A page with a form keeps its error before the form, for its fields.
	r := s.browser().post("/login", url.Values{"email": {c.email}})
	expect(t, r, http.StatusBadRequest, "")
	contains(t, r, `<p class="error" role="alert" id="form-error">`, `aria-describedby="form-error"`)
}
