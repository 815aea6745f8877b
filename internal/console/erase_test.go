package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestEraseFromConsole: an admin erases an account, typing its address
// again and giving a reason; a support operator cannot; nothing is erased
// on a mistyped address; the erased account offers no action any more and
// refuses them.
func TestEraseFromConsole(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	admin := s.signIn("sato@tobira.example", s.operator("sato@tobira.example", store.RoleAdmin))
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a, _, err := s.svc.OpenAccount(ctx, "tanaka@example.jp", "田中 一郎", "test")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.db.CreateContract(ctx, &store.Contract{ID: "c-1", AccountID: a.ID, Number: "C-2026-000077", Service: "光回線 1G",
		StartDate: s.clock.Now(), MonthlyFee: 4800, Status: store.ContractActive}))
	path := "/customers/" + a.ID

	if _, body := kim.get(path); strings.Contains(body, `action="`+path+`/erase"`) {
		t.Error("a support operator is offered the erasure")
	}
	if resp, _ := kim.post(path+"/erase", "confirm_email", a.Email, "erase_reason", "退会"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support erasing: %d, want 403", resp.StatusCode)
	}
	if _, body := admin.get(path); !strings.Contains(body, `action="`+path+`/erase"`) {
		t.Fatal("an admin is not offered the erasure")
	}
	for _, tc := range []struct{ confirm, reason, want string }{
		{"someone@example.jp", "退会の申し出", "入力されたメールアドレスがこの顧客のものと一致しません。削除していません。"},
		{"", "退会の申し出", "入力されたメールアドレスがこの顧客のものと一致しません。"},
		{a.Email, "", "削除の理由を入力してください"},
	} {
		resp, body := admin.post(path+"/erase", "confirm_email", tc.confirm, "erase_reason", tc.reason)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("erase with %q, %q: %d, want 422 with %q", tc.confirm, tc.reason, resp.StatusCode, tc.want)
		}
	}
	if got, err := s.db.AccountByID(ctx, a.ID); err != nil || got.Erased() {
		t.Fatalf("after the refused erasures: %+v, %v", got, err)
	}

	resp, body := admin.post(path+"/erase", "confirm_email", " Tanaka@Example.JP ", "erase_reason", "本人から退会の申し出")
	if resp.Request.URL.Path != path || !strings.Contains(body, "アカウントを削除しました。") || !strings.Contains(body, "削除済みのアカウント") ||
		!strings.Contains(body, "C-2026-000077") || strings.Contains(body, "田中") || strings.Contains(body, `action="`+path+`/lock"`) ||
		strings.Contains(body, `action="`+path+`/erase"`) {
		t.Fatalf("after the erasure: at %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if got, err := s.db.AccountByID(ctx, a.ID); err != nil || !got.Erased() {
		t.Errorf("the account after the erasure: %+v, %v", got, err)
	}
	if got := s.auditActions(a.ID); len(got) == 0 || got[0] != "operator:sato@tobira.example account.erase ok" {
		t.Errorf("audit: %v", got)
	}
	// Nothing is left to act on.
	for _, action := range []string{"/lock", "/unlock", "/resend", "/reset-mfa", "/erase"} {
		if resp, body := admin.post(path+action, "reason", "x", "reset_reason", "x", "confirm_email", "x", "erase_reason", "x"); resp.StatusCode != http.StatusConflict ||
			!strings.Contains(body, "このアカウントは削除されています。") {
			t.Errorf("POST %s on an erased account: %d, want 409", action, resp.StatusCode)
		}
	}
	// The search finds it by its contract's number.
	if _, body := kim.get("/customers?q=C-2026-000077"); !strings.Contains(body, "削除済みのアカウント") || !strings.Contains(body, "削除済み</span>") {
		t.Errorf("search for the erased account's contract:\n%s", body)
	}
}
