package oidc

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
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

// postLogout delivers a logout token, trying again twice on failure.
func (p *Provider) postLogout(ctx context.Context, uri, token, clientID string) {
	body := url.Values{"logout_token": {token}}.Encode()
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := p.client.Do(req)
		status := 0
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusNoContent {
				return
			}
			status = res.StatusCode
		}
		p.storage.log.Warn("oidc: back-channel logout failed", "client", clientID, "attempt", attempt+1, "status", status, "err", err)
	}
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
