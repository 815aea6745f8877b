package oidc

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// What the provider supports, as its discovery document says. The library's
// own document lists what its router could serve in general (implicit and
// hybrid response types, the JWT bearer grant, a device endpoint the portal
// does not route, the phone and address scopes, private_key_jwt at the
// introspection and revocation endpoints), which a client would then try
// and be refused.
var (
	supportedScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess}
	supportedGrants = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	// supportedModes: form_post is not among them, as the library's
	// form_post page submits itself with an inline script that the
	// portal's Content-Security-Policy blocks.
	supportedModes = []oidc.ResponseMode{oidc.ResponseModeQuery, oidc.ResponseModeFragment}
	// supportedClaims are the claims of the ID token and the userinfo
	// answer (SetUserinfoFromScopes, SetUserinfoFromRequest).
	supportedClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
		"at_hash", "sid", "name", "locale", "email", "email_verified"}
)

// intercept runs before the library's endpoints, with the issuer in the
// request's context: it answers discovery itself, refuses a parameter
// given twice, refuses at the token endpoint the grant types the document
// does not name, and marks an authorization request that carries
// request_uri, which CreateAuthRequest then refuses.
func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case oidc.DiscoveryEndpoint:
			op.Discover(w, p.discovery(r))
			return
		case "/oauth/token":
			if r.ParseForm() == nil {
				if k := repeated(r.Form, tokenParams); k != "" {
					op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("%s is given more than once", k), nil)
					return
				}
				if g := oidc.GrantType(r.Form.Get("grant_type")); g != "" && !slices.Contains(supportedGrants, g) {
					op.RequestError(w, r, oidc.ErrUnsupportedGrantType().WithDescription("grant_type %s is not supported", g), nil)
					return
				}
			}
		case "/authorize":
			if r.ParseForm() == nil {
				// Which of two client_id or redirect_uri would be
				// the one to answer is unknown: the request is not
				// sent back, and the portal says it is wrong.
				if k := repeated(r.Form, authorizeParams); k != "" {
					http.Error(w, k+" is given more than once", http.StatusBadRequest)
					return
				}
				if r.Form.Get("request_uri") != "" {
					r = r.WithContext(withRequestURI(r.Context()))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// discovery is the library's document with what the provider does not
// support taken out.
func (p *Provider) discovery(r *http.Request) *oidc.DiscoveryConfiguration {
	d := op.CreateDiscoveryConfig(r.Context(), p.op, p.storage)
	d.ScopesSupported = supportedScopes
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = nil
	for _, m := range supportedModes {
		d.ResponseModesSupported = append(d.ResponseModesSupported, string(m))
	}
	d.GrantTypesSupported = supportedGrants
	d.DeviceAuthorizationEndpoint = ""
	d.ClaimsSupported = supportedClaims
	// Client authentication: a secret (HTTP Basic or in the form) for a
	// confidential client, none for a public one; no JWT assertions.
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodNone, oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.TokenEndpointAuthSigningAlgValuesSupported = nil
	d.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodNone, oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.RevocationEndpointAuthSigningAlgValuesSupported = nil
	d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic}
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	d.RequestObjectSigningAlgValuesSupported = nil
	d.RequestParameterSupported, d.RequestURIParameterSupported, d.ClaimsParameterSupported = false, false, false
	return d
}

// The parameters of the authorization and token requests, each of which
// may be given once (RFC 6749 3.1, 3.2): a parameter given twice could be
// read one way by a proxy or a client's check and another by the library.
var (
	authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
		"response_mode", "prompt", "max_age", "ui_locales", "id_token_hint", "login_hint", "acr_values",
		"code_challenge", "code_challenge_method", "request", "request_uri", "display"}
	tokenParams = []string{"grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope",
		"client_id", "client_secret"}
)

// repeated returns the first of params given more than once in form.
func repeated(form url.Values, params []string) string {
	for _, k := range params {
		if len(form[k]) > 1 {
			return k
		}
	}
	return ""
}
