package console

import (
	"context"
	"errors"
	"strings"

	"github.com/tobira/tobira/internal/store"
)

// A second-factor reset is approved as it was asked for. The approver
// reads the request (who asked, for which customer, why) and approves
// the factors the customer had then, lost with a device: when the
// customer has used or changed their second factor since, the premise
// no longer holds, and an approval would remove what the customer has in
// hand (a caller who claimed the loss may be someone else) and end their
// sessions. Nor is a request approved whose requester was disabled since
// (left, or was found to misuse the console): the approver relied on
// their word that the customer was who they said.

// outdatedReset is the outcome an approval refused for such a change
// records.
const outdatedReset = "outdated"

// secondFactorUse are the customer's events that prove, or change, their
// second factor: a code or the recovery code accepted, a factor enrolled,
// a reset done.
var secondFactorUse = []string{store.ActionMFATOTP, store.ActionMFAPhone, store.ActionMFARecovery,
	store.ActionMFAEnrol, store.ActionMFAReset}

// resetOutdated tells why op may not approve the open request id any more:
// a message key and a detail for the audit log, "" when nothing stands in
// the way. A request that is not open, or is op's own, is left for the
// store's decision to refuse (q is then nil).
func (s *Server) resetOutdated(ctx context.Context, op *store.Operator, id string) (q *store.ResetRequest, key, why string, err error) {
	list, err := s.svc.Store.ListOpenResetRequests(ctx)
	if err != nil {
		return nil, "", "", err
	}
	for i := range list {
		if list[i].ID == id {
			q = &list[i]
		}
	}
	if q == nil || q.RequestedBy == actor(op) {
		return nil, "", "", nil
	}
	gone, err := s.requesterGone(ctx, q.RequestedBy)
	if err != nil {
		return q, "", "", err
	}
	if gone {
		return q, "reset.requester_disabled", "request " + q.ID + ": " + q.RequestedBy + " disabled since the request", nil
	}
	for _, action := range secondFactorUse {
		evs, err := s.ops.ListAudit(ctx, store.AuditFilter{AccountID: q.AccountID, Action: action, Outcome: "ok",
			Since: q.RequestedAt, Limit: 1})
		if err != nil {
			return q, "", "", err
		}
		if len(evs) > 0 {
			return q, "reset.changed_since", "request " + q.ID + ": " + action + " since the request", nil
		}
	}
	return q, "", "", nil
}

// requesterGone tells whether the operator who asked is no longer an
// enabled operator.
func (s *Server) requesterGone(ctx context.Context, requestedBy string) (bool, error) {
	email, ok := strings.CutPrefix(requestedBy, "operator:")
	if !ok {
		return true, nil
	}
	o, err := s.ops.OperatorByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return o.Disabled, nil
}
