package portal_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// TestPasswordBadCredentials: a wrong password, an unknown address, an
// account still waiting for its first password and a malformed address all
// fail alike, and no flow is started.
func TestPasswordBadCredentials(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	if _, _, err := e.svc.OpenAccount(e.ctx, "pending@example.jp", "未設定", "operator:test"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, email, password string }{
		{"wrong password", c.email, "wrong password!"},
		{"password of another case", c.email, strings.ToUpper(c.password)},
		{"unknown address", "nobody@example.jp", c.password},
		{"no password yet", "pending@example.jp", ""},
		{"no password yet, some password", "pending@example.jp", "anything goes here"},
		{"malformed address", "not an address", c.password},
		{"empty", "", ""},
	} {
		f, err := e.svc.Password(e.ctx, tc.email, tc.password, "/", e.ip)
		if !errors.Is(err, portal.ErrBadCredentials) {
			t.Errorf("%s: err = %v, want ErrBadCredentials", tc.name, err)
		}
		if f != nil {
			t.Errorf("%s: a failed password started flow %+v", tc.name, f.Flow)
		}
	}
	// The address is matched without regard to case or surrounding space.
	if _, err := e.svc.Password(e.ctx, "  YAMADA@Example.JP ", c.password, "/", e.ip); err != nil {
		t.Fatalf("address in other case: %v", err)
	}
	// Every failure is in the audit log, the known account's under its id.
	if fails := e.auditCount(c.acct.ID, "signin.password", "fail"); fails != 2 {
		t.Errorf("audit has %d password failures for the account, want 2", fails)
	}
}

func TestPasswordStartsEnrolOrSecondFactor(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f, err := e.svc.Password(e.ctx, c.email, c.password, "/contracts?id=7", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	if f.State != portal.StateEnrol || f.AccountID != c.acct.ID || f.ReturnTo != "/contracts?id=7" {
		t.Fatalf("new customer: flow %+v", f.Flow)
	}
	// Enrolling may include installing the app: enrol_ttl, not flow_ttl.
	if !f.ExpiresAt.Equal(e.clock.Now().Add(e.svc.Config.EnrolTTL.Duration)) {
		t.Fatalf("flow expires %v", f.ExpiresAt)
	}
	// The stored flow holds no secret in the clear.
	stored := e.reload(f)
	en, _ := e.svc.Enrolment(e.ctx, stored)
	if strings.Contains(stored.Data, en.Secret) {
		t.Fatal("the enrolment seed is stored in the clear in the flow")
	}
	e.enrol(c)
	g := e.passwordStep(c)
	if g.State != portal.StateMFA || g.AccountID != c.acct.ID {
		t.Fatalf("enrolled customer: state %s", g.State)
	}
	if g.IsStepUp() {
		t.Fatal("a sign-in flow says it is a step-up")
	}
	// Two sign-ins are two flows.
	h := e.passwordStep(c)
	if h.IDHash == g.IDHash || h.Token == g.Token {
		t.Fatal("two password steps share a flow")
	}
}

// TestPasswordThrottlePerAddress: after PasswordFailuresPerAccount failures
// for one address, even the right password is refused until the window
// ends; an unknown address is throttled the same way.
func TestPasswordThrottlePerAddress(t *testing.T) {
	for _, known := range []bool{true, false} {
		name := map[bool]string{true: "known", false: "unknown"}[known]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCustomer("yamada@example.jp")
			email := c.email
			if !known {
				email = "nobody@example.jp"
			}
			max := e.svc.Config.PasswordFailuresPerAccount
			for i := 1; i <= max; i++ {
				// Other client addresses: the limit is the address's own.
				ip := portal.Client{IP: fmt.Sprintf("198.51.100.%d", i)}
				if _, err := e.svc.Password(e.ctx, email, "wrong password", "/", ip); !errors.Is(err, portal.ErrBadCredentials) {
					t.Fatalf("failure %d: %v, want ErrBadCredentials", i, err)
				}
			}
			windowEnd := time.Date(2026, 4, 1, 0, 15, 0, 0, time.UTC) // t0 is 00:00:05
			for _, pw := range []string{"wrong password", c.password} {
				f, err := e.svc.Password(e.ctx, strings.ToUpper(email), pw, "/", e.ip)
				l := lockedErr(t, err)
				if !l.Password || !l.Until.Equal(windowEnd) {
					t.Fatalf("locked %+v, want Password and until %v", l, windowEnd)
				}
				if f != nil {
					t.Fatal("a throttled password step started a flow")
				}
			}
			e.clock.Set(windowEnd.Add(-time.Millisecond))
			_, err := e.svc.Password(e.ctx, email, c.password, "/", e.ip)
			lockedErr(t, err)

			e.clock.Set(windowEnd)
			_, err = e.svc.Password(e.ctx, email, c.password, "/", e.ip)
			if known && err != nil {
				t.Fatalf("after the window: %v", err)
			}
			if !known && !errors.Is(err, portal.ErrBadCredentials) {
				t.Fatalf("unknown address after the window: %v, want ErrBadCredentials", err)
			}
		})
	}
}

// TestPasswordSuccessClearsAddressCount: a right password clears the
// address's failures, so the customer's own typos do not add up.
func TestPasswordSuccessClearsAddressCount(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	max := e.svc.Config.PasswordFailuresPerAccount
	for round := 0; round < 3; round++ {
		for i := 0; i < max-1; i++ {
			ip := portal.Client{IP: fmt.Sprintf("192.0.2.%d", 10*round+i)}
			if _, err := e.svc.Password(e.ctx, c.email, "typo typo typo", "/", ip); !errors.Is(err, portal.ErrBadCredentials) {
				t.Fatalf("round %d failure %d: %v", round, i, err)
			}
		}
		if _, err := e.svc.Password(e.ctx, c.email, c.password, "/", portal.Client{IP: "192.0.2.99"}); err != nil {
			t.Fatalf("round %d: right password: %v", round, err)
		}
	}
}

func TestPasswordThrottlePerClient(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.PasswordFailuresPerClient = 5 })
	c := e.newCustomer("yamada@example.jp")
	attacker := portal.Client{IP: "203.0.113.7"}
	for i := 0; i < 5; i++ {
		email := fmt.Sprintf("victim%d@example.jp", i)
		if _, err := e.svc.Password(e.ctx, email, "guess", "/", attacker); !errors.Is(err, portal.ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	_, err := e.svc.Password(e.ctx, c.email, c.password, "/", attacker)
	if l := lockedErr(t, err); !l.Password {
		t.Fatalf("client throttle: %+v, want Password", l)
	}
	// Another client is not affected.
	if _, err := e.svc.Password(e.ctx, c.email, c.password, "/", portal.Client{IP: "192.0.2.44"}); err != nil {
		t.Fatalf("another client: %v", err)
	}
	// The client's window ends too.
	e.clock.Advance(e.svc.Config.PasswordWindow.Duration)
	if _, err := e.svc.Password(e.ctx, c.email, c.password, "/", attacker); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

// TestCodeThrottlePerClient: the second-factor codes of one client address
// count together, whichever accounts they are for. Right codes give their
// attempt back; past code_failures_per_client wrong ones every code from
// that address is refused, a right one too, until the window ends, without
// closing any account's step; another address signs in meanwhile.
func TestCodeThrottlePerClient(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.CodeFailuresPerClient = 2 })
	w := e.svc.Config.PasswordWindow.Duration
	cs := make([]*customer, 3)
	for i := range cs {
		cs[i] = e.newCustomer(fmt.Sprintf("customer%d@example.jp", i))
		e.enrol(cs[i])
	}
	// Everything below but the last step happens in one window.
	if start, _ := store.Window(e.clock.Now(), w); e.clock.Now().Sub(start) > w-5*time.Minute {
		e.clock.Set(start.Add(w))
	}
	e.clock.Advance(mfa.Period * time.Second)
	office := portal.Client{IP: "203.0.113.7"}

	// Three customers behind one address sign in: more right codes than the limit.
	for _, c := range cs {
		if err := e.svc.SecondFactor(e.ctx, e.passwordStep(c), portal.MethodTOTP, e.code(c), office); err != nil {
			t.Fatalf("%s, a right code: %v", c.email, err)
		}
	}
	e.clock.Advance(mfa.Period * time.Second)
	for _, c := range cs[:2] {
		if err := e.svc.SecondFactor(e.ctx, e.passwordStep(c), portal.MethodTOTP, e.wrongCode(c), office); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("%s, a wrong code: %v, want ErrWrongCode", c.email, err)
		}
	}
	victim := cs[2]
	f := e.passwordStep(victim)
	l := lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(victim), office))
	if !l.Client || l.Password {
		t.Fatalf("a code after the address's limit: %+v, want the client's limit", l)
	}
	if _, until := store.Window(e.clock.Now(), w); !l.Until.Equal(until) {
		t.Errorf("refused until %v, want the window's end %v", l.Until, until)
	}
	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, victim.recovery, office))
	if a := e.account(victim); a.MFAFailures != 0 || !a.MFALockedUntil.IsZero() {
		t.Errorf("the address's limit charged the account: failures %d, locked until %v", a.MFAFailures, a.MFALockedUntil)
	}
	if ok, _ := e.svc.Store.HasRecoveryCode(e.ctx, victim.acct.ID); !ok {
		t.Error("the recovery code was spent while the address was refused")
	}
	// Another address is not affected, and the window's end frees this one.
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(victim), e.ip); err != nil {
		t.Fatalf("from another address: %v", err)
	}
	e.clock.Advance(w)
	if err := e.svc.SecondFactor(e.ctx, e.passwordStep(victim), portal.MethodTOTP, e.code(victim), office); err != nil {
		t.Fatalf("the next window: %v", err)
	}
}

// TestEnrolment is the first sign-in: app enrolment, recovery code, session.
func TestEnrolment(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f, en := e.atEnrolment(c)
	u, err := url.Parse(en.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Tobira:yamada@example.jp" {
		t.Fatalf("URI %s", en.URI)
	}
	if u.Query().Get("secret") != en.Secret || u.Query().Get("issuer") != "Tobira" {
		t.Fatalf("URI %s: wrong secret or issuer", en.URI)
	}
	// The seed shown does not change when the page is reloaded.
	if en2, _ := e.svc.Enrolment(e.ctx, e.reload(f)); en2.Secret != en.Secret {
		t.Fatal("the enrolment seed changed on reload")
	}

	for _, bad := range []string{e.wrongCode(c), fullWidth(e.wrongCode(c))} {
		if err := e.svc.ConfirmEnrolment(e.ctx, f, bad, e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("ConfirmEnrolment(%q) = %v, want ErrWrongCode", bad, err)
		}
	}
	for _, bad := range []string{"", "12345", "abcdef"} {
		if err := e.svc.ConfirmEnrolment(e.ctx, f, bad, e.ip); !errors.Is(err, portal.ErrCodeFormat) {
			t.Fatalf("ConfirmEnrolment(%q) = %v, want ErrCodeFormat", bad, err)
		}
	}
	if fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID); len(fs) != 0 {
		t.Fatal("a wrong code saved a factor")
	}
	if e.account(c).MFAFailures != 2 {
		t.Fatalf("wrong enrolment codes counted %d, want 2", e.account(c).MFAFailures)
	}
	// Nothing but the recovery screen follows enrolment.
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("Finish at enrolment: %v, want ErrWrongStep", err)
	}

	if err := e.svc.ConfirmEnrolment(e.ctx, f, e.code(c), e.ip); err != nil {
		t.Fatalf("ConfirmEnrolment(right code): %v", err)
	}
	if f.State != portal.StateRecovery {
		t.Fatalf("state %s, want %s", f.State, portal.StateRecovery)
	}
	if e.account(c).MFAFailures != 0 {
		t.Fatal("a right code did not clear the failures")
	}
	fs, err := e.svc.Store.FactorsOf(e.ctx, c.acct.ID)
	if err != nil || len(fs) != 1 || fs[0].Kind != store.FactorTOTP {
		t.Fatalf("factors %+v, %v", fs, err)
	}
	if strings.Contains(fs[0].Secret, c.seed) {
		t.Fatal("the TOTP seed is stored in the clear")
	}
	if fs[0].LastStep != mfa.Step(e.clock.Now()) {
		t.Fatalf("enrolment code's step not recorded: %d", fs[0].LastStep)
	}

	f = e.reload(f, portal.StateRecovery)
	code, err := e.svc.RecoveryCode(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 24 || mfa.NormalizeRecoveryCode(code) != code {
		t.Fatalf("recovery code %q: want 24 characters of the alphabet", code)
	}
	if again, _ := e.svc.RecoveryCode(e.reload(f, portal.StateRecovery)); again != code {
		t.Fatal("the recovery screen shows another code on reload")
	}
	if err := e.svc.AcknowledgeRecovery(f, false); !errors.Is(err, portal.ErrNotAcknowledged) {
		t.Fatalf("AcknowledgeRecovery(false) = %v, want ErrNotAcknowledged", err)
	}
	if err := e.svc.AcknowledgeRecovery(f, true); err != nil {
		t.Fatal(err)
	}
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	si := e.session(token)
	if si.Account.ID != c.acct.ID || !si.Session.MFAAt.Equal(e.clock.Now()) {
		t.Fatalf("session %+v", si.Session)
	}
	if si.Session.IDHash != secret.Hash(token) {
		t.Fatal("the session is not stored under the token's hash")
	}
	if want := e.clock.Now().Add(e.svc.Config.SessionTTL.Duration); !si.Session.ExpiresAt.Equal(want) {
		t.Fatalf("session expires %v, want %v", si.Session.ExpiresAt, want)
	}
	// The flow is gone: its cookie opens nothing any more.
	if _, err := e.svc.LoadFlow(e.ctx, e.svc.FlowCookie(f)); !errors.Is(err, portal.ErrFlowExpired) {
		t.Fatalf("LoadFlow after Finish: %v, want ErrFlowExpired", err)
	}
	ms, _ := e.svc.Methods(e.ctx, c.acct.ID)
	if len(ms) != 2 || ms[0] != portal.MethodTOTP || ms[1] != portal.MethodRecovery {
		t.Fatalf("methods %v", ms)
	}
}

// TestSecondSignInReplay: the code accepted at enrolment or at a sign-in is
// never accepted again, even in its own 30 seconds; the next step's code is.
// A replay is answered ErrCodeUsed, so the customer knows to wait for the
// next code, and counts as a wrong code does.
func TestSecondSignInReplay(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)

	// The enrolment code, in the same step.
	f := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); !errors.Is(err, portal.ErrCodeUsed) {
		t.Fatalf("enrolment code reused: %v, want ErrCodeUsed", err)
	}
	if a := e.account(c); a.MFAFailures != 1 {
		t.Fatalf("a replay counted %d failures, want 1", a.MFAFailures)
	}

	e.clock.Advance(30 * time.Second)
	used := e.code(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, used, e.ip); err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(10 * time.Second) // same 30-s step
	g := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodTOTP, fullWidth(used), e.ip); !errors.Is(err, portal.ErrCodeUsed) {
		t.Fatalf("replayed code: %v, want ErrCodeUsed", err)
	}
	next, _ := mfa.TOTPCode(c.seed, e.clock.Now().Add(30*time.Second))
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodTOTP, next, e.ip); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	if _, err := e.svc.Finish(e.ctx, g, "", e.ip); err != nil {
		t.Fatal(err)
	}
	// Now the current step's code is older than the last accepted one.
	h := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, h, portal.MethodTOTP, e.code(c), e.ip); !errors.Is(err, portal.ErrCodeUsed) {
		t.Fatalf("code of a step before the last accepted: %v, want ErrCodeUsed", err)
	}
	// A wrong code is still only wrong.
	if err := e.svc.SecondFactor(e.ctx, h, portal.MethodTOTP, e.wrongCode(c), e.ip); !errors.Is(err, portal.ErrWrongCode) {
		t.Fatalf("wrong code: %v, want ErrWrongCode", err)
	}
}

// TestReplaysCountTowardTheLock: replayed codes count as wrong codes do;
// the one that closes the step is answered with the lock.
func TestReplaysCountTowardTheLock(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	used := e.code(c) // accepted at enrolment, in this step
	f := e.passwordStep(c)
	for i := 1; i <= 9; i++ {
		code, want := used, portal.ErrCodeUsed
		if i%2 == 0 {
			code, want = e.wrongCode(c), portal.ErrWrongCode
		}
		if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, code, e.ip); !errors.Is(err, want) {
			t.Fatalf("attempt %d: %v, want %v", i, err, want)
		}
		if a := e.account(c); a.MFAFailures != i {
			t.Fatalf("after %d attempts the account counts %d", i, a.MFAFailures)
		}
	}
	l := lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, used, e.ip))
	if !l.Until.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("the 10th, a replay: locked until %v, want an hour", l.Until)
	}
}

// TestCodesAsCustomersTypeThem: the app's code is accepted as customers
// type it: in full-width digits from a Japanese input method, in two
// groups as apps show it, with an ideographic space or a hyphen.
func TestCodesAsCustomersTypeThem(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f, _ := e.atEnrolment(c)
	if err := e.svc.ConfirmEnrolment(e.ctx, f, fullWidth(e.code(c)), e.ip); err != nil {
		t.Fatalf("ConfirmEnrolment(full-width code): %v", err)
	}
	for _, typed := range []func(string) string{
		fullWidth,
		spaced,
		func(s string) string { return fullWidth(s[:3]) + "\u3000" + fullWidth(s[3:]) },
		func(s string) string { return s[:3] + "-" + s[3:] },
	} {
		e.clock.Advance(mfa.Period * time.Second)
		f := e.passwordStep(c)
		code := typed(e.code(c))
		if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, code, e.ip); err != nil {
			t.Fatalf("SecondFactor(%q): %v", code, err)
		}
		if _, err := e.svc.Finish(e.ctx, f, "", e.ip); err != nil {
			t.Fatal(err)
		}
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Fatalf("failures %d", a.MFAFailures)
	}
}

// TestMalformedCodesAreNoGuesses: input that is not six digits even once
// normalised is answered ErrCodeFormat and counted nowhere, neither in the
// account's failures nor in the client's limit; so is input that is no
// recovery code (ErrRecoveryFormat), an empty 「続ける」 among them. The
// answer depends on the input alone, so it tells nothing: the right code
// with a digit more or less gets it, and so does a closed step.
func TestMalformedCodesAreNoGuesses(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.CodeFailuresPerClient = 2 })
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	e.clock.Advance(mfa.Period * time.Second)
	f := e.passwordStep(c)
	right := e.code(c)
	malformed := []string{
		"", "   ", "12345", "1234567", "12a456", "１２３４５", "123.456",
		right[:5], right + "0", "0" + right, right + right, fullWidth(right) + "９",
	}
	notRecovery := []string{"", "   ", "short", "H3URF1WMNF9GNUFH7YH8RCD", "H3URF1WMNF9GNUFH7YH8RCDVX", "H3URF1WMNF9GNUFH7YH8RCD!"}
	for range 3 {
		for _, bad := range malformed {
			if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, bad, e.ip); !errors.Is(err, portal.ErrCodeFormat) {
				t.Fatalf("SecondFactor(%q) = %v, want ErrCodeFormat", bad, err)
			}
		}
		for _, bad := range notRecovery {
			if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, bad, e.ip); !errors.Is(err, portal.ErrRecoveryFormat) {
				t.Fatalf("SecondFactor(recovery, %q) = %v, want ErrRecoveryFormat", bad, err)
			}
		}
	}
	if a := e.account(c); a.MFAFailures != 0 || !a.MFALockedUntil.IsZero() {
		t.Fatalf("malformed codes counted: failures %d, locked until %v", a.MFAFailures, a.MFALockedUntil)
	}
	// The client's limit of two is untouched: the right code passes.
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, right, e.ip); err != nil {
		t.Fatalf("the right code after malformed ones: %v", err)
	}
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); err != nil {
		t.Fatal(err)
	}

	// A closed step answers malformed input the same way, and counts it
	// no further.
	e.clock.Advance(mfa.Period * time.Second)
	g := e.passwordStep(c)
	for i := 1; i <= 10; i++ {
		from := portal.Client{IP: fmt.Sprintf("198.51.100.%d", i)} // apart from the client's limit
		err := e.svc.SecondFactor(e.ctx, g, portal.MethodTOTP, e.wrongCode(c), from)
		if i == 10 {
			lockedErr(t, err)
		}
	}
	for _, bad := range malformed {
		if err := e.svc.SecondFactor(e.ctx, g, portal.MethodTOTP, bad, e.ip); !errors.Is(err, portal.ErrCodeFormat) {
			t.Fatalf("closed step, SecondFactor(%q) = %v, want ErrCodeFormat", bad, err)
		}
	}
	if a := e.account(c); a.MFAFailures != 10 {
		t.Fatalf("failures %d, want 10", a.MFAFailures)
	}
}

// TestTenWrongCodesLock: the 10th wrong code closes the step for an hour; the
// right code is refused while it is closed; after the hour it passes and
// clears the count; 20 in a row close it for two hours.
func TestTenWrongCodesLock(t *testing.T) {
	e := newEnv(t)
	c, f := e.atSecondFactor()
	e.wrongCodes(c, f, 9)
	l := lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip))
	if l.Password || !l.Until.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("10th wrong code: %+v, want the second factor locked for 1h", l)
	}
	lockedAt := e.clock.Now()

	// While closed: the right code, a recovery code, enrolment all refused,
	// and none of it counts.
	e.clock.Advance(30 * time.Minute)
	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip))
	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, c.recovery, e.ip))
	if a := e.account(c); a.MFAFailures != 10 {
		t.Fatalf("failures while locked: %d, want 10", a.MFAFailures)
	}
	if ok, _ := e.svc.Store.HasRecoveryCode(e.ctx, c.acct.ID); !ok {
		t.Fatal("the recovery code was spent while locked")
	}
	e.clock.Set(lockedAt.Add(time.Hour - time.Second))
	f = e.passwordStep(c) // the old flow expired meanwhile
	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip))

	e.clock.Set(lockedAt.Add(time.Hour))
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); err != nil {
		t.Fatalf("right code after the hour: %v", err)
	}
	if a := e.account(c); a.MFAFailures != 0 || !a.MFALockedUntil.IsZero() {
		t.Fatalf("after a right code: failures %d, locked until %v", a.MFAFailures, a.MFALockedUntil)
	}
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); err != nil {
		t.Fatal(err)
	}

	// 20 wrong in a row: 1 h after the 10th, 2 h after the 20th.
	e.clock.Advance(30 * time.Second)
	f = e.passwordStep(c)
	for i := 1; i <= 10; i++ {
		err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
		if i < 10 && !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
		if i == 10 {
			if l := lockedErr(t, err); !l.Until.Equal(e.clock.Now().Add(time.Hour)) {
				t.Fatalf("10th: until %v", l.Until)
			}
		}
	}
	e.clock.Advance(time.Hour)
	f = e.passwordStep(c)
	for i := 11; i <= 20; i++ {
		err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
		if i < 20 && !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
		if i == 20 {
			if l := lockedErr(t, err); !l.Until.Equal(e.clock.Now().Add(2 * time.Hour)) {
				t.Fatalf("20th: locked for %v, want 2h", l.Until.Sub(e.clock.Now()))
			}
		}
	}
	if a := e.account(c); a.MFAFailures != 20 {
		t.Fatalf("failures %d, want 20", a.MFAFailures)
	}
	// An audit trail names the lock.
	if locked := e.auditCount(c.acct.ID, "mfa.totp", "locked"); locked != 3 { // the first run's 10th; the second run's 10th and 20th
		t.Fatalf("audit has %d lock events, want 3", locked)
	}
}

// TestWrongCodesOfEveryFactorCountTogether: wrong app codes and wrong
// recovery codes add up to one lock.
func TestWrongCodesOfEveryFactorCountTogether(t *testing.T) {
	e := newEnv(t)
	c, f := e.atSecondFactor()
	bad := []struct {
		m    portal.Method
		code string
	}{
		{portal.MethodTOTP, e.wrongCode(c)},
		{portal.MethodRecovery, "H3URF1WMNF9GNUFH7YH8RCDV"}, // well-formed, not this account's
		{portal.MethodTOTP, fullWidth(e.wrongCode(c))},
		{portal.MethodRecovery, "ｈ３ｕｒ-ｆ１ｗｍ-ｎｆ９ｇ-ｎｕｆｈ-７ｙｈ８-ｒｃｄｖ"}, // the same, as typed with a Japanese input method
	}
	for i := 1; i < 10; i++ {
		b := bad[i%len(bad)]
		if err := e.svc.SecondFactor(e.ctx, f, b.m, b.code, e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("wrong %s %d: %v", b.m, i, err)
		}
	}
	l := lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, "WRONGWRONGWRONGWRONGWRNG", e.ip))
	if !l.Until.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("until %v", l.Until)
	}
	// The flow did not move.
	if g := e.reload(f); g.State != portal.StateMFA {
		t.Fatalf("state %s", g.State)
	}
}

// TestRecoveryCodeSpentAndReissued: a recovery code works once; a new one is
// shown on the recovery screen and works in its turn.
func TestRecoveryCodeSpentAndReissued(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	first := c.recovery

	f := e.passwordStep(c)
	// Typed the way people copy it: lower case, in groups.
	typed := strings.ToLower(first[:4] + " " + first[4:12] + "-" + first[12:])
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, typed, e.ip); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if f.State != portal.StateRecovery {
		t.Fatalf("state %s, want the recovery screen", f.State)
	}
	f = e.reload(f, portal.StateRecovery)
	second, err := e.svc.RecoveryCode(f)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || len(second) != 24 {
		t.Fatalf("new code %q (old %q)", second, first)
	}
	if err := e.svc.AcknowledgeRecovery(f, false); !errors.Is(err, portal.ErrNotAcknowledged) {
		t.Fatal(err)
	}
	if err := e.svc.AcknowledgeRecovery(f, true); err != nil {
		t.Fatal(err)
	}
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	e.session(token)

	g := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodRecovery, first, e.ip); !errors.Is(err, portal.ErrWrongCode) {
		t.Fatalf("spent code again: %v, want ErrWrongCode", err)
	}
	if e.account(c).MFAFailures != 1 {
		t.Fatal("a spent code did not count as a wrong one")
	}
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodRecovery, second, e.ip); err != nil {
		t.Fatalf("the new code: %v", err)
	}
}

// TestRecoveryCodesAreBoundToTheAccount: one account's code opens no other.
func TestRecoveryCodesAreBoundToTheAccount(t *testing.T) {
	e := newEnv(t)
	a := e.newCustomer("a@example.jp")
	b := e.newCustomer("b@example.jp")
	e.enrol(a)
	e.enrol(b)
	f := e.passwordStep(b)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, a.recovery, e.ip); !errors.Is(err, portal.ErrWrongCode) {
		t.Fatalf("a's code for b: %v, want ErrWrongCode", err)
	}
}

func TestFlowExpires(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	// A first enrolment lives enrol_ttl (an hour), well past flow_ttl.
	if ttl := e.svc.Config.EnrolTTL.Duration; ttl != time.Hour || !f.ExpiresAt.Equal(t0.Add(ttl)) {
		t.Fatalf("flow expires %v (enrol_ttl %v)", f.ExpiresAt, ttl)
	}
	cookie := e.svc.FlowCookie(f)
	e.clock.Advance(e.svc.Config.EnrolTTL.Duration - time.Second)
	if _, err := e.svc.LoadFlow(e.ctx, cookie, portal.StateEnrol); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.LoadFlow(e.ctx, cookie, portal.StateEnrol); !errors.Is(err, portal.ErrFlowExpired) {
		t.Fatalf("at expiry: %v, want ErrFlowExpired", err)
	}

	// A flow at the second factor, whose code is at hand, lives flow_ttl.
	e.clock.Set(t0.Add(2 * time.Hour))
	e.enrol(c)
	e.clock.Advance(time.Minute)
	g := e.passwordStep(c)
	if !g.ExpiresAt.Equal(e.clock.Now().Add(e.svc.Config.FlowTTL.Duration)) {
		t.Fatalf("second factor's flow expires %v", g.ExpiresAt)
	}
	e.clock.Advance(16 * time.Minute)
	if _, err := e.svc.LoadFlow(e.ctx, e.svc.FlowCookie(g), portal.StateMFA); !errors.Is(err, portal.ErrFlowExpired) {
		t.Fatalf("16 min later: %v, want ErrFlowExpired", err)
	}
}

// TestFlowCookie: a cookie is valid only for the step it was signed at.
func TestFlowCookie(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	atEnrol := e.svc.FlowCookie(f)
	en, _ := e.svc.Enrolment(e.ctx, f)
	c.seed = en.Secret

	// The current cookie at the wrong page: the flow, with ErrWrongStep.
	g, err := e.svc.LoadFlow(e.ctx, atEnrol, portal.StateMFA, portal.StateRecovery)
	if !errors.Is(err, portal.ErrWrongStep) || g == nil || g.State != portal.StateEnrol {
		t.Fatalf("current cookie at another step: %v, %v", g, err)
	}
	if _, err := e.svc.LoadFlow(e.ctx, atEnrol, portal.StateEnrol); err != nil {
		t.Fatalf("current cookie: %v", err)
	}

	token, sig, _ := strings.Cut(atEnrol, ".")
	other, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	otherToken, otherSig, _ := strings.Cut(e.svc.FlowCookie(other), ".")
	for name, tc := range map[string]struct {
		cookie string
		want   error
	}{
		"changed signature": {token + "." + flip(sig), portal.ErrBadFlowCookie},
		"no signature":      {token + ".", portal.ErrBadFlowCookie},
		"other flow's sig":  {token + "." + otherSig, portal.ErrBadFlowCookie},
		"sig of other flow": {otherToken + "." + sig, portal.ErrBadFlowCookie},
		"changed token":     {flip(token) + "." + sig, portal.ErrFlowExpired},
		"no dot":            {token + sig, portal.ErrFlowExpired},
		"empty":             {"", portal.ErrFlowExpired},
		"only dot":          {".", portal.ErrFlowExpired},
		"unknown token":     {secret.Token(32) + "." + sig, portal.ErrFlowExpired},
	} {
		if g, err := e.svc.LoadFlow(e.ctx, tc.cookie, portal.StateEnrol); !errors.Is(err, tc.want) {
			t.Errorf("%s: LoadFlow = %v, %v; want %v", name, g, err, tc.want)
		}
	}

	// After the step, the enrolment cookie opens nothing any more.
	if err := e.svc.ConfirmEnrolment(e.ctx, f, e.code(c), e.ip); err != nil {
		t.Fatal(err)
	}
	atRecovery := e.svc.FlowCookie(f)
	if atRecovery == atEnrol {
		t.Fatal("the cookie did not change with the step")
	}
	for _, want := range [][]string{nil, {portal.StateEnrol}, {portal.StateRecovery}, {portal.StateMFA}} {
		if _, err := e.svc.LoadFlow(e.ctx, atEnrol, want...); !errors.Is(err, portal.ErrBadFlowCookie) {
			t.Errorf("enrolment cookie after enrolment, want %v: %v, want ErrBadFlowCookie", want, err)
		}
	}
	if _, err := e.svc.LoadFlow(e.ctx, atRecovery, portal.StateRecovery); err != nil {
		t.Fatalf("recovery cookie: %v", err)
	}
	// A cookie for a state the flow is not in cannot be made without the key:
	// a MAC from another keyring does not open it.
	forgedKeys, _ := secret.NewKeyring("k1", map[string][]byte{"k1": make([]byte, 32)})
	forged := token + "." + forgedKeys.Sign("flow", token, portal.StateRecovery)
	if _, err := e.svc.LoadFlow(e.ctx, forged); !errors.Is(err, portal.ErrBadFlowCookie) {
		t.Fatalf("cookie signed with another key: %v", err)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// TestStepsCannotBeSkipped: each step's method refuses a flow at another step.
func TestStepsCannotBeSkipped(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	enrol := e.passwordStep(c)
	for name, err := range map[string]error{
		"SecondFactor at enrolment":          e.svc.SecondFactor(e.ctx, enrol, portal.MethodTOTP, "123456", e.ip),
		"SecondFactor recovery at enrolment": e.svc.SecondFactor(e.ctx, enrol, portal.MethodRecovery, "H3URF1WMNF9GNUFH7YH8RCDV", e.ip),
		"AcknowledgeRecovery at enrolment":   e.svc.AcknowledgeRecovery(enrol, true),
	} {
		if !errors.Is(err, portal.ErrWrongStep) {
			t.Errorf("%s: %v, want ErrWrongStep", name, err)
		}
	}
	if _, err := e.svc.Finish(e.ctx, enrol, "", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Errorf("Finish at enrolment: %v, want ErrWrongStep", err)
	}
	if _, err := e.svc.RecoveryCode(enrol); !errors.Is(err, portal.ErrWrongStep) {
		t.Errorf("RecoveryCode at enrolment: %v, want ErrWrongStep", err)
	}
	if fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID); len(fs) != 0 {
		t.Fatal("a skipped step saved a factor")
	}

	e.enrol(c)
	second := e.passwordStep(c)
	if err := e.svc.ConfirmEnrolment(e.ctx, second, e.code(c), e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Errorf("ConfirmEnrolment at the second factor: %v", err)
	}
	if _, err := e.svc.Enrolment(e.ctx, second); !errors.Is(err, portal.ErrWrongStep) {
		t.Errorf("Enrolment at the second factor: %v", err)
	}
	if err := e.svc.AcknowledgeRecovery(second, true); !errors.Is(err, portal.ErrWrongStep) {
		t.Errorf("AcknowledgeRecovery at the second factor: %v", err)
	}
	if _, err := e.svc.RecoveryCode(second); !errors.Is(err, portal.ErrWrongStep) {
		t.Errorf("RecoveryCode at the second factor: %v", err)
	}
	if err := e.svc.SecondFactor(e.ctx, second, portal.Method("sms"), "123456", e.ip); !errors.Is(err, portal.ErrNoSuchMethod) {
		t.Errorf("unknown method: %v, want ErrNoSuchMethod", err)
	}
	// A recovery screen cannot be acknowledged twice into two sessions:
	// Finish removes the flow.
	e.clock.Advance(30 * time.Second)
	f := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, c.recovery, e.ip); err != nil {
		t.Fatal(err)
	}
	cookie := e.svc.FlowCookie(f)
	if _, err := e.svc.Finish(e.ctx, e.reload(f, portal.StateRecovery), "", e.ip); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.LoadFlow(e.ctx, cookie, portal.StateRecovery); !errors.Is(err, portal.ErrFlowExpired) {
		t.Fatalf("flow after Finish: %v, want ErrFlowExpired", err)
	}
}

// TestFinishReplacesTheBrowsersSession: a session id never survives a
// sign-in; a session cookie the browser had is ended.
func TestFinishReplacesTheBrowsersSession(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	first := e.enrol(c)
	e.clock.Advance(30 * time.Second)
	f := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.Finish(e.ctx, f, first, e.ip)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("the session token was reused")
	}
	e.noSession(first)
	e.session(second)
}

// TestFinishAsAnotherSignsTheFirstOut: a sign-in in a browser where
// another customer is still signed in signs that customer out there as
// SignOut does: the sites are told of the session's sid, and the first
// customer's audit records the sign-out as replaced. The same customer
// signing in again keeps the session's sid and ends nothing; a session
// that had expired is left to the sweep, as any expired one.
func TestFinishAsAnotherSignsTheFirstOut(t *testing.T) {
	e := newEnv(t)
	var ended []string
	e.svc.SessionEnded = func(_ context.Context, sid string) { ended = append(ended, sid) }
	yamada := e.newCustomer("yamada@example.jp")
	sato := e.newCustomer("sato@example.jp")
	first := e.enrol(yamada)
	e.enrol(sato)
	sid := e.session(first).Session.SID

	finish := func(c *customer, old string) string {
		t.Helper()
		e.clock.Advance(mfa.Period * time.Second)
		f := e.passwordStep(c)
		if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); err != nil {
			t.Fatal(err)
		}
		token, err := e.svc.Finish(e.ctx, f, old, e.ip)
		if err != nil {
			t.Fatal(err)
		}
		return token
	}

	again := finish(yamada, first)
	if got := e.session(again).Session.SID; got != sid || len(ended) != 0 || e.audited(yamada.acct.ID, store.ActionSignOut, portal.OutcomeReplaced) {
		t.Fatalf("yamada signing in again: sid %q (was %q), sites told of %q", got, sid, ended)
	}

	satos := finish(sato, again)
	e.noSession(again)
	if got := e.session(satos).Session.SID; got == sid {
		t.Errorf("sato's session took yamada's sid %q", sid)
	}
	if !slices.Equal(ended, []string{sid}) {
		t.Errorf("sites told of %q, want yamada's session's %q", ended, sid)
	}
	if !e.audited(yamada.acct.ID, store.ActionSignOut, portal.OutcomeReplaced) {
		t.Error("yamada's sign-out by sato's sign-in is not audited")
	}
	if e.audited(sato.acct.ID, store.ActionSignOut, portal.OutcomeReplaced) {
		t.Error("sato's sign-in audited as sato's sign-out")
	}

	// Sato's session expires in the browser before yamada signs in there.
	ended = nil
	e.clock.Advance(e.svc.Config.SessionTTL.Duration)
	finish(yamada, satos)
	if len(ended) != 0 || e.audited(sato.acct.ID, store.ActionSignOut, portal.OutcomeReplaced) {
		t.Errorf("an expired session replaced: sites told of %q, or audited as signed out", ended)
	}
}

func TestSessionExpiryAndSignOut(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrol(c)
	e.noSession("")
	e.noSession("not-a-session")
	e.clock.Advance(e.svc.Config.SessionTTL.Duration - time.Second)
	e.session(token)
	e.clock.Advance(time.Second)
	e.noSession(token)

	e.clock.Set(t0.Add(24 * time.Hour))
	token = e.signIn(c)
	si := e.session(token)
	if err := e.svc.SignOut(e.ctx, si, e.ip); err != nil {
		t.Fatal(err)
	}
	e.noSession(token)
}

// TestEnrolmentInTwoTabs: the password typed in two tabs gives two enrolment
// flows. Once one of them has enrolled an app, the other must not add a
// second app nor replace the recovery code the customer was just shown
// (and recorded) in the first tab.
func TestEnrolmentInTwoTabs(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	tabA := e.passwordStep(c)
	tabB := e.passwordStep(c)
	enA, _ := e.svc.Enrolment(e.ctx, tabA)
	enB, _ := e.svc.Enrolment(e.ctx, tabB)
	if enA.Secret == enB.Secret {
		t.Fatal("two flows offer one seed")
	}

	c.seed = enA.Secret
	if err := e.svc.ConfirmEnrolment(e.ctx, tabA, e.code(c), e.ip); err != nil {
		t.Fatal(err)
	}
	recordedA, _ := e.svc.RecoveryCode(e.reload(tabA, portal.StateRecovery))

	codeB, _ := mfa.TOTPCode(enB.Secret, e.clock.Now())
	errB := e.svc.ConfirmEnrolment(e.ctx, tabB, codeB, e.ip)
	fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID)
	t.Logf("second tab's ConfirmEnrolment: %v; factors now %d", errB, len(fs))
	e.wantEnrolledOnce(c, errB)
	if len(fs) != 1 {
		t.Errorf("the account has %d authenticator apps after two enrolment tabs, want 1 "+
			"(a flow started before the first enrolment still adds a factor)", len(fs))
	}
	// The code shown in tab A, which the customer recorded, still works.
	e.clock.Advance(time.Minute)
	f := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, recordedA, e.ip); err != nil {
		t.Errorf("the recovery code shown (and recorded) in the first tab was replaced by the second tab: %v", err)
	}
}

// An IPv6 client is counted by its /64, so rotating through the addresses of
// one network does not reset the limit; successes do not count against it.
func TestPasswordThrottlePerIPv6Network(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.PasswordFailuresPerClient = 3 })
	c := e.newCustomer("yamada@example.jp")
	for i := 0; i < 5; i++ { // right passwords give their count back
		if _, err := e.svc.Password(e.ctx, c.email, c.password, "/", portal.Client{IP: "2001:db8:1:2::10"}); err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
	}
	for i := 0; i < 3; i++ {
		ip := fmt.Sprintf("2001:db8:1:2::%x", 0x100+i)
		if _, err := e.svc.Password(e.ctx, c.email, "guess", "/", portal.Client{IP: ip}); !errors.Is(err, portal.ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	_, err := e.svc.Password(e.ctx, c.email, c.password, "/", portal.Client{IP: "2001:db8:1:2:ffff::1"})
	if l := lockedErr(t, err); !l.Password {
		t.Fatalf("same /64: %+v, want the client throttle", l)
	}
}

// TestCodeStepReadsTheAccountOnce: the code step's unit reads the account
// once, and the attempt is charged to what it read; a wrong code is
// counted on it all the same.
func TestCodeStepReadsTheAccountOnce(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	reads := &accountReads{Store: e.svc.Store}
	e.svc.Store = reads

	e.clock.Advance(mfa.Period * time.Second)
	f := e.passwordStep(c)
	reads.n.Store(0)
	if _, err := e.svc.SecondFactorThenFinish(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), "", e.ip); err == nil {
		t.Fatal("a wrong code was accepted")
	}
	if n := reads.n.Load(); n != 1 {
		t.Errorf("a wrong code's unit read the account %d times; want 1", n)
	}
	if got := e.account(c).MFAFailures; got != 1 {
		t.Errorf("failures after a wrong code: %d; want 1", got)
	}
	reads.n.Store(0)
	if _, err := e.svc.SecondFactorThenFinish(e.ctx, e.reload(f), portal.MethodTOTP, e.code(c), "", e.ip); err != nil {
		t.Fatal(err)
	}
	if n := reads.n.Load(); n != 1 {
		t.Errorf("the code step's unit read the account %d times; want 1", n)
	}
	if got := e.account(c).MFAFailures; got != 0 {
		t.Errorf("failures after the right code: %d; want 0", got)
	}
}

// accountReads counts the accounts read by id inside units.
type accountReads struct {
	store.Store
	n atomic.Int64
}

func (s *accountReads) Atomically(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) error {
	return s.Store.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
		return fn(ctx, countedAccountReads{tx, &s.n})
	})
}

type countedAccountReads struct {
	store.Store
	n *atomic.Int64
}

func (t countedAccountReads) AccountByID(ctx context.Context, id string) (*store.Account, error) {
	t.n.Add(1)
	return t.Store.AccountByID(ctx, id)
}

// TestRecoveryScreenLivesFlowTTL: enrol_ttl is for installing the app; once
// the first code is in, the recovery screen holding the new recovery code
// lives flow_ttl from then, not what is left of the hour: a browser left at
// that screen does not show the code, nor open a session, for up to an hour.
func TestRecoveryScreenLivesFlowTTL(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f, _ := e.atEnrolment(c)
	e.clock.Advance(5 * time.Minute) // the app was at hand
	if err := e.svc.ConfirmEnrolment(e.ctx, f, e.code(c), e.ip); err != nil {
		t.Fatal(err)
	}
	if want := e.clock.Now().Add(e.svc.Config.FlowTTL.Duration); !f.ExpiresAt.Equal(want) {
		t.Fatalf("the recovery screen's flow expires %v, want %v (flow_ttl from the enrolment)", f.ExpiresAt, want)
	}
	cookie := e.svc.FlowCookie(f)
	e.clock.Advance(e.svc.Config.FlowTTL.Duration)
	if _, err := e.svc.LoadFlow(e.ctx, cookie, portal.StateRecovery); !errors.Is(err, portal.ErrFlowExpired) {
		t.Fatalf("flow_ttl after the enrolment: %v, want ErrFlowExpired", err)
	}

	// An enrolment near the end of its hour keeps the little that is left.
	d := e.newCustomer("sato@example.jp")
	g, _ := e.atEnrolment(d)
	end := g.ExpiresAt
	e.clock.Advance(e.svc.Config.EnrolTTL.Duration - 5*time.Minute)
	if err := e.svc.ConfirmEnrolment(e.ctx, g, e.code(d), e.ip); err != nil {
		t.Fatal(err)
	}
	if !g.ExpiresAt.Equal(end) {
		t.Fatalf("a late enrolment's recovery screen expires %v, want %v (the flow's own end)", g.ExpiresAt, end)
	}
}

// TestRecoveryCodeKeptWhenTheSignInEndedMeanwhile: a recovery code typed
// at a sign-in that a new password ended meanwhile (its request had loaded
// the flow just before) is not spent. Spent, it was replaced by a new one
// that no screen could show: the flow was gone, and the account was left
// with a recovery code nobody had seen.
func TestRecoveryCodeKeptWhenTheSignInEndedMeanwhile(t *testing.T) {
	e := newEnv(t)
	c, f := e.atSecondFactor()
	si := e.session(e.signIn(c))
	if _, err := e.svc.ChangePassword(e.ctx, si, c.password, newPassword, e.ip); err != nil {
		t.Fatal(err)
	}
	c.password = newPassword
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, c.recovery, e.ip); err == nil {
		t.Fatal("a recovery code was taken at a sign-in that a new password ended")
	}
	// The code the customer recorded still works.
	g := e.passwordStep(c)
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodRecovery, c.recovery, e.ip); err != nil {
		t.Fatalf("the recorded recovery code after the refused one: %v", err)
	}
}

// TestEnrolmentAfterAnotherStartsNoCountOver: a flow at enrolment that
// began before the account's first factor was set up elsewhere is refused
// as enrolled already. Its code is right only for the flow's own new key,
// which whoever holds the password chose: it proves nothing of the factor
// the account has, so it must not start the count of wrong codes over, or
// nine wrong codes at the second factor, one such code, nine more, and so
// on, would guess at the customer's app with the step never closing.
func TestEnrolmentAfterAnotherStartsNoCountOver(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	stale := e.passwordStep(c) // whoever has the password, before the customer enrols
	en, err := e.svc.Enrolment(e.ctx, stale)
	if err != nil {
		t.Fatal(err)
	}
	e.enrol(c)
	e.clock.Advance(mfa.Period * time.Second)

	f := e.passwordStep(c)
	e.wrongCodes(c, f, 9)
	own, err := mfa.TOTPCode(en.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ConfirmEnrolment(e.ctx, stale, own, e.ip); !errors.Is(err, portal.ErrAlreadyEnrolled) {
		t.Fatalf("the stale flow's enrolment: %v, want ErrAlreadyEnrolled", err)
	}
	if a := e.account(c); a.MFAFailures < 9 {
		t.Errorf("after a code of the stale flow's own key the account counts %d wrong codes, want the 9 typed still counted", a.MFAFailures)
	}
	err = e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
	if l, ok := errors.AsType[*portal.LockedError](err); !ok || l.Client || l.Number {
		t.Errorf("the tenth wrong code for the customer's app: %v, want the step closed", err)
	}
}
