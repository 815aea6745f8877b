package store

import (
	"context"
	"time"
)

// Client is an OpenID Connect relying party registered with the portal.
type Client struct {
	ID         string
	SecretHash string // SHA-256 of the secret; empty for a public client
	Name       string
	// RedirectURIs are matched exactly.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives a logout token when the customer's
	// portal session ends; empty for none.
	BackchannelLogoutURI string
	// Public clients (no secret) must use PKCE.
	Public bool
	// FirstParty clients (the customer sites) skip consent.
	FirstParty bool
	CreatedAt  time.Time
}

// AuthRequest is an authorization request in progress, persisted so that it
// survives a restart and works on every node.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	// MaxAge is the max_age parameter in seconds; -1 when absent.
	MaxAge    int64
	LoginHint string
	UILocales []string
	// BrowserHash is the hash of the binding value of the browser that
	// started the request (a cookie's): only that browser may go on with
	// it. Empty for a request stored before it was kept (0027).
	BrowserHash string
	// Set when the customer has signed in for it (AccountID, before, is
	// the account its id_token_hint names, if any):
	AccountID   string
	AuthTime    time.Time
	AMR         []string
	SessionHash string // the SID of the portal session it was completed with
	Done        bool
	// CodeHash is the hash of the authorization code issued for it.
	CodeHash  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SpentCode is an authorization code exchanged already (OIDC.SpendCode),
// kept until the expiry SpendCode was given so that a replay is told apart.
type SpentCode struct {
	// GrantID is the grant the code's first exchange gave.
	GrantID string
	// CodeChallenge is the PKCE challenge of the code's request, which a
	// replay must answer with its verifier to count as its client's;
	// empty for a request without one, or a code spent before it was kept
	// (migration 0035).
	CodeChallenge string
}

// Grant is what one authorization (a code exchange, or a chain of refresh
// tokens from it) was given: every token issued from it names it, so that a
// replayed code or refresh token revokes them all together.
type Grant struct {
	ID          string
	ClientID    string
	AccountID   string
	Scopes      []string
	AuthTime    time.Time
	AMR         []string
	SessionHash string // the SID of the portal session it came from
	// SID is the sid its ID tokens carry and its back-channel logout
	// tokens name, kept as issued; empty for a grant stored before it was
	// kept (0037).
	SID       string
	CreatedAt time.Time
	RevokedAt time.Time
	// LogoutTriedAt is set while the grant's site is due a back-channel
	// logout token because the grant was revoked with its portal session
	// (RevokeGrantsOf, RevokeOtherGrantsOf, EraseAccount) or for a replay
	// of its refresh token (UseRefreshToken) or of its authorization code
	// (SpendCode, RevokeSpentCode): when the token was last
	// tried, the revocation's immediate post first. Zero when none is due:
	// never was (another reason for the revocation, no SID, no
	// back-channel logout URI), or the site was told or given up on.
	LogoutTriedAt time.Time
}

// GrantKey is a grant's place in the order of GrantsOfEndedSessions:
// oldest first, by id among grants of one instant.
type GrantKey struct {
	CreatedAt time.Time
	ID        string
}

// Key is g's place in the order of GrantsOfEndedSessions.
func (g Grant) Key() GrantKey { return GrantKey{CreatedAt: g.CreatedAt, ID: g.ID} }

// AccessToken is an opaque or JWT access token's record.
type AccessToken struct {
	ID        string
	GrantID   string
	ClientID  string
	AccountID string
	Scopes    []string
	Audience  []string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// RefreshToken is a refresh token's record; only its hash is stored. Each
// use replaces it with a new one (rotation); a second use of a replaced
// token revokes its whole grant (reuse detection).
type RefreshToken struct {
	Hash      string
	GrantID   string
	ClientID  string
	AccountID string
	Scopes    []string
	ExpiresAt time.Time
	CreatedAt time.Time
	UsedAt    time.Time
}

// SigningKey is a key that signs ID tokens. Keys rotate: a new key signs
// from its creation; an old one stays published until the tokens it signed
// have expired.
type SigningKey struct {
	ID         string // kid
	Algorithm  string // "RS256"
	PrivateKey string // PEM, encrypted with the keyring
	CreatedAt  time.Time
	// RetiredAt: the key stops signing (zero while it is the current key).
	RetiredAt time.Time
	// ExpiresAt: the key leaves the published key set.
	ExpiresAt time.Time
}

// OIDC stores the provider's clients, requests, tokens and keys.
type OIDC interface {
	CreateClient(ctx context.Context, c *Client) error // ErrConflict for a taken id
	ClientByID(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient replaces the name and the URIs of the client with c's
	// id by c's, and nothing else: not its secret (SetClientSecret), so
	// that an update made from a copy read before a rotation cannot bring
	// the old secret back; ErrNotFound for an unknown id.
	UpdateClient(ctx context.Context, c *Client) error
	// SetClientSecret replaces the hash of the client's secret; ErrNotFound
	// for an unknown id.
	SetClientSecret(ctx context.Context, id, secretHash string) error
	// DeleteClient removes the client and everything it was given: its
	// authorization requests, grants with their tokens, and consents. It
	// returns how many of its grants were live; ErrNotFound for an unknown id.
	DeleteClient(ctx context.Context, id string) (liveGrants int, err error)

	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// AuthRequestByID returns ErrNotFound when missing or expired at now.
	AuthRequestByID(ctx context.Context, id string, now time.Time) (*AuthRequest, error)
	// CompleteAuthRequest records the sign-in that completes it.
	CompleteAuthRequest(ctx context.Context, id, accountID, sessionHash string, authTime time.Time, amr []string) error
	// SaveAuthCode records the hash of the code issued for the request,
	// which then expires at expiresAt at the latest, and reports whether
	// it is the request's first code: of calls at once for a request
	// without one, only one is first.
	SaveAuthCode(ctx context.Context, id, codeHash string, expiresAt time.Time) (first bool, err error)
	// AuthRequestByCode returns ErrNotFound when no live request has the code.
	AuthRequestByCode(ctx context.Context, codeHash string, now time.Time) (*AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error
	// EndAuthRequest removes the request, as DeleteAuthRequest does, and
	// reports whether this removed it while it was open: there, and with
	// no code issued yet (SaveAuthCode's first). Of calls at once, only
	// one removes it.
	EndAuthRequest(ctx context.Context, id string) (open bool, err error)
	DeleteExpiredAuthRequests(ctx context.Context, now time.Time) (int64, error)

	// SpendCode marks an authorization code exchanged at `at`, remembering
	// the grant its tokens belong to, in one transaction; ErrStale when it
	// was exchanged before: a replay. The grant of the code's first
	// exchange is then revoked in the same transaction, its tokens deleted,
	// and left due a logout token as RevokeGrantsOf leaves it (its site
	// keeps no session of a code that was stolen), and its id returned with
	// ErrStale. Of replays at once only one revokes it: the others, like a
	// replay of a grant revoked already, return no id, so that its site is
	// told once.
	// codeChallenge is the PKCE challenge of the code's request (empty
	// without one), kept with the spent code for SpentCode.
	SpendCode(ctx context.Context, codeHash, codeChallenge, grantID string, at, expiresAt time.Time) (priorGrant string, err error)
	// SpentCode returns the grant a code was exchanged for and its
	// request's PKCE challenge, reading only; ErrNotFound for a code never
	// spent.
	SpentCode(ctx context.Context, codeHash string) (*SpentCode, error)
	// RevokeSpentCode revokes at `at` the grant a code was exchanged for,
	// as SpendCode revokes it, for a replay found once the code's request
	// is gone: in one transaction that reads the spent code, left due a
	// logout token as RevokeGrantsOf leaves it. It returns the grant's id
	// when it revoked it, and no id when the grant was revoked already (an
	// earlier replay, a sign-out); ErrNotFound for a code never spent.
	RevokeSpentCode(ctx context.Context, codeHash string, at time.Time) (grantID string, err error)

	CreateGrant(ctx context.Context, g *Grant) error
	GrantByID(ctx context.Context, id string) (*Grant, error)
	// RevokeGrant revokes the grant and deletes its access and refresh tokens.
	RevokeGrant(ctx context.Context, id string, at time.Time) error
	// RevokeGrantsOf revokes every grant of the account (for clientID only,
	// when not empty), or of one portal session when sessionHash is set.
	// Its callers end the portal sessions the grants came from (a
	// sign-out, a logout, every session of an account), so each grant
	// revoked with a SID, of a client with a back-channel logout URI, is
	// left due a logout token (LogoutTriedAt set to at) in the same
	// transaction, until LogoutDone.
	RevokeGrantsOf(ctx context.Context, accountID, clientID, sessionHash string, at time.Time) ([]Grant, error)
	// RevokeOtherGrantsOf revokes every live grant of the account but
	// those of the portal session keepSID (a Grant's SessionHash), for a
	// change that ends the account's other sign-ins while the browser that
	// made it stays signed in at the sites; with an empty keepSID it keeps
	// none. It deletes their tokens and returns them revoked, oldest first,
	// due a logout token as RevokeGrantsOf leaves them.
	RevokeOtherGrantsOf(ctx context.Context, accountID, keepSID string, at time.Time) ([]Grant, error)
	// GrantsOfEndedSessions returns, oldest first, at most limit live
	// grants whose portal session (SessionHash) is not live at now, expired
	// or gone, and whose site has not been told so (SessionGrantEnded).
	// Grants of sessions without a SID are never among them. Only those
	// after `after` in that order are: the last grant of the caller's
	// previous batch, or the zero GrantKey for the first, so that a sweep
	// reads past each grant of a live session once rather than at every
	// batch.
	GrantsOfEndedSessions(ctx context.Context, now time.Time, after GrantKey, limit int) ([]Grant, error)
	// SessionGrantEnded records at at that the site of grant id was told its
	// portal session ended, so GrantsOfEndedSessions returns it no more;
	// with revoke it also revokes the grant, as RevokeGrant does, in the
	// same transaction. Marking it again is no error and keeps the first
	// time; ErrNotFound for an unknown grant.
	SessionGrantEnded(ctx context.Context, id string, revoke bool, at time.Time) error
	// ClaimLogouts returns at most limit grants whose site is due a
	// back-channel logout token and was last tried at or before
	// triedBefore, the longest untried first, and records now as their
	// last try (LogoutTriedAt) in the same statement: of claims at once,
	// on one node or several, each grant goes to one. The grants are
	// returned as claimed, oldest revocation first.
	ClaimLogouts(ctx context.Context, triedBefore, now time.Time, limit int) ([]Grant, error)
	// LogoutDone records that the site of grant id was told it ended, or
	// given up on: it is due no logout token any more. No error for a
	// grant due none; ErrNotFound for an unknown grant.
	LogoutDone(ctx context.Context, id string) error
	// LogoutsPending counts the grants whose site is due a back-channel
	// logout token.
	LogoutsPending(ctx context.Context) (int, error)

	CreateAccessToken(ctx context.Context, t *AccessToken) error
	// AccessTokenByID returns ErrNotFound when missing, expired at now, or
	// of a revoked grant.
	AccessTokenByID(ctx context.Context, id string, now time.Time) (*AccessToken, error)
	DeleteAccessToken(ctx context.Context, id string) error

	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// UseRefreshToken marks the token used and returns it. A token used
	// before is a replay: its grant is revoked in the same transaction, left
	// due a logout token as RevokeGrantsOf leaves it (its site keeps no
	// session of tokens that were stolen), and the token returned with
	// ErrStale. ErrNotFound for an unknown, expired or revoked one.
	UseRefreshToken(ctx context.Context, hash string, now time.Time) (*RefreshToken, error)
	RefreshTokenByHash(ctx context.Context, hash string, now time.Time) (*RefreshToken, error)
	// UsedRefreshToken returns the token if it was used before and would
	// otherwise still be good (unexpired, its grant live): one that
	// UseRefreshToken would take for a replay. It only reads; ErrNotFound
	// otherwise.
	UsedRefreshToken(ctx context.Context, hash string, now time.Time) (*RefreshToken, error)

	// DeleteExpiredTokens removes access and refresh tokens expired at now,
	// and grants revoked before `revokedBefore` (their tokens with them).
	DeleteExpiredTokens(ctx context.Context, now, revokedBefore time.Time) (int64, error)

	// ConsentOf returns the scopes the account allowed the client (none:
	// nil); SaveConsent replaces them.
	ConsentOf(ctx context.Context, accountID, clientID string) ([]string, error)
	SaveConsent(ctx context.Context, accountID, clientID string, scopes []string, at time.Time) error

	AddSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys returns the keys not expired at now, newest first.
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	RetireSigningKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error
}
