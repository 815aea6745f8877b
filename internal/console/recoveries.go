package console

import (
	"errors"
	"net/http"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// recoveryRow is a pending recovery request with its customer.
type recoveryRow struct {
	store.RecoveryRequest
	Email, Name string
}

// Waiting tells whether the request's link was confirmed: only then may it
// be approved early.
func (r recoveryRow) Waiting() bool { return r.Status == store.RecoveryWaiting }

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
		row := recoveryRow{RecoveryRequest: q}
		if row.Email, row.Name, err = s.customerOf(ctx, q.AccountID); err != nil {
			s.internal(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	s.showQueue(w, r, op, "recoveries", rows, status, errKey)
}

// approveRecovery is 「本人確認のうえ早期承認」: the operator verified the
// customer, so the cooling-off period ends now. Both roles may. The reason
// says how the customer was verified; the portal records it in
// recovery.approve with the operator as actor and mails the customer.
func (s *Server) approveRecovery(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.form(w, r) {
		return
	}
	ctx := r.Context()
	// The portal refuses a reason over 200 characters; cut here, it was
	// stored cut.
	q, err := s.svc.ApproveRecoveryEarly(ctx, r.PathValue("id"), actor(op), r.PostForm.Get("reason"))
	switch {
	case errors.Is(err, portal.ErrApproveReason):
		s.showRecoveries(w, r, op, http.StatusUnprocessableEntity, "recoveries.reason_required")
		return
	case errors.Is(err, portal.ErrRecoveryApproved):
		s.showRecoveries(w, r, op, http.StatusConflict, "recoveries.already_approved")
		return
	case errors.Is(err, store.ErrNotFound):
		s.showRecoveries(w, r, op, http.StatusConflict, "recoveries.gone")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.log.Info("console: recovery approved early", "request", q.ID, "operator", op.Email)
	done(w, r, "/recoveries", "recovery_approved")
}
