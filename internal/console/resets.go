package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// A second-factor reset on a customer's behalf takes two operators (four
// eyes): one asks, with a reason; another, of either role, approves or
// rejects. The store refuses a decision by the requester, who may only
// withdraw their request (asked in error, or the customer found their
// device again) while it is open. Only on approval
// are the factors removed, through the portal's OperatorResetMFA, which
// also ends the sessions, tells the sites and mails the customer.

// maxResetReason is the longest reason, in characters.
const maxResetReason = 200

func (s *Server) requestReset(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.form(w, r) {
		return
	}
	a, ok := s.liveAccount(w, r, op)
	if !ok {
		return
	}
	ctx := r.Context()
	reason, ok := field(r, "reset_reason", maxResetReason)
	if reason == "" || !ok {
		s.showCustomer(w, r, op, a, http.StatusUnprocessableEntity, "reset.reason_required")
		return
	}
	fs, err := s.svc.Store.FactorsOf(ctx, a.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if len(fs) == 0 {
		s.showCustomer(w, r, op, a, http.StatusConflict, "reset.no_factors")
		return
	}
	err = s.svc.Store.CreateResetRequest(ctx, &store.ResetRequest{ID: secret.ID(), AccountID: a.ID, Reason: reason,
		RequestedBy: actor(op), RequestedAt: s.svc.Now()})
	if errors.Is(err, store.ErrConflict) {
		s.audit(ctx, r, actor(op), a.ID, store.ActionResetRequest, "fail", "already open")
		s.showCustomer(w, r, op, a, http.StatusConflict, "reset.already_open")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(ctx, r, actor(op), a.ID, store.ActionResetRequest, "ok", reason)
	s.done(w, r, op, customerPathFrom(a.ID, searchOf(r)), "reset_requested")
}

// resetRow is an open request with its customer.
type resetRow struct {
	store.ResetRequest
	Email, Name string
	Own         bool // requested by the operator looking
}

// Anchor is the id of the request's row on the resets page, where its
// actions are: the customer's page links to it, as to a recovery
// request's (recoveryRow.Anchor).
func (r resetRow) Anchor() string { return "reset-" + r.ID }

func (s *Server) resetsPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.showResets(w, r, op, http.StatusOK, "")
}

func (s *Server) showResets(w http.ResponseWriter, r *http.Request, op *store.Operator, status int, errKey string) {
	ctx := r.Context()
	list, err := s.svc.Store.ListOpenResetRequests(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	rows := make([]resetRow, 0, len(list))
	for _, q := range list {
		row := resetRow{ResetRequest: q, Own: q.RequestedBy == actor(op)}
		if row.Email, row.Name, err = s.customerOf(ctx, q.AccountID); err != nil {
			s.internal(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	s.showQueue(w, r, op, "resets", rows, status, errKey)
}

// customerOf is the email and name of a request's customer; empty where the
// account is gone (erased since), so the request still shows.
func (s *Server) customerOf(ctx context.Context, accountID string) (email, name string, err error) {
	a, err := s.svc.Store.AccountByID(ctx, accountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", "", nil
	case err != nil:
		return "", "", err
	}
	return a.Email, a.Name, nil
}

// showQueue renders a page of requests waiting for operators (resets,
// recoveries): page names the template, the title's message and the menu
// entry; errKey, if any, is the message of a decision refused.
func (s *Server) showQueue(w http.ResponseWriter, r *http.Request, op *store.Operator, page string, rows any, status int, errKey string) {
	v := s.view(r, page+".title", op)
	v.backTo(r, "/"+page)
	v.Nav, v.Wide, v.Data = page, true, rows
	s.notice(r, v)
	if errKey != "" {
		v.Error = s.t(r, errKey)
	}
	s.render(w, r, status, page, v)
}

func (s *Server) approveReset(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.decideReset(w, r, op, store.ResetApproved)
}

func (s *Server) rejectReset(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.decideReset(w, r, op, store.ResetRejected)
}

func (s *Server) withdrawReset(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.decideReset(w, r, op, store.ResetWithdrawn)
}

// resetActions are the audit actions of the decisions.
var resetActions = map[store.ResetDecision]string{
	store.ResetApproved:  store.ActionResetApprove,
	store.ResetRejected:  store.ActionResetReject,
	store.ResetWithdrawn: store.ActionResetWithdraw,
}

func (s *Server) decideReset(w http.ResponseWriter, r *http.Request, op *store.Operator, decision store.ResetDecision) {
	ctx := r.Context()
	action := resetActions[decision]
	id := r.PathValue("id")
	var q *store.ResetRequest
	var err error
	if decision == store.ResetApproved {
		// The decision and the reset are one (resetcheck.go: no approval
		// of a request the account outgrew).
		q, err = s.svc.ApproveReset(ctx, id, s.event(r, actor(op), action, "ok"), vetReset)
	} else {
		q, err = s.svc.Store.DecideResetRequest(ctx, id, actor(op), decision, s.svc.Now())
	}
	var outdated *errOutdated
	switch {
	case errors.As(err, &outdated):
		s.audit(ctx, r, actor(op), s.resetAccount(ctx, id), action, outdatedReset, outdated.why)
		s.showResets(w, r, op, http.StatusConflict, outdated.key)
		return
	case errors.Is(err, store.ErrOwnResetRequest), errors.Is(err, store.ErrNotOwnResetRequest):
		key, why := "reset.own_request", "own request "
		if errors.Is(err, store.ErrNotOwnResetRequest) {
			key, why = "reset.not_own_request", "another's request "
		}
		s.audit(ctx, r, actor(op), s.resetAccount(ctx, id), action, "denied", why+id)
		s.showResets(w, r, op, http.StatusForbidden, key)
		return
	case errors.Is(err, store.ErrStale):
		// Another operator decided it first (two tabs, two operators).
		s.audit(ctx, r, actor(op), s.resetAccount(ctx, id), action, "stale", "request "+id+" decided already")
		s.showResets(w, r, op, http.StatusConflict, "reset.decided")
		return
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "reset.not_found")
		return
	case err != nil:
		if decision == store.ResetApproved {
			// Nothing was decided nor reset: the request stays open for
			// another try; the audit log says the attempt failed.
			s.audit(ctx, r, actor(op), s.resetAccount(ctx, id), action, "fail", "request "+id)
		}
		s.internal(w, r, err)
		return
	}
	switch decision {
	case store.ResetApproved:
		// The approval's event was recorded with the reset.
		s.done(w, r, op, "/resets", "reset_approved")
		return
	case store.ResetRejected:
		s.audit(ctx, r, actor(op), q.AccountID, action, "ok", "request "+q.ID+" by "+q.RequestedBy+": "+q.Reason)
		s.done(w, r, op, "/resets", "reset_rejected")
		return
	}
	s.audit(ctx, r, actor(op), q.AccountID, action, "ok", "request "+q.ID+" by "+q.RequestedBy+": "+q.Reason)
	s.done(w, r, op, customerPathFrom(q.AccountID, searchOf(r)), "reset_withdrawn")
}

// resetAccount is the account of the reset request id, for an audit event
// of a decision refused; "" when it is not found.
func (s *Server) resetAccount(ctx context.Context, id string) string {
	q, err := s.svc.Store.ResetRequestByID(ctx, id)
	if err != nil {
		return ""
	}
	return q.AccountID
}
