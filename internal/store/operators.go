package store

import (
	"context"
	"time"
)

// OperatorRole is what an operator of the console may do.
type OperatorRole string

const (
	// RoleSupport finds customers, opens accounts, resends activation mails,
	// locks and unlocks accounts and reads the audit log.
	RoleSupport OperatorRole = "support"
	// RoleAdmin does what support does, and exports the audit log.
	RoleAdmin OperatorRole = "admin"
)

// Valid reports whether r is a known role.
func (r OperatorRole) Valid() bool { return r == RoleSupport || r == RoleAdmin }

// Operator is a staff member who signs in to the operator console, always
// with a password and a TOTP second factor.
type Operator struct {
	ID           string
	Email        string // normalised, lower case
	Name         string
	Role         OperatorRole
	PasswordHash string // argon2id PHC string
	// TOTPSecret is the seed, encrypted with the keyring; LastStep is the
	// last accepted TOTP step.
	TOTPSecret string
	LastStep   int64
	CreatedAt  time.Time
	Disabled   bool
	// OneTimeUntil is set while the password is a one-time one an admin
	// was shown (a new operator's first, or one an admin reset): it signs
	// in until then, and the console opens nothing but the password change
	// until the operator picks their own. Zero for their own password.
	OneTimeUntil time.Time
	// Consecutive wrong codes and until when the code step is closed, as
	// for customers (Account.MFAFailures).
	MFAFailures    int
	MFALockedUntil time.Time
}

// MustChangePassword reports whether the operator signs in with a one-time
// password, which they must replace with their own.
func (o *Operator) MustChangePassword() bool { return !o.OneTimeUntil.IsZero() }

// OperatorSession is a browser signed in to the console. IDHash is the
// SHA-256 of the cookie value. MFAAt is zero while only the password has
// been checked: such a session opens nothing but the code step.
type OperatorSession struct {
	IDHash     string
	OperatorID string
	CreatedAt  time.Time
	MFAAt      time.Time
	ExpiresAt  time.Time
	ClientIP   string
	UserAgent  string
}

// AccountLock is an operator's lock on a customer account.
type AccountLock struct {
	AccountID string
	LockedBy  string // the actor, "operator:EMAIL"
	Reason    string
	At        time.Time
}

// AuditFilter selects audit events; empty fields select everything. Since
// is inclusive, Until exclusive.
type AuditFilter struct {
	AccountID string
	Actor     string // e.g. "operator:kim@tobira.example"
	Action    string
	Outcome   string
	Since     time.Time
	Until     time.Time
	// Before selects the events older than the cursor (an earlier At, or
	// the same At and a smaller ID), After the newer ones. After's events
	// are returned newest first too, but they are the Limit nearest the
	// cursor: the page before it.
	Before, After AuditCursor
	Limit         int // at most this many, newest first; all when <= 0
}

// AuditCursor is an event's place in the log, for paging through it.
type AuditCursor struct {
	At time.Time
	ID int64
}

// IsZero tells whether the cursor is unset.
func (c AuditCursor) IsZero() bool { return c.ID == 0 && c.At.IsZero() }

// CursorOf is ev's place in the log.
func CursorOf(ev AuditEvent) AuditCursor { return AuditCursor{At: ev.At, ID: ev.ID} }

// MaxFoundAccounts bounds what FindAccounts returns.
const MaxFoundAccounts = 50

// Operators stores the console's operators, their sessions, account locks,
// and the queries across accounts the console needs.
type Operators interface {
	CreateOperator(ctx context.Context, o *Operator) error // ErrConflict on a taken email or id
	OperatorByID(ctx context.Context, id string) (*Operator, error)
	OperatorByEmail(ctx context.Context, email string) (*Operator, error)
	// ListOperators returns every operator by email.
	ListOperators(ctx context.Context) ([]Operator, error)
	// AdvanceOperatorStep records step as accepted; ErrStale when a step at
	// or after it was accepted already (a replay).
	AdvanceOperatorStep(ctx context.Context, operatorID string, step int64) error
	// ChargeOperatorMFA is ChargeMFAAttempt for an operator.
	ChargeOperatorMFA(ctx context.Context, operatorID string, now time.Time, lock func(failures int) time.Time) (*Operator, error)
	ClearOperatorMFAFailures(ctx context.Context, operatorID string) error
	// SetOperatorDisabled disables or enables an operator; disabling also
	// ends every console session of the operator, in the same transaction,
	// so that a departing operator is out at once. ErrNotFound for an
	// unknown operator; ErrLastAdmin, changing nothing, for the last
	// enabled admin (two admins disabling each other at once leave one).
	SetOperatorDisabled(ctx context.Context, operatorID string, disabled bool) error
	// ResetOperatorTOTP replaces the operator's encrypted TOTP seed, forgets
	// the last accepted step and the wrong codes with any lock they set, and
	// ends every console session of the operator, in one transaction: a lost
	// authenticator no longer signs in, and the new one starts clean.
	// ErrNotFound for an unknown operator.
	ResetOperatorTOTP(ctx context.Context, operatorID, sealedSecret string) error
	// SetOperatorPassword replaces the operator's password hash and sets
	// OneTimeUntil (zero for a password of the operator's own), and ends
	// every console session of the operator but keepSession (an id hash;
	// empty for none), in one transaction. ErrNotFound for an unknown
	// operator.
	SetOperatorPassword(ctx context.Context, operatorID, hash string, oneTimeUntil time.Time, keepSession string) error
	// RehashOperatorPassword is RehashPassword for an operator: the password
	// stays the same, so OneTimeUntil and every session stay as they are.
	// ErrStale when the hash is no longer old, ErrNotFound for an unknown
	// operator.
	RehashOperatorPassword(ctx context.Context, operatorID, old, hash string) error

	CreateOperatorSession(ctx context.Context, s *OperatorSession) error
	// OperatorSessionByHash returns ErrNotFound when missing; the caller
	// checks ExpiresAt.
	OperatorSessionByHash(ctx context.Context, idHash string) (*OperatorSession, error)
	// ExtendOperatorSession moves the session's end to expiresAt, never
	// back; a missing session is no error (it ended meanwhile).
	ExtendOperatorSession(ctx context.Context, idHash string, expiresAt time.Time) error
	// StepUpOperatorSession records that the session's operator typed a
	// right code again at at (the console's re-confirmation before a
	// dangerous action): the session gets the new id newHash, as at every
	// step-up, and MFAAt moves to at, never back. ErrNotFound when the
	// session is gone or is still the code step's (MFAAt zero): that is
	// made a signed-in session only by the sign-in, which rotates it.
	StepUpOperatorSession(ctx context.Context, idHash, newHash string, at time.Time) error
	DeleteOperatorSession(ctx context.Context, idHash string) error
	DeleteExpiredOperatorSessions(ctx context.Context, now time.Time) (int64, error)

	// LockAccount locks an account: ErrConflict when it is locked already,
	// ErrNotFound for an unknown account.
	LockAccount(ctx context.Context, l *AccountLock) error
	// UnlockAccount removes the lock; ErrNotFound when there is none.
	UnlockAccount(ctx context.Context, accountID string) error
	// AccountLockOf returns the account's lock; ErrNotFound when unlocked.
	AccountLockOf(ctx context.Context, accountID string) (*AccountLock, error)

	// FindAccounts returns the accounts whose email starts with query, whose
	// name contains it, or that have an application or contract numbered
	// query (any case), by email, at most MaxFoundAccounts. A blank query
	// finds nothing.
	FindAccounts(ctx context.Context, query string) ([]Account, error)
	// ListAudit returns the events the filter selects, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}
