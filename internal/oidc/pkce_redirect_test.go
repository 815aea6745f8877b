package oidc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/store"
)

// authorize sends an authorization request with these parameters from a
// browser that follows nothing, and returns the answer's status and
// Location (nil when none).
func (e *portalEnv) authorize(params url.Values) (int, *url.URL) {
	e.t.Helper()
	res, err := newJarBrowser().Get(e.srv.URL + "/authorize?" + params.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	return res.StatusCode, loc
}

func authParams(clientID, redirect string, extra ...string) url.Values {
	v := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"n"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func retrieveError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// A public client must use PKCE with S256: without a challenge, or with
// "plain", the request goes back to the client as invalid_request.
func TestPublicClientNeedsS256(t *testing.T) {
	e := newPortal(t)
	const redirect = "http://127.0.0.1:9/spa"
	r := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{redirect}})
	if r.secret != "" {
		t.Fatal("a public client was given a secret")
	}
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	for name, extra := range map[string][]string{
		"no challenge":            nil,
		"plain":                   {"code_challenge", strings.Repeat("a", 43), "code_challenge_method", "plain"},
		"challenge but no method": {"code_challenge", challenge},
	} {
		t.Run(name, func(t *testing.T) {
			status, loc := e.authorize(authParams(r.c.ID, redirect, extra...))
			if loc == nil || !strings.HasPrefix(loc.String(), redirect+"?") {
				t.Fatalf("status %d, location %v: want an error redirect to the client", status, loc)
			}
			if q := loc.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("error redirect %s", loc)
			}
		})
	}
	// With S256 it goes on to the sign-in.
	status, loc := e.authorize(authParams(r.c.ID, redirect, "code_challenge", challenge, "code_challenge_method", "S256"))
	if loc == nil || loc.Path != "/oidc/login" {
		t.Fatalf("with S256: status %d, location %v", status, loc)
	}
}

// A public client's code needs the verifier of its challenge.
func TestPublicClientWrongVerifier(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
	ctx := context.Background()

	_, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if retrieveError(err) != "invalid_grant" {
		t.Errorf("wrong verifier: %v, want invalid_grant", err)
	}
	_, err = r.conf.Exchange(ctx, code)
	if err == nil {
		t.Error("no verifier: exchange accepted")
	}
	// The refused attempts spent nothing: the right verifier still works.
	tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("right verifier: %v", err)
	}
	r.verify(tok)
	if tok.RefreshToken == "" {
		t.Error("public client got no refresh token for offline_access")
	}
}

// A code verifier outside RFC 7636's 43 to 128 unreserved characters is
// refused as invalid_request before the code is looked at, even when the
// challenge was made from it: a short verifier is guessable.
func TestMalformedVerifierRefused(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:9/spa"}})
	ctx := context.Background()
	for _, verifier := range []string{"abc", strings.Repeat("a", 42), strings.Repeat("a", 129), strings.Repeat("+", 43)} {
		code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_request" {
			t.Errorf("verifier %q: %v, want invalid_request", verifier, err)
		}
	}
	// The bounds themselves are verifiers.
	for _, verifier := range []string{strings.Repeat("a", 43), strings.Repeat("Az09-._~", 16)} {
		code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Errorf("verifier of %d characters: %v", len(verifier), err)
		}
	}
}

// A confidential client may use PKCE too; the verifier is then checked.
func TestConfidentialClientPKCE(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	ctx := context.Background()
	b := e.browser()

	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(b, r.authURL("st", verifier)), "st")
	if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); retrieveError(err) != "invalid_grant" {
		t.Errorf("wrong verifier: %v, want invalid_grant", err)
	}

	verifier = oauth2.GenerateVerifier()
	back, _ := e.follow(b, r.authURL("st2", verifier))
	tok, err := r.conf.Exchange(ctx, r.codeFrom(back, "st2"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("right verifier: %v", err)
	}
	r.verify(tok)

	// Without PKCE the confidential client's secret is enough.
	back, _ = e.follow(b, r.conf.AuthCodeURL("st3"))
	if _, err := r.conf.Exchange(ctx, r.codeFrom(back, "st3")); err != nil {
		t.Errorf("confidential client without PKCE: %v", err)
	}
	// And a wrong secret is refused.
	back, _ = e.follow(b, r.conf.AuthCodeURL("st4"))
	bad := r.conf
	bad.ClientSecret = "not-the-secret"
	if _, err := bad.Exchange(ctx, r.codeFrom(back, "st4")); retrieveError(err) != "invalid_client" {
		t.Errorf("wrong client secret: %v, want invalid_client", err)
	}
}

// Redirect URIs are matched exactly: one that differs by a trailing slash,
// a query, case, port or host is refused, and nothing is sent to it.
func TestRedirectURIMatchedExactly(t *testing.T) {
	e := newPortal(t)
	const local, remote = "http://127.0.0.1:9/callback", "https://rp.example.jp/cb"
	confidential := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{local, remote}})
	// Public clients with only loopback, and only https, URIs; the mix:
	// TestPublicClientMixedRedirectURIs.
	publicLocal := e.newRP(&store.Client{Name: "spa-local", Public: true, RedirectURIs: []string{local}})
	publicRemote := e.newRP(&store.Client{Name: "spa-remote", Public: true, RedirectURIs: []string{remote}})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	badLocal := []string{local + "/", local + "?x=1", "http://127.0.0.1:9/Callback", "http://127.0.0.1:10/callback",
		"http://localhost:9/callback", "http://[::1]:9/callback", "HTTP://127.0.0.1:9/callback", local + "#f"}
	badRemote := []string{remote + "/", remote + "?next=/", "https://RP.example.jp/cb", "https://rp.example.jp/CB",
		"https://rp.example.jp:443/cb", "https://rp.example.jp/cb/../cb", "http://rp.example.jp/cb",
		"https://evil.example/cb", ""}

	for _, c := range []struct {
		r       *rp
		ok, bad []string
	}{
		{confidential, []string{local, remote}, append(append([]string{}, badLocal...), badRemote...)},
		{publicLocal, []string{local}, append(append([]string{remote}, badLocal...), badRemote...)},
		{publicRemote, []string{remote}, append(append([]string{local}, badLocal...), badRemote...)},
	} {
		for _, ok := range c.ok {
			_, loc := e.authorize(authParams(c.r.c.ID, ok, "code_challenge", challenge, "code_challenge_method", "S256"))
			if loc == nil || loc.Path != "/oidc/login" {
				t.Errorf("%s: registered %s refused: location %v", c.r.c.Name, ok, loc)
			}
		}
		for _, bad := range c.bad {
			status, loc := e.authorize(authParams(c.r.c.ID, bad, "code_challenge", challenge, "code_challenge_method", "S256"))
			if loc != nil {
				t.Errorf("%s: redirect_uri %q: redirected to %s", c.r.c.Name, bad, loc)
				continue
			}
			if status != http.StatusBadRequest {
				t.Errorf("%s: redirect_uri %q: status %d, want 400", c.r.c.Name, bad, status)
			}
		}
	}

	// The token endpoint wants the redirect URI of the request too.
	verifier := oauth2.GenerateVerifier()
	code := confidential.codeFrom(e.signIn(e.browser(), confidential.authURL("st", verifier)), "st")
	other := confidential.conf
	other.RedirectURL = local + "/"
	if _, err := other.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); retrieveError(err) != "invalid_grant" {
		t.Errorf("exchange with another redirect_uri: %v, want invalid_grant", err)
	}
}

// An unknown client is refused without a redirect.
func TestUnknownClientNotRedirected(t *testing.T) {
	e := newPortal(t)
	status, loc := e.authorize(authParams("no-such-client", "http://127.0.0.1:9/callback"))
	if loc != nil || status != http.StatusBadRequest {
		t.Errorf("unknown client: status %d, location %v", status, loc)
	}
}

// Every redirect URI CreateClient accepts works, also for a public client
// that mixes a plain-HTTP loopback URI and an https one. Regression: the
// authorization endpoint refused the loopback one ("This client's
// redirect_uri is http and is not allowed") because client.DevMode was
// true only when every redirect URI was loopback, and the library allows
// http for public (user-agent) clients only in DevMode.
func TestPublicClientMixedRedirectURIs(t *testing.T) {
	e := newPortal(t)
	const local, remote = "http://127.0.0.1:9/callback", "https://rp.example.jp/cb"
	r := e.newRP(&store.Client{Name: "spa", Public: true, RedirectURIs: []string{remote, local}})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	for _, uri := range []string{remote, local} {
		status, loc := e.authorize(authParams(r.c.ID, uri, "code_challenge", challenge, "code_challenge_method", "S256"))
		if loc == nil || loc.Path != "/oidc/login" {
			t.Errorf("registered redirect URI %s of a public client refused: status %d, location %v", uri, status, loc)
		}
	}
}

// An authorization request the provider cannot send back to a client (no
// or an unknown client_id, an unregistered redirect_uri, a request it
// cannot parse) gets the portal's page in the customer's language, not the
// library's English text; one it can send back still goes to the client.
func TestAuthorizeErrorPages(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	base := url.Values{"client_id": {r.c.ID}, "redirect_uri": {r.redirect}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for key, vs := range base {
			q[key] = slices.Clone(vs)
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	for name, q := range map[string]url.Values{
		"no client_id":          with("client_id", ""),
		"unknown client":        with("client_id", "nobody"),
		"unregistered redirect": with("redirect_uri", "http://127.0.0.1:9/elsewhere"),
	} {
		res, err := noFollow(e.browser()).Get(e.srv.URL + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode < 400 || !strings.Contains(string(body), "ご利用のサイトからのログインの要求が正しくないため") ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s %.200s", name, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	// A response type it does not support, or a max_age that is no
	// number, with a redirect URI it trusts: back to the client
	// (TestAuthorizeResponseTypeAndMaxAge).
	for _, q := range []url.Values{with("response_type", "device_code"), with("max_age", "abc")} {
		res, err := noFollow(e.browser()).Get(e.srv.URL + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc, _ := res.Location(); loc == nil || !strings.HasPrefix(loc.String(), r.redirect) || loc.Query().Get("error") == "" {
			t.Errorf("an error the client can hear: %d, Location %v", res.StatusCode, loc)
		}
	}
}

// Only S256 is advertised (code_challenge_methods_supported), so a
// confidential client's "plain" challenge, or one without a method (plain
// by default, RFC 7636 4.3), is refused too, back at the client with its
// state, instead of being checked as plain at the token endpoint.
func TestPlainChallengeRefused(t *testing.T) {
	e := newPortal(t)
	const redirect = "http://127.0.0.1:9/cb"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{redirect}})
	verifier := oauth2.GenerateVerifier()
	s256 := oauth2.S256ChallengeFromVerifier(verifier)
	for name, extra := range map[string][]string{
		"plain":                   {"code_challenge", verifier, "code_challenge_method", "plain"},
		"challenge but no method": {"code_challenge", verifier},
		// An S256 challenge is 43 characters of base64url: a short
		// made-up value, padding or the standard alphabet is no SHA-256
		// of a verifier.
		"S256 too short":         {"code_challenge", "abc", "code_challenge_method", "S256"},
		"S256 padded":            {"code_challenge", s256 + "=", "code_challenge_method", "S256"},
		"S256 standard alphabet": {"code_challenge", s256[:42] + "+", "code_challenge_method", "S256"},
	} {
		t.Run(name, func(t *testing.T) {
			status, loc := e.authorize(authParams(r.c.ID, redirect, extra...))
			if loc == nil || !strings.HasPrefix(loc.String(), redirect+"?") {
				t.Fatalf("status %d, location %v: want an error redirect to the client", status, loc)
			}
			if q := loc.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("error redirect %s", loc)
			}
		})
	}
	// Without PKCE, or with S256, a confidential client goes on.
	for _, extra := range [][]string{nil, {"code_challenge", s256, "code_challenge_method", "S256"}} {
		if status, loc := e.authorize(authParams(r.c.ID, redirect, extra...)); loc == nil || loc.Path != "/oidc/login" {
			t.Errorf("%v: status %d, location %v", extra, status, loc)
		}
	}
}

// What the provider does not support in an authorization request goes back
// to the client as the error OpenID Connect names, with its state, and
// starts no sign-in: request_uri (request_uri_not_supported, 3.1.2.6), a
// request object, no openid scope, a response mode it does not advertise.
func TestAuthorizeUnsupportedParameters(t *testing.T) {
	e := newPortal(t)
	const redirect = "http://127.0.0.1:9/cb"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{redirect}})
	for name, c := range map[string]struct {
		extra []string
		want  string
	}{
		"request_uri":         {[]string{"request_uri", "https://rp.example.jp/request.jwt"}, "request_uri_not_supported"},
		"request":             {[]string{"request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."}, "request_not_supported"},
		"no openid":           {[]string{"scope", "profile email"}, "invalid_scope"},
		"form_post":           {[]string{"response_mode", "form_post"}, "invalid_request"},
		"other response_mode": {[]string{"response_mode", "web_message"}, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			status, loc := e.authorize(authParams(r.c.ID, redirect, c.extra...))
			if loc == nil || !strings.HasPrefix(loc.String(), redirect+"?") {
				t.Fatalf("status %d, location %v: want an error redirect to the client", status, loc)
			}
			if q := loc.Query(); q.Get("error") != c.want || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("error redirect %s, want error=%s with state st", loc, c.want)
			}
		})
	}
}

// Scopes the provider gives nothing for (unknown ones, phone, address) are
// ignored: the sign-in goes on and the tokens do not name them.
func TestUnsupportedScopesIgnored(t *testing.T) {
	e := newPortal(t)
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	r.conf.Scopes = []string{"openid", "email", "phone", "address", "urn:example:unknown"}
	tok := r.login(e.browser())
	if got := tok.Extra("scope"); got != "openid email" {
		t.Errorf("scope %q, want %q", got, "openid email")
	}
	if status, ui := e.userinfo(tok.AccessToken); status != http.StatusOK || ui["email"] != e.email || ui["phone_number"] != nil || ui["address"] != nil {
		t.Errorf("userinfo: %d %v", status, ui)
	}
}

// A parameter given twice (RFC 6749 3.1, 3.2: each at most once) is
// refused: at the authorization endpoint with the portal's page, as
// neither client_id or redirect_uri can be trusted to answer; at the token
// endpoint with invalid_request, and the code is not spent.
func TestRepeatedParametersRefused(t *testing.T) {
	e := newPortal(t)
	r := newSite(e, "site")
	for _, name := range []string{"client_id", "redirect_uri", "state", "scope", "code_challenge"} {
		// The library reads STATE as state: a capitalised one is the
		// parameter again.
		for _, k := range []string{name, strings.ToUpper(name)} {
			q := authParams(r.c.ID, r.redirect, "code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()),
				"code_challenge_method", "S256")
			q.Add(k, "again")
			res, err := noFollow(e.browser()).Get(e.srv.URL + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" ||
				!strings.Contains(string(body), "ご利用のサイトからのログインの要求が正しくないため") {
				t.Errorf("%s and %s: %d, location %q", name, k, res.StatusCode, res.Header.Get("Location"))
			}
		}
	}

	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code, code}, "redirect_uri": {r.redirect}, "code_verifier": {verifier}}
	if status, body := r.post("/oauth/token", form); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("code twice: %d %v, want 400 invalid_request", status, body)
	}
	form = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "CODE": {code}, "redirect_uri": {r.redirect}, "code_verifier": {verifier}}
	if status, body := r.post("/oauth/token", form); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("code and CODE: %d %v, want 400 invalid_request", status, body)
	}
	r.verify(r.exchange(code, verifier))
}

// A response_type other than code goes back to the client as
// unsupported_response_type (RFC 6749 4.1.2.1), with its state: in the
// fragment for a type with a token (4.2.2.1), unless response_mode says
// otherwise; the library answered unauthorized_client. A max_age that is
// not a number of seconds goes back as invalid_request, where the library
// showed its error page; an empty one counts as omitted (RFC 6749 3.1),
// where the library read it as 0. Neither goes to a redirect_uri the
// client did not register, or for an unknown client.
func TestAuthorizeResponseTypeAndMaxAge(t *testing.T) {
	e := newPortal(t)
	const redirect = "http://127.0.0.1:9/cb"
	r := e.newRP(&store.Client{Name: "site", RedirectURIs: []string{redirect}})
	for name, c := range map[string]struct {
		params   url.Values
		want     string
		fragment bool
	}{
		"token":                  {authParams(r.c.ID, redirect, "response_type", "token"), "unsupported_response_type", true},
		"id_token":               {authParams(r.c.ID, redirect, "response_type", "id_token"), "unsupported_response_type", true},
		"code id_token":          {authParams(r.c.ID, redirect, "response_type", "code id_token"), "unsupported_response_type", true},
		"token, query":           {authParams(r.c.ID, redirect, "response_type", "token", "response_mode", "query"), "unsupported_response_type", false},
		"unknown":                {authParams(r.c.ID, redirect, "response_type", "device_code"), "unsupported_response_type", false},
		"CODE":                   {authParams(r.c.ID, redirect, "response_type", "CODE"), "unsupported_response_type", false},
		"RESPONSE_TYPE":          {withParam(authParams(r.c.ID, redirect), "response_type", "RESPONSE_TYPE", "token"), "unsupported_response_type", true},
		"max_age letters":        {authParams(r.c.ID, redirect, "max_age", "abc"), "invalid_request", false},
		"max_age negative":       {authParams(r.c.ID, redirect, "max_age", "-1"), "invalid_request", false},
		"max_age fraction":       {authParams(r.c.ID, redirect, "max_age", "1.5"), "invalid_request", false},
		"max_age too large":      {authParams(r.c.ID, redirect, "max_age", "99999999999999999999"), "invalid_request", false},
		"MAX_AGE":                {withParam(authParams(r.c.ID, redirect), "", "MAX_AGE", "abc"), "invalid_request", false},
		"max_age and token both": {authParams(r.c.ID, redirect, "max_age", "x", "response_type", "token"), "unsupported_response_type", true},
	} {
		t.Run(name, func(t *testing.T) {
			status, loc := e.authorize(c.params)
			if loc == nil || !strings.HasPrefix(loc.String(), redirect) {
				t.Fatalf("status %d, location %v: want an error redirect to the client", status, loc)
			}
			q := loc.Query()
			if c.fragment {
				q, _ = url.ParseQuery(loc.Fragment)
			}
			if q.Get("error") != c.want || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("error redirect %s, want error=%s with state st in the %s", loc,
					c.want, map[bool]string{true: "fragment", false: "query"}[c.fragment])
			}
		})
	}

	// Wrong in both ways with a redirect_uri the client did not register,
	// or for an unknown client: the portal's page, no redirect.
	for name, p := range map[string]url.Values{
		"unregistered": authParams(r.c.ID, "http://127.0.0.1:9/elsewhere", "response_type", "token", "max_age", "abc"),
		"unknown":      authParams("nobody", redirect, "response_type", "token", "max_age", "abc"),
	} {
		if status, loc := e.authorize(p); status != http.StatusBadRequest || loc != nil {
			t.Errorf("%s client or redirect_uri: %d, location %v; want the page", name, status, loc)
		}
	}

	// A max_age of seconds, or an empty one, goes on to the sign-in.
	// One longer than a century is kept as a century: it neither wraps
	// negative (as absent) nor overflows the time it allows.
	for v, want := range map[string]int64{"300": 300, "0": 0, "": -1,
		"18446744073709551615": oidc.MaxAgeCap, "9223372036854775808": oidc.MaxAgeCap, "10000000000": oidc.MaxAgeCap} {
		b := e.browser()
		id := e.requestIn(b, e.srv.URL+"/authorize?"+authParams(r.c.ID, redirect, "max_age", v).Encode())
		req, err := e.provider.AuthRequest(t.Context(), id)
		if err != nil || req.MaxAge != want {
			t.Errorf("max_age=%q: stored %d (%v), want %d", v, req.MaxAge, err, want)
		}
	}
}

// withParam is v without the parameter old (if given) and with name=value.
func withParam(v url.Values, old, name, value string) url.Values {
	if old != "" {
		v.Del(old)
	}
	v.Set(name, value)
	return v
}
