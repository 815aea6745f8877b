package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/store"
)

// Helpers shared by the provider's tests: relying parties registered with
// the portal, a browser that records where it was sent, raw calls to the
// provider's endpoints, and back-channel logout receivers.

// rp is a relying party registered with the portal.
type rp struct {
	e        *portalEnv
	c        *store.Client
	secret   string // empty for a public client
	redirect string
	conf     oauth2.Config
	op       *gooidc.Provider
}

// scopesAll is what most tests ask for.
var scopesAll = []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess}

// newRP registers c (its first redirect URI is the one used) and discovers
// the provider as a stock client does.
func (e *portalEnv) newRP(c *store.Client) *rp {
	e.t.Helper()
	ctx := context.Background()
	// The tests' relying parties are first-party, as the customer sites
	// are: no consent page (TestConsent covers third parties).
	c.FirstParty = true
	clientSecret, err := e.provider.CreateClient(ctx, c)
	if err != nil {
		e.t.Fatalf("create client %q: %v", c.Name, err)
	}
	op, err := gooidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	ep := op.Endpoint()
	// One attempt per exchange: auto-detection would retry a refused
	// request with the other style, presenting a code twice.
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if c.Public {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rp{e: e, c: c, secret: clientSecret, redirect: c.RedirectURIs[0], op: op,
		conf: oauth2.Config{ClientID: c.ID, ClientSecret: clientSecret, Endpoint: ep,
			RedirectURL: c.RedirectURIs[0], Scopes: slices.Clone(scopesAll)}}
}

// authURL is an authorization request with PKCE (S256) and a nonce.
func (r *rp) authURL(state, verifier string, opts ...oauth2.AuthCodeOption) string {
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), gooidc.Nonce("nonce-" + state)}, opts...)
	return r.conf.AuthCodeURL(state, opts...)
}

// codeFrom checks that back is this client's redirect URI with state, and
// returns the code.
func (r *rp) codeFrom(back *url.URL, state string) string {
	r.e.t.Helper()
	if back == nil {
		r.e.t.Fatalf("%s: the browser was not sent back to the client", r.c.Name)
	}
	if got := back.Scheme + "://" + back.Host + back.Path; got != r.redirect || back.Query().Get("state") != state {
		r.e.t.Fatalf("%s: sent to %s, want %s with state %s", r.c.Name, back, r.redirect, state)
	}
	code := back.Query().Get("code")
	if code == "" {
		r.e.t.Fatalf("%s: no code in %s", r.c.Name, back)
	}
	return code
}

// login runs the code flow with a sign-in in browser b and exchanges the code.
func (r *rp) login(b *http.Client, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	r.e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	back := r.e.signIn(b, r.authURL("s-"+r.c.Name, verifier, opts...))
	return r.exchange(r.codeFrom(back, "s-"+r.c.Name), verifier)
}

// sso runs the code flow in browser b, which must already be signed in:
// no sign-in page may be shown.
func (r *rp) sso(b *http.Client, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	r.e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	back, visited := r.e.follow(b, r.authURL("sso-"+r.c.Name, verifier, opts...))
	for _, p := range visited {
		if strings.HasPrefix(p, "/login") {
			r.e.t.Fatalf("%s: a signed-in browser was shown %s (visited %v)", r.c.Name, p, visited)
		}
	}
	return r.exchange(r.codeFrom(back, "sso-"+r.c.Name), verifier)
}

func (r *rp) exchange(code, verifier string) *oauth2.Token {
	r.e.t.Helper()
	tok, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		r.e.t.Fatalf("%s: exchange: %v", r.c.Name, err)
	}
	return tok
}

// refresh uses a refresh token as x/oauth2 does.
func (r *rp) refresh(refreshToken string) (*oauth2.Token, error) {
	return r.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// verify checks an ID token as a stock client does and returns it and its claims.
func (r *rp) verify(tok *oauth2.Token) (*gooidc.IDToken, idClaims) {
	r.e.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		r.e.t.Fatalf("%s: no ID token", r.c.Name)
	}
	idt, err := r.op.Verifier(&gooidc.Config{ClientID: r.c.ID}).Verify(context.Background(), raw)
	if err != nil {
		r.e.t.Fatalf("%s: verify ID token: %v", r.c.Name, err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		r.e.t.Fatal(err)
	}
	return idt, c
}

type idClaims struct {
	Subject  string   `json:"sub"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Nonce    string   `json:"nonce"`
	AuthTime int64    `json:"auth_time"`
	AMR      []string `json:"amr"`
	SID      string   `json:"sid"`
}

// post calls one of the provider's endpoints as this client: HTTP Basic
// for a confidential client, client_id in the form for a public one.
func (r *rp) post(path string, form url.Values) (int, map[string]any) {
	r.e.t.Helper()
	form = cloneValues(form)
	if r.secret == "" {
		form.Set("client_id", r.c.ID)
	}
	req, err := http.NewRequest(http.MethodPost, r.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		r.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r.secret != "" {
		req.SetBasicAuth(url.QueryEscape(r.c.ID), url.QueryEscape(r.secret))
	}
	return r.e.do(req)
}

// do sends req and decodes a JSON answer, if any.
func (e *portalEnv) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		m = map[string]any{"_raw": string(body)}
	}
	return res.StatusCode, m
}

// userinfo calls the userinfo endpoint with a bearer token.
func (e *portalEnv) userinfo(accessToken string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return e.do(req)
}

// refusedToken reports whether the userinfo endpoint refused a token as
// RFC 6750 3.1 says: 401, whether the token is unreadable, expired or
// revoked (see TestUserinfoRefusesWith401).
func refusedToken(status int) bool {
	return status == http.StatusUnauthorized
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// noFollow is b without following redirects (same cookies).
func noFollow(b *http.Client) *http.Client {
	return &http.Client{Jar: b.Jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// resetForm is the security page's 「リセットする」 form: it names the
// account's factors as the page shows them.
func (e *portalEnv) resetForm() url.Values {
	e.t.Helper()
	_, tag, err := e.svc.MethodsTagged(e.t.Context(), e.accountID)
	if err != nil {
		e.t.Fatal(err)
	}
	return url.Values{"factors": {tag}}
}

// get answers a GET of u in browser b without following redirects.
func (e *portalEnv) get(b *http.Client, u string, header ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := noFollow(b).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// newJarBrowser is a browser with its own cookies that follows nothing.
func newJarBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return noFollow(&http.Client{Jar: jar})
}

// follow opens u in browser b and follows redirects on the portal. It
// returns where the portal sent the browser off the portal (nil if the
// browser stayed: it is then at the last path visited) and the portal paths
// visited, with their queries.
func (e *portalEnv) follow(b *http.Client, u string) (*url.URL, []string) {
	e.t.Helper()
	c := noFollow(b)
	var visited []string
	for range 20 {
		target, err := url.Parse(u)
		if err != nil {
			e.t.Fatal(err)
		}
		if !strings.HasPrefix(u, e.srv.URL) {
			return target, visited
		}
		visited = append(visited, target.RequestURI())
		res, err := c.Get(u)
		if err != nil {
			e.t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		loc, err := res.Location()
		if err != nil {
			return nil, visited
		}
		u = loc.String()
	}
	e.t.Fatalf("redirect loop: %v", visited)
	return nil, nil
}

// trySignIn is signIn that reports, rather than fails, where the browser
// ended when the portal did not send it back to a client: back is nil and
// at is the portal page it stayed on.
func (e *portalEnv) trySignIn(b *http.Client, authURL string) (back *url.URL, at string) {
	e.t.Helper()
	e.clock.Advance(mfa.Period * time.Second)
	back, visited := e.follow(b, authURL)
	if back != nil {
		e.t.Fatalf("no sign-in page was shown: sent to %s (visited %v)", back, visited)
	}
	last, _ := url.Parse(visited[len(visited)-1])
	if last.Path != "/login" {
		e.t.Fatalf("authorize led to %s, want the login page", last)
	}
	c := noFollow(b)
	res, err := c.PostForm(e.srv.URL+"/login", url.Values{"email": {e.email}, "password": {e.password},
		"next": {last.Query().Get("next")}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc == nil || loc.Path != "/login/code" {
		e.t.Fatalf("after the password: status %d, location %v", res.StatusCode, loc)
	}
	code, _ := mfa.TOTPCode(e.seed, e.clock.Now())
	res, err = c.PostForm(e.srv.URL+"/login/code", url.Values{"code": {code}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		e.t.Fatalf("after the code: status %d, no redirect", res.StatusCode)
	}
	back, visited = e.follow(b, loc.String())
	if back != nil {
		return back, ""
	}
	return nil, visited[len(visited)-1]
}

// decodeJWT returns a compact JWT's header and claims, unverified.
func decodeJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", raw)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
	}
	return header, claims
}

// receiver is a site's back-channel logout endpoint that records the posts.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []logoutPost
}

type logoutPost struct {
	method, contentType string
	form                url.Values
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		rc.mu.Lock()
		rc.posts = append(rc.posts, logoutPost{method: r.Method, contentType: r.Header.Get("Content-Type"), form: r.PostForm})
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/backchannel-logout" }

func (rc *receiver) got() []logoutPost {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.posts)
}

// getJSON fetches a JSON document from the portal.
func (e *portalEnv) getJSON(path string, v any) {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
}

type jwks struct {
	Keys []struct {
		Kid string `json:"kid"`
		Kty string `json:"kty"`
		Alg string `json:"alg"`
		Use string `json:"use"`
		N   string `json:"n"`
		E   string `json:"e"`
	} `json:"keys"`
}

func (e *portalEnv) kids() []string {
	e.t.Helper()
	var ks jwks
	e.getJSON("/keys", &ks)
	var out []string
	for _, k := range ks.Keys {
		out = append(out, k.Kid)
	}
	return out
}
