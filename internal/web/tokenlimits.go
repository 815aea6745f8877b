package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/webkit"
)

// limitTokens bounds the failed requests of an address at the provider's
// endpoints that authenticate a client (the token endpoint, introspection,
// revocation; portal.Service.CheckTokenRequest): a request over the bound
// is answered 429 before the provider reads anything of it, and counts
// nothing; one the provider answers invalid_client or invalid_grant is
// counted (portal.Service.TokenRequestFailed).
func (s *Server) limitTokens(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only a POST reaches an endpoint: the provider answers the other
		// methods (and CORS preflights) reading nothing.
		if r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		c := client(r)
		var locked *portal.LockedError
		if err := s.svc.CheckTokenRequest(r.Context(), c); errors.As(err, &locked) {
			s.tooManyTokenRequests(w, r, locked)
			return
		} else if err != nil {
			s.log.Error("internal error", "id", webkit.RequestID(r), "path", r.URL.Path, "err", err)
			oauthError(w, http.StatusInternalServerError, "server_error", "the request could not be answered; try again")
			return
		}
		o := &oauthOutcome{ResponseWriter: w}
		h.ServeHTTP(o, r)
		switch o.errorCode() {
		case "invalid_client":
			s.svc.TokenRequestFailed(r.Context(), c, portal.ClientAuthFailed)
		case "invalid_grant":
			s.svc.TokenRequestFailed(r.Context(), c, portal.GrantFailed)
		}
	})
}

// tooManyTokenRequests answers a request refused over a bound as OAuth
// answers a machine client: 429 with Retry-After, and OAuth's JSON error
// (RFC 6749 5.2).
//
// The error is temporarily_unavailable. RFC 6749 has no code at the token
// endpoint for a refusal that ends with time: invalid_request would tell
// the client that its request is malformed, and invalid_client or
// invalid_grant that its secret, code or refresh token is bad, which a
// client acts on by dropping them (a site would sign its customer out over
// a refresh token that is good). temporarily_unavailable, which RFC 6749
// (4.1.2.1) defines at the authorization endpoint, says what this is:
// try again later, as Retry-After says when; slow_down (RFC 8628 3.5)
// belongs to the device flow's polling, whose clients would only poll
// five seconds slower.
//
// The answer carries the CORS header the provider's would (any origin,
// no credentials: oidc's corsOptions), so that a client's page can read
// it.
func (s *Server) tooManyTokenRequests(w http.ResponseWriter, r *http.Request, locked *portal.LockedError) {
	if r.Header.Get("Origin") != "" {
		w.Header().Add("Vary", "Origin")
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
	w.Header().Set("Retry-After", seconds(locked.Until.Sub(s.svc.Now())))
	oauthError(w, http.StatusTooManyRequests, "temporarily_unavailable", "too many failed requests from this address; try again later")
}

// oauthError answers with OAuth's JSON error (RFC 6749 5.2).
func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// oauthOutcome passes an endpoint's answer through and keeps what tells
// its outcome: the status, and the start of an error's body.
type oauthOutcome struct {
	http.ResponseWriter
	status int
	body   []byte
}

// maxErrorBody is how much of an error's body oauthOutcome keeps: enough
// for {"error":"invalid_grant", which the library writes first.
const maxErrorBody = 512

func (o *oauthOutcome) WriteHeader(code int) {
	if o.status == 0 {
		o.status = code
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *oauthOutcome) Write(b []byte) (int, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	if o.status >= 400 && len(o.body) < maxErrorBody {
		o.body = append(o.body, b[:min(len(b), maxErrorBody-len(o.body))]...)
	}
	return o.ResponseWriter.Write(b)
}

// errorCode is the answer's OAuth error code; empty for a success. A 401
// is a client that did not authenticate, whatever its body says.
func (o *oauthOutcome) errorCode() string {
	if o.status == http.StatusUnauthorized {
		return "invalid_client"
	}
	if o.status < 400 {
		return ""
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(o.body, &e) != nil {
		// Cut short: the code is the body's first member, as the
		// library writes it.
		if i := strings.Index(string(o.body), `"error":"`); i >= 0 {
			rest := string(o.body)[i+len(`"error":"`):]
			if j := strings.IndexByte(rest, '"'); j >= 0 {
				return rest[:j]
			}
		}
	}
	return e.Error
}
