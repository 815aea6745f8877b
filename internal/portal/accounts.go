package portal

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// PurposeActivation marks the one-time link that sets the first password.
const PurposeActivation = "activation"

// ErrEmailTaken means another account has the address.
var ErrEmailTaken = errors.New("portal: email address already has an account")

// ErrBadLang means a language the mails do not exist in (mail.Languages).
var ErrBadLang = errors.New("portal: mails are in ja or en only")

// OpenAccount creates a customer without a password and returns the link
// that sets the first one; the mails go in Japanese until the customer
// uses the portal in another language.
func (s *Service) OpenAccount(ctx context.Context, email, name, actor string) (*store.Account, string, error) {
	return s.OpenAccountIn(ctx, email, name, store.DefaultLang, actor)
}

// OpenAccountIn is OpenAccount for a customer whose mails, the activation
// mail first, go in lang ("ja" or "en"; ErrBadLang otherwise).
func (s *Service) OpenAccountIn(ctx context.Context, email, name, lang, actor string) (*store.Account, string, error) {
	if !slices.Contains(mail.Languages, lang) {
		return nil, "", ErrBadLang
	}
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	name, err = account.CheckName(name)
	if err != nil {
		return nil, "", err
	}
	a := &store.Account{ID: secret.ID(), Email: norm, Name: name, CreatedAt: s.Now(), Lang: lang}
	if err := s.Store.CreateAccount(ctx, a); errors.Is(err, store.ErrConflict) {
		return nil, "", ErrEmailTaken
	} else if err != nil {
		return nil, "", err
	}
	s.Record(ctx, &store.AuditEvent{AccountID: a.ID, Actor: actor, Action: store.ActionAccountOpen, Outcome: "ok"})
	link, err := s.ActivationLink(ctx, a)
	if err != nil {
		return nil, "", err
	}
	s.SendActivation(ctx, a, link)
	return a, link, nil
}

// SendActivation mails the activation mail (開通メール): the portal's URL
// and the link that sets the first password. An operator sends it, so it
// is in the account's language: Japanese for a new account.
func (s *Service) SendActivation(ctx context.Context, a *store.Account, link string) {
	s.sendActivation(ctx, a, link, mailLang(a, Client{}), false)
}

// sendActivation mails the activation mail in lang; requested says it
// answers the forgotten-password form (mail.Activation.Requested).
func (s *Service) sendActivation(ctx context.Context, a *store.Account, link, lang string, requested bool) {
	ttl := s.Config.ActivationTTL.Duration
	s.sendMail(ctx, a.Email, "activation", lang, mail.Activation{
		Service: s.Config.Issuer, Name: a.Name, Email: a.Email, PortalURL: s.Config.BaseURL + "/login",
		Link: link, ValidHours: int(ttl.Hours()), Expires: s.Now().Add(ttl), Requested: requested,
	})
}

// ErrAlreadyActivated means the account has its first password already.
var ErrAlreadyActivated = errors.New("portal: the account is activated already")

// ResendActivation is the operator's 開通メール resend: the account's
// earlier, unused activation links stop working, in one transaction with
// the new link and its mail, so that only the newest link works (an old
// mail left in a shared or forwarded mailbox sets no password).
// ErrAlreadyActivated when the account has a password.
func (s *Service) ResendActivation(ctx context.Context, a *store.Account) error {
	return s.resendActivation(ctx, a, mailLang(a, Client{}), false)
}

// resendActivation is ResendActivation with the mail in lang; requested
// says it answers the forgotten-password form of a (RequestPasswordReset),
// and the mail says so. Inside a unit of work (the form's), the unit
// commits it.
func (s *Service) resendActivation(ctx context.Context, a *store.Account, lang string, requested bool) error {
	if a.PasswordHash != "" {
		return ErrAlreadyActivated
	}
	return s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		if _, err := u.Store.RevokeTokens(ctx, a.ID, PurposeActivation, u.Now()); err != nil {
			return err
		}
		link, err := u.ActivationLink(ctx, a)
		if err != nil {
			return err
		}
		u.sendActivation(ctx, a, link, lang, requested)
		return nil
	})
}

// ActivationLink issues a new one-time link to set the first password.
func (s *Service) ActivationLink(ctx context.Context, a *store.Account) (string, error) {
	token := secret.Token(32)
	now := s.Now()
	if err := s.Store.CreateToken(ctx, &store.OneTimeToken{
		Hash: secret.Hash(token), Purpose: PurposeActivation, AccountID: a.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.Config.ActivationTTL.Duration),
	}); err != nil {
		return "", err
	}
	return s.Config.BaseURL + "/activate?token=" + url.QueryEscape(token), nil
}

// CheckActivation tells whether an activation link is live, for the page
// that asks for the password; it spends nothing.
func (s *Service) CheckActivation(ctx context.Context, token string) (*store.Account, error) {
	t, err := s.Store.TokenByHash(ctx, secret.Hash(token), PurposeActivation, s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	a, err := s.Store.AccountByID(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	// A link only sets the first password: once one is set, every other
	// activation link of the account is dead.
	if a.PasswordHash != "" {
		return nil, ErrTokenInvalid
	}
	return a, nil
}

// Activate spends the link and sets the first password.
func (s *Service) Activate(ctx context.Context, token, password string, c Client) (*store.Account, error) {
	a, err := s.CheckActivation(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := account.CheckPassword(password, a.Email); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.UseToken(ctx, secret.Hash(token), PurposeActivation, s.Now()); errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenInvalid
	} else if err != nil {
		return nil, err
	}
	if err := s.Store.SetPasswordHash(ctx, a.ID, hash); err != nil {
		return nil, err
	}
	s.audit(ctx, a.ID, store.ActionAccountActivate, "ok", c, "")
	return a, nil
}

// SetPassword sets a password directly (the demo's customers, tests).
func (s *Service) SetPassword(ctx context.Context, accountID, password string) error {
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.Store.SetPasswordHash(ctx, accountID, hash)
}

// OperatorResetMFA is `tobira users reset-2fa`: the same reset as the
// security page, done by an operator, ending every session.
func (s *Service) OperatorResetMFA(ctx context.Context, email, actor string) (*store.Account, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.AccountByEmail(ctx, norm)
	if err != nil {
		return nil, err
	}
	return a, s.operatorReset(ctx, a, actor, "operator")
}

// operatorReset removes a's second factors on an operator's word: it ends
// every session and grant, records mfa.reset by actor with detail, and
// mails the customer the notice.
func (s *Service) operatorReset(ctx context.Context, a *store.Account, actor, detail string) error {
	ev := &store.AuditEvent{At: s.Now(), AccountID: a.ID, Actor: actor, Action: store.ActionMFAReset, Outcome: "ok", Detail: detail}
	stamp(ctx, ev)
	if err := s.resetMFA(ctx, a.ID, "", ev); err != nil {
		return err
	}
	s.operatorNotice(ctx, a, mail.EventMFAReset)
	return nil
}

// ApproveReset is a second operator's approval of the open reset request
// id (the console's four eyes): the decision, the reset it orders
// (operatorReset, by the approver) and approval, the approver's audit
// event, are one transaction, all or nothing. An approval is never
// recorded for a reset that did not happen, nor a reset done on a request
// another operator decided meanwhile.
//
// vet runs in that transaction once the request is decided, reading
// through st, and refuses the approval with an error (returned, nothing
// written) when the request no longer holds: what it reads cannot change
// before the reset. The errors of DecideResetRequest are returned as they
// are. approval is completed with the request's account and a detail
// naming the request.
func (s *Service) ApproveReset(ctx context.Context, id string, approval *store.AuditEvent,
	vet func(ctx context.Context, st store.Store, q *store.ResetRequest) error) (*store.ResetRequest, error) {
	var q *store.ResetRequest
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		var err error
		if q, err = u.Store.DecideResetRequest(ctx, id, approval.Actor, store.ResetApproved, u.Now()); err != nil {
			return err
		}
		if err := vet(ctx, u.Store, q); err != nil {
			return err
		}
		a, err := u.Store.AccountByID(ctx, q.AccountID)
		if err != nil {
			return err
		}
		detail := "request " + q.ID + " by " + q.RequestedBy + ": " + q.Reason
		if err := u.operatorReset(ctx, a, approval.Actor, detail); err != nil {
			return err
		}
		ev := *approval
		ev.AccountID, ev.Detail = q.AccountID, detail
		return u.recordStrictly(ctx, &ev)
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// Status describes an account for `tobira users list`.
type Status struct {
	store.Account
	Activated bool
	Methods   []Method
	Locked    bool // by an operator
}

// ListAccounts returns every account with its second factors.
func (s *Service) ListAccounts(ctx context.Context) ([]Status, error) {
	as, err := s.Store.ListAccounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(as))
	for _, a := range as {
		ms, err := s.Methods(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		_, err = s.Store.AccountLockOf(ctx, a.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		out = append(out, Status{Account: a, Activated: a.PasswordHash != "", Methods: ms, Locked: err == nil})
	}
	return out, nil
}

// LockAccount is an operator's lock: the account signs in nowhere until
// unlocked, and every session it has, at the portal and at the sites, ends
// now. The lock and the end of the sessions are one transaction: a lock
// that stood while a failure left the sessions alive would be refused as
// "locked already" when the operator tried again, and the sessions, which
// are not checked against locks, would go on. ErrConflict when it is
// locked already.
func (s *Service) LockAccount(ctx context.Context, l *store.AccountLock) error {
	return s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		if err := u.Store.LockAccount(ctx, l); err != nil {
			return err
		}
		if err := u.Store.DeleteSessionsOf(ctx, l.AccountID, ""); err != nil {
			return err
		}
		return u.endGrants(ctx, l.AccountID)
	})
}
