package console

import (
	"errors"
	"net/http"
	"slices"

	"github.com/tobira/tobira/internal/maintenance"
	"github.com/tobira/tobira/internal/store"
)

// The actions a stray click must not take (approving a reset or a
// recovery, proposing a recovery's early approval, cancelling maintenance,
// disabling an operator, a new authenticator key or password) ask first,
// with or without script. Their forms post to the action as before; the
// action runs only for a form that carries confirmField, which the
// confirmation page posts, and which console.js adds once its quicker
// dialog (the form's data-confirm) was answered yes. A form without it
// (script off, or blocked) gets the confirmation page: what will happen,
// in the dialog's words, a button that posts the same form again with the
// field, and a way back. This follows the customer's own reset, whose
// confirmation is a page of its own without script.
//
// An action that also asks for the code again (signedInFresh) asks that
// first: the code page carries the form, confirmField or not, as it is.

// confirmField is the field only a confirmation sends: a name no action's
// form has otherwise.
const confirmField = "confirmed"

// question is what a confirmation page asks: Text says what will happen;
// Button is the message key of the action's own label (the button the
// form had).
type question struct{ Text, Button string }

// An asker is the question of r's action, in v's language; a goneError
// when its record is not found, errSettled when it is past the action.
type asker func(r *http.Request, v *view) (question, error)

// errSettled says an action's record is in a state it leaves no more (a
// reset request decided, a recovery request cancelled, completed, approved
// or past its wait, a maintenance window cancelled or over): the action
// refuses it whatever the answer, and says why, which a question would
// only put off. As the state is final, it is still so when the action
// reads it again.
var errSettled = errors.New("console: the action's record is settled")

// goneError says an action's record is not found; key is the message.
type goneError struct{ key string }

func (e *goneError) Error() string { return "console: " + e.key }

// confirmData is the confirmation page: the question, where the form
// goes, what it carries of the form the operator sent, and where the way
// back leads.
type confirmData struct {
	question
	Action string
	Fields []hiddenField
	Cancel string
}

// asking runs h for a form sent from a confirmation, and answers any other
// with the confirmation page that ask words.
func (s *Server) asking(ask asker, h func(http.ResponseWriter, *http.Request, *store.Operator)) func(http.ResponseWriter, *http.Request, *store.Operator) {
	return func(w http.ResponseWriter, r *http.Request, op *store.Operator) {
		if r.PostForm.Get(confirmField) == "1" {
			h(w, r, op)
			return
		}
		d := confirmData{Action: r.URL.EscapedPath(), Cancel: formPage(r)}
		v := s.view(r, "confirmpage.title", op)
		q, err := ask(r, v)
		var gone *goneError
		switch {
		case errors.As(err, &gone):
			s.fail(w, r, http.StatusNotFound, gone.key)
			return
		case errors.Is(err, errSettled):
			h(w, r, op)
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
		d.question = q
		d.Button = v.T(q.Button)
		names := make([]string, 0, len(r.PostForm))
		for name := range r.PostForm {
			if name != confirmField && name != reauthField {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			for _, value := range r.PostForm[name] {
				d.Fields = append(d.Fields, hiddenField{name, value})
			}
		}
		// The language switch reloads the page of the form: the POST's
		// address has none to show.
		v.Path, v.Nav, v.Data = d.Cancel, navOf(d.Cancel), d
		// The page carries what was typed in the form (a reason).
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, r, http.StatusOK, "confirm", v)
	}
}

// adminFirst refuses a support operator an admin's action before it asks
// anything: a question whose answer can only be a refusal is none.
func (s *Server) adminFirst(action string, h func(http.ResponseWriter, *http.Request, *store.Operator)) func(http.ResponseWriter, *http.Request, *store.Operator) {
	return func(w http.ResponseWriter, r *http.Request, op *store.Operator) {
		if s.adminOnly(w, r, op, action) {
			h(w, r, op)
		}
	}
}

// askApproveReset: 「承認」 of a reset request.
func (s *Server) askApproveReset(r *http.Request, v *view) (question, error) {
	q, err := s.svc.Store.ResetRequestByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return question{}, &goneError{"reset.not_found"}
	}
	if err != nil {
		return question{}, err
	}
	if !q.Open() {
		return question{}, errSettled
	}
	email, _, err := s.customerOf(r.Context(), q.AccountID)
	return question{v.T("confirm.approve_reset", or(email, q.AccountID)), "resets.approve"}, err
}

// askProposeRecovery: 「本人確認のうえ早期承認を依頼」 of a recovery request.
func (s *Server) askProposeRecovery(r *http.Request, v *view) (question, error) {
	q, email, err := s.recoveryFor(r)
	return question{v.T("confirm.approve_recovery", or(email, q.AccountID)), "recoveries.approve"}, err
}

// askApproveRecovery: 「早期承認を承認」 of another operator's proposal.
func (s *Server) askApproveRecovery(r *http.Request, v *view) (question, error) {
	q, email, err := s.recoveryFor(r)
	return question{v.T("confirm.approve_recovery_proposal", or(email, q.AccountID), v.Actor(q.ProposedBy)),
		"recoveries.approve_proposal"}, err
}

// recoveryFor is the recovery request of r's path and its customer's email.
func (s *Server) recoveryFor(r *http.Request) (*store.RecoveryRequest, string, error) {
	q, err := s.svc.Store.RecoveryRequestByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return &store.RecoveryRequest{}, "", &goneError{"recoveries.gone"}
	}
	if err != nil {
		return &store.RecoveryRequest{}, "", err
	}
	if !q.Open() || q.ApprovedBy != "" || q.WaitOver(s.svc.Now()) {
		return q, "", errSettled
	}
	email, _, err := s.customerOf(r.Context(), q.AccountID)
	return q, email, err
}

// askCancelMaintenance: 「中止」 of a maintenance window.
func (s *Server) askCancelMaintenance(r *http.Request, v *view) (question, error) {
	// Past windows too: one cancelled or over is settled, not gone.
	ws, err := s.sched.List(r.Context(), true)
	if err != nil {
		return question{}, err
	}
	for _, win := range ws {
		switch {
		case win.ID != r.PathValue("id"):
			continue
		case !win.CancelledAt.IsZero() || !s.svc.Now().Before(win.End):
			return question{}, errSettled
		}
		return question{v.T("confirm.cancel_maintenance", maintenance.Span(win, v.Lang)), "maintenance.cancel"}, nil
	}
	return question{}, &goneError{"maintenance.not_found"}
}

// askOperator is the question of an admin's action on another operator:
// text is its message, which names the operator, button its label's key.
func (s *Server) askOperator(text, button string) asker {
	return func(r *http.Request, v *view) (question, error) {
		t, err := s.ops.OperatorByID(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			return question{}, &goneError{"operators.not_found"}
		}
		if err != nil {
			return question{}, err
		}
		return question{v.T(text, t.Name, t.Email), button}, nil
	}
}

// or is a, or b when a is empty, as the templates' or.
func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
