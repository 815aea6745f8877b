package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// liveAccount is account for the actions on an account: an erased one has
// nothing left to resend, lock or reset, and is answered 409.
func (s *Server) liveAccount(w http.ResponseWriter, r *http.Request, op *store.Operator) (*store.Account, bool) {
	a, ok := s.account(w, r)
	if ok && a.Erased() {
		s.showCustomer(w, r, op, a, http.StatusConflict, "error.erased")
		return nil, false
	}
	return a, ok
}

// erase erases the account (portal.Service.EraseAccount), for admins: the
// operator types the customer's address again, so that a slip of the
// mouse on the wrong customer erases nobody, and gives the reason.
func (s *Server) erase(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.adminOnly(w, r, op, store.ActionAccountErase) || !s.form(w, r) {
		return
	}
	a, ok := s.liveAccount(w, r, op)
	if !ok {
		return
	}
	if !strings.EqualFold(trim(r.PostForm.Get("confirm_email"), 254), a.Email) {
		s.showCustomer(w, r, op, a, http.StatusUnprocessableEntity, "erase.mismatch")
		return
	}
	// The portal refuses a reason over 200 characters; cut here, it was
	// stored cut.
	err := s.svc.EraseAccount(r.Context(), a.ID, actor(op), r.PostForm.Get("erase_reason"))
	switch {
	case errors.Is(err, portal.ErrEraseReason):
		s.showCustomer(w, r, op, a, http.StatusUnprocessableEntity, "erase.reason_required")
		return
	case errors.Is(err, store.ErrNotFound):
		// Erased meanwhile, by another operator or the command line.
		s.showCustomer(w, r, op, a, http.StatusConflict, "error.erased")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.done(w, r, op, customerPathFrom(a.ID, searchOf(r)), "erased")
}
