package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutSites tells each site whose grant ended, by its back-channel logout
// URI (OpenID Connect Back-Channel Logout 1.0), so it ends its own session.
// The posts run in the background: a slow site must not hold the customer.
// A grant the store left due a logout token (LogoutTriedAt) is marked told
// once its site took the token. One whose site did not, after three tries,
// or whose post this process did not finish (it stopped), stays due, and
// the sweep of any node tries it again (DeliverDueLogouts).
func (p *Provider) logoutSites(ctx context.Context, grants []store.Grant) {
	for _, g := range grants {
		c, err := p.storage.st.ClientByID(ctx, g.ClientID)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue
		}
		token, err := p.logoutToken(ctx, g)
		if err != nil {
			p.storage.log.Error("oidc: logout token", "client", g.ClientID, "err", err)
			continue
		}
		p.posts.Add(1)
		go func() {
			defer p.posts.Done()
			ctx := context.WithoutCancel(ctx)
			told := p.postLogout(ctx, c.BackchannelLogoutURI, token, g.ClientID, 3)
			p.logouts.count(told)
			if g.LogoutTriedAt.IsZero() {
				return
			}
			if !told {
				p.storage.log.Warn("oidc: back-channel logout stays due; the sweep tries again", "client", g.ClientID)
				return
			}
			if err := p.storage.st.LogoutDone(ctx, g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				// Told again by a sweep: a second token ends nothing more.
				p.storage.log.Warn("oidc: back-channel logout not marked told", "client", g.ClientID, "err", err)
			}
		}()
	}
}

func (p *Provider) logoutToken(ctx context.Context, g store.Grant) (string, error) {
	key, err := p.storage.ring.signing(ctx)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.key},
		(&jose.SignerOptions{}).WithType("logout+jwt").WithHeader("kid", key.id))
	if err != nil {
		return "", err
	}
	now := p.storage.now()
	claims := map[string]any{
		"iss":    p.issuer,
		"sub":    g.AccountID,
		"aud":    g.ClientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    secret.ID(),
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	if id := p.storage.grantSID(&g); id != "" {
		claims["sid"] = id
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// postLogout delivers a logout token, in at most tries attempts, and
// reports whether the site took it.
func (p *Provider) postLogout(ctx context.Context, uri, token, clientID string, tries int) bool {
	body := url.Values{"logout_token": {token}}.Encode()
	for attempt := range tries {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := p.client.Do(req)
		status := 0
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusNoContent {
				return true
			}
			status = res.StatusCode
		}
		p.storage.log.Warn("oidc: back-channel logout failed", "client", clientID, "attempt", attempt+1, "status", status, "err", err)
	}
	return false
}

// endedBatch is how many grants of ended portal sessions EndExpiredSessions
// reads at a time, and endedPosts how many of their logout tokens it posts
// at once.
const (
	endedBatch = 100
	endedPosts = 8
)

// EndExpiredSessions tells the sites of the portal sessions that ended on
// their own, by expiring, what a sign-out tells them: each grant of such a
// session is found (store.OIDC.GrantsOfEndedSessions), its site is sent a
// logout token for the session's sid at its back-channel logout URI, and
// only then is the grant marked told (SessionGrantEnded). A process that
// stops in between tells the site again at its next run rather than never;
// a site ends no more sessions for a second logout token than for the
// first. A grant without offline_access is revoked with it; one with
// offline_access keeps its refresh tokens, which are meant to outlive the
// sign-in (OpenID Connect Back-Channel Logout 1.0, 2.7). A site that does
// not answer after three tries is not asked again: as at a sign-out, it
// keeps its session until it expires. The portal's periodic sweep calls
// it; it returns how many grants it marked.
func (p *Provider) EndExpiredSessions(ctx context.Context) (int, error) {
	total := 0
	// Each batch reads on after the last grant of the one before: the
	// grants of live sessions in front are read once a run, not once a
	// batch. A grant before it whose session ends meanwhile is the next
	// run's.
	var after store.GrantKey
	for ctx.Err() == nil {
		now := p.storage.now()
		gs, err := p.storage.st.GrantsOfEndedSessions(ctx, now, after, endedBatch)
		if err != nil {
			return total, err
		}
		marked, err := p.endSessionGrants(ctx, gs, now)
		total += marked
		if err != nil || len(gs) < endedBatch {
			return total, err
		}
		after = gs[len(gs)-1].Key()
	}
	return total, ctx.Err()
}

// endSessionGrants posts the logout tokens of gs, endedPosts at a time,
// and marks each grant once its post is done.
func (p *Provider) endSessionGrants(ctx context.Context, gs []store.Grant, now time.Time) (int, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		marked int
		first  error
	)
	slots := make(chan struct{}, endedPosts)
	for _, g := range gs {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := p.endSessionGrant(ctx, g, now)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				marked++
			} else if first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return marked, first
}

func (p *Provider) endSessionGrant(ctx context.Context, g store.Grant, now time.Time) error {
	c, err := p.storage.st.ClientByID(ctx, g.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && c.BackchannelLogoutURI != "" {
		token, err := p.logoutToken(ctx, g)
		if err != nil {
			return fmt.Errorf("oidc: logout token for client %s: %w", g.ClientID, err)
		}
		told := p.postLogout(ctx, c.BackchannelLogoutURI, token, g.ClientID, 3)
		if !told && ctx.Err() != nil {
			// Cut off by the process's end: told at the next run.
			return ctx.Err()
		}
		p.logouts.count(told)
		if !told {
			p.storage.log.Warn("oidc: a site was not told that an expired portal session ended", "client", g.ClientID)
		}
	}
	revoke := !slices.Contains(g.Scopes, oidc.ScopeOfflineAccess)
	err = p.storage.st.SessionGrantEnded(ctx, g.ID, revoke, now)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted meanwhile, with its client or account.
		return nil
	}
	return err
}

// LogoutNames checks an RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0) as the end_session endpoint will, acting on
// nothing, and reports whether its id_token_hint was issued for the portal
// session sess: signed by this provider (expired or not, as a site's session
// outlives its ID token), for sess's account and with sess's sid. err is
// the library's answer for a request the endpoint refuses (an invalid hint,
// a post_logout_redirect_uri the client did not register).
func (p *Provider) LogoutNames(r *http.Request, sess *store.Session) (bool, error) {
	claims, err := p.logoutHint(r)
	if err != nil || claims == nil || sess.SID == "" {
		return false, err
	}
	return claims.GetSubject() == sess.AccountID && p.storage.namesSession(claims.SessionID, sess.SID), nil
}

// LogoutHint reads an RP-initiated logout request's id_token_hint, checked
// as LogoutNames checks it, for a browser that brought no portal session:
// the account it names, and whether a portal session's SID is the one it
// names. ok is false without a valid hint that names a session; err is the
// library's answer for a request the endpoint refuses.
func (p *Provider) LogoutHint(r *http.Request) (accountID string, names func(sid string) bool, ok bool, err error) {
	claims, err := p.logoutHint(r)
	if err != nil || claims == nil || claims.GetSubject() == "" || claims.SessionID == "" {
		return "", nil, false, err
	}
	hinted := claims.SessionID
	return claims.GetSubject(), func(sid string) bool { return p.storage.namesSession(hinted, sid) }, true, nil
}

// logoutHint parses and checks an end_session request as the endpoint will,
// and returns its id_token_hint's claims; nil without a hint.
func (p *Provider) logoutHint(r *http.Request) (*oidc.IDTokenClaims, error) {
	ctx := op.ContextWithIssuer(r.Context(), p.issuer)
	req, err := op.ParseEndSessionRequest(r, p.op.Decoder())
	if err != nil {
		return nil, err
	}
	es, err := op.ValidateEndSessionRequest(ctx, req, p.op)
	if err != nil {
		return nil, err
	}
	return es.IDTokenHintClaims, nil
}

// Logout tokens due since a revocation (store.Grant.LogoutTriedAt) that the
// revoking process did not deliver: its site was down, or the process
// stopped between the commit and the post.
const (
	// logoutRetryAfter is how long a due token waits after its last try
	// before a sweep tries it again. The revocation counts as the first
	// try: the process that revoked posts at once, and its three tries
	// take under twenty seconds with the default client, so a sweep does
	// not post the same token beside it in the ordinary case.
	logoutRetryAfter = time.Minute
	// logoutGiveUp is how long after the revocation a site that never
	// took its token is given up on, logged and marked told, so that the
	// queue of a site gone for good does not grow for ever. A time rather
	// than a count of tries: every node sweeps, so tries would count nodes
	// as much as time, and a day is a down site's whole outage overnight
	// or over a maintenance window, after which its own session, bounded
	// by the portal's session_ttl (twelve hours by default) as the demo's
	// sites bound theirs, has most likely ended anyway.
	logoutGiveUp = 24 * time.Hour
)

// DeliverDueLogouts posts the back-channel logout tokens still due whose
// last try is logoutRetryAfter old, and marks each grant told once its
// site took the token, or once it is logoutGiveUp past its revocation
// (a WARN). Each batch is claimed in the store before its posts
// (ClaimLogouts), so that sweeps at once on several nodes share the work
// rather than each posting every token; should a claim's posts outlast
// logoutRetryAfter, another node may post a token again, which is
// harmless: a site ends no more sessions for a second logout token than
// for the first. Each token is tried once per run, the sweep being the
// retry. The first post of a run to each site goes alone, and a site that
// fails is not posted to again in the same run: a site down must not hold
// the sweep for its timeout once per customer. The portal's periodic
// sweep calls it; it returns how many it delivered and how many it gave
// up.
func (p *Provider) DeliverDueLogouts(ctx context.Context) (told, gaveUp int, err error) {
	var (
		mu    sync.Mutex
		sites = map[string]int{} // each client's siteUp or siteDown in this run
	)
	for ctx.Err() == nil {
		now := p.storage.now()
		gs, err := p.storage.st.ClaimLogouts(ctx, now.Add(-logoutRetryAfter), now, endedBatch)
		if err != nil {
			return told, gaveUp, err
		}
		var (
			wg    sync.WaitGroup
			first error
		)
		deliver := func(g store.Grant, skip bool) {
			outcome, err := p.deliverDueLogout(ctx, g, now, skip)
			mu.Lock()
			defer mu.Unlock()
			switch outcome {
			case logoutTold:
				told++
				if sites[g.ClientID] == siteUnknown {
					sites[g.ClientID] = siteUp
				}
			case logoutFailed, logoutGaveUp:
				sites[g.ClientID] = siteDown
			}
			if outcome == logoutGaveUp {
				gaveUp++
			}
			if err != nil && first == nil {
				first = err
			}
		}
		slots := make(chan struct{}, endedPosts)
		for _, g := range gs {
			mu.Lock()
			site := sites[g.ClientID]
			mu.Unlock()
			if site == siteUnknown {
				// Its answer decides whether the site's others are posted.
				deliver(g, false)
				continue
			}
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				deliver(g, site == siteDown)
			})
		}
		wg.Wait()
		if first != nil || len(gs) < endedBatch {
			return told, gaveUp, first
		}
	}
	return told, gaveUp, ctx.Err()
}

// What DeliverDueLogouts knows of a site in its run.
const (
	siteUnknown = iota // not posted to yet
	siteUp             // took a token
	siteDown           // did not: not posted to again in this run
)

// The outcomes of deliverDueLogout.
const (
	logoutNone   = iota // nothing to post any more (no client, no URI)
	logoutTold          // the site took the token
	logoutFailed        // the site did not; it stays due
	logoutGaveUp        // the site did not, for logoutGiveUp; told no more
)

// deliverDueLogout posts g's logout token once, unless skip (its site
// failed in this run already), and marks g told when its site took it or
// is given up on.
func (p *Provider) deliverDueLogout(ctx context.Context, g store.Grant, now time.Time, skip bool) (int, error) {
	outcome := logoutNone
	c, err := p.storage.st.ClientByID(ctx, g.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return outcome, err
	}
	if err == nil && c.BackchannelLogoutURI != "" {
		outcome = logoutFailed
		if !skip {
			token, err := p.logoutToken(ctx, g)
			if err != nil {
				return outcome, fmt.Errorf("oidc: logout token for client %s: %w", g.ClientID, err)
			}
			told := p.postLogout(ctx, c.BackchannelLogoutURI, token, g.ClientID, 1)
			if ctx.Err() != nil {
				// Cut off by the process's end: tried again later.
				return outcome, ctx.Err()
			}
			p.logouts.count(told)
			if told {
				outcome = logoutTold
			}
		}
		if outcome == logoutFailed {
			if now.Sub(g.RevokedAt) < logoutGiveUp {
				return outcome, nil
			}
			outcome = logoutGaveUp
			p.logouts.gaveUp.Add(1)
			p.storage.log.Warn("oidc: back-channel logout given up: the site did not take it for a day",
				"client", g.ClientID, "revoked_at", g.RevokedAt.UTC().Format(time.RFC3339))
		}
	}
	err = p.storage.st.LogoutDone(ctx, g.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted meanwhile, with its client or account.
		return outcome, nil
	}
	return outcome, err
}

// logoutStats counts this process's back-channel logout posts, for
// /metrics.
type logoutStats struct {
	told, failed, gaveUp atomic.Int64
}

func (s *logoutStats) count(told bool) {
	if told {
		s.told.Add(1)
	} else {
		s.failed.Add(1)
	}
}

// LogoutStats are the back-channel logout tokens this process posted that
// the sites took (Told) and did not take (Failed), each post once however
// many attempts it made, and the tokens it gave up on (GaveUp) after
// logoutGiveUp.
type LogoutStats struct{ Told, Failed, GaveUp int64 }

// LogoutStats reports this process's back-channel logouts since it started.
func (p *Provider) LogoutStats() LogoutStats {
	return LogoutStats{Told: p.logouts.told.Load(), Failed: p.logouts.failed.Load(), GaveUp: p.logouts.gaveUp.Load()}
}
