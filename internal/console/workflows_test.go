package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

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

func TestRecoveryEarlyApproval(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	b := s.signIn("kim@tobira.example", seed)
	a := s.customerWithFactor("yamada@example.jp")
	r := &store.RecoveryRequest{ID: "rec-1", AccountID: a.ID, ConfirmTokenHash: secret.Hash("tok"), CreatedAt: t0,
		ConfirmExpiresAt: t0.Add(time.Hour)}
	if err := s.db.CreateRecoveryRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	_, body := b.get("/recoveries")
	if !strings.Contains(body, "yamada@example.jp") || strings.Contains(body, "/recoveries/rec-1/approve") {
		t.Errorf("unconfirmed request listed wrong:\n%s", body)
	}
	if _, err := s.db.ConfirmRecoveryRequest(ctx, secret.Hash("tok"), t0.Add(time.Minute), 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Hour)
	b = s.signIn("kim@tobira.example", seed) // the first sign-in's idle timeout passed
	_, body = b.get("/recoveries")
	if !strings.Contains(body, "/recoveries/rec-1/approve") || !strings.Contains(body, "本人確認のうえ早期承認") {
		t.Errorf("waiting request lacks the button:\n%s", body)
	}
	// Without the identity check done, nothing changes.
	resp, body := b.post("/recoveries/rec-1/approve", "reason", " ")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "行った本人確認の方法を入力してください") {
		t.Fatalf("approve without a reason: %d\n%s", resp.StatusCode, body)
	}
	if got, _ := s.db.PendingRecoveryOf(ctx, a.ID); got.ApprovedBy != "" {
		t.Fatalf("approved without a reason: %+v", got)
	}
	if n := s.mailsWith("yamada@example.jp", "待機期間"); n != 0 {
		t.Fatalf("%d mails after a refused approval", n)
	}
	resp, body = b.post("/recoveries/rec-1/approve", "reason", "電話で登録住所と生年月日を確認")
	if resp.Request.URL.Path != "/recoveries" || !strings.Contains(body, "早期承認しました") {
		t.Fatalf("approve: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	if !strings.Contains(body, "kim@tobira.example が早期承認") || strings.Contains(body, "operator:kim") {
		t.Error("the recoveries page does not name the approver by address alone")
	}
	if n := s.mailsWith("yamada@example.jp", "待機期間を終了しました"); n != 1 {
		t.Errorf("%d approval mails to the customer, want 1", n)
	}
	// A second approval (another tab, a double click) is refused.
	resp, body = b.post("/recoveries/rec-1/approve", "reason", "電話で確認")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "既に早期承認されています") {
		t.Errorf("approve twice: %d\n%s", resp.StatusCode, body)
	}
	if n := s.mailsWith("yamada@example.jp", "待機期間を終了しました"); n != 1 {
		t.Errorf("%d approval mails after approving twice, want 1", n)
	}
	got, err := s.db.PendingRecoveryOf(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.EffectiveAt.Equal(s.clock.Now()) || got.ApprovedBy != "operator:kim@tobira.example" {
		t.Errorf("after approval: effective %v (now %v), by %q", got.EffectiveAt, s.clock.Now(), got.ApprovedBy)
	}
	if acts := strings.Join(s.auditActions(a.ID), "\n"); strings.Count(acts, "operator:kim@tobira.example recovery.approve ok") != 1 {
		t.Errorf("audit:\n%s", acts)
	}
	evs, err := s.db.ListAudit(ctx, store.AuditFilter{AccountID: a.ID, Action: "recovery.approve"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, "電話で登録住所と生年月日を確認") {
		t.Errorf("recovery.approve events: %+v, %v", evs, err)
	}
	if resp, _ := b.post("/recoveries/nobody/approve", "reason", "電話で確認"); resp.StatusCode != http.StatusConflict {
		t.Errorf("unknown request: %d", resp.StatusCode)
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
