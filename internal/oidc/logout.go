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
			p.postLogout(context.WithoutCancel(ctx), c.BackchannelLogoutURI, token, g.ClientID)
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
	if g.SessionHash != "" {
		claims["sid"] = p.storage.sid(g.SessionHash)
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// postLogout delivers a logout token, trying again twice on failure, and
// reports whether the site took it.
func (p *Provider) postLogout(ctx context.Context, uri, token, clientID string) bool {
	body := url.Values{"logout_token": {token}}.Encode()
	for attempt := range 3 {
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
	for ctx.Err() == nil {
		now := p.storage.now()
		gs, err := p.storage.st.GrantsOfEndedSessions(ctx, now, endedBatch)
		if err != nil {
			return total, err
		}
		marked, err := p.endSessionGrants(ctx, gs, now)
		total += marked
		if err != nil || len(gs) < endedBatch {
			return total, err
		}
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
		if !p.postLogout(ctx, c.BackchannelLogoutURI, token, g.ClientID) {
			if ctx.Err() != nil {
				// Cut off by the process's end: told at the next run.
				return ctx.Err()
			}
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
	ctx := op.ContextWithIssuer(r.Context(), p.issuer)
	req, err := op.ParseEndSessionRequest(r, p.op.Decoder())
	if err != nil {
		return false, err
	}
	es, err := op.ValidateEndSessionRequest(ctx, req, p.op)
	if err != nil {
		return false, err
	}
	claims := es.IDTokenHintClaims
	if claims == nil || sess.SID == "" {
		return false, nil
	}
	return claims.GetSubject() == sess.AccountID && claims.SessionID == p.storage.sid(sess.SID), nil
}
