package console_test

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// freshRoutes are the dangerous actions: they ask for the code again when
// the session's was typed console_reauth_after ago or longer. Every other
// POST is never asked.
var freshRoutes = map[string]bool{
	"POST /customers/{id}/erase": true, "POST /customers/{id}/unlock": true,
	"POST /resets/{id}/approve": true, "POST /recoveries/{id}/approve": true,
	"POST /operators/new": true, "POST /operators/{id}/disable": true, "POST /operators/{id}/enable": true,
	"POST /operators/{id}/reset-2fa": true, "POST /operators/{id}/reset-password": true,
}

const reauthTitle = "認証コードの再確認"

// stale lets the signed-in sessions' codes grow as old as the console asks
// again at, without their sign-ins ending.
func (s *site) stale() { s.clock.Advance(s.svc.Config.ConsoleReauthAfter.Duration) }

// code is the operator's code now.
func (s *site) code(seed string) string {
	s.t.Helper()
	code, err := mfa.TOTPCode(seed, s.clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return code
}

// wrongCode is six digits other than the operator's code now.
func (s *site) wrongCode(seed string) string {
	if code := s.code(seed); code != "000000" {
		return "000000"
	}
	return "111111"
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// reauthForm is what the confirmation page posts, code aside; it fails
// the test when body is no confirmation page for path.
func reauthForm(t *testing.T, body, path string) url.Values {
	t.Helper()
	_, f, ok := strings.Cut(body, `<form method="post" action="`+path+`"`)
	f, _, _ = strings.Cut(f, "</form>")
	if !ok || !strings.Contains(body, "<h1>"+reauthTitle+"</h1>") ||
		!strings.Contains(f, `<input id="reauth-code" name="reauth_code" type="text" inputmode="numeric" autocomplete="one-time-code"`) {
		t.Fatalf("no confirmation page for %s:\n%s", path, body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(f, -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return form
}

// adminAndKim signs in boss, an admin (seed is their TOTP key), and adds
// kim, a support operator for boss to manage.
func (s *site) adminAndKim() (seed string, admin *browser, kim *store.Operator) {
	s.t.Helper()
	seed = s.operator("boss@tobira.example", store.RoleAdmin)
	admin = s.signIn("boss@tobira.example", seed)
	s.operator("kim@tobira.example", store.RoleSupport)
	kim, err := s.db.OperatorByEmail(s.t.Context(), "kim@tobira.example")
	if err != nil {
		s.t.Fatal(err)
	}
	return seed, admin, kim
}

// sessionOf is the store's record of b's console session.
func (b *browser) sessionOf() *store.OperatorSession {
	b.s.t.Helper()
	u, _ := url.Parse(b.s.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == console.CookieName {
			ss, err := b.s.db.OperatorSessionByHash(b.s.t.Context(), secret.Hash(c.Value))
			if err != nil {
				b.s.t.Fatal(err)
			}
			return ss
		}
	}
	b.s.t.Fatal("no console cookie")
	return nil
}

// TestReauthRoutes: with a code as old as console_reauth_after, every
// dangerous POST answers the confirmation page (403), does nothing, and
// carries the form; every other POST goes ahead as before. A session
// just signed in is not asked.
func TestReauthRoutes(t *testing.T) {
	src, err := os.ReadFile("console.go")
	if err != nil {
		t.Fatal(err)
	}
	var posts []string
	for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
		if strings.HasPrefix(m[1], "POST ") && routeAccess[m[1]] != "public" {
			posts = append(posts, m[1])
		}
	}
	for route := range freshRoutes {
		if routeAccess[route] == "" {
			t.Errorf("freshRoutes names %q, which console.go does not have", route)
		}
	}

	s := newSite(t)
	ctx := t.Context()
	bossSeed := s.operator("boss@tobira.example", store.RoleAdmin)
	admin := s.signIn("boss@tobira.example", bossSeed)
	support := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	kim, err := s.db.OperatorByEmail(ctx, "kim@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	a := s.customerWithFactor("yamada@example.jp")
	// Another operator's request, which the admin may approve.
	support.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "端末の紛失")
	reset := s.openReset(a.ID)
	if err := s.db.LockAccount(ctx, &store.AccountLock{AccountID: a.ID, LockedBy: "operator:test", Reason: "調査中", At: t0}); err != nil {
		t.Fatal(err)
	}
	rec := &store.RecoveryRequest{ID: "rec-1", AccountID: a.ID, ConfirmTokenHash: secret.Hash("tok"), CreatedAt: t0,
		ConfirmExpiresAt: t0.Add(time.Hour)}
	if err := s.db.CreateRecoveryRequest(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ConfirmRecoveryRequest(ctx, secret.Hash("tok"), t0, 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"customers": a.ID, "operators": kim.ID, "resets": reset.ID, "maintenance": "m1", "recoveries": rec.ID}
	operatorsBefore, _ := s.db.ListOperators(ctx)
	form := []string{"email", "x@tobira.example", "name", "X", "role", "admin", "confirm_email", a.Email,
		"erase_reason", "退会", "reason", "理由", "reset_reason", "理由", "start", "2026-04-02T02:00", "end", "2026-04-02T03:00"}

	s.stale()
	for _, route := range posts {
		_, p, _ := strings.Cut(route, " ")
		if i := strings.Index(p, "{id}"); i > 0 {
			p = strings.Replace(p, "{id}", ids[strings.Trim(p[:i], "/")], 1)
		}
		resp, body := admin.do("POST", p, formOf("POST", form))
		asked := strings.Contains(body, reauthTitle)
		switch {
		case freshRoutes[route] && (!asked || resp.StatusCode != http.StatusForbidden):
			t.Errorf("%s with a stale code: %d, want 403 and the confirmation page", route, resp.StatusCode)
		case freshRoutes[route]:
			if want := formOf("POST", form); !reflect.DeepEqual(map[string][]string(reauthForm(t, body, p)), want) {
				t.Errorf("%s: the page carries %v, want %v", route, reauthForm(t, body, p), want)
			}
			// Cancel goes back to the page of the form.
			cancel := "/" + strings.Split(p, "/")[1]
			if strings.HasPrefix(p, "/customers/") {
				cancel = "/customers/" + a.ID
			}
			if !strings.Contains(body, `<a href="`+cancel+`">実行せずに戻る</a>`) {
				t.Errorf("%s: the page's cancel does not go to %s:\n%s", route, cancel, body)
			}
		case asked:
			t.Errorf("%s asks for the code again; it is not a dangerous action", route)
		}
	}
	if got, _ := s.db.AccountByID(ctx, a.ID); got.Erased() {
		t.Error("erased with a stale code")
	}
	if _, err := s.db.AccountLockOf(ctx, a.ID); err != nil {
		t.Errorf("unlocked with a stale code: %v", err)
	}
	if got, err := s.db.PendingRecoveryOf(ctx, a.ID); err != nil || got.ApprovedBy != "" {
		t.Errorf("the recovery approved with a stale code: %+v, %v", got, err)
	}
	if n := s.factors(a.ID); n != 1 {
		t.Errorf("the reset approved with a stale code: %d factors left, want 1", n)
	}
	if operatorsAfter, _ := s.db.ListOperators(ctx); !sameOperators(operatorsBefore, operatorsAfter) {
		t.Errorf("the operators changed with a stale code:\n%+v\n%+v", operatorsBefore, operatorsAfter)
	}
	if acts := strings.Join(s.auditActions(""), "\n"); strings.Contains(acts, "console.reauth") {
		t.Errorf("a confirmation page shown is recorded as a confirmation:\n%s", acts)
	}

	// Just signed in, the code is fresh: nothing is asked.
	admin = s.signIn("boss@tobira.example", bossSeed)
	resp, body := admin.post("/customers/" + a.ID + "/unlock")
	if strings.Contains(body, reauthTitle) || resp.Request.URL.Path != "/customers/"+a.ID {
		t.Errorf("unlock just after the sign-in: at %s %d, want the customer's page", resp.Request.URL.Path, resp.StatusCode)
	}
	if _, err := s.db.AccountLockOf(ctx, a.ID); err == nil {
		t.Error("unlock just after the sign-in did not unlock")
	}
}

// TestReauthRightCode: with a stale code, the right code typed on the
// confirmation page does the action in the same POST and makes the
// session's code fresh again: the next dangerous action within the
// window is not asked. The confirmation is recorded.
func TestReauthRightCode(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed, admin, kim := s.adminAndKim()
	a := s.customerWithFactor("yamada@example.jp")
	path := "/customers/" + a.ID + "/erase"

	s.stale()
	resp, body := admin.post(path, "confirm_email", a.Email, "erase_reason", "本人から退会の申し出")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("erase with a stale code: %d, want 403", resp.StatusCode)
	}
	form := reauthForm(t, body, path)
	form.Set("reauth_code", s.code(seed))
	before := admin.sessionOf()
	resp, body = admin.do("POST", path, form)
	if resp.Request.URL.Path != "/customers/"+a.ID || !strings.Contains(body, "アカウントを削除しました。") {
		t.Fatalf("erase with the right code: at %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if got, err := s.db.AccountByID(ctx, a.ID); err != nil || !got.Erased() {
		t.Fatalf("the account after the right code: %+v, %v", got, err)
	}
	if ss := admin.sessionOf(); !ss.MFAAt.Equal(s.clock.Now()) {
		t.Errorf("the session's code was typed at %v after the confirmation, want now (%v)", ss.MFAAt, s.clock.Now())
	}
	// The step-up gave the session a new id, as a sign-in does: the
	// cookie from before it opens nothing.
	if ss := admin.sessionOf(); ss.IDHash == before.IDHash || !ss.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("the session after the step-up: %+v, before %+v; want a new id, the same sign-in", ss, before)
	}
	if _, err := s.db.OperatorSessionByHash(ctx, before.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session's id from before the step-up: %v, want not found", err)
	}
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{Action: store.ActionConsoleReauth})
	if err != nil || len(evs) != 1 || evs[0].Outcome != "ok" || evs[0].Actor != "operator:boss@tobira.example" || evs[0].Detail != path {
		t.Errorf("console.reauth events: %+v, %v", evs, err)
	}

	// Within the window, the next dangerous action goes ahead at once.
	s.clock.Advance(s.svc.Config.ConsoleReauthAfter.Duration - time.Second)
	resp, body = admin.post("/operators/" + kim.ID + "/disable")
	if strings.Contains(body, reauthTitle) || resp.Request.URL.Path != "/operators" {
		t.Errorf("disable within the window: at %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if got, _ := s.db.OperatorByID(ctx, kim.ID); !got.Disabled {
		t.Error("disable within the window did not disable")
	}
	// Past it, it is asked again.
	s.clock.Advance(time.Second)
	if resp, body := admin.post("/operators/" + kim.ID + "/enable"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, reauthTitle) {
		t.Errorf("enable past the window: %d, want 403 and the confirmation page", resp.StatusCode)
	}
	if got, _ := s.db.OperatorByID(ctx, kim.ID); !got.Disabled {
		t.Error("enabled past the window without the code")
	}
}

// TestReauthWrongCode: a wrong or malformed code answers the page again
// (422) with a message, does nothing and counts toward the operator's
// lock; once locked, even the right code is refused (429). An empty code
// asks for one (400) and is not counted.
func TestReauthWrongCode(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed, admin, kim := s.adminAndKim()
	path := "/operators/" + kim.ID + "/disable"
	s.stale()
	mfaAt := admin.sessionOf().MFAAt

	// Sent empty, the code is asked for: there was nothing to check.
	for _, code := range []string{"", "  ", "\u3000"} {
		resp, body := admin.do("POST", path, url.Values{"reauth_code": {code}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "認証アプリに表示されている6桁のコードを入力してください。操作は実行していません。") ||
			strings.Contains(body, "コードが正しくありません") {
			t.Errorf("code %q: %d, want 400 asking for the code\n%s", code, resp.StatusCode, body)
		}
		if f := reauthForm(t, body, path); len(f) != 0 {
			t.Errorf("code %q: the page again carries %v, want nothing", code, f)
		}
		if op, _ := s.db.OperatorByEmail(ctx, "boss@tobira.example"); op.MFAFailures != 0 {
			t.Errorf("after code %q: %d wrong codes counted, want none", code, op.MFAFailures)
		}
	}
	if evs, _ := s.db.ListAudit(ctx, store.AuditFilter{Action: store.ActionConsoleReauth}); len(evs) != 0 {
		t.Errorf("an empty code is recorded: %+v", evs)
	}

	for i, code := range []string{s.wrongCode(seed), "12ab56", "1234567"} {
		resp, body := admin.do("POST", path, url.Values{"reauth_code": {code}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "コードが正しくありません。操作は実行していません。") {
			t.Errorf("code %q: %d, want 422 with the message\n%s", code, resp.StatusCode, body)
		}
		if f := reauthForm(t, body, path); len(f) != 0 {
			t.Errorf("code %q: the page again carries %v, want nothing (the code is typed anew)", code, f)
		}
		if op, _ := s.db.OperatorByEmail(ctx, "boss@tobira.example"); op.MFAFailures != i+1 {
			t.Errorf("after code %q: %d wrong codes counted, want %d", code, op.MFAFailures, i+1)
		}
	}
	if got, _ := s.db.OperatorByID(ctx, kim.ID); got.Disabled {
		t.Error("disabled with a wrong code")
	}
	if ss := admin.sessionOf(); !ss.MFAAt.Equal(mfaAt) {
		t.Errorf("a wrong code moved the session's code to %v", ss.MFAAt)
	}
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{Action: store.ActionConsoleReauth, Outcome: "fail"})
	if err != nil || len(evs) != 3 {
		t.Errorf("console.reauth fail events: %d, %v; want 3", len(evs), err)
	}

	// The lock of the sign-in's code step: the tenth wrong code in a row
	// closes it, and the right code is refused while it is closed.
	for range mfa.FailuresPerLock - 3 {
		admin.post(path, "reauth_code", s.wrongCode(seed))
	}
	resp, body := admin.post(path, "reauth_code", s.code(seed))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "までコードの入力を停止しています") {
		t.Errorf("the right code while locked: %d, want 429\n%s", resp.StatusCode, body)
	}
	if got, _ := s.db.OperatorByID(ctx, kim.ID); got.Disabled {
		t.Error("disabled while the operator's code step is closed")
	}
	b := s.browser()
	b.post("/login", "email", "boss@tobira.example", "password", password)
	if resp, _ := b.post("/login/code", "code", s.code(seed)); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("sign-in after the confirmation's wrong codes: %d, want 429 (the same lock)", resp.StatusCode)
	}
}

// TestReauthReplay: a code whose TOTP step was accepted already, here by
// the same operator's other browser, is refused as a wrong one.
func TestReauthReplay(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("boss@tobira.example", store.RoleAdmin)
	one := s.signIn("boss@tobira.example", seed)
	s.clock.Advance(time.Minute) // the next sign-in's code is of another step
	two := s.signIn("boss@tobira.example", seed)
	s.operator("kim@tobira.example", store.RoleSupport)
	s.operator("lee@tobira.example", store.RoleSupport)
	kim, _ := s.db.OperatorByEmail(ctx, "kim@tobira.example")
	lee, _ := s.db.OperatorByEmail(ctx, "lee@tobira.example")
	s.stale()

	code := s.code(seed)
	if resp, _ := one.post("/operators/"+kim.ID+"/disable", "reauth_code", code); resp.Request.URL.Path != "/operators" {
		t.Fatalf("the first use of the code: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	resp, body := two.post("/operators/"+lee.ID+"/disable", "reauth_code", code)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "コードが正しくありません") {
		t.Errorf("the code again: %d, want 422", resp.StatusCode)
	}
	if got, _ := s.db.OperatorByID(ctx, lee.ID); got.Disabled {
		t.Error("disabled with a replayed code")
	}
	if op, _ := s.db.OperatorByEmail(ctx, "boss@tobira.example"); op.MFAFailures != 1 {
		t.Errorf("the replay counted %d wrong codes, want 1", op.MFAFailures)
	}
}

// TestReauthEscapesForm: what the operator typed comes back in the
// confirmation page's hidden fields as text, markup included, and reaches
// the action as it was typed; the page is in the operator's language.
func TestReauthEscapesForm(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("boss@tobira.example", store.RoleAdmin)
	admin := s.signIn("boss@tobira.example", seed)
	a := s.customerWithFactor("yamada@example.jp")
	path := "/customers/" + a.ID + "/erase"
	reason := `退会 "><script>alert(1)</script> & 'x'`
	s.stale()

	resp, body := admin.post(path, "confirm_email", a.Email, "erase_reason", reason)
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "<script>") {
		t.Fatalf("the confirmation page: %d, the reason unescaped:\n%s", resp.StatusCode, body)
	}
	form := reauthForm(t, body, path)
	if form.Get("erase_reason") != reason {
		t.Fatalf("the page carries the reason %q, want %q", form.Get("erase_reason"), reason)
	}
	form.Set("reauth_code", s.code(seed))
	admin.do("POST", path, form)
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{AccountID: a.ID, Action: store.ActionAccountErase})
	if err != nil || len(evs) != 1 || evs[0].Detail != reason {
		t.Errorf("account.erase events: %+v, %v; want the reason %q", evs, err, reason)
	}

	// In English for an operator whose browser asks for it.
	s.stale()
	resp, body = admin.do("POST", "/operators/new", url.Values{"email": {"x@tobira.example"}, "name": {"X"}, "role": {"support"}},
		"Accept-Language", "en")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "<h1>Confirm with your code</h1>") ||
		!strings.Contains(body, "needs the code from your authenticator app again") {
		t.Errorf("the confirmation page in English: %d\n%s", resp.StatusCode, body)
	}
	if _, err := s.db.OperatorByEmail(ctx, "x@tobira.example"); err == nil {
		t.Error("an operator added with a stale code")
	}
}

// TestReauthAdminFirst: an admin's dangerous action posted by a support
// operator (whose page shows no such button) is refused as admin-only at
// once, code or none: no confirmation page, no code spent on a refusal,
// no console.reauth in the audit log.
func TestReauthAdminFirst(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	s.operator("boss@tobira.example", store.RoleAdmin)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	support := s.signIn("kim@tobira.example", seed)
	a := s.customerWithFactor("yamada@example.jp")
	boss, err := s.db.OperatorByEmail(ctx, "boss@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	s.stale()
	for _, path := range []string{"/customers/" + a.ID + "/erase", "/operators/" + boss.ID + "/disable", "/operators/new"} {
		for _, form := range [][]string{nil, {"reauth_code", s.code(seed)}} {
			resp, body := support.post(path, form...)
			if resp.StatusCode != http.StatusForbidden || strings.Contains(body, reauthTitle) || !strings.Contains(body, "この操作は管理者のみ行えます。") {
				t.Errorf("support's POST %s %v: %d, want 403 admin-only without the confirmation page", path, form, resp.StatusCode)
			}
		}
	}
	if evs, err := s.db.ListAudit(ctx, store.AuditFilter{Action: store.ActionConsoleReauth}); err != nil || len(evs) != 0 {
		t.Errorf("console.reauth events: %+v, %v; want none", evs, err)
	}
	if got, err := s.db.AccountByID(ctx, a.ID); err != nil || got.Erased() {
		t.Errorf("the customer after support's erase: %+v, %v", got, err)
	}
}

// TestReauthNamesCustomer: the events of the code asked again before an
// action on a customer (an unlock, a reset or a recovery approved) are on
// that customer, so that the audit log filtered by the customer lists an
// operator's failed attempts on them; an operator's action names none.
func TestReauthNamesCustomer(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed, admin, kim := s.adminAndKim()
	a := s.customerWithFactor("yamada@example.jp")
	s.stale()

	path := "/customers/" + a.ID + "/unlock"
	admin.post(path, "reauth_code", s.wrongCode(seed))
	admin.post("/operators/"+kim.ID+"/disable", "reauth_code", s.wrongCode(seed))
	// An id that names no customer names none in the log either.
	admin.post("/customers/no-such-customer/unlock", "reauth_code", s.wrongCode(seed))
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{Action: store.ActionConsoleReauth})
	if err != nil || len(evs) != 3 {
		t.Fatalf("console.reauth events: %+v, %v; want 3", evs, err)
	}
	want := map[string]string{path: a.ID, "/operators/" + kim.ID + "/disable": "", "/customers/no-such-customer/unlock": ""}
	for _, ev := range evs {
		if ev.Outcome != "fail" || ev.AccountID != want[ev.Detail] {
			t.Errorf("%s: outcome %s on account %q, want fail on %q", ev.Detail, ev.Outcome, ev.AccountID, want[ev.Detail])
		}
	}
	if _, body := admin.get("/audit?account=" + a.ID); !strings.Contains(body, "<code class=\"code\">console.reauth</code>") {
		t.Errorf("/audit?account= does not list the failed confirmation on the customer:\n%s", body)
	}

	// The right code's event names the customer too.
	admin.post(path, "reauth_code", s.code(seed))
	evs, err = s.db.ListAudit(ctx, store.AuditFilter{Action: store.ActionConsoleReauth, Outcome: "ok"})
	if err != nil || len(evs) != 1 || evs[0].AccountID != a.ID {
		t.Errorf("console.reauth ok events: %+v, %v; want one on %s", evs, err, a.ID)
	}
}
