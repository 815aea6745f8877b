package console_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// customerWithFactor opens an activated account with a TOTP factor and a
// live session.
func (s *site) customerWithFactor(email string) *store.Account {
	s.t.Helper()
	ctx := s.t.Context()
	a, _, err := s.svc.OpenAccount(ctx, email, "山田 太郎", "operator:test")
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.svc.SetPassword(ctx, a.ID, password); err != nil {
		s.t.Fatal(err)
	}
	if err := s.db.AddFirstFactor(ctx, &store.Factor{ID: secret.ID(), AccountID: a.ID, Kind: store.FactorTOTP,
		Secret: "sealed", CreatedAt: t0}); err != nil {
		s.t.Fatal(err)
	}
	if err := s.db.CreateSession(ctx, &store.Session{IDHash: "sess-" + a.ID, AccountID: a.ID, CreatedAt: t0,
		MFAAt: t0, ExpiresAt: t0.Add(time.Hour), SID: "sid-" + a.ID}); err != nil {
		s.t.Fatal(err)
	}
	return a
}

func (s *site) factors(accountID string) int {
	s.t.Helper()
	fs, err := s.db.FactorsOf(s.t.Context(), accountID)
	if err != nil {
		s.t.Fatal(err)
	}
	return len(fs)
}

func (s *site) openReset(accountID string) *store.ResetRequest {
	s.t.Helper()
	r, err := s.db.OpenResetRequest(s.t.Context(), accountID)
	if err != nil {
		s.t.Fatalf("open reset request: %v", err)
	}
	return r
}

func (s *site) resetMails(to string) int { return s.mailsWith(to, "リセット") }

// mailsWith counts the mails to the address whose text says what.
func (s *site) mailsWith(to, what string) int {
	s.t.Helper()
	mails, err := s.db.ListMails(s.t.Context(), 100)
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, m := range mails {
		if m.To == to && strings.Contains(m.Subject+m.Text, what) {
			n++
		}
	}
	return n
}

func TestResetFourEyes(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")

	// A reason is required.
	if resp, body := kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "  "); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "リセットの理由を入力してください") {
		t.Fatalf("no reason: %d", resp.StatusCode)
	}
	resp, body := kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "電話で本人確認済み、端末紛失")
	if resp.Request.URL.Path != "/customers/"+a.ID || !strings.Contains(body, "別のオペレーターの承認") {
		t.Fatalf("request: %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	req := s.openReset(a.ID)
	if req.RequestedBy != "operator:kim@tobira.example" || req.Reason != "電話で本人確認済み、端末紛失" {
		t.Errorf("request stored: %+v", req)
	}
	// A second open request for the account is refused, by anyone.
	if resp, _ := boss.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "again"); resp.StatusCode != http.StatusConflict {
		t.Errorf("second request: %d", resp.StatusCode)
	}

	// The requester sees it but cannot approve it.
	_, body = kim.get("/resets")
	if !strings.Contains(body, "yamada@example.jp") || !strings.Contains(body, "自分の依頼") || strings.Contains(body, "/resets/"+req.ID+"/approve") {
		t.Errorf("requester's list:\n%s", body)
	}
	for _, d := range []string{"approve", "reject"} {
		if resp, _ := kim.post("/resets/" + req.ID + "/" + d); resp.StatusCode != http.StatusForbidden {
			t.Errorf("requester's %s: %d", d, resp.StatusCode)
		}
	}
	if s.factors(a.ID) != 1 || s.resetMails(a.Email) != 0 || s.openReset(a.ID).ID != req.ID {
		t.Fatal("a refused self-approval changed something")
	}
	if _, err := s.db.SessionByHash(ctx, "sess-"+a.ID); err != nil {
		t.Fatalf("session after a refused approval: %v", err)
	}

	// Another operator approves: the portal's reset happens.
	_, body = boss.get("/resets")
	if !strings.Contains(body, "/resets/"+req.ID+"/approve") {
		t.Errorf("approver's list lacks the button:\n%s", body)
	}
	resp, body = boss.post("/resets/" + req.ID + "/approve")
	if resp.Request.URL.Path != "/resets" || resp.StatusCode != 200 || !strings.Contains(body, "リセットを承認し") {
		t.Fatalf("approve: %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if n := s.factors(a.ID); n != 0 {
		t.Errorf("factors after approval: %d", n)
	}
	if _, err := s.db.SessionByHash(ctx, "sess-"+a.ID); err == nil {
		t.Error("the customer's session outlived the reset")
	}
	if n := s.resetMails(a.Email); n != 1 {
		t.Errorf("reset notices queued: %d", n)
	}
	if _, err := s.db.OpenResetRequest(ctx, a.ID); err == nil {
		t.Error("the request is still open")
	}
	// Deciding again is stale, and recorded so.
	if resp, _ := boss.post("/resets/" + req.ID + "/reject"); resp.StatusCode != http.StatusConflict {
		t.Errorf("second decision: %d", resp.StatusCode)
	}
	acts := strings.Join(s.auditActions(a.ID), "\n")
	for _, want := range []string{
		"operator:kim@tobira.example mfa.reset_request ok",
		"operator:kim@tobira.example mfa.reset_approve denied",
		"operator:kim@tobira.example mfa.reset_reject denied",
		"operator:boss@tobira.example mfa.reset_approve ok",
		"operator:boss@tobira.example mfa.reset ok",
		"operator:boss@tobira.example mfa.reset_reject stale",
	} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q:\n%s", want, acts)
		}
	}
	// The reset is the approver's, found by their name, and says whose
	// request it carried out.
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{Actor: "operator:boss@tobira.example", Action: store.ActionMFAReset})
	if err != nil || len(evs) != 1 || evs[0].AccountID != a.ID ||
		evs[0].Detail != "request "+req.ID+" by operator:kim@tobira.example: "+req.Reason {
		t.Errorf("the approver's reset events: %+v, %v", evs, err)
	}
}

func TestResetRejected(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	sue := s.signIn("sue@tobira.example", s.operator("sue@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "本人からの電話")
	req := s.openReset(a.ID)
	resp, body := sue.post("/resets/" + req.ID + "/reject")
	if resp.Request.URL.Path != "/resets" || !strings.Contains(body, "却下しました") {
		t.Fatalf("reject: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	if s.factors(a.ID) != 1 || s.resetMails(a.Email) != 0 {
		t.Error("a rejected reset changed the factors or mailed the customer")
	}
	if acts := strings.Join(s.auditActions(a.ID), "\n"); !strings.Contains(acts, "operator:sue@tobira.example mfa.reset_reject ok") {
		t.Errorf("audit:\n%s", acts)
	}
	// The account is free for a new request.
	if _, body := kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "again"); !strings.Contains(body, "別のオペレーターの承認") {
		t.Error("a new request after the rejection was refused")
	}
}

func TestResetWithdrawnByItsRequester(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	sue := s.signIn("sue@tobira.example", s.operator("sue@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "別のお客さまと取り違えた")
	req := s.openReset(a.ID)
	// Only the requester sees the button, on the list and the customer's page.
	if _, body := kim.get("/customers/" + a.ID); !strings.Contains(body, "/resets/"+req.ID+"/withdraw") {
		t.Error("the requester's customer page offers no withdrawal")
	}
	if _, body := sue.get("/customers/" + a.ID); strings.Contains(body, "/withdraw") {
		t.Error("another operator's customer page offers the withdrawal")
	}
	if _, body := sue.get("/resets"); strings.Contains(body, "/withdraw") || !strings.Contains(body, "/resets/"+req.ID+"/approve") {
		t.Error("another operator's list offers the withdrawal, or no approval")
	}
	// Another operator cannot withdraw it: they reject it.
	if resp, body := sue.post("/resets/" + req.ID + "/withdraw"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "却下してください") {
		t.Errorf("another operator withdraws: %d", resp.StatusCode)
	}
	if s.openReset(a.ID) == nil {
		t.Fatal("a refused withdrawal closed the request")
	}
	resp, body := kim.post("/resets/" + req.ID + "/withdraw")
	if resp.Request.URL.Path != "/customers/"+a.ID || !strings.Contains(body, "取り下げました") {
		t.Fatalf("withdraw: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	if s.factors(a.ID) != 1 || s.resetMails(a.Email) != 0 {
		t.Error("a withdrawn reset changed the factors or mailed the customer")
	}
	// Withdrawn, it can be neither approved nor withdrawn again.
	if resp, _ := sue.post("/resets/" + req.ID + "/approve"); resp.StatusCode != http.StatusConflict || s.factors(a.ID) != 1 {
		t.Errorf("approval of a withdrawn request: %d, factors %d", resp.StatusCode, s.factors(a.ID))
	}
	if resp, _ := kim.post("/resets/" + req.ID + "/withdraw"); resp.StatusCode != http.StatusConflict {
		t.Errorf("a second withdrawal: %d", resp.StatusCode)
	}
	acts := strings.Join(s.auditActions(a.ID), "\n")
	for _, want := range []string{
		"operator:sue@tobira.example mfa.reset_withdraw denied",
		"operator:kim@tobira.example mfa.reset_withdraw ok",
	} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q:\n%s", want, acts)
		}
	}
	// The account is free for a new request.
	if _, body := kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "本人からの電話"); !strings.Contains(body, "別のオペレーターの承認") {
		t.Error("a new request after the withdrawal was refused")
	}
}

func TestMaintenance(t *testing.T) {
	s := newSite(t)
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	support := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	// t0 is 2026-04-01 09:00:05 in Japan.
	form := []string{"start", "2026-04-10T02:00", "end", "2026-04-10T05:00", "reason_ja", "設備更新", "reason_en", "Equipment upgrade"}

	if resp, _ := support.post("/maintenance", form...); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support schedules: %d", resp.StatusCode)
	}
	if ws, _ := s.db.ListMaintenance(t.Context(), t0, true); len(ws) != 0 {
		t.Fatalf("support's window stored: %+v", ws)
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"start", "2026-04-10T05:00", "end", "2026-04-10T02:00"}, "終了は開始より後にしてください"},
		{[]string{"start", "2026-03-10T02:00", "end", "2026-03-10T05:00"}, "開始が過去の日時です"},
		{[]string{"start", "2026-12-22T02:00", "end", "2036-12-22T03:00"}, "メンテナンスは最長24時間です"},
		{[]string{"start", "2026-12-22T02:00", "end", "2026-12-23T02:01"}, "メンテナンスは最長24時間です"},
		{[]string{"start", "tomorrow", "end", "2026-04-10T05:00"}, "日時を正しく入力してください"},
		{[]string{"start", "2026-04-10T02:00", "end", "2026-04-10T05:00", "reason_ja", strings.Repeat("長", 201)}, "200文字以内"},
	} {
		resp, body := admin.post("/maintenance", c.kv...)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.want) {
			t.Errorf("%v: %d, want %q", c.kv, resp.StatusCode, c.want)
		}
	}
	resp, body := admin.post("/maintenance", form...)
	if resp.Request.URL.Path != "/maintenance" || !strings.Contains(body, "メンテナンスを予定しました") ||
		!strings.Contains(body, "2026年4月10日 2:00〜5:00") || !strings.Contains(body, "設備更新") {
		t.Fatalf("schedule: %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	resp, body = admin.post("/maintenance", "start", "2026-04-10T04:00", "end", "2026-04-10T06:00")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "重なっています") || !strings.Contains(body, "2:00〜5:00") {
		t.Errorf("overlap: %d", resp.StatusCode)
	}
	ws, err := s.db.ListMaintenance(t.Context(), t0, false)
	if err != nil || len(ws) != 1 {
		t.Fatalf("windows: %+v %v", ws, err)
	}
	if w := ws[0]; !w.Start.Equal(time.Date(2026, 4, 9, 17, 0, 0, 0, time.UTC)) || w.CreatedBy != "operator:boss@tobira.example" {
		t.Errorf("window stored: %+v", w)
	}
	// Support sees it, without the form or the cancel button, and cannot cancel.
	_, body = support.get("/maintenance")
	if !strings.Contains(body, ws[0].ID) || strings.Contains(body, `action="/maintenance"`) || strings.Contains(body, "/cancel") {
		t.Errorf("support's page:\n%s", body)
	}
	if !strings.Contains(body, ">boss@tobira.example</td>") || strings.Contains(body, "operator:") {
		t.Errorf("the maintenance page does not name who scheduled by address alone:\n%s", body)
	}
	if resp, _ := support.post("/maintenance/" + ws[0].ID + "/cancel"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support cancels: %d", resp.StatusCode)
	}
	_, body = admin.post("/maintenance/" + ws[0].ID + "/cancel")
	if !strings.Contains(body, "メンテナンスを中止しました") || !strings.Contains(body, "予定されているメンテナンスはありません") {
		t.Errorf("cancel:\n%s", body)
	}
	if resp, _ := admin.post("/maintenance/" + ws[0].ID + "/cancel"); resp.StatusCode != http.StatusConflict {
		t.Errorf("cancel twice: %d", resp.StatusCode)
	}
	acts := strings.Join(s.auditActions(""), "\n")
	for _, want := range []string{"operator:kim@tobira.example maintenance.create denied", "operator:boss@tobira.example maintenance.create ok",
		"operator:kim@tobira.example maintenance.cancel denied", "operator:boss@tobira.example maintenance.cancel ok"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q", want)
		}
	}
}

// waitingRecovery stores a recovery request of a, confirmed at t0 + a
// minute: it waits out its period, and may be approved early.
func (s *site) waitingRecovery(id string, a *store.Account) {
	s.t.Helper()
	ctx := s.t.Context()
	r := &store.RecoveryRequest{ID: id, AccountID: a.ID, ConfirmTokenHash: secret.Hash("tok-" + id), CreatedAt: t0,
		ConfirmExpiresAt: t0.Add(time.Hour)}
	if err := s.db.CreateRecoveryRequest(ctx, r); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.db.ConfirmRecoveryRequest(ctx, secret.Hash("tok-"+id), t0.Add(time.Minute), 72*time.Hour); err != nil {
		s.t.Fatal(err)
	}
}

// recovery is the recovery request id as stored.
func (s *site) recovery(id string) *store.RecoveryRequest {
	s.t.Helper()
	r, err := s.db.RecoveryRequestByID(s.t.Context(), id)
	if err != nil {
		s.t.Fatalf("recovery request %s: %v", id, err)
	}
	return r
}

// proposal is the form field that names the open proposal of the recovery
// request id, as the recoveries page's decision buttons carry it.
func (s *site) proposal(id string) []string {
	return []string{"proposal", strconv.FormatInt(s.recovery(id).ProposedAt.UnixMilli(), 10)}
}

// approvalMails counts the mails telling a's customer support ended the
// waiting period.
func (s *site) approvalMails(a *store.Account) int {
	return s.mailsWith(a.Email, "待機期間を終了しました")
}

// TestRecoveryEarlyApprovalFourEyes: 「本人確認のうえ早期承認を依頼」 only
// proposes; the period goes on until an operator other than the proposer
// approves, and only then is the customer mailed.
func TestRecoveryEarlyApprovalFourEyes(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	kim := s.signIn("kim@tobira.example", seed)
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	r := &store.RecoveryRequest{ID: "rec-1", AccountID: a.ID, ConfirmTokenHash: secret.Hash("tok"), CreatedAt: t0,
		ConfirmExpiresAt: t0.Add(time.Hour)}
	if err := s.db.CreateRecoveryRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	_, body := kim.get("/recoveries")
	if !strings.Contains(body, "yamada@example.jp") || strings.Contains(body, "/recoveries/rec-1/propose") {
		t.Errorf("unconfirmed request listed wrong:\n%s", body)
	}
	if _, err := s.db.ConfirmRecoveryRequest(ctx, secret.Hash("tok"), t0.Add(time.Minute), 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	effective := t0.Add(time.Minute + 72*time.Hour)
	_, body = kim.get("/recoveries")
	if !strings.Contains(body, "/recoveries/rec-1/propose") || !strings.Contains(body, "本人確認のうえ早期承認を依頼") ||
		!strings.Contains(body, "依頼したオペレーター以外が承認すると") || !strings.Contains(body, "早期承認を依頼しますか") {
		t.Errorf("waiting request lacks the button, or the page and its dialog the second operator:\n%s", body)
	}
	// Without the identity check done, nothing changes.
	resp, body := kim.post("/recoveries/rec-1/propose", "reason", " ")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "行った本人確認の方法を入力してください") {
		t.Fatalf("propose without a reason: %d\n%s", resp.StatusCode, body)
	}
	if got := s.recovery("rec-1"); got.ProposedBy != "" || got.ApprovedBy != "" {
		t.Fatalf("proposed without a reason: %+v", got)
	}

	// The first operator's click proposes: the request still waits, the
	// customer hears nothing.
	resp, body = kim.post("/recoveries/rec-1/propose", "reason", "電話で登録住所と生年月日を確認")
	if resp.Request.URL.Path != "/recoveries" || resp.StatusCode != 200 || !strings.Contains(body, "早期承認を依頼しました") {
		t.Fatalf("propose: %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	got := s.recovery("rec-1")
	if got.ProposedBy != "operator:kim@tobira.example" || got.ProposedReason != "電話で登録住所と生年月日を確認" ||
		got.ApprovedBy != "" || !got.EffectiveAt.Equal(effective) {
		t.Fatalf("after the proposal: %+v", got)
	}
	if n := s.approvalMails(a); n != 0 {
		t.Fatalf("%d approval mails after a proposal", n)
	}
	// The page shows who proposed it, when and on what check; the proposer
	// can only withdraw it.
	for _, want := range []string{"kim@tobira.example が", "に早期承認を依頼 (別のオペレーターの承認待ち)",
		"本人確認: 電話で登録住所と生年月日を確認", "自分の依頼", "/recoveries/rec-1/withdraw"} {
		if !strings.Contains(body, want) {
			t.Errorf("the proposer's list lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "/recoveries/rec-1/approve") || strings.Contains(body, "/recoveries/rec-1/propose") ||
		strings.Contains(body, "operator:kim") {
		t.Errorf("the proposer's list offers the approval or a new proposal, or names an operator by actor:\n%s", body)
	}
	// A second proposal, by anyone, is refused.
	if resp, body := boss.post("/recoveries/rec-1/propose", "reason", "窓口で確認"); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "既に早期承認の依頼があります") {
		t.Errorf("second proposal: %d\n%s", resp.StatusCode, body)
	}
	// The proposer cannot approve nor reject it.
	for _, d := range []string{"approve", "reject"} {
		resp, body := kim.post("/recoveries/rec-1/"+d, s.proposal("rec-1")...)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "自分で依頼した早期承認は承認・却下できません") {
			t.Errorf("proposer's %s: %d", d, resp.StatusCode)
		}
		// The page answers the POST in place; its language switch goes
		// back to the list, not to the decision's address, which a GET
		// answers with 405.
		if !strings.Contains(body, `name="next" value="/recoveries"`) {
			t.Errorf("the language switch of the refused %s does not go back to /recoveries:\n%s", d, body)
		}
	}
	if got := s.recovery("rec-1"); got.ApprovedBy != "" || !got.Proposed() || !got.EffectiveAt.Equal(effective) || s.approvalMails(a) != 0 {
		t.Fatalf("a refused self-approval changed something: %+v", got)
	}

	// Another operator approves: the period ends, the customer is mailed.
	_, body = boss.get("/recoveries")
	if !strings.Contains(body, "/recoveries/rec-1/approve") || !strings.Contains(body, "/recoveries/rec-1/reject") ||
		strings.Contains(body, "/recoveries/rec-1/withdraw") || !strings.Contains(body, "kim@tobira.example の本人確認にもとづき") {
		t.Errorf("approver's list:\n%s", body)
	}
	resp, body = boss.post("/recoveries/rec-1/approve", s.proposal("rec-1")...)
	if resp.Request.URL.Path != "/recoveries" || resp.StatusCode != 200 || !strings.Contains(body, "早期承認しました") {
		t.Fatalf("approve: %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if !strings.Contains(body, "kim@tobira.example が依頼し、boss@tobira.example が早期承認") {
		t.Errorf("the recoveries page does not name both operators:\n%s", body)
	}
	// Its state is no longer 「待機中」: the period is over, and the next
	// sign-in enrols anew.
	if !strings.Contains(body, "承認済み (次回ログインで再登録)") || strings.Contains(body, "待機中") {
		t.Errorf("the approved request's state is not 「承認済み (次回ログインで再登録)」:\n%s", body)
	}
	if n := s.approvalMails(a); n != 1 {
		t.Errorf("%d approval mails to the customer, want 1", n)
	}
	got = s.recovery("rec-1")
	if !got.EffectiveAt.Equal(s.clock.Now()) || got.ApprovedBy != "operator:boss@tobira.example" || got.ProposedBy != "operator:kim@tobira.example" {
		t.Errorf("after approval: effective %v (now %v), %+v", got.EffectiveAt, s.clock.Now(), got)
	}
	// A second approval (another tab, a double click) is stale, and records
	// so; a new proposal is refused.
	if resp, body := boss.post("/recoveries/rec-1/approve", s.proposal("rec-1")...); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "既に承認・却下または取り下げされています") {
		t.Errorf("approve twice: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := kim.post("/recoveries/rec-1/propose", "reason", "電話で確認"); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "既に早期承認されています") {
		t.Errorf("propose after the approval: %d\n%s", resp.StatusCode, body)
	}
	if n := s.approvalMails(a); n != 1 {
		t.Errorf("%d approval mails after approving twice, want 1", n)
	}
	acts := strings.Join(s.auditActions(a.ID), "\n")
	for _, want := range []string{
		"operator:kim@tobira.example recovery.propose ok",
		"operator:boss@tobira.example recovery.propose fail",
		"operator:kim@tobira.example recovery.approve denied",
		"operator:kim@tobira.example recovery.reject denied",
		"operator:boss@tobira.example recovery.approve ok",
		"operator:boss@tobira.example recovery.approve stale",
	} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q:\n%s", want, acts)
		}
	}
	if n := strings.Count(acts, "recovery.approve ok"); n != 1 {
		t.Errorf("%d recovery.approve ok events, want 1", n)
	}
	// The approval names both operators and the check.
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{AccountID: a.ID, Action: store.ActionRecoveryApprove, Outcome: "ok"})
	if err != nil || len(evs) != 1 || evs[0].Actor != "operator:boss@tobira.example" ||
		evs[0].Detail != "request rec-1 proposed by operator:kim@tobira.example, approved by operator:boss@tobira.example: 電話で登録住所と生年月日を確認" {
		t.Errorf("recovery.approve events: %+v, %v", evs, err)
	}
	if resp, _ := boss.post("/recoveries/nobody/approve", "proposal", "1"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown request: %d", resp.StatusCode)
	}
}

// TestRecoveryProposalRejectedOrWithdrawn: another operator rejects a
// proposal, its proposer withdraws one; either way the request waits out
// its period, nobody is mailed, and it may be proposed again.
func TestRecoveryProposalRejectedOrWithdrawn(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	sue := s.signIn("sue@tobira.example", s.operator("sue@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	s.waitingRecovery("rec-1", a)
	effective := t0.Add(time.Minute + 72*time.Hour)

	kim.post("/recoveries/rec-1/propose", "reason", "電話で確認")
	// Another operator cannot withdraw it: they reject it.
	if resp, body := sue.post("/recoveries/rec-1/withdraw", s.proposal("rec-1")...); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "却下してください") {
		t.Errorf("another operator withdraws: %d", resp.StatusCode)
	}
	if !s.recovery("rec-1").Proposed() {
		t.Fatal("a refused withdrawal closed the proposal")
	}
	resp, body := sue.post("/recoveries/rec-1/reject", s.proposal("rec-1")...)
	if resp.Request.URL.Path != "/recoveries" || !strings.Contains(body, "早期承認の依頼を却下しました") {
		t.Fatalf("reject: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	if got := s.recovery("rec-1"); got.Proposed() || got.ApprovedBy != "" || !got.EffectiveAt.Equal(effective) {
		t.Errorf("after the rejection: %+v", got)
	}
	if !strings.Contains(body, "/recoveries/rec-1/propose") {
		t.Errorf("after the rejection the request cannot be proposed again:\n%s", body)
	}

	kim.post("/recoveries/rec-1/propose", "reason", "別のお客さまと取り違えた")
	read := s.proposal("rec-1") // as sue's page shows it
	resp, body = kim.post("/recoveries/rec-1/withdraw", read...)
	if resp.Request.URL.Path != "/recoveries" || !strings.Contains(body, "早期承認の依頼を取り下げました") {
		t.Fatalf("withdraw: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	// Withdrawn, it can be neither approved nor withdrawn again.
	if resp, _ := sue.post("/recoveries/rec-1/approve", read...); resp.StatusCode != http.StatusConflict {
		t.Errorf("approval of a withdrawn proposal: %d", resp.StatusCode)
	}
	if resp, _ := kim.post("/recoveries/rec-1/withdraw", read...); resp.StatusCode != http.StatusConflict {
		t.Errorf("a second withdrawal: %d", resp.StatusCode)
	}
	if got := s.recovery("rec-1"); got.Proposed() || got.ApprovedBy != "" || !got.EffectiveAt.Equal(effective) || s.approvalMails(a) != 0 {
		t.Errorf("after the withdrawal: %+v, %d approval mails", got, s.approvalMails(a))
	}
	acts := strings.Join(s.auditActions(a.ID), "\n")
	for _, want := range []string{
		"operator:sue@tobira.example recovery.withdraw denied",
		"operator:sue@tobira.example recovery.reject ok",
		"operator:kim@tobira.example recovery.withdraw ok",
		"operator:sue@tobira.example recovery.approve stale",
	} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q:\n%s", want, acts)
		}
	}
	evs, err := s.db.ListAudit(t.Context(), store.AuditFilter{AccountID: a.ID, Action: store.ActionRecoveryReject})
	if err != nil || len(evs) != 1 || evs[0].Detail != "request rec-1 proposed by operator:kim@tobira.example: 電話で確認" {
		t.Errorf("recovery.reject events: %+v, %v", evs, err)
	}

	// Proposed again, with another check: sue's click on the page she read
	// before approves nothing; on the page that shows the new one, it does.
	s.clock.Advance(time.Minute)
	kim.post("/recoveries/rec-1/propose", "reason", "メールで確認")
	if resp, body := sue.post("/recoveries/rec-1/approve", read...); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "既に承認・却下または取り下げされています") {
		t.Errorf("approval of the proposal withdrawn, once another was made: %d\n%s", resp.StatusCode, body)
	}
	if got := s.recovery("rec-1"); got.ApprovedBy != "" || !got.EffectiveAt.Equal(effective) || s.approvalMails(a) != 0 {
		t.Fatalf("the approval of a proposal withdrawn changed something: %+v", got)
	}
	if resp, _ := sue.post("/recoveries/rec-1/approve", s.proposal("rec-1")...); resp.Request.URL.Path != "/recoveries" || resp.StatusCode != 200 ||
		s.recovery("rec-1").ApprovedBy != "operator:sue@tobira.example" {
		t.Errorf("approval of the proposal read: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
}

// TestRecoveryProposalNotApprovedAfterProposerDisabled: the proposer is
// disabled before a second operator approves: the approval is refused
// (409, said, recorded), ends nothing and mails nothing; a rejection still
// goes.
func TestRecoveryProposalNotApprovedAfterProposerDisabled(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	s.waitingRecovery("rec-1", a)
	kim.post("/recoveries/rec-1/propose", "reason", "電話で確認")
	if _, err := console.DisableOperator(t.Context(), s.svc, s.db, "kim@tobira.example", "operator:boss@tobira.example"); err != nil {
		t.Fatal(err)
	}
	resp, body := boss.post("/recoveries/rec-1/approve", s.proposal("rec-1")...)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "依頼のあとで無効にされたため、承認できません") {
		t.Fatalf("approval: %d, want 409\n%s", resp.StatusCode, body)
	}
	if got := s.recovery("rec-1"); got.ApprovedBy != "" || !got.Proposed() || !got.EffectiveAt.Equal(t0.Add(time.Minute+72*time.Hour)) ||
		s.approvalMails(a) != 0 {
		t.Fatalf("a refused approval changed something: %+v", got)
	}
	if acts := strings.Join(s.auditActions(a.ID), "\n"); !strings.Contains(acts, "operator:boss@tobira.example recovery.approve outdated") ||
		strings.Contains(acts, "recovery.approve ok") {
		t.Errorf("audit:\n%s", acts)
	}
	if resp, _ := boss.post("/recoveries/rec-1/reject", s.proposal("rec-1")...); resp.Request.URL.Path != "/recoveries" || resp.StatusCode != 200 {
		t.Errorf("reject: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
}

// TestRecoveryProposalVoidOnceCancelled: the customer cancels the request
// ("this was not me") after an operator proposed its early approval: the
// approval is refused as void, with a message saying why, and mails
// nothing.
func TestRecoveryProposalVoidOnceCancelled(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	s.waitingRecovery("rec-1", a)
	kim.post("/recoveries/rec-1/propose", "reason", "電話で確認")
	if _, err := s.db.CancelRecovery(t.Context(), a.ID, "not me", s.clock.Now()); err != nil {
		t.Fatal(err)
	}
	resp, body := boss.post("/recoveries/rec-1/approve", s.proposal("rec-1")...)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "早期承認の依頼は無効になりました") {
		t.Fatalf("approval of a cancelled request: %d\n%s", resp.StatusCode, body)
	}
	if got := s.recovery("rec-1"); got.Status != store.RecoveryCancelled || got.ApprovedBy != "" || s.approvalMails(a) != 0 {
		t.Fatalf("the approval of a void proposal changed something: %+v", got)
	}
	if acts := strings.Join(s.auditActions(a.ID), "\n"); !strings.Contains(acts, "operator:boss@tobira.example recovery.approve stale") {
		t.Errorf("audit:\n%s", acts)
	}
}

func TestNav(t *testing.T) {
	s := newSite(t)
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	_, body := b.get("/customers")
	for _, href := range []string{`href="/resets"`, `href="/recoveries"`, `href="/maintenance"`} {
		if !strings.Contains(body, href) {
			t.Errorf("nav lacks %s", href)
		}
	}
	for p, want := range map[string]string{"/resets": "Approve second-factor resets", "/recoveries": "Second-factor recovery requests",
		"/maintenance": "Only admins can schedule"} {
		if resp, body := b.do("GET", p, nil, "Accept-Language", "en"); resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s in English: %d, no %q", p, resp.StatusCode, want)
		}
	}
}
