package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// An early approval of a recovery request takes two operators (four eyes),
// as a reset on a customer's behalf does, for it has the same effect:
// whoever holds the password enrols their own factor at the next sign-in.
// One operator, having verified the customer, proposes it with how
// (「本人確認のうえ早期承認を依頼」); another, of either role, approves it, and
// only then does the cooling-off period end and the customer hear of it.
// The store refuses a decision by the proposer, who may only withdraw
// their proposal; another operator rejects it instead. A proposal is void
// once the customer cancelled the request, and is approved no more once
// its proposer was disabled.

// recoveryRow is a pending recovery request with its customer.
type recoveryRow struct {
	store.RecoveryRequest
	Email, Name string
	Own         bool // proposed by the operator looking
	// WaitOver says the period ran out, as the page was made, without an
	// early approval (store.RecoveryRequest.WaitOver): the customer enrols
	// anew at their next sign-in, and no early approval is offered.
	WaitOver bool
}

// recoveryRow is q, of the customer email and name, as op sees it now.
func (s *Server) recoveryRow(q store.RecoveryRequest, email, name string, op *store.Operator) recoveryRow {
	return recoveryRow{RecoveryRequest: q, Email: email, Name: name, Own: q.ProposedBy == actor(op), WaitOver: q.WaitOver(s.svc.Now())}
}

// Waiting tells whether the request's link was confirmed: only then may it
// be approved early.
func (r recoveryRow) Waiting() bool { return r.Status == store.RecoveryWaiting }

// RecoveryState is how a pending recovery request stands, in lines, as the
// recoveries page and the customer's page show it: its status, 「承認済み
// (次回ログインで再登録)」 once approved early, and then who approved it,
// 「待機期間終了 (次回ログインで再登録)」 once its period ran out without an
// approval (it still waits, listed, for the next sign-in), or the open
// proposal of an early approval: who made it, when (lapsed once the period
// ran out), and the identity check they did.
func (v *view) RecoveryState(q recoveryRow) []string {
	status := v.Status("recoveries.status.", q.Status)
	proposed := "recoveries.proposed"
	if q.WaitOver {
		status, proposed = v.T("recoveries.status.wait_over"), "recoveries.proposed_lapsed"
	}
	switch {
	case q.ApprovedBy != "" && q.ProposedBy != "":
		return []string{v.T("recoveries.status.approved"), v.T("recoveries.approved_by_two", v.Actor(q.ProposedBy), v.Actor(q.ApprovedBy))}
	case q.ApprovedBy != "":
		// Approved by one operator, before proposals.
		return []string{v.T("recoveries.status.approved"), v.T("recoveries.approved_by", v.Actor(q.ApprovedBy))}
	case q.ProposedBy != "":
		return []string{status, v.T(proposed, v.Actor(q.ProposedBy), v.Time(q.ProposedAt)), v.T("recoveries.proposed_reason", q.ProposedReason)}
	}
	return []string{status}
}

// Anchor is the id of the request's row on the recoveries page, where its
// actions are: the customer's page links to it.
func (r recoveryRow) Anchor() string { return "recovery-" + r.ID }

// recoveriesData is the recoveries page's list, and Back: the customer's
// page it was opened from (its link there carries ?from= and the page's
// search), for 「← 顧客に戻る」; "" for none.
type recoveriesData struct {
	Rows []recoveryRow
	Back string
}

func (s *Server) recoveriesPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.showRecoveries(w, r, op, http.StatusOK, "")
}

func (s *Server) showRecoveries(w http.ResponseWriter, r *http.Request, op *store.Operator, status int, errKey string) {
	ctx := r.Context()
	list, err := s.svc.PendingRecoveries(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	rows := make([]recoveryRow, 0, len(list))
	for _, q := range list {
		email, name, err := s.customerOf(ctx, q.AccountID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		rows = append(rows, s.recoveryRow(q, email, name, op))
	}
	d := recoveriesData{Rows: rows}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		query := r.URL.Query()
		d.Back, _ = customerPageOf(query.Get("from"), trim(query.Get("q"), maxQuery))
	}
	s.showQueue(w, r, op, "recoveries", d, status, errKey)
}

// proposeRecovery is 「本人確認のうえ早期承認を依頼」: the operator verified the
// customer and proposes to end the cooling-off period; the portal records
// the proposal, with the reason (how the customer was verified), in
// recovery.propose. Both roles may.
func (s *Server) proposeRecovery(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.form(w, r) {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	// The portal refuses a reason over 200 characters.
	_, err := s.svc.ProposeRecoveryApproval(ctx, id, actor(op), r.PostForm.Get("reason"))
	switch {
	case errors.Is(err, portal.ErrApproveReason):
		s.showRecoveries(w, r, op, http.StatusUnprocessableEntity, "recoveries.reason_required")
		return
	case errors.Is(err, store.ErrRecoveryProposed):
		// Another operator proposed it first (two operators on the phone
		// with one customer, or two tabs).
		s.audit(ctx, r, actor(op), s.recoveryAccount(ctx, id), store.ActionRecoveryPropose, "fail", "request "+id+" proposed already")
		s.showRecoveries(w, r, op, http.StatusConflict, "recoveries.already_proposed")
		return
	case errors.Is(err, store.ErrRecoveryApproved):
		s.showRecoveries(w, r, op, http.StatusConflict, "recoveries.already_approved")
		return
	case errors.Is(err, store.ErrRecoveryWaitOver):
		// The page was opened before the period ran out: the next sign-in
		// enrols anew without an approval.
		s.showRecoveries(w, r, op, http.StatusConflict, "recoveries.wait_over")
		return
	case errors.Is(err, store.ErrRecoveryNotWaiting), errors.Is(err, store.ErrNotFound):
		s.showRecoveries(w, r, op, http.StatusConflict, "recoveries.gone")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.log.Info("console: early recovery approval proposed", "request", id, "operator", op.Email)
	s.done(w, r, op, "/recoveries", "recovery_proposed")
}

func (s *Server) approveRecovery(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.decideRecovery(w, r, op, store.ResetApproved)
}

func (s *Server) rejectRecovery(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.decideRecovery(w, r, op, store.ResetRejected)
}

func (s *Server) withdrawRecovery(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.decideRecovery(w, r, op, store.ResetWithdrawn)
}

// recoveryActions are the audit actions of the decisions on a proposal.
var recoveryActions = map[store.ResetDecision]string{
	store.ResetApproved:  store.ActionRecoveryApprove,
	store.ResetRejected:  store.ActionRecoveryReject,
	store.ResetWithdrawn: store.ActionRecoveryWithdraw,
}

// recoveryNotices are the pages' notices of the decisions.
var recoveryNotices = map[store.ResetDecision]string{
	store.ResetApproved:  "recovery_approved",
	store.ResetRejected:  "recovery_rejected",
	store.ResetWithdrawn: "recovery_withdrawn",
}

// decideRecovery is a decision on the proposal of the request in the path,
// refused (and recorded so) as decideReset refuses one on a reset request.
func (s *Server) decideRecovery(w http.ResponseWriter, r *http.Request, op *store.Operator, decision store.ResetDecision) {
	if !s.form(w, r) {
		return
	}
	ctx := r.Context()
	action := recoveryActions[decision]
	id := r.PathValue("id")
	// The form names the proposal the operator read (its time), so that
	// their decision is on that one and no other: one withdrawn and made
	// again since, by another operator or with another check, is stale.
	// The page's buttons always carry it: a form without it, or with what
	// is no time, was not sent by them, and is refused as such (not as
	// decided already, which would be untrue) and not recorded.
	ms, err := strconv.ParseInt(r.PostForm.Get("proposal"), 10, 64)
	if err != nil || ms <= 0 {
		s.showRecoveries(w, r, op, http.StatusBadRequest, "recoveries.bad_proposal")
		return
	}
	proposedAt := time.UnixMilli(ms)
	var q *store.RecoveryRequest
	if decision == store.ResetApproved {
		// The decision, the check of its proposer, its event and the
		// customer's mail are one (portal.ApproveRecoveryEarly).
		q, err = s.svc.ApproveRecoveryEarly(ctx, id, proposedAt, actor(op))
	} else {
		q, err = s.svc.Store.DecideRecoveryProposal(ctx, id, proposedAt, actor(op), decision, s.svc.Now())
	}
	refused := func(status int, outcome, why, key string) {
		s.audit(ctx, r, actor(op), s.recoveryAccount(ctx, id), action, outcome, "request "+id+": "+why)
		s.showRecoveries(w, r, op, status, key)
	}
	switch {
	case errors.Is(err, portal.ErrProposerDisabled):
		refused(http.StatusConflict, outdatedReset, "proposer disabled since the proposal", "recoveries.proposer_disabled")
		return
	case errors.Is(err, store.ErrOwnRecoveryProposal):
		refused(http.StatusForbidden, "denied", "own proposal", "recoveries.own_proposal")
		return
	case errors.Is(err, store.ErrNotOwnRecoveryProposal):
		refused(http.StatusForbidden, "denied", "another's proposal", "recoveries.not_own_proposal")
		return
	case errors.Is(err, store.ErrRecoveryNotWaiting):
		// The customer cancelled the request (a second factor used, "this
		// was not me"), or it completed: the proposal is void.
		refused(http.StatusConflict, "stale", "the request is no longer waiting", "recoveries.void")
		return
	case errors.Is(err, store.ErrRecoveryWaitOver):
		// The period ran out before the decision: the proposal lapsed, and
		// the next sign-in enrols anew without it.
		refused(http.StatusConflict, "stale", "the waiting period is over", "recoveries.wait_over")
		return
	case errors.Is(err, store.ErrStale):
		// Another operator decided it first (two tabs, two operators), or
		// its proposer withdrew it (and perhaps proposed it again).
		refused(http.StatusConflict, "stale", "no open proposal", "recoveries.decided")
		return
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "recoveries.not_found")
		return
	case err != nil:
		if decision == store.ResetApproved {
			// Nothing was approved: the proposal stays open for another
			// try; the audit log says the attempt failed.
			s.audit(ctx, r, actor(op), s.recoveryAccount(ctx, id), action, "fail", "request "+id)
		}
		s.internal(w, r, err)
		return
	}
	if decision != store.ResetApproved {
		// The approval's event was recorded with it.
		s.audit(ctx, r, actor(op), q.AccountID, action, "ok", portal.ProposalDetail(q))
	}
	s.log.Info("console: early recovery approval decided", "request", q.ID, "decision", decision, "operator", op.Email)
	s.done(w, r, op, "/recoveries", recoveryNotices[decision])
}

// recoveryAccount is the account of the recovery request id, for an audit
// event of a step refused; "" when it is not found.
func (s *Server) recoveryAccount(ctx context.Context, id string) string {
	q, err := s.svc.Store.RecoveryRequestByID(ctx, id)
	if err != nil {
		return ""
	}
	return q.AccountID
}
