package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// Paths are the provider's endpoints on the portal.
var Paths = []string{
	"/.well-known/openid-configuration", "/authorize", "/authorize/callback", "/oauth/token",
	"/oauth/introspect", "/userinfo", "/revoke", "/end_session", "/keys",
}

// Provider is the portal's OpenID Connect provider.
type Provider struct {
	op      *op.Provider
	storage *storage
	issuer  string
	client  *http.Client
	posts   sync.WaitGroup // back-channel logouts in flight
	logouts logoutStats
}

// Wait waits for the back-channel logouts in flight, as a command that
// ended sessions must before it exits.
func (p *Provider) Wait() { p.posts.Wait() }

// RequestTTL is how long an authorization request waits for its sign-in:
// AuthRequestLifetime, or Config.SignInTTL when that is longer.
func (p *Provider) RequestTTL() time.Duration { return p.storage.requestTTL }

// Config is what the provider needs.
type Config struct {
	Store  Store
	Keys   *secret.Keyring
	Issuer string // the portal's base URL
	Now    func() time.Time
	Log    *slog.Logger
	// HTTPClient posts back-channel logout tokens; a 5-second one by
	// default. The provider follows no redirect with it.
	HTTPClient *http.Client
	// SignInTTL is how long the portal's slowest sign-in may take: a first
	// enrolment's (enrol_ttl, which may include installing the app) and
	// its recovery screen's (flow_ttl). An authorization request waits as
	// long for it, AuthRequestLifetime at least, so that a customer who
	// took that time is sent back to the site that asked, not told its
	// request expired.
	SignInTTL time.Duration
}

// New builds the provider. A plain-HTTP issuer is allowed only on the
// loopback interface (the demo).
func New(c Config) (*Provider, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	// A logout token goes to the back-channel URI registered, which
	// registration checked, and nowhere else: a site's redirect would have
	// the portal post (or fetch) any address it names, inside the portal's
	// network. A redirect is answered as a failure is.
	noRedirect := *c.HTTPClient
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.HTTPClient = &noRedirect
	if c.Log == nil {
		c.Log = slog.Default()
	}
	st := &storage{st: c.Store, keys: c.Keys, now: c.Now, log: c.Log,
		ring:       &keyring{st: c.Store, keys: c.Keys, now: c.Now, log: c.Log},
		requestTTL: max(AuthRequestLifetime, c.SignInTTL)}
	p := &Provider{storage: st, issuer: strings.TrimSuffix(c.Issuer, "/"), client: c.HTTPClient}
	st.ended = p.logoutSites

	// The provider encrypts its bearer access tokens with a key derived
	// from the master key, so every node can read every node's tokens.
	cryptoKey := sha256.Sum256([]byte(c.Keys.Sign("oidc access token key")))
	cfg := &op.Config{
		CryptoKey:                         cryptoKey,
		DefaultLogoutRedirectURI:          "/login?e=signedout",
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		SupportedUILocales:                []language.Tag{language.Japanese, language.English},
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}
	opts := []op.Option{op.WithLogger(c.Log), op.WithHttpInterceptors(p.intercept), op.WithCORSOptions(&corsOptions)}
	if isLoopbackHTTP(p.issuer) {
		opts = append(opts, op.WithAllowInsecure())
	}
	provider, err := op.NewProvider(cfg, st, op.StaticIssuer(p.issuer), opts...)
	if err != nil {
		return nil, err
	}
	p.op = provider
	return p, nil
}

// corsOptions let clients' pages call the token, userinfo, revocation and
// key endpoints from any origin, but never with the customer's cookies,
// which those endpoints do not read. The library's default allowed
// credentials for every origin, so any site could read what the portal
// answers a signed-in browser at /authorize and /end_session: their error
// pages name the customer and show the address.
var corsOptions = cors.Options{
	AllowedOrigins:   []string{"*"},
	AllowedMethods:   []string{http.MethodGet, http.MethodHead, http.MethodPost},
	AllowedHeaders:   []string{"Accept", "Accept-Language", "Authorization", "Content-Type", "X-Requested-With"},
	ExposedHeaders:   []string{"Location", "Content-Length"},
	AllowCredentials: false,
}

// ServeHTTP serves the provider's endpoints.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.op.ServeHTTP(w, r) }

// Ready makes sure this node can sign: it reads the signing key, making
// the first one on a new database, and reports whether it decrypts with
// the node's secret key.
func (p *Provider) Ready(ctx context.Context) error {
	_, err := p.storage.ring.signing(ctx)
	return err
}

// Readable reports whether this node can read the signing keys: every key
// the database holds decrypts with its secret key. A node configured with
// another secret_key than the others cannot, and should leave the load
// balancer's rotation. It does not wait for the first key of a new
// database (RSA-2048, up to a few hundred milliseconds), which Ready makes
// beside the start: the pages need none, and what signs waits for it.
func (p *Provider) Readable(ctx context.Context) error {
	return p.storage.ring.readable(ctx)
}

// UnreadableRetiredKeys lists the retired signing keys that do not decrypt
// with this node's secret keys (made under a secret key since dropped from
// previous_secret_keys), without their private keys: Readable tolerates
// them, as they sign nothing any more, but /keys leaves them out until they
// expire, so the tokens they signed no longer verify. tobira check warns
// of each.
func (p *Provider) UnreadableRetiredKeys(ctx context.Context) ([]store.SigningKey, error) {
	return p.storage.ring.unreadableRetired(ctx)
}

// RotateKeys starts signing with a new key; the old one stays published.
func (p *Provider) RotateKeys(ctx context.Context) error { return p.storage.ring.Rotate(ctx) }

// ErrNoRequest means the authorization request is unknown or expired.
var ErrNoRequest = errors.New("oidc: authorization request not found or expired")

// Request is what the sign-in needs to know of an authorization request.
type Request struct {
	ID         string
	ClientID   string
	ClientName string
	// FirstParty clients (the customer sites) are not asked consent for.
	FirstParty bool
	Scopes     []string
	CreatedAt  time.Time
	// Fresh asks for a sign-in made after the request (prompt=login).
	Fresh bool
	// Silent asks for no page at all (prompt=none): without a session
	// that satisfies the request, or with a consent still to give, the
	// client hears login_required or consent_required instead.
	Silent bool
	// SelectAccount asks the customer to choose the account to sign in
	// with (prompt=select_account): a browser signed in before the request
	// is asked whether to go on with its account or sign in with another.
	SelectAccount bool
	// AskConsent asks the customer's consent even if given before
	// (prompt=consent); first-party clients are never asked.
	AskConsent bool
	// MaxAge, when >= 0, is how old a sign-in may be, in seconds.
	MaxAge int64
	// Hinted is the account the request's id_token_hint names, if any:
	// no other may sign it in.
	Hinted string
	// LoginHint is the client's guess of the customer's email (login_hint).
	LoginHint string
	// UILocales are the languages the client asks the pages to speak, in
	// order (ui_locales, BCP 47).
	UILocales []string
	// SID is the portal session the request was signed in with, once it
	// is: only a browser of that session may take it back to the client
	// (Server.authorizeCallback).
	SID string
	// Site is the home of the client's site (its redirect URI's origin),
	// for a link back to it; empty when the URI has none on the web.
	Site string
	// browserHash is the hash of the binding value of the browser that
	// started the request (WithBrowser); empty for a request stored
	// before it was kept.
	browserHash string
	// stored is the request as AuthRequest read it, which Callback
	// answers: the one the portal checked.
	stored *store.AuthRequest
}

// From reports whether a browser with the binding value browser (its
// cookie's; empty without one) may go on with the request: only the
// browser that started it. A request stored before the value was kept (or
// by a node not yet upgraded, in a rolling upgrade) has none, and any
// browser goes on with it as before, for what is left of its lifetime.
func (r *Request) From(browser string) bool {
	if r.browserHash == "" {
		return true
	}
	return browser != "" && subtle.ConstantTimeCompare([]byte(secret.Hash(browser)), []byte(r.browserHash)) == 1
}

// siteOf is the origin of a redirect URI on the web, with a slash: the
// site's home; empty for another scheme.
func siteOf(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/"
}

// Satisfied reports whether a sign-in at signedIn satisfies the request at now.
// A sign-in made after the request began was made for it and satisfies it
// whatever it asked (prompt=login reaches here as max_age=0 too).
func (r *Request) Satisfied(signedIn, now time.Time) bool {
	if !signedIn.Before(r.CreatedAt) {
		return true
	}
	if r.Fresh {
		return false
	}
	return r.MaxAge < 0 || now.Sub(signedIn) <= time.Duration(r.MaxAge)*time.Second
}

// AuthRequest loads a pending authorization request.
func (p *Provider) AuthRequest(ctx context.Context, id string) (*Request, error) {
	ar, err := p.storage.st.AuthRequestByID(ctx, id, p.storage.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoRequest
	}
	if err != nil {
		return nil, err
	}
	c, err := p.storage.st.ClientByID(ctx, ar.ClientID)
	if err != nil {
		return nil, err
	}
	var hinted, sid string
	if ar.Done {
		sid = ar.SessionHash
	} else {
		hinted = ar.AccountID
	}
	return &Request{ID: ar.ID, Hinted: hinted, ClientID: ar.ClientID, ClientName: c.Name, FirstParty: c.FirstParty,
		Scopes: ar.Scopes, CreatedAt: ar.CreatedAt, Fresh: slices.Contains(ar.Prompt, "login"),
		Silent: slices.Contains(ar.Prompt, "none"), AskConsent: slices.Contains(ar.Prompt, "consent"),
		SelectAccount: slices.Contains(ar.Prompt, oidc.PromptSelectAccount), MaxAge: ar.MaxAge, LoginHint: ar.LoginHint, UILocales: ar.UILocales, SID: sid,
		Site: siteOf(ar.RedirectURI), browserHash: ar.BrowserHash, stored: ar}, nil
}

// Callback is the authorization callback for req, a request AuthRequest
// loaded and the portal checked (its browser, its session): the code is
// issued for that request as it was read, and sent to its client. The
// library's own callback read the request again by the id in the form,
// and answered with what that second read found, which the portal had
// not checked. A request not signed in yet is answered
// interaction_required, and ended as a refusal is (Provider.refuse). It
// reports whether this closed the request: issued its first code, as the
// store decided when it saved it (of callbacks at once, one), or ended it
// while it was open.
func (p *Provider) Callback(w http.ResponseWriter, r *http.Request, req *Request) (closed bool) {
	ctx := context.WithValue(op.ContextWithIssuer(r.Context(), p.issuer), firstCodeKey{}, &closed)
	r = r.WithContext(ctx)
	ar := &authRequest{*req.stored}
	if !ar.Done() {
		return p.end(w, r, ar, oidc.ErrInteractionRequired().WithDescription("the request is not signed in yet"))
	}
	op.AuthResponse(ar, p.op, p.withIssuer(w, ar.RedirectURI), r)
	return closed
}

// Consented reports whether the account may be signed in to the request's
// client without asking: a first-party client, or a third party allowed
// every scope asked for before and not asking again (prompt=consent).
func (p *Provider) Consented(ctx context.Context, r *Request, accountID string) (bool, error) {
	if r.FirstParty {
		return true, nil
	}
	if r.AskConsent {
		return false, nil
	}
	granted, err := p.storage.st.ConsentOf(ctx, accountID, r.ClientID)
	if err != nil {
		return false, err
	}
	for _, sc := range r.Scopes {
		if !slices.Contains(granted, sc) {
			return false, nil
		}
	}
	return true, nil
}

// Consent records that the account allowed the request's client what it
// asked for, on top of what it allowed before.
func (p *Provider) Consent(ctx context.Context, r *Request, accountID string) error {
	granted, err := p.storage.st.ConsentOf(ctx, accountID, r.ClientID)
	if err != nil {
		return err
	}
	for _, sc := range r.Scopes {
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	return p.storage.st.SaveConsent(ctx, accountID, r.ClientID, granted, p.storage.now())
}

// Deny answers the request with access_denied at the client's redirect URI:
// the customer declined. It reports whether this closed the request
// (Provider.refuse).
func (p *Provider) Deny(w http.ResponseWriter, r *http.Request, id string) bool {
	return p.refuse(w, r, id, oidc.ErrAccessDenied().WithDescription("the customer declined"))
}

// NeedsLogin ends a prompt=none request that no session satisfies: the
// client hears login_required (OpenID Connect Core 1.0, 3.1.2.6). It
// reports whether this closed the request (Provider.refuse).
func (p *Provider) NeedsLogin(w http.ResponseWriter, r *http.Request, id string) bool {
	return p.refuse(w, r, id, oidc.ErrLoginRequired())
}

// NeedsConsent ends a prompt=none request whose client has no consent yet:
// consent_required. It reports whether this closed the request
// (Provider.refuse).
func (p *Provider) NeedsConsent(w http.ResponseWriter, r *http.Request, id string) bool {
	return p.refuse(w, r, id, &oidc.Error{ErrorType: "consent_required", Description: "the customer has not consented to this client"})
}

// refuse ends the request id and sends the browser back to its client with
// the error e. It reports whether this closed a request that was open:
// there, and with no code issued yet, which had closed it already. Of
// refusals at once, or a refusal after the code, at most one reports it,
// so that the caller gives an open request's count back once.
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, id string, e *oidc.Error) bool {
	ar, err := p.storage.AuthRequestByID(r.Context(), id)
	if err != nil {
		http.Error(w, "authorization request not found", http.StatusBadRequest)
		return false
	}
	return p.end(w, r, ar, e)
}

// end removes the request ar, as read, and sends the browser back to its
// client with the error e; it reports whether this closed it while it was
// open (refuse).
func (p *Provider) end(w http.ResponseWriter, r *http.Request, ar op.AuthRequest, e *oidc.Error) (closed bool) {
	closed, err := p.storage.st.EndAuthRequest(r.Context(), ar.GetID())
	if err != nil {
		p.storage.log.Error("oidc: end a refused auth request", "err", err)
	}
	op.AuthRequestError(p.withIssuer(w, ar.GetRedirectURI()), r, ar, e, p.op)
	return closed
}

// Complete records the portal session that signs the request in and returns
// the URL that sends the browser back to the provider, which then issues the
// code to the client.
func (p *Provider) Complete(ctx context.Context, id string, sess *store.Session) (string, error) {
	// The grant remembers the browser's session by its SID, which outlives
	// the session ids that sign-ins and step-ups replace.
	err := p.storage.st.CompleteAuthRequest(ctx, id, sess.AccountID, sess.SID, sess.CreatedAt, sess.AMR)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNoRequest
	}
	if err != nil {
		return "", err
	}
	return p.issuer + "/authorize/callback?id=" + url.QueryEscape(id), nil
}

// SessionEnded revokes what the portal session (by its SID) gave the sites
// and logs them out by back-channel: at sign-out. The revocation records
// each site as due its logout token in the same commit (store.OIDC.
// RevokeGrantsOf), so a post this process does not get through is the
// sweep's (DeliverDueLogouts), on any node.
func (p *Provider) SessionEnded(ctx context.Context, sid string) {
	if sid == "" {
		return
	}
	gs, err := p.storage.st.RevokeGrantsOf(ctx, "", "", sid, p.storage.now())
	if err != nil {
		p.storage.log.Error("oidc: revoke grants of session", "err", err)
		return
	}
	p.logoutSites(ctx, gs)
}

// GrantsEnded logs out the sites of grants the store revoked already, with
// every session of their account (portal.Service.GrantsEnded).
func (p *Provider) GrantsEnded(ctx context.Context, grants []store.Grant) {
	p.logoutSites(ctx, grants)
}

// CreateClient registers a client and returns its secret (empty for a
// public one). Redirect URIs are matched exactly, so each must be complete.
func (p *Provider) CreateClient(ctx context.Context, c *store.Client) (string, error) {
	if err := checkClient(c); err != nil {
		return "", err
	}
	if c.ID == "" {
		c.ID = secret.ID()
	}
	c.CreatedAt = p.storage.now()
	var clientSecret string
	if !c.Public {
		clientSecret = secret.Token(32)
		c.SecretHash = secret.Hash(clientSecret)
	}
	return clientSecret, p.storage.st.CreateClient(ctx, c)
}

// UpdateClient stores a registered client's new name and URIs, checked as
// at registration, and nothing else of c; store.ErrNotFound for an unknown
// id. The change applies
// from the next request: nothing keeps clients in memory.
func (p *Provider) UpdateClient(ctx context.Context, c *store.Client) error {
	if err := checkClient(c); err != nil {
		return err
	}
	return p.storage.st.UpdateClient(ctx, c)
}

// ErrPublicClient is refused by RotateSecret: a public client has no secret.
var ErrPublicClient = errors.New("oidc: a public client has no secret")

// RotateSecret gives a confidential client a new secret and returns it. The
// old one is refused from now on, since every request that authenticates the
// client compares the stored hash. Tokens issued before stay valid: rotating
// is for a secret that leaked, not a session that did.
func (p *Provider) RotateSecret(ctx context.Context, id string) (string, error) {
	c, err := p.storage.st.ClientByID(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", ErrPublicClient
	}
	clientSecret := secret.Token(32)
	if err := p.storage.st.SetClientSecret(ctx, id, secret.Hash(clientSecret)); err != nil {
		return "", err
	}
	return clientSecret, nil
}

// checkClient checks a client for registration or an update: a name, at
// least one redirect URI, and URIs that validRedirect admits.
func checkClient(c *store.Client) error {
	if strings.TrimSpace(c.Name) == "" {
		return errors.New("a client needs a name")
	}
	if len(c.RedirectURIs) == 0 {
		return errors.New("a client needs at least one redirect URI")
	}
	for _, u := range append(slices.Clone(c.RedirectURIs), c.PostLogoutRedirectURIs...) {
		if err := validRedirect(u); err != nil {
			return err
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := validRedirect(c.BackchannelLogoutURI); err != nil {
			return fmt.Errorf("back-channel logout: %w", err)
		}
	}
	return nil
}
