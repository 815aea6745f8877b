package portal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// TestResetMFA is the security page's reset: refused without a fresh second
// factor; a step-up renews the session; the reset then removes every factor
// and the recovery code, ends the other sessions, keeps this one and writes
// the audit event; the next sign-in enrols again.
func TestResetMFA(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	here := e.enrol(c)
	other := e.signIn(c) // another browser
	otherCustomer := e.newCustomer("sato@example.jp")
	e.enrol(otherCustomer)
	bystander := e.signIn(otherCustomer)

	signedInAt := e.clock.Now()
	e.clock.Advance(11 * time.Minute)
	si := e.session(here)
	if e.svc.Fresh(si) {
		t.Fatal("a second factor 11 minutes old is fresh")
	}
	if err := e.svc.ResetMFA(e.ctx, si, e.ip); !errors.Is(err, portal.ErrStepUpNeeded) {
		t.Fatalf("ResetMFA without a fresh second factor: %v, want ErrStepUpNeeded", err)
	}
	if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); len(ms) != 2 {
		t.Fatalf("a refused reset changed the methods: %v", ms)
	}
	e.session(other)

	// Step-up.
	f, err := e.svc.StartStepUp(e.ctx, si, "/security/reset")
	if err != nil {
		t.Fatal(err)
	}
	if f.State != portal.StateMFA || !f.IsStepUp() || f.ReturnTo != "/security/reset" {
		t.Fatalf("step-up flow %+v", f.Flow)
	}
	f = e.reload(f, portal.StateMFA)
	if !f.IsStepUp() {
		t.Fatal("the step-up mark did not survive the store")
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); err != nil {
		t.Fatalf("step-up code: %v", err)
	}
	renewed, err := e.svc.Finish(e.ctx, f, here, e.ip)
	if err != nil {
		t.Fatalf("Finish step-up: %v", err)
	}
	if renewed == here {
		t.Fatal("the step-up kept the session id")
	}
	e.noSession(here)
	si2 := e.session(renewed)
	if !si2.Session.MFAAt.Equal(e.clock.Now()) {
		t.Fatalf("MFAAt = %v, want now %v", si2.Session.MFAAt, e.clock.Now())
	}
	if !si2.Session.CreatedAt.Equal(si.Session.CreatedAt) || !si2.Session.ExpiresAt.Equal(si.Session.ExpiresAt) {
		t.Fatalf("step-up changed the session's life: %+v, was %+v", si2.Session, si.Session)
	}
	if si.Session.CreatedAt.After(signedInAt) {
		t.Fatal("test setup: the first session is newer than expected")
	}
	if !e.svc.Fresh(si2) {
		t.Fatal("the renewed session is not fresh")
	}

	// The reset.
	if err := e.svc.ResetMFA(e.ctx, si2, e.ip); err != nil {
		t.Fatalf("ResetMFA: %v", err)
	}
	if fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID); len(fs) != 0 {
		t.Fatalf("factors left: %+v", fs)
	}
	if has, _ := e.svc.Store.HasRecoveryCode(e.ctx, c.acct.ID); has {
		t.Fatal("the recovery code is left")
	}
	if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); len(ms) != 0 {
		t.Fatalf("methods after reset: %v", ms)
	}
	e.noSession(other)
	e.session(renewed)
	e.session(bystander) // another account's session is untouched
	if ms, _ := e.svc.Methods(e.ctx, otherCustomer.acct.ID); len(ms) != 2 {
		t.Fatalf("another account's factors changed: %v", ms)
	}
	evs, err := e.svc.Store.AuditOf(e.ctx, c.acct.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reset, stepup bool
	for _, ev := range evs {
		if ev.Action == "mfa.reset" && ev.Outcome == "ok" && ev.Actor == "customer" && ev.At.Equal(e.clock.Now()) && ev.ClientIP == e.ip.IP {
			reset = true
		}
		if ev.Action == "session.stepup" && ev.Outcome == "ok" {
			stepup = true
		}
	}
	if !reset || !stepup {
		t.Fatalf("audit events: mfa.reset %v, session.stepup %v: %+v", reset, stepup, evs)
	}

	// The old recovery code and app no longer open anything.
	e.clock.Advance(time.Minute)
	g := e.passwordStep(c)
	if g.State != portal.StateEnrol {
		t.Fatalf("next sign-in: state %s, want %s", g.State, portal.StateEnrol)
	}
	en, err := e.svc.Enrolment(e.ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if en.Secret == c.seed {
		t.Fatal("re-enrolment offers the old seed")
	}
	// With nothing enrolled, a step-up has nothing to ask for.
	if _, err := e.svc.StartStepUp(e.ctx, e.session(renewed), "/security/reset"); !errors.Is(err, portal.ErrNoSuchMethod) {
		t.Fatalf("StartStepUp with no factor: %v, want ErrNoSuchMethod", err)
	}
}

// TestFreshBoundary: the second factor is fresh for StepUpMaxAge, no longer.
func TestFreshBoundary(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrol(c)
	si := e.session(token)
	if !e.svc.Fresh(si) {
		t.Fatal("just signed in: not fresh")
	}
	e.clock.Advance(e.svc.Config.StepUpMaxAge.Duration)
	if !e.svc.Fresh(si) {
		t.Fatal("exactly at the limit: not fresh")
	}
	e.clock.Advance(time.Second)
	if e.svc.Fresh(si) {
		t.Fatal("past the limit: still fresh")
	}
}

// TestStepUpWithRecoveryCode: a step-up may use the recovery code; the
// customer then sees a new one, and the session is renewed.
func TestStepUpWithRecoveryCode(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrol(c)
	e.clock.Advance(20 * time.Minute)
	f, err := e.svc.StartStepUp(e.ctx, e.session(token), "/security")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, c.recovery, e.ip); err != nil {
		t.Fatal(err)
	}
	f = e.reload(f, portal.StateRecovery)
	if !f.IsStepUp() {
		t.Fatal("the step-up mark was lost at the recovery screen")
	}
	code, _ := e.svc.RecoveryCode(f)
	if code == c.recovery || len(code) != 24 {
		t.Fatalf("new recovery code %q", code)
	}
	if err := e.svc.AcknowledgeRecovery(f, true); err != nil {
		t.Fatal(err)
	}
	renewed, err := e.svc.Finish(e.ctx, f, token, e.ip)
	if err != nil {
		t.Fatal(err)
	}
	e.noSession(token)
	if si := e.session(renewed); !e.svc.Fresh(si) {
		t.Fatal("renewed session is not fresh")
	}
}

// TestStepUpOfAnEndedSession: a step-up whose session ended meanwhile (signed
// out in another tab) checks no code and creates no session
// (TestStepUpOfAnEndedSessionChecksNothing has the rest).
func TestStepUpOfAnEndedSession(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrol(c)
	e.clock.Advance(20 * time.Minute)
	si := e.session(token)
	f, err := e.svc.StartStepUp(e.ctx, si, "/security")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SignOut(e.ctx, si, e.ip); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); !errors.Is(err, portal.ErrFlowExpired) {
		t.Fatalf("the code of a step-up for an ended session: %v, want ErrFlowExpired", err)
	}
	if tok, err := e.svc.Finish(e.ctx, f, token, e.ip); err == nil {
		t.Fatalf("Finish of a step-up for an ended session gave a session %q", tok)
	}
}

func TestOperatorResetMFA(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	a := e.enrol(c)
	b := e.signIn(c)
	got, err := e.svc.OperatorResetMFA(e.ctx, " YAMADA@example.jp ", "operator:kim")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.acct.ID {
		t.Fatalf("reset account %s", got.ID)
	}
	e.noSession(a)
	e.noSession(b)
	if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); len(ms) != 0 {
		t.Fatalf("methods left: %v", ms)
	}
	evs, _ := e.svc.Store.AuditOf(e.ctx, c.acct.ID, 1)
	if len(evs) != 1 || evs[0].Action != "mfa.reset" || evs[0].Actor != "operator:kim" {
		t.Fatalf("audit %+v", evs)
	}
	if _, err := e.svc.OperatorResetMFA(e.ctx, "nobody@example.jp", "operator:kim"); err == nil {
		t.Fatal("reset of an unknown address: no error")
	}
	// The store appended the reset's event with the reset; it is counted
	// for /metrics all the same, once.
	if n := eventCount(e.svc, "mfa.reset", "ok"); n != 1 {
		t.Errorf("mfa.reset counted %d times, want 1", n)
	}
}

// eventCount is how many events of the action and outcome svc counted.
func eventCount(svc *portal.Service, action, outcome string) int64 {
	for _, c := range svc.Events.Snapshot() {
		if c.Action == action && c.Outcome == outcome {
			return c.N
		}
	}
	return 0
}

// TestResetClearsTheLock: a reset (by an operator, for a locked-out customer)
// lifts the second-factor lock, so the customer can enrol at once.
func TestResetClearsTheLock(t *testing.T) {
	e := newEnv(t)
	c, f := e.atSecondFactor()
	for range 10 {
		_ = e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
	}
	if a := e.account(c); a.MFALockedUntil.IsZero() {
		t.Fatal("not locked after 10 wrong codes")
	}
	if _, err := e.svc.OperatorResetMFA(e.ctx, c.email, "operator:kim"); err != nil {
		t.Fatal(err)
	}
	if a := e.account(c); a.MFAFailures != 0 || !a.MFALockedUntil.IsZero() {
		t.Fatalf("after reset: failures %d, locked until %v", a.MFAFailures, a.MFALockedUntil)
	}
	e.enrol(c)
}

// sessionsFailStore fails DeleteSessionsOf, in units too, as a database
// that broke in the middle of a lock would.
type sessionsFailStore struct{ store.Store }

func (f sessionsFailStore) Atomically(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) error {
	return f.Store.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
		return fn(ctx, sessionsFailStore{tx})
	})
}

func (sessionsFailStore) DeleteSessionsOf(context.Context, string, string) error {
	return errors.New("the disk is full")
}

// TestLockIsOneStep: a lock whose sessions could not be ended is not a
// lock, so the operator's next try does the whole of it; a lock that stood
// alone would be refused as "locked already" and leave the sessions on.
func TestLockIsOneStep(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrol(c)
	real := e.svc.Store
	lock := &store.AccountLock{AccountID: c.acct.ID, LockedBy: "operator:kim", Reason: "stolen", At: e.clock.Now()}

	e.svc.Store = sessionsFailStore{real}
	if err := e.svc.LockAccount(e.ctx, lock); err == nil {
		t.Fatal("LockAccount with a failing store: no error")
	}
	e.svc.Store = real
	if l, err := real.AccountLockOf(e.ctx, c.acct.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a lock stood after its sessions failed to end: %+v, %v", l, err)
	}
	e.session(token)

	if err := e.svc.LockAccount(e.ctx, lock); err != nil {
		t.Fatalf("LockAccount again: %v", err)
	}
	e.noSession(token)
	if err := e.svc.LockAccount(e.ctx, lock); !errors.Is(err, store.ErrConflict) {
		t.Errorf("LockAccount of a locked account: %v, want ErrConflict", err)
	}
}

// TestLockBetweenPasswordAndCode: an operator locks the account while its
// owner (or whoever has the password) is at the code step; the right code
// then ends in no session, and the flow is spent.
func TestLockBetweenPasswordAndCode(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	e.clock.Advance(mfa.Period * time.Second)
	f := e.passwordStep(c)
	if err := e.svc.LockAccount(e.ctx, &store.AccountLock{AccountID: c.acct.ID, LockedBy: "operator:kim", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	token, err := e.svc.SecondFactorThenFinish(e.ctx, f, portal.MethodTOTP, e.code(c), "", e.ip)
	if !errors.Is(err, portal.ErrAccountLocked) || token != "" {
		t.Fatalf("the code after a lock: %q, %v; want ErrAccountLocked", token, err)
	}
	if g, err := e.svc.LoadFlow(e.ctx, e.svc.FlowCookie(f)); err == nil {
		t.Fatalf("the flow lives on after the lock refused it: %+v", g)
	}
	evs, _ := e.svc.Store.AuditOf(e.ctx, c.acct.ID, 1)
	if len(evs) != 1 || evs[0].Action != "signin" || evs[0].Outcome != "account_locked" {
		t.Errorf("the last audit event: %+v", evs)
	}
}

// TestGrantsEndInTheSameCommit: a lock, an operator's reset, the security
// page's reset and a new password revoke the account's grants in their own
// commit, not after it (a "not me" report: TestReportNotMe): with nobody told of ended
// grants (GrantsEnded unset, as when the node stops right after the
// commit) no grant of the account is live.
func TestGrantsEndInTheSameCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(e *env, c *customer, session string)
	}{
		{"lock", func(e *env, c *customer, _ string) {
			if err := e.svc.LockAccount(e.ctx, &store.AccountLock{AccountID: c.acct.ID, LockedBy: "operator:kim", At: e.clock.Now()}); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"operator reset", func(e *env, c *customer, _ string) {
			if _, err := e.svc.OperatorResetMFA(e.ctx, c.email, "operator:kim"); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"security page reset", func(e *env, c *customer, session string) {
			if err := e.svc.ResetMFA(e.ctx, e.session(session), e.ip); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"new password", func(e *env, c *customer, _ string) {
			if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), "a brand new password", e.ip); err != nil {
				e.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t).withMail()
			c := e.newCustomer("yamada@example.jp")
			session := e.enrol(c)
			grant := e.siteGrant(c)
			e.svc.GrantsEnded = nil
			tc.end(e, c, session)
			if !e.grantEnded(grant) {
				t.Errorf("the grant is live after the %s", tc.name)
			}
		})
	}
}

// TestResetByASessionEndedMeanwhile: the security page's reset comes from
// a session resolved at the start of its request. When that session ends
// before the reset's unit (an operator's lock of a stolen account, a
// 「心当たりがない」 report, a sign-out from the device list or another tab),
// the reset changes nothing: the second factors stay, nothing is recorded
// or mailed, as a password change from such a session changes nothing.
func TestResetByASessionEndedMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(e *env, c *customer, token string)
	}{
		{"operator's lock", func(e *env, c *customer, token string) {
			lock := &store.AccountLock{AccountID: c.acct.ID, LockedBy: "operator:kim", Reason: "stolen", At: e.clock.Now()}
			if err := e.svc.LockAccount(e.ctx, lock); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"signed out", func(e *env, c *customer, token string) {
			if err := e.svc.SignOut(e.ctx, e.session(token), e.ip); err != nil {
				e.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCustomer("yamada@example.jp")
			token := e.enrol(c)
			si := e.session(token)
			tc.end(e, c, token)
			if err := e.svc.ResetMFA(e.ctx, si, e.ip); !errors.Is(err, portal.ErrNoSession) {
				t.Fatalf("ResetMFA of an ended session: %v, want ErrNoSession", err)
			}
			if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); len(ms) != 2 {
				t.Fatalf("the methods after the refused reset: %v, want the app and the recovery code", ms)
			}
			if n := e.auditCount(c.acct.ID, store.ActionMFAReset, "ok"); n != 0 {
				t.Fatalf("%d resets recorded", n)
			}
		})
	}
}
