package console

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"time"

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
	// Back at the list, the hand-over is done: its page opens no more.
	s.setHandOver(w, "", -1)
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
	s.done(w, r, op, "/operators", "operator_disabled")
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
	s.done(w, r, op, "/operators", "operator_enabled")
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

// handOverPath is the page of what an admin hands an operator in person.
const handOverPath = "/operators/handover"

// handOverCookie carries the hand-over from the POST that made it to its
// page, sealed with the keyring for the admin who made it, and sent only
// to that page.
const handOverCookie = "tobira_console_handover"

// handOverTTL is how long the hand-over's page can be opened again (a
// reload, the language switch) before the admin goes back to the list.
const handOverTTL = 10 * time.Minute

// handOver is what the hand-over's page shows: whose it is, under which
// title, and what they are given.
type handOver struct {
	Operator string    `json:"operator"`
	Title    string    `json:"title"`
	Secret   string    `json:"secret,omitempty"`
	URI      string    `json:"uri,omitempty"`
	Password string    `json:"password,omitempty"`
	Until    time.Time `json:"until"`
}

// handOverAD binds a sealed hand-over to the admin it was made for.
func handOverAD(adminID string) string { return "console-handover:" + adminID }

// handOver sends the admin to the page of what they hand an operator in
// person: a new authenticator key (when n has one), a one-time password
// (when n has one), or both. The POST that made it is not answered with
// the page itself: a reload sent it again, which made another key or
// password and voided the one shown, or, for a new operator, answered
// that the address is taken, and the key and password were lost.
func (s *Server) handOver(w http.ResponseWriter, r *http.Request, op *store.Operator, title string, n *NewOperator) {
	h := handOver{Operator: n.Operator.ID, Title: title, Secret: n.TOTPSecret, URI: n.TOTPURI, Password: n.Password,
		Until: s.svc.Now().Add(handOverTTL)}
	b, err := json.Marshal(h)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.setHandOver(w, s.svc.Keys.Encrypt(string(b), handOverAD(op.ID)), handOverTTL)
	http.Redirect(w, r, handOverPath, http.StatusSeeOther)
}

func (s *Server) setHandOver(w http.ResponseWriter, value string, ttl time.Duration) {
	maxAge := int(ttl / time.Second)
	if ttl < 0 {
		maxAge = -1
	}
	http.SetCookie(w, &http.Cookie{Name: handOverCookie, Value: value, Path: handOverPath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// handOverPage shows the hand-over again for as long as it lasts, to the
// admin who made it only; otherwise it leads to the list of operators.
func (s *Server) handOverPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	// What is handed over is on this page only: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	h, ok := s.readHandOver(r, op)
	if !ok {
		s.setHandOver(w, "", -1)
		http.Redirect(w, r, "/operators", http.StatusSeeOther)
		return
	}
	t, err := s.ops.OperatorByID(r.Context(), h.Operator)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "operators.not_found")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	d := operatorKeyData{Operator: t, Password: h.Password}
	if h.Secret != "" {
		qr, err := webkit.QRDataURI(h.URI)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		d.Secret, d.QR = webkit.SpacedKey(h.Secret), qr
	}
	v := s.view(r, h.Title, op)
	v.Nav, v.Data = "operators", d
	s.render(w, r, http.StatusOK, "operator_key", v)
}

// readHandOver opens the browser's hand-over for op; ok is false when there
// is none, it was made for another admin, or it has run out.
func (s *Server) readHandOver(r *http.Request, op *store.Operator) (handOver, bool) {
	var h handOver
	c, err := r.Cookie(handOverCookie)
	if err != nil {
		return h, false
	}
	plain, err := s.svc.Keys.Decrypt(c.Value, handOverAD(op.ID))
	if err != nil || json.Unmarshal([]byte(plain), &h) != nil || !s.svc.Now().Before(h.Until) || op.Role != store.RoleAdmin {
		return handOver{}, false
	}
	return h, true
}
