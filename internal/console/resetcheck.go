package console

import (
	"context"

	"github.com/tobira/tobira/internal/portal"
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

// errOutdated is an approval refused because the request no longer holds:
// key is the operator's message, why the audit log's detail.
type errOutdated struct{ key, why string }

func (e *errOutdated) Error() string { return "console: reset request outdated: " + e.why }

// vetReset refuses, with an *errOutdated, the approval of q when its
// requester was disabled since or the customer has used or changed their
// second factor since it was asked for. It reads through st, the
// approval's own transaction (portal.ApproveReset), so that neither can
// change between this check and the reset.
func vetReset(ctx context.Context, st store.Store, q *store.ResetRequest) error {
	gone, err := portal.OperatorGone(ctx, st, q.RequestedBy)
	if err != nil {
		return err
	}
	if gone {
		return &errOutdated{"reset.requester_disabled", "request " + q.ID + ": " + q.RequestedBy + " disabled since the request"}
	}
	for _, action := range secondFactorUse {
		evs, err := st.ListAudit(ctx, store.AuditFilter{AccountID: q.AccountID, Action: action, Outcome: "ok",
			Since: q.RequestedAt, Limit: 1})
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			return &errOutdated{"reset.changed_since", "request " + q.ID + ": " + action + " since the request"}
		}
	}
	return nil
}
