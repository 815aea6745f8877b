package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// The sign-in states. A flow starts once the password is right and only
// moves forward:
//
//	password ok ──▶ enrol (app or phone) ────┐
//	     │                                   ▼
//	     └────────▶ mfa ──(recovery code)──▶ recovery ──▶ (session)
//	                 └──(app code)─────────────────────▶ (session)
//
// A step-up for the security page starts at mfa with the session it renews.
const (
	StateMFA      = "mfa"
	StateEnrol    = "enrol"
	StateRecovery = "recovery"
	// stateDone is a flow that has given its session: only in memory, since
	// its row is deleted as it does (ConsumeFlow).
	stateDone = "done"
)

// flowData is a flow's step data. It is stored encrypted as a whole, bound
// to the flow's id, since it holds secrets: the seed being enrolled and the
// recovery code being shown.
type flowData struct {
	TOTPSecret   string `json:"totp,omitempty"`     // enrolment seed
	RecoveryCode string `json:"recovery,omitempty"` // code to show once
	StepUp       string `json:"stepup,omitempty"`   // session hash a step-up renews
	// AMR lists how the customer proved who they are so far (RFC 8176).
	AMR []string `json:"amr,omitempty"`
	// Lang is the account's language when the flow started: the finish
	// compares the request's with it, so that a sign-in in the usual
	// language writes nothing for it (keepLang).
	Lang string `json:"lang,omitempty"`
}

// proved records a way the customer proved who they are.
func (f *Flow) proved(amr string) {
	if !slices.Contains(f.data.AMR, amr) {
		f.data.AMR = append(f.data.AMR, amr)
	}
}

// amrOf is the RFC 8176 value of a phone channel.
func amrOf(channel string) string {
	if channel == "voice" {
		return "tel"
	}
	return "sms"
}

// Flow is a sign-in in progress as the web layer sees it: the token goes to
// the browser in a cookie, signed with the state it is valid for.
type Flow struct {
	store.Flow
	Token string
	data  flowData
	// verified is set when this request checked a second factor, so Finish
	// never issues a session for an unchecked flow at StateMFA.
	verified bool
	// factors are the account's, when this request read them already.
	factors []store.Factor
	// browserKnown, when set, says whether the browser finishing the flow
	// is one the account knows (checkBrowser).
	browserKnown *bool
}

// IsStepUp reports whether the flow renews a session rather than starting one.
func (f *Flow) IsStepUp() bool { return f.data.StepUp != "" }

// Renews reports whether the flow is a step-up of si's session.
func (f *Flow) Renews(si *SignedIn) bool { return f.IsStepUp() && f.data.StepUp == si.Session.IDHash }

// FlowCookie returns the value to store in the browser: the token and a MAC
// over it and the state, so a cookie from one step opens no other step.
func (s *Service) FlowCookie(f *Flow) string {
	return f.Token + "." + s.Keys.Sign("flow", f.Token, f.State)
}

// LoadFlow checks a flow cookie against the states a page expects and loads
// the flow. ErrBadFlowCookie when the cookie is not signed for the flow's
// current state (tampered with, or left from an earlier step); ErrWrongStep,
// with the flow, when the flow is genuine but at another step; ErrFlowExpired
// when there is no such live flow.
func (s *Service) LoadFlow(ctx context.Context, cookie string, want ...string) (*Flow, error) {
	token, sig, ok := strings.Cut(cookie, ".")
	if !ok || token == "" {
		return nil, ErrFlowExpired
	}
	f, err := s.Store.FlowByHash(ctx, secret.Hash(token), s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrFlowExpired
	}
	if err != nil {
		return nil, err
	}
	flow := &Flow{Flow: *f, Token: token}
	if !s.Keys.Verify(sig, "flow", token, f.State) {
		// A cookie of an earlier step, or a forged one.
		return nil, ErrBadFlowCookie
	}
	if len(want) > 0 && !slices.Contains(want, f.State) {
		// A genuine flow at another step: the caller may send the browser there.
		return flow, ErrWrongStep
	}
	if f.Data != "" {
		plain, err := s.Keys.Decrypt(f.Data, f.IDHash)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(plain), &flow.data); err != nil {
			return nil, err
		}
	}
	return flow, nil
}

// FlowReturn is what the browser keeps of a sign-in past the flow's own
// end (ReturnCookie): where it was going, and whether it renewed a
// session (a step-up) rather than starting one.
type FlowReturn struct {
	Path   string
	StepUp bool
}

// The kinds of flow a return cookie remembers.
const (
	returnSignIn = "in"
	returnStepUp = "up"
)

// ReturnCookie returns the value of a cookie that remembers where f goes
// back to, and whether it is a step-up, until until. The flow cookie lasts
// exactly as long as its flow (it opens the flow's step, which must not
// outlive it); a browser drops it as the flow expires, and the flow's row,
// which holds the return path, goes at the next sweep. This value holds
// the path itself, so that a flow found expired still knows where it was
// going, and it names no flow, so that it opens no step. It is stamped
// with the keyring (secret.Keyring.Stamp): a browser can neither plant a
// path of its choosing (a page that reads one still keeps it local, as
// every return path) nor keep one past its time, whatever the cookie's
// Max-Age.
func (s *Service) ReturnCookie(f *Flow, until time.Time) string {
	kind := returnSignIn
	if f.IsStepUp() {
		kind = returnStepUp
	}
	return s.Keys.Stamp("flow return", kind+"\n"+f.ReturnTo, until)
}

// LoadReturn reads a ReturnCookie value; false when it is not one this
// portal made, or its time has passed.
func (s *Service) LoadReturn(cookie string) (FlowReturn, bool) {
	v, ok := s.Keys.Unstamp(cookie, "flow return", s.Now())
	if !ok {
		return FlowReturn{}, false
	}
	// The kind comes first and holds no line break, so the first one ends
	// it whatever the path holds.
	kind, path, _ := strings.Cut(v, "\n")
	return FlowReturn{Path: path, StepUp: kind == returnStepUp}, true
}

func (s *Service) newFlow(ctx context.Context, state, accountID, returnTo string, d flowData) (*Flow, error) {
	now := s.Now()
	token := secret.Token(32)
	f := &Flow{Token: token, data: d, Flow: store.Flow{
		IDHash: secret.Hash(token), AccountID: accountID, State: state, ReturnTo: returnTo,
		CreatedAt: now, ExpiresAt: now.Add(s.flowTTL(state)),
	}}
	if err := s.seal(f); err != nil {
		return nil, err
	}
	if err := s.Store.CreateFlow(ctx, &f.Flow); err != nil {
		return nil, err
	}
	return f, nil
}

// flowTTL is how long a sign-in started at state may take: enrolling a
// first second factor may include installing the app (enrol_ttl), the
// rest a code at hand (flow_ttl).
func (s *Service) flowTTL(state string) time.Duration {
	if state == StateEnrol {
		return s.Config.EnrolTTL.Duration
	}
	return s.Config.FlowTTL.Duration
}

func (s *Service) seal(f *Flow) error {
	b, err := json.Marshal(f.data)
	if err != nil {
		return err
	}
	f.Data = s.Keys.Encrypt(string(b), f.IDHash)
	return nil
}

// advance moves f to state next with its current data; ErrWrongStep when
// another request moved it first.
func (s *Service) advance(ctx context.Context, f *Flow, next string) error {
	from := f.State
	f.State = next
	if err := s.seal(f); err != nil {
		return err
	}
	err := s.Store.AdvanceFlow(ctx, &f.Flow, from)
	if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound) {
		return ErrWrongStep
	}
	return err
}

// Account loads the flow's account.
func (s *Service) Account(ctx context.Context, f *Flow) (*store.Account, error) {
	a, err := s.Store.AccountByID(ctx, f.AccountID)
	if err == nil && s.unit != nil {
		s.unit.account = a
	}
	return a, err
}

// Password checks an email and password and, when they are right, starts
// the sign-in flow that returns to returnTo: at enrolment when the account has
// no second factor, at the second factor otherwise. An unknown address and a
// wrong password fail the same way and take the same time; a failure stores
// no flow.
func (s *Service) Password(ctx context.Context, email, password, returnTo string, c Client) (*Flow, error) {
	now := s.Now()
	norm, emailErr := account.NormalizeEmail(email)
	if emailErr != nil {
		norm = strings.ToLower(strings.TrimSpace(email))
	}
	perAccount, perClient := s.passwordLimits(norm, c)
	if err := s.countPassword(ctx, now, perAccount, perClient, "", store.ActionSignInPassword, c); err != nil {
		return nil, err
	}

	var a *store.Account
	var hash string
	if emailErr == nil {
		acct, err := s.Store.AccountByEmail(ctx, norm)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if acct != nil {
			a, hash = acct, acct.PasswordHash
		}
	}
	ok, rehash, err := s.verifyPassword(ctx, now, hash, password, perAccount, perClient)
	if err != nil {
		return nil, err
	}
	if !ok {
		id := ""
		if a != nil {
			id = a.ID
		}
		s.audit(ctx, id, store.ActionSignInPassword, "fail", c, "")
		return nil, ErrBadCredentials
	}
	// What a right password does is one unit of work: one commit.
	var f *Flow
	err = s.atomically(ctx, func(ctx context.Context, u *Service) error {
		var err error
		f, err = u.passwordRight(ctx, a, perAccount, perClient, now, returnTo, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	if rehash {
		s.rehash(ctx, a.ID, hash, password)
	}
	return f, nil
}

// passwordLimits are the limits an attempt at the password of the account
// of address norm counts against: the account's and the client's. The
// sign-in and a password change on the security page count against the
// same ones, so that neither is a way round the other's.
func (s *Service) passwordLimits(norm string, c Client) (perAccount, perClient limit) {
	w := s.Config.PasswordWindow.Duration
	return limit{"account", "pw:email:" + secret.Hash(norm), s.Config.PasswordFailuresPerAccount, w},
		limit{"client", "pw:ip:" + clientKey(c.IP), s.Config.PasswordFailuresPerClient, w}
}

// countPassword counts a password attempt before the password is checked,
// so that attempts sent in parallel cannot all pass the limits; a right
// password gives its count back (forgetPassword). Over either limit, the
// attempt is audited as action's "throttled", for accountID (empty while
// the account is not known), and refused with a *LockedError that says
// until when.
func (s *Service) countPassword(ctx context.Context, now time.Time, perAccount, perClient limit, accountID, action string, c Client) error {
	over, until, _, err := s.count(ctx, now, []limit{perAccount, perClient})
	if err != nil {
		return err
	}
	if over != nil {
		s.audit(ctx, accountID, action, "throttled", c, "")
		return &LockedError{Until: until, Password: true}
	}
	return nil
}

// verifyPassword checks the password of an attempt countPassword counted
// against hash (an empty hash takes as long, and fails), in the hasher's
// bounded slots. When they are all taken and the queue is full
// (account.ErrBusy), the password was never checked: the attempt is given
// back.
func (s *Service) verifyPassword(ctx context.Context, now time.Time, hash, password string, perAccount, perClient limit) (ok, rehash bool, err error) {
	ok, rehash, err = s.Hasher.Verify(ctx, hash, password)
	if errors.Is(err, account.ErrBusy) {
		s.uncount(ctx, now, perAccount, perClient)
	}
	return ok, rehash, err
}

// forgetPassword is what a right password does to the limits: the
// account's failures are forgotten, and the client's attempt is given back.
func (s *Service) forgetPassword(ctx context.Context, now time.Time, perAccount, perClient limit) error {
	if err := s.Store.ResetLimit(ctx, perAccount.key); err != nil {
		return err
	}
	s.uncount(ctx, now, perClient)
	return nil
}

// passwordRight starts the sign-in of a whose password was right: the
// limits forget the attempt, and a flow starts at the step the account
// needs next.
func (s *Service) passwordRight(ctx context.Context, a *store.Account, perAccount, perClient limit, now time.Time, returnTo string, c Client) (*Flow, error) {
	if err := s.forgetPassword(ctx, now, perAccount, perClient); err != nil {
		return nil, err
	}
	// An account an operator locked signs in nowhere; only the right
	// password learns it, so the lock reveals nothing to a guesser.
	if _, err := s.Store.AccountLockOf(ctx, a.ID); err == nil {
		s.audit(ctx, a.ID, store.ActionSignInPassword, "account_locked", c, "")
		return nil, ErrAccountLocked
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	s.audit(ctx, a.ID, store.ActionSignInPassword, "ok", c, "")
	// A recovery request past its cooling-off period drops the factors.
	if err := s.completeRecovery(ctx, a, c); err != nil {
		return nil, err
	}
	factors, err := s.Store.FactorsOf(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	// A recovery code alone is no second factor: enrol one (manual IX).
	pwd := []string{"pwd"}
	var f *Flow
	if len(factors) == 0 {
		f, err = s.newFlow(ctx, StateEnrol, a.ID, returnTo, flowData{TOTPSecret: mfa.NewTOTPSecret(), AMR: pwd, Lang: a.Lang})
	} else {
		f, err = s.newFlow(ctx, StateMFA, a.ID, returnTo, flowData{AMR: pwd, Lang: a.Lang})
	}
	if f != nil {
		f.factors = factors
	}
	return f, err
}

// clientKey is what the per-client limit counts: the address, or for IPv6 its
// /64, which one customer's network usually holds whole.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Is4() || addr.Is4In6() {
		return ip
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// rehash upgrades the password hash old, which password was just checked
// against: one made with older parameters, or over the password as typed
// rather than its NFKC form (from before passwords were normalised). The
// customer sees nothing: the same password signs in, now typed either way.
// A password set meanwhile (a reset in another browser) is kept: the
// rehash of the older one changes nothing then. A failure only postpones
// the upgrade to the next sign-in.
func (s *Service) rehash(ctx context.Context, accountID, old, password string) {
	h, err := s.Hasher.Hash(ctx, password)
	if err == nil {
		err = s.Store.RehashPassword(ctx, accountID, old, h)
	}
	if errors.Is(err, store.ErrStale) {
		return
	}
	if err != nil {
		s.Log.Warn("password rehash failed", "account", accountID, "err", err)
	}
}

// Enrolment is what the enrolment screen shows.
type Enrolment struct {
	Secret string
	URI    string
}

// Enrolment returns the seed and otpauth:// URI of a flow at StateEnrol.
func (s *Service) Enrolment(ctx context.Context, f *Flow) (*Enrolment, error) {
	if f.State != StateEnrol {
		return nil, ErrWrongStep
	}
	a, err := s.Account(ctx, f)
	if err != nil {
		return nil, err
	}
	seed := f.data.TOTPSecret
	return &Enrolment{Secret: seed, URI: mfa.TOTPURI(s.Config.Issuer, a.Email, seed)}, nil
}

// KeepEnrolment gives f, a sign-in just started at enrolment, the key of
// the browser's earlier sign-in (its flow cookie) when that one, of the same
// account, is still at enrolment: a customer who signed in again while
// adding the QR code to the app (the back button to the login page, the
// portal opened in a second tab) keeps the key the app may hold already,
// rather than a new QR code that makes the app's codes wrong. The key was
// shown to this browser only, for this account. Anything else leaves f as
// it is.
func (s *Service) KeepEnrolment(ctx context.Context, cookie string, f *Flow) error {
	if f.State != StateEnrol || cookie == "" {
		return nil
	}
	earlier, err := s.LoadFlow(ctx, cookie, StateEnrol)
	if err != nil || earlier.AccountID != f.AccountID || earlier.data.TOTPSecret == "" || earlier.IDHash == f.IDHash {
		return nil
	}
	f.data.TOTPSecret = earlier.data.TOTPSecret
	return s.advance(ctx, f, StateEnrol)
}

// ConfirmEnrolment checks the first code from the new app, saves the factor,
// issues a recovery code, and moves the flow to the recovery screen.
// ErrCodeFormat, uncounted, when the input is no six-digit code.
func (s *Service) ConfirmEnrolment(ctx context.Context, f *Flow, code string, c Client) error {
	if f.State != StateEnrol {
		return ErrWrongStep
	}
	code = mfa.NormalizeCode(code)
	if code == "" {
		return ErrCodeFormat
	}
	a, err := s.Account(ctx, f)
	if err != nil {
		return err
	}
	charged, err := s.charge(ctx, a, c, store.ActionMFAEnrol)
	if err != nil {
		return err
	}
	seed := f.data.TOTPSecret
	step, err := mfa.VerifyTOTP(seed, code, s.Now(), -1)
	if err != nil {
		return s.wrong(ctx, charged, c, store.ActionMFAEnrol)
	}
	if err := s.refuseLocked(ctx, a.ID, store.ActionMFAEnrol, c); err != nil {
		return err
	}
	err = s.enrolFirst(ctx, f, &store.Factor{
		ID: secret.ID(), AccountID: a.ID, Kind: store.FactorTOTP,
		Secret: s.Keys.Encrypt(seed, a.ID), LastStep: step, CreatedAt: s.Now(),
	}, "otp")
	if err := s.enrolled(ctx, charged, c, err); err != nil {
		return err
	}
	s.notice(ctx, a, mail.EventMFAEnrolled, c)
	return nil
}

// enrolFirst saves factor, whose code the flow f at enrolment checked, as
// the account's first, and moves f to the recovery screen with a new
// recovery code, all or nothing. Enrolment is for an account without a
// factor: a second tab's enrolment, or one made after the flow began, is
// refused (ErrAlreadyEnrolled) rather than adding a factor the customer may
// not know of. And the flow must still be there at its step: a new
// password, a reset or a report of "not me" ends the sign-ins in progress,
// and one whose request had loaded its flow just before must not leave its
// factor (whoever knew the old password's authenticator or phone) on the
// account while it goes on to no session (ErrWrongStep).
func (s *Service) enrolFirst(ctx context.Context, f *Flow, factor *store.Factor, amr string) error {
	start := f.snapshot()
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		f.restore(start)
		if err := u.Store.AddFirstFactor(ctx, factor); errors.Is(err, store.ErrConflict) {
			return ErrAlreadyEnrolled
		} else if err != nil {
			return err
		}
		f.proved(amr)
		return u.toRecoveryScreen(ctx, f)
	})
	if err != nil {
		f.restore(start)
	}
	return err
}

// refuseLocked answers ErrAccountLocked, and audits it, when an operator
// has locked the account since its password was checked. The enrolment
// steps ask before they add a factor: the lock ends the sessions and the
// finish of a sign-in refuses it, but a factor added on the way stayed,
// and whoever the lock was for (a password known to someone else) left
// their own authenticator or phone on the account, which its owner's next
// sign-in after the unlock then asked for. Asked after the code is checked,
// as at the password: only a right code learns of the lock.
func (s *Service) refuseLocked(ctx context.Context, accountID, action string, c Client) error {
	_, err := s.Store.AccountLockOf(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.audit(ctx, accountID, action, "account_locked", c, "")
	return ErrAccountLocked
}

func (s *Service) toRecoveryScreen(ctx context.Context, f *Flow) error {
	code, err := s.NewRecoveryCode(ctx, f.AccountID)
	if err != nil {
		return err
	}
	f.data.TOTPSecret = ""
	f.data.RecoveryCode = code
	// enrol_ttl was for installing the app; the screen that shows the new
	// recovery code, and opens a session, gets flow_ttl from now, as any
	// step with nothing left to fetch: a browser left there does not keep
	// the code on show for the rest of the hour.
	if end := s.Now().Add(s.Config.FlowTTL.Duration); end.Before(f.ExpiresAt) {
		f.ExpiresAt = end
	}
	return s.advance(ctx, f, StateRecovery)
}

// SecondFactor checks a code of the given method for a flow at StateMFA. An
// app code ends the flow (the caller then calls Finish); a recovery code is
// spent and moves the flow to the recovery screen with a new one.
func (s *Service) SecondFactor(ctx context.Context, f *Flow, m Method, code string, c Client) error {
	_, err := s.checkCode(ctx, f, m, code, "", c, false)
	return err
}

// SecondFactorThenFinish is SecondFactor and, when the code ends the flow,
// Finish, in one unit of work: a sign-in's second step commits once. The
// token is empty when the flow moved on instead (a recovery code leads to
// the recovery screen).
func (s *Service) SecondFactorThenFinish(ctx context.Context, f *Flow, m Method, code, oldSession string, c Client) (token string, err error) {
	return s.checkCode(ctx, f, m, code, oldSession, c, true)
}

func (s *Service) checkCode(ctx context.Context, f *Flow, m Method, code, oldSession string, c Client, finish bool) (token string, err error) {
	if f.State != StateMFA {
		return "", ErrWrongStep
	}
	// Read before the unit, so the unit holds the writer only for its
	// writes and the reads they depend on.
	if finish {
		s.checkBrowser(ctx, f, c)
	}
	start := f.snapshot()
	err = s.atomically(ctx, func(ctx context.Context, u *Service) error {
		f.restore(start)
		token = ""
		// The account's failures and lock, which the attempt is counted
		// against, are read in the unit.
		if err := u.stepUpLive(ctx, f); err != nil {
			return err
		}
		a, err := u.Account(ctx, f)
		if err != nil {
			return err
		}
		if err := u.secondFactor(ctx, f, a, m, code, c); err != nil || !finish || f.State != StateMFA {
			return err
		}
		token, err = u.Finish(ctx, f, oldSession, c)
		return err
	})
	return token, err
}

// stepUpLive passes a flow that is no step-up, and a step-up whose session
// is still live: it is what the step-up renews, and all it can finish
// with. For one whose session has ended (signed out in another tab or by
// another device, locked by an operator, expired) it is ErrFlowExpired,
// so that no code is checked, sent or counted for it: a right one would
// take its TOTP step, or spend the recovery code and issue another, for
// a step-up that leads nowhere (Finish refuses it, or renewed an expired
// session). ErrFlowFinished instead when the flow itself is gone: its
// other request (the form sent twice) renewed the session under a new id
// and ended it, as finishedMeanwhile says.
func (s *Service) stepUpLive(ctx context.Context, f *Flow) error {
	if !f.IsStepUp() {
		return nil
	}
	sess, err := s.Store.SessionByHash(ctx, f.data.StepUp)
	if err == nil && s.Now().Before(sess.ExpiresAt) {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.finishedMeanwhile(ctx, f); err != nil {
		return err
	}
	return ErrFlowExpired
}

// snapshot and restore let a unit that runs again start from the flow as
// it was.
func (f *Flow) snapshot() Flow {
	g := *f
	g.data.AMR = slices.Clone(f.data.AMR)
	return g
}

func (f *Flow) restore(g Flow) {
	*f = g
	f.data.AMR = slices.Clone(g.data.AMR)
}

func (s *Service) secondFactor(ctx context.Context, f *Flow, a *store.Account, m Method, code string, c Client) error {
	switch m {
	case MethodTOTP:
		if err := s.verifyTOTP(ctx, a, code, c, func() error { return s.finishedMeanwhile(ctx, f) }); err != nil {
			return err
		}
		f.verified = true
		f.proved("otp")
		s.cancelRecovery(ctx, a.ID, RecoveryCancelFactor, c)
		return nil
	case MethodPhone:
		pc, charged, err := s.checkPhoneCode(ctx, f, a, code, c, store.ActionMFAPhone)
		if errors.Is(err, ErrNoPhoneCode) {
			// The code spent by a request of this same sign-in that
			// ended it (the form sent twice)?
			if ferr := s.finishedMeanwhile(ctx, f); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
		if err := s.right(ctx, charged, c, store.ActionMFAPhone); err != nil {
			return err
		}
		f.verified = true
		f.proved(amrOf(pc.Channel))
		s.cancelRecovery(ctx, a.ID, RecoveryCancelFactor, c)
		return nil
	case MethodRecovery:
		// A right code is spent and replaced by one that only the flow's
		// recovery screen shows: a flow that is gone (a new password, a
		// reset or a report of "not me" ended it after its request loaded
		// it) must not take the code, or the account is left with a
		// recovery code nobody has seen. Looked up as of its start, so
		// that it is found while its row is there: one that expired since
		// its request loaded it still moves on, and a closed step is
		// still what its customer hears.
		if live, err := s.Store.FlowByHash(ctx, f.IDHash, f.CreatedAt); errors.Is(err, store.ErrNotFound) {
			return ErrFlowExpired
		} else if err != nil {
			return err
		} else if live.State != StateMFA {
			return ErrWrongStep
		}
		if err := s.SpendRecoveryCode(ctx, a, code, c); err != nil {
			return err
		}
		s.notice(ctx, a, mail.EventRecoveryCodeUsed, c)
		s.cancelRecovery(ctx, a.ID, RecoveryCancelFactor, c)
		return s.toRecoveryScreen(ctx, f)
	}
	return ErrNoSuchMethod
}

// finishedMeanwhile is ErrFlowFinished when f's row is gone: its code was
// used by another request of the same sign-in, which ended it (the form
// sent twice), or the sign-in was ended otherwise after this request
// loaded it. Either way the code proves nothing new and counts as nothing;
// the browser is only sent on, where its session, if any, decides.
func (s *Service) finishedMeanwhile(ctx context.Context, f *Flow) error {
	_, err := s.Store.FlowByHash(ctx, f.IDHash, f.CreatedAt)
	if errors.Is(err, store.ErrNotFound) {
		return ErrFlowFinished
	}
	return err
}

// RecoveryCode returns the code a flow at StateRecovery shows.
func (s *Service) RecoveryCode(f *Flow) (string, error) {
	if f.State != StateRecovery {
		return "", ErrWrongStep
	}
	return f.data.RecoveryCode, nil
}

// AcknowledgeRecovery accepts the recovery screen only with its box checked.
func (s *Service) AcknowledgeRecovery(f *Flow, recorded bool) error {
	if f.State != StateRecovery {
		return ErrWrongStep
	}
	if !recorded {
		return ErrNotAcknowledged
	}
	return nil
}

// Finish ends a flow whose second factor is verified and returns the token
// of a new session: the one the browser had (oldSession, a cookie value, may
// be empty) is replaced, so a session id never survives a sign-in or step-up.
func (s *Service) Finish(ctx context.Context, f *Flow, oldSession string, c Client) (token string, err error) {
	start := f.snapshot()
	err = s.atomically(ctx, func(ctx context.Context, u *Service) error {
		f.restore(start)
		var err error
		token, err = u.finish(ctx, f, oldSession, c)
		return err
	})
	return token, err
}

func (s *Service) finish(ctx context.Context, f *Flow, oldSession string, c Client) (string, error) {
	// The recovery screen is reached only through a checked factor.
	if f.State != StateRecovery && !(f.State == StateMFA && f.verified) {
		return "", ErrWrongStep
	}
	// Deleting the flow first, on condition of its state, makes Finish
	// single-use: of two requests with the same cookie, one finds it gone.
	if err := s.Store.ConsumeFlow(ctx, f.IDHash, f.State); err != nil {
		if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound) {
			return "", ErrWrongStep
		}
		return "", err
	}
	// An operator may have locked the account since its password was
	// checked; the lock ends the sessions in a unit of its own, so of the
	// two, whichever commits second sees the other.
	if _, err := s.Store.AccountLockOf(ctx, f.AccountID); err == nil {
		s.audit(ctx, f.AccountID, store.ActionSignIn, "account_locked", c, "")
		return "", ErrAccountLocked
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	f.State = stateDone
	s.keepLang(ctx, f, c)
	now := s.Now()
	token := secret.Token(32)
	f.proved("mfa")
	sess := &store.Session{
		IDHash: secret.Hash(token), AccountID: f.AccountID, CreatedAt: now, MFAAt: now,
		ExpiresAt: now.Add(s.Config.SessionTTL.Duration), ClientIP: c.IP, UserAgent: c.UserAgent,
		AMR: f.data.AMR, SID: secret.ID(),
	}
	if f.data.StepUp != "" {
		old, err := s.Store.SessionByHash(ctx, f.data.StepUp)
		if err != nil || old.AccountID != f.AccountID || !now.Before(old.ExpiresAt) {
			return "", ErrFlowExpired
		}
		// The sign-in time stays, and so do the ways proved then.
		sess.CreatedAt, sess.ExpiresAt, sess.SID = old.CreatedAt, old.ExpiresAt, old.SID
		for _, m := range f.data.AMR {
			if !slices.Contains(old.AMR, m) {
				old.AMR = append(old.AMR, m)
			}
		}
		sess.AMR = old.AMR
		if err := s.Store.RotateSession(ctx, old.IDHash, sess); err != nil {
			return "", err
		}
		s.audit(ctx, f.AccountID, store.ActionStepUp, "ok", c, "")
		return token, nil
	}
	if oldSession != "" {
		old, err := s.Store.SessionByHash(ctx, secret.Hash(oldSession))
		switch {
		case err != nil:
		case old.AccountID == f.AccountID:
			// Signing in again in the same browser (prompt=login, say)
			// keeps its sid, so the sites signed in before are still
			// found at sign-out.
			if old.SID != "" {
				sess.SID = old.SID
			}
		case now.Before(old.ExpiresAt):
			// Another customer signs in where the first still was (a
			// shared computer): the first is signed out of this browser
			// as at ログアウト, and the sites they signed in to here are
			// told now, not at the sweep that finds the session gone,
			// while they would go on showing the first customer's pages
			// to the second.
			s.audit(ctx, old.AccountID, store.ActionSignOut, OutcomeReplaced, c, "")
			s.sessionEnded(ctx, old.SID)
		}
		_ = s.Store.DeleteSession(ctx, secret.Hash(oldSession))
	}
	if err := s.Store.CreateSession(ctx, sess); err != nil {
		return "", err
	}
	s.noticeNewBrowser(ctx, f, c)
	s.audit(ctx, f.AccountID, store.ActionSignIn, "ok", c, "")
	return token, nil
}

// keepLang records, at the finish of the sign-in f, the language of its
// request c on the account, for the mails sent without a request of the
// customer's (mailLang). The flow knows the account's language from its
// start, so only a sign-in in another language than the last writes, in
// the finish's own unit: no statement is added to a sign-in in the usual
// language. A failure is logged, not returned: a language not kept is no
// reason to refuse a sign-in (a database that fails this write fails the
// session's too).
func (s *Service) keepLang(ctx context.Context, f *Flow, c Client) {
	if c.Lang == "" {
		return
	}
	lang := mail.Lang(c.Lang)
	if lang == f.data.Lang {
		return
	}
	if err := s.Store.SetAccountLang(ctx, f.AccountID, lang); err != nil {
		s.Log.Warn("account language not kept", "account", f.AccountID, "err", err)
	}
}

// Abandon drops a flow (「キャンセル」, or a new sign-in replacing it).
func (s *Service) Abandon(ctx context.Context, f *Flow) error {
	return s.Store.DeleteFlow(ctx, f.IDHash)
}
