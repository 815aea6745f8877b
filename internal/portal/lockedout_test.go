package portal_test

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

var confirmLinkRe = regexp.MustCompile(`https://portal\.example\.jp/recovery-request/confirm\?token=[A-Za-z0-9_%-]+`)

// recoveryEnv is an env whose service sees the SQLite store itself (the
// race wrapper hides its recovery requests) and queues its mails.
func recoveryEnv(t *testing.T, change ...func(*config.Config)) (*env, *noticeBox) {
	e := newEnv(t, change...)
	e.svc.Store = e.st.Store
	return e, mailNotices(e)
}

func (e *env) recoveries() store.RecoveryRequests {
	return e.st.Store.(store.RecoveryRequests)
}

// requestRecovery passes the password and asks for recovery at the second
// step; it returns the confirmation link's token from the mail.
func (e *env) requestRecovery(c *customer, box *noticeBox) string {
	e.t.Helper()
	f := e.passwordStep(c)
	if f.State != portal.StateMFA {
		e.t.Fatalf("after password: state %s, want mfa", f.State)
	}
	if err := e.svc.RequestRecovery(e.ctx, f, "ja", e.ip); err != nil {
		e.t.Fatalf("RequestRecovery: %v", err)
	}
	ms := box.since()
	if len(ms) != 1 || ms[0].To != c.email || ms[0].Subject != "【Tobira】二要素認証の復旧申請の確認" {
		e.t.Fatalf("mails after the request: %+v", ms)
	}
	for _, w := range []string{"山田 太郎 様", "60分間", "72時間", jstTime(e.clock.Now().Add(time.Hour))} {
		if !strings.Contains(ms[0].Text, w) {
			e.t.Errorf("request mail lacks %q:\n%s", w, ms[0].Text)
		}
	}
	link := confirmLinkRe.FindString(ms[0].Text)
	if link == "" {
		e.t.Fatalf("request mail has no link:\n%s", ms[0].Text)
	}
	u, _ := url.Parse(link)
	return u.Query().Get("token")
}

// confirmRecovery spends the link and returns the request and the not-me
// token of the mail that says the request waits.
func (e *env) confirmRecovery(c *customer, box *noticeBox, token string) (*store.RecoveryRequest, string) {
	e.t.Helper()
	r, err := e.svc.ConfirmRecovery(e.ctx, token, e.ip)
	if err != nil {
		e.t.Fatalf("ConfirmRecovery: %v", err)
	}
	ms := box.since()
	if len(ms) != 1 || ms[0].To != c.email || ms[0].Subject != "【Tobira】二要素認証の復旧申請を受け付けました" {
		e.t.Fatalf("mails after confirming: %+v", ms)
	}
	for _, w := range []string{"山田 太郎 様", "確定日時: " + jstTime(e.clock.Now()), jstTime(r.EffectiveAt) + "以降", "IP アドレス: 203.0.113.7", "Chrome (Linux)"} {
		if !strings.Contains(ms[0].Text, w) {
			e.t.Errorf("started mail lacks %q:\n%s", w, ms[0].Text)
		}
	}
	link := notMeLinkRe.FindString(ms[0].Text)
	if link == "" {
		e.t.Fatalf("started mail has no not-me link:\n%s", ms[0].Text)
	}
	u, _ := url.Parse(link)
	return r, u.Query().Get("token")
}

func (e *env) state(c *customer) string {
	e.t.Helper()
	e.clock.Advance(mfa.Period * time.Second)
	f := e.passwordStep(c)
	if err := e.svc.Abandon(e.ctx, f); err != nil {
		e.t.Fatal(err)
	}
	return f.State
}

func (e *env) pending(c *customer) *store.RecoveryRequest {
	e.t.Helper()
	r, err := e.recoveries().PendingRecoveryOf(e.ctx, c.acct.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) lastAudit(c *customer, action string) *store.AuditEvent {
	e.t.Helper()
	evs, err := e.st.AuditOf(e.ctx, c.acct.ID, 50)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == action {
			return &ev
		}
	}
	return nil
}

// countAudit counts c's events of action.
func (e *env) countAudit(c *customer, action string) int {
	e.t.Helper()
	evs, err := e.st.AuditOf(e.ctx, c.acct.ID, 200)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// TestRecoveryRequestFlow: request, confirm, a sign-in during the period
// still asks for the factor, and the first one after it enrols anew.
func TestRecoveryRequestFlow(t *testing.T) {
	// Sessions outlive the period here, to show the recovery ends them.
	e, box := recoveryEnv(t, func(c *config.Config) { c.SessionTTL = config.Duration{Duration: 100 * time.Hour} })
	c := e.newCustomer("yamada@example.jp")
	oldSession := e.enrol(c)
	oldSeed := c.seed
	box.since()

	token := e.requestRecovery(c, box)
	for _, bad := range []string{"", "nope", token + "x"} {
		if _, _, err := e.svc.CheckRecovery(e.ctx, bad); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("CheckRecovery(%q): %v", bad, err)
		}
		if _, err := e.svc.ConfirmRecovery(e.ctx, bad, e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("ConfirmRecovery(%q): %v", bad, err)
		}
	}
	if r := e.pending(c); r == nil || r.Status != store.RecoveryUnconfirmed {
		t.Fatalf("pending before confirmation: %+v", r)
	}
	e.clock.Advance(10 * time.Minute)
	if _, when, err := e.svc.CheckRecovery(e.ctx, token); err != nil || !when.Equal(e.clock.Now().Add(72*time.Hour)) {
		t.Fatalf("CheckRecovery = %v, %v", when, err)
	}
	confirmedAt := e.clock.Now()
	r, _ := e.confirmRecovery(c, box, token)
	if r.Status != store.RecoveryWaiting || !r.EffectiveAt.Equal(confirmedAt.Add(72*time.Hour)) {
		t.Fatalf("confirmed request %+v", r)
	}
	// Confirmed again (a reload), or the link checked again: the waiting
	// request and when it takes effect; nothing sent, nothing changed.
	e.clock.Advance(time.Minute)
	if again, err := e.svc.ConfirmRecovery(e.ctx, token, e.ip); err != nil || again.ID != r.ID || !again.EffectiveAt.Equal(r.EffectiveAt) {
		t.Fatalf("second confirmation: %+v, %v", again, err)
	}
	box.none("a second confirmation")
	if w, when, err := e.svc.CheckRecovery(e.ctx, token); err != nil || w.Status != store.RecoveryWaiting || !when.Equal(r.EffectiveAt) {
		t.Fatalf("check of a used link: %+v, %v, %v", w, when, err)
	}

	// A request while one waits is refused.
	f := e.passwordStep(c)
	if err := e.svc.RequestRecovery(e.ctx, f, "ja", e.ip); !errors.Is(err, portal.ErrRecoveryPending) {
		t.Fatalf("second request: %v", err)
	}
	box.none("a refused request")

	// Before the period ends, the sign-in still asks for the factor.
	e.clock.Set(confirmedAt.Add(72*time.Hour - time.Minute))
	if st := e.state(c); st != portal.StateMFA {
		t.Fatalf("sign-in before the period: %s, want mfa", st)
	}
	if r := e.pending(c); r == nil || r.Status != store.RecoveryWaiting {
		t.Fatalf("a sign-in without a factor touched the request: %+v", r)
	}
	e.session(oldSession)

	// After it, the factors are gone and the sign-in enrols.
	e.clock.Set(confirmedAt.Add(72*time.Hour + time.Minute))
	box.since()
	f = e.passwordStep(c)
	if f.State != portal.StateEnrol {
		t.Fatalf("sign-in after the period: %s, want enrol", f.State)
	}
	if fs, err := e.st.FactorsOf(e.ctx, c.acct.ID); err != nil || len(fs) != 0 {
		t.Fatalf("factors after recovery: %v, %v", fs, err)
	}
	if has, err := e.st.HasRecoveryCode(e.ctx, c.acct.ID); err != nil || has {
		t.Fatalf("recovery code after recovery: %v, %v", has, err)
	}
	if ev := e.lastAudit(c, "mfa.reset"); ev == nil || ev.Detail != "recovery request" || ev.Outcome != "ok" {
		t.Fatalf("audit mfa.reset: %+v", ev)
	}
	if r := e.pending(c); r != nil {
		t.Fatalf("request still pending: %+v", r)
	}
	e.noSession(oldSession)
	box.one(c, e.clock.Now(), "203.0.113.7", "Chrome (Linux)", "二要素認証の設定がリセットされました。")

	// The new enrolment works; the old app's codes do not.
	e.svc.Abandon(e.ctx, f)
	e.enrol(c)
	if c.seed == oldSeed {
		t.Fatal("the same seed was enrolled")
	}
	e.clock.Advance(mfa.Period * time.Second)
	f = e.passwordStep(c)
	old := &customer{seed: oldSeed}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(old), e.ip); !errors.Is(err, portal.ErrWrongCode) {
		t.Fatalf("old app's code: %v, want ErrWrongCode", err)
	}
	e.signIn(c)
}

// TestRecoveryCancelledByFactor: a sign-in with the second factor during the
// period cancels the request.
func TestRecoveryCancelledByFactor(t *testing.T) {
	e, box := recoveryEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	e.confirmRecovery(c, box, e.requestRecovery(c, box))
	e.clock.Advance(time.Hour)
	e.signIn(c)
	if r := e.pending(c); r != nil {
		t.Fatalf("request after a sign-in with the factor: %+v", r)
	}
	if ev := e.lastAudit(c, "recovery.cancel"); ev == nil || ev.Detail != portal.RecoveryCancelFactor {
		t.Fatalf("audit recovery.cancel: %+v", ev)
	}
	e.clock.Advance(80 * time.Hour)
	if st := e.state(c); st != portal.StateMFA {
		t.Fatalf("sign-in after a cancelled request: %s, want mfa", st)
	}
	if fs, _ := e.st.FactorsOf(e.ctx, c.acct.ID); len(fs) != 1 {
		t.Fatalf("factors: %v", fs)
	}
}

// TestRecoveryCancelledByNotMe: the notice's "this was not me" cancels.
func TestRecoveryCancelledByNotMe(t *testing.T) {
	e, box := recoveryEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	_, notMe := e.confirmRecovery(c, box, e.requestRecovery(c, box))
	e.clock.Advance(70 * time.Hour)
	if _, err := e.svc.ReportNotMe(e.ctx, notMe, e.ip); err != nil {
		t.Fatalf("ReportNotMe: %v", err)
	}
	if r := e.pending(c); r != nil {
		t.Fatalf("request after not-me: %+v", r)
	}
	if ev := e.lastAudit(c, "recovery.cancel"); ev == nil || ev.Detail != portal.RecoveryCancelNotMe {
		t.Fatalf("audit recovery.cancel: %+v", ev)
	}
	e.clock.Advance(10 * time.Hour)
	if st := e.state(c); st != portal.StateMFA {
		t.Fatalf("sign-in after not-me: %s, want mfa", st)
	}
}

// Operators of the early approvals: sato proposes, ito approves.
const (
	sato = "operator:sato@tobira.example"
	ito  = "operator:ito@tobira.example"
)

// operators creates the enabled support operators sato and ito: an
// approval checks that its proposer still is one.
func (e *env) operators() {
	e.t.Helper()
	for _, actor := range []string{sato, ito} {
		email := strings.TrimPrefix(actor, "operator:")
		if err := e.svc.Store.CreateOperator(e.ctx, &store.Operator{ID: "op-" + email, Email: email, Name: email,
			Role: store.RoleSupport, PasswordHash: "x", TOTPSecret: "x", CreatedAt: e.clock.Now()}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// approveEarly has sato propose, after the identity check checked, and ito
// approve the early approval of the waiting request r.
func (e *env) approveEarly(r *store.RecoveryRequest) *store.RecoveryRequest {
	e.t.Helper()
	e.operators()
	p, err := e.svc.ProposeRecoveryApproval(e.ctx, r.ID, sato, checked)
	if err != nil {
		e.t.Fatalf("ProposeRecoveryApproval: %v", err)
	}
	a, err := e.svc.ApproveRecoveryEarly(e.ctx, r.ID, p.ProposedAt, ito)
	if err != nil {
		e.t.Fatalf("ApproveRecoveryEarly: %v", err)
	}
	return a
}

// TestRecoveryApproveEarly: one operator proposes to end the period, which
// goes on; a second approves, and only then does it end.
func TestRecoveryApproveEarly(t *testing.T) {
	e, box := recoveryEnv(t, func(c *config.Config) { c.RecoveryCoolingOff = config.Duration{Duration: 24 * time.Hour} })
	e.operators()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	f := e.passwordStep(c)
	if err := e.svc.RequestRecovery(e.ctx, f, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	unconfirmed := e.pending(c)
	if _, err := e.svc.ProposeRecoveryApproval(e.ctx, unconfirmed.ID, sato, checked); !errors.Is(err, store.ErrRecoveryNotWaiting) {
		t.Fatalf("proposing an unconfirmed request: %v", err)
	}
	ms := box.since()
	u, _ := url.Parse(confirmLinkRe.FindString(ms[0].Text))
	r, err := e.svc.ConfirmRecovery(e.ctx, u.Query().Get("token"), e.ip)
	if err != nil || !r.EffectiveAt.Equal(e.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("ConfirmRecovery with a 24 h period: %+v, %v", r, err)
	}
	list, err := e.svc.PendingRecoveries(e.ctx)
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("PendingRecoveries = %+v, %v", list, err)
	}
	if _, err := e.svc.ProposeRecoveryApproval(e.ctx, "nope", sato, checked); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("proposing an unknown request: %v", err)
	}
	e.clock.Advance(time.Hour)
	box.since()
	for _, reason := range []string{"", "  ", strings.Repeat("確", 201)} {
		if _, err := e.svc.ProposeRecoveryApproval(e.ctx, r.ID, sato, reason); !errors.Is(err, portal.ErrApproveReason) {
			t.Fatalf("proposing with reason %q: %v", reason, err)
		}
	}
	if p := e.pending(c); p.ProposedBy != "" || p.ApprovedBy != "" || !p.EffectiveAt.Equal(r.EffectiveAt) {
		t.Fatalf("a refused proposal changed the request: %+v", p)
	}
	// A proposal, however well founded, ends nothing: the period goes on,
	// and the customer hears nothing yet.
	p, err := e.svc.ProposeRecoveryApproval(e.ctx, r.ID, sato, " "+checked+" ")
	if err != nil || p.ProposedBy != sato || p.ProposedReason != checked || p.ApprovedBy != "" || !p.EffectiveAt.Equal(r.EffectiveAt) {
		t.Fatalf("ProposeRecoveryApproval = %+v, %v", p, err)
	}
	if ev := e.lastAudit(c, "recovery.propose"); ev == nil || ev.Actor != sato || ev.Detail != "request "+r.ID+": "+checked {
		t.Fatalf("audit recovery.propose: %+v", ev)
	}
	box.none("a proposal")
	if st := e.state(c); st != portal.StateMFA {
		t.Fatalf("after the proposal: %s, want mfa", st)
	}
	// Its proposer cannot approve it.
	if _, err := e.svc.ApproveRecoveryEarly(e.ctx, r.ID, p.ProposedAt, sato); !errors.Is(err, store.ErrOwnRecoveryProposal) {
		t.Fatalf("the proposer approves: %v", err)
	}
	if n := e.countAudit(c, "recovery.approve"); n != 0 {
		t.Fatalf("%d recovery.approve events after the proposer's approval", n)
	}
	box.none("the proposer's approval")

	// An approval is of the proposal its operator read: one of another
	// proposal (withdrawn since, and made again) is stale.
	if _, err := e.svc.ApproveRecoveryEarly(e.ctx, r.ID, p.ProposedAt.Add(-time.Minute), ito); !errors.Is(err, store.ErrStale) {
		t.Fatalf("approving another proposal: %v", err)
	}
	box.none("the approval of another proposal")

	a, err := e.svc.ApproveRecoveryEarly(e.ctx, r.ID, p.ProposedAt, ito)
	if err != nil || a.ApprovedBy != ito || a.ProposedBy != sato || !a.EffectiveAt.Equal(e.clock.Now()) {
		t.Fatalf("ApproveRecoveryEarly = %+v, %v", a, err)
	}
	if ev := e.lastAudit(c, "recovery.approve"); ev == nil || ev.Actor != ito ||
		ev.Detail != "request "+r.ID+" proposed by "+sato+", approved by "+ito+": "+checked {
		t.Fatalf("audit recovery.approve: %+v", ev)
	}
	ms = box.since()
	if len(ms) != 1 || ms[0].To != c.email || !strings.Contains(ms[0].Subject, "待機期間を終了しました") ||
		!strings.Contains(ms[0].Text, "サポート窓口で本人確認を行い") || !strings.Contains(ms[0].Text, "心当たりがない") ||
		!notMeLinkRe.MatchString(ms[0].Text) {
		t.Fatalf("mails after approval: %+v", ms)
	}
	// Approved once: a second approval (another tab) is stale, a new
	// proposal refused.
	if _, err := e.svc.ApproveRecoveryEarly(e.ctx, r.ID, p.ProposedAt, "operator:kato@tobira.example"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("approving twice: %v", err)
	}
	if _, err := e.svc.ProposeRecoveryApproval(e.ctx, r.ID, ito, checked); !errors.Is(err, store.ErrRecoveryApproved) {
		t.Fatalf("proposing after the approval: %v", err)
	}
	if n := e.countAudit(c, "recovery.approve"); n != 1 {
		t.Fatalf("%d recovery.approve events after approving twice, want 1", n)
	}
	box.none("a second approval")
	if st := e.state(c); st != portal.StateEnrol {
		t.Fatalf("after approval: %s, want enrol", st)
	}
	if list, _ := e.svc.PendingRecoveries(e.ctx); len(list) != 0 {
		t.Fatalf("pending after completion: %+v", list)
	}
}

// TestRecoveryApprovalAfterProposerDisabled: the proposer is disabled
// before a second operator approves: the approval is refused, writes
// nothing and mails nothing, and the proposal can still be rejected.
func TestRecoveryApprovalAfterProposerDisabled(t *testing.T) {
	e, box := recoveryEnv(t)
	e.operators()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	r, _ := e.confirmRecovery(c, box, e.requestRecovery(c, box))
	p, err := e.svc.ProposeRecoveryApproval(e.ctx, r.ID, sato, checked)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Store.SetOperatorDisabled(e.ctx, "op-sato@tobira.example", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveRecoveryEarly(e.ctx, r.ID, p.ProposedAt, ito); !errors.Is(err, portal.ErrProposerDisabled) {
		t.Fatalf("approval of a disabled operator's proposal: %v", err)
	}
	if p := e.pending(c); p.ApprovedBy != "" || !p.Proposed() || !p.EffectiveAt.Equal(r.EffectiveAt) {
		t.Fatalf("a refused approval changed the request: %+v", p)
	}
	if n := e.countAudit(c, "recovery.approve"); n != 0 {
		t.Fatalf("%d recovery.approve events after a refused approval", n)
	}
	box.none("a refused approval")
	if _, err := e.svc.Store.DecideRecoveryProposal(e.ctx, r.ID, p.ProposedAt, ito, store.ResetRejected, e.clock.Now()); err != nil {
		t.Fatalf("rejecting the proposal: %v", err)
	}
}

// TestRecoveryProposalVoidWhenCancelled: the customer cancels the request
// (a second factor used) after an operator proposed its early approval:
// the proposal is void, and its approval changes and mails nothing.
func TestRecoveryProposalVoidWhenCancelled(t *testing.T) {
	e, box := recoveryEnv(t)
	e.operators()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	r, _ := e.confirmRecovery(c, box, e.requestRecovery(c, box))
	p, err := e.svc.ProposeRecoveryApproval(e.ctx, r.ID, sato, checked)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if st := e.state(c); st != portal.StateMFA {
		t.Fatalf("sign-in: %s", st)
	}
	f := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); err != nil {
		t.Fatalf("second factor: %v", err)
	}
	if p := e.pending(c); p != nil {
		t.Fatalf("request after the second factor: %+v", p)
	}
	box.since()
	if _, err := e.svc.ApproveRecoveryEarly(e.ctx, r.ID, p.ProposedAt, ito); !errors.Is(err, store.ErrRecoveryNotWaiting) {
		t.Fatalf("approval of a cancelled request's proposal: %v", err)
	}
	if n := e.countAudit(c, "recovery.approve"); n != 0 {
		t.Fatalf("%d recovery.approve events", n)
	}
	box.none("the approval of a void proposal")
}

// TestRecoveryApprovedNotMe: the approval mail's "this was not me" link
// cancels the approved request before the next sign-in resets anything.
func TestRecoveryApprovedNotMe(t *testing.T) {
	e, box := recoveryEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	r, _ := e.confirmRecovery(c, box, e.requestRecovery(c, box))
	e.approveEarly(r)
	ms := box.since()
	if len(ms) != 1 {
		t.Fatalf("%d mails after approval, want 1", len(ms))
	}
	u, _ := url.Parse(notMeLinkRe.FindString(ms[0].Text))
	if _, err := e.svc.ReportNotMe(e.ctx, u.Query().Get("token"), e.ip); err != nil {
		t.Fatalf("ReportNotMe: %v", err)
	}
	if p := e.pending(c); p != nil {
		t.Fatalf("request after not-me: %+v", p)
	}
	if st := e.state(c); st != portal.StateMFA {
		t.Fatalf("sign-in after not-me: %s, want mfa", st)
	}
}

// checked is an operator's identity check, the reason of an early approval.
const checked = "電話で登録住所と生年月日を確認"

// TestRecoveryRequestLimits: the link expires in an hour, a new request
// replaces it, a request needs the second step, and requests are bounded.
func TestRecoveryRequestLimits(t *testing.T) {
	e, box := recoveryEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()

	first := e.requestRecovery(c, box)
	e.clock.Advance(time.Hour + time.Second)
	if _, err := e.svc.ConfirmRecovery(e.ctx, first, e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("expired link: %v", err)
	}
	second := e.requestRecovery(c, box)
	third := e.requestRecovery(c, box)
	if _, err := e.svc.ConfirmRecovery(e.ctx, second, e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("replaced link: %v", err)
	}
	e.requestRecovery(c, box)
	e.requestRecovery(c, box)
	f := e.passwordStep(c)
	if err := e.svc.RequestRecovery(e.ctx, f, "ja", e.ip); !errors.Is(err, portal.ErrTooManyRequests) {
		t.Fatalf("sixth request in a day: %v", err)
	}
	box.none("a refused request")
	if _, err := e.svc.ConfirmRecovery(e.ctx, third, e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("replaced link: %v", err)
	}

	other := e.newCustomer("sato@example.jp")
	f = e.passwordStep(other)
	if f.State != portal.StateEnrol {
		t.Fatal(f.State)
	}
	if err := e.svc.RequestRecovery(e.ctx, f, "ja", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("request at enrolment: %v", err)
	}
}

// TestRecoveryMailsEnglish: both mails render in English too.
func TestRecoveryMailsEnglish(t *testing.T) {
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for name, data := range map[string]any{
		"recovery_request": mail.RecoveryRequest{Name: "Taro", Email: "t@example.jp", PortalURL: "https://p/login",
			Link: "https://p/recovery-request/confirm?token=abc", ValidMinutes: 60, Expires: at, CoolingOff: 72 * time.Hour},
		"recovery_started": mail.RecoveryStarted{Name: "Taro", Email: "t@example.jp", At: at, IP: "192.0.2.1",
			EffectiveAt: at.Add(72 * time.Hour), CoolingOff: 72 * time.Hour, NotMeURL: "https://p/not-me?token=x", PortalURL: "https://p/login"},
		"recovery_approved": mail.RecoveryApproved{Name: "Taro", Email: "t@example.jp", At: at,
			NotMeURL: "https://p/not-me?token=x", PortalURL: "https://p/login"},
	} {
		m, err := mail.Render(name, "en", data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(m.Text, "Dear Taro,") || !strings.Contains(m.Text, "https://p/") || !strings.Contains(m.HTML, `<html lang="en">`) {
			t.Errorf("%s:\n%s", name, m.Text)
		}
	}
}

// TestRecoveryRefusalUsesNoAllowance: a request refused because one waits
// already creates nothing and sends nothing, so it does not use one of the
// day's requests; those that do create a request and send its mail are
// still bounded.
func TestRecoveryRefusalUsesNoAllowance(t *testing.T) {
	e, box := recoveryEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	box.since()
	_, notMe := e.confirmRecovery(c, box, e.requestRecovery(c, box))

	for i := range recoveryRequestsPerDay + 2 {
		f := e.passwordStep(c)
		if err := e.svc.RequestRecovery(e.ctx, f, "ja", e.ip); !errors.Is(err, portal.ErrRecoveryPending) {
			t.Fatalf("request %d while one waits: %v, want ErrRecoveryPending", i+1, err)
		}
		e.svc.Abandon(e.ctx, f)
	}
	box.none("refused requests")

	if _, err := e.svc.ReportNotMe(e.ctx, notMe, e.ip); err != nil {
		t.Fatalf("ReportNotMe: %v", err)
	}
	// The first request used one of the day's five; four more are left.
	for range recoveryRequestsPerDay - 1 {
		e.requestRecovery(c, box)
	}
	f := e.passwordStep(c)
	if err := e.svc.RequestRecovery(e.ctx, f, "ja", e.ip); !errors.Is(err, portal.ErrTooManyRequests) {
		t.Fatalf("sixth request that would send a mail: %v, want ErrTooManyRequests", err)
	}
	box.none("a throttled request")
}

// recoveryRequestsPerDay is the portal's bound on an account's recovery
// requests a day.
const recoveryRequestsPerDay = 5
