package store

import (
	"context"
	"time"
)

// RecoveryStatus is where a recovery request stands.
type RecoveryStatus string

// A request starts unconfirmed; its mail link makes it waiting; it ends
// cancelled (a second factor was used, "this was not me", a newer request)
// or completed (a sign-in after EffectiveAt enrolled anew).
const (
	RecoveryUnconfirmed RecoveryStatus = "unconfirmed"
	RecoveryWaiting     RecoveryStatus = "waiting"
	RecoveryCancelled   RecoveryStatus = "cancelled"
	RecoveryCompleted   RecoveryStatus = "completed"
)

// RecoveryRequest is a locked-out customer's request to drop the account's
// second factors: confirmed by a mail link, then waiting out a cooling-off
// period in which the customer's notices can cancel it.
type RecoveryRequest struct {
	ID        string
	AccountID string
	Status    RecoveryStatus
	// ConfirmTokenHash is the hash of the mail link's token; the link works
	// until ConfirmExpiresAt, once.
	ConfirmTokenHash string
	ConfirmExpiresAt time.Time
	CreatedAt        time.Time
	ConfirmedAt      time.Time
	// EffectiveAt is when a sign-in may enrol anew: ConfirmedAt plus the
	// cooling-off period, or earlier when an operator approved.
	EffectiveAt  time.Time
	CancelledAt  time.Time
	CancelReason string
	CompletedAt  time.Time
	// ApprovedBy is the operator who approved the request early, if one did.
	ApprovedBy string
}

// Open reports whether the request is unconfirmed or waiting.
func (r *RecoveryRequest) Open() bool {
	return r.Status == RecoveryUnconfirmed || r.Status == RecoveryWaiting
}

// RecoveryRequests stores recovery requests. An account has at most one
// open (unconfirmed or waiting) request.
type RecoveryRequests interface {
	// CreateRecoveryRequest stores r as unconfirmed. An unconfirmed request
	// of the account is cancelled for it ("superseded"); ErrConflict when the
	// account has a waiting one, ErrNotFound for an unknown account.
	CreateRecoveryRequest(ctx context.Context, r *RecoveryRequest) error
	// ConfirmRecoveryRequest moves the unconfirmed request of this token
	// hash, when its link is live at now, to waiting until now+coolingOff
	// and returns it; ErrNotFound otherwise (unknown, expired, or used).
	ConfirmRecoveryRequest(ctx context.Context, tokenHash string, now time.Time, coolingOff time.Duration) (*RecoveryRequest, error)
	// RecoveryRequestByToken returns the request ConfirmRecoveryRequest
	// would confirm at now, without confirming it, or the waiting request
	// its confirmation made (Status tells which); ErrNotFound otherwise.
	RecoveryRequestByToken(ctx context.Context, tokenHash string, now time.Time) (*RecoveryRequest, error)
	// PendingRecoveryOf returns the account's open request; ErrNotFound
	// when it has none.
	PendingRecoveryOf(ctx context.Context, accountID string) (*RecoveryRequest, error)
	// CancelRecovery cancels the account's open request with reason and
	// reports whether there was one.
	CancelRecovery(ctx context.Context, accountID, reason string, now time.Time) (bool, error)
	// ListPendingRecoveries returns the waiting requests and the unconfirmed
	// ones whose link is live at now, oldest first.
	ListPendingRecoveries(ctx context.Context, now time.Time) ([]RecoveryRequest, error)
	// ApproveRecoveryEarly makes the waiting request id effective at now
	// (unless it is already), records the operator, and returns it;
	// ErrNotFound when there is no such waiting request, ErrConflict when
	// it was approved already.
	ApproveRecoveryEarly(ctx context.Context, id, operator string, now time.Time) (*RecoveryRequest, error)
	// CompleteRecovery marks the waiting request id completed when it is
	// effective at now; ErrStale when it is not waiting or not yet
	// effective (cancelled, or completed by another sign-in), ErrNotFound
	// when there is no such request.
	CompleteRecovery(ctx context.Context, id string, now time.Time) error
}
