package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// reauthField is the confirmation page's code: a name no action's own form
// uses, so that what the action reads is what the operator sent it.
const reauthField = "reauth_code"

// signedInFresh is signedIn for the dangerous actions (erasing a customer,
// unlocking, approving a reset or a recovery, managing operators): they
// also need the session's second factor verified in the last
// console_reauth_after. A console sign-in lasts a working day, and an
// unlocked screen left alone or a stolen cookie should not be enough for
// these.
func (s *Server) signedInFresh(h func(http.ResponseWriter, *http.Request, *store.Operator)) http.HandlerFunc {
	return s.signedInAs(s.fresh(h))
}

// signedInAdminFresh is signedInFresh for an admin's action: a support
// operator is refused (adminOnly, recorded as action denied) before being
// asked for a code that could only be spent on a refusal.
func (s *Server) signedInAdminFresh(action string, h func(http.ResponseWriter, *http.Request, *store.Operator)) http.HandlerFunc {
	fresh := s.fresh(h)
	return s.signedInAs(func(w http.ResponseWriter, r *http.Request, op *store.Operator, ss *store.OperatorSession) {
		if s.adminOnly(w, r, op, action) {
			fresh(w, r, op, ss)
		}
	})
}

// fresh runs h at once when the session's code is recent; otherwise it
// answers with the confirmation page, which posts the form back with the
// code, and runs h when that code is right.
func (s *Server) fresh(h func(http.ResponseWriter, *http.Request, *store.Operator)) func(http.ResponseWriter, *http.Request, *store.Operator, *store.OperatorSession) {
	return func(w http.ResponseWriter, r *http.Request, op *store.Operator, ss *store.OperatorSession) {
		now := s.svc.Now()
		if now.Before(ss.MFAAt.Add(s.svc.Config.ConsoleReauthAfter.Duration)) {
			h(w, r, op)
			return
		}
		if !r.PostForm.Has(reauthField) {
			s.showReauth(w, r, op, http.StatusForbidden, "", time.Time{})
			return
		}
		code := r.PostForm.Get(reauthField)
		if strings.TrimFunc(code, unicode.IsSpace) == "" {
			// Sent without a code: nothing to check, nothing counted
			// toward the operator's lock.
			s.showReauth(w, r, op, http.StatusBadRequest, "reauth.empty", time.Time{})
			return
		}
		accountID := s.reauthAccount(r)
		until, err := s.checkCode(r, op, code, store.ActionConsoleReauth, accountID, r.URL.Path)
		switch {
		case errors.Is(err, errCodeLocked):
			s.showReauth(w, r, op, http.StatusTooManyRequests, "reauth.locked", until)
			return
		case errors.Is(err, errCodeWrong):
			key := "reauth.wrong"
			if !until.IsZero() {
				key = "reauth.locked"
			}
			s.showReauth(w, r, op, http.StatusUnprocessableEntity, key, until)
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
		// A step-up gives the session a new id, as a sign-in does: a
		// cookie copied before it does not carry the fresh code.
		ctx := r.Context()
		token := secret.Token(32)
		if err := s.ops.StepUpOperatorSession(ctx, ss.IDHash, secret.Hash(token), now); errors.Is(err, store.ErrNotFound) {
			// Signed out, or disabled, meanwhile: the code opens nothing,
			// and the sign-in says the action was not done.
			s.toSignIn(w, r)
			return
		} else if err != nil {
			s.internal(w, r, err)
			return
		}
		s.setCookie(w, token, max(ss.CreatedAt.Add(SessionTTL).Sub(now), time.Second))
		s.audit(ctx, r, actor(op), accountID, store.ActionConsoleReauth, "ok", r.URL.Path)
		r.PostForm.Del(reauthField)
		r.Form.Del(reauthField)
		h(w, r, op)
	}
}

// reauthAccount is the customer the action of r is on, for the audit
// events of its code, so that the customer's log lists an operator's
// attempts on them too: the account a customer's path names, or the
// account of the reset or recovery request decided. It is "" for an
// operator's action, and for an id that names no account.
func (s *Server) reauthAccount(r *http.Request) string {
	ctx, id := r.Context(), r.PathValue("id")
	switch p := r.URL.Path; {
	case id == "":
	case strings.HasPrefix(p, "/customers/"):
		if a, err := s.svc.Store.AccountByID(ctx, id); err == nil {
			return a.ID
		}
	case strings.HasPrefix(p, "/resets/"):
		return s.resetAccount(ctx, id)
	case strings.HasPrefix(p, "/recoveries/"):
		return s.recoveryAccount(ctx, id)
	}
	return ""
}

// reauthData is the confirmation page: where the form goes, what it
// carries of the form the operator sent, and where cancel leads.
type reauthData struct {
	Action string
	Fields []hiddenField
	Cancel string
}

type hiddenField struct{ Name, Value string }

// showReauth asks for the code again before the request's action; errKey
// says why the last code was refused ("" for none), until is when a
// closed code step opens again.
func (s *Server) showReauth(w http.ResponseWriter, r *http.Request, op *store.Operator, status int, errKey string, until time.Time) {
	d := reauthData{Action: r.URL.EscapedPath(), Cancel: cancelPath(r)}
	names := make([]string, 0, len(r.PostForm))
	for name := range r.PostForm {
		if name != reauthField {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		for _, value := range r.PostForm[name] {
			d.Fields = append(d.Fields, hiddenField{name, value})
		}
	}
	v := s.view(r, "reauth.title", op)
	// The language switch goes back to where cancel does: the POST's path
	// has no page to show.
	v.Path, v.Nav, v.Data = d.Cancel, navOf(d.Cancel), d
	if errKey != "" {
		v.Error = s.t(r, errKey, v.Time(until))
	}
	// The page carries what was typed in the form (a reason, an address).
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, "reauth", v)
}

// cancelPath is the page a dangerous action's form was on, from the
// action's path: the Referer may be missing or another page.
func cancelPath(r *http.Request) string {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/customers/") && r.PathValue("id") != "":
		return customerPathFrom(r.PathValue("id"), searchOf(r))
	case strings.HasPrefix(p, "/resets/"):
		return "/resets"
	case strings.HasPrefix(p, "/recoveries/"):
		return "/recoveries"
	case strings.HasPrefix(p, "/operators/"):
		return "/operators"
	}
	return "/"
}

// navOf is the nav entry of a page cancelPath names.
func navOf(path string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return name
}
