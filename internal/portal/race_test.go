package portal_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// guard bounds a rendezvous so that a product change which serialises the
// requests makes these tests fail rather than hang. It is no timing
// assertion: in the interleavings tested, every request arrives at once.
const guard = 30 * time.Second

// atOnce runs fn n times at once, with the store armed so that they meet
// (hit: at the limits' counting; unit: at their units of work) before any
// goes on, and returns their errors by i. A run that does not finish within
// guard fails rather than hangs.
func (e *env) atOnce(n int, hit, unit *rendezvous, fn func(ctx context.Context, i int) error) []error {
	ctx, cancel := context.WithTimeout(e.ctx, guard)
	defer cancel()
	e.st.arm(hit, unit)
	defer e.st.arm(nil, nil)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(ctx, i)
		}()
	}
	wg.Wait()
	return errs
}

// TestConcurrentWrongCodesKeepTheLock: two wrong codes sent at the same time
// as the 10th and 11th of a row, both arriving at their unit of work at
// once. Each attempt reads the account, has its code checked and is counted
// in one transaction: the 10th closes the step, and the 11th is refused
// without being counted, so it cannot open the step again.
// Afterwards even the right code is refused for an hour.
func TestConcurrentWrongCodesKeepTheLock(t *testing.T) {
	e := newEnv(t)
	c, f := e.atSecondFactor()
	e.wrongCodes(c, f, 9)

	errs := e.atOnce(2, nil, newRendezvous(2, ""), func(ctx context.Context, i int) error {
		return e.svc.SecondFactor(ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
	})
	locked := 0
	for _, err := range errs {
		if errors.As(err, new(*portal.LockedError)) {
			locked++
		} else if !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("concurrent wrong code: %v", err)
		}
	}
	t.Logf("concurrent results: %v", errs)

	a := e.account(c)
	if a.MFAFailures != 10 {
		t.Fatalf("failures = %d, want 10", a.MFAFailures)
	}
	if locked != 2 {
		t.Fatalf("%d of the 10th and 11th wrong codes reported the lock, want both", locked)
	}
	if !a.MFALockedUntil.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("after 11 wrong codes the step is locked until %v, want %v: "+
			"the 11th failure (counted by a request that had passed the open check) overwrote the lock of the 10th",
			a.MFALockedUntil, e.clock.Now().Add(time.Hour))
	}
	err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip)
	if !errors.As(err, new(*portal.LockedError)) {
		t.Fatalf("the right code right after 10+ wrong ones: %v, want *LockedError (step must stay closed for an hour)", err)
	}
}

// TestSameCodeTwiceAtOnce: one right code sent by two sign-ins at the same
// time, both arriving at their unit of work together. One is accepted; the
// other is a replay, answered ErrCodeUsed and counted as a wrong code.
func TestSameCodeTwiceAtOnce(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	e.clock.Advance(30 * time.Second)
	flows := []*portal.Flow{e.passwordStep(c), e.passwordStep(c)}
	code := e.code(c)

	errs := e.atOnce(len(flows), nil, newRendezvous(len(flows), ""), func(ctx context.Context, i int) error {
		return e.svc.SecondFactor(ctx, flows[i], portal.MethodTOTP, code, e.ip)
	})
	ok, used := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, portal.ErrCodeUsed):
			used++
		default:
			t.Fatalf("the same code twice at once: %v", err)
		}
	}
	if ok != 1 || used != 1 {
		t.Fatalf("results %v, want one accepted and one ErrCodeUsed", errs)
	}
	if a := e.account(c); a.MFAFailures != 1 {
		t.Fatalf("failures %d, want 1", a.MFAFailures)
	}
}

// TestCodeFormSentTwice: the code form of one sign-in sent twice (a double
// click), both requests having loaded the flow before either reached its
// unit of work. The first signs in; the second, whose answer is the one the
// browser shows, is told the sign-in ended (the browser then goes where it
// was going), and counts as no wrong code and records no failure.
func TestCodeFormSentTwice(t *testing.T) {
	e := newEnv(t)
	c, f := e.atSecondFactor()
	again := e.reload(f, portal.StateMFA)
	code := e.code(c)

	token, err := e.svc.SecondFactorThenFinish(e.ctx, f, portal.MethodTOTP, code, "", e.ip)
	if err != nil || token == "" {
		t.Fatalf("first: %q, %v", token, err)
	}
	if token, err := e.svc.SecondFactorThenFinish(e.ctx, again, portal.MethodTOTP, code, "", e.ip); !errors.Is(err, portal.ErrFlowFinished) || token != "" {
		t.Fatalf("the same form again: %q, %v; want ErrFlowFinished", token, err)
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Errorf("failures %d, want 0", a.MFAFailures)
	}
	if n := e.auditCount(c.acct.ID, store.ActionMFATOTP, "fail"); n != 0 {
		t.Errorf("%d failures recorded, want none", n)
	}

	// At once: one signs in, the other hears the sign-in ended.
	e.clock.Advance(30 * time.Second)
	f = e.passwordStep(c)
	flows := []*portal.Flow{f, e.reload(f, portal.StateMFA)}
	code = e.code(c)
	errs := e.atOnce(len(flows), nil, newRendezvous(len(flows), ""), func(ctx context.Context, i int) error {
		_, err := e.svc.SecondFactorThenFinish(ctx, flows[i], portal.MethodTOTP, code, "", e.ip)
		return err
	})
	ok, finished := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, portal.ErrFlowFinished):
			finished++
		}
	}
	if ok != 1 || finished != 1 {
		t.Fatalf("results %v, want one signed in and one ErrFlowFinished", errs)
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Errorf("failures %d after the form sent twice at once, want 0", a.MFAFailures)
	}
}

// TestParallelGuessesStayUnderTheLock: an attacker who sends 25 wrong codes
// at once, all arriving at their unit of work together. However they
// interleave, at most 10 may be checked before the
// step closes, and the step must end up closed.
func TestParallelGuessesStayUnderTheLock(t *testing.T) {
	e := newEnv(t)
	c, f := e.atSecondFactor()

	const n = 25
	errs := e.atOnce(n, nil, newRendezvous(n, ""), func(ctx context.Context, i int) error {
		return e.svc.SecondFactor(ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
	})
	checked := 0
	for _, err := range errs {
		if errors.Is(err, portal.ErrWrongCode) {
			checked++
		}
	}
	a := e.account(c)
	t.Logf("%d of %d parallel guesses were checked; failures %d, locked until %v", checked, n, a.MFAFailures, a.MFALockedUntil)
	if a.MFALockedUntil.IsZero() || !a.MFALockedUntil.After(e.clock.Now()) {
		t.Errorf("after %d wrong codes the step is open (locked until %v)", a.MFAFailures, a.MFALockedUntil)
	}
	if checked > 10 {
		t.Errorf("%d guesses were checked as plain wrong codes; the policy allows 10 before the step closes", checked)
	}
}

// TestParallelPasswordGuessesAreThrottled: 15 wrong passwords for one
// address sent at once. The limit is 10 a window; at most 10 may be checked.
func TestParallelPasswordGuessesAreThrottled(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	max := e.svc.Config.PasswordFailuresPerAccount
	n := max + 5

	errs := e.atOnce(n, newRendezvous(n, "pw:email:"), nil, func(ctx context.Context, i int) error {
		ip := portal.Client{IP: fmt.Sprintf("203.0.113.%d", i)}
		_, err := e.svc.Password(ctx, c.email, fmt.Sprintf("guess number %d", i), "/", ip)
		return err
	})
	checked := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, portal.ErrBadCredentials):
			checked++
		case errors.As(err, new(*portal.LockedError)):
		default:
			t.Fatalf("parallel guess: %v", err)
		}
	}
	if checked > max {
		t.Errorf("%d of %d parallel password guesses for one address were checked in one window; the limit is %d "+
			"(the limit is read before the slow hash and counted after it)", checked, n, max)
	}
}

// TestConcurrentResetsResetOnce: the security page's 「リセットする」 sent
// twice at once (a double tap, or two tabs' dialogs), both arriving at
// their unit of work together, resets once: one records and mails the
// reset and ends the other sessions, and the other finds nothing left to
// reset (ErrNothingToReset), as it does when sent after; the page's
// form, which names the factors it showed, too: the other is not told its
// factors changed (「リセットしませんでした」), when its own reset is done.
func TestConcurrentResetsResetOnce(t *testing.T) {
	t.Run("ResetMFA", func(t *testing.T) {
		concurrentResets(t, func(e *env, ctx context.Context, si *portal.SignedIn, _ string) error {
			return e.svc.ResetMFA(ctx, si, e.ip)
		})
	})
	t.Run("the page's form", func(t *testing.T) {
		concurrentResets(t, func(e *env, ctx context.Context, si *portal.SignedIn, tag string) error {
			return e.svc.ResetMFAOf(ctx, si, e.ip, tag)
		})
	})
}

func concurrentResets(t *testing.T, reset func(e *env, ctx context.Context, si *portal.SignedIn, tag string) error) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	si := e.session(e.enrol(c))
	_, tag, err := e.svc.MethodsTagged(e.ctx, c.acct.ID)
	if err != nil {
		t.Fatal(err)
	}

	errs := e.atOnce(2, nil, newRendezvous(2, ""), func(ctx context.Context, i int) error {
		return reset(e, ctx, si, tag)
	})
	var done, nothing int
	for _, err := range errs {
		switch {
		case err == nil:
			done++
		case errors.Is(err, portal.ErrNothingToReset):
			nothing++
		default:
			t.Fatalf("concurrent reset: %v", err)
		}
	}
	if done != 1 || nothing != 1 {
		t.Errorf("concurrent resets: %v; want one reset and one ErrNothingToReset", errs)
	}
	evs, err := e.svc.Store.AuditOf(e.ctx, c.acct.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	resets := 0
	for _, ev := range evs {
		if ev.Action == "mfa.reset" {
			resets++
		}
	}
	if resets != 1 {
		t.Errorf("%d mfa.reset events recorded, want 1", resets)
	}
}

// TestConcurrentResendsSendOnce: 「再送信」 sent twice at once (a double
// tap, two tabs), both reading the account's pause before either stored
// its code, sends one message: the other request is told to wait, and the
// code that went is the one that works. Both used to pass the pause, and
// two messages went out, the first replaced before it arrived.
func TestConcurrentResendsSendOnce(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.phoneCodeSent(c)
	e.clock.Advance(30 * time.Second)

	e.st.armLatest(newRendezvous(2, ""))
	defer e.st.armLatest(nil)
	errs := e.atOnce(2, nil, newRendezvous(2, ""), func(ctx context.Context, i int) error {
		return e.svc.ResendCode(ctx, f, notify.SMS, "ja", e.ip)
	})
	var sent, waits int
	for _, err := range errs {
		var r *portal.ResendError
		switch {
		case err == nil:
			sent++
		case errors.As(err, &r):
			waits++
		default:
			t.Fatalf("concurrent resend: %v", err)
		}
	}
	if sent != 1 || waits != 1 || rec.Count() != 2 {
		t.Fatalf("concurrent resends: %v, %d messages in all; want one resend, one ResendError, and 2 messages (the enrolment's and one)", errs, rec.Count())
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip); err != nil {
		t.Fatalf("the code that went: %v", err)
	}
}
