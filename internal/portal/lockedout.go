package portal

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// A customer locked out (no phone, no recovery code) may ask, from the
// second-factor step, to recover two-step verification:
//
//	RequestRecovery ──(mail link)──▶ ConfirmRecovery ──(cooling-off)──▶ Password enrols anew
//	                                   │
//	                                   └─ a second factor used, or "this was not me": cancelled
//
// The request proves the password (it starts from StateMFA) and, by its
// link, the mailbox; the cooling-off period gives the real customer time to
// see the notice and cancel. Support may end the period early, with four
// eyes as for a reset they ask for: an operator who verified the customer
// proposes it, and a second operator approves it. A caller who knows the
// password and reads the mailbox thus has two operators to fool, not one,
// to have the account enrol their device.

// recoveryConfirmTTL is how long a request's confirmation link works.
const recoveryConfirmTTL = time.Hour

// recoveryRequestsPerDay bounds the requests, and so the mails, of an account.
const recoveryRequestsPerDay = 5

// Reasons a recovery request is cancelled for.
const (
	RecoveryCancelFactor = "second factor used"
	RecoveryCancelNotMe  = "not me"
)

var (
	// ErrRecoveryPending means the account's recovery request is waiting
	// already: a new one would only restart its period.
	ErrRecoveryPending = errors.New("portal: a recovery request is waiting already")
	// ErrTooManyRequests means the account asked too often lately.
	ErrTooManyRequests = errors.New("portal: too many recovery requests")
)

// RequestRecovery is 「デバイスを紛失した場合」 at the second-factor step of
// f: it opens an unconfirmed recovery request and mails its confirmation
// link, valid for an hour, in lang. An unconfirmed earlier request is
// replaced; ErrRecoveryPending when one is waiting.
func (s *Service) RequestRecovery(ctx context.Context, f *Flow, lang string, c Client) error {
	if f.State != StateMFA {
		return ErrWrongStep
	}
	rr := s.Store
	a, err := s.Account(ctx, f)
	if err != nil {
		return err
	}
	now := s.Now()
	// Counted before the request is created, so requests sent in parallel
	// cannot all pass the limit; one refused because a request waits
	// already creates nothing and sends nothing, and gives its count back.
	perDay := limit{"recovery", "recovery:" + a.ID, recoveryRequestsPerDay, 24 * time.Hour}
	over, _, _, err := s.count(ctx, now, []limit{perDay})
	if err != nil {
		return err
	}
	if over != nil {
		s.audit(ctx, a.ID, store.ActionRecoveryRequest, "throttled", c, "")
		return ErrTooManyRequests
	}
	token := secret.Token(32)
	r := &store.RecoveryRequest{ID: secret.ID(), AccountID: a.ID, ConfirmTokenHash: secret.Hash(token),
		CreatedAt: now, ConfirmExpiresAt: now.Add(recoveryConfirmTTL)}
	err = rr.CreateRecoveryRequest(ctx, r)
	if errors.Is(err, store.ErrConflict) {
		s.uncount(ctx, now, perDay)
		return ErrRecoveryPending
	}
	if err != nil {
		return err
	}
	s.audit(ctx, a.ID, store.ActionRecoveryRequest, "ok", c, "")
	s.sendMail(ctx, a.Email, "recovery_request", lang, mail.RecoveryRequest{
		Service: s.Config.Issuer, Name: a.Name, Email: a.Email, PortalURL: s.Config.BaseURL + "/login",
		Link:         s.Config.BaseURL + "/recovery-request/confirm?token=" + url.QueryEscape(token),
		ValidMinutes: int(recoveryConfirmTTL.Minutes()), Expires: r.ConfirmExpiresAt,
		CoolingOff: s.Config.RecoveryCoolingOff.Duration,
	})
	return nil
}

// CheckRecovery tells whether a confirmation link is live, for the page
// that asks to confirm; it spends nothing (mail scanners open links too).
// It returns the request and when it would take effect if confirmed now;
// for a link confirmed already, the waiting request and when it takes
// effect (the mail's link opened again).
func (s *Service) CheckRecovery(ctx context.Context, token string) (*store.RecoveryRequest, time.Time, error) {
	rr := s.Store
	now := s.Now()
	r, err := rr.RecoveryRequestByToken(ctx, secret.Hash(token), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, time.Time{}, ErrTokenInvalid
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	if r.Status == store.RecoveryWaiting {
		return r, r.EffectiveAt, nil
	}
	return r, now.Add(s.Config.RecoveryCoolingOff.Duration), nil
}

// ConfirmRecovery spends a confirmation link: the request waits until the
// cooling-off period has passed, and the account is mailed what will
// happen, when, and a "this was not me" link that cancels it. A link
// confirmed already returns its waiting request and does nothing more (the
// confirmation reloaded, sent again from the page the back button brings
// back).
func (s *Service) ConfirmRecovery(ctx context.Context, token string, c Client) (*store.RecoveryRequest, error) {
	rr := s.Store
	now := s.Now()
	r, err := rr.ConfirmRecoveryRequest(ctx, secret.Hash(token), now, s.Config.RecoveryCoolingOff.Duration)
	if errors.Is(err, store.ErrNotFound) {
		if w, err := rr.RecoveryRequestByToken(ctx, secret.Hash(token), now); err == nil && w.Status == store.RecoveryWaiting {
			return w, nil
		}
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, r.AccountID, store.ActionRecoveryConfirm, "ok", c, "effective "+r.EffectiveAt.Format(time.RFC3339))
	s.Log.Warn("recovery request confirmed: second factors are dropped at the first sign-in after its period",
		"account", r.AccountID, "request", r.ID, "effective_at", r.EffectiveAt)
	s.recoveryStarted(ctx, r, c)
	return r, nil
}

// recoveryStarted mails the account that its request waits, with a
// "this was not me" link that lasts past the period, in the language of
// the request that opened the confirmation link.
func (s *Service) recoveryStarted(ctx context.Context, r *store.RecoveryRequest, c Client) {
	if s.Mail == nil {
		return
	}
	a, err := s.Store.AccountByID(ctx, r.AccountID)
	if err != nil {
		s.Log.Error("recovery notice: account", "account", r.AccountID, "err", err)
		return
	}
	now := s.Now()
	token := secret.Token(32)
	if err := s.Store.CreateToken(ctx, &store.OneTimeToken{
		Hash: secret.Hash(token), Purpose: PurposeNotMe, AccountID: a.ID, CreatedAt: now,
		ExpiresAt: now.Add(s.Config.RecoveryCoolingOff.Duration + notMeTTL), Event: NotMeRecoveryStarted,
	}); err != nil {
		s.Log.Error("recovery notice: not-me link", "err", err)
		return
	}
	s.sendMail(ctx, a.Email, "recovery_started", mailLang(a, c), mail.RecoveryStarted{
		Service: s.Config.Issuer, Name: a.Name, Email: a.Email, At: now, IP: c.IP, Browser: DescribeBrowser(c.UserAgent),
		EffectiveAt: r.EffectiveAt, CoolingOff: s.Config.RecoveryCoolingOff.Duration,
		NotMeURL:  s.Config.BaseURL + "/not-me?token=" + url.QueryEscape(token),
		PortalURL: s.Config.BaseURL + "/login",
	})
}

// cancelRecovery cancels the account's open request, if it has one: its
// owner still has a second factor, or said the request was not theirs.
func (s *Service) cancelRecovery(ctx context.Context, accountID, reason string, c Client) {
	rr := s.Store
	// Nearly every sign-in has none to cancel: a read finds that out
	// without queueing a write.
	if _, err := rr.PendingRecoveryOf(ctx, accountID); errors.Is(err, store.ErrNotFound) {
		return
	}
	done, err := rr.CancelRecovery(ctx, accountID, reason, s.Now())
	if err != nil {
		s.Log.Error("recovery request not cancelled", "account", accountID, "reason", reason, "err", err)
		return
	}
	if done {
		s.audit(ctx, accountID, store.ActionRecoveryCancel, "ok", c, reason)
	}
}

// completeRecovery runs at a right password: when the account's request
// has waited out its period, its factors are removed (the caller then finds
// none and starts enrolment) and the request is completed.
func (s *Service) completeRecovery(ctx context.Context, a *store.Account, c Client) error {
	rr := s.Store
	now := s.Now()
	r, err := rr.PendingRecoveryOf(ctx, a.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.Status != store.RecoveryWaiting || r.EffectiveAt.After(now) {
		return nil
	}
	// Completing first, conditionally, makes the reset once: of two
	// sign-ins, one completes, and the other finds the factors gone.
	err = rr.CompleteRecovery(ctx, r.ID, now)
	if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ev := &store.AuditEvent{At: now, AccountID: a.ID, Actor: "customer", Action: store.ActionMFAReset, Outcome: "ok",
		ClientIP: c.IP, UserAgent: c.UserAgent, Detail: "recovery request"}
	if err := s.resetMFA(ctx, a.ID, "", ev); err != nil {
		return err
	}
	// The sign-in that finds the period over proved only the password.
	s.notice(ctx, a, mail.EventMFAReset, c.passwordOnly())
	return nil
}

// PendingRecoveries lists the waiting requests, and the unconfirmed ones
// whose link still works, for operators.
func (s *Service) PendingRecoveries(ctx context.Context) ([]store.RecoveryRequest, error) {
	rr := s.Store
	return rr.ListPendingRecoveries(ctx, s.Now())
}

// PendingRecoveryOf is the account's request among PendingRecoveries, for
// operators: waiting, or unconfirmed with its link still live.
// store.ErrNotFound when the account has none.
func (s *Service) PendingRecoveryOf(ctx context.Context, accountID string) (*store.RecoveryRequest, error) {
	rr := s.Store
	r, err := rr.PendingRecoveryOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if !r.Pending(s.Now()) {
		return nil, store.ErrNotFound
	}
	return r, nil
}

// ErrApproveReason says a proposal of an early approval needs the identity
// check the operator did, at most 200 characters.
var ErrApproveReason = errors.New("portal: an early approval needs the identity check done, at most 200 characters")

// ErrProposerDisabled means the operator who proposed an early approval is
// no longer an enabled operator: the approver would rely on the word of
// someone who left, or was found to misuse the console.
var ErrProposerDisabled = errors.New("portal: the operator who proposed the early approval was disabled since")

// ProposeRecoveryApproval is the first operator's 「本人確認のうえ早期承認を依頼」
// on the waiting request id, after verifying the customer: it records the
// proposal, with reason, the identity check done (「電話で登録住所と生年月日
// を確認」), and the recovery.propose event, in one transaction. The period
// goes on until another operator approves (ApproveRecoveryEarly); nothing
// is mailed yet. ErrApproveReason without a reason; otherwise the errors of
// store.ProposeRecoveryApproval (store.ErrRecoveryWaitOver once the period
// ran out: the next sign-in enrols anew without one).
func (s *Service) ProposeRecoveryApproval(ctx context.Context, id, operator, reason string) (*store.RecoveryRequest, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 200 {
		return nil, ErrApproveReason
	}
	var r *store.RecoveryRequest
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		var err error
		if r, err = u.Store.ProposeRecoveryApproval(ctx, id, operator, reason, u.Now()); err != nil {
			return err
		}
		return u.recordStrictly(ctx, &store.AuditEvent{AccountID: r.AccountID, Actor: operator,
			Action: store.ActionRecoveryPropose, Outcome: "ok", Detail: "request " + r.ID + ": " + reason})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ApproveRecoveryEarly is a second operator's approval of the proposal on
// the waiting request id made at proposedAt, the one they read (its
// proposer and identity check): the next sign-in enrols anew. The
// decision, the check of the proposer, the recovery.approve event (naming
// both operators and the identity check) and the mail are one
// transaction, all or nothing: an approval is never recorded for a period
// that did not end, nor made on the word of a proposer disabled
// meanwhile. The customer is mailed at once that support ended the
// waiting period, with a "this was not me" link that cancels the request:
// the recovery_started mail they have still names the old date.
// ErrProposerDisabled when the proposer is no longer an enabled operator;
// otherwise the errors of store.DecideRecoveryProposal: among them
// store.ErrRecoveryWaitOver when the period ran out before the approval,
// which then neither mails the customer that support ended it nor
// records an approval.
func (s *Service) ApproveRecoveryEarly(ctx context.Context, id string, proposedAt time.Time, operator string) (*store.RecoveryRequest, error) {
	var r *store.RecoveryRequest
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		var err error
		if r, err = u.Store.DecideRecoveryProposal(ctx, id, proposedAt, operator, store.ResetApproved, u.Now()); err != nil {
			return err
		}
		// Read in the approval's transaction, so that the proposer cannot
		// be disabled between this check and the approval.
		gone, err := OperatorGone(ctx, u.Store, r.ProposedBy)
		if err != nil {
			return err
		}
		if gone {
			return ErrProposerDisabled
		}
		if err := u.recordStrictly(ctx, &store.AuditEvent{AccountID: r.AccountID, Actor: operator,
			Action: store.ActionRecoveryApprove, Outcome: "ok", Detail: ProposalDetail(r)}); err != nil {
			return err
		}
		return u.recoveryApproved(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ProposalDetail is the audit detail of a decision on r's proposal: the
// request, who proposed it (and who approved it, once one did) and how the
// customer was verified.
func ProposalDetail(r *store.RecoveryRequest) string {
	d := "request " + r.ID + " proposed by " + r.ProposedBy
	if r.ApprovedBy != "" {
		d += ", approved by " + r.ApprovedBy
	}
	return d + ": " + r.ProposedReason
}

// recordStrictly appends ev, stamped, and returns the failure: in a unit,
// the step it records is undone with it.
func (s *Service) recordStrictly(ctx context.Context, ev *store.AuditEvent) error {
	if ev.At.IsZero() {
		ev.At = s.Now()
	}
	stamp(ctx, ev)
	if err := s.Store.AppendAudit(ctx, ev); err != nil {
		return err
	}
	s.counted(ctx, ev)
	return nil
}

// OperatorGone tells whether actor ("operator:EMAIL", as the audit log names
// operators) is no longer an enabled operator: disabled, removed, or no
// operator at all.
func OperatorGone(ctx context.Context, st store.Operators, actor string) (bool, error) {
	email, ok := strings.CutPrefix(actor, "operator:")
	if !ok {
		return true, nil
	}
	o, err := st.OperatorByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return o.Disabled, nil
}

// recoveryApproved mails the account that support ended its waiting
// period, with a "this was not me" link, in the account's language.
func (s *Service) recoveryApproved(ctx context.Context, r *store.RecoveryRequest) error {
	if s.Mail == nil {
		return nil
	}
	a, err := s.Store.AccountByID(ctx, r.AccountID)
	if err != nil {
		return err
	}
	now := s.Now()
	token := secret.Token(32)
	if err := s.Store.CreateToken(ctx, &store.OneTimeToken{
		Hash: secret.Hash(token), Purpose: PurposeNotMe, AccountID: a.ID, CreatedAt: now, ExpiresAt: now.Add(notMeTTL),
		Event: NotMeRecoveryApproved,
	}); err != nil {
		return err
	}
	s.sendMail(ctx, a.Email, "recovery_approved", mailLang(a, Client{}), mail.RecoveryApproved{
		Service: s.Config.Issuer, Name: a.Name, Email: a.Email, At: now,
		NotMeURL:  s.Config.BaseURL + "/not-me?token=" + url.QueryEscape(token),
		PortalURL: s.Config.BaseURL + "/login",
	})
	return nil
}
