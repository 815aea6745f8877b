package console

import (
	"errors"
	"net/http"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// An operator's password: their own change (「パスワードの変更」), which a
// one-time password an admin handed over makes the only page the console
// opens; and an admin's reset of another operator's, which ends their
// sessions and shows a one-time password once.

// passwordData refills nothing (passwords never go back to the browser):
// it says whether the change is the one the console asks for first.
type passwordData struct {
	Forced bool
	// Next is the page a forced change goes on to (nextField's), "" for
	// the customers page.
	Next string
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	s.showPassword(w, r, op, http.StatusOK, "")
}

func (s *Server) showPassword(w http.ResponseWriter, r *http.Request, op *store.Operator, status int, errMsg string) {
	v := s.view(r, "password.title", op)
	v.Nav, v.Error, v.Data = "password", errMsg, passwordData{Forced: op.MustChangePassword(), Next: nextField(r.FormValue("next"))}
	s.notice(r, v)
	s.render(w, r, status, "password", v)
}

// changePassword checks the current password (counted with the sign-in's
// attempts, so a session left open is no way to guess it) and stores the
// new one; the operator's other console sessions end, this one goes on
// under a new cookie.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.form(w, r) {
		return
	}
	ctx := r.Context()
	current, next, confirm := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("confirm")
	now := s.svc.Now()
	n, err := s.svc.Store.Hit(ctx, "console:password:"+op.Email, passwordWindow, now, 1)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if n > passwordAttempts {
		_, end := store.Window(now, passwordWindow)
		s.audit(ctx, r, actor(op), "", store.ActionOperatorPasswordChange, "locked", "")
		s.showPassword(w, r, op, http.StatusTooManyRequests, s.t(r, "login.throttled", s.view(r, "", op).Time(end)))
		return
	}
	ok, _, err := s.svc.Hasher.Verify(ctx, op.PasswordHash, current)
	if errors.Is(err, account.ErrBusy) {
		s.busy(w, r, "console:password:"+op.Email, now)
		s.showPassword(w, r, op, http.StatusServiceUnavailable, s.t(r, "error.busy"))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !ok {
		s.audit(ctx, r, actor(op), "", store.ActionOperatorPasswordChange, "fail", "current password")
		s.showPassword(w, r, op, http.StatusUnauthorized, s.t(r, "password.wrong_current"))
		return
	}
	if key := passwordProblem(next, confirm, current, op.Email); key != "" {
		s.showPassword(w, r, op, http.StatusUnprocessableEntity, s.t(r, key, account.MinPassword, account.MaxPassword))
		return
	}
	hash, err := s.svc.Hasher.Hash(ctx, next)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// This sign-in goes on under a new cookie, and every other session
	// ends: a copy of this browser's cookie, which may be why the
	// password is changed, opens nothing any more.
	var keep, token string
	_, ss := s.current(r)
	if ss != nil {
		token = secret.Token(32)
		next := *ss
		next.IDHash = secret.Hash(token)
		if err := s.ops.CreateOperatorSession(ctx, &next); err != nil {
			s.internal(w, r, err)
			return
		}
		keep = next.IDHash
	}
	if err := s.ops.SetOperatorPassword(ctx, op.ID, hash, time.Time{}, keep); err != nil {
		if keep != "" {
			_ = s.ops.DeleteOperatorSession(ctx, keep)
		}
		s.internal(w, r, err)
		return
	}
	if token != "" {
		s.setCookie(w, token, ss.CreatedAt.Add(SessionTTL).Sub(now))
	}
	// The right current password gives its attempt back, as at sign-in.
	_ = s.svc.Store.ResetLimit(ctx, "console:password:"+op.Email)
	s.audit(ctx, r, actor(op), "", store.ActionOperatorPasswordChange, "ok", "")
	s.done(w, r, op, returnPath(r.PostForm.Get("next")), "password_changed")
}

// passwordProblem is the message key of what is wrong with a new
// password, "" when nothing is.
func passwordProblem(next, confirm, current, email string) string {
	switch err := account.CheckPassword(next, email); {
	case errors.Is(err, account.ErrPasswordShort):
		return "password.short"
	case errors.Is(err, account.ErrPasswordLong):
		return "password.long"
	case errors.Is(err, account.ErrPasswordIsEmail):
		return "password.is_email"
	case errors.Is(err, account.ErrPasswordCommon):
		return "password.common"
	// Compared in their NFKC form, which is what is hashed: one typed
	// full-width and the other in ASCII are one password.
	case !account.SamePassword(next, confirm):
		return "password.mismatch"
	case account.SamePassword(next, current):
		return "password.same"
	}
	return ""
}

// resetOperatorPassword gives another operator a one-time password, shown
// once for the admin to hand over in person; the operator's sessions end,
// and their next sign-in asks for their own.
func (s *Server) resetOperatorPassword(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	t := s.target(w, r, op, store.ActionOperatorResetPassword)
	if t == nil {
		return
	}
	n, oneTime, err := SetOperatorPassword(r.Context(), s.svc, s.ops, t.Email, "", actor(op))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.handOver(w, r, op, "operators.password_title", &NewOperator{Operator: n, Password: oneTime})
}

// operatorForm is the new operator form as typed.
type operatorForm struct {
	Email, Name, Role string
}

func (s *Server) newOperatorPage(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.adminOnly(w, r, op, store.ActionOperatorCreate) {
		return
	}
	v := s.view(r, "operators.new_title", op)
	v.Nav, v.Data = "operators", operatorForm{Role: string(store.RoleSupport)}
	s.render(w, r, http.StatusOK, "operator_new", v)
}

// addOperator creates an operator with a one-time password and a new
// authenticator key, both shown once for the admin to hand over in person.
func (s *Server) addOperator(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !s.adminOnly(w, r, op, store.ActionOperatorCreate) || !s.form(w, r) {
		return
	}
	// As typed to the checks, shown again cut.
	email, name, role := r.PostForm.Get("email"), r.PostForm.Get("name"), r.PostForm.Get("role")
	f := operatorForm{Email: trim(email, 254), Name: trim(name, 200), Role: trim(role, 20)}
	n, err := AddOperator(r.Context(), s.svc, s.ops, email, name, store.OperatorRole(role), actor(op))
	var key string
	switch {
	case err == nil:
	case errors.Is(err, account.ErrBadEmail):
		key = "open.bad_email"
	case errors.Is(err, account.ErrNameChars):
		key = "open.bad_name_chars"
	case errors.Is(err, account.ErrBadName):
		key = "open.bad_name"
	case errors.Is(err, ErrBadRole):
		key = "operators.bad_role"
	case errors.Is(err, ErrOperatorTaken):
		key = "operators.taken"
	default:
		s.internal(w, r, err)
		return
	}
	if key != "" {
		v := s.view(r, "operators.new_title", op)
		v.Nav, v.Data, v.Error = "operators", f, s.t(r, key)
		s.render(w, r, http.StatusUnprocessableEntity, "operator_new", v)
		return
	}
	s.handOver(w, r, op, "operators.created_title", n)
}
