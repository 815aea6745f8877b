package portal_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

func TestOpenAccountAndActivate(t *testing.T) {
	e := newEnv(t)
	a, link, err := e.svc.OpenAccount(e.ctx, " Yamada@Example.JP ", " 山田 太郎 ", "operator:kim")
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "yamada@example.jp" || a.Name != "山田 太郎" || a.PasswordHash != "" {
		t.Fatalf("account %+v", a)
	}
	if !strings.HasPrefix(link, "https://portal.example.jp/activate?token=") {
		t.Fatalf("link %s", link)
	}
	token := tokenOf(t, link)
	if len(token) < 40 {
		t.Fatalf("token %q is short", token)
	}
	got, err := e.svc.CheckActivation(e.ctx, token)
	if err != nil || got.ID != a.ID {
		t.Fatalf("CheckActivation: %v, %v", got, err)
	}
	// Without a password, no sign-in.
	if _, err := e.svc.Password(e.ctx, a.Email, "", "/", e.ip); !errors.Is(err, portal.ErrBadCredentials) {
		t.Fatalf("sign-in before activation: %v", err)
	}

	// Password policy errors leave the link usable.
	for pw, want := range map[string]error{
		"short":                     account.ErrPasswordShort,
		strings.Repeat("x", 129):    account.ErrPasswordLong,
		"yamada@example.jp":         account.ErrPasswordIsEmail,
		"  YAMADA@EXAMPLE.JP      ": account.ErrPasswordIsEmail,
	} {
		if _, err := e.svc.Activate(e.ctx, token, pw, e.ip); !errors.Is(err, want) {
			t.Errorf("Activate(%q) = %v, want %v", pw, err, want)
		}
	}
	if _, err := e.svc.CheckActivation(e.ctx, token); err != nil {
		t.Fatalf("a refused password spent the link: %v", err)
	}

	if _, err := e.svc.Activate(e.ctx, token, "correct horse battery", e.ip); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	// Single use.
	if _, err := e.svc.CheckActivation(e.ctx, token); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("CheckActivation after use: %v", err)
	}
	if _, err := e.svc.Activate(e.ctx, token, "another good password", e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("second Activate: %v, want ErrTokenInvalid", err)
	}
	// The first password works; the second attempt's does not.
	f, err := e.svc.Password(e.ctx, a.Email, "correct horse battery", "/", e.ip)
	if err != nil || f.State != portal.StateEnrol {
		t.Fatalf("first sign-in: %v, %v", f, err)
	}
	if _, err := e.svc.Password(e.ctx, a.Email, "another good password", "/", e.ip); !errors.Is(err, portal.ErrBadCredentials) {
		t.Fatalf("the refused second activation set a password: %v", err)
	}
	for _, bad := range []string{"", "x", token + "x", strings.ToUpper(token)} {
		if _, err := e.svc.CheckActivation(e.ctx, bad); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("CheckActivation(%q): %v", bad, err)
		}
	}
}

func TestActivationLinkExpires(t *testing.T) {
	e := newEnv(t)
	_, link, err := e.svc.OpenAccount(e.ctx, "a@example.jp", "A", "operator:kim")
	if err != nil {
		t.Fatal(err)
	}
	token := tokenOf(t, link)
	e.clock.Advance(72*time.Hour - time.Second)
	if _, err := e.svc.CheckActivation(e.ctx, token); err != nil {
		t.Fatalf("at 72h - 1s: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.CheckActivation(e.ctx, token); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("at 72h: %v, want ErrTokenInvalid", err)
	}
	if _, err := e.svc.Activate(e.ctx, token, "correct horse battery", e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
		t.Fatalf("Activate at 72h: %v, want ErrTokenInvalid", err)
	}
	// A new link can be issued.
	a, _ := e.svc.Store.AccountByEmail(e.ctx, "a@example.jp")
	link2, err := e.svc.ActivationLink(e.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Activate(e.ctx, tokenOf(t, link2), "correct horse battery", e.ip); err != nil {
		t.Fatalf("new link: %v", err)
	}
}

func TestOpenAccountErrors(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.svc.OpenAccount(e.ctx, "a@example.jp", "A", "operator:kim"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email, name string
		want        error
	}{
		{"a@example.jp", "Again", portal.ErrEmailTaken},
		{"A@EXAMPLE.JP", "Again", portal.ErrEmailTaken},
		{"not-an-address", "B", account.ErrBadEmail},
		{"b@example.jp", "", account.ErrBadName},
		{"b@example.jp", strings.Repeat("名", 101), account.ErrBadName},
	} {
		if _, _, err := e.svc.OpenAccount(e.ctx, tc.email, tc.name, "operator:kim"); !errors.Is(err, tc.want) {
			t.Errorf("OpenAccount(%q, %q) = %v, want %v", tc.email, tc.name, err, tc.want)
		}
	}
	list, err := e.svc.ListAccounts(e.ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListAccounts = %d accounts, %v; want 1", len(list), err)
	}
}

func TestListAccounts(t *testing.T) {
	e := newEnv(t)
	enrolled := e.newCustomer("enrolled@example.jp")
	e.enrol(enrolled)
	e.clock.Advance(time.Second)
	e.newCustomer("password@example.jp")
	e.clock.Advance(time.Second)
	if _, _, err := e.svc.OpenAccount(e.ctx, "pending@example.jp", "P", "operator:kim"); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListAccounts(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d accounts", len(list))
	}
	want := []struct {
		email     string
		activated bool
		methods   int
	}{{"enrolled@example.jp", true, 2}, {"password@example.jp", true, 0}, {"pending@example.jp", false, 0}}
	for i, w := range want {
		s := list[i]
		if s.Email != w.email || s.Activated != w.activated || len(s.Methods) != w.methods {
			t.Errorf("account %d = %s activated %v methods %v; want %+v", i, s.Email, s.Activated, s.Methods, w)
		}
	}
}

// TestPasswordRehash: a hash made with older parameters is upgraded at the
// next right sign-in.
func TestPasswordRehash(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	old := e.account(c).PasswordHash
	if !strings.HasPrefix(old, "$argon2id$v=19$m=64,t=1,p=1,norm=nfkc$") {
		t.Fatalf("hash %s", old)
	}
	e.svc.Hasher = account.NewHasher(account.Argon2Params{MemoryKiB: 128, Time: 1, Threads: 1}, 1)
	e.passwordStep(c)
	if h := e.account(c).PasswordHash; !strings.HasPrefix(h, "$argon2id$v=19$m=128,t=1,p=1,norm=nfkc$") {
		t.Fatalf("after sign-in the hash is %s, want it upgraded to m=128", h)
	}
	e.passwordStep(c) // and the new hash verifies
}

// TestActivationLinkAfterActivation: an operator sends the activation mail
// twice. Once the customer has set a first password with one link, the other
// link is for a first password that no longer exists: it must not set
// another password on the now active (and possibly enrolled) account.
func TestActivationLinkAfterActivation(t *testing.T) {
	e := newEnv(t)
	a, link1, err := e.svc.OpenAccount(e.ctx, "yamada@example.jp", "山田 太郎", "operator:kim")
	if err != nil {
		t.Fatal(err)
	}
	link2, err := e.svc.ActivationLink(e.ctx, a) // the mail sent again
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Activate(e.ctx, tokenOf(t, link1), "the customer's password", e.ip); err != nil {
		t.Fatal(err)
	}
	c := &customer{email: a.Email, password: "the customer's password", acct: a}
	e.enrol(c)

	_, errCheck := e.svc.CheckActivation(e.ctx, tokenOf(t, link2))
	_, errAct := e.svc.Activate(e.ctx, tokenOf(t, link2), "someone else's password", e.ip)
	if !errors.Is(errAct, portal.ErrTokenInvalid) {
		t.Errorf("the second activation link still sets a password on an active account: CheckActivation %v, Activate %v; want ErrTokenInvalid", errCheck, errAct)
	}
	if _, err := e.svc.Password(e.ctx, a.Email, "the customer's password", "/", e.ip); err != nil {
		t.Errorf("the customer's own password stopped working: %v", err)
	}
}

// TestResendActivationRevokesEarlier: a resent activation mail's link is
// the only one that works; the links sent before it are revoked.
func TestResendActivationRevokesEarlier(t *testing.T) {
	e := newEnv(t)
	a, link1, err := e.svc.OpenAccount(e.ctx, "yamada@example.jp", "山田 太郎", "operator:kim")
	if err != nil {
		t.Fatal(err)
	}
	link2, err := e.svc.ActivationLink(e.ctx, a) // issued earlier and still unused
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ResendActivation(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{link1, link2} {
		if _, err := e.svc.Activate(e.ctx, tokenOf(t, link), "the customer's password", e.ip); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("an earlier link after a resend: %v, want ErrTokenInvalid", err)
		}
	}
	a.PasswordHash = "set"
	if err := e.svc.ResendActivation(e.ctx, a); !errors.Is(err, portal.ErrAlreadyActivated) {
		t.Errorf("resend to an activated account: %v", err)
	}
}

// TestOperatorClientRecorded: the events an operator's step records get the
// client of the operator's request (WithClient); without one, none.
func TestOperatorClientRecorded(t *testing.T) {
	e := newEnv(t)
	op := portal.Client{IP: "198.51.100.4", UserAgent: "Mozilla/5.0 (operator)"}
	a, _, err := e.svc.OpenAccount(portal.WithClient(e.ctx, op), "yamada@example.jp", "山田 太郎", "operator:kim")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := e.svc.OpenAccount(e.ctx, "sato@example.jp", "佐藤 花子", "operator:cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EraseAccount(portal.WithClient(e.ctx, op), b.ID, "operator:kim", "退会の申し出"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		account, action string
		want            portal.Client
	}{
		{a.ID, "account.open", op},
		{b.ID, "account.open", portal.Client{}},
		{b.ID, "account.erase", op},
	} {
		evs, err := e.st.ListAudit(e.ctx, store.AuditFilter{AccountID: tc.account, Action: tc.action})
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %+v, %v", tc.action, evs, err)
		}
		if got := (portal.Client{IP: evs[0].ClientIP, UserAgent: evs[0].UserAgent}); got != tc.want {
			t.Errorf("%s of %s: client %+v, want %+v", tc.action, tc.account, got, tc.want)
		}
	}
}
