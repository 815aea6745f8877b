// Package store defines Tobira's persistence: the domain records, small
// interfaces grouped by concern, and the sentinel errors every backend returns.
// Backends live in sub-packages; storetest is the conformance suite they all run.
package store

import (
	"context"
	"errors"
	"iter"
	"strings"
	"time"
)

// Sentinel errors at the store boundary. Backends wrap nothing else into them.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: already exists")
	// ErrStale means a conditional update lost: the row changed since it was read
	// (a TOTP step already accepted, a one-time token already used, a flow moved on).
	ErrStale = errors.New("store: stale")
	// ErrLocked means the account's second-factor step is closed; the account
	// returned with it says until when.
	ErrLocked = errors.New("store: locked")
	// ErrLastAdmin refuses to disable the last enabled admin operator,
	// which would leave nobody to manage operators in the console.
	ErrLastAdmin = errors.New("store: the last enabled admin")
)

// Account is a customer.
type Account struct {
	ID           string
	Email        string // normalised, lower case
	Name         string
	PasswordHash string // argon2id PHC string; empty until the first password is set
	CreatedAt    time.Time
	// Consecutive wrong second-factor codes, of every factor, and until when
	// the second-factor step is closed because of them.
	MFAFailures    int
	MFALockedUntil time.Time
	// Lang is the language the customer last used the portal in ("ja",
	// "en"): the mails sent without a request of theirs are in it.
	// CreateAccount stores DefaultLang when it is empty.
	Lang string
}

// DefaultLang is the language of an account that has not used the portal
// in another: Japanese, the product's first language.
const DefaultLang = "ja"

// FactorKind names a second factor.
type FactorKind string

const (
	FactorTOTP  FactorKind = "totp"
	FactorPhone FactorKind = "phone"
)

// Factor is an enrolled second factor.
type Factor struct {
	ID        string
	AccountID string
	Kind      FactorKind
	// Secret is the encrypted TOTP seed, or the E.164 number for a phone.
	Secret string
	// Channel is how a phone prefers its codes: "sms" or "voice"; empty for
	// other factors.
	Channel string
	// LastStep is the last accepted TOTP time step; a code is never accepted
	// for a step at or before it.
	LastStep  int64
	CreatedAt time.Time
}

// Session is a signed-in browser. IDHash is the SHA-256 of the cookie value.
type Session struct {
	IDHash    string
	AccountID string
	CreatedAt time.Time
	// MFAAt is when the second factor was last verified in this session.
	MFAAt     time.Time
	ExpiresAt time.Time
	ClientIP  string
	UserAgent string
	// AMR says how the customer signed in (RFC 8176: "pwd", "otp", "sms",
	// "tel", "mfa").
	AMR []string
	// SID names the browser's session at the portal across the sign-ins
	// and step-ups that replace IDHash; the sites' sign-ins are tied to it.
	SID string
}

// Flow is a sign-in in progress. Its State moves only forward through the
// sign-in state machine; Data holds that machine's step data, encrypted where
// it is secret.
type Flow struct {
	IDHash    string
	AccountID string
	State     string
	Data      string
	ReturnTo  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// OneTimeToken is a link sent to a customer (first password, later password
// reset). Only the hash is stored.
type OneTimeToken struct {
	Hash      string
	Purpose   string
	AccountID string
	// Event is what the link is about, where its purpose alone does not
	// say: the event of the security notice a "this was not me" link came
	// in (a mail.Event... constant). Empty otherwise.
	Event     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// PhoneCode is the one live code a sign-in flow has sent to a phone. Sending
// again replaces it, so a resend invalidates the code before it.
type PhoneCode struct {
	FlowHash  string
	AccountID string
	Phone     string // E.164
	Channel   string // "sms" or "voice": how this code went
	CodeHash  string // keyed hash: six digits alone are easy to brute-force
	// Chosen is the channel the customer chose for the number: on the
	// number form at enrolment, the phone's own at the second factor. A
	// resend by the other channel changes Channel, not Chosen; enrolment
	// saves Chosen as the phone's channel. Empty for a code stored before
	// migration 0032.
	Chosen string
	// PreviousHash is the hash of the code this one replaced (a resend),
	// kept only to tell a customer who types the earlier code why it
	// fails; it never signs in. Empty for a flow's first code.
	PreviousHash string
	SentAt       time.Time
	ExpiresAt    time.Time
	Attempts     int // wrong codes tried against it
}

// OutboxMessage is a message the demo's outbox sender kept instead of
// sending, for the development page that shows them.
type OutboxMessage struct {
	ID      int64
	At      time.Time
	To      string // E.164 or an email address
	Channel string // "sms", "voice", "email"
	Subject string
	Body    string
}

// AuditEvent records a security event.
type AuditEvent struct {
	ID        int64
	At        time.Time
	AccountID string // empty when no account is known
	Actor     string // "customer", "operator:NAME", "system"
	Action    string // e.g. "signin.password", "mfa.reset"
	Outcome   string // "ok", "fail", "locked", ...
	ClientIP  string
	UserAgent string
	Detail    string
}

// Accounts stores customers.
type Accounts interface {
	CreateAccount(ctx context.Context, a *Account) error // ErrConflict on a taken email
	AccountByID(ctx context.Context, id string) (*Account, error)
	AccountByEmail(ctx context.Context, email string) (*Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	SetPasswordHash(ctx context.Context, accountID, hash string) error
	// RehashPassword replaces the account's password hash old with hash, a
	// new hash of the password just checked against old (today's argon2
	// parameters, or its normalised form), only while old is still the
	// account's: a password set meanwhile (a reset, a change) must not be
	// undone by the older one. ErrStale when the hash is no longer old,
	// ErrNotFound for an unknown account.
	RehashPassword(ctx context.Context, accountID, old, hash string) error
	// ChargeMFAAttempt counts a second-factor attempt before its code is
	// checked, so that parallel guesses cannot outrun the lock. In one
	// transaction it refuses with ErrLocked (and the account) while the step is
	// closed at now; otherwise it adds one to the failures, closes the step until
	// lock(newCount) when that is later than any current lock, and returns the
	// updated account. A right code then calls ClearMFAFailures.
	ChargeMFAAttempt(ctx context.Context, accountID string, now time.Time, lock func(failures int) time.Time) (*Account, error)
	ClearMFAFailures(ctx context.Context, accountID string) error
	// SetAccountLang records the language the customer uses; ErrNotFound
	// for an unknown account.
	SetAccountLang(ctx context.Context, accountID, lang string) error
	// EraseAccount removes, in one transaction, what identifies the
	// account and what lets it sign in: its email (ErasedEmail from then
	// on), name, password and language (DefaultLang again), factors,
	// recovery code, sessions, sign-ins in progress, one-time tokens,
	// phone codes, recovery and reset requests, lock, consents, the
	// sites' sessions and the mails to its address; it revokes its grants (their tokens go) and appends ev.
	// The account's id stays, with what the business keeps under it
	// (applications, contracts, invoices) and the audit log. It returns
	// the revoked grants, due a logout token as RevokeGrantsOf leaves them;
	// ErrNotFound for an unknown or erased account.
	EraseAccount(ctx context.Context, accountID string, ev *AuditEvent) ([]Grant, error)
}

// ErasedEmail is the address an erased account has instead of its own:
// unique, in a domain no mail reaches (RFC 2606), and refused as an
// address to open an account with or to sign in.
func ErasedEmail(accountID string) string { return "erased-" + accountID + "@" + ErasedDomain }

// ErasedDomain is the domain of ErasedEmail.
const ErasedDomain = "erased.invalid"

// Erased reports whether the account was erased (EraseAccount).
func (a Account) Erased() bool { return strings.HasSuffix(a.Email, "@"+ErasedDomain) }

// Factors stores second factors and recovery codes.
type Factors interface {
	AddFactor(ctx context.Context, f *Factor) error
	// AddFirstFactor stores f only while the account has no factor at all,
	// in one transaction; ErrConflict otherwise. Enrolment at sign-in uses
	// it, so two tabs cannot each enrol a factor (and replace each other's
	// recovery code).
	AddFirstFactor(ctx context.Context, f *Factor) error
	FactorsOf(ctx context.Context, accountID string) ([]Factor, error)
	// AdvanceTOTPStep records step as accepted; ErrStale when a step at or after
	// it was accepted already (a replay).
	AdvanceTOTPStep(ctx context.Context, factorID string, step int64) error
	// SetRecoveryCode replaces the account's recovery code with one of this hash.
	SetRecoveryCode(ctx context.Context, accountID, hash string, at time.Time) error
	HasRecoveryCode(ctx context.Context, accountID string) (bool, error)
	// SpendRecoveryCode removes the code of this hash; ErrNotFound when the
	// account has no such unspent code.
	SpendRecoveryCode(ctx context.Context, accountID, hash string) error
	// ResetMFA removes every factor, the recovery code and the phone codes in
	// flight of the account, ends its sessions but keepSession (an IDHash, or
	// empty), and appends ev, in one transaction.
	ResetMFA(ctx context.Context, accountID, keepSession string, ev *AuditEvent) error
}

// PhoneCodes stores codes sent to phones, one per sign-in flow.
type PhoneCodes interface {
	// PutPhoneCode stores c as its flow's code, replacing any earlier one,
	// whose hash becomes the new one's PreviousHash (c's is ignored).
	PutPhoneCode(ctx context.Context, c *PhoneCode) error
	// PhoneCodeOf returns the flow's code; ErrNotFound when it has none.
	PhoneCodeOf(ctx context.Context, flowHash string) (*PhoneCode, error)
	// LatestPhoneCode returns the account's code sent last, of any flow;
	// ErrNotFound when it has none.
	LatestPhoneCode(ctx context.Context, accountID string) (*PhoneCode, error)
	// ChargePhoneCode counts one attempt against the flow's code before it is
	// checked, in one transaction: ErrLocked (with the code) once max attempts
	// were made, ErrNotFound when there is no code; otherwise the code with
	// Attempts increased.
	ChargePhoneCode(ctx context.Context, flowHash string, max int) (*PhoneCode, error)
	DeletePhoneCode(ctx context.Context, flowHash string) error
	DeleteExpiredPhoneCodes(ctx context.Context, now time.Time) (int64, error)
}

// Outbox keeps the messages of the demo's outbox sender.
type Outbox interface {
	AppendOutbox(ctx context.Context, m *OutboxMessage) error // sets m.ID
	// ListOutbox returns the newest messages first, at most limit (all when limit <= 0).
	ListOutbox(ctx context.Context, limit int) ([]OutboxMessage, error)
}

// Sessions stores signed-in browsers.
type Sessions interface {
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns ErrNotFound when missing; the caller checks ExpiresAt.
	SessionByHash(ctx context.Context, idHash string) (*Session, error)
	// SignedInAs returns the session and its account in one read;
	// ErrNotFound when the session is missing. The caller checks ExpiresAt.
	SignedInAs(ctx context.Context, idHash string) (*Session, *Account, error)
	DeleteSession(ctx context.Context, idHash string) error
	// RotateSession replaces the session oldHash by s (a new id), in one step.
	RotateSession(ctx context.Context, oldHash string, s *Session) error
	DeleteSessionsOf(ctx context.Context, accountID, except string) error
	// SessionLive reports whether the account has a session with the SID
	// sid that has not expired at now: whether a browser's sign-in is
	// still on (an authorization code it signed is exchanged only then).
	SessionLive(ctx context.Context, accountID, sid string, now time.Time) (bool, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
	// SessionsOf returns the account's live sessions (ExpiresAt after now),
	// the newest sign-in (CreatedAt) first, at most limit (all when
	// limit <= 0).
	SessionsOf(ctx context.Context, accountID string, now time.Time, limit int) ([]Session, error)
	// DeleteSessionBySID ends the account's session named sid and returns
	// it; ErrNotFound when the account has no session of that SID (another
	// account's included), and then nothing is deleted.
	DeleteSessionBySID(ctx context.Context, accountID, sid string) (*Session, error)
}

// Flows stores sign-ins in progress.
type Flows interface {
	CreateFlow(ctx context.Context, f *Flow) error
	FlowByHash(ctx context.Context, idHash string, now time.Time) (*Flow, error) // ErrNotFound when missing or expired
	// AdvanceFlow moves the flow from state `from` to f's state and data; ErrStale
	// when the flow is no longer in `from` (a second tab, a replayed form).
	AdvanceFlow(ctx context.Context, f *Flow, from string) error
	// ConsumeFlow deletes the flow if it is still in state `from`, so that of
	// two requests finishing it, one does; ErrStale when it has left `from`,
	// ErrNotFound when it is gone.
	ConsumeFlow(ctx context.Context, idHash, from string) error
	DeleteFlow(ctx context.Context, idHash string) error
	// DeleteFlowsOf ends every sign-in in progress of the account: what
	// proved its password, or a factor, before a change that must end
	// its sessions (a new password, a reset of the second factor) must
	// not become a session after it.
	DeleteFlowsOf(ctx context.Context, accountID string) error
	DeleteExpiredFlows(ctx context.Context, now time.Time) (int64, error)
}

// Tokens stores one-time links.
type Tokens interface {
	CreateToken(ctx context.Context, t *OneTimeToken) error
	// UseToken marks the unexpired, unused token of this hash and purpose used
	// and returns it; ErrNotFound otherwise.
	UseToken(ctx context.Context, hash, purpose string, now time.Time) (*OneTimeToken, error)
	TokenByHash(ctx context.Context, hash, purpose string, now time.Time) (*OneTimeToken, error)
	// RevokeTokens marks every unused token of the account and purpose used
	// at now, so that none of the links sent before works, and returns how
	// many it revoked.
	RevokeTokens(ctx context.Context, accountID, purpose string, now time.Time) (int64, error)
}

// Window returns the fixed window of length w that contains now. Windows are
// aligned to the unix epoch, so every node computes the same one.
func Window(now time.Time, w time.Duration) (start, end time.Time) {
	t, l := now.UnixMilli(), w.Milliseconds()
	s := t - t%l
	if t%l < 0 { // floor, not truncation toward zero, before 1970
		s -= l
	}
	return time.UnixMilli(s).UTC(), time.UnixMilli(s + l).UTC()
}

// Limits counts events in fixed windows (see Window), shared by every node.
type Limits interface {
	// Hit adds n to the counter of key in the window that contains now and
	// returns the new count; n = 0 only reads it, and a negative n gives back
	// what was counted (never below zero).
	Hit(ctx context.Context, key string, window time.Duration, now time.Time, n int) (int, error)
	// ResetLimit drops the counter of key.
	ResetLimit(ctx context.Context, key string) error
	// Counting runs fn, which counts through tx and does nothing else, as
	// one write whose commit does not wait for the disk: a crash of the
	// machine, or on PostgreSQL of the database server, may lose the counts
	// of its last moment, never anything else, and the next commit that
	// does wait (an audit event, a flow) takes every count before it to
	// the disk. Within a unit fn runs in the unit, as a part of it. Outside
	// one, on SQLite fn's counts commit together and an error of fn undoes
	// them; on PostgreSQL each count commits by itself, as a unit's do
	// (Units).
	Counting(ctx context.Context, fn func(ctx context.Context, tx Limits) error) error
	// DeleteExpiredLimits drops every counter whose window ended at or
	// before now and returns how many it dropped.
	DeleteExpiredLimits(ctx context.Context, now time.Time) (int64, error)
}

// AuditMinRetention is how long the database keeps an audit event at
// least: it refuses to delete a younger one.
const AuditMinRetention = 90 * 24 * time.Hour

// Audit is the append-only security log.
type Audit interface {
	AppendAudit(ctx context.Context, ev *AuditEvent) error
	// DeleteAuditBefore deletes the events older than before (the
	// operator's retention) and returns how many it deleted. The database
	// refuses events younger than AuditMinRetention whatever before says.
	DeleteAuditBefore(ctx context.Context, before time.Time) (int64, error)
	AuditOf(ctx context.Context, accountID string, limit int) ([]AuditEvent, error)
	// AuditOfActions is AuditOf of the events of these actions only, read
	// as the caller goes: a caller that stops early (breaks out of its
	// range loop) leaves the rest unread. A failure is the last pair.
	AuditOfActions(ctx context.Context, accountID string, actions []string, limit int) iter.Seq2[AuditEvent, error]
}

// Units run several of a store's operations as one.
type Units interface {
	// Atomically runs fn with tx, the same store bound to one write
	// transaction: everything fn does through tx is committed together
	// when fn returns nil, and nothing of it when fn returns an error.
	// Reads through tx see fn's own writes. fn may run more than once (a
	// transaction that lost a race with another is run again), so it must
	// set, not accumulate, what it hands out, and do nothing outside tx
	// that cannot be repeated.
	//
	// fn uses the ctx it is given. A write through the store outside tx
	// with that ctx fails instead of waiting for the transaction fn holds.
	// Within tx, Atomically nests: an inner fn's error undoes only the
	// inner fn's writes. Limits (Hit, ResetLimit) may count at once,
	// outside the transaction: a counter that every request shares must
	// not make them wait for, or retry on, each other's units.
	//
	// A unit is for work that is short and only the database's: on SQLite
	// it holds the one writer while it runs. Hash passwords, send codes
	// and call other systems before or after it.
	Atomically(ctx context.Context, fn func(ctx context.Context, tx Store) error) error
}

// Stats are a database's own figures, for /metrics; a store offers them
// with a method Stats() Stats.
type Stats struct {
	Pools []PoolStats
	// Retried counts the transactions run again: on PostgreSQL after a
	// serialization failure or a deadlock (a race lost to another), or on
	// a connection the server had ended.
	Retried int64
	// Writer is SQLite's one writer; nil on PostgreSQL.
	Writer *WriterStats
}

// WriterStats are SQLite's one writer's: the transactions it ran (each a
// batch of callers' writes), the writes waiting for it now, and the syncs
// of the log that made them durable.
type WriterStats struct {
	Batches, LogSyncs int64
	Waiting           int
}

// PoolStats is the use of one pool of connections.
type PoolStats struct {
	Name             string // "readers" (SQLite); "main", "limits" (PostgreSQL)
	Max, InUse, Idle int
	// Waits counts the times a statement waited for a connection, WaitTime
	// their total wait: a pool too small for the load.
	Waits    int64
	WaitTime time.Duration
}

// Store is every interface together, as one backend provides them.
type Store interface {
	Units
	Accounts
	Factors
	Sessions
	Flows
	Tokens
	Limits
	Audit
	PhoneCodes
	Outbox
	OIDC
	Sites
	SiteSessions
	Mails
	Operators
	Maintenance
	RecoveryRequests
	ResetRequests
	Close() error
}
