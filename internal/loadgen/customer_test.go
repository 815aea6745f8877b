package loadgen_test

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/loadgen"
	"github.com/tobira/tobira/internal/mfa"
)

// TestSignInStepByStep takes every step on its own, alternating between the
// two nodes, as a multi-node test does.
func TestSignInStepByStep(t *testing.T) {
	e := newPortal(t)
	c := e.enrolled(t, "step@example.jp")
	var s steps
	c.Observe = s.observe
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.StartSignIn(ctx, e.base))
	must(c.SubmitPassword(ctx, e.other))
	code, err := c.Code(time.Now())
	must(err)
	must(c.SubmitTOTP(ctx, e.base, code))
	must(c.Landing(ctx, e.other))
	must(c.Security(ctx, e.base))
	must(c.SignOut(ctx, e.other))
	want := []string{"login-page", "login", "code-page", "code", "landing", "security", "logout"}
	if !slices.Equal(s.names, want) {
		t.Errorf("steps observed %v, want %v", s.names, want)
	}
	for i, err := range s.errs {
		if err != nil {
			t.Errorf("step %s observed with error %v", s.names[i], err)
		}
	}
	// Signed out, the security page asks for a sign-in.
	err = c.Security(ctx, e.base)
	if err == nil || loadgen.Kind(err) != "security: redirect to /login" {
		t.Errorf("security page after sign-out: %v (kind %q)", err, loadgen.Kind(err))
	}
}

// TestDropCookies: a customer that forgets its cookies is signed out in
// its own eyes, and signs in again from the login page.
func TestDropCookies(t *testing.T) {
	e := newPortal(t)
	c := e.enrolled(t, "forget@example.jp")
	ctx := t.Context()
	if c.UserAgent != loadgen.UserAgent {
		t.Errorf("User-Agent %q, want %q", c.UserAgent, loadgen.UserAgent)
	}
	now := time.Now()
	if err := c.SignIn(ctx, e.base, now); err != nil {
		t.Fatal(err)
	}
	c.DropCookies()
	if err := c.Security(ctx, e.base); loadgen.Kind(err) != "security: redirect to /login" {
		t.Errorf("security page without cookies: %v (kind %q)", err, loadgen.Kind(err))
	}
	// The next step's code: the portal accepts each step's once.
	if err := c.SignIn(ctx, e.base, now.Add(mfa.Period*time.Second)); err != nil {
		t.Fatalf("sign-in after dropping the cookies: %v", err)
	}
	if err := c.Security(ctx, e.base); err != nil {
		t.Fatal(err)
	}
}

// TestWrongAndReplayedCode: a wrong code and a code of a step already
// accepted are both ErrCodeRefused, distinguishable from other failures.
func TestWrongAndReplayedCode(t *testing.T) {
	e := newPortal(t)
	c := e.enrolled(t, "wrong@example.jp")
	ctx := t.Context()
	now := time.Now()
	if err := c.StartSignIn(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.SubmitPassword(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	err := c.SubmitTOTP(ctx, e.base, wrongCode(t, c.TOTPSecret, now))
	if !errors.Is(err, loadgen.ErrCodeRefused) {
		t.Fatalf("wrong code: %v, want ErrCodeRefused", err)
	}
	if k := loadgen.Kind(err); k != "code: refused" {
		t.Errorf("kind %q", k)
	}
	var se *loadgen.StepError
	if !errors.As(err, &se) || se.Status != 401 || se.Message == "" {
		t.Errorf("step error %+v: want status 401 and the page's message", se)
	}
	// The flow stays at the code step: the right code signs in.
	code, _ := c.Code(now)
	if err := c.SubmitTOTP(ctx, e.base, code); err != nil {
		t.Fatalf("right code after a wrong one: %v", err)
	}
	if err := c.Landing(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.SignOut(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	// The same step's code again: a replay.
	err = c.SignIn(ctx, e.base, now)
	if !errors.Is(err, loadgen.ErrCodeRefused) {
		t.Fatalf("replayed code: %v, want ErrCodeRefused", err)
	}
}

// wrongCode is a six-digit code that the app shows at no step around now.
func wrongCode(t *testing.T, seed string, now time.Time) string {
	t.Helper()
	var near []string
	for d := -2; d <= 2; d++ {
		c, err := mfa.TOTPCode(seed, now.Add(time.Duration(d)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		near = append(near, c)
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !slices.Contains(near, c) {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func TestWrongPassword(t *testing.T) {
	e := newPortal(t)
	c := e.enrolled(t, "pw@example.jp")
	c.Password = "not the password at all"
	ctx := t.Context()
	if err := c.StartSignIn(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	err := c.SubmitPassword(ctx, e.base)
	if !errors.Is(err, loadgen.ErrPasswordRefused) || loadgen.Kind(err) != "login: password refused" {
		t.Errorf("wrong password: %v (kind %q)", err, loadgen.Kind(err))
	}
}

// TestRecoveryCode signs in with the recovery code, which the portal then
// replaces; the spent one is refused.
func TestRecoveryCode(t *testing.T) {
	e := newPortal(t)
	c := e.enrolled(t, "recovery@example.jp")
	ctx := t.Context()
	spent := c.RecoveryCode
	signIn := func(code string) error {
		t.Helper()
		if err := c.StartSignIn(ctx, e.base); err != nil {
			t.Fatal(err)
		}
		if err := c.SubmitPassword(ctx, e.base); err != nil {
			t.Fatal(err)
		}
		return c.SubmitRecoveryCode(ctx, e.base, code)
	}
	if err := signIn(spent); err != nil {
		t.Fatal(err)
	}
	if c.RecoveryCode == "" || c.RecoveryCode == spent {
		t.Errorf("recovery code after use: %q (was %q)", c.RecoveryCode, spent)
	}
	if err := c.Landing(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.SignOut(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := signIn(spent); !errors.Is(err, loadgen.ErrCodeRefused) {
		t.Errorf("spent recovery code: %v, want ErrCodeRefused", err)
	}
	if err := c.SubmitRecoveryCode(ctx, e.base, c.RecoveryCode); err != nil {
		t.Errorf("new recovery code: %v", err)
	}
}

// TestOIDCCodeFlow runs the code flow with PKCE for a third-party public
// client (consent asked once), a first-party confidential one, and one
// started signed out (the portal's sign-in in the middle).
func TestOIDCCodeFlow(t *testing.T) {
	e := newPortal(t)
	ctx := t.Context()
	c := e.enrolled(t, "oidc@example.jp")
	var s steps
	c.Observe = s.observe
	if err := c.SignIn(ctx, e.base, time.Now()); err != nil {
		t.Fatal(err)
	}

	public := e.client(t, true, false)
	if err := c.OIDCCodeFlow(ctx, e.base, public); err != nil {
		t.Fatal(err)
	}
	if c.IDToken == "" {
		t.Fatal("no id_token kept")
	}
	if !slices.Contains(s.names, "consent") || !slices.Contains(s.names, "token") {
		t.Errorf("steps %v: want consent and token", s.names)
	}
	// Consent is remembered.
	s = steps{}
	if err := c.OIDCCodeFlow(ctx, e.other, public); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s.names, "consent") {
		t.Errorf("consent asked again: %v", s.names)
	}
	if err := c.OIDCCodeFlow(ctx, e.base, e.client(t, false, true)); err != nil {
		t.Errorf("confidential first-party client: %v", err)
	}

	// Signed out, the flow signs in on the way.
	other := e.enrolled(t, "oidc2@example.jp")
	s = steps{}
	other.Observe = s.observe
	if err := other.OIDCCodeFlow(ctx, e.base, public); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"authorize", "oidc-login", "login-page", "login", "code", "consent", "callback", "token"} {
		if !slices.Contains(s.names, want) {
			t.Errorf("steps %v lack %s", s.names, want)
		}
	}

	// A client the portal does not know.
	err := c.OIDCCodeFlow(ctx, e.base, loadgen.OIDCClient{ID: "nobody", RedirectURI: public.RedirectURI})
	var se *loadgen.StepError
	if !errors.As(err, &se) || se.Step != "authorize" {
		t.Errorf("unknown client: %v", err)
	}
}

// TestActivate enrols a new customer over HTTP; the recovery code it
// returns then signs in.
func TestActivate(t *testing.T) {
	e := newPortal(t)
	ctx := t.Context()
	a, link, err := e.svc.OpenAccount(ctx, "new@example.jp", "新規 花子", "test")
	if err != nil {
		t.Fatal(err)
	}
	c := loadgen.NewCustomer(a.Email, "", "")
	var s steps
	c.Observe = s.observe
	// The link names the configured portal; it is opened on the node given.
	key, code, err := c.Activate(ctx, e.other, link, "a new password 123")
	if err != nil {
		t.Fatalf("activate: %v (steps %v)", err, s.names)
	}
	if len(key) < 16 || code == "" {
		t.Errorf("key %q, recovery code %q", key, code)
	}
	fs, err := e.db.FactorsOf(ctx, a.ID)
	if err != nil || len(fs) != 1 {
		t.Fatalf("factors after enrolment: %v %v", fs, err)
	}
	if seed, err := e.svc.Keys.Decrypt(fs[0].Secret, a.ID); err != nil || seed != key {
		t.Errorf("stored key %q, enrolment page showed %q (%v)", seed, key, err)
	}
	if err := c.Landing(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.SignOut(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.StartSignIn(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.SubmitPassword(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.SubmitRecoveryCode(ctx, e.base, code); err != nil {
		t.Fatal(err)
	}
	// A used link is refused.
	if _, _, err := loadgen.NewCustomer(a.Email, "", "").Activate(ctx, e.base, link, "another password 456"); err == nil ||
		loadgen.Kind(err) != "activate-page: status 404" {
		t.Errorf("used link: %v (kind %q)", err, loadgen.Kind(err))
	}
}

// TestTransportError: nothing listening is a transport error, told apart
// from the portal's answers.
func TestTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	c := loadgen.NewCustomer("x@example.jp", "pw", "")
	var s steps
	c.Observe = s.observe
	err = c.StartSignIn(t.Context(), base)
	if k := loadgen.Kind(err); k != "transport: connection refused" {
		t.Errorf("kind %q of %v", k, err)
	}
	if !strings.HasPrefix(err.Error(), "login-page: ") {
		t.Errorf("error %q does not name the step", err)
	}
	if len(s.errs) != 1 || s.errs[0] == nil {
		t.Errorf("observed %v", s.errs)
	}
	if errors.Is(err, loadgen.ErrCodeRefused) {
		t.Error("a transport error is a refused code")
	}
}

func TestRecorder(t *testing.T) {
	var r loadgen.Recorder
	for i := 1; i <= 100; i++ {
		r.Observe("login", time.Duration(i)*time.Millisecond, nil)
	}
	r.Observe("code", time.Millisecond, &loadgen.StepError{Step: "code", Status: 401, Err: loadgen.ErrCodeRefused})
	r.Observe("login", time.Millisecond, &loadgen.StepError{Step: "login", Status: 503, Err: loadgen.ErrUnexpected})
	r.Observe("login", time.Millisecond, &loadgen.StepError{Step: "login", Status: 503, Err: loadgen.ErrUnexpected})
	l := r.Steps()["login"]
	if l.Count != 100 || l.P50 != 50*time.Millisecond || l.P95 != 95*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Errorf("latencies %+v", l)
	}
	errs := r.Errors()
	if errs["code: refused"] != 1 || errs["login: status 503"] != 2 {
		t.Errorf("errors %v", errs)
	}
	if k := loadgen.SortedKinds(errs); !slices.Equal(k, []string{"login: status 503", "code: refused"}) {
		t.Errorf("sorted kinds %v", k)
	}
}

// TestLockedCode: after mfa.FailuresPerLock wrong codes the portal closes
// the step (429), an error of its own kind.
func TestLockedCode(t *testing.T) {
	e := newPortal(t)
	c := e.enrolled(t, "locked@example.jp")
	ctx := t.Context()
	if err := c.StartSignIn(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	if err := c.SubmitPassword(ctx, e.base); err != nil {
		t.Fatal(err)
	}
	wrong := wrongCode(t, c.TOTPSecret, time.Now())
	for i := 1; i < mfa.FailuresPerLock; i++ {
		if err := c.SubmitTOTP(ctx, e.base, wrong); !errors.Is(err, loadgen.ErrCodeRefused) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	err := c.SubmitTOTP(ctx, e.base, wrong)
	if !errors.Is(err, loadgen.ErrLocked) || loadgen.Kind(err) != "code: throttled (429)" {
		t.Errorf("wrong code %d: %v (kind %q), want the step closed", mfa.FailuresPerLock, err, loadgen.Kind(err))
	}
}
