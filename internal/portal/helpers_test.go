package portal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
)

// t0 is 5 s into a TOTP step and into a 15-minute throttle window.
var t0 = time.Date(2026, 4, 1, 0, 0, 5, 0, time.UTC)

// env is a real service over a real SQLite store in a temporary folder.
type env struct {
	t     *testing.T
	ctx   context.Context
	svc   *portal.Service
	clock *testkit.Clock
	st    *raceStore
	ip    portal.Client
}

func newEnv(t *testing.T, change ...func(*config.Config)) *env {
	t.Helper()
	// The portal's address first, so that a test's changes come after it.
	atPortal := func(c *config.Config) { c.BaseURL = "https://portal.example.jp" }
	cfg := testkit.Config(t, append([]func(*config.Config){atPortal}, change...)...)
	db, err := sqlstore.OpenSQLite(cfg.DatabasePath())
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	st := &raceStore{Store: db}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := portal.New(st, keys, cfg, log)
	clock := testkit.NewClock(t0)
	svc.Now = clock.Now
	return &env{t: t, ctx: t.Context(), svc: svc, clock: clock, st: st,
		ip: portal.Client{IP: "192.0.2.1", UserAgent: "test"}}
}

// customer is an activated account and what its owner knows.
type customer struct {
	email, password string
	acct            *store.Account
	seed            string // authenticator app's key, once enrolled
	recovery        string // the last recovery code shown
}

func (e *env) newCustomer(email string) *customer {
	e.t.Helper()
	a, _, err := e.svc.OpenAccount(e.ctx, email, "山田 太郎", "operator:test")
	if err != nil {
		e.t.Fatalf("OpenAccount(%s): %v", email, err)
	}
	c := &customer{email: email, password: "correct horse battery", acct: a}
	if err := e.svc.SetPassword(e.ctx, a.ID, c.password); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// reload reads the flow back through its cookie, as the next request does.
func (e *env) reload(f *portal.Flow, states ...string) *portal.Flow {
	e.t.Helper()
	g, err := e.svc.LoadFlow(e.ctx, e.svc.FlowCookie(f), states...)
	if err != nil {
		e.t.Fatalf("LoadFlow at %s: %v", f.State, err)
	}
	return g
}

// passwordStep passes the password step, which starts the flow.
func (e *env) passwordStep(c *customer) *portal.Flow {
	e.t.Helper()
	f, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip)
	if err != nil {
		e.t.Fatalf("Password(%s): %v", c.email, err)
	}
	return e.reload(f)
}

// enrol signs a new customer in for the first time: password, app enrolment,
// recovery code, session.
func (e *env) enrol(c *customer) string {
	e.t.Helper()
	f, _ := e.atEnrolment(c)
	if err := e.svc.ConfirmEnrolment(e.ctx, f, e.code(c), e.ip); err != nil {
		e.t.Fatalf("ConfirmEnrolment: %v", err)
	}
	f = e.reload(f, portal.StateRecovery)
	var err error
	if c.recovery, err = e.svc.RecoveryCode(f); err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.AcknowledgeRecovery(f, true); err != nil {
		e.t.Fatal(err)
	}
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		e.t.Fatalf("Finish: %v", err)
	}
	return token
}

// atEnrolment is c's first password step: the flow at the app's
// enrolment, and its key, which c's app now holds (c.seed).
func (e *env) atEnrolment(c *customer) (*portal.Flow, *portal.Enrolment) {
	e.t.Helper()
	f := e.passwordStep(c)
	if f.State != portal.StateEnrol {
		e.t.Fatalf("after password: state %s, want %s", f.State, portal.StateEnrol)
	}
	en, err := e.svc.Enrolment(e.ctx, f)
	if err != nil {
		e.t.Fatal(err)
	}
	c.seed = en.Secret
	return f, en
}

// atSecondFactor is yamada@example.jp, enrolled with the app, signing in
// again in the app's next step: past the password, at the second factor.
func (e *env) atSecondFactor() (*customer, *portal.Flow) {
	e.t.Helper()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	e.clock.Advance(30 * time.Second)
	return c, e.passwordStep(c)
}

// signIn is a later sign-in with the app. It first moves the clock to the
// next TOTP step, so the code is one not used before.
func (e *env) signIn(c *customer) string {
	e.t.Helper()
	e.clock.Advance(mfa.Period * time.Second)
	f := e.passwordStep(c)
	if f.State != portal.StateMFA {
		e.t.Fatalf("after password: state %s, want %s", f.State, portal.StateMFA)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip); err != nil {
		e.t.Fatalf("SecondFactor: %v", err)
	}
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		e.t.Fatalf("Finish: %v", err)
	}
	return token
}

// code is the customer's app's code now.
func (e *env) code(c *customer) string {
	e.t.Helper()
	code, err := mfa.TOTPCode(c.seed, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

// same, fullWidth and spaced are ways customers type a code: as it is,
// in full-width digits from a Japanese input method, and in two groups of
// three, as authenticator apps show it.
func same(code string) string { return code }

func fullWidth(code string) string {
	return strings.Map(func(r rune) rune { return r - '0' + '０' }, code)
}

func spaced(code string) string { return code[:3] + " " + code[3:] }

// wrongCode is six digits that no step of the window accepts now.
func (e *env) wrongCode(c *customer) string {
	e.t.Helper()
	now := e.clock.Now()
	taken := map[string]bool{}
	for d := -mfa.Skew; d <= mfa.Skew; d++ {
		code, _ := mfa.TOTPCode(c.seed, now.Add(time.Duration(d*mfa.Period)*time.Second))
		taken[code] = true
	}
	for i := 0; ; i++ {
		if s := fmt.Sprintf("%06d", (123456+i*7919)%1000000); !taken[s] {
			return s
		}
	}
}

// wrongCodes types n wrong app codes at f, each refused as wrong.
func (e *env) wrongCodes(c *customer, f *portal.Flow, n int) {
	e.t.Helper()
	for i := 1; i <= n; i++ {
		if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip); !errors.Is(err, portal.ErrWrongCode) {
			e.t.Fatalf("wrong code %d: %v, want ErrWrongCode", i, err)
		}
	}
}

func (e *env) account(c *customer) *store.Account {
	e.t.Helper()
	a, err := e.svc.Store.AccountByID(e.ctx, c.acct.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) session(token string) *portal.SignedIn {
	e.t.Helper()
	si, err := e.svc.Session(e.ctx, token)
	if err != nil {
		e.t.Fatalf("Session: %v", err)
	}
	return si
}

func (e *env) noSession(token string) {
	e.t.Helper()
	if si, err := e.svc.Session(e.ctx, token); !errors.Is(err, portal.ErrNoSession) {
		e.t.Fatalf("Session = %+v, %v; want ErrNoSession", si, err)
	}
}

// auditCount is how many of the account's audit events are of action with
// outcome.
func (e *env) auditCount(accountID, action, outcome string) int {
	e.t.Helper()
	evs, err := e.st.AuditOf(e.ctx, accountID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == action && ev.Outcome == outcome {
			n++
		}
	}
	return n
}

// wantEnrolledOnce checks the second of two tabs' enrolments, which
// answered err: refused as enrolled already, and recorded so; the security
// log says one factor was set, not two.
func (e *env) wantEnrolledOnce(c *customer, err error) {
	e.t.Helper()
	if !errors.Is(err, portal.ErrAlreadyEnrolled) {
		e.t.Errorf("the second tab's enrolment: %v, want ErrAlreadyEnrolled", err)
	}
	if ok, refused := e.auditCount(c.acct.ID, store.ActionMFAEnrol, "ok"), e.auditCount(c.acct.ID, store.ActionMFAEnrol, "already_enrolled"); ok != 1 || refused != 1 {
		e.t.Errorf("mfa.enrol recorded ok %d times and already_enrolled %d times, want once each", ok, refused)
	}
}

// audited tells whether the account has an audit event of action with
// outcome.
func (e *env) audited(accountID, action, outcome string) bool {
	e.t.Helper()
	return e.auditCount(accountID, action, outcome) > 0
}

func lockedErr(t *testing.T, err error) *portal.LockedError {
	t.Helper()
	var l *portal.LockedError
	if !errors.As(err, &l) {
		t.Fatalf("err = %v, want *portal.LockedError", err)
	}
	return l
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/activate" {
		t.Fatalf("activation link %s: path %q, want /activate", link, u.Path)
	}
	return u.Query().Get("token")
}

// raceStore is the real SQLite store with a rendezvous point: while one is
// armed, the chosen reads wait until n requests have all made them, so n
// concurrent requests act on one snapshot, as parallel requests from an
// attacker can in production. Everything else goes straight to the store.
type raceStore struct {
	store.Store
	mu   sync.Mutex
	hit  *rendezvous // Hit(key with prefix, n = 0): a limit read
	unit *rendezvous // Atomically, before the unit starts
	// latest: LatestPhoneCode outside a unit, the pause between codes
	latest *rendezvous
}

type rendezvous struct {
	prefix  string
	n       int
	arrived int
	all     chan struct{}
}

func newRendezvous(n int, prefix string) *rendezvous {
	return &rendezvous{n: n, prefix: prefix, all: make(chan struct{})}
}

// wait joins r; ctx bounds the wait only so that a product change that
// serialises the requests makes the test fail instead of hanging.
func (s *raceStore) wait(ctx context.Context, r *rendezvous) {
	s.mu.Lock()
	if r.arrived >= r.n {
		s.mu.Unlock()
		return
	}
	r.arrived++
	if r.arrived == r.n {
		close(r.all)
	}
	s.mu.Unlock()
	select {
	case <-r.all:
	case <-ctx.Done():
	}
}

func (s *raceStore) arm(hit, unit *rendezvous) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hit, s.unit = hit, unit
}

func (s *raceStore) Hit(ctx context.Context, key string, window time.Duration, now time.Time, n int) (int, error) {
	c, err := s.Store.Hit(ctx, key, window, now, n)
	s.mu.Lock()
	r := s.hit
	s.mu.Unlock()
	if r != nil && n == 0 && len(key) >= len(r.prefix) && key[:len(r.prefix)] == r.prefix {
		s.wait(ctx, r)
	}
	return c, err
}

// armLatest arms (nil: disarms) the rendezvous of LatestPhoneCode.
func (s *raceStore) armLatest(r *rendezvous) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest = r
}

func (s *raceStore) LatestPhoneCode(ctx context.Context, accountID string) (*store.PhoneCode, error) {
	pc, err := s.Store.LatestPhoneCode(ctx, accountID)
	s.mu.Lock()
	r := s.latest
	s.mu.Unlock()
	if r != nil {
		s.wait(ctx, r)
	}
	return pc, err
}

func (s *raceStore) Atomically(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) error {
	s.mu.Lock()
	r := s.unit
	s.mu.Unlock()
	if r != nil {
		s.wait(ctx, r)
	}
	return s.Store.Atomically(ctx, fn)
}

// siteGrant gives the customer a live grant at a site, as a sign-in there
// through the portal's OpenID Connect provider would, and returns its id.
func (e *env) siteGrant(c *customer) string {
	e.t.Helper()
	err := e.st.CreateClient(e.ctx, &store.Client{ID: "site", Name: "site", RedirectURIs: []string{"https://site.example.jp/cb"},
		FirstParty: true, CreatedAt: e.clock.Now()})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		e.t.Fatal(err)
	}
	g := &store.Grant{ID: "g-" + c.acct.ID, ClientID: "site", AccountID: c.acct.ID, Scopes: []string{"openid"},
		AuthTime: e.clock.Now(), CreatedAt: e.clock.Now()}
	if err := e.st.CreateGrant(e.ctx, g); err != nil {
		e.t.Fatal(err)
	}
	return g.ID
}

// grantEnded reports whether the grant was revoked.
func (e *env) grantEnded(id string) bool {
	e.t.Helper()
	g, err := e.st.GrantByID(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return !g.RevokedAt.IsZero()
}

// sitesTold records the accounts whose grants the service told the sites
// of (GrantsEnded), one entry a call.
func (e *env) sitesTold() *[]string {
	var told []string
	e.svc.GrantsEnded = func(_ context.Context, gs []store.Grant) {
		for _, g := range gs {
			told = append(told, g.AccountID)
		}
	}
	return &told
}
