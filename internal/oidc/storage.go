// Package oidc makes the portal an OpenID Connect provider: the zitadel/oidc
// op library over Tobira's own storage, with Tobira's sign-in behind the
// authorization endpoint.
package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// Lifetimes of what the provider issues.
const (
	IDTokenLifetime      = time.Hour
	AccessTokenLifetime  = 15 * time.Minute
	RefreshTokenLifetime = 30 * 24 * time.Hour
	AuthRequestLifetime  = 30 * time.Minute // at least; Config.SignInTTL may make it longer
	CodeLifetime         = 10 * time.Minute
)

// Store is what the provider keeps: accounts from the portal's store, and
// its own clients, requests, grants, tokens and keys.
type Store interface {
	store.Accounts
	store.OIDC
	// AccountLockOf returns an operator's lock of the account;
	// store.ErrNotFound when it is not locked.
	AccountLockOf(ctx context.Context, accountID string) (*store.AccountLock, error)
	Hit(ctx context.Context, key string, window time.Duration, now time.Time, n int) (int, error)
	// SessionLive reports whether the account's portal session with the
	// SID sid is still on at now (store.Sessions).
	SessionLive(ctx context.Context, accountID, sid string, now time.Time) (bool, error)
}

// refusalKey carries the error Provider.intercept found in an
// authorization request that the library would have gone on with, or
// answered otherwise: CreateAuthRequest answers it, once the library has
// checked the client and redirect_uri, so that it goes back to the client
// with the request's state.
type refusalKey struct{}

// withRefusal marks ctx's request as refused with e, unless it is already.
func withRefusal(ctx context.Context, e *oidc.Error) context.Context {
	if refusalOf(ctx) != nil {
		return ctx
	}
	return context.WithValue(ctx, refusalKey{}, e)
}

func refusalOf(ctx context.Context) *oidc.Error {
	e, _ := ctx.Value(refusalKey{}).(*oidc.Error)
	return e
}

// MaxAgeCap is the longest max_age an authorization request keeps, in
// seconds: a hundred years. A longer one asks nothing more of a sign-in.
const MaxAgeCap = 100 * 365 * 24 * 60 * 60

// browserKey carries the binding value of the browser that sends an
// authorization request (WithBrowser).
type browserKey struct{}

// WithBrowser gives the provider the binding value of the browser that
// sends the authorization request whose context ctx is: a random value the
// web layer keeps in a cookie of the browser's. The request is stored with
// its hash, and only a browser with the value may go on with it
// (Request.From).
func WithBrowser(ctx context.Context, value string) context.Context {
	return context.WithValue(ctx, browserKey{}, value)
}

// storage implements op.Storage over Store.
type storage struct {
	st   Store
	keys *secret.Keyring
	ring *keyring
	now  func() time.Time
	log  *slog.Logger
	// requestTTL is how long an authorization request waits for its
	// sign-in (Config.SignInTTL).
	requestTTL time.Duration
	// ended is told which grants a replay or a lock found at a token's use
	// revoked, to log the sites out by back-channel.
	ended func(ctx context.Context, grants []store.Grant)
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// errNotFound is the library's not-found for auth requests and clients.
type errNotFound struct{ what string }

func (e errNotFound) Error() string { return "oidc: " + e.what + " not found" }
func (errNotFound) IsNotFound()     {}

// s256Challenge reports whether c can be an S256 code challenge: the
// SHA-256 of a verifier in base64url without padding, 43 characters (RFC
// 7636 4.2). Anything else is a client's mistake (a verifier sent as its
// own challenge, padding, a short made-up value) that no verifier would
// ever match, or that a client would match with a weak one.
func s256Challenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// CreateAuthRequest persists an authorization request. PKCE is required of
// public clients. The library has checked the client and redirect_uri, so
// what is refused here goes back to the client, with its state.
func (s *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, hinted string) (op.AuthRequest, error) {
	c, err := s.st.ClientByID(ctx, r.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if e := refusalOf(ctx); e != nil {
		return nil, e
	}
	if c.Public && (r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256) {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with S256 is required for public clients")
	}
	// Only S256 is advertised: "plain", or no method (which means plain,
	// RFC 7636 4.3), would let a stolen code go with the challenge seen in
	// the request.
	if r.CodeChallenge != "" && r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if r.CodeChallenge != "" && !s256Challenge(r.CodeChallenge) {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge must be the base64url SHA-256 of the verifier, 43 characters")
	}
	if !slices.Contains(r.Scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	if r.ResponseMode != "" && !slices.Contains(supportedModes, r.ResponseMode) {
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode is not supported")
	}
	// Scopes the provider gives nothing for are dropped, as unknown ones
	// are (OpenID Connect Core 1.0, 3.1.2.1), so no consent is asked for
	// them and no token names them.
	scopes := slices.DeleteFunc(slices.Clone(r.Scopes), func(sc string) bool { return !slices.Contains(supportedScopes, sc) })
	now := s.now()
	maxAge := int64(-1)
	if r.MaxAge != nil {
		// Beyond a century any sign-in is young enough; kept so, the
		// seconds neither wrap negative (as absent) nor overflow a
		// time.Duration (Request.Satisfied).
		maxAge = int64(min(*r.MaxAge, MaxAgeCap))
	}
	// Every request is the browser's that sent it: one without a binding
	// value would be any browser's.
	browser, _ := ctx.Value(browserKey{}).(string)
	if browser == "" {
		return nil, oidc.ErrServerError().WithDescription("the request is not bound to a browser")
	}
	var locales []string
	for _, t := range r.UILocales {
		locales = append(locales, language.Tag(t).String())
	}
	ar := &store.AuthRequest{
		ID: secret.ID(), ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State, Nonce: r.Nonce,
		Scopes: scopes, ResponseType: string(r.ResponseType), ResponseMode: string(r.ResponseMode),
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: string(r.CodeChallengeMethod),
		Prompt: r.Prompt, MaxAge: maxAge, LoginHint: r.LoginHint, UILocales: locales,
		CreatedAt: now, ExpiresAt: now.Add(s.requestTTL), BrowserHash: secret.Hash(browser),
		// Until the request is signed in, its account is the one its
		// id_token_hint names (the library verified the hint): only
		// that account may sign it in (Provider.AuthRequest).
		AccountID: hinted,
	}
	err = s.st.CreateAuthRequest(ctx, ar)
	if errors.Is(err, store.ErrNotFound) && hinted != "" {
		// The hint names an account that is no more: it cannot be
		// signed in (OpenID Connect Core 1.0, 3.1.2.1).
		return nil, oidc.ErrLoginRequired().WithDescription("the account the id_token_hint names cannot sign in")
	}
	if err != nil {
		return nil, err
	}
	return &authRequest{*ar}, nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	ar, err := s.st.AuthRequestByID(ctx, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound{"auth request"}
	}
	if err != nil {
		return nil, err
	}
	return &authRequest{*ar}, nil
}

// AuthRequestByCode finds the request a code was issued for. A code already
// exchanged is a replay: when the request is the code's client's
// (replayAuthenticated), the grant of its exchange is revoked with the
// tokens issued from it (RFC 6749 4.1.2), and its site told, as for a
// replayed refresh token. The library asks before it authenticates the
// client, so an unknown code is only looked up: anyone may send one, and
// it must cost no write; and a spent code presented by anyone else
// revokes nothing (Provider.intercept has answered such a request already,
// unless the code was spent meanwhile).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	hash := secret.Hash(code)
	ar, err := s.st.AuthRequestByCode(ctx, hash, s.now())
	if err == nil {
		return &authRequest{*ar}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, noteFault(ctx, err)
	}
	if spent, err := s.st.SpentCode(ctx, hash); noteFault(ctx, err) == nil && spent.GrantID != "" {
		prior := spent.GrantID
		if e := s.replayAuthenticated(ctx, spent); e != nil {
			s.log.Warn("oidc: authorization code replayed by a request not of its client; nothing revoked", "grant", prior, "error", e.ErrorType)
			return nil, errNotFound{"auth request"}
		}
		s.log.Warn("oidc: authorization code replayed; revoking its tokens", "grant", prior)
		// Revoked in the commit that reads the spent code again, which
		// leaves the site due its logout token; a grant revoked already
		// (an earlier replay) names none, and its site is not told again.
		revoked, err := s.st.RevokeSpentCode(ctx, hash, s.now())
		switch {
		case err == nil && revoked != "":
			s.grantEnded(ctx, revoked)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			// The request is refused all the same.
			s.log.Error("oidc: revoke the grant of a replayed code", "grant", prior, "err", err)
		}
	}
	return nil, errNotFound{"auth request"}
}

// SaveAuthCode records a code issued for the request, which expires in
// CodeLifetime (RFC 6749 4.1.2 recommends at most ten minutes), or with
// the request if that is sooner. Whether it was the request's first code
// goes to where ctx's firstCodeKey points (Provider.Callback).
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	first, err := s.st.SaveAuthCode(ctx, id, secret.Hash(code), s.now().Add(CodeLifetime))
	if p, ok := ctx.Value(firstCodeKey{}).(*bool); ok {
		*p = first
	}
	return err
}

// firstCodeKey carries, through the library's answer at the callback,
// where SaveAuthCode reports whether the code was the request's first.
type firstCodeKey struct{}

// DeleteAuthRequest removes the request of a code exchange, which the
// library asks once the tokens are issued and the code spent. A failure is
// logged and not the exchange's: answered 500 with the code already spent,
// the site's retry with it was taken for a replay, which revoked the grant
// just issued and logged the site out. The request left behind gives
// nothing more (its code is spent: presented again, it is a replay, as it
// would be had the request gone), and expires with its lifetime, when the
// sweep removes it (DeleteExpiredAuthRequests).
func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.st.DeleteAuthRequest(ctx, id); err != nil {
		s.log.Error("oidc: delete the auth request of an exchanged code; the sweep removes it once expired", "err", err)
	}
	return nil
}

// grantFor opens the grant of a code exchange (spendCode spends the code
// once the grant's tokens are stored), or returns a refresh's.
func (s *storage) grantFor(ctx context.Context, req op.TokenRequest) (*store.Grant, error) {
	if rr, ok := req.(*refreshRequest); ok {
		return rr.grant, nil
	}
	ar, ok := req.(*authRequest)
	if !ok {
		return nil, fmt.Errorf("oidc: unexpected token request %T", req)
	}
	if locked, err := s.lockedOut(ctx, ar.AccountID, ""); err != nil {
		return nil, err
	} else if locked {
		// The code goes with the refusal: an unlock does not revive it.
		if err := s.st.DeleteAuthRequest(ctx, ar.ID); err != nil {
			s.log.Error("oidc: delete the auth request of a locked account", "err", err)
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("the account is locked")
	}
	now := s.now()
	g := &store.Grant{
		ID: secret.ID(), ClientID: ar.ClientID, AccountID: ar.AccountID, Scopes: ar.Scopes,
		AuthTime: ar.AuthTime, AMR: ar.AMR, SessionHash: ar.SessionHash, CreatedAt: now,
	}
	if ar.SessionHash != "" {
		g.SID = sid(ar.SessionHash)
	}
	if err := s.st.CreateGrant(ctx, g); err != nil {
		return nil, err
	}
	// The code is the portal session's sign-in: once that session ended
	// (a sign-out, a reset of the second factor or a new password from
	// another browser, which revoke its grants), a code it signed before
	// gives nothing, though it has minutes to live. Checked after the
	// grant exists: an end that commits later revokes the grant itself,
	// with the tokens stored for it next. A request signed in by a
	// session without a SID (before 0008) has none to check.
	if ar.SessionHash != "" {
		live, err := s.st.SessionLive(ctx, ar.AccountID, ar.SessionHash, now)
		if err != nil {
			s.revoke(ctx, g.ID)
			return nil, err
		}
		if !live {
			s.revoke(ctx, g.ID)
			return nil, oidc.ErrInvalidGrant().WithDescription("the sign-in that issued the code has ended")
		}
	}
	return g, nil
}

// spendCode spends the code of a code exchange req (none for a refresh)
// for its grant g, once g's tokens are stored: spent before them, a store
// that then failed to keep them answered 500 with the code spent, and the
// client's retry was taken for a replay, which revokes and logs the site
// out. A code exchanged at once elsewhere is a replay found here: the
// store revokes the other exchange's grant in the commit that finds it,
// leaving its site due its logout token, and names it unless another
// replay revoked it first; issue revokes g with the tokens just stored.
func (s *storage) spendCode(ctx context.Context, req op.TokenRequest, g *store.Grant) error {
	ar, ok := req.(*authRequest)
	if !ok {
		return nil
	}
	now := s.now()
	prior, err := s.st.SpendCode(ctx, ar.CodeHash, ar.CodeChallenge, g.ID, now, now.Add(AuthRequestLifetime))
	switch {
	case errors.Is(err, store.ErrStale):
		s.log.Warn("oidc: authorization code replayed; revoking its tokens", "grant", prior)
		if prior != "" {
			s.grantEnded(ctx, prior)
		}
		return oidc.ErrInvalidGrant().WithDescription("authorization code already used")
	}
	return err
}

func (s *storage) newAccessToken(ctx context.Context, g *store.Grant, scopes []string) (string, time.Time, error) {
	now := s.now()
	t := &store.AccessToken{
		ID: secret.ID(), GrantID: g.ID, ClientID: g.ClientID, AccountID: g.AccountID, Scopes: scopes,
		Audience: []string{g.ClientID}, CreatedAt: now, ExpiresAt: now.Add(AccessTokenLifetime),
	}
	return t.ID, t.ExpiresAt, s.st.CreateAccessToken(ctx, t)
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, _, exp, err := s.issue(ctx, req, "", false)
	return id, exp, err
}

// CreateAccessAndRefreshTokens issues an access token and a new refresh
// token (issue). A refresh token presented is spent, once the library has
// accepted the request: each is used once and replaced (rotation). The
// access token has the scopes asked for; the new refresh token those of
// the one it replaces, even when the refresh asked for fewer (RFC 6749 6):
// a site that narrows one access token does not lose the rest of what the
// customer allowed it.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	return s.issue(ctx, req, current, true)
}

// issue stores the tokens of req, an access token and, with refresh, a
// refresh token, and only then spends what the request presented: the
// code of a code exchange (spendCode), the refresh token current of a
// refresh. Spent first, a store that then failed to keep the tokens
// answered 500 with the code or token spent, and the client's retry with
// it was taken for a replay, which revokes the grant and logs its site out.
// Tokens stored for a request that then fails go to no one: a code
// exchange's grant is revoked with them, a refresh's access token deleted
// (and a replay found there revokes the grant with them).
func (s *storage) issue(ctx context.Context, req op.TokenRequest, current string, refresh bool) (string, string, time.Time, error) {
	g, err := s.grantFor(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	fail := func(err error) (string, string, time.Time, error) {
		if _, ok := req.(*authRequest); ok {
			s.revoke(ctx, g.ID)
		}
		return "", "", time.Time{}, err
	}
	id, exp, err := s.newAccessToken(ctx, g, req.GetScopes())
	if err != nil {
		return fail(err)
	}
	var token string
	if refresh {
		// The dot keeps a refresh token from ever decoding as base64:
		// the library tries a token given to /revoke as an access token
		// first, and its legacy decrypter, which has no integrity check,
		// could otherwise turn one into garbage that names no token.
		token = "rt." + secret.Token(32)
		scopes := req.GetScopes()
		if rr, ok := req.(*refreshRequest); ok {
			scopes = rr.token.Scopes
		}
		now := s.now()
		err = s.st.CreateRefreshToken(ctx, &store.RefreshToken{
			Hash: secret.Hash(token), GrantID: g.ID, ClientID: g.ClientID, AccountID: g.AccountID,
			Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(RefreshTokenLifetime),
		})
		if err != nil {
			return fail(err)
		}
	}
	if err := s.spendCode(ctx, req, g); err != nil {
		return fail(err)
	}
	if current != "" {
		if _, err := s.spendRefreshToken(ctx, current); err != nil {
			if err := s.st.DeleteAccessToken(ctx, id); err != nil {
				s.log.Warn("oidc: delete the access token of a refused refresh", "err", err)
			}
			if errors.Is(err, op.ErrInvalidRefreshToken) {
				// Spent meanwhile by a refresh at once with this one, which
				// won: the client's error, invalid_grant, as for a token
				// used before. The library answers an error not its own
				// 500 server_error, which a site retries, with the token
				// that is spent now (and the grant revoked by the reuse).
				return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used").WithParent(err)
			}
			return "", "", time.Time{}, err
		}
	}
	return id, token, exp, nil
}

// spendRefreshToken marks a refresh token used. A token used twice was
// stolen or replayed: its whole grant is revoked, in the store's commit
// that finds the replay, which leaves the grant's site due its logout
// token (store.OIDC.UseRefreshToken), and the site is told.
func (s *storage) spendRefreshToken(ctx context.Context, token string) (*store.RefreshToken, error) {
	rt, err := s.st.UseRefreshToken(ctx, secret.Hash(token), s.now())
	switch {
	case errors.Is(err, store.ErrStale):
		s.log.Warn("oidc: refresh token reused; its grant is revoked")
		if rt != nil {
			s.grantEnded(ctx, rt.GrantID)
		}
		return nil, op.ErrInvalidRefreshToken
	case errors.Is(err, store.ErrNotFound):
		return nil, op.ErrInvalidRefreshToken
	}
	return rt, err
}

// TokenRequestByRefreshToken reads the refresh token presented, without
// spending it: a request the library then refuses (a scope not granted, a
// client mismatch) leaves it usable. One that is unknown as a live token is
// looked for among the used ones, and only one found there is spent again,
// which catches the replay: a public client needs no secret, so a made-up
// token may come from anyone, and must cost no write. A used one is a
// replay only when its own client presents it (ownRefreshToken): another
// client, which the library compares only after this read, is refused
// and revokes nothing.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	rt, err := s.st.RefreshTokenByHash(ctx, secret.Hash(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		used, err := s.st.UsedRefreshToken(ctx, secret.Hash(token), s.now())
		if errors.Is(err, store.ErrNotFound) {
			return nil, op.ErrInvalidRefreshToken
		}
		if err != nil {
			return nil, noteFault(ctx, err)
		}
		if !ownRefreshToken(ctx, used) {
			s.log.Warn("oidc: used refresh token presented by another client; nothing revoked")
			return nil, op.ErrInvalidRefreshToken
		}
		_, err = s.spendRefreshToken(ctx, token)
		if err == nil || errors.Is(err, op.ErrInvalidRefreshToken) {
			return nil, op.ErrInvalidRefreshToken
		}
		return nil, noteFault(ctx, err)
	}
	if err != nil {
		return nil, noteFault(ctx, err)
	}
	g, err := s.st.GrantByID(ctx, rt.GrantID)
	if noteFault(ctx, err) != nil || !g.RevokedAt.IsZero() {
		return nil, op.ErrInvalidRefreshToken
	}
	if locked, err := s.lockedOut(ctx, g.AccountID, g.ID); err != nil {
		return nil, noteFault(ctx, err)
	} else if locked {
		return nil, op.ErrInvalidRefreshToken
	}
	return &refreshRequest{token: rt, grant: g, scopes: rt.Scopes}, nil
}

// The library ends an RP-initiated logout with TerminateSessionFromRequest
// when the storage has it, and otherwise with TerminateSession, which knows
// only the account and the client. This keeps it from falling back.
var _ op.CanTerminateSessionFromRequest = (*storage)(nil)

// TerminateSessionFromRequest answers RP-initiated logout. The portal's web
// layer has ended the browser's session already, and with it that browser's
// grants at every site; the customer's other browsers keep theirs.
func (s *storage) TerminateSessionFromRequest(_ context.Context, req *op.EndSessionRequest) (string, error) {
	return req.RedirectURI, nil
}

// TerminateSession is op.Storage's, which the library does not call here
// (TerminateSessionFromRequest answers instead). It ends nothing: ending
// the account's grants with the client would sign the customer's other
// browsers out of the site, where a logout ends only its own browser's.
func (s *storage) TerminateSession(context.Context, string, string) error {
	return nil
}

// RevokeToken revokes a refresh token's grant, or an access token, of the
// client that authenticated. A request without a token is invalid_request
// (RFC 7009 2.1), where the library answered it 200 as if it had revoked
// something: a client that named the parameter wrongly (refresh_token=
// rather than token=) believed its customer's token revoked.
//
// A token issued to another client is refused and left alone (RFC 7009
// 2.2), with invalid_grant: RFC 6749 5.2's error for a token "issued to
// another client", and the token endpoint's answer to the same token. It
// was invalid_client, which told a client that authenticated that it had
// not, and counted it as a failed client authentication of its address
// (web's limitTokens).
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	if tokenOrID == "" {
		return oidc.ErrInvalidRequest().WithDescription("token missing")
	}
	// A refresh token comes as itself, or as the id GetRefreshTokenInfo gave
	// the library for it: its hash. A store that fails is the server's
	// error, 500, which the client retries: answered 200, as an unknown
	// token is, it told the client the token was revoked when nothing was.
	now := s.now()
	rt, err := s.st.RefreshTokenByHash(ctx, secret.Hash(tokenOrID), now)
	if errors.Is(err, store.ErrNotFound) {
		rt, err = s.st.RefreshTokenByHash(ctx, tokenOrID, now)
	}
	switch {
	case err == nil:
		if rt.ClientID != clientID {
			return errOtherClientsToken()
		}
		if err := s.st.RevokeGrant(ctx, rt.GrantID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("oidc: revoke a grant at /revoke", "grant", rt.GrantID, "err", err)
			return oidc.ErrServerError().WithDescription("the token could not be revoked; try again")
		}
		return nil
	case !errors.Is(err, store.ErrNotFound):
		s.log.Error("oidc: read a refresh token at /revoke", "err", err)
		return oidc.ErrServerError().WithDescription("the token could not be revoked; try again")
	}
	at, err := s.st.AccessTokenByID(ctx, tokenOrID, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// RFC 7009: an unknown token is no error.
		return nil
	case err != nil:
		s.log.Error("oidc: read an access token at /revoke", "err", err)
		return oidc.ErrServerError().WithDescription("the token could not be revoked; try again")
	case at.ClientID != clientID:
		return errOtherClientsToken()
	}
	if err := s.st.DeleteAccessToken(ctx, at.ID); err != nil {
		s.log.Error("oidc: delete an access token at /revoke", "err", err)
		return oidc.ErrServerError().WithDescription("the token could not be revoked; try again")
	}
	return nil
}

// errOtherClientsToken refuses a token that the client which authenticated
// was not issued (RevokeToken).
func errOtherClientsToken() *oidc.Error {
	return oidc.ErrInvalidGrant().WithDescription("the token was issued to another client")
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	rt, err := s.st.RefreshTokenByHash(ctx, secret.Hash(token), s.now())
	if err != nil || rt.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.AccountID, rt.Hash, nil
}

// revoke revokes a grant, logging rather than failing: it runs on paths that
// already refuse the request.
func (s *storage) revoke(ctx context.Context, grantID string) {
	if grantID == "" {
		return
	}
	if err := s.st.RevokeGrant(ctx, grantID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("oidc: revoke grant", "grant", grantID, "err", err)
	}
}

// lockedOut reports whether an operator locked the account. A lock revokes
// the account's grants in its own commit; the token and userinfo endpoints
// check it as well, so that a code exchanged in the same moment gives a
// locked account no tokens, nor a grant that outlived it (a lock written
// by an older version, or straight into the database). A live grant named
// is revoked then as the lock's own revocation revokes it: with its portal
// session's grants at its client, in one commit that leaves its site due
// its logout token (store.OIDC.RevokeGrantsOf), and the site is told.
func (s *storage) lockedOut(ctx context.Context, accountID, grantID string) (bool, error) {
	_, err := s.st.AccountLockOf(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if grantID != "" {
		s.log.Warn("oidc: a grant of a locked account was live; revoking it", "grant", grantID)
		if err := s.endGrant(ctx, grantID); err != nil {
			// The request is refused all the same.
			s.log.Error("oidc: revoke a grant of a locked account", "grant", grantID, "err", err)
		}
	}
	return true, nil
}

// endGrant revokes a grant of a locked account, with the others of its
// portal session at its client (of a session without a SID, before 0008,
// the account's every grant at the client), as a sign-out revokes them,
// and logs the site out by back-channel.
func (s *storage) endGrant(ctx context.Context, grantID string) error {
	g, err := s.st.GrantByID(ctx, grantID)
	if err != nil {
		return err
	}
	gs, err := s.st.RevokeGrantsOf(ctx, g.AccountID, g.ClientID, g.SessionHash, s.now())
	if err != nil {
		return err
	}
	if s.ended != nil {
		s.ended(ctx, gs)
	}
	return nil
}

// grantEnded logs out by back-channel the site of a grant the store
// revoked, as it left it: due its logout token, or not (Provider.
// logoutSites).
func (s *storage) grantEnded(ctx context.Context, grantID string) {
	g, err := s.st.GrantByID(ctx, grantID)
	if err != nil {
		s.log.Error("oidc: read a revoked grant", "grant", grantID, "err", err)
		return
	}
	if s.ended != nil {
		s.ended(ctx, []store.Grant{*g})
	}
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.ring.signing(ctx)
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	return s.ring.publicKeys(ctx)
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.st.ClientByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// The caller's error, wherever the library asks (a refresh
		// token's or a logout's client_id): the library answers any
		// other error as the server's own, with 500.
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client_id").WithParent(errNotFound{"client"})
	}
	if err != nil {
		// The portal's fault, not the client's: the library answers
		// any other error at client authentication invalid_client, 401,
		// which web's limitTokens counts as a failed authentication of
		// the client's address.
		return nil, oidc.ErrServerError().WithParent(noteFault(ctx, err))
	}
	return &client{*c}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret in constant
// time. A client that could not be read is the server's error, not a
// failed authentication (GetClientByClientID).
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, clientSecret string) error {
	c, err := s.st.ClientByID(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return oidc.ErrServerError().WithParent(noteFault(ctx, err))
	}
	if err != nil || c.Public {
		return oidc.ErrInvalidClient()
	}
	if subtle.ConstantTimeCompare([]byte(secret.Hash(clientSecret)), []byte(c.SecretHash)) != 1 {
		return oidc.ErrInvalidClient()
	}
	return nil
}

// SetUserinfoFromScopes fills in an ID token's claims, the only place the
// library calls it: the subject alone. The customer's name, email and
// locale are the userinfo endpoint's (userinfo), so that an ID token,
// which sites keep and send back in a logout URL's query, carries no
// personal data (client.IDTokenUserinfoClaimsAssertion).
func (s *storage) SetUserinfoFromScopes(_ context.Context, ui *oidc.UserInfo, userID, _ string, _ []string) error {
	ui.Subject = userID
	return nil
}

// userinfo fills in the claims of the scopes of an access token, for the
// userinfo and introspection endpoints.
func (s *storage) userinfo(ctx context.Context, ui *oidc.UserInfo, userID string, scopes []string) error {
	a, err := s.st.AccountByID(ctx, userID)
	if err != nil {
		return err
	}
	ui.Subject = a.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeEmail:
			ui.Email, ui.EmailVerified = a.Email, oidc.Bool(true)
		case oidc.ScopeProfile:
			ui.Name = a.Name
			ui.Locale = oidc.NewLocale(accountLocale(a.Lang))
		}
	}
	return nil
}

// accountLocale is the language the customer last used the portal in
// (store.Account.Lang), Japanese for one that has none.
func accountLocale(lang string) language.Tag {
	if t, err := language.Parse(lang); err == nil {
		return t
	}
	return language.Japanese
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	at, err := s.st.AccessTokenByID(ctx, tokenID, s.now())
	if err != nil || at.AccountID != subject {
		return oidc.ErrAccessDenied().WithDescription("token is invalid or expired")
	}
	if locked, err := s.lockedOut(ctx, at.AccountID, at.GrantID); err != nil {
		return err
	} else if locked {
		return oidc.ErrAccessDenied().WithDescription("token is invalid or expired")
	}
	return s.userinfo(ctx, ui, at.AccountID, at.Scopes)
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, ir *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	at, err := s.st.AccessTokenByID(ctx, tokenID, s.now())
	if err != nil || at.AccountID != subject || !slices.Contains(at.Audience, clientID) {
		return oidc.ErrAccessDenied()
	}
	if locked, err := s.lockedOut(ctx, at.AccountID, at.GrantID); err != nil {
		return err
	} else if locked {
		return oidc.ErrAccessDenied()
	}
	ui := new(oidc.UserInfo)
	if err := s.userinfo(ctx, ui, at.AccountID, at.Scopes); err != nil {
		return err
	}
	ir.SetUserInfo(ui)
	ir.Active, ir.Scope, ir.ClientID, ir.Audience = true, at.Scopes, at.ClientID, at.Audience
	ir.Expiration = oidc.FromTime(at.ExpiresAt)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// SetUserinfoFromRequest adds sid to the ID token: the portal session the
// tokens come from, which back-channel logout names. A refresh's ID token
// also gets the acr of the sign-in, as the first one had it: the library
// takes acr only from an authorization request.
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	var id string
	switch r := req.(type) {
	case *authRequest:
		if r.SessionHash != "" {
			id = sid(r.SessionHash)
		}
	case *refreshRequest:
		id = s.grantSID(r.grant)
		if acr := acrOf(r.grant.AMR); acr != "" {
			ui.AppendClaims("acr", acr)
		}
	}
	if id != "" {
		ui.AppendClaims("sid", id)
	}
	return nil
}

// sid names the portal session sessionSID to the sites without revealing
// it: a hash of it under a fixed label, 128 bits of a SHA-256. It is derived
// without the secret key on purpose, so that rotating secret_key does not
// change the sid of a live session, which would leave the sites' sessions
// standing at its logout (the portal's SID is 128 random bits, which no one
// finds from its hash). The grant keeps the sid its ID token carried
// (store.Grant.SID); a grant stored before that carries legacySID.
func sid(sessionSID string) string {
	sum := sha256.Sum256([]byte("tobira oidc sid\x00" + sessionSID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// legacySID is the sid of the versions before store.Grant.SID, derived
// with the primary secret key: that of a grant stored without one, which
// its site saw while that key was primary.
func (s *storage) legacySID(sessionSID string) string {
	return s.keys.Sign("oidc sid", sessionSID)[:22]
}

// grantSID is the sid g's ID tokens carry and its logout tokens name.
func (s *storage) grantSID(g *store.Grant) string {
	switch {
	case g.SessionHash == "":
		return ""
	case g.SID != "":
		return g.SID
	default:
		return s.legacySID(g.SessionHash)
	}
}

// namesSession reports whether hinted, the sid of an ID token, names the
// portal session sessionSID, by either derivation.
func (s *storage) namesSession(hinted, sessionSID string) bool {
	if hinted == "" || sessionSID == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hinted), []byte(sid(sessionSID))) == 1 ||
		subtle.ConstantTimeCompare([]byte(hinted), []byte(s.legacySID(sessionSID))) == 1
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidc: JWT profile grants are not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidc: JWT profile grants are not supported")
}

func (s *storage) Health(ctx context.Context) error {
	_, err := s.st.Hit(ctx, "oidc:health", time.Minute, s.now(), 0)
	return err
}

// isLoopbackHTTP reports whether u is a plain-HTTP URL on this machine.
func isLoopbackHTTP(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return false
	}
	host := p.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validRedirect checks a redirect URI for registration: absolute, no
// fragment, https or plain-HTTP loopback.
func validRedirect(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil || !p.IsAbs() || p.Host == "":
		return fmt.Errorf("redirect URI %q is not an absolute URL", u)
	case p.Fragment != "" || strings.Contains(u, "#"):
		return fmt.Errorf("redirect URI %q has a fragment", u)
	case p.Scheme != "https" && !isLoopbackHTTP(u):
		return fmt.Errorf("redirect URI %q must use https (plain http only on 127.0.0.1 or localhost)", u)
	}
	return nil
}
