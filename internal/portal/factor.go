package portal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// Method is how a customer proves the second factor at a step.
type Method string

const (
	MethodTOTP     Method = "totp"
	MethodRecovery Method = "recovery"
)

// Methods lists what the account can use at the second-factor step, in the
// order 「別の方法を試す」 shows them.
func (s *Service) Methods(ctx context.Context, accountID string) ([]Method, error) {
	ms, _, err := s.MethodsTagged(ctx, accountID)
	return ms, err
}

// MethodsTagged is Methods with a tag of the account's factors as they
// are: it changes whenever one is added, removed or replaced (each has an
// ID of its own), so a form shown before can tell that what it named is
// gone (the security page's reset, sent from a tab left open while the
// factors were reset and set up again).
func (s *Service) MethodsTagged(ctx context.Context, accountID string) ([]Method, string, error) {
	fs, err := s.Store.FactorsOf(ctx, accountID)
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, 0, len(fs))
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	tag := secret.Hash(strings.Join(ids, " "))[:16]
	var ms []Method
	for _, kind := range []store.FactorKind{store.FactorTOTP, store.FactorPhone} {
		if slices.ContainsFunc(fs, func(f store.Factor) bool { return f.Kind == kind }) {
			ms = append(ms, Method(kind))
		}
	}
	has, err := s.Store.HasRecoveryCode(ctx, accountID)
	if err != nil {
		return nil, "", err
	}
	if has {
		ms = append(ms, MethodRecovery)
	}
	return ms, tag, nil
}

// PhoneFirst reports whether the second step of the flow starts with a
// code sent to the phone: the account has a phone and no app.
func (s *Service) PhoneFirst(ctx context.Context, f *Flow) (bool, error) {
	fs := f.factors
	if fs == nil {
		var err error
		if fs, err = s.Store.FactorsOf(ctx, f.AccountID); err != nil {
			return false, err
		}
	}
	has := func(kind store.FactorKind) bool {
		return slices.ContainsFunc(fs, func(f store.Factor) bool { return f.Kind == kind })
	}
	return has(store.FactorPhone) && !has(store.FactorTOTP), nil
}

// attempt is a second-factor attempt and its account as charged.
type attempt struct {
	acct    *store.Account
	counted bool // acct's failures include this attempt already
	// limits are the client's, and the phone number's for a phone code,
	// which count it until it is right.
	limits []limit
}

// codeClientLimit counts the second-factor codes of one client address,
// whichever accounts they are for: the account's own count closes its step
// after ten wrong codes, and this bounds someone who tries codes across
// many accounts whose passwords they hold (DESIGN.md: wrong codes counted
// per account and per client address).
func (s *Service) codeClientLimit(c Client) limit {
	return limit{"client", "mfa:ip:" + clientKey(c.IP), s.Config.CodeFailuresPerClient, s.Config.PasswordWindow.Duration}
}

// charge counts a second-factor attempt before its code is checked, so that
// guesses sent in parallel cannot outrun the lock; a right code then clears
// the count. It refuses with *LockedError while the step is closed, while
// the client's address has sent too many wrong codes, or while too many
// were typed for the phone number of a limit in more.
//
// The client's count, and the other limits given (the phone number's), is
// taken first, outside the transaction of a unit (store.Limits.Counting),
// and given back when the code is right, or when the account's closed step
// refuses the attempt unchecked. A unit that
// PostgreSQL runs again counts the attempt twice; that errs on the safe
// side, and is rare.
//
// Inside a unit of work the unit's transaction gives the same guarantee:
// SQLite's one writer runs one unit at a time, and PostgreSQL runs one of
// two SERIALIZABLE transactions that would see each other's changes again.
// There the attempt reads the account (unless the unit read it already:
// the code step's, through Account) and is counted by wrong, if it comes
// to that: a right code with no failures before it leaves the account as it
// was, instead of writing it twice. An attempt that ends in neither (an
// error of the store) counts nothing there.
func (s *Service) charge(ctx context.Context, a *store.Account, c Client, action string, more ...limit) (*attempt, error) {
	limits := append([]limit{s.codeClientLimit(c)}, more...)
	over, until, _, err := s.count(ctx, s.Now(), limits)
	if err != nil {
		return nil, err
	}
	if over != nil {
		outcome := "throttled"
		if over.name == "number" {
			outcome = "throttled_number"
		}
		s.audit(ctx, a.ID, action, outcome, c, "")
		return nil, &LockedError{Until: until, Client: over.name == "client", Number: over.name == "number"}
	}
	at, err := s.chargeAccount(ctx, a, c, action)
	if err != nil {
		s.uncount(ctx, s.Now(), limits...)
		return nil, err
	}
	at.limits = limits
	return at, nil
}

// chargeAccount is charge's count of the account's failures.
func (s *Service) chargeAccount(ctx context.Context, a *store.Account, c Client, action string) (*attempt, error) {
	if s.unit != nil {
		cur := a
		if s.unit.account != a {
			var err error
			if cur, err = s.Store.AccountByID(ctx, a.ID); err != nil {
				return nil, err
			}
		}
		if mfa.Locked(cur.MFALockedUntil, s.Now()) {
			return nil, s.refused(ctx, cur, c, action)
		}
		return &attempt{acct: cur}, nil
	}
	charged, err := s.countFailure(ctx, a, c, action)
	if err != nil {
		return nil, err
	}
	return &attempt{acct: charged, counted: true}, nil
}

// countFailure adds one failure to the account's count, and closes the
// step when the count calls for it.
func (s *Service) countFailure(ctx context.Context, a *store.Account, c Client, action string) (*store.Account, error) {
	now := s.Now()
	charged, err := s.Store.ChargeMFAAttempt(ctx, a.ID, now, func(n int) time.Time { return mfa.LockUntil(n, now) })
	if errors.Is(err, store.ErrLocked) {
		return nil, s.refused(ctx, charged, c, action)
	}
	return charged, err
}

// refused answers an attempt while the step is closed.
func (s *Service) refused(ctx context.Context, a *store.Account, c Client, action string) error {
	s.audit(ctx, a.ID, action, "refused", c, "")
	return &LockedError{Until: a.MFALockedUntil}
}

// wrong answers a wrong code: the attempt is counted (now, if it was not
// yet), and may have just closed the step.
func (s *Service) wrong(ctx context.Context, at *attempt, c Client, action string) error {
	charged := at.acct
	if !at.counted {
		var err error
		if charged, err = s.countFailure(ctx, at.acct, c, action); err != nil {
			return err
		}
	}
	if mfa.Locked(charged.MFALockedUntil, s.Now()) {
		s.audit(ctx, charged.ID, action, "locked", c, "")
		s.Log.Warn("second factor step closed", "account", charged.ID, "failures", charged.MFAFailures, "until", charged.MFALockedUntil)
		// Whoever typed the codes may not be the account's owner.
		s.notice(ctx, charged, mail.EventMFALocked, c.passwordOnly())
		return &LockedError{Until: charged.MFALockedUntil}
	}
	s.audit(ctx, charged.ID, action, "fail", c, "")
	return ErrWrongCode
}

// wrongBecause answers a code that is wrong for a reason the customer is
// told (why: a right code of a step used already, ErrCodeUsed; a phone code
// a resend replaced, ErrPhoneCodeReplaced): counted as a wrong code is, and
// when that closes the step, the lock is what the customer hears.
func (s *Service) wrongBecause(ctx context.Context, at *attempt, c Client, action string, why error) error {
	if err := s.wrong(ctx, at, c, action); !errors.Is(err, ErrWrongCode) {
		return err
	}
	return why
}

// right answers a right code: the count of wrong ones starts over, and
// the client's count (and the phone number's) forgets the attempt.
func (s *Service) right(ctx context.Context, at *attempt, c Client, action string) error {
	s.uncount(ctx, s.Now(), at.limits...)
	s.audit(ctx, at.acct.ID, action, "ok", c, "")
	if !at.counted && at.acct.MFAFailures == 0 && at.acct.MFALockedUntil.IsZero() {
		return nil // nothing to start over
	}
	return s.Store.ClearMFAFailures(ctx, at.acct.ID)
}

// enrolled settles an enrolment's right code once enrolFirst answered err:
// recorded "ok" when the factor was saved, and "already_enrolled" when
// another tab's enrolment came first (it added nothing, which the security
// log must not say it did). The code of a refused enrolment was right only
// for the flow's own new key or phone, which whoever typed it chose: it
// proves nothing of the factor the account has now, so it gives back the
// client's and the number's count of its own attempt but leaves the
// account's count of wrong codes as it is (counted, as any attempt is until
// a right code of the account's own factor): starting that count over would
// let whoever holds the password and such a flow guess at the account's
// factor with the step never closing. Any other error leaves the attempt
// counted.
func (s *Service) enrolled(ctx context.Context, at *attempt, c Client, err error) error {
	switch {
	case err == nil:
		return s.right(ctx, at, c, store.ActionMFAEnrol)
	case errors.Is(err, ErrAlreadyEnrolled):
		s.uncount(ctx, s.Now(), at.limits...)
		s.audit(ctx, at.acct.ID, store.ActionMFAEnrol, "already_enrolled", c, "")
	}
	return err
}

// totpFactor returns the account's authenticator app; ErrNoSuchMethod when it
// has none.
func (s *Service) totpFactor(ctx context.Context, accountID string) (*store.Factor, error) {
	fs, err := s.Store.FactorsOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.Kind == store.FactorTOTP {
			return &f, nil
		}
	}
	return nil, ErrNoSuchMethod
}

// VerifyTOTP checks an authenticator code for the account's enrolled app and
// records its step so it is never accepted again. ErrCodeFormat, uncounted,
// when the input is no six-digit code.
func (s *Service) VerifyTOTP(ctx context.Context, a *store.Account, code string, c Client) error {
	return s.verifyTOTP(ctx, a, code, c, nil)
}

// verifyTOTP is VerifyTOTP. replayed, when set, is asked about a right
// code of a step already used before the attempt is counted; an error it
// returns is the answer, and nothing is counted.
func (s *Service) verifyTOTP(ctx context.Context, a *store.Account, code string, c Client, replayed func() error) error {
	code = mfa.NormalizeCode(code)
	if code == "" {
		return ErrCodeFormat
	}
	f, err := s.totpFactor(ctx, a.ID)
	if err != nil {
		return err
	}
	seed, err := s.Keys.Decrypt(f.Secret, f.AccountID)
	if err != nil {
		return err
	}
	// Checked before the attempt is counted, acted on after: a closed
	// step refuses a right code too.
	step, err := mfa.VerifyTOTP(seed, code, s.Now(), f.LastStep)
	if errors.Is(err, mfa.ErrReplay) && replayed != nil {
		if err := replayed(); err != nil {
			return err
		}
	}
	charged, cerr := s.charge(ctx, a, c, store.ActionMFATOTP)
	if cerr != nil {
		return cerr
	}
	if errors.Is(err, mfa.ErrReplay) {
		return s.wrongBecause(ctx, charged, c, store.ActionMFATOTP, ErrCodeUsed)
	}
	if err != nil {
		return s.wrong(ctx, charged, c, store.ActionMFATOTP)
	}
	// The conditional update settles a race between two requests with the
	// same code: only one advances the step, the other is a replay.
	if err := s.Store.AdvanceTOTPStep(ctx, f.ID, step); errors.Is(err, store.ErrStale) {
		return s.wrongBecause(ctx, charged, c, store.ActionMFATOTP, ErrCodeUsed)
	} else if err != nil {
		return err
	}
	return s.right(ctx, charged, c, store.ActionMFATOTP)
}

// SpendRecoveryCode checks and spends the recovery code; the caller must then
// issue a new one with NewRecoveryCode and show it. ErrRecoveryFormat,
// uncounted, when the input is no recovery code.
func (s *Service) SpendRecoveryCode(ctx context.Context, a *store.Account, code string, c Client) error {
	norm := mfa.NormalizeRecoveryCode(code)
	if norm == "" {
		return ErrRecoveryFormat
	}
	charged, err := s.charge(ctx, a, c, store.ActionMFARecovery)
	if err != nil {
		return err
	}
	err = s.Store.SpendRecoveryCode(ctx, a.ID, hashRecovery(a.ID, norm))
	if errors.Is(err, store.ErrNotFound) {
		return s.wrong(ctx, charged, c, store.ActionMFARecovery)
	}
	if err != nil {
		return err
	}
	return s.right(ctx, charged, c, store.ActionMFARecovery)
}

// NewRecoveryCode replaces the account's recovery code and returns the new
// one, which exists in plain text only until the customer has recorded it.
func (s *Service) NewRecoveryCode(ctx context.Context, accountID string) (string, error) {
	code := mfa.NewRecoveryCode()
	if err := s.Store.SetRecoveryCode(ctx, accountID, hashRecovery(accountID, code), s.Now()); err != nil {
		return "", err
	}
	return code, nil
}

// hashRecovery binds the hash to the account, so equal hashes never reveal
// anything across accounts.
func hashRecovery(accountID, code string) string {
	return secret.Hash("recovery:" + accountID + ":" + code)
}
