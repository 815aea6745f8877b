package store

import (
	"context"
	"fmt"
	"time"
)

// ResetDecision is what the second operator decided on a reset request,
// or on a proposal to approve a recovery request early.
type ResetDecision string

// A request is open while its Decision is empty.
const (
	ResetApproved ResetDecision = "approved"
	ResetRejected ResetDecision = "rejected"
	// ResetWithdrawn is the requester's own decision: they asked in error
	// (the wrong customer, or the customer found their device again).
	ResetWithdrawn ResetDecision = "withdrawn"
)

// Valid reports whether d is a decision: approved, rejected or withdrawn.
func (d ResetDecision) Valid() bool {
	return d == ResetApproved || d == ResetRejected || d == ResetWithdrawn
}

// ErrOwnResetRequest means an operator tried to decide a reset request they
// made themselves: four eyes need a second operator. It is ErrConflict.
var ErrOwnResetRequest = fmt.Errorf("%w: an operator cannot decide their own reset request", ErrConflict)

// ErrNotOwnResetRequest means an operator tried to withdraw a reset request
// another operator made: they reject it instead, which the requester sees.
// It is ErrConflict.
var ErrNotOwnResetRequest = fmt.Errorf("%w: only the requester can withdraw a reset request", ErrConflict)

// ResetRequest is an operator's request to reset a customer's second
// factors on their behalf. It takes effect only when a second operator
// approves it.
type ResetRequest struct {
	ID          string
	AccountID   string
	Reason      string
	RequestedBy string // the requesting operator, e.g. "operator:kim@tobira.example"
	RequestedAt time.Time
	DecidedBy   string
	DecidedAt   time.Time
	Decision    ResetDecision // empty while open
}

// Open reports whether the request waits for a decision.
func (r *ResetRequest) Open() bool { return r.Decision == "" }

// ResetRequests stores operators' second-factor reset requests. An account
// has at most one open request.
type ResetRequests interface {
	// CreateResetRequest stores r, open. ErrConflict when the account has
	// an open request already (or r's ID is taken), ErrNotFound for an
	// unknown account.
	CreateResetRequest(ctx context.Context, r *ResetRequest) error
	// OpenResetRequest returns the account's open request; ErrNotFound when
	// it has none.
	OpenResetRequest(ctx context.Context, accountID string) (*ResetRequest, error)
	// ResetRequestByID returns the request id, open or decided;
	// ErrNotFound for an unknown id.
	ResetRequestByID(ctx context.Context, id string) (*ResetRequest, error)
	// ListOpenResetRequests returns the open requests, oldest first.
	ListOpenResetRequests(ctx context.Context) ([]ResetRequest, error)
	// DecideResetRequest records operator's decision on the open request id
	// at now and returns it decided, in one transaction. ErrNotFound for an
	// unknown id, ErrStale when it is decided already; ErrOwnResetRequest
	// when operator approves or rejects their own request,
	// ErrNotOwnResetRequest when they withdraw another's.
	DecideResetRequest(ctx context.Context, id, operator string, decision ResetDecision, now time.Time) (*ResetRequest, error)
}
