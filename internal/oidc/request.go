package oidc

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tobira/tobira/internal/store"
)

// acrMFA is the acr of a sign-in with a second factor.
const acrMFA = "urn:tobira:acr:mfa"

// authRequest adapts the stored request to what the provider library reads.
type authRequest struct{ store.AuthRequest }

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string { return a.ID }

func (a *authRequest) GetACR() string { return acrOf(a.AMR) }

// acrOf is the acr of a sign-in with these amr: acrMFA with a second
// factor, none without.
func acrOf(amr []string) string {
	if slices.Contains(amr, "mfa") {
		return acrMFA
	}
	return ""
}

func (a *authRequest) GetAMR() []string       { return a.AMR }
func (a *authRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetNonce() string       { return a.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.Scopes }
func (a *authRequest) GetState() string       { return a.State }
func (a *authRequest) GetSubject() string     { return a.AccountID }
func (a *authRequest) Done() bool             { return a.AuthRequest.Done }
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.ResponseMode)
}

func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.ResponseType)
}

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}

// refreshRequest is a refresh token being exchanged, with its grant.
type refreshRequest struct {
	token  *store.RefreshToken
	grant  *store.Grant
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string                 { return r.grant.AMR }
func (r *refreshRequest) GetAudience() []string            { return []string{r.token.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string              { return r.token.ClientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.token.AccountID }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// client adapts a registered client.
type client struct{ store.Client }

var _ op.Client = (*client)(nil)

// LoginPath is where the provider sends a browser to sign in for an
// authorization request; the portal's web layer serves it.
const LoginPath = "/oidc/login"

func (c *client) GetID() string                    { return c.ID }
func (c *client) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }
func (c *client) LoginURL(id string) string        { return LoginPath + "?id=" + id }
func (c *client) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeBearer
}
func (c *client) IDTokenLifetime() time.Duration { return IDTokenLifetime }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion is false: an ID token issued with an
// access token (the code flow, the only one the provider serves) carries
// none of the profile and email scopes' claims, which the client reads
// from the userinfo endpoint (OpenID Connect Core 1.0, 5.4). A site keeps
// its ID token and sends it back as the id_token_hint of a logout, in a
// URL's query that proxies log. storage.SetUserinfoFromScopes adds none of
// them either.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (c *client) ApplicationType() op.ApplicationType {
	if c.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// DevMode lets a client use plain-HTTP loopback redirect URIs, as the demo's
// sites and native apps do. Registration (CreateClient) admits no other
// plain-HTTP URI, and redirect URIs are still matched exactly.
func (c *client) DevMode() bool {
	return slices.ContainsFunc(c.Client.RedirectURIs, isLoopbackHTTP)
}
