package oidc

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
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
					op.RequestError(w, r, oidc.ErrUnsupportedGrantType().WithDescription("this grant_type is not supported"), nil)
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

// repeated returns the first of params given more than once in form, in
// any case: the library's decoder reads STATE as state.
func repeated(form url.Values, params []string) string {
	for _, k := range params {
		n := 0
		for name, vs := range form {
			if strings.EqualFold(name, k) {
				n += len(vs)
			}
		}
		if n > 1 {
			return k
		}
	}
	return ""
}
