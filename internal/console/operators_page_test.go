package console_test

import (
	"context"
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

var operatorKeyRe = regexp.MustCompile(`<code class="secret" id="operator-key">([A-Z2-7 ]+)</code>`)

// TestOperatorsPage: an admin disables, enables and re-keys other operators
// from the console; a support operator cannot, nor can an admin act on
// their own account.
func TestOperatorsPage(t *testing.T) {
	s := newSite(t)
	adminSeed := s.operator("sato@tobira.example", store.RoleAdmin)
	kimSeed := s.operator("kim@tobira.example", store.RoleSupport)
	admin := s.signIn("sato@tobira.example", adminSeed)
	kim := s.signIn("kim@tobira.example", kimSeed)
	kimOp, err := s.db.OperatorByEmail(t.Context(), "kim@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	adminOp, _ := s.db.OperatorByEmail(t.Context(), "sato@tobira.example")

	// Support sees no link and is refused.
	if _, body := kim.get("/customers"); strings.Contains(body, `href="/operators"`) {
		t.Error("a support operator's navigation links the operators page")
	}
	if resp, _ := kim.get("/operators"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support GET /operators: %d, want 403", resp.StatusCode)
	}
	if resp, _ := kim.post("/operators/" + adminOp.ID + "/disable"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support disabling an admin: %d, want 403", resp.StatusCode)
	}

	resp, body := admin.get("/operators")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "kim@tobira.example") || !strings.Contains(body, "有効") ||
		!strings.Contains(body, `action="/operators/`+kimOp.ID+`/disable"`) || strings.Contains(body, `action="/operators/`+adminOp.ID+`/`) {
		t.Fatalf("GET /operators: %d\n%s", resp.StatusCode, body)
	}
	// Not on oneself.
	if resp, body := admin.post("/operators/" + adminOp.ID + "/disable"); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "ご自身のアカウントは停止・再発行できません") {
		t.Errorf("disabling oneself: %d", resp.StatusCode)
	}
	if _, body := admin.post("/operators/" + adminOp.ID + "/disable"); !strings.Contains(body, `name="next" value="/operators"`) {
		t.Errorf("the language switch of the refused disable does not go back to /operators:\n%s", body)
	}
	if resp, _ := admin.post("/operators/nobody/disable"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("disabling nobody: %d, want 404", resp.StatusCode)
	}

	resp, body = admin.post("/operators/" + kimOp.ID + "/disable")
	if resp.Request.URL.Path != "/operators" || !strings.Contains(body, "オペレーターを停止しました") || !strings.Contains(body, "停止中") {
		t.Fatalf("disable: at %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	kim.wantSignedOut("after an admin disabled them")
	if resp, _ := admin.post("/operators/" + kimOp.ID + "/disable"); resp.StatusCode != http.StatusConflict {
		t.Errorf("disabling twice: %d, want 409", resp.StatusCode)
	}
	resp, body = admin.post("/operators/" + kimOp.ID + "/enable")
	if !strings.Contains(body, "オペレーターを再開しました") {
		t.Fatalf("enable: %d\n%s", resp.StatusCode, body)
	}

	// A new key, shown once and never cached; the old one no longer signs in.
	s.clock.Advance(mfa.Period * time.Second) // the first sign-in's code is spent
	kim = s.signIn("kim@tobira.example", kimSeed)
	resp, body = admin.post("/operators/" + kimOp.ID + "/reset-2fa")
	m := operatorKeyRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Fatalf("reset-2fa: %d\n%s", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the key page's Cache-Control = %q, want no-store", cc)
	}
	kim.wantSignedOut("after a new key")
	newSeed := strings.ReplaceAll(m[1], " ", "")
	if newSeed == kimSeed {
		t.Fatal("the new key is the old one")
	}
	s.clock.Advance(mfa.Period * time.Second)
	b := s.browser()
	b.post("/login", "email", "kim@tobira.example", "password", password)
	old, _ := mfa.TOTPCode(kimSeed, s.clock.Now())
	if resp, _ := b.post("/login/code", "code", old); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old key's code: %d, want 401", resp.StatusCode)
	}
	s.signIn("kim@tobira.example", newSeed)

	acts := strings.Join(s.auditActions(""), "\n")
	for _, want := range []string{"operator:sato@tobira.example operator.disable ok", "operator:sato@tobira.example operator.enable ok",
		"operator:sato@tobira.example operator.reset_2fa ok", "operator:kim@tobira.example operator.list denied"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q:\n%s", want, acts)
		}
	}
}

// disableHook runs before, once, ahead of the first disable it passes on.
type disableHook struct {
	store.Operators
	before func()
}

func (h *disableHook) SetOperatorDisabled(ctx context.Context, operatorID string, disabled bool) error {
	if f := h.before; f != nil && disabled {
		h.before = nil
		f()
	}
	return h.Operators.SetOperatorDisabled(ctx, operatorID, disabled)
}

// TestAdminsDisableEachOther: two admins disabling each other at the same
// moment leave one of them: the second disable, which finds its own admin
// gone, is refused with a message, and nothing more changes.
func TestAdminsDisableEachOther(t *testing.T) {
	hook := &disableHook{}
	s := newSiteWith(t, func(ops store.Operators) store.Operators { hook.Operators = ops; return hook })
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	s.operator("deputy@tobira.example", store.RoleAdmin)
	ctx := t.Context()
	deputy, err := s.db.OperatorByEmail(ctx, "deputy@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	// The deputy's disable of boss lands while boss's request is on its way.
	hook.before = func() {
		if _, err := console.DisableOperator(ctx, s.svc, s.db, "boss@tobira.example", "operator:deputy@tobira.example"); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := boss.post("/operators/" + deputy.ID + "/disable")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "有効な管理者がいなくなるため、このオペレーターは停止できません。") {
		t.Errorf("the second disable: %d\n%s", resp.StatusCode, body)
	}
	if op, err := s.db.OperatorByID(ctx, deputy.ID); err != nil || op.Disabled {
		t.Errorf("no admin is left enabled: deputy %+v, %v", op, err)
	}
}

// TestHandOverReload: 「認証キーを再発行」, 「パスワードを再発行」 and
// 「追加する」 answer with a redirect to the hand-over's page, which a
// reload or the language switch shows again, the same key and password,
// and makes nothing: answered in place, a reload sent the form again,
// which made another key or password and voided the one shown (or, for a
// new operator, said the address was taken). The page opens for the admin
// who made it only, until they go back to the list or it runs out.
func TestHandOverReload(t *testing.T) {
	s := newSite(t)
	adminSeed := s.operator("sato@tobira.example", store.RoleAdmin)
	s.operator("kim@tobira.example", store.RoleSupport)
	admin := s.signIn("sato@tobira.example", adminSeed)
	s.clock.Advance(mfa.Period * time.Second)
	other := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	kimOp, err := s.db.OperatorByEmail(t.Context(), "kim@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	admin.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	events := func() int {
		n := 0
		for ev, err := range s.db.AuditOfActions(t.Context(), "", []string{store.ActionOperatorReset2FA, store.ActionOperatorResetPassword, store.ActionOperatorCreate}, 100) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Outcome == "ok" {
				n++
			}
		}
		return n
	}

	for _, c := range []struct {
		post, form, title string
		re                *regexp.Regexp
	}{
		{"/operators/" + kimOp.ID + "/reset-2fa", "", "認証アプリの新しいキー", operatorKeyRe},
		{"/operators/" + kimOp.ID + "/reset-password", "", "一時パスワードを発行しました", oneTimeRe},
		{"/operators/new", "new@tobira.example", "オペレーターを追加しました", operatorKeyRe},
	} {
		var resp *http.Response
		if c.form != "" {
			resp, _ = admin.post(c.post, "email", c.form, "name", "新人", "role", "support")
		} else {
			resp, _ = admin.post(c.post)
		}
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/operators/handover" {
			t.Fatalf("POST %s: %d to %q, want 303 to /operators/handover", c.post, resp.StatusCode, resp.Header.Get("Location"))
		}
		before, stored := events(), s.storedOperator(kimOp.ID)
		var shown string
		for i := range 3 {
			resp, body := admin.get("/operators/handover")
			m := c.re.FindStringSubmatch(body)
			if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, c.title) {
				t.Fatalf("GET the hand-over of %s, %d time: %d\n%s", c.post, i+1, resp.StatusCode, body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("the hand-over's Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
			}
			if !strings.Contains(body, `name="next" value="/operators/handover"`) {
				t.Error("the hand-over's language switch does not reload it")
			}
			if i > 0 && m[1] != shown {
				t.Errorf("the hand-over of %s reloaded shows %q, first %q", c.post, m[1], shown)
			}
			shown = m[1]
		}
		if n := events() - before; n != 0 {
			t.Errorf("reloading the hand-over of %s recorded %d more changes", c.post, n)
		}
		if after := s.storedOperator(kimOp.ID); after != stored {
			t.Errorf("reloading the hand-over of %s changed the operator", c.post)
		}
		// Another admin, with the same cookie, is sent to the list.
		u, _ := url.Parse(s.srv.URL + "/operators/handover")
		for _, ck := range admin.c.Jar.Cookies(u) {
			if ck.Name == "tobira_console_handover" {
				other.c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/operators/handover"}})
			}
		}
		if resp, body := other.get("/operators/handover"); resp.Request.URL.Path != "/operators" || strings.Contains(body, shown) {
			t.Errorf("another admin opened the hand-over: %s", resp.Request.URL.Path)
		}
		// Back at the list, the hand-over is done.
		admin.get("/operators")
		if resp, _ := admin.get("/operators/handover"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/operators" {
			t.Errorf("the hand-over opened after the list: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	// It runs out.
	admin.post("/operators/" + kimOp.ID + "/reset-password")
	s.clock.Advance(11 * time.Minute)
	if resp, _ := admin.get("/operators/handover"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/operators" {
		t.Errorf("the hand-over opened after 11 minutes: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// storedOperator is what the store holds of the operator's credentials.
func (s *site) storedOperator(id string) string {
	s.t.Helper()
	op, err := s.db.OperatorByID(s.t.Context(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return op.PasswordHash + "|" + op.TOTPSecret
}
