package portal_test

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// withMail queues the service's mails in the store, as the demo does.
func (e *env) withMail() *env {
	e.svc.Mail = &mail.Queue{Store: e.st, Sender: mail.Outbox{}, Now: e.clock.Now}
	return e
}

// mailsTo returns the queued mails to an address whose subject has subject,
// oldest first.
func (e *env) mailsTo(to, subject string) []store.Mail {
	e.t.Helper()
	all, err := e.st.ListMails(e.ctx, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []store.Mail
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].To == to && strings.Contains(all[i].Subject, subject) {
			out = append(out, all[i])
		}
	}
	return out
}

const resetSubject = "パスワード再設定のご案内"

var resetLinkRe = regexp.MustCompile(`https://portal\.example\.jp/reset-password\?token=\S+`)

// resetLink asks for a reset of c's password and returns the token of the
// link the mail brought.
func (e *env) resetLink(c *customer) string {
	e.t.Helper()
	before := len(e.mailsTo(c.email, resetSubject))
	if err := e.svc.RequestPasswordReset(e.ctx, c.email, "ja", e.ip); err != nil {
		e.t.Fatalf("RequestPasswordReset: %v", err)
	}
	ms := e.mailsTo(c.email, resetSubject)
	if len(ms) != before+1 {
		e.t.Fatalf("%d reset mails, want %d", len(ms), before+1)
	}
	link := resetLinkRe.FindString(ms[len(ms)-1].Text)
	if link == "" {
		e.t.Fatalf("the reset mail has no link:\n%s", ms[len(ms)-1].Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Query().Get("token")
}

func TestPasswordResetMail(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)

	token := e.resetLink(c)
	m := e.mailsTo(c.email, resetSubject)[0]
	for _, want := range []string{"山田 太郎 様", "yamada@example.jp", "30分間", "2026年4月1日 09:30（日本時間）", "https://portal.example.jp/login"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `href="https://portal.example.jp/reset-password?token=`) {
		t.Errorf("HTML mail has no link:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "これまでどおり二要素認証が必要です。") {
		t.Errorf("the mail to an account with a second factor does not say the next sign-in asks for it:\n%s", m.Text)
	}
	a, err := e.svc.CheckPasswordReset(e.ctx, token)
	if err != nil || a.ID != c.acct.ID {
		t.Fatalf("CheckPasswordReset = %+v, %v", a, err)
	}
	if !e.audited(c.acct.ID, "password.reset_request", "ok") {
		t.Error("no audit event for the request")
	}

	// In the language of the page it was asked from.
	if err := e.svc.RequestPasswordReset(e.ctx, "  YAMADA@example.jp ", "en-US", e.ip); err != nil {
		t.Fatal(err)
	}
	if ms := e.mailsTo(c.email, "[Tobira] Reset your password"); len(ms) != 1 || !strings.Contains(ms[0].Text, "30 minutes") {
		t.Fatalf("English reset mails: %+v", ms)
	}
}

// TestPasswordResetMailWithoutSecondFactor: an account that has not set up
// a second factor (a recovery code alone is none) is told that the next
// sign-in asks to set one up, not that it still asks for it.
func TestPasswordResetMailWithoutSecondFactor(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	if _, err := e.svc.NewRecoveryCode(e.ctx, c.acct.ID); err != nil {
		t.Fatal(err)
	}
	e.resetLink(c)
	m := e.mailsTo(c.email, resetSubject)[0]
	if !strings.Contains(m.Text, "二要素認証はまだ設定されていません。次回のログイン時に、二要素認証の設定画面が表示されます。") ||
		strings.Contains(m.Text, "これまでどおり") {
		t.Errorf("mail to an account without a second factor:\n%s", m.Text)
	}
}

// TestPasswordResetRevealsNothing: unknown and not-yet-activated addresses
// get the answer a customer gets, and no reset mail.
func TestPasswordResetRevealsNothing(t *testing.T) {
	e := newEnv(t).withMail()
	pending, _, err := e.svc.OpenAccount(e.ctx, "new@example.jp", "新規 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"nobody@example.jp", "new@example.jp"} {
		if err := e.svc.RequestPasswordReset(e.ctx, addr, "ja", e.ip); err != nil {
			t.Errorf("RequestPasswordReset(%s) = %v, want nil", addr, err)
		}
		if ms := e.mailsTo(addr, resetSubject); len(ms) != 0 {
			t.Errorf("%s got a reset mail", addr)
		}
	}
	if !e.audited(pending.ID, "password.reset_request", "activation_sent") {
		t.Error("no audit event for the request of an account without a password")
	}
	for _, bad := range []string{"", "not an address", "a@b"} {
		if err := e.svc.RequestPasswordReset(e.ctx, bad, "ja", e.ip); !errors.Is(err, account.ErrBadEmail) {
			t.Errorf("RequestPasswordReset(%q) = %v, want ErrBadEmail", bad, err)
		}
	}
	all, _ := e.st.ListMails(e.ctx, 0)
	for _, m := range all {
		if strings.Contains(m.Subject, resetSubject) {
			t.Errorf("a reset mail went to %s", m.To)
		}
	}
}

const activationSubject = "アカウント開通のご案内"

var activationLinkRe = regexp.MustCompile(`https://portal\.example\.jp/activate\?token=(\S+)`)

// activationToken is the token of the activation link in m.
func activationToken(t *testing.T, m store.Mail) string {
	t.Helper()
	match := activationLinkRe.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("the activation mail has no link:\n%s", m.Text)
	}
	token, err := url.QueryUnescape(match[1])
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestPasswordResetBeforeActivation: a customer whose account an operator
// opened, and who lost the activation mail or let its link expire, asks at
// the forgotten-password form. The answer is the same as for anyone (the
// form's page tells nothing), and the activation mail comes again, as the
// console's resend sends it: a new link that sets the first password, the
// earlier link dead, in the language of the form, saying why it comes;
// recorded as password.reset_request activation_sent. The form's limits
// hold: a flood sends no more mails than reset links.
func TestPasswordResetBeforeActivation(t *testing.T) {
	e := newEnv(t).withMail()
	pending, first, err := e.svc.OpenAccount(e.ctx, "new@example.jp", "新規 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(first)
	firstToken := u.Query().Get("token")
	e.clock.Advance(73 * time.Hour) // the operator's link has expired

	if err := e.svc.RequestPasswordReset(e.ctx, "New@example.jp", "en", e.ip); err != nil {
		t.Fatalf("RequestPasswordReset: %v", err)
	}
	if ms := e.mailsTo("new@example.jp", resetSubject); len(ms) != 0 {
		t.Fatal("an account without a password got a reset mail")
	}
	ms := e.mailsTo("new@example.jp", "[Tobira] Your account is ready")
	if len(ms) != 1 {
		t.Fatalf("%d English activation mails after the request, want 1", len(ms))
	}
	if !strings.Contains(ms[0].Text, "Someone asked to reset the password of your Tobira account, which has no password yet.") ||
		!strings.Contains(ms[0].Text, "72 hours") {
		t.Errorf("the activation mail does not say why it comes:\n%s", ms[0].Text)
	}
	if !e.audited(pending.ID, "password.reset_request", portal.OutcomeActivationSent) {
		t.Error("no audit event password.reset_request activation_sent")
	}
	second := activationToken(t, ms[0])
	if a, err := e.svc.CheckActivation(e.ctx, second); err != nil || a.ID != pending.ID {
		t.Fatalf("CheckActivation(the new link) = %v, %v", a, err)
	}

	// A second request: a new link, and the one before it is dead, as
	// after the console's resend.
	if err := e.svc.RequestPasswordReset(e.ctx, "new@example.jp", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	ja := e.mailsTo("new@example.jp", activationSubject)
	if len(ja) != 2 { // the operator's, and this one
		t.Fatalf("%d Japanese activation mails, want the operator's and the request's", len(ja))
	}
	if !strings.Contains(ja[1].Text, "パスワード再設定のお申し込みがありましたが、お客様のアカウントは、まだ最初のパスワードが設定されていません。") {
		t.Errorf("the Japanese activation mail does not say why it comes:\n%s", ja[1].Text)
	}
	third := activationToken(t, ja[1])
	for _, dead := range []string{firstToken, second} {
		if _, err := e.svc.CheckActivation(e.ctx, dead); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("an earlier activation link after a new one: %v, want ErrTokenInvalid", err)
		}
	}

	// The form's limit of the address: 5 an hour. A flood sends 3 more
	// mails (5 in all this hour, the English one among them) and then none.
	for range 10 {
		if err := e.svc.RequestPasswordReset(e.ctx, "new@example.jp", "ja", e.ip); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.mailsTo("new@example.jp", activationSubject)); n != 1+4 {
		t.Fatalf("%d Japanese activation mails after a flood, want the operator's and 4 (5 requested this hour with the English one)", n)
	}
	if !e.audited(pending.ID, "password.reset_request", "limited") {
		t.Error("no audit event for the limited requests")
	}
	last := e.mailsTo("new@example.jp", activationSubject)
	third = activationToken(t, last[len(last)-1])

	// The newest link lets the customer in.
	if _, err := e.svc.Activate(e.ctx, third, "a long first password", e.ip); err != nil {
		t.Fatalf("Activate with the mailed link: %v", err)
	}
	if _, err := e.svc.Password(e.ctx, "new@example.jp", "a long first password", "/", e.ip); err != nil {
		t.Fatalf("sign-in after the activation: %v", err)
	}
}

func TestPasswordResetLinkLifetime(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	token := e.resetLink(c)
	e.clock.Advance(30*time.Minute - time.Second)
	if _, err := e.svc.CheckPasswordReset(e.ctx, token); err != nil {
		t.Fatalf("a link 29:59 old: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.CheckPasswordReset(e.ctx, token); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("a link 30 minutes old: %v, want ErrTokenInvalid", err)
	}
	if err := e.svc.ResetPassword(e.ctx, token, "a brand new password", e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("ResetPassword with an expired link: %v", err)
	}
	if _, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip); err != nil {
		t.Fatalf("the old password after a refused reset: %v", err)
	}
}

func TestPasswordResetBadLinks(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	token := e.resetLink(c)
	raw, mac, _ := strings.Cut(token, ".")
	for _, bad := range []string{"", ".", raw, raw + ".", raw + "." + mac + "x", "x" + token, "." + mac} {
		if _, err := e.svc.CheckPasswordReset(e.ctx, bad); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("CheckPasswordReset(%q) = %v, want ErrTokenInvalid", bad, err)
		}
	}
	// An activation link is no reset link, nor the other way round.
	_, activation, err := e.svc.OpenAccount(e.ctx, "new@example.jp", "新規 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CheckPasswordReset(e.ctx, tokenOf(t, activation)); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Errorf("an activation link passed as a reset link: %v", err)
	}
	if _, err := e.svc.CheckActivation(e.ctx, raw); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Errorf("a reset link passed as an activation link: %v", err)
	}
}

// TestResetPassword: the new password works, the old one does not; every
// session ends; the factors stay, so the next sign-in asks for one; a notice
// goes out; the link is spent.
func TestResetPassword(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	here := e.enrol(c)
	other := e.signIn(c)
	bystander := e.newCustomer("sato@example.jp")
	bystanderSession := e.enrol(bystander)
	told := e.sitesTold()
	grant := e.siteGrant(c)

	token := e.resetLink(c)
	if err := e.svc.ResetPassword(e.ctx, token, "short", e.ip); !errors.Is(err, account.ErrPasswordShort) {
		t.Fatalf("a short password: %v", err)
	}
	if err := e.svc.ResetPassword(e.ctx, token, "yamada@example.jp", e.ip); !errors.Is(err, account.ErrPasswordIsEmail) {
		t.Fatalf("the address as password: %v", err)
	}
	// Refused passwords spend nothing and end nothing.
	e.session(here)
	if err := e.svc.ResetPassword(e.ctx, token, "a brand new password", e.ip); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}

	e.noSession(here)
	e.noSession(other)
	e.session(bystanderSession)
	if len(*told) != 1 || (*told)[0] != c.acct.ID || !e.grantEnded(grant) {
		t.Errorf("the sites were told of %v, grant ended %v; want [%s] and its grant ended", *told, e.grantEnded(grant), c.acct.ID)
	}
	if !e.audited(c.acct.ID, "password.reset", "ok") {
		t.Error("no audit event for the reset")
	}
	notices := e.mailsTo(c.email, "セキュリティに関するお知らせ")
	if n := len(notices); n == 0 || !strings.Contains(notices[n-1].Text, "パスワードが変更されました。") {
		t.Fatalf("no password notice among %d notices", n)
	}

	// Single use.
	if err := e.svc.ResetPassword(e.ctx, token, "yet another password", e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("the link used twice: %v", err)
	}
	if _, err := e.svc.CheckPasswordReset(e.ctx, token); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("CheckPasswordReset of a used link: %v", err)
	}

	// The old password is dead; the new one leads to the second factor.
	if _, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip); !errors.Is(err, portal.ErrBadCredentials) {
		t.Fatalf("the old password: %v, want ErrBadCredentials", err)
	}
	c.password = "a brand new password"
	if fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID); len(fs) != 1 {
		t.Fatalf("factors after a password reset: %+v", fs)
	}
	if has, _ := e.svc.Store.HasRecoveryCode(e.ctx, c.acct.ID); !has {
		t.Fatal("the reset removed the recovery code")
	}
	e.signIn(c) // fails unless the password step leads to StateMFA
}

func TestPasswordResetKillsTheOtherLinks(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	first := e.resetLink(c)
	second := e.resetLink(c)
	if err := e.svc.ResetPassword(e.ctx, second, "a brand new password", e.ip); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CheckPasswordReset(e.ctx, first); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("an older link after the password changed: %v", err)
	}
	if err := e.svc.ResetPassword(e.ctx, first, "an attacker's password", e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("ResetPassword with an older link: %v", err)
	}
	// A link asked for after the reset works.
	if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), "the third password", e.ip); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordResetOnceUnderConcurrency(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	token := e.resetLink(c)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = e.svc.ResetPassword(e.ctx, token, "parallel password "+string(rune('a'+i)), e.ip) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, portal.ErrTokenInvalid):
			t.Errorf("ResetPassword: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d parallel resets with one link succeeded, want 1", ok)
	}
}

// TestPasswordResetClearsThePasswordThrottle: the customer who forgot may
// have locked the address with guesses; the new password opens it.
func TestPasswordResetClearsThePasswordThrottle(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	for range e.svc.Config.PasswordFailuresPerAccount {
		e.svc.Password(e.ctx, c.email, "a wrong guess!", "/", e.ip)
	}
	lockedErr(t, func() error { _, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip); return err }())
	if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), "a brand new password", e.ip); err != nil {
		t.Fatal(err)
	}
	c.password = "a brand new password"
	e.signIn(c)
}

// TestPasswordResetKeepsTheSecondFactorLock: a new password opens nothing of
// the second factor, not even its lock.
func TestPasswordResetKeepsTheSecondFactorLock(t *testing.T) {
	e := newEnv(t).withMail()
	c, f := e.atSecondFactor()
	for range 10 {
		e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
	}
	if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), "a brand new password", e.ip); err != nil {
		t.Fatal(err)
	}
	c.password = "a brand new password"
	e.clock.Advance(30 * time.Second)
	g := e.passwordStep(c)
	if g.State != portal.StateMFA {
		t.Fatalf("after a reset: state %s, want %s", g.State, portal.StateMFA)
	}
	lockedErr(t, e.svc.SecondFactor(e.ctx, g, portal.MethodTOTP, e.code(c), e.ip))
}

func TestPasswordResetLimits(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	// t0 is 5 s into an hour's window.
	for range 5 {
		e.resetLink(c)
	}
	if err := e.svc.RequestPasswordReset(e.ctx, c.email, "ja", e.ip); err != nil {
		t.Fatalf("the 6th request: %v, want nil", err)
	}
	if ms := e.mailsTo(c.email, resetSubject); len(ms) != 5 {
		t.Fatalf("%d reset mails after 6 requests, want 5", len(ms))
	}
	if !e.audited(c.acct.ID, "password.reset_request", "limited") {
		t.Error("no audit event for the limited request")
	}
	// From another client too: the limit is the address's.
	if err := e.svc.RequestPasswordReset(e.ctx, c.email, "ja", portal.Client{IP: "198.51.100.9"}); err != nil {
		t.Fatal(err)
	}
	if ms := e.mailsTo(c.email, resetSubject); len(ms) != 5 {
		t.Fatalf("another client's request over the limit sent a mail")
	}
	e.clock.Advance(time.Hour)
	e.resetLink(c)

	// Per client: 20 requests an hour, whatever the addresses.
	d := e.newCustomer("sato@example.jp")
	spammer := portal.Client{IP: "2001:db8:1:2::7"}
	for i := range 20 {
		if err := e.svc.RequestPasswordReset(e.ctx, "someone"+string(rune('a'+i))+"@example.jp", "ja", spammer); err != nil {
			t.Fatal(err)
		}
	}
	// The same /64.
	if err := e.svc.RequestPasswordReset(e.ctx, d.email, "ja", portal.Client{IP: "2001:db8:1:2::8"}); err != nil {
		t.Fatal(err)
	}
	if ms := e.mailsTo(d.email, resetSubject); len(ms) != 0 {
		t.Fatal("a client over its limit had a mail sent")
	}
	if err := e.svc.RequestPasswordReset(e.ctx, d.email, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if ms := e.mailsTo(d.email, resetSubject); len(ms) != 1 {
		t.Fatalf("another client: %d mails, want 1", len(ms))
	}
}

// commitCounter counts what waits for the disk: each unit of work, and
// each write of the forgotten-password form made outside one. The rate
// limits' counts (Counting) wait for no disk.
type commitCounter struct {
	store.Store
	n int
}

func (s *commitCounter) Atomically(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) error {
	s.n++
	return s.Store.Atomically(ctx, fn)
}

func (s *commitCounter) AppendAudit(ctx context.Context, ev *store.AuditEvent) error {
	s.n++
	return s.Store.AppendAudit(ctx, ev)
}

func (s *commitCounter) CreateToken(ctx context.Context, t *store.OneTimeToken) error {
	s.n++
	return s.Store.CreateToken(ctx, t)
}

func (s *commitCounter) EnqueueMail(ctx context.Context, m *store.Mail) error {
	s.n++
	return s.Store.EnqueueMail(ctx, m)
}

// TestPasswordResetRequestTakesOneCommit: the forgotten-password form
// waits for the disk as often for an address with an account as for one
// without, one without a password, or one over its limit: once. A known
// address's link, mail and audit event were three commits, an unknown
// one's audit event one, and the answer's time told them apart.
func TestPasswordResetRequestTakesOneCommit(t *testing.T) {
	e := newEnv(t)
	counter := &commitCounter{Store: e.st}
	e.svc.Store = counter
	e.svc.Mail = &mail.Queue{Store: counter, Sender: mail.Outbox{}, Now: e.clock.Now}
	e.newCustomer("yamada@example.jp")
	if _, _, err := e.svc.OpenAccount(e.ctx, "new@example.jp", "新規 花子", "operator:test"); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"yamada@example.jp", "nobody@example.jp", "new@example.jp"} {
		counter.n = 0
		if err := e.svc.RequestPasswordReset(e.ctx, addr, "ja", e.ip); err != nil {
			t.Fatal(err)
		}
		if counter.n != 1 {
			t.Errorf("a reset request for %s waited for %d commits, want 1 as for every address", addr, counter.n)
		}
	}
	if len(e.mailsTo("yamada@example.jp", resetSubject)) != 1 {
		t.Fatal("the known address got no reset mail")
	}
	for range 5 {
		if err := e.svc.RequestPasswordReset(e.ctx, "yamada@example.jp", "ja", e.ip); err != nil {
			t.Fatal(err)
		}
	}
	counter.n = 0
	if err := e.svc.RequestPasswordReset(e.ctx, "yamada@example.jp", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if counter.n != 1 {
		t.Errorf("a limited reset request waited for %d commits, want 1", counter.n)
	}
}
