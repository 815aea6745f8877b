package sites

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// page is a site and a path on it.
type page struct {
	site http.Handler
	path string
}

// pages lists every page of both sites for the signed-in Hanako.
func pages(t *testing.T, e *env) []page {
	t.Helper()
	ctx := t.Context()
	apps, err := e.db.ApplicationsOf(ctx, hanako.AccountID)
	must(t, err)
	cons, err := e.db.ContractsOf(ctx, hanako.AccountID)
	must(t, err)
	invs, err := e.db.InvoicesOf(ctx, hanako.AccountID)
	must(t, err)
	return []page{
		{e.contracts, "/"},
		{e.contracts, "/applications/" + apps[0].Number},
		{e.contracts, "/contracts/" + cons[0].Number},
		{e.invoices, "/"},
		{e.invoices, "/invoices/" + invs[0].Number},
	}
}

func TestNotSignedInRedirects(t *testing.T) {
	e := newEnv(t)
	for _, p := range pages(t, e) {
		for _, path := range []string{p.path, p.path + "?x=1&y=%E6%89%89"} {
			r := do(t, p.site, req{path: path})
			if r.code != http.StatusSeeOther {
				t.Errorf("GET %s not signed in = %d, want 303", path, r.code)
				continue
			}
			if got, want := r.h.Get("Location"), e.auth.LoginURL(path); got != want {
				t.Errorf("GET %s: Location %q, want %q", path, got, want)
			}
			if r.h.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: redirect is cacheable", path)
			}
			lacks(t, path, r.body, "光回線", DemoIssuerRegistration)
		}
	}
	// An unknown customer (a session the portal no longer knows) too.
	r := do(t, e.contracts, req{path: "/", who: "nobody"})
	if r.code != http.StatusSeeOther {
		t.Errorf("unknown session = %d, want 303", r.code)
	}
}

// TestSignedOutPage: the top page a site's sign-out comes back to tells
// the visitor they signed out, in their language, with the way to sign in
// again; only there, and only when nobody is signed in.
func TestSignedOutPage(t *testing.T) {
	e := newEnv(t)
	for _, site := range []http.Handler{e.contracts, e.invoices} {
		r := do(t, site, req{path: "/?state=" + SignedOut})
		if r.code != http.StatusOK {
			t.Fatalf("GET /?state=%s = %d, want 200", SignedOut, r.code)
		}
		has(t, "signed-out page", r.body, "ログアウトしました", `href="`+html.EscapeString(e.auth.LoginURL("/"))+`"`, "もう一度ログインする")
		lacks(t, "signed-out page", r.body, hanako.Name)
		r = do(t, site, req{path: "/?state=" + SignedOut, lang: "en"})
		has(t, "signed-out page in English", r.body, "Signed out", "Sign in again")
		// Elsewhere, or with another state, a visitor goes to sign in.
		if r := do(t, site, req{path: "/?state=other"}); r.code != http.StatusSeeOther {
			t.Errorf("GET /?state=other not signed in = %d, want 303", r.code)
		}
		// Signed in (again, in another tab): the top page itself.
		if r := do(t, site, req{path: "/?state=" + SignedOut, who: "hanako"}); r.code != http.StatusOK || strings.Contains(r.body, "ログアウトしました") {
			t.Errorf("signed in: %d, the signed-out page shown", r.code)
		}
	}
}

func TestAccountMenu(t *testing.T) {
	e := newEnv(t)
	for _, p := range pages(t, e) {
		for lang, labels := range map[string][2]string{"ja": {"セキュリティ", "ログアウト"}, "en": {"Security", "Sign out"}} {
			r := do(t, p.site, req{path: p.path, who: "hanako", lang: lang})
			has(t, p.path+" "+lang, r.body,
				`<button type="button" class="account-icon" aria-haspopup="true" aria-expanded="false" aria-controls="account-menu"`,
				`<div class="account-menu" id="account-menu">`,
				esc(hanako.Name), hanako.Email,
				`<a href="`+e.auth.SecurityURL()+`">`+labels[0]+`</a>`,
				`<form method="post" action="`+e.auth.LogoutURL()+`"><button type="submit" class="menu-item">`+labels[1]+`</button></form>`,
				`<script src="/static/site.js?v=`, `" defer></script>`)
		}
	}
	// A customer without a name (the name is optional): the menu starts
	// with the address, not with an empty line.
	e.auth.Users["nameless"] = &User{AccountID: "acc-nameless", Email: "nameless@example.com"}
	for _, site := range []http.Handler{e.contracts, e.invoices} {
		r := do(t, site, req{path: "/", who: "nameless"})
		has(t, "nameless", r.body, `<p class="account-name"><small>nameless@example.com</small></p>`)
	}
	// Nobody signed in (an error page): no menu.
	r := do(t, e.contracts, req{path: "/no/such/page"})
	if r.code != http.StatusNotFound {
		t.Fatalf("unknown page = %d", r.code)
	}
	lacks(t, "page for nobody", r.body, "data-account-menu")
}

// inlineRE finds what a CSP without 'unsafe-inline' would block.
var inlineRE = regexp.MustCompile(`<script>|<script [^>]*>[^<]|\sstyle=|<style|\son[a-z]+=`)

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, p := range pages(t, e) {
		r := do(t, p.site, req{path: p.path, who: "hanako"})
		csp := r.h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
			"base-uri 'none'", "form-action 'self' https://portal.example"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows unsafe sources", p.path, csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Cache-Control": "no-store", "Referrer-Policy": "same-origin"} {
			if got := r.h.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", p.path, h, got, want)
			}
		}
		if m := inlineRE.FindString(r.body); m != "" {
			t.Errorf("%s: inline script or style %q that the CSP blocks", p.path, m)
		}
	}
	// Static files may be cached; they are the same for everyone.
	if r := do(t, e.contracts, req{path: "/static/site.js"}); !strings.HasPrefix(r.h.Get("Cache-Control"), "public") {
		t.Errorf("static Cache-Control %q", r.h.Get("Cache-Control"))
	}
}

func TestFormActionOrigins(t *testing.T) {
	for raw, want := range map[string]string{
		"https://portal.example/logout?x=1": "https://portal.example",
		"http://127.0.0.1:8080/security":    "http://127.0.0.1:8080",
		"/auth/logout":                      "",
		"javascript:alert(1)":               "",
		"https://a.example; script-src *":   "",
	} {
		if got := origin(raw); got != want {
			t.Errorf("origin(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		lang, cookie, want string
	}{
		{"", "", "ja"},
		{"en-US,en;q=0.9", "", "en"},
		{"fr-FR", "", "ja"},
		{"de, en;q=0.5", "", "en"},
		{"en", "ja", "ja"}, // the customer's choice beats the browser's
		{"ja", "en", "en"},
	} {
		r := do(t, e.invoices, req{path: "/", who: "hanako", lang: tc.lang, cookie: tc.cookie})
		has(t, tc.lang+"/"+tc.cookie, r.body, `<html lang="`+tc.want+`">`)
	}

	// The switch sets the cookie and goes back to the page it was on.
	r := do(t, e.contracts, req{method: "POST", path: "/lang", form: url.Values{"lang": {"en"}, "next": {"/contracts/C-1?x=1"}}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/contracts/C-1?x=1" {
		t.Errorf("POST /lang = %d to %q", r.code, r.h.Get("Location"))
	}
	if c := r.h.Get("Set-Cookie"); !strings.Contains(c, langCookie+"=en") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
		t.Errorf("Set-Cookie %q", c)
	}
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""} {
		r := do(t, e.contracts, req{method: "POST", path: "/lang", form: url.Values{"lang": {"ja"}, "next": {next}}})
		if r.h.Get("Location") != "/" {
			t.Errorf("next %q: Location %q, want /", next, r.h.Get("Location"))
		}
	}
	if r := do(t, e.contracts, req{method: "POST", path: "/lang", form: url.Values{"lang": {"fr"}}}); r.code != http.StatusBadRequest {
		t.Errorf("lang=fr = %d", r.code)
	}
	// A switch posted from another site is refused, in the visitor's language.
	r = do(t, e.contracts, req{method: "POST", path: "/lang", lang: "en", form: url.Values{"lang": {"en"}, "next": {"/"}},
		header: http.Header{"Sec-Fetch-Site": {"cross-site"}}})
	if r.code != http.StatusForbidden || r.h.Get("Set-Cookie") != "" {
		t.Errorf("cross-site POST /lang = %d, Set-Cookie %q", r.code, r.h.Get("Set-Cookie"))
	}
	has(t, "cross-site", r.body, "Requests from other sites are not accepted.")
}

func TestErrorPages(t *testing.T) {
	e := newEnv(t)
	r := do(t, e.contracts, req{path: "/nope", who: "hanako", lang: "en"})
	if r.code != http.StatusNotFound {
		t.Errorf("unknown path = %d", r.code)
	}
	has(t, "404", r.body, "The page you are looking for was not found.", "data-account-menu")

	r = do(t, e.invoices, req{method: "POST", path: "/", who: "hanako"})
	if r.code != http.StatusMethodNotAllowed || r.h.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d, Allow %q", r.code, r.h.Get("Allow"))
	}
	has(t, "405", r.body, "この操作はこのページでは行えません。")
	r = do(t, e.invoices, req{method: "POST", path: "/invoices/x", who: "hanako"})
	if r.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /invoices/x = %d", r.code)
	}
	// The language switch's path takes a POST only.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r = do(t, e.invoices, req{method: m, path: "/lang"})
		if r.code != http.StatusMethodNotAllowed || r.h.Get("Allow") != "POST" {
			t.Errorf("%s /lang = %d, Allow %q", m, r.code, r.h.Get("Allow"))
		}
		has(t, m+" /lang", r.body, "この操作はこのページでは行えません。")
	}

	// A body over the limit, and one that is not text.
	r = do(t, e.contracts, req{method: "POST", path: "/lang", form: url.Values{"lang": {"en"}, "pad": {strings.Repeat("a", maxBody)}}})
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /lang over the limit = %d", r.code)
	}
	has(t, "413", r.body, "送信されたデータが大きすぎます。")
	r = do(t, e.contracts, req{method: "POST", path: "/lang", form: url.Values{"lang": {"en"}, "next": {"/\x00"}}})
	if r.code != http.StatusBadRequest || r.h.Get("Set-Cookie") != "" {
		t.Errorf("POST /lang with a NUL = %d, Set-Cookie %q", r.code, r.h.Get("Set-Cookie"))
	}
	if r := do(t, e.contracts, req{path: "/?q=%ff"}); r.code != http.StatusBadRequest {
		t.Errorf("a query that is not text = %d", r.code)
	}

	// HEAD answers like GET, without a body.
	r = do(t, e.invoices, req{method: "HEAD", path: "/", who: "hanako"})
	if r.code != http.StatusOK || r.body != "" {
		t.Errorf("HEAD / = %d with %d bytes", r.code, len(r.body))
	}

	// Sign-in failing is an internal error: a reference, nothing of the cause.
	e.auth.Err = errors.New("token endpoint unreachable: secret=abc")
	r = do(t, e.contracts, req{path: "/", who: "hanako"})
	if r.code != http.StatusInternalServerError {
		t.Errorf("Auth failing = %d", r.code)
	}
	has(t, "500", r.body, "問題が発生しました。", r.h.Get("X-Request-Id"))
	lacks(t, "500", r.body, "secret", "unreachable")
}

func TestAuthRoutes(t *testing.T) {
	e := newEnv(t)
	var got string
	h, err := NewContracts(Deps{Store: e.db, Auth: e.auth, AuthRoutes: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
	})})
	must(t, err)
	r := do(t, h, req{path: "/auth/callback?code=x"})
	if got != "/auth/callback" || r.h.Get("Content-Security-Policy") == "" {
		t.Errorf("AuthRoutes saw %q; CSP %q", got, r.h.Get("Content-Security-Policy"))
	}
	if _, err := NewInvoices(Deps{Auth: e.auth}); err == nil {
		t.Error("NewInvoices without a store")
	}

	// A router's paths with another method, or paths it has not, get the
	// site's pages, not the router's plain text.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/login", func(w http.ResponseWriter, r *http.Request) { got = "login" })
	mux.HandleFunc("POST /auth/logout", func(w http.ResponseWriter, r *http.Request) { got = "logout" })
	h, err = NewContracts(Deps{Store: e.db, Auth: e.auth, AuthRoutes: mux})
	must(t, err)
	if r := do(t, h, req{path: "/auth/login"}); got != "login" || r.code != http.StatusOK {
		t.Errorf("GET /auth/login: %d, routed to %q", r.code, got)
	}
	for _, tc := range []struct {
		method, path string
		code         int
		allow, text  string
	}{
		{http.MethodGet, "/auth/logout", http.StatusMethodNotAllowed, "POST", "この操作はこのページでは行えません。"},
		{http.MethodPut, "/auth/login", http.StatusMethodNotAllowed, "GET, HEAD", "この操作はこのページでは行えません。"},
		{http.MethodGet, "/auth/nope", http.StatusNotFound, "", "お探しのページは見つかりませんでした。"},
		{http.MethodGet, "/static/nope.css", http.StatusNotFound, "", "お探しのページは見つかりませんでした。"},
		{http.MethodGet, "/static/", http.StatusNotFound, "", "お探しのページは見つかりませんでした。"},
	} {
		r := do(t, h, req{method: tc.method, path: tc.path})
		if r.code != tc.code || r.h.Get("Allow") != tc.allow || !strings.Contains(r.body, tc.text) {
			t.Errorf("%s %s: %d, Allow %q, want %d %q with 「%s」", tc.method, tc.path, r.code, r.h.Get("Allow"), tc.code, tc.allow, tc.text)
		}
	}
}

func TestSeedDemo(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	count := func(acc string) (int, int, int) {
		apps, err := e.db.ApplicationsOf(ctx, acc)
		must(t, err)
		cons, err := e.db.ContractsOf(ctx, acc)
		must(t, err)
		invs, err := e.db.InvoicesOf(ctx, acc)
		must(t, err)
		return len(apps), len(cons), len(invs)
	}
	// Again: nothing changes, nothing fails.
	must(t, SeedDemo(ctx, e.db, hanako.AccountID, now))
	if a, c, i := count(hanako.AccountID); a != 3 || c != 2 || i != 3 {
		t.Errorf("after seeding twice: %d applications, %d contracts, %d invoices", a, c, i)
	}
	// A second customer gets numbers of their own.
	must(t, SeedDemo(ctx, e.db, ichiro.AccountID, now))
	if a, c, i := count(ichiro.AccountID); a != 4 || c != 3 || i != 4 {
		t.Errorf("Ichiro after seeding: %d applications, %d contracts, %d invoices", a, c, i)
	}
	// Different statuses.
	apps, err := e.db.ApplicationsOf(ctx, hanako.AccountID)
	must(t, err)
	seen := map[store.ApplicationStatus]bool{}
	for _, a := range apps {
		seen[a.Status] = true
	}
	if len(seen) != 3 {
		t.Errorf("seeded statuses %v, want three different", seen)
	}
	// An unknown account is refused.
	if err := SeedDemo(ctx, e.db, "acc-none", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SeedDemo(unknown account) = %v, want ErrNotFound", err)
	}
}

// TestSignInRefusalsAsPages: the sign-in's refusals, which it writes as
// plain text in Japanese and English, show on the site's page in the
// customer's language; its answers to programs (a POST) and its pages stay
// as they are.
func TestSignInRefusalsAsPages(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/callback", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "ログインできませんでした。\nThe sign-in did not complete.", http.StatusBadRequest)
	})
	mux.HandleFunc("GET /auth/login", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://portal.example/authorize", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /auth/backchannel-logout", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid logout token", http.StatusBadRequest)
	})
	h, err := NewInvoices(Deps{Store: e.db, Auth: e.auth, AuthRoutes: mux})
	must(t, err)
	for lang, want := range map[string]string{"ja": "ログインできませんでした。", "en": "The sign-in did not complete."} {
		r := do(t, h, req{path: "/auth/callback?state=x", lang: lang})
		if r.code != http.StatusBadRequest || !strings.HasPrefix(r.h.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q, want 400 and the site's page", lang, r.code, r.h.Get("Content-Type"))
		}
		has(t, lang, r.body, `<p class="error" role="alert">`+want+`</p>`, `<html lang="`+lang+`"`)
	}
	if r := do(t, h, req{path: "/auth/login"}); r.code != http.StatusSeeOther || r.h.Get("Location") != "https://portal.example/authorize" {
		t.Errorf("GET /auth/login: %d to %q", r.code, r.h.Get("Location"))
	}
	r := do(t, h, req{method: http.MethodPost, path: "/auth/backchannel-logout"})
	if r.code != http.StatusBadRequest || r.body != "invalid logout token\n" {
		t.Errorf("POST /auth/backchannel-logout: %d %q", r.code, r.body)
	}
}
