package console_test

import (
	"net/http"
	"testing"

	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/store"
)

// TestSignInEmptyCode: the sign-in's code sent empty asks for the code
// (400) and counts nothing toward the operator's lock, as an action's
// code does, where it was answered as a wrong code (401) and counted; the
// code typed next still signs in.
func TestSignInEmptyCode(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	b := s.browser()
	if resp, _ := b.post("/login", "email", "kim@tobira.example", "password", password); resp.Request.URL.Path != "/login/code" {
		t.Fatalf("after the password: at %s", resp.Request.URL)
	}
	for _, code := range []string{"", " ", "\u3000"} {
		resp, body := b.post("/login/code", "code", code)
		if resp.StatusCode != http.StatusBadRequest || alert(body) != "認証アプリに表示されている6桁のコードを入力してください。" {
			t.Errorf("code %q: %d, alert %q; want 400 asking for the code", code, resp.StatusCode, alert(body))
		}
	}
	if _, body := b.do("POST", "/login/code", formIn("", "", "code", ""), "Accept-Language", "en"); alert(body) != "Enter the 6-digit code shown in your authenticator app." {
		t.Errorf("in English: alert %q", alert(body))
	}
	if op, _ := s.db.OperatorByEmail(ctx, "kim@tobira.example"); op.MFAFailures != 0 {
		t.Errorf("%d wrong codes counted for empty ones, want none", op.MFAFailures)
	}
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{Action: store.ActionConsoleSignIn})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Outcome == "fail" {
			t.Errorf("an empty code is recorded as a failed sign-in: %+v", e)
		}
	}
	code, _ := mfa.TOTPCode(seed, s.clock.Now())
	if resp, body := b.post("/login/code", "code", code); resp.Request.URL.Path != "/customers" || resp.StatusCode != http.StatusOK {
		t.Errorf("the code after the empty ones: at %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
}
