// Package portal is Tobira's use cases over the store: the sign-in state
// machine, second-factor checks, the security page's reset, and the
// operators' account tasks. It knows nothing of HTTP.
package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// Service carries what the use cases need. Now is injected so tests move time.
type Service struct {
	Store  store.Store
	Keys   *secret.Keyring
	Hasher *account.Hasher
	Config config.Config
	// Sender delivers codes to phones; SendStats counts what it sent, for
	// operators (give it to any Sender set later).
	Sender    notify.Sender
	SendStats *notify.Stats
	// Events counts the audit events committed, for operators.
	Events *EventCounts
	// TokenStats counts the failed and refused requests at the provider's
	// endpoints that authenticate a client, for operators.
	TokenStats *TokenStats
	// Mail queues the mails the portal sends (activation, notices); nil
	// sends none.
	Mail *mail.Queue
	Now  func() time.Time
	Log  *slog.Logger

	// SessionEnded (given the session's SID), when set, is told when a
	// portal session ends, so the sites that signed in through it end
	// theirs too. GrantsEnded, when set, is told after the commit of the
	// grants a unit revoked with every session of an account (a reset, a
	// lock, a "not me", a new password, an erasure), to log their sites
	// out.
	SessionEnded func(ctx context.Context, sid string)
	GrantsEnded  func(ctx context.Context, grants []store.Grant)

	// unit is set in the copy of the service a unit of work runs with
	// (atomically).
	unit *unit
}

// New returns a service with the real clock, sending codes to the outbox;
// the caller sets another Sender from the configuration.
func New(st store.Store, keys *secret.Keyring, cfg config.Config, log *slog.Logger) *Service {
	s := &Service{
		Store:  st,
		Keys:   keys,
		Hasher: account.NewHasher(cfg.Argon2, cfg.HashSlots()),
		Config: cfg,
		Now:    time.Now,
		Log:    log,
	}
	s.Hasher.MaxQueue, s.Hasher.MaxWait = cfg.HashQueue, cfg.HashQueueWait.Duration
	s.SendStats = new(notify.Stats)
	s.Events = new(EventCounts)
	s.TokenStats = new(TokenStats)
	s.Sender = &notify.Outbox{Store: st, Now: func() time.Time { return s.Now() }, Stats: s.SendStats}
	return s
}

// Client describes the browser behind a request, for limits and the audit log.
type Client struct {
	IP        string
	UserAgent string
	// Lang is the language the customer's request is in ("ja", "en"): the
	// mails it leads to are in it, and a sign-in keeps it on the account.
	// Empty when no customer's request is in hand (an operator's, a
	// command's): the account's language is used then.
	Lang string
}

// passwordOnly is c without its language, for a notice of what a request
// that proved only the password did (wrong codes closed the step, a
// recovery request's period ended): it goes to the account's owner in the
// language they use, which may not be that of whoever typed the password.
func (c Client) passwordOnly() Client {
	c.Lang = ""
	return c
}

// mailLang is the language of a mail to a about a request from c: the
// request's, when it has one, else the account's (mail.Lang of either).
func mailLang(a *store.Account, c Client) string {
	if c.Lang != "" {
		return mail.Lang(c.Lang)
	}
	return mail.Lang(a.Lang)
}

type operatorClientKey struct{}

// WithClient returns ctx carrying the browser of an operator's request.
// The operators' steps (opening, erasing, a reset, an early approval) take
// an actor's name, as the command line calls them too; an audit event they
// record in ctx without a client of its own gets this one's address and
// browser, as the events the console records itself do.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, operatorClientKey{}, c)
}

// stamp gives ev the client ctx carries (WithClient) when it has none.
func stamp(ctx context.Context, ev *store.AuditEvent) {
	if ev.ClientIP != "" || ev.UserAgent != "" {
		return
	}
	if c, ok := ctx.Value(operatorClientKey{}).(Client); ok {
		ev.ClientIP, ev.UserAgent = c.IP, c.UserAgent
	}
}

// Errors the web layer turns into messages in the customer's language.
var (
	ErrBadCredentials  = errors.New("portal: wrong email or password")
	ErrWrongCode       = errors.New("portal: wrong code")
	ErrNotAcknowledged = errors.New("portal: recovery code not acknowledged")
	ErrStepUpNeeded    = errors.New("portal: second factor not verified recently")
	ErrFlowExpired     = errors.New("portal: sign-in expired")
	ErrWrongStep       = errors.New("portal: not this step of the sign-in")
	ErrBadFlowCookie   = errors.New("portal: flow cookie not valid for its step")
	ErrNoSuchMethod    = errors.New("portal: method not enrolled")
	ErrTokenInvalid    = errors.New("portal: link invalid, used or expired")
	ErrAlreadyEnrolled = errors.New("portal: a second factor of this kind is enrolled already")
	ErrAccountLocked   = errors.New("portal: the account is locked by an operator")
	ErrNothingToReset  = errors.New("portal: no second factor to reset")
	ErrFactorsChanged  = errors.New("portal: the second factors changed since the page showed them")
	// ErrCodeFormat is input that is not six digits even once normalised
	// (mfa.NormalizeCode). It is no guess, so nothing counts it; and it is
	// answered from the input alone, before the account's lock, factors or
	// codes are looked at, so the answer tells nothing about them.
	ErrCodeFormat = errors.New("portal: a code is six digits")
	// ErrRecoveryFormat is input that is no recovery code even once
	// normalised (mfa.NormalizeRecoveryCode): empty, of another length, or
	// with characters a recovery code never has. As ErrCodeFormat, it is no
	// guess and nothing counts it.
	ErrRecoveryFormat = errors.New("portal: a recovery code is 24 letters and digits")
	// ErrCodeUsed is a right app code whose step was used already: it
	// counts as a wrong code, but the customer is told to wait for the
	// next one. Only someone who has a right code hears it.
	ErrCodeUsed = errors.New("portal: code already used")
	// ErrPhoneCodeReplaced: the code of an earlier text or call, which a
	// resend replaced. It counts as a wrong code, but the customer is told
	// to use the newest one.
	ErrPhoneCodeReplaced = errors.New("portal: the code was replaced by a newer one")
	// ErrFlowFinished: the app's code of a step already used, or a phone
	// code already spent, typed on a sign-in that has ended meanwhile, as
	// when the code form is sent twice (a double click where the page's
	// script, which holds a second click back, does not run): the first
	// request signed the customer in. Nothing counts it; the browser goes
	// where the sign-in was going.
	ErrFlowFinished = errors.New("portal: the sign-in ended with this code already")
)

// LockedError says a step is closed until a time.
type LockedError struct {
	Until time.Time
	// Password is true for a password throttle, false for the second factor.
	Password bool
	// Client is true when the client's address, not the account, sent too
	// many wrong codes (code_failures_per_client), or too many requests
	// (OpenAuthorizationsPerClient, TokenFailuresPerClient).
	Client bool
	// Number is true when too many wrong codes were typed for the codes
	// sent to the phone number (phone.wrong_per_number_hour).
	Number bool
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("portal: locked until %s", e.Until.Format(time.RFC3339))
}

// audit records what a customer's browser did.
func (s *Service) audit(ctx context.Context, accountID, action, outcome string, c Client, detail string) {
	s.Record(ctx, &store.AuditEvent{
		AccountID: accountID, Actor: "customer", Action: action, Outcome: outcome,
		ClientIP: c.IP, UserAgent: c.UserAgent, Detail: detail,
	})
}

// Record appends an audit event, for the portal and for the operators'
// console and commands alike, and counts it in Events. A failure is logged,
// not returned: the step it records has happened and must not be undone by
// the log.
func (s *Service) Record(ctx context.Context, ev *store.AuditEvent) {
	if ev.At.IsZero() {
		ev.At = s.Now()
	}
	stamp(ctx, ev)
	if err := s.Store.AppendAudit(ctx, ev); err != nil {
		s.Log.Error("audit append failed", "action", ev.Action, "err", err)
		return
	}
	s.counted(ctx, ev)
}

// counted counts ev in Events once the unit it is in has committed (at
// once outside one); also for an event the store appended with the change
// it records, as ResetMFA does.
func (s *Service) counted(ctx context.Context, ev *store.AuditEvent) {
	action, outcome := ev.Action, ev.Outcome
	s.afterCommit(ctx, func(context.Context) { s.Events.add(action, outcome) })
}

// sendMail renders a template in the customer's language and queues it. The
// queue keeps it until it is delivered, so a failure here is one of the
// database and is logged: the step the mail reports has happened.
func (s *Service) sendMail(ctx context.Context, to, template, lang string, data any) {
	if s.Mail == nil {
		return
	}
	msg, err := mail.Render(template, lang, data)
	if err == nil && s.unit != nil {
		// Queued in the unit; the worker is woken once it can see it.
		if _, err = s.Mail.EnqueueIn(ctx, s.Store, to, msg); err == nil {
			s.afterCommit(ctx, func(context.Context) { s.Mail.Wake() })
		}
	} else if err == nil {
		_, err = s.Mail.Enqueue(ctx, to, msg)
	}
	if err != nil {
		s.Log.Error("mail not queued", "template", template, "err", err)
	}
}
