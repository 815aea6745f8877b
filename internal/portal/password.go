package portal

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// PurposePasswordReset marks the one-time link of the forgotten-password mail.
const PurposePasswordReset = "password_reset"

// The forgotten password's limits. A link is short-lived since it stands in
// for the password; requests are counted per address, so no one can flood a
// mailbox, and per client, so no one can mail every customer. The client's
// limit is higher than the address's: an office behind one address may have
// several customers who forget.
const (
	// PasswordResetTTL is how long a reset link works.
	PasswordResetTTL       = 30 * time.Minute
	resetWindow            = time.Hour
	resetRequestsPerEmail  = 5
	resetRequestsPerClient = 20
)

// OutcomeActivationSent is the outcome of a password.reset_request for an
// account that has no password yet: the activation mail went again.
const OutcomeActivationSent = "activation_sent"

// RequestPasswordReset is the forgotten-password form: for an activated
// account it mails a one-time link, in lang, that sets a new password; for
// an account opened by an operator and not activated yet, the activation
// mail again, with a new link that sets the first password (the earlier
// ones dead), in lang too. Its answer is the same, nil, whether the address
// has an account or not, has no password yet, or asked too often (then no
// mail goes: the limits count every request); only a malformed address gets
// account.ErrBadEmail, which tells nothing of any account. Every answer does
// about the same work (limits, two lookups, small writes in one commit, the
// mail queued in it, not sent; no slow hash), so its time tells nothing
// either.
func (s *Service) RequestPasswordReset(ctx context.Context, email, lang string, c Client) error {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return err
	}
	now := s.Now()
	// Counted before anything is looked up or sent, so requests sent in
	// parallel cannot all pass the limit.
	over, _, _, err := s.count(ctx, now, []limit{
		{"email", "reset:email:" + secret.Hash(norm), resetRequestsPerEmail, resetWindow},
		{"client", "reset:ip:" + clientKey(c.IP), resetRequestsPerClient, resetWindow},
	})
	if err != nil {
		return err
	}
	limited := over != nil
	// Whatever the answer, its writes are one commit: a known address's
	// link, mail and audit event written one by one waited for the disk
	// three times where an unknown one's audit event waited once, and the
	// time told the address apart.
	return s.atomically(ctx, func(ctx context.Context, u *Service) error {
		return u.passwordResetRequest(ctx, norm, lang, limited, now, c)
	})
}

// passwordResetRequest is RequestPasswordReset's lookups and writes, in its
// unit.
func (s *Service) passwordResetRequest(ctx context.Context, norm, lang string, limited bool, now time.Time, c Client) error {
	a, err := s.Store.AccountByEmail(ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		a, err = &store.Account{}, nil
	}
	if err != nil {
		return err
	}
	// The mail says what the next sign-in asks for. Looked up for every
	// answer, an unknown address's too, so the time still tells nothing.
	factors, err := s.Store.FactorsOf(ctx, a.ID)
	if err != nil {
		return err
	}
	switch {
	case limited:
		s.audit(ctx, a.ID, store.ActionPasswordResetRequest, "limited", c, "")
	case a.ID == "":
		s.audit(ctx, "", store.ActionPasswordResetRequest, "unknown", c, "")
	case a.PasswordHash == "":
		// The activation mail sets the first password; a reset link would
		// not. So the activation mail goes again, as the console's resend
		// sends it (the earlier links dead), in the language of the form:
		// an operator's mail lost or expired needs no operator.
		if err := s.resendActivation(ctx, a, lang, true); err != nil {
			// Only an account without a password gets here: an error
			// page would tell it.
			s.Log.Error("activation mail not resent for a password reset request", "account", a.ID, "err", err)
			s.audit(ctx, a.ID, store.ActionPasswordResetRequest, "not_activated", c, "activation mail not sent")
			return nil
		}
		s.audit(ctx, a.ID, store.ActionPasswordResetRequest, OutcomeActivationSent, c, "")
	default:
		link, err := s.passwordResetLink(ctx, a, now)
		if err != nil {
			// Only a known address gets here: an error page would tell it.
			s.Log.Error("password reset link not stored", "err", err)
			return nil
		}
		s.audit(ctx, a.ID, store.ActionPasswordResetRequest, "ok", c, "")
		s.sendMail(ctx, a.Email, "password_reset", lang, mail.PasswordReset{
			Service: s.Config.Issuer, Name: a.Name, Email: a.Email, PortalURL: s.Config.BaseURL + "/login",
			Link: link, ValidMinutes: int(PasswordResetTTL.Minutes()), Expires: now.Add(PasswordResetTTL),
			SecondFactor: len(factors) > 0,
		})
	}
	return nil
}

// passwordResetLink stores a one-time token and returns the link that spends
// it. The link carries the token and a MAC of it with the account's password
// hash: once the password changes, the MAC no longer matches, so a reset
// ends every other link of the account, not only the one it spent (the idea
// of Django's PasswordResetTokenGenerator). The store keeps only the token's
// hash.
func (s *Service) passwordResetLink(ctx context.Context, a *store.Account, now time.Time) (string, error) {
	token := secret.Token(32)
	if err := s.Store.CreateToken(ctx, &store.OneTimeToken{
		Hash: secret.Hash(token), Purpose: PurposePasswordReset, AccountID: a.ID,
		CreatedAt: now, ExpiresAt: now.Add(PasswordResetTTL),
	}); err != nil {
		return "", err
	}
	link := token + "." + s.Keys.Sign(PurposePasswordReset, token, a.ID, a.PasswordHash)
	return s.Config.BaseURL + "/reset-password?token=" + url.QueryEscape(link), nil
}

// tokenAccount is the account of a live mailed token of purpose; a token
// unknown, expired or used, or whose account is gone, is ErrTokenInvalid.
func (s *Service) tokenAccount(ctx context.Context, token, purpose string) (*store.Account, error) {
	t, err := s.Store.TokenByHash(ctx, secret.Hash(token), purpose, s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	a, err := s.Store.AccountByID(ctx, t.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenInvalid
	}
	return a, err
}

// CheckPasswordReset tells whether a reset link is live, for the page that
// asks for the new password; it spends nothing. ErrTokenInvalid for a link
// unknown, expired, used, or made before the password last changed.
func (s *Service) CheckPasswordReset(ctx context.Context, link string) (*store.Account, error) {
	token, mac, ok := strings.Cut(link, ".")
	if !ok || token == "" {
		return nil, ErrTokenInvalid
	}
	a, err := s.tokenAccount(ctx, token, PurposePasswordReset)
	if err != nil {
		return nil, err
	}
	if a.PasswordHash == "" || !s.Keys.Verify(mac, PurposePasswordReset, token, a.ID, a.PasswordHash) {
		return nil, ErrTokenInvalid
	}
	return a, nil
}

// ResetPassword spends a reset link and sets the new password. Only the
// password changes: the second factors stay, so the next sign-in still asks
// for one. Every session of the account ends, in the portal and at the sites,
// since whoever had the old password may hold one; the password throttle of
// the address is cleared, and a security notice goes to the account's address.
func (s *Service) ResetPassword(ctx context.Context, link, password string, c Client) error {
	a, err := s.CheckPasswordReset(ctx, link)
	if err != nil {
		return err
	}
	if err := account.CheckPassword(password, a.Email); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	token, _, _ := strings.Cut(link, ".")
	if _, err := s.Store.UseToken(ctx, secret.Hash(token), PurposePasswordReset, s.Now()); errors.Is(err, store.ErrNotFound) {
		return ErrTokenInvalid
	} else if err != nil {
		return err
	}
	// Another link of the account may have set a password while this one's
	// was hashed: the MAC was checked against the old one, so this link is
	// dead too.
	if cur, err := s.Store.AccountByID(ctx, a.ID); err != nil {
		return err
	} else if cur.PasswordHash != a.PasswordHash {
		return ErrTokenInvalid
	}
	// The new password ends every session and grant in the same commit,
	// and every sign-in in progress: one that proved the old password
	// (whoever knew it, at the enrolment a reset account is at) must not
	// go on to a session.
	if err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		if err := u.Store.SetPasswordHash(ctx, a.ID, hash); err != nil {
			return err
		}
		if err := u.Store.DeleteSessionsOf(ctx, a.ID, ""); err != nil {
			return err
		}
		if err := u.Store.DeleteFlowsOf(ctx, a.ID); err != nil {
			return err
		}
		return u.endGrants(ctx, a.ID)
	}); err != nil {
		return err
	}
	if err := s.Store.ResetLimit(ctx, "pw:email:"+secret.Hash(a.Email)); err != nil {
		s.Log.Warn("password throttle not cleared after a reset", "err", err)
	}
	s.audit(ctx, a.ID, store.ActionPasswordReset, "ok", c, "")
	s.notice(ctx, a, mail.EventPasswordChanged, c)
	return nil
}

// ErrSamePassword is a new password that is the current one.
var ErrSamePassword = errors.New("portal: the new password is the current one")

// ChangePassword is the security page's 「パスワードを変更」: a signed-in
// customer whose second factor is fresh sets a new password with the
// current one. The new password must keep the rules of every password
// (account.CheckPassword) and differ from the current one; those checks
// cost nothing and count nothing. The current password is then an attempt
// like a sign-in's, against the same limits (a wrong one counts towards
// the account's throttle, a *LockedError says until when) and in the same
// hashing slots: ErrBadCredentials when it is wrong. A right one sets the
// new password, ends the account's other sessions, its sign-ins in
// progress and its grants at the sites but those of si's session, writes
// the audit event and queues a security notice, in one commit; si's session is replaced by a new one,
// whose token it returns, as the step-up replaces it. Any error changes
// nothing but the count of a wrong password.
func (s *Service) ChangePassword(ctx context.Context, si *SignedIn, current, next string, c Client) (token string, err error) {
	if !s.Fresh(si) {
		return "", ErrStepUpNeeded
	}
	a := si.Account
	// One password typed two ways (full-width and ASCII, say) is the
	// same password: it would hash the same.
	if account.SamePassword(next, current) {
		return "", ErrSamePassword
	}
	if err := account.CheckPassword(next, a.Email); err != nil {
		return "", err
	}
	now := s.Now()
	perAccount, perClient := s.passwordLimits(a.Email, c)
	if err := s.countPassword(ctx, now, perAccount, perClient, a.ID, store.ActionPasswordChange, c); err != nil {
		return "", err
	}
	ok, _, err := s.verifyPassword(ctx, now, a.PasswordHash, current, perAccount, perClient)
	if err != nil {
		return "", err
	}
	if !ok {
		s.audit(ctx, a.ID, store.ActionPasswordChange, "fail", c, "")
		return "", ErrBadCredentials
	}
	if err := s.forgetPassword(ctx, now, perAccount, perClient); err != nil {
		return "", err
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return "", err
	}
	token = secret.Token(32)
	err = s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		// Another tab may have changed the password while this one's was
		// hashed: the current password checked is no longer the current
		// one.
		cur, err := u.Store.AccountByID(ctx, a.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != a.PasswordHash {
			return ErrBadCredentials
		}
		if err := u.Store.SetPasswordHash(ctx, a.ID, hash); err != nil {
			return err
		}
		// A new id for the session, as at a step-up: whoever knew the
		// old one (a session fixed or read before the change) is out.
		sess := *si.Session
		sess.IDHash = secret.Hash(token)
		if err := u.Store.RotateSession(ctx, si.Session.IDHash, &sess); errors.Is(err, store.ErrNotFound) {
			// Ended meanwhile: signed out, or an operator's lock.
			return ErrNoSession
		} else if err != nil {
			return err
		}
		if err := u.Store.DeleteSessionsOf(ctx, a.ID, sess.IDHash); err != nil {
			return err
		}
		// And its sign-ins in progress, which proved the old password.
		if err := u.Store.DeleteFlowsOf(ctx, a.ID); err != nil {
			return err
		}
		grants, err := u.Store.RevokeOtherGrantsOf(ctx, a.ID, sess.SID, u.Now())
		if err != nil {
			return err
		}
		u.grantsEnded(ctx, grants)
		u.audit(ctx, a.ID, store.ActionPasswordChange, "ok", c, "")
		u.notice(ctx, cur, mail.EventPasswordChanged, c)
		return nil
	})
	if err != nil {
		return "", err
	}
	si.Session.IDHash = secret.Hash(token)
	return token, nil
}
