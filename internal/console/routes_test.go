package console_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/store"
)

// routeAccess is who may use each of the console's routes: "public" (no
// sign-in), "any" (every signed-in operator), "admin". A route added to
// console.go and missing here fails TestRouteAccess, so that every new
// route is tried as the attacks below.
var routeAccess = map[string]string{
	"GET /static/": "public", "GET /healthz": "public",
	"POST /lang": "public", "GET /login": "public", "POST /login": "public", "GET /login/code": "public",
	"POST /login/code": "public", "POST /logout": "public",

	"GET /{$}": "any", "GET /customers": "any", "GET /customers/new": "any", "POST /customers/new": "any",
	"GET /customers/{id}": "any", "POST /customers/{id}/resend": "any", "POST /customers/{id}/lock": "any",
	"POST /customers/{id}/unlock": "any", "POST /customers/{id}/reset-mfa": "any",
	"GET /resets": "any", "POST /resets/{id}/approve": "any", "POST /resets/{id}/reject": "any",
	"POST /resets/{id}/withdraw": "any", "GET /maintenance": "any", "GET /recoveries": "any",
	"POST /recoveries/{id}/propose": "any", "POST /recoveries/{id}/approve": "any", "POST /recoveries/{id}/reject": "any",
	"POST /recoveries/{id}/withdraw": "any", "GET /sites": "any", "GET /password": "any", "POST /password": "any",
	"GET /audit": "any",

	"POST /customers/{id}/erase": "admin", "POST /maintenance": "admin", "POST /maintenance/{id}/cancel": "admin",
	"GET /operators": "admin", "POST /operators/{id}/disable": "admin", "POST /operators/{id}/enable": "admin",
	"POST /operators/{id}/reset-2fa": "admin", "POST /operators/{id}/reset-password": "admin",
	"GET /operators/new": "admin", "POST /operators/new": "admin", "GET /operators/handover": "admin", "GET /audit.csv": "admin",
}

var routePattern = regexp.MustCompile(`s\.mux\.Handle(?:Func)?\("((?:GET|POST) [^"]*)",`)

// TestRouteAccess: a support operator is refused every admin route (403,
// nothing changed), posted to directly with the ids of real records; an
// operator with a one-time password reaches nothing but 「パスワードの変更」;
// a browser without a sign-in, or whose operator was disabled, reaches
// nothing but the sign-in.
func TestRouteAccess(t *testing.T) {
	src, err := os.ReadFile("console.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
		routes = append(routes, m[1])
		if _, ok := routeAccess[m[1]]; !ok {
			t.Errorf("route %q is not in routeAccess: say who may use it", m[1])
		}
	}
	if len(routes) != len(routeAccess) {
		t.Errorf("console.go has %d routes, routeAccess %d", len(routes), len(routeAccess))
	}

	s := newSite(t)
	ctx := t.Context()
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	supportSeed := s.operator("kim@tobira.example", store.RoleSupport)
	support := s.signIn("kim@tobira.example", supportSeed)
	a := s.customerWithFactor("yamada@example.jp")
	boss, err := s.db.OperatorByEmail(ctx, "boss@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	admin.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "端末の紛失")
	reset := s.openReset(a.ID)
	ids := map[string]string{"customers": a.ID, "operators": boss.ID, "resets": reset.ID, "maintenance": "m1", "recoveries": "r1"}
	path := func(route string) (method, p string) {
		method, p, _ = strings.Cut(route, " ")
		p = strings.TrimSuffix(p, "{$}")
		if i := strings.Index(p, "{id}"); i > 0 {
			p = strings.Replace(p, "{id}", ids[strings.Trim(p[:i], "/")], 1)
		}
		return method, p
	}
	// Every field any form of the console has, filled in as a legitimate
	// form would be.
	form := []string{"email", "x@tobira.example", "name", "X", "role", "admin", "confirm_email", a.Email,
		"erase_reason", "退会", "reason", "理由", "reset_reason", "理由", "start", "2026-04-02T02:00", "end", "2026-04-02T03:00"}
	operatorsBefore, _ := s.db.ListOperators(ctx)

	for _, route := range routes {
		if routeAccess[route] != "admin" {
			continue
		}
		method, p := path(route)
		resp, body := support.do(method, p, formOf(method, form))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "管理者のみ") {
			t.Errorf("support %s: %d, want 403", route, resp.StatusCode)
		}
	}
	if got, _ := s.db.AccountByID(ctx, a.ID); got.Erased() {
		t.Error("a support operator erased a customer")
	}
	if operatorsAfter, _ := s.db.ListOperators(ctx); !sameOperators(operatorsBefore, operatorsAfter) {
		t.Errorf("a support operator changed the operators:\n%+v\n%+v", operatorsBefore, operatorsAfter)
	}
	if ws, _ := s.db.ListMaintenance(ctx, t0, true); len(ws) != 0 {
		t.Errorf("a support operator scheduled maintenance: %+v", ws)
	}

	// An operator with a one-time password, and browsers signed in no more.
	n, err := console.AddOperator(ctx, s.svc, s.db, "new@tobira.example", "新人", store.RoleAdmin, "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	forced, at := s.signInAs("new@tobira.example", n.Password, n.TOTPSecret)
	if at != "/password" {
		t.Fatalf("a one-time password landed at %s", at)
	}
	disabled := s.signIn("kim@tobira.example", supportSeed)
	if _, err := console.DisableOperator(ctx, s.svc, s.db, "kim@tobira.example", "operator:test"); err != nil {
		t.Fatal(err)
	}
	for _, route := range routes {
		if routeAccess[route] == "public" {
			continue
		}
		method, p := path(route)
		for _, c := range []struct {
			who  string
			b    *browser
			want string
		}{{"signed out", s.browser(), "/login"}, {"disabled", disabled, "/login"}, {"one-time password", forced, "/password"}} {
			if c.want == "/password" && p == "/password" {
				continue
			}
			resp, _ := c.b.do(method, p, formOf(method, form))
			if resp.Request.URL.Path != c.want {
				t.Errorf("%s %s: at %s %d, want %s", c.who, route, resp.Request.URL.Path, resp.StatusCode, c.want)
			}
		}
	}
	if _, err := s.db.AccountLockOf(ctx, a.ID); err == nil {
		t.Error("a refused operator locked the customer")
	}
	if got := s.openReset(a.ID); got.ID != reset.ID || !got.Open() {
		t.Errorf("a refused operator decided the reset request: %+v", got)
	}
}

// formOf is the form of kv for a POST, nil for a GET.
func formOf(method string, kv []string) map[string][]string {
	if method != http.MethodPost {
		return nil
	}
	f := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = append(f[kv[i]], kv[i+1])
	}
	return f
}

// sameOperators tells whether two listings have the same operators with
// the same credentials and state.
func sameOperators(a, b []store.Operator) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.Disabled != y.Disabled || x.PasswordHash != y.PasswordHash || x.TOTPSecret != y.TOTPSecret ||
			x.Role != y.Role || !x.OneTimeUntil.Equal(y.OneTimeUntil) {
			return false
		}
	}
	return true
}

// TestOtherMethods: a console page asked with another method is told so
// (405, with the methods it takes), in the operator's language; a path with
// no page at all is not found.
func TestOtherMethods(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PUT", "/login", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"DELETE", "/login/code", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"GET", "/logout", http.StatusMethodNotAllowed, "POST"},
		{"PUT", "/nothing-here", http.StatusNotFound, ""},
		{"GET", "/nothing-here", http.StatusNotFound, ""},
	} {
		resp, body := b.do(tc.method, tc.path, nil)
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want %d, %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow)
		}
		want := "ページが見つかりません。"
		if tc.status == http.StatusMethodNotAllowed {
			want = "この操作はこのページでは行えません。"
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s %s: the page lacks %q", tc.method, tc.path, want)
		}
	}
}
