package portal_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// langWrites counts the store's SetAccountLang, in units too.
type langWrites struct {
	store.Store
	n *atomic.Int32
}

func (s langWrites) SetAccountLang(ctx context.Context, accountID, lang string) error {
	s.n.Add(1)
	return s.Store.SetAccountLang(ctx, accountID, lang)
}

func (s langWrites) Atomically(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) error {
	return s.Store.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
		return fn(ctx, langWrites{Store: tx, n: s.n})
	})
}

// countLangWrites has the service count the account languages it writes.
func (e *env) countLangWrites() *atomic.Int32 {
	n := new(atomic.Int32)
	e.svc.Store = langWrites{Store: e.svc.Store, n: n}
	return n
}

// wantLang checks the account's language and how many writes set it since
// the last look.
func (e *env) wantLang(what string, c *customer, writes *atomic.Int32, lang string, n int32) {
	e.t.Helper()
	if got := e.account(c).Lang; got != lang {
		e.t.Errorf("%s: account language %q, want %q", what, got, lang)
	}
	if got := writes.Swap(0); got != n {
		e.t.Errorf("%s: %d language writes, want %d", what, got, n)
	}
}

// TestSignInKeepsLanguage: a finished sign-in keeps its request's language
// on the account, and writes it only when it differs from the account's;
// the password alone keeps nothing.
func TestSignInKeepsLanguage(t *testing.T) {
	e := newEnv(t)
	writes := e.countLangWrites()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c) // a request without a language (a command's): nothing kept
	e.wantLang("new account", c, writes, "ja", 0)

	e.ip.Lang = "en"
	e.clock.Advance(mfa.Period * time.Second)
	if err := e.svc.Abandon(e.ctx, e.passwordStep(c)); err != nil {
		t.Fatal(err)
	}
	e.wantLang("the password alone, in English", c, writes, "ja", 0)

	for _, step := range []struct {
		lang, want string
		writes     int32
	}{
		{"ja", "ja", 0}, // the usual language: no write
		{"en", "en", 1},
		{"en", "en", 0},
		{"ja", "ja", 1},
	} {
		e.ip.Lang = step.lang
		e.signIn(c)
		e.wantLang("a sign-in in "+step.lang, c, writes, step.want, step.writes)
	}

	// The second factor and the finish in one unit, as the web layer does.
	e.ip.Lang = "en"
	e.clock.Advance(mfa.Period * time.Second)
	f := e.passwordStep(c)
	token, err := e.svc.SecondFactorThenFinish(e.ctx, f, portal.MethodTOTP, e.code(c), "", e.ip)
	if err != nil || token == "" {
		t.Fatalf("SecondFactorThenFinish: %q, %v", token, err)
	}
	e.wantLang("a one-unit sign-in in English", c, writes, "en", 1)

	// A step-up is a sign-in too.
	e.ip.Lang = "ja"
	for _, n := range []int32{1, 0} {
		e.clock.Advance(mfa.Period * time.Second)
		f, err = e.svc.StartStepUp(e.ctx, e.session(token), "/security")
		if err != nil {
			t.Fatal(err)
		}
		// The step-up renews the session under a new id.
		if token, err = e.svc.SecondFactorThenFinish(e.ctx, e.reload(f), portal.MethodTOTP, e.code(c), token, e.ip); err != nil {
			t.Fatal(err)
		}
		e.wantLang("a step-up in Japanese", c, writes, "ja", n)
	}
}

// TestSetLanguage: the language switch of a signed-in customer keeps the
// language on the account, writing only a change; a language the portal
// does not speak changes nothing.
func TestSetLanguage(t *testing.T) {
	e := newEnv(t)
	writes := e.countLangWrites()
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	token := e.signIn(c)
	writes.Store(0)
	for _, bad := range []string{"fr", "", "EN", "en-US"} {
		if err := e.svc.SetLanguage(e.ctx, e.session(token), bad); !errors.Is(err, portal.ErrUnknownLanguage) {
			t.Errorf("SetLanguage(%q): %v, want ErrUnknownLanguage", bad, err)
		}
	}
	e.wantLang("unknown languages", c, writes, "ja", 0)
	for _, step := range []struct {
		lang   string
		writes int32
	}{{"ja", 0}, {"en", 1}, {"en", 0}, {"ja", 1}} {
		if err := e.svc.SetLanguage(e.ctx, e.session(token), step.lang); err != nil {
			t.Fatal(err)
		}
		e.wantLang("switch to "+step.lang, c, writes, step.lang, step.writes)
	}
}

// englishCustomer is an enrolled customer who last signed in in English,
// with a service that queues its mails; the requests after it carry
// Japanese.
func englishCustomer(t *testing.T, e *env, box *noticeBox, email string) *customer {
	t.Helper()
	c := e.newCustomer(email)
	e.enrol(c)
	e.ip.Lang = "en"
	e.signIn(c)
	e.ip.Lang = "ja"
	if got := e.account(c).Lang; got != "en" {
		t.Fatalf("account language after an English sign-in: %q", got)
	}
	box.since()
	return c
}

// oneMail checks that exactly one mail to c was queued since the last look,
// with this subject, and what its parts have and lack.
func oneMail(t *testing.T, box *noticeBox, c *customer, subject string, has []string, lacks ...string) {
	t.Helper()
	ms := box.since()
	if len(ms) != 1 || ms[0].To != c.email || ms[0].Subject != subject {
		for _, m := range ms {
			t.Logf("mail to %s: %q", m.To, m.Subject)
		}
		t.Fatalf("%d mails queued, want one to %s: %q", len(ms), c.email, subject)
	}
	for _, w := range has {
		// The HTML part has its "label: value" lines as table rows.
		inHTML := strings.Contains(w, ": ") || strings.Contains(ms[0].HTML, w)
		if !strings.Contains(ms[0].Text, w) || !inHTML {
			t.Errorf("%q lacks %q:\n%s", subject, w, ms[0].Text)
		}
	}
	for _, w := range lacks {
		if strings.Contains(ms[0].Text, w) || strings.Contains(ms[0].HTML, w) {
			t.Errorf("%q has %q:\n%s", subject, w, ms[0].Text)
		}
	}
}

// TestOperatorResetNotice: the notice of an operator's 2FA reset is in the
// account's language and says that support did it, not an address "-".
func TestOperatorResetNotice(t *testing.T) {
	e := newEnv(t)
	box := mailNotices(e)
	ja := e.newCustomer("yamada@example.jp")
	e.enrol(ja)
	en := englishCustomer(t, e, box, "sato@example.jp")

	for _, tc := range []struct {
		c          *customer
		subject    string
		has, lacks []string
	}{
		{ja, "【Tobira】セキュリティに関するお知らせ",
			[]string{"二要素認証の設定がリセットされました。", "サポート担当者", "サポート窓口にご依頼いただいた操作であれば"},
			[]string{"IP アドレス", "ブラウザ:", "operator:kim", "ご自身による操作"}},
		{en, "[Tobira] Security notice",
			[]string{"Two-step verification was reset.", "our support staff", "If you asked our support desk for this"},
			[]string{"IP address", "Browser:", "operator:kim", "If it was you"}},
	} {
		box.since()
		if _, err := e.svc.OperatorResetMFA(e.ctx, tc.c.email, "operator:kim"); err != nil {
			t.Fatal(err)
		}
		oneMail(t, box, tc.c, tc.subject, tc.has, tc.lacks...)
	}
}

// TestMailsInAccountLanguage: the mails no request of the customer's asks
// for (an operator's, or after a request that proved only the password)
// are in the account's language; those of the customer's own requests in
// the request's.
func TestMailsInAccountLanguage(t *testing.T) {
	e, box := recoveryEnv(t)
	c := englishCustomer(t, e, box, "yamada@example.jp")

	// The customer's requests, in Japanese: the mails are Japanese
	// (requestRecovery and confirmRecovery check them).
	e.clock.Advance(mfa.Period * time.Second)
	r, _ := e.confirmRecovery(c, box, e.requestRecovery(c, box))

	// An operator's early approval: English.
	e.approveEarly(r)
	oneMail(t, box, c, "[Tobira] Support ended the waiting period of your recovery request", []string{"Dear 山田 太郎,"})

	// The sign-in that completes the request proved only the password:
	// its notice is English, and it keeps no language.
	e.clock.Advance(mfa.Period * time.Second)
	f := e.passwordStep(c)
	if f.State != portal.StateEnrol {
		t.Fatalf("after the approval: %s, want enrol", f.State)
	}
	oneMail(t, box, c, "[Tobira] Security notice", []string{"Two-step verification was reset.", "IP address: 203.0.113.7"})
	if got := e.account(c).Lang; got != "en" {
		t.Errorf("account language after the password step: %q", got)
	}
	if err := e.svc.Abandon(e.ctx, f); err != nil {
		t.Fatal(err)
	}

	// Wrong codes that close the step: English too.
	d := englishCustomer(t, e, box, "sato@example.jp")
	e.clock.Advance(mfa.Period * time.Second)
	f = e.passwordStep(d)
	for range mfa.FailuresPerLock {
		_ = e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(d), e.ip)
	}
	oneMail(t, box, d, "[Tobira] Security notice", []string{"After too many wrong codes"})

	// A signed-in customer's own reset, in Japanese: Japanese.
	g := englishCustomer(t, e, box, "takahashi@example.jp")
	e.ip.Lang = "en"
	token := e.signIn(g)
	e.ip.Lang = "ja"
	box.since()
	if err := e.svc.ResetMFA(e.ctx, e.session(token), e.ip); err != nil {
		t.Fatal(err)
	}
	oneMail(t, box, g, noticeSubject, []string{"二要素認証の設定がリセットされました。", "IP アドレス: 203.0.113.7"})
}

// TestActivationInAccountLanguage: the activation mail an operator sends
// is in the account's language: Japanese for a new account.
func TestActivationInAccountLanguage(t *testing.T) {
	e := newEnv(t)
	box := mailNotices(e)
	a, _, err := e.svc.OpenAccount(e.ctx, "yamada@example.jp", "山田 太郎", "operator:kim")
	if err != nil {
		t.Fatal(err)
	}
	c := &customer{email: a.Email, acct: a}
	oneMail(t, box, c, "【Tobira】アカウント開通のご案内", []string{"山田 太郎 様"})
	if err := e.st.SetAccountLang(e.ctx, a.ID, "en"); err != nil {
		t.Fatal(err)
	}
	a, err = e.svc.Store.AccountByID(e.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ResendActivation(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	oneMail(t, box, c, "[Tobira] Your account is ready", []string{"Dear 山田 太郎,"})
}
