package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tobira/tobira/internal/webkit"
)

// intercept runs before the library's endpoints, with the issuer in the
// request's context: it answers discovery itself, refuses a parameter
// given twice, refuses at the token endpoint the grant types the document
// does not name, and marks for refusal (withRefusal) an authorization
// request that the library would go on with or answer otherwise, which
// CreateAuthRequest then refuses.
func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case oidc.DiscoveryEndpoint:
			if readOnly(w, r) {
				httphelper.MarshalJSON(w, p.document(r))
			}
			return
		case "/keys":
			if !readOnly(w, r) {
				return
			}
		case "/oauth/token", "/revoke", "/oauth/introspect":
			if !bodyOnly(w, r) || !formBody(w, r) {
				return
			}
			// A client error answered while the store failed is the
			// server's (fault.go).
			ctx, f := withFault(r.Context())
			r, w = r.WithContext(ctx), &faultWriter{ResponseWriter: w, f: f}
			if r.URL.Path != "/oauth/token" {
				break
			}
			if r.ParseForm() == nil {
				if k := repeated(r.Form, tokenParams); k != "" {
					op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("%s is given more than once", k), nil)
					return
				}
				if g := oidc.GrantType(r.Form.Get("grant_type")); g != "" && !slices.Contains(supportedGrants, g) {
					op.RequestError(w, r, oidc.ErrUnsupportedGrantType().WithDescription("this grant_type is not supported"), nil)
					return
				}
				if v, ok := r.Form["code_verifier"]; ok && !codeVerifier(v[0]) {
					// Refused before the code is looked at: the
					// client may try again with a right verifier.
					op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, -, ., _ and ~"), nil)
					return
				}
				// The library signs the ID token after it has spent the
				// code or refresh token and stored the new tokens: a key
				// it could not read then (a database failing for a
				// moment) answered 500 with the client's refresh token
				// spent, and the client's retry with it was taken for a
				// replay, which revokes the grant and logs its site out.
				// The key is read first (keyring keeps it), and a failure
				// here spends nothing.
				if _, g := param(r.Form, "grant_type"); g != "" {
					if _, err := p.storage.ring.signing(r.Context()); err != nil {
						p.storage.log.Error("oidc: signing key not ready for a token request", "err", err)
						op.RequestError(w, r, oidc.ErrServerError().WithDescription("the request could not be answered; try again"), nil)
						return
					}
				}
				// A spent code or used refresh token revokes its grant
				// only when its own client presents it (replay.go).
				r = r.WithContext(withTokenClient(r.Context(), r))
				if _, g := param(r.Form, "grant_type"); oidc.GrantType(g) == oidc.GrantTypeCode {
					_, code := param(r.Form, "code")
					if e := p.storage.replayRefusal(r.Context(), code); e != nil {
						op.RequestError(w, r, e, nil)
						return
					}
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
				r = r.WithContext(authorizeRefusal(r.Context(), r.Form))
				_, redirect := param(r.Form, "redirect_uri")
				w = p.withIssuer(w, redirect)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// bodyOnly refuses a request to the token, revocation or introspection
// endpoint that is not a POST, or that has parameters in its URL, and
// reports whether it may go on. Those endpoints take their parameters in
// the body of a POST (RFC 6749 2.3.1, 3.2; RFC 7009 2.1; RFC 7662 2.1):
// a client secret, a code or a token in a URL stays in the logs of every
// proxy on the way. The library read them from the query of any method.
// A CORS preflight goes on: an OPTIONS request that asks for a method
// (Access-Control-Request-Method) and carries nothing in its URL, which the
// library's CORS handler answers itself. Any other OPTIONS is refused as a
// GET is: the library's endpoints read their parameters from the URL of
// whatever reaches them, so an OPTIONS with a refresh token and a client
// secret in its URL was exchanged like a POST.
func bodyOnly(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" && r.URL.RawQuery == "":
		return true
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		json.NewEncoder(w).Encode(oidc.ErrInvalidRequest().WithDescription("this endpoint takes only POST requests"))
		return false
	case r.URL.RawQuery != "":
		op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("parameters must be sent in the request body, not the URL"), nil)
		return false
	}
	return true
}

// formBody parses the body of a POST to the token, revocation or
// introspection endpoint, and refuses one that is not a url-encoded form
// of text (RFC 6749 3.2), that is malformed, or that is over the portal's
// limit, saying which; it reports whether the request may go on. The
// library went on with what it could parse: a JSON body, or one cut at the
// limit, was told that grant_type was missing, and a malformed pair was
// dropped, so that a refresh whose scope did not parse was answered with
// every scope of the grant, and spent the refresh token.
func formBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return true // a CORS preflight (bodyOnly)
	}
	status, _ := webkit.ParseForm(r)
	var e *oidc.Error
	switch status {
	case 0:
		return true
	case http.StatusUnsupportedMediaType:
		e = oidc.ErrInvalidRequest().WithDescription("the request body must be application/x-www-form-urlencoded")
	case http.StatusRequestEntityTooLarge:
		e = oidc.ErrInvalidRequest().WithDescription("the request body is too large")
	default:
		e = oidc.ErrInvalidRequest().WithDescription("the request body is not a well-formed form of UTF-8 text")
	}
	httphelper.MarshalJSONWithStatus(w, e, status)
	return false
}

// readOnly refuses a request to the discovery document or the keys that
// is not a GET or a HEAD (OpenID Connect Discovery 1.0, 4), and reports
// whether it may go on: those were answered to any method, a POST or a
// DELETE too. A CORS preflight never comes here: the library's CORS
// handler answers it first.
func readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	httphelper.MarshalJSONWithStatus(w, oidc.ErrInvalidRequest().WithDescription("this endpoint takes only GET requests"), http.StatusMethodNotAllowed)
	return false
}

// codeVerifier reports whether v is a PKCE code verifier as RFC 7636 4.1
// has it: 43 to 128 characters of the unreserved set. A shorter one is
// guessable, whatever its challenge looks like.
func codeVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// authorizeRefusal marks ctx for refusal (withRefusal) when the
// authorization request's form asks what the library answers wrongly, and
// changes the form so that the library goes on to CreateAuthRequest, which
// answers the client with the request's state once the library has
// checked its client and redirect_uri (RFC 6749 4.1.2.1):
//
//   - a response_type other than code: unsupported_response_type, where
//     the library answered unauthorized_client, as if the client might be
//     allowed it. Given as code to the library, it is answered in the
//     query, or in the fragment for a type with a token, as those are
//     (RFC 6749 4.2.2.1; OAuth 2.0 Multiple Response Types 5), unless
//     response_mode says otherwise;
//   - a max_age that is not a number of seconds: invalid_request, where
//     the library answered with its error page. An empty one is dropped,
//     as omitted (RFC 6749 3.1), where the library read it as 0 and asked
//     for a fresh sign-in;
//   - request_uri, which the library knows nothing of and would go on
//     without what it refers to: request_uri_not_supported (OpenID Connect
//     Core 1.0, 3.1.2.6). It refuses a request object (request) itself.
func authorizeRefusal(ctx context.Context, form url.Values) context.Context {
	if k, v := param(form, "response_type"); v != "" && v != string(oidc.ResponseTypeCode) {
		form[k] = []string{string(oidc.ResponseTypeCode)}
		if m, _ := param(form, "response_mode"); m == "" && slices.ContainsFunc(strings.Fields(v), func(t string) bool {
			return t == "token" || t == "id_token"
		}) {
			form.Set("response_mode", string(oidc.ResponseModeFragment))
		}
		ctx = withRefusal(ctx, &oidc.Error{ErrorType: "unsupported_response_type", Description: "only the code response_type is supported"})
	}
	if k, v := param(form, "max_age"); v == "" {
		delete(form, k)
	} else if _, err := strconv.ParseUint(v, 10, 64); err != nil {
		delete(form, k)
		ctx = withRefusal(ctx, oidc.ErrInvalidRequest().WithDescription("max_age must be a number of seconds"))
	}
	if _, v := param(form, "request_uri"); v != "" {
		ctx = withRefusal(ctx, &oidc.Error{ErrorType: "request_uri_not_supported", Description: "the request_uri parameter is not supported"})
	}
	return ctx
}

// param returns the name and value of the parameter name in form, in any
// case, as the library reads it; empty when absent. It is given once
// (repeated).
func param(form url.Values, name string) (string, string) {
	for k, vs := range form {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return k, vs[0]
		}
	}
	return "", ""
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

// withIssuer has w add the provider's issuer identifier (iss, RFC 9207 2)
// to an authorization response it sends to redirectURI, a success or an
// error alike, where the library adds none: a client that signs in
// through several providers can then tell which one answered (RFC 9207
// 2.4), and the discovery document says so
// (authorization_response_iss_parameter_supported).
func (p *Provider) withIssuer(w http.ResponseWriter, redirectURI string) http.ResponseWriter {
	target, err := url.Parse(redirectURI)
	if redirectURI == "" || err != nil {
		return w
	}
	return &issuerWriter{ResponseWriter: w, target: target, issuer: p.issuer}
}

// issuerWriter adds iss to the Location of a redirect to target: in the
// fragment when the response is there, or else in the query.
type issuerWriter struct {
	http.ResponseWriter
	target *url.URL
	issuer string
	wrote  bool
}

func (w *issuerWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code >= 300 && code < 400 {
			if loc := w.Header().Get("Location"); w.to(loc) {
				w.Header().Set("Location", addIssuer(loc, w.issuer))
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *issuerWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *issuerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// to reports whether loc is the target redirect URI with a response: the
// same scheme, host and path (the library rewrites the URI's own query
// when it adds its parameters), and a query or fragment.
func (w *issuerWriter) to(loc string) bool {
	u, err := url.Parse(loc)
	return err == nil && u.Scheme == w.target.Scheme && u.Host == w.target.Host && u.Path == w.target.Path &&
		u.Opaque == w.target.Opaque && (u.RawQuery != "" || strings.Contains(loc, "#"))
}

// addIssuer adds iss to the parameters of an authorization response at
// loc: the fragment's, when it has one (a redirect URI has none of its
// own), or the query's, both of which come last.
func addIssuer(loc, issuer string) string {
	return loc + "&iss=" + url.QueryEscape(issuer)
}
