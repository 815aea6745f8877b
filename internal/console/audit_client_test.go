package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// TestOperatorActionsRecordClient: every audit event of an operator's
// action in the console carries the operator's address and browser, also
// those the portal records for the console (account.open, account.erase,
// recovery.approve, mfa.reset, operator.*), as the refused ones do.
func TestOperatorActionsRecordClient(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	s.operator("ito@tobira.example", store.RoleSupport)
	ito, err := s.db.OperatorByEmail(ctx, "ito@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	wantAt := func(what string, resp *http.Response, body, path string) {
		t.Helper()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != path {
			t.Fatalf("%s: at %s %d\n%s", what, resp.Request.URL.Path, resp.StatusCode, body)
		}
	}

	resp, body := kim.post("/customers/new", "email", "tanaka@example.jp", "name", "田中 一郎")
	a, err := s.db.AccountByEmail(ctx, "tanaka@example.jp")
	if err != nil {
		t.Fatalf("open: %v\n%s", err, body)
	}
	wantAt("open", resp, body, "/customers/"+a.ID)
	resp, body = kim.post("/customers/"+a.ID+"/lock", "reason", "盗難の届出")
	wantAt("lock", resp, body, "/customers/"+a.ID)
	resp, body = kim.post("/customers/" + a.ID + "/unlock")
	wantAt("unlock", resp, body, "/customers/"+a.ID)

	y := s.customerWithFactor("yamada@example.jp")
	resp, body = kim.post("/customers/"+y.ID+"/reset-mfa", "reset_reason", "電話で本人確認済み、端末紛失")
	wantAt("reset request", resp, body, "/customers/"+y.ID)
	resp, body = boss.post("/resets/" + s.openReset(y.ID).ID + "/approve")
	wantAt("reset approval", resp, body, "/resets")

	sato := s.customerWithFactor("sato@example.jp")
	if err := s.db.CreateRecoveryRequest(ctx, &store.RecoveryRequest{ID: "rec-1", AccountID: sato.ID,
		ConfirmTokenHash: secret.Hash("tok"), CreatedAt: t0, ConfirmExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ConfirmRecoveryRequest(ctx, secret.Hash("tok"), t0.Add(time.Minute), 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	resp, body = kim.post("/recoveries/rec-1/propose", "reason", "電話で登録住所と生年月日を確認")
	wantAt("recovery proposal", resp, body, "/recoveries")
	resp, body = boss.post("/recoveries/rec-1/approve", s.proposal("rec-1")...)
	wantAt("recovery approval", resp, body, "/recoveries")

	for _, step := range []string{"disable", "enable", "reset-2fa"} {
		resp, body = boss.post("/operators/" + ito.ID + "/" + step)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("operator %s: %d\n%s", step, resp.StatusCode, body)
		}
	}
	resp, body = boss.post("/customers/"+a.ID+"/erase", "confirm_email", a.Email, "erase_reason", "退会の申し出")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("erase: %d\n%s", resp.StatusCode, body)
	}

	evs, err := s.db.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		if !strings.HasPrefix(ev.Actor, "operator:kim@") && !strings.HasPrefix(ev.Actor, "operator:boss@") {
			continue // the test's own setup
		}
		seen[ev.Action] = true
		if ev.ClientIP != "127.0.0.1" || ev.UserAgent != "Go-http-client/1.1" {
			t.Errorf("%s %s %s: client %q, browser %q; want the operator's", ev.Actor, ev.Action, ev.Outcome, ev.ClientIP, ev.UserAgent)
		}
	}
	for _, want := range []string{"account.open", "account.lock", "account.unlock", "mfa.reset_request", "mfa.reset_approve",
		"mfa.reset", "recovery.propose", "recovery.approve", "operator.disable", "operator.enable", "operator.reset_2fa", "account.erase"} {
		if !seen[want] {
			t.Errorf("no %s event of an operator; saw %v", want, seen)
		}
	}
}
