package portal

import (
	"context"
	"errors"
	"slices"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/useragent"
)

// ErrNoSession means the browser is not signed in (no cookie, an unknown or
// an expired session).
var ErrNoSession = errors.New("portal: not signed in")

// SignedIn is a live session and its account.
type SignedIn struct {
	Session *store.Session
	Account *store.Account
}

// Session resolves a session cookie.
func (s *Service) Session(ctx context.Context, token string) (*SignedIn, error) {
	if token == "" {
		return nil, ErrNoSession
	}
	sess, a, err := s.Store.SignedInAs(ctx, secret.Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if !s.Now().Before(sess.ExpiresAt) {
		_ = s.Store.DeleteSession(ctx, sess.IDHash)
		return nil, ErrNoSession
	}
	return &SignedIn{Session: sess, Account: a}, nil
}

// OutcomeReplaced is the outcome of a signout that no one asked for: another
// customer signed in in the same browser, which ended the session there.
const OutcomeReplaced = "replaced"

// SignOut ends the session.
func (s *Service) SignOut(ctx context.Context, si *SignedIn, c Client) error {
	return s.atomically(ctx, func(ctx context.Context, u *Service) error {
		u.audit(ctx, si.Account.ID, store.ActionSignOut, "ok", c, "")
		if err := u.Store.DeleteSession(ctx, si.Session.IDHash); err != nil {
			return err
		}
		u.sessionEnded(ctx, si.Session.SID)
		return nil
	})
}

// SignOutHinted is a site's logout (RP-initiated, with an id_token_hint)
// from a browser that brought no portal session: its portal cookie was
// cleared, or kept from the site's page. The session the hint names, a
// live one of accountID whose SID names(SID) accepts, ends as at SignOut,
// and the sites signed in through it are told, as the site's page then
// says: else it, and the other site's session in that browser, would stay
// signed in with the customer sure they are not. It reports whether it
// ended one; none is no error (ended already, expired, or erased).
func (s *Service) SignOutHinted(ctx context.Context, accountID string, names func(sid string) bool, c Client) (bool, error) {
	ended := false
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		ended = false
		live, err := u.Store.SessionsOf(ctx, accountID, u.Now(), 0)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(live, func(l store.Session) bool { return names(l.SID) })
		if i < 0 {
			return nil
		}
		if err := u.Store.DeleteSession(ctx, live[i].IDHash); err != nil {
			return err
		}
		u.audit(ctx, accountID, store.ActionSignOut, "ok", c, "by a site's logout, without the portal's cookie")
		u.sessionEnded(ctx, live[i].SID)
		ended = true
		return nil
	})
	return ended, err
}

// sessionEnded tells the sites, after the commit of the unit s is in, that
// the portal session sid has ended, so that they end the sign-ins made
// through it (back-channel logout).
func (s *Service) sessionEnded(ctx context.Context, sid string) {
	if s.SessionEnded != nil {
		s.afterCommit(ctx, func(ctx context.Context) { s.SessionEnded(ctx, sid) })
	}
}

// ErrNoSuchSession is a session to end that is no other live session of
// the signed-in account: another account's, an unknown or malformed sid,
// one ended already, or the browser's own.
var ErrNoSuchSession = errors.New("portal: no other session of the account by that sid")

// SessionsOf lists the account's live sessions, the newest sign-in first,
// at most limit: the security page's signed-in devices.
func (s *Service) SessionsOf(ctx context.Context, si *SignedIn, limit int) ([]store.Session, error) {
	return s.Store.SessionsOf(ctx, si.Account.ID, s.Now(), limit)
}

// EndOtherSession signs out another browser of the signed-in account, the
// session named sid, as SignOut would have there: the session is deleted,
// the sites are told, and the audit log records it (with the address and
// browser of the session ended). It never ends si's own session, nor
// another account's: ErrNoSuchSession, changing nothing. A session si
// that ended since it was read ends nothing (ErrNoSession).
//
// It asks for no fresh second factor: it only takes access away, which is
// what a customer who fears someone else is signed in needs at once.
func (s *Service) EndOtherSession(ctx context.Context, si *SignedIn, c Client, sid string) error {
	if sid == "" || sid == si.Session.SID {
		return ErrNoSuchSession
	}
	return s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		if err := u.stillSignedIn(ctx, si); err != nil {
			return err
		}
		ended, err := u.Store.DeleteSessionBySID(ctx, si.Account.ID, sid)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoSuchSession
		}
		if err != nil {
			return err
		}
		if !u.Now().Before(ended.ExpiresAt) {
			// Expired: nobody was signed in there, and the page did
			// not list it. The row was due for the sweep anyway.
			return ErrNoSuchSession
		}
		u.endedOther(ctx, si, c, ended)
		return nil
	})
}

// EndOtherSessions signs out every other browser of the signed-in account,
// each as EndOtherSession does; it returns how many it ended. Like it, it
// asks for no fresh second factor.
func (s *Service) EndOtherSessions(ctx context.Context, si *SignedIn, c Client) (int, error) {
	var n int
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		n = 0
		live, err := u.Store.SessionsOf(ctx, si.Account.ID, u.Now(), 0)
		if err != nil {
			return err
		}
		// As stillSignedIn: the browser's own session must be among them.
		if !slices.ContainsFunc(live, func(l store.Session) bool { return l.IDHash == si.Session.IDHash }) {
			return ErrNoSession
		}
		for i := range live {
			if live[i].IDHash == si.Session.IDHash {
				continue
			}
			// By id hash: a session from before sids (0008) has none.
			if err := u.Store.DeleteSession(ctx, live[i].IDHash); err != nil {
				return err
			}
			u.endedOther(ctx, si, c, &live[i])
			n++
		}
		return nil
	})
	return n, err
}

// stillSignedIn answers ErrNoSession when si's session, read at the start
// of the request, has ended since: an operator's lock of a stolen account,
// a report of "not me", a sign-out in another tab, or another browser of
// the account ending this one at the same moment. Called in the unit of a
// change made in that session's name, it makes the change and the session's
// end exclusive: whichever commits first, the other does nothing.
func (s *Service) stillSignedIn(ctx context.Context, si *SignedIn) error {
	if _, err := s.Store.SessionByHash(ctx, si.Session.IDHash); errors.Is(err, store.ErrNotFound) {
		return ErrNoSession
	} else if err != nil {
		return err
	}
	return nil
}

// endedOther records the end of another session of si's account, and tells
// the sites after the commit.
func (s *Service) endedOther(ctx context.Context, si *SignedIn, c Client, ended *store.Session) {
	detail := "ended " + useragent.Parse(ended.UserAgent).Label("unknown browser") + " from " + ended.ClientIP
	s.audit(ctx, si.Account.ID, store.ActionSessionEndOther, "ok", c, detail)
	s.sessionEnded(ctx, ended.SID)
}

// Fresh reports whether the session's second factor was verified recently
// enough for a sensitive change.
func (s *Service) Fresh(si *SignedIn) bool {
	return !si.Session.MFAAt.IsZero() && s.Now().Sub(si.Session.MFAAt) <= s.Config.StepUpMaxAge.Duration
}

// StartStepUp begins a second-factor check for a signed-in customer; when it
// finishes, the session is renewed with a fresh second factor. An account
// without a second factor has nothing to step up with: ErrNoSuchMethod.
func (s *Service) StartStepUp(ctx context.Context, si *SignedIn, returnTo string) (*Flow, error) {
	ms, err := s.Methods(ctx, si.Account.ID)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, ErrNoSuchMethod
	}
	return s.newFlow(ctx, StateMFA, si.Account.ID, returnTo, flowData{StepUp: si.Session.IDHash, Lang: si.Account.Lang})
}

// ErrUnknownLanguage is a language the portal does not speak.
var ErrUnknownLanguage = errors.New("portal: unknown language")

// SetLanguage is the language switch of a signed-in customer: the account
// keeps lang ("ja", "en") for the mails sent without a request of theirs.
// It writes only when lang differs from the account's.
func (s *Service) SetLanguage(ctx context.Context, si *SignedIn, lang string) error {
	if !slices.Contains(mail.Languages, lang) {
		return ErrUnknownLanguage
	}
	if si.Account.Lang == lang {
		return nil
	}
	if err := s.Store.SetAccountLang(ctx, si.Account.ID, lang); err != nil {
		return err
	}
	si.Account.Lang = lang
	return nil
}

// ResetMFA is the security page's 「リセットする」: it removes every factor and
// the recovery code, ends the account's other sessions and writes the audit
// event, all at once. It needs a fresh second factor. ErrNothingToReset,
// changing nothing, when the account has no factor and no recovery code:
// the form sent again from a second tab, or from the confirmation page the
// back button shows after a reset, or twice at once (a double tap), must
// not end the sessions again, nor record and mail a second reset.
func (s *Service) ResetMFA(ctx context.Context, si *SignedIn, c Client) error {
	return s.ResetMFAOf(ctx, si, c, "")
}

// ResetMFAOf is ResetMFA of the factors a page showed, named by their tag
// (MethodsTagged; "" for whatever the account has): ErrFactorsChanged,
// changing nothing, when the account's factors are others now (none at
// all is ErrNothingToReset, as after a double tap);
// ErrNoSession, changing nothing, when si's session has ended since it was
// read. The checks are made in the reset's unit, so that of two resets sent
// at once the second finds what the first left, and a lock or a sign-out
// that commits first stops the reset.
func (s *Service) ResetMFAOf(ctx context.Context, si *SignedIn, c Client, tag string) error {
	if !s.Fresh(si) {
		return ErrStepUpNeeded
	}
	ev := &store.AuditEvent{
		At: s.Now(), AccountID: si.Account.ID, Actor: "customer", Action: store.ActionMFAReset, Outcome: "ok",
		ClientIP: c.IP, UserAgent: c.UserAgent, Detail: "security page",
	}
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		if err := u.stillSignedIn(ctx, si); err != nil {
			return err
		}
		ms, now, err := u.MethodsTagged(ctx, si.Account.ID)
		if err != nil {
			return err
		}
		// Nothing left first: a second 「リセットする」 of the same page
		// (a double tap) finds the factors it named reset by the first,
		// which is no change the customer must be warned of.
		if len(ms) == 0 {
			return ErrNothingToReset
		}
		if tag != "" && tag != now {
			return ErrFactorsChanged
		}
		return u.resetMFA(ctx, si.Account.ID, si.Session.IDHash, ev)
	})
	if err != nil {
		return err
	}
	s.notice(ctx, si.Account, mail.EventMFAReset, c)
	return nil
}

// resetMFA is store.Factors.ResetMFA with the account's grants revoked in
// the same commit (endGrants), and its sign-ins in progress ended: one
// that passed a factor the reset removes (a recovery code, its screen
// still open) would otherwise become a session after the reset ended the
// others.
func (s *Service) resetMFA(ctx context.Context, accountID, keepSession string, ev *store.AuditEvent) error {
	err := s.allOrNothing(ctx, func(ctx context.Context, u *Service) error {
		if err := u.Store.ResetMFA(ctx, accountID, keepSession, ev); err != nil {
			return err
		}
		if err := u.Store.DeleteFlowsOf(ctx, accountID); err != nil {
			return err
		}
		return u.endGrants(ctx, accountID)
	})
	if err == nil {
		s.counted(ctx, ev)
	}
	return err
}

// endGrants revokes the account's grants at every site, in the unit s is in
// (with the end of its sessions: a node that stops after the commit leaves
// no grant live), and logs the sites out after the commit.
func (s *Service) endGrants(ctx context.Context, accountID string) error {
	grants, err := s.Store.RevokeGrantsOf(ctx, accountID, "", "", s.Now())
	if err != nil {
		return err
	}
	s.grantsEnded(ctx, grants)
	return nil
}

// grantsEnded tells the sites of revoked grants, after the commit.
func (s *Service) grantsEnded(ctx context.Context, grants []store.Grant) {
	if s.GrantsEnded != nil && len(grants) > 0 {
		s.afterCommit(ctx, func(ctx context.Context) { s.GrantsEnded(ctx, grants) })
	}
}
