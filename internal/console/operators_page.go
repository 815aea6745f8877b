package console

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// operatorsData is the operators page: every operator, and which is the
// admin looking at it, whose own row offers nothing (an admin who disabled
// themselves, or reset their own authenticator, would be signed out).
type operatorsData struct {
	Operators []store.Operator
	Self      string
}

// operatorsPage lists the console's operators for admins, with what they
// may do to each: disable or enable, and give a new authenticator key.
func (s *Server) operatorsPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.adminOnly(w, r, op, store.ActionOperatorList) {
		return
	}
	s.showOperators(w, r, op, http.StatusOK, "")
}

func (s *Server) showOperators(w http.ResponseWriter, r *http.Request, op *store.Operator, status int, errMsg string) {
	list, err := s.ops.ListOperators(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.view(r, "operators.title", op)
	v.backTo(r, "/operators")
	v.Nav, v.Wide, v.Error = "operators", true, errMsg
	v.Data = operatorsData{Operators: list, Self: op.ID}
	s.notice(r, v)
	s.render(w, r, status, "operators", v)
}

// target is the operator a POST to /operators/{id}/... acts on, for an
// admin, never the admin themselves; nil after an answer was written.
func (s *Server) target(w http.ResponseWriter, r *http.Request, op *store.Operator, action string) *store.Operator {
	if !s.adminOnly(w, r, op, action) {
		return nil
	}
	t, err := s.ops.OperatorByID(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "operators.not_found")
		return nil
	case err != nil:
		s.internal(w, r, err)
		return nil
	case t.ID == op.ID:
		s.showOperators(w, r, op, http.StatusConflict, s.t(r, "operators.not_self"))
		return nil
	}
	return t
}

func (s *Server) disableOperator(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	t := s.target(w, r, op, store.ActionOperatorDisable)
	if t == nil {
		return
	}
	if _, err := DisableOperator(r.Context(), s.svc, s.ops, t.Email, actor(op)); errors.Is(err, ErrOperatorDisabled) {
		s.showOperators(w, r, op, http.StatusConflict, s.t(r, "operators.already_disabled"))
		return
	} else if errors.Is(err, store.ErrLastAdmin) {
		// Another admin disabled this one's actor meanwhile.
		s.showOperators(w, r, op, http.StatusConflict, s.t(r, "operators.last_admin"))
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	done(w, r, "/operators", "operator_disabled")
}

func (s *Server) enableOperator(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	t := s.target(w, r, op, store.ActionOperatorEnable)
	if t == nil {
		return
	}
	if _, err := EnableOperator(r.Context(), s.svc, s.ops, t.Email, actor(op)); errors.Is(err, ErrOperatorEnabled) {
		s.showOperators(w, r, op, http.StatusConflict, s.t(r, "operators.not_disabled"))
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	done(w, r, "/operators", "operator_enabled")
}

// operatorKeyData is what an operator is handed, shown once: a new
// authenticator key (Secret, QR), a one-time password, or both.
type operatorKeyData struct {
	Operator *store.Operator
	Secret   string
	QR       template.URL
	Password string
}

// resetOperator gives the operator a new authenticator key and shows it
// once, as a QR code and as text, for the admin to hand over in person;
// the operator's sessions end and the old key stops working.
func (s *Server) resetOperator(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	t := s.target(w, r, op, store.ActionOperatorReset2FA)
	if t == nil {
		return
	}
	n, err := ResetOperatorTOTP(r.Context(), s.svc, s.ops, t.Email, actor(op))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.handOver(w, r, op, "operators.key_title", n)
}

// handOver shows what an admin hands an operator in person, once: a new
// authenticator key (when n has one) as a QR code and as text, a one-time
// password (when n has one), or both.
func (s *Server) handOver(w http.ResponseWriter, r *http.Request, op *store.Operator, title string, n *NewOperator) {
	d := operatorKeyData{Operator: n.Operator, Password: n.Password}
	if n.TOTPSecret != "" {
		qr, err := webkit.QRDataURI(n.TOTPURI)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		d.Secret, d.QR = webkit.SpacedKey(n.TOTPSecret), qr
	}
	// What is handed over is on this page only: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	v := s.view(r, title, op)
	v.Nav, v.Data = "operators", d
	s.render(w, r, http.StatusOK, "operator_key", v)
}
