package portal

import (
	"context"
	"errors"
	"time"

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
	fs, err := s.Store.FactorsOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var ms []Method
	for _, f := range fs {
		if f.Kind == store.FactorTOTP {
			ms = append(ms, MethodTOTP)
			break
		}
	}
	has, err := s.Store.HasRecoveryCode(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if has {
		ms = append(ms, MethodRecovery)
	}
	return ms, nil
}

// checkOpen refuses a second-factor attempt while the account's step is closed.
func (s *Service) checkOpen(a *store.Account) error {
	if mfa.Locked(a.MFALockedUntil, s.Now()) {
		return &LockedError{Until: a.MFALockedUntil}
	}
	return nil
}

// failed counts a wrong code and returns the error to show: the step may have
// just closed.
func (s *Service) failed(ctx context.Context, a *store.Account, c Client, action string) error {
	now := s.Now()
	upd, err := s.Store.RecordMFAFailure(ctx, a.ID, func(n int) time.Time { return mfa.LockUntil(n, now) })
	if err != nil {
		return err
	}
	if mfa.Locked(upd.MFALockedUntil, now) {
		s.audit(ctx, a.ID, action, "locked", c, "")
		s.Log.Warn("second factor step closed", "account", a.ID, "failures", upd.MFAFailures, "until", upd.MFALockedUntil)
		return &LockedError{Until: upd.MFALockedUntil}
	}
	s.audit(ctx, a.ID, action, "fail", c, "")
	return ErrWrongCode
}

func (s *Service) succeeded(ctx context.Context, a *store.Account, c Client, action string) error {
	s.audit(ctx, a.ID, action, "ok", c, "")
	if a.MFAFailures == 0 {
		return nil
	}
	return s.Store.ClearMFAFailures(ctx, a.ID)
}

// VerifyTOTP checks an authenticator code for the account's enrolled app and
// records its step so it is never accepted again.
func (s *Service) VerifyTOTP(ctx context.Context, a *store.Account, code string, c Client) error {
	if err := s.checkOpen(a); err != nil {
		return err
	}
	fs, err := s.Store.FactorsOf(ctx, a.ID)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.Kind != store.FactorTOTP {
			continue
		}
		seed, err := s.Keys.Decrypt(f.Secret, f.AccountID)
		if err != nil {
			return err
		}
		step, err := mfa.VerifyTOTP(seed, code, s.Now(), f.LastStep)
		if err != nil {
			continue
		}
		// The conditional update settles a race between two requests with
		// the same code: only one advances the step.
		if err := s.Store.AdvanceTOTPStep(ctx, f.ID, step); errors.Is(err, store.ErrStale) {
			continue
		} else if err != nil {
			return err
		}
		return s.succeeded(ctx, a, c, "mfa.totp")
	}
	if len(fs) == 0 {
		return ErrNoSuchMethod
	}
	return s.failed(ctx, a, c, "mfa.totp")
}

// SpendRecoveryCode checks and spends the recovery code; the caller must then
// issue a new one with NewRecoveryCode and show it.
func (s *Service) SpendRecoveryCode(ctx context.Context, a *store.Account, code string, c Client) error {
	if err := s.checkOpen(a); err != nil {
		return err
	}
	norm := mfa.NormalizeRecoveryCode(code)
	if norm == "" {
		return s.failed(ctx, a, c, "mfa.recovery")
	}
	err := s.Store.SpendRecoveryCode(ctx, a.ID, hashRecovery(a.ID, norm))
	if errors.Is(err, store.ErrNotFound) {
		return s.failed(ctx, a, c, "mfa.recovery")
	}
	if err != nil {
		return err
	}
	return s.succeeded(ctx, a, c, "mfa.recovery")
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
