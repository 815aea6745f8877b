package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// loginData is the sign-in's pages' own: the address typed, and the page
// to return to once signed in (returnPath's, "" for none given).
type loginData struct{ Email, Next string }

// loginReasons are the notices the sign-in page shows for its ?e=: the
// sign-in ended (the idle timeout, an admin's action, a sign-out in another
// tab) while the operator was at a page, or while they sent a form, which
// was not acted on; or the operator was changed (disabled, given a new
// password or key) between the password and the code. None reports an
// action, so, unlike an action's notice (flash.go), the address may carry
// them: at worst a link shows one to an operator who was not signed in. They are shown as what went
// wrong, as the portal's are, not in the green of a notice that something
// was done: a form sent then was not acted on.
var loginReasons = map[string]string{"ended": "login.session_ended", "not_done": "login.not_done",
	"changed": "login.operator_changed"}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if op, _ := s.current(r); op != nil {
		http.Redirect(w, r, returnPath(next), http.StatusSeeOther)
		return
	}
	v := s.view(r, "login.title", nil)
	v.Data = loginData{Next: nextField(next)}
	if key, ok := loginReasons[r.URL.Query().Get("e")]; ok {
		v.Error = s.t(r, key)
	}
	s.render(w, r, http.StatusOK, "login", v)
}

// toSignIn answers a request for a page or an action that needs a sign-in
// the browser has not, or no more: with the sign-in, which returns to the
// page once done, through the code step. A browser that had a sign-in is
// told it ended, and its cookie is cleared. A POST is not acted on: the
// sign-in says so, and returns to the page the form was on (formPage), for
// the operator to send it again knowingly; its content is not kept. A
// browser halfway through signing in (its password typed) goes back to
// the code step.
func (s *Server) toSignIn(w http.ResponseWriter, r *http.Request) {
	if s.bounce(w, r) {
		return
	}
	next, reason := r.URL.RequestURI(), ""
	_, err := r.Cookie(CookieName)
	hadCookie := err == nil
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Read for the search a customer's page carries (searchOf) alone:
		// a form that cannot be read just returns without it.
		webkit.ParseForm(r)
		next, reason = formPage(r), "not_done"
	}
	target := "/login"
	if ss := s.session(r); ss != nil && ss.MFAAt.IsZero() {
		target = "/login/code"
	} else if hadCookie {
		s.clearCookie(w)
		if reason == "" {
			reason = "ended"
		}
	}
	q := url.Values{"next": {returnPath(next)}}
	if reason != "" {
		q.Set("e", reason)
	}
	http.Redirect(w, r, target+"?"+q.Encode(), http.StatusSeeOther)
}

// maxNext is the longest page address a sign-in returns to: a search or an
// audit filter fits, and the sign-in's own address stays short.
const maxNext = 1024

// returnPath is where a sign-in returns to: next when it is a page of the
// console, else the customers page. webkit.LocalPath refuses another
// site's address however it is written (//host, /\host, with a scheme, with
// tabs or newlines; the query's decoding has turned %2F%2F into //
// already); the sign-in's own pages and the language switch are no place
// to return to.
func returnPath(next string) string {
	p := webkit.LocalPath(next)
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	first, _, _ = strings.Cut(first, "?")
	switch {
	case p == "/", len(p) > maxNext, first == "login", first == "logout", first == "lang":
		return "/customers"
	}
	return p
}

// nextField is the return page a sign-in's form carries: "" for none, so
// that a sign-in begun at /login lands where it always did.
func nextField(next string) string {
	if next == "" {
		return ""
	}
	return returnPath(next)
}

// withNext is path with the return page next, if any, in its query.
func withNext(path, next string) string {
	if next = nextField(next); next != "" {
		return path + "?next=" + url.QueryEscape(next)
	}
	return path
}

// formPage is the page the form of a POST to r's path is on, from the
// path, or from the form's from field (fromPage) where the path can tell
// no page: the Referer may be missing, or another page's.
func formPage(r *http.Request) string {
	if p, ok := fromPage(r); ok {
		return p
	}
	switch p := r.URL.Path; {
	case p == "/customers/new", p == "/maintenance", p == "/password", p == "/operators/new":
		return p
	case strings.HasPrefix(p, "/maintenance/"):
		return "/maintenance"
	}
	return cancelPath(r)
}

// fromPage is the page a form that posts outside it says it is on: its
// from field, a customer's page ("/customers/ID"), which the path of a
// withdrawal from there (/resets/ID/withdraw) cannot tell from the resets
// page (customerPageOf).
func fromPage(r *http.Request) (string, bool) {
	return customerPageOf(r.PostForm.Get("from"), searchOf(r))
}

// customerPageOf is from when it is a customer's page ("/customers/ID"),
// rebuilt from its id with the search q (customerPathFrom); false for
// anything else (another page, another site, a path with more in it).
func customerPageOf(from, q string) (string, bool) {
	id, ok := strings.CutPrefix(from, "/customers/")
	if !ok || id == "" || id == "new" || strings.ContainsAny(id, "/?#\\") {
		return "", false
	}
	id, err := url.PathUnescape(id)
	if err != nil || id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\") {
		return "", false
	}
	return customerPathFrom(id, q), true
}

// setCookie sets the session cookie, and laxCookie beside it for as long
// (bounce.go).
func (s *Server) setCookie(w http.ResponseWriter, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: laxCookie, Value: "1", Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: laxCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// errOperatorChanged says the operator was disabled, or given a new
// password or authenticator key, while a session was being made for them.
var errOperatorChanged = errors.New("console: operator changed during sign-in")

// newSession stores a session and sets its cookie; mfaAt zero makes it the
// code step's. op is the operator as the checks read it: when it is
// disabled or gets a new password or key meanwhile, which delete its
// sessions, the new one could have come just after and outlived it; it
// is deleted then, and newSession returns errOperatorChanged.
func (s *Server) newSession(w http.ResponseWriter, r *http.Request, op *store.Operator, mfaAt time.Time, ttl time.Duration) error {
	ctx := r.Context()
	token := secret.Token(32)
	now := s.svc.Now()
	// A signed-in session lasts IdleTimeout past its last use (keepAlive),
	// up to ttl.
	end := now.Add(ttl)
	if !mfaAt.IsZero() {
		end = now.Add(min(ttl, IdleTimeout))
	}
	ss := &store.OperatorSession{IDHash: secret.Hash(token), OperatorID: op.ID, CreatedAt: now, MFAAt: mfaAt, ExpiresAt: end,
		ClientIP: webkit.ClientIP(r), UserAgent: webkit.UserAgent(r)}
	if err := s.ops.CreateOperatorSession(ctx, ss); err != nil {
		return err
	}
	// Read after the session exists: a change that deletes sessions
	// later deletes this one too.
	again, err := s.ops.OperatorByID(ctx, op.ID)
	if err == nil && (again.Disabled || again.PasswordHash != op.PasswordHash || again.TOTPSecret != op.TOTPSecret) {
		err = errOperatorChanged
	}
	if err != nil {
		if derr := s.ops.DeleteOperatorSession(ctx, ss.IDHash); derr != nil {
			return derr
		}
		return err
	}
	s.setCookie(w, token, ttl)
	return nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	ctx := r.Context()
	v := s.view(r, "login.title", nil)
	typed, password := trim(r.PostForm.Get("email"), 254), r.PostForm.Get("password")
	next := r.PostForm.Get("next")
	v.Data = loginData{Email: typed, Next: nextField(next)}
	// A field left empty is asked for, as the portal's sign-in asks: it
	// is no wrong password, so nothing is hashed nor counted toward the
	// address's limit.
	if typed == "" || password == "" {
		v.Error = s.t(r, "login.missing")
		s.render(w, r, http.StatusBadRequest, "login", v)
		return
	}
	email, err := account.NormalizeEmail(r.PostForm.Get("email"))
	if err != nil {
		v.Error = s.t(r, "login.bad_credentials")
		s.render(w, r, http.StatusUnprocessableEntity, "login", v)
		return
	}
	now := s.svc.Now()
	n, err := s.svc.Store.Hit(ctx, "console:password:"+email, passwordWindow, now, 1)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if n > passwordAttempts {
		_, end := store.Window(now, passwordWindow)
		s.audit(ctx, r, "operator:"+email, "", store.ActionConsoleSignIn, "locked", "password")
		v.Error = s.t(r, "login.throttled", v.Time(end))
		s.render(w, r, http.StatusTooManyRequests, "login", v)
		return
	}
	op, err := s.ops.OperatorByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	// An unknown address is checked against the hasher's dummy (an empty
	// hash), which costs what a known one does: today's parameters, and
	// as many hashes for the password typed (account.Hasher.Verify).
	hash := ""
	if op != nil {
		hash = op.PasswordHash
	}
	ok, rehash, err := s.svc.Hasher.Verify(ctx, hash, password)
	if errors.Is(err, account.ErrBusy) {
		s.busy(w, r, "console:password:"+email, now)
		v.Error = s.t(r, "error.busy")
		s.render(w, r, http.StatusServiceUnavailable, "login", v)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if op == nil || !ok || op.Disabled {
		s.audit(ctx, r, "operator:"+email, "", store.ActionConsoleSignIn, "fail", "password")
		v.Error = s.t(r, "login.bad_credentials")
		s.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	// A one-time password past its time signs in no more: only the right
	// password learns it, so it tells a guesser nothing.
	if op.MustChangePassword() && !now.Before(op.OneTimeUntil) {
		s.audit(ctx, r, actor(op), "", store.ActionConsoleSignIn, "fail", "one-time password expired")
		v.Error = s.t(r, "login.one_time_expired")
		s.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	if old := s.session(r); old != nil {
		s.ops.DeleteOperatorSession(ctx, old.IDHash)
	}
	if err := s.newSession(w, r, op, time.Time{}, pendingTTL); errors.Is(err, errOperatorChanged) {
		s.audit(ctx, r, actor(op), "", store.ActionConsoleSignIn, "fail", "operator changed")
		v.Error = s.t(r, "login.bad_credentials")
		s.render(w, r, http.StatusUnauthorized, "login", v)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	// The right password gives its attempt back, as the portal's sign-in
	// and the password change do: the limit is for guesses, and an
	// operator signing in often through the day is not throttled for it.
	if _, err := s.svc.Store.Hit(ctx, "console:password:"+email, passwordWindow, now, -1); err != nil {
		s.log.Warn("console: password attempt not given back", "err", err)
	}
	if rehash {
		s.rehash(r, op, password)
	}
	s.audit(ctx, r, actor(op), "", store.ActionConsoleSignIn, "ok", "password")
	http.Redirect(w, r, withNext("/login/code", next), http.StatusSeeOther)
}

// rehash upgrades the password hash of op, whose password was just checked
// against it: one made with older argon2 parameters, or over the password
// as typed rather than its NFKC form (from before passwords were
// normalised), as the portal does for customers. The password stays the
// same, so its one-time deadline and the sessions stay too; a password set
// meanwhile is kept. A failure only postpones the upgrade to the next
// sign-in.
func (s *Server) rehash(r *http.Request, op *store.Operator, password string) {
	h, err := s.svc.Hasher.Hash(r.Context(), password)
	if err == nil {
		err = s.ops.RehashOperatorPassword(r.Context(), op.ID, op.PasswordHash, h)
	}
	if err != nil && !errors.Is(err, store.ErrStale) {
		s.log.Warn("console: operator password rehash failed", "operator", op.ID, "err", err)
	}
}

// busy is the answer's header when the password hashing is busy (a flood
// of sign-ins at the portal, which shares it) and gives back the attempt
// counted under key: the password was never checked, and an operator who
// tried again was throttled for it.
func (s *Server) busy(w http.ResponseWriter, r *http.Request, key string, now time.Time) {
	if _, err := s.svc.Store.Hit(r.Context(), key, passwordWindow, now, -1); err != nil {
		s.log.Warn("console: password attempt not given back", "err", err)
	}
	w.Header().Set("Retry-After", "5")
}

// pending returns the session waiting for its code and its operator.
func (s *Server) pending(r *http.Request) (*store.OperatorSession, *store.Operator) {
	ss := s.session(r)
	if ss == nil || !ss.MFAAt.IsZero() {
		return nil, nil
	}
	op, err := s.ops.OperatorByID(r.Context(), ss.OperatorID)
	if err != nil || op.Disabled {
		return nil, nil
	}
	return ss, op
}

func (s *Server) codePage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if _, op := s.pending(r); op == nil {
		http.Redirect(w, r, withNext("/login", next), http.StatusSeeOther)
		return
	}
	v := s.view(r, "code.title", nil)
	v.Data = loginData{Next: nextField(next)}
	if key, ok := loginReasons[r.URL.Query().Get("e")]; ok {
		v.Error = s.t(r, key)
	}
	s.render(w, r, http.StatusOK, "code", v)
}

func (s *Server) code(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	ctx := r.Context()
	next := r.PostForm.Get("next")
	ss, op := s.pending(r)
	if op == nil {
		http.Redirect(w, r, withNext("/login", next), http.StatusSeeOther)
		return
	}
	v := s.view(r, "code.title", nil)
	v.Data = loginData{Next: nextField(next)}
	if strings.TrimFunc(r.PostForm.Get("code"), unicode.IsSpace) == "" {
		// Sent without a code: nothing to check, nothing counted toward
		// the operator's lock, as at an action's code (reauth.go).
		v.Error = s.t(r, "code.empty")
		s.render(w, r, http.StatusBadRequest, "code", v)
		return
	}
	until, err := s.checkCode(r, op, r.PostForm.Get("code"), store.ActionConsoleSignIn, "", "totp")
	switch {
	case errors.Is(err, errCodeLocked):
		v.Error = s.t(r, "code.locked", v.Time(until))
		s.render(w, r, http.StatusTooManyRequests, "code", v)
		return
	case errors.Is(err, errCodeWrong):
		v.Error = s.t(r, "code.wrong")
		if !until.IsZero() {
			v.Error = s.t(r, "code.locked", v.Time(until))
		}
		s.render(w, r, http.StatusUnauthorized, "code", v)
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	now := s.svc.Now()
	if err := s.ops.DeleteOperatorSession(ctx, ss.IDHash); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.newSession(w, r, op, now, SessionTTL); errors.Is(err, errOperatorChanged) {
		s.audit(ctx, r, actor(op), "", store.ActionConsoleSignIn, "fail", "operator changed")
		s.clearCookie(w)
		q := url.Values{"e": {"changed"}}
		if next := nextField(next); next != "" {
			q.Set("next", next)
		}
		http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(ctx, r, actor(op), "", store.ActionConsoleSignIn, "ok", "totp")
	http.Redirect(w, r, returnPath(next), http.StatusSeeOther)
}

// The refusals of checkCode.
var (
	errCodeLocked = errors.New("console: the operator's code step is closed")
	errCodeWrong  = errors.New("console: wrong, malformed or replayed code")
)

// checkCode checks an operator's authenticator code, at the sign-in's code
// step and when a dangerous action asks for it again, the one way: every
// code is counted toward the operator's lock before it is checked
// (ChargeOperatorMFA, as for customers), the comparison is constant-time,
// a TOTP step is accepted once (AdvanceOperatorStep), and a right code
// forgets the wrong ones. It records a refusal as action with detail, on
// the customer accountID names ("" for none); the caller records the
// success, once what the code opens is done.
//
// errCodeLocked means the step was closed before this code, until the
// time returned; errCodeWrong a wrong, malformed or replayed code, with
// the time the step is now closed until if this code closed it (zero
// otherwise). Any other error is the store's.
func (s *Server) checkCode(r *http.Request, op *store.Operator, code, action, accountID, detail string) (time.Time, error) {
	ctx := r.Context()
	now := s.svc.Now()
	charged, err := s.ops.ChargeOperatorMFA(ctx, op.ID, now, func(n int) time.Time { return mfa.LockUntil(n, now) })
	if errors.Is(err, store.ErrLocked) {
		s.audit(ctx, r, actor(op), accountID, action, "locked", detail)
		return charged.MFALockedUntil, errCodeLocked
	}
	if err != nil {
		return time.Time{}, err
	}
	seed, err := s.svc.Keys.Decrypt(op.TOTPSecret, totpAD(op.ID))
	if err != nil {
		return time.Time{}, err
	}
	step, err := mfa.VerifyTOTP(seed, mfa.NormalizeCode(code), now, op.LastStep)
	if err == nil {
		err = s.ops.AdvanceOperatorStep(ctx, op.ID, step)
	}
	if err != nil {
		if !errors.Is(err, mfa.ErrWrongCode) && !errors.Is(err, mfa.ErrReplay) && !errors.Is(err, store.ErrStale) {
			return time.Time{}, err
		}
		s.audit(ctx, r, actor(op), accountID, action, "fail", detail)
		var until time.Time
		if mfa.Locked(charged.MFALockedUntil, now) {
			until = charged.MFALockedUntil
		}
		return until, errCodeWrong
	}
	return time.Time{}, s.ops.ClearOperatorMFAFailures(ctx, op.ID)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if ss := s.session(r); ss != nil {
		if err := s.ops.DeleteOperatorSession(r.Context(), ss.IDHash); err != nil {
			s.internal(w, r, err)
			return
		}
		if op, err := s.ops.OperatorByID(r.Context(), ss.OperatorID); err == nil {
			s.audit(r.Context(), r, actor(op), "", store.ActionConsoleSignOut, "ok", "")
		}
	}
	s.clearCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
