package oidc

import (
	"net/http"

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
	// supportedClaims are the claims of the ID token (SetUserinfoFromScopes,
	// SetUserinfoFromRequest) and of the userinfo answer (userinfo), which
	// alone has name, locale, email and email_verified.
	supportedClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
		"at_hash", "sid", "name", "locale", "email", "email_verified"}
	// supportedPrompts are the prompt values the authorization endpoint
	// acts on (OpenID Connect Prompt Create 1.0, 4): none answers
	// login_required or consent_required without a page, login asks for
	// the password again, consent asks again, select_account asks whether
	// to go on with the browser's account. create is not among them: the
	// portal has no self-service sign-up.
	supportedPrompts = []string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount}
)

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

// discoveryDocument is the discovery document the provider serves: the
// library's, with what its type has no field for.
type discoveryDocument struct {
	*oidc.DiscoveryConfiguration
	// IssuerInResponses says that every authorization response, a code
	// or an error, carries iss (RFC 9207 3; Provider.withIssuer), which a
	// client that reads this must then check.
	IssuerInResponses bool `json:"authorization_response_iss_parameter_supported"`
	// PromptValues lists the prompt values the provider supports (OpenID
	// Connect Prompt Create 1.0, 4), which the library's type lacks.
	PromptValues []string `json:"prompt_values_supported"`
}

// document is the discovery document of the request r.
func (p *Provider) document(r *http.Request) *discoveryDocument {
	return &discoveryDocument{DiscoveryConfiguration: p.discovery(r), IssuerInResponses: true, PromptValues: supportedPrompts}
}
