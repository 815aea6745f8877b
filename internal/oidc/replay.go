package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// A code or refresh token presented again after its use is a replay, which
// revokes the grant it gave (RFC 6749 4.1.2, 10.4): it was stolen, or the
// client leaked it. Only a request of the client it was issued to may do
// that. The library reads a code before it authenticates the client, so a
// spent code was a way for anyone who saw one (in a proxy's log, a
// browser's history) to sign the customer out of the site; and a used
// refresh token named by another client, which the library compares only
// after it has read the token, revoked the grant of the client it was
// issued to.

// tokenClient is how a request at the token endpoint names and
// authenticates its client, read as the library reads it: HTTP Basic, or
// else client_id and client_secret in the form (in any case, as its
// decoder reads them; each is given once, Provider.intercept); and its
// PKCE verifier.
type tokenClient struct {
	id, secret string
	verifier   string
	// ok is false for credentials the library refuses before it reads a
	// code or a token: Basic that does not decode, or given beside the
	// form's, or a client assertion (not supported).
	ok bool
}

// tokenClientKey carries a token request's tokenClient (withTokenClient).
type tokenClientKey struct{}

// withTokenClient gives ctx the client of r, a request at the token
// endpoint whose form is parsed.
func withTokenClient(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, tokenClientKey{}, tokenClientOf(r))
}

func tokenClientOf(r *http.Request) *tokenClient {
	get := func(name string) string { _, v := param(r.Form, name); return v }
	c := &tokenClient{verifier: get("code_verifier"), ok: true}
	if get("client_assertion") != "" || get("client_assertion_type") != "" {
		c.ok = false
	}
	id, sec, basic := r.BasicAuth()
	if !basic {
		c.id, c.secret = get("client_id"), get("client_secret")
		return c
	}
	if get("client_id") != "" && get("client_secret") != "" {
		c.ok = false
	}
	var err1, err2 error
	c.id, err1 = url.QueryUnescape(id)
	c.secret, err2 = url.QueryUnescape(sec)
	if err1 != nil || err2 != nil {
		c.ok = false
	}
	return c
}

// tokenClientFrom is the client withTokenClient gave ctx; nil without one.
func tokenClientFrom(ctx context.Context) *tokenClient {
	c, _ := ctx.Value(tokenClientKey{}).(*tokenClient)
	return c
}

// replayRefusal is the answer to a token request that presents code, when
// the code was spent already and the request is not its client's: the
// error the request deserves, as the library would answer it for a code
// still live (invalid_client for a client that does not authenticate,
// invalid_request or invalid_grant for a PKCE verifier missing or wrong,
// invalid_grant for another client's request), or server_error when the
// store cannot tell. It is nil for a code not spent, whose request the
// library answers, and for a replay by the code's own client, which
// AuthRequestByCode then treats as one.
func (s *storage) replayRefusal(ctx context.Context, code string) *oidc.Error {
	if code == "" {
		return nil
	}
	spent, err := s.st.SpentCode(ctx, secret.Hash(code))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // not spent: the library goes on
	case err != nil:
		// The store failing is the server's error: the library would
		// answer a code it could not read invalid_grant, which tells
		// the client to drop a good code, and counts against its
		// address.
		s.log.Error("oidc: read a spent code", "err", err)
		return oidc.ErrServerError().WithDescription("the request could not be answered; try again")
	}
	return s.replayAuthenticated(ctx, spent)
}

// replayAuthenticated reports, with the answer it deserves, why the token
// request of ctx that presents the spent code spent is not a request of the
// client the code was issued to; nil when it is: the client authenticated
// (its secret; or, for a public client, which has none, the PKCE verifier
// of the code's request) and is the code's. The library's own checks of a
// live code come in the same order.
func (s *storage) replayAuthenticated(ctx context.Context, spent *store.SpentCode) *oidc.Error {
	invalidCode := oidc.ErrInvalidGrant().WithDescription("invalid code")
	tc := tokenClientFrom(ctx)
	if tc == nil || !tc.ok {
		return invalidCode
	}
	if spent.CodeChallenge != "" {
		if tc.verifier == "" {
			return oidc.ErrInvalidRequest().WithDescription("code_verifier required")
		}
		if !oidc.VerifyCodeChallenge(&oidc.CodeChallenge{Challenge: spent.CodeChallenge, Method: oidc.CodeChallengeMethodS256}, tc.verifier) {
			return oidc.ErrInvalidGrant().WithDescription("invalid code_verifier")
		}
	}
	c, err := s.st.ClientByID(ctx, tc.id)
	switch {
	case errors.Is(err, store.ErrNotFound) || tc.id == "":
		return oidc.ErrInvalidClient().WithDescription("unknown client_id")
	case err != nil:
		noteFault(ctx, err)
		return oidc.ErrServerError()
	case c.Public && spent.CodeChallenge == "":
		// Nothing tells the client: a code spent before its request's
		// challenge was kept.
		return invalidCode
	case !c.Public && subtle.ConstantTimeCompare([]byte(secret.Hash(tc.secret)), []byte(c.SecretHash)) != 1:
		return oidc.ErrInvalidClient().WithDescription("invalid client_id / client_secret")
	}
	g, err := s.st.GrantByID(ctx, spent.GrantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return invalidCode // gone with its account: nothing to revoke
	case err != nil:
		noteFault(ctx, err)
		return oidc.ErrServerError()
	case g.ClientID != c.ID:
		return invalidCode
	}
	return nil
}

// ownRefreshToken reports whether the token request of ctx names the client
// that the used refresh token rt was issued to. The library authenticated
// that client before it read the token.
func ownRefreshToken(ctx context.Context, rt *store.RefreshToken) bool {
	tc := tokenClientFrom(ctx)
	return tc != nil && tc.ok && tc.id != "" && tc.id == rt.ClientID
}
