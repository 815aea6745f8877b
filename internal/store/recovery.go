package store

import (
	"context"
	"fmt"
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
	// ProposedBy is the operator who verified the customer and proposed to
	// end the period early, when, and how they verified them
	// (ProposedReason). The proposal is open while ApprovedBy is empty; a
	// rejection or withdrawal clears it, an approval keeps it.
	ProposedBy     string
	ProposedAt     time.Time
	ProposedReason string
	// ApprovedBy is the second operator, who approved the proposal, if one
	// did (or, for a request approved before proposals, the one operator
	// who approved it).
	ApprovedBy string
}

// Proposed reports whether an early approval waits for a second operator.
func (r *RecoveryRequest) Proposed() bool { return r.ProposedBy != "" && r.ApprovedBy == "" }

// WaitOver reports whether the waiting request's period ran out by now
// without an early approval. The request still waits, and stays listed,
// until the customer's next sign-in, which drops the second factors and
// enrols anew (as it does once approved); nobody is mailed when the period
// ends (the mail of the confirmation named the time). An early approval
// would end nothing, so none is proposed or decided on such a request.
func (r *RecoveryRequest) WaitOver(now time.Time) bool {
	return r.Status == RecoveryWaiting && r.ApprovedBy == "" && !r.EffectiveAt.After(now)
}

// Errors of an early approval's two steps (ProposeRecoveryApproval,
// DecideRecoveryProposal).
var (
	// ErrRecoveryNotWaiting means the request is not waiting: its link is
	// not confirmed yet, or the customer cancelled it (a second factor
	// used, "this was not me") or completed it. A proposal on it is void.
	// It is ErrStale.
	ErrRecoveryNotWaiting = fmt.Errorf("%w: the recovery request is not waiting", ErrStale)
	// ErrRecoveryWaitOver means the request's waiting period ran out
	// without an early approval (RecoveryRequest.WaitOver): the next
	// sign-in enrols anew, and an early approval, or a decision on a
	// proposal of one, has nothing left to end. It is ErrStale.
	ErrRecoveryWaitOver = fmt.Errorf("%w: the recovery request's waiting period is over", ErrStale)
	// ErrRecoveryProposed means an early approval of the request waits for
	// a second operator already. It is ErrConflict.
	ErrRecoveryProposed = fmt.Errorf("%w: an early approval of the recovery request is proposed already", ErrConflict)
	// ErrRecoveryApproved means the request was approved early already.
	// It is ErrConflict.
	ErrRecoveryApproved = fmt.Errorf("%w: the recovery request was approved early already", ErrConflict)
	// ErrOwnRecoveryProposal means an operator tried to approve or reject
	// the early approval they proposed: four eyes need a second operator.
	// It is ErrConflict.
	ErrOwnRecoveryProposal = fmt.Errorf("%w: an operator cannot decide their own proposal", ErrConflict)
	// ErrNotOwnRecoveryProposal means an operator tried to withdraw another
	// operator's proposal: they reject it instead. It is ErrConflict.
	ErrNotOwnRecoveryProposal = fmt.Errorf("%w: only the proposer can withdraw a proposal", ErrConflict)
)

// Open reports whether the request is unconfirmed or waiting.
func (r *RecoveryRequest) Open() bool {
	return r.Status == RecoveryUnconfirmed || r.Status == RecoveryWaiting
}

// Pending reports whether the request waits for something at now: it is
// waiting, or unconfirmed with its link still live. An open request whose
// link expired unconfirmed waits for nothing: the customer asks anew.
// These are the requests ListPendingRecoveries lists.
func (r *RecoveryRequest) Pending(now time.Time) bool {
	return r.Status == RecoveryWaiting || (r.Status == RecoveryUnconfirmed && r.ConfirmExpiresAt.After(now))
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
	// RecoveryRequestByID returns the request id, whatever its status;
	// ErrNotFound for an unknown id.
	RecoveryRequestByID(ctx context.Context, id string) (*RecoveryRequest, error)
	// CancelRecovery cancels the account's open request with reason and
	// reports whether there was one.
	CancelRecovery(ctx context.Context, accountID, reason string, now time.Time) (bool, error)
	// ListPendingRecoveries returns the waiting requests and the unconfirmed
	// ones whose link is live at now, oldest first.
	ListPendingRecoveries(ctx context.Context, now time.Time) ([]RecoveryRequest, error)
	// ProposeRecoveryApproval records operator's proposal, at now, to end
	// the waiting request id's period early, with reason (how they verified
	// the customer), and returns the request; the period goes on until a
	// second operator approves (DecideRecoveryProposal). ErrNotFound for an
	// unknown id, ErrRecoveryNotWaiting when it is not waiting,
	// ErrRecoveryApproved when it was approved already, ErrRecoveryWaitOver
	// when its period is over at now, ErrRecoveryProposed when a proposal
	// is open.
	ProposeRecoveryApproval(ctx context.Context, id, operator, reason string, now time.Time) (*RecoveryRequest, error)
	// DecideRecoveryProposal records operator's decision at now on the open
	// proposal of the waiting request id made at proposedAt (the one the
	// operator read), in one transaction, and returns
	// the request: approved, as it is now, effective at now (its period
	// still ran) with ApprovedBy set; rejected or withdrawn, as it was, naming
	// the proposal decided, which is cleared: the request waits as before,
	// and may be proposed again. ErrNotFound for an unknown id,
	// ErrRecoveryNotWaiting when the request is not waiting, ErrStale when
	// it has no open proposal made at proposedAt (decided already, withdrawn
	// and made again since, or never proposed), ErrRecoveryWaitOver when
	// the period ran out at now before any approval (the proposal lapsed:
	// it is neither approved, rejected nor withdrawn);
	// ErrOwnRecoveryProposal when operator approves or rejects their own
	// proposal, ErrNotOwnRecoveryProposal when they withdraw another's.
	DecideRecoveryProposal(ctx context.Context, id string, proposedAt time.Time, operator string, decision ResetDecision, now time.Time) (*RecoveryRequest, error)
	// CompleteRecovery marks the waiting request id completed when it is
	// effective at now; ErrStale when it is not waiting or not yet
	// effective (cancelled, or completed by another sign-in), ErrNotFound
	// when there is no such request.
	CompleteRecovery(ctx context.Context, id string, now time.Time) error
}
