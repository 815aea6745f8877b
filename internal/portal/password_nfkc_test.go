package portal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
)

// A password a Japanese input method typed full-width, and the same in
// ASCII: one password once normalised (NFKC).
const (
	pwFullWidth = "ｔｏｂｉｒａの扉２０２６"
	pwASCII     = "tobiraの扉2026"
)

// asTyped gives c the hash of password as Tobira stored it before
// passwords were normalised, over the password as typed, and returns it.
func (e *env) asTyped(c *customer, password string) string {
	e.t.Helper()
	h := testkit.AsTypedHash(e.svc.Config.Argon2, password)
	if err := e.st.SetPasswordHash(e.ctx, c.acct.ID, h); err != nil {
		e.t.Fatal(err)
	}
	c.password = password
	return h
}

// TestPasswordSetBeforeNormalisation: a customer who set a full-width
// password before passwords were normalised still signs in with it typed
// as it was set, which hashes it again over its NFKC form; from then on it
// signs in typed either way. Before that first sign-in, the ASCII form is
// another password, and a wrong one changes nothing.
func TestPasswordSetBeforeNormalisation(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	legacy := e.asTyped(c, pwFullWidth)
	for _, pw := range []string{pwASCII, "ｔｏｂｉｒａの扉２０２７"} {
		if e.passwordIs(c, pw) {
			t.Fatalf("%q signs in against the hash of %q as typed", pw, pwFullWidth)
		}
		if h := e.account(c).PasswordHash; h != legacy {
			t.Fatalf("a wrong password %q changed the hash", pw)
		}
	}
	if !e.passwordIs(c, pwFullWidth) {
		t.Fatal("the password typed as it was set does not sign in")
	}
	rehashed := e.account(c).PasswordHash
	if rehashed == legacy {
		t.Fatal("the hash over the password as typed was kept: it is made again over the NFKC form at the first sign-in")
	}
	for _, pw := range []string{pwASCII, pwFullWidth, "ｔｏｂｉｒａの扉2026"} {
		if !e.passwordIs(c, pw) {
			t.Errorf("after the rehash, %q does not sign in", pw)
		}
	}
	if h := e.account(c).PasswordHash; h != rehashed {
		t.Error("a hash over the NFKC form was made again")
	}
}

// TestPasswordSetNormalised: every way of setting a password hashes its
// NFKC form: the activation link, a forgotten password's reset, the
// security page's change and the demo's SetPassword. Whichever way it was
// typed, full-width or ASCII, the other signs in too.
func TestPasswordSetNormalised(t *testing.T) {
	for _, tc := range []struct{ set, signIn string }{{pwFullWidth, pwASCII}, {pwASCII, pwFullWidth}} {
		t.Run("activation "+tc.set, func(t *testing.T) {
			e := newEnv(t)
			a, link, err := e.svc.OpenAccount(e.ctx, "yamada@example.jp", "山田 太郎", "operator:test")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Activate(e.ctx, tokenOf(t, link), tc.set, e.ip); err != nil {
				t.Fatal(err)
			}
			if !e.passwordIs(&customer{email: a.Email, acct: a}, tc.signIn) {
				t.Errorf("activated with %q, %q does not sign in", tc.set, tc.signIn)
			}
		})
		t.Run("reset "+tc.set, func(t *testing.T) {
			e := newEnv(t).withMail()
			c := e.newCustomer("yamada@example.jp")
			if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), tc.set, e.ip); err != nil {
				t.Fatal(err)
			}
			if !e.passwordIs(c, tc.signIn) {
				t.Errorf("reset to %q, %q does not sign in", tc.set, tc.signIn)
			}
		})
		t.Run("change "+tc.set, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCustomer("yamada@example.jp")
			token := e.enrol(c)
			if _, err := e.svc.ChangePassword(e.ctx, e.session(token), c.password, tc.set, e.ip); err != nil {
				t.Fatal(err)
			}
			if !e.passwordIs(c, tc.signIn) {
				t.Errorf("changed to %q, %q does not sign in", tc.set, tc.signIn)
			}
		})
		t.Run("SetPassword "+tc.set, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCustomer("yamada@example.jp")
			if err := e.svc.SetPassword(e.ctx, c.acct.ID, tc.set); err != nil {
				t.Fatal(err)
			}
			if !e.passwordIs(c, tc.signIn) {
				t.Errorf("set to %q, %q does not sign in", tc.set, tc.signIn)
			}
		})
	}
}

// TestPasswordNormalisedTooShort: a password that is long enough as typed
// but not once normalised (half-width katakana with their voicing marks
// are one character each) is refused as too short, and sets nothing.
func TestPasswordNormalisedTooShort(t *testing.T) {
	e := newEnv(t).withMail()
	c := e.newCustomer("yamada@example.jp")
	const short = "ｶﾞｷﾞｸﾞｹﾞｺﾞｶﾞｷﾞ" // 14 characters typed, ガギグゲゴガギ: 7
	before := e.account(c).PasswordHash
	if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), short, e.ip); !errors.Is(err, account.ErrPasswordShort) {
		t.Fatalf("ResetPassword(%q) = %v, want ErrPasswordShort", short, err)
	}
	if e.account(c).PasswordHash != before {
		t.Error("a refused password changed the hash")
	}
}

// TestChangePasswordSameOnceNormalised: the current password typed the
// other way is no new password.
func TestChangePasswordSameOnceNormalised(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrol(c)
	if err := e.svc.SetPassword(e.ctx, c.acct.ID, pwFullWidth); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangePassword(e.ctx, e.session(token), pwFullWidth, pwASCII, e.ip); !errors.Is(err, portal.ErrSamePassword) {
		t.Fatalf("ChangePassword(%q to %q) = %v, want ErrSamePassword", pwFullWidth, pwASCII, err)
	}
}

// TestPasswordWrongCostsOneHash: a wrong password costs one hash for an
// unknown address and for an account whose hash is marked as over the
// NFKC form (every hash made now), whatever its characters; only an
// account whose hash is from before, over the password as typed, costs
// two for a password whose NFKC form differs, until its next sign-in
// makes it again. The time is the same for all (account.Hasher.Verify
// waits for the hash it does not compute).
//
// Regression: every address cost two hashes for such a password, so
// full-width guesses doubled the server's hashing work.
func TestPasswordWrongCostsOneHash(t *testing.T) {
	e := newEnv(t)
	normalised := e.newCustomer("yamada@example.jp")
	if err := e.svc.SetPassword(e.ctx, normalised.acct.ID, pwFullWidth); err != nil {
		t.Fatal(err)
	}
	legacy := e.newCustomer("sato@example.jp")
	e.asTyped(legacy, pwFullWidth)
	hashes := func(email, pw string) int64 {
		t.Helper()
		e.clock.Advance(e.svc.Config.PasswordWindow.Duration)
		before, _ := e.svc.Hasher.Hashed()
		if _, err := e.svc.Password(e.ctx, email, pw, "/", e.ip); !errors.Is(err, portal.ErrBadCredentials) {
			t.Fatalf("Password(%s, %q) = %v, want ErrBadCredentials", email, pw, err)
		}
		after, _ := e.svc.Hasher.Hashed()
		return after - before
	}
	for _, tc := range []struct {
		pw     string
		legacy int64
	}{{"ｔｏｂｉｒａの扉２０２７", 2}, {"ﾄﾋﾞﾗの扉2027", 2}, {"tobiraの扉2027", 1}} {
		for _, email := range []string{"nobody@example.jp", "not an address", normalised.email} {
			if n := hashes(email, tc.pw); n != 1 {
				t.Errorf("wrong password %q for %s: %d hashes, want 1", tc.pw, email, n)
			}
		}
		if n := hashes(legacy.email, tc.pw); n != tc.legacy {
			t.Errorf("wrong password %q for the hash as typed: %d hashes, want %d", tc.pw, n, tc.legacy)
		}
	}
	// Once its owner signs in, the old hash is made again, and marked.
	if _, err := e.svc.Password(e.ctx, legacy.email, pwFullWidth, "/", e.ip); err != nil {
		t.Fatal(err)
	}
	if n := hashes(legacy.email, "ｔｏｂｉｒａの扉２０２７"); n != 1 {
		t.Errorf("after its sign-in, a wrong password for the old account: %d hashes, want 1", n)
	}
}

// rehashRace is a store in which a new password (a reset in another
// browser) lands between a sign-in's check of the old one and its rehash.
type rehashRace struct {
	store.Store
	meanwhile func()
}

func (s *rehashRace) SetPasswordHash(ctx context.Context, accountID, hash string) error {
	s.land()
	return s.Store.SetPasswordHash(ctx, accountID, hash)
}

func (s *rehashRace) RehashPassword(ctx context.Context, accountID, old, hash string) error {
	s.land()
	return s.Store.RehashPassword(ctx, accountID, old, hash)
}

func (s *rehashRace) land() {
	if f := s.meanwhile; f != nil {
		s.meanwhile = nil
		f()
	}
}

// TestPasswordRehashKeepsAPasswordSetMeanwhile: the rehash after a
// sign-in with a hash over the password as typed does not undo a password
// set between the check and the rehash: the old password stays out.
func TestPasswordRehashKeepsAPasswordSetMeanwhile(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.asTyped(c, pwFullWidth)
	reset, err := e.svc.Hasher.Hash(e.ctx, newPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Store = &rehashRace{Store: e.st, meanwhile: func() {
		if err := e.st.SetPasswordHash(e.ctx, c.acct.ID, reset); err != nil {
			t.Error(err)
		}
	}}
	if _, err := e.svc.Password(e.ctx, c.email, pwFullWidth, "/", e.ip); err != nil {
		t.Fatalf("Password: %v", err)
	}
	if h := e.account(c).PasswordHash; h != reset {
		t.Fatalf("the rehash of the old password replaced the one set meanwhile")
	}
	if e.passwordIs(c, pwFullWidth) || !e.passwordIs(c, newPassword) {
		t.Error("after the race, the old password signs in or the new one does not")
	}
}
