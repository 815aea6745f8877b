package oidc_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/webkit"
)

// behindProxy puts the portal behind a proxy on the loopback interface,
// which names each request's address in X-Forwarded-For (from), as
// trusted_proxies has it; a request without the header comes from the
// loopback as before.
func (e *portalEnv) behindProxy() {
	h := e.handler.Load().(handlerBox).Handler
	e.handler.Store(handlerBox{webkit.TrustProxies(h, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})})
}

// from is an HTTP client whose requests the portal behind its proxy takes
// as sent from addr.
func from(addr string) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", addr)
		return http.DefaultTransport.RoundTrip(r)
	})}
}

// tokenAnswer is an endpoint's answer to a client.
type tokenAnswer struct {
	status     int
	retryAfter string
	body       map[string]any
}

// postFrom posts form to the provider's path from addr, authenticating
// with HTTP Basic as id and secret when id is set.
func (e *portalEnv) postFrom(addr, path string, form url.Values, id, secret string) tokenAnswer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := from(addr).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := tokenAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	if json.Unmarshal(b, &a.body) != nil {
		a.body = map[string]any{"_raw": string(b)}
	}
	return a
}

// exchangeFrom exchanges a code as r's server at addr does.
func (r *rp) exchangeFrom(addr, code, verifier string) (*oauth2.Token, error) {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, from(addr))
	return r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
}

// refreshFrom uses a refresh token as r's server at addr does.
func (r *rp) refreshFrom(addr, refreshToken string) (*oauth2.Token, error) {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, from(addr))
	return r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// throttled fails the test unless a is the refusal of a bound: 429 with a
// Retry-After within the window and OAuth's JSON error, whose description
// names what failed.
func (e *portalEnv) throttled(what string, a tokenAnswer, names string) {
	e.t.Helper()
	secs, err := strconv.Atoi(a.retryAfter)
	if a.status != http.StatusTooManyRequests || err != nil || secs < 1 || secs > int(portal.TokenFailuresWindow.Seconds()) {
		e.t.Fatalf("%s: status %d, Retry-After %q (%v); want 429 with the seconds left of the window", what, a.status, a.retryAfter, a.body)
	}
	desc, _ := a.body["error_description"].(string)
	if a.body["error"] != "temporarily_unavailable" || !strings.Contains(desc, names) {
		e.t.Errorf("%s: body %v; want temporarily_unavailable naming %q", what, a.body, names)
	}
}

// metric reads a line of /metrics, which the loopback may read.
func (e *portalEnv) metric(name string) string {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	e.t.Fatalf("/metrics lacks %s", name)
	return ""
}

// An address whose requests at the token endpoint fail, whatever it tries
// (made-up codes and refresh tokens, client secrets of made-up clients, a
// customer's code with the wrong PKCE verifier), is refused once its
// failures meet the bound: 429 with Retry-After and OAuth's JSON error, at
// the token, introspection and revocation endpoints, before anything is
// read, so that a good code it presents then is not spent and nothing more
// is counted. Refusals that are no failure of a client or a grant count
// nothing; another address, the site's servers, exchanges and refreshes
// meanwhile; the next window lets the address try again.
func TestTokenFailuresBoundedPerAddress(t *testing.T) {
	const bound = portal.TokenFailuresPerClient
	e := newPortal(t)
	e.behindProxy()
	e.clock.toWindowStart(portal.TokenFailuresWindow)
	site := newSite(e, "site")
	verifier := oauth2.GenerateVerifier()
	code := site.codeFrom(e.signIn(e.browser(), site.authURL("st", verifier)), "st")
	tok := site.login(e.browser())

	const flood, backend = "203.0.113.7", "198.51.100.2"
	for range 20 {
		if a := e.postFrom(flood, "/oauth/token", url.Values{"grant_type": {"password"}}, site.c.ID, site.secret); a.status != http.StatusBadRequest {
			t.Fatalf("a grant_type not supported: %d %v", a.status, a.body)
		}
		if a := e.postFrom(flood, "/oauth/token", url.Values{"grant_type": {"authorization_code"}}, site.c.ID, site.secret); a.status != http.StatusBadRequest {
			t.Fatalf("an exchange without its code: %d %v", a.status, a.body)
		}
	}
	fail := func(i int) tokenAnswer {
		switch i % 4 {
		case 0:
			return e.postFrom(flood, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {secret.Token(32)},
				"redirect_uri": {site.redirect}, "code_verifier": {oauth2.GenerateVerifier()}}, site.c.ID, site.secret)
		case 1:
			return e.postFrom(flood, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt." + secret.Token(32)}},
				site.c.ID, site.secret)
		case 2:
			return e.postFrom(flood, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
				secret.ID(), secret.Token(32))
		default:
			return e.postFrom(flood, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {site.redirect}, "code_verifier": {oauth2.GenerateVerifier()}}, site.c.ID, site.secret)
		}
	}
	for i := range bound {
		want, status := "invalid_grant", http.StatusBadRequest
		if i%4 == 2 {
			want, status = "invalid_client", http.StatusUnauthorized
		}
		if a := fail(i); a.status != status || a.body["error"] != want {
			t.Fatalf("failure %d of %d: %d %v; want %d %s", i+1, bound, a.status, a.body, status, want)
		}
	}

	// Over the bound: every request of the address, the good code too.
	e.throttled("a made-up code over the bound", fail(0), "address")
	e.throttled("a wrong secret over the bound", fail(2), "address")
	e.throttled("introspection over the bound", e.postFrom(flood, "/oauth/introspect", url.Values{"token": {tok.AccessToken}}, site.c.ID, site.secret), "address")
	e.throttled("revocation over the bound", e.postFrom(flood, "/revoke", url.Values{"token": {tok.RefreshToken}}, site.c.ID, site.secret), "address")
	if _, err := site.exchangeFrom(flood, code, verifier); retrieveError(err) != "temporarily_unavailable" {
		t.Fatalf("the good code from the address over the bound: %v, want temporarily_unavailable", err)
	}
	// A client's page may read the refusal, as it reads the provider's
	// answers (CORS, any origin).
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader(url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {site.c.ID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://app.example")
	res, err := from(flood).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("a page's request over the bound: %d, Access-Control-Allow-Origin %q; want 429 with *",
			res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	if got, want := e.metric(`tobira_oauth_throttled_total`), "6"; got != want {
		t.Errorf("requests refused: %s, want %s", got, want)
	}
	// Refused, they were not failures of the provider's: none counted.
	if got, want := e.metric(`tobira_oauth_failures_total{error="invalid_client"}`), strconv.Itoa(bound/4); got != want {
		t.Errorf("invalid_client failures: %s, want %s", got, want)
	}
	if got, want := e.metric(`tobira_oauth_failures_total{error="invalid_grant"}`), strconv.Itoa(bound-bound/4); got != want {
		t.Errorf("invalid_grant failures: %s, want %s", got, want)
	}

	// The site's servers, at another address, go on: the code refused
	// above was never spent.
	if _, err := site.exchangeFrom(backend, code, verifier); err != nil {
		t.Fatalf("the site's servers exchanging the code: %v", err)
	}
	if _, err := site.refreshFrom(backend, tok.RefreshToken); err != nil {
		t.Fatalf("the site's servers refreshing: %v", err)
	}

	// A new window: the address is heard again.
	e.clock.toWindowStart(portal.TokenFailuresWindow)
	if a := fail(0); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
		t.Errorf("a made-up code in the next window: %d %v, want invalid_grant", a.status, a.body)
	}
}
