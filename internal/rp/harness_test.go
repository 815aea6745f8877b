package rp_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/rp"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
	"github.com/tobira/tobira/internal/web"
)

// The real portal (store, service, provider, web) on a local server with
// one enrolled customer, and customer sites (rp.Site) registered with it as
// first-party confidential clients, each on its own local server.

// clock is the portal's time: the wall clock plus what tests advanced it.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type portalEnv struct {
	t         *testing.T
	url       string // the issuer
	addr      string
	srv       *httptest.Server
	handler   http.Handler
	clock     *clock
	keys      *secret.Keyring
	db        *sqlstore.DB
	svc       *portal.Service
	provider  *oidc.Provider
	email     string
	password  string
	seed      string
	accountID string
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestMain quiets the OpenID Connect library, which logs refused requests
// to the default logger; the tests make many on purpose.
func TestMain(m *testing.M) {
	slog.SetDefault(quiet)
	os.Exit(m.Run())
}

// newPortal builds the portal and starts it.
func newPortal(t *testing.T) *portalEnv {
	e := newStoppedPortal(t)
	e.start()
	return e
}

// newStoppedPortal builds the portal on an address where nothing listens
// yet: start serves it.
func newStoppedPortal(t *testing.T) *portalEnv {
	t.Helper()
	addr := testkit.FreeAddr(t) // never handed to a site of the test
	var err error
	e := &portalEnv{t: t, addr: addr, url: "http://" + addr, clock: &clock{},
		email: "yamada@example.jp", password: "correct horse battery"}

	cfg := testkit.Config(t, func(c *config.Config) { c.BaseURL = e.url })
	if e.keys, err = cfg.Keyring(); err != nil {
		t.Fatal(err)
	}
	if e.db, err = sqlstore.OpenSQLite(cfg.DatabasePath()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	e.svc = portal.New(e.db, e.keys, cfg, quiet)
	e.svc.Now = e.clock.Now
	e.provider, err = oidc.New(oidc.Config{Store: e.db, Keys: e.keys, Issuer: e.url, Log: quiet, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Back-channel posts in flight finish before the servers close.
	t.Cleanup(e.provider.Wait)
	e.svc.SessionEnded, e.svc.GrantsEnded = e.provider.SessionEnded, e.provider.GrantsEnded
	if e.handler, err = web.New(e.svc, quiet, web.WithOIDC(e.provider)); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	a, _, err := e.svc.OpenAccount(ctx, e.email, "山田 太郎", "test")
	if err != nil {
		t.Fatal(err)
	}
	e.accountID = a.ID
	if err := e.svc.SetPassword(ctx, a.ID, e.password); err != nil {
		t.Fatal(err)
	}
	e.seed = mfa.NewTOTPSecret()
	if err := e.db.AddFactor(ctx, &store.Factor{ID: "f-1", AccountID: a.ID, Kind: store.FactorTOTP,
		Secret: e.keys.Encrypt(e.seed, a.ID), LastStep: -1, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return e
}

// start serves the portal at its address.
func (e *portalEnv) start() {
	e.t.Helper()
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		e.t.Fatalf("portal address %s: %v", e.addr, err)
	}
	e.srv = httptest.NewUnstartedServer(e.handler)
	e.srv.Listener.Close()
	e.srv.Listener = ln
	e.srv.Start()
	e.t.Cleanup(e.srv.Close)
}

// siteEnv is a customer site: an rp.Site on its own server, with a page that
// shows who is signed in, and a back-channel receiver in front of the site's.
type siteEnv struct {
	t        *testing.T
	e        *portalEnv
	name     string
	url      string
	host     string
	site     *rp.Site
	client   *store.Client
	sessions *recStore
	offset   atomic.Int64 // the site's clock, ahead of the portal's by this

	capture  atomic.Bool // hold the portal's logout tokens instead of passing them on
	mu       sync.Mutex
	received []string // logout tokens the portal posted
}

// recStore records the sessions a site creates.
type recStore struct {
	store.SiteSessions
	mu      sync.Mutex
	created []store.SiteSession
}

func (r *recStore) CreateSiteSession(ctx context.Context, s *store.SiteSession) error {
	err := r.SiteSessions.CreateSiteSession(ctx, s)
	if err == nil {
		r.mu.Lock()
		r.created = append(r.created, *s)
		r.mu.Unlock()
	}
	return err
}

func (r *recStore) list() []store.SiteSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.created)
}

// newSite registers a site with the portal and serves it.
func (e *portalEnv) newSite(name string) *siteEnv { return e.newSiteWith(name, nil) }

// newSiteWith is newSite with the rp.Site changed by edit before it serves.
func (e *portalEnv) newSiteWith(name string, edit func(*rp.Site)) *siteEnv {
	t := e.t
	t.Helper()
	ln, err := net.Listen("tcp", testkit.FreeAddr(t)) // not the stopped portal's
	if err != nil {
		t.Fatal(err)
	}
	s := &siteEnv{t: t, e: e, name: name, host: ln.Addr().String(), url: "http://" + ln.Addr().String(),
		sessions: &recStore{SiteSessions: e.db}}
	s.client = &store.Client{Name: name, FirstParty: true, Public: false,
		RedirectURIs:           []string{s.url + "/auth/callback"},
		PostLogoutRedirectURIs: []string{s.url + "/"},
		BackchannelLogoutURI:   s.url + "/auth/backchannel-logout"}
	clientSecret, err := e.provider.CreateClient(context.Background(), s.client)
	if err != nil {
		t.Fatal(err)
	}
	s.site = &rp.Site{Name: name, BaseURL: s.url, Issuer: e.url, ClientID: s.client.ID, ClientSecret: clientSecret,
		Store: s.sessions, Keys: e.keys, Now: s.now, Log: quiet}
	if edit != nil {
		edit(s.site)
	}

	mux := http.NewServeMux()
	routes := s.site.Routes()
	mux.HandleFunc("/auth/backchannel-logout", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.ParseForm() == nil && r.PostForm.Get("logout_token") != "" {
			s.mu.Lock()
			s.received = append(s.received, r.PostForm.Get("logout_token"))
			s.mu.Unlock()
			if s.capture.Load() {
				w.WriteHeader(http.StatusOK)
				return
			}
		}
		routes.ServeHTTP(w, r)
	})
	mux.Handle("/auth/", routes)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u, err := s.site.CurrentUser(r)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case u == nil:
			io.WriteString(w, "anonymous")
		default:
			io.WriteString(w, "user="+u.AccountID+"|name="+u.Name+"|email="+u.Email)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	// Back-channel posts in flight reach the site before it closes.
	t.Cleanup(e.provider.Wait)
	return s
}

func (s *siteEnv) now() time.Time {
	return s.e.clock.Now().Add(time.Duration(s.offset.Load()))
}

// advance moves the site's clock (only) forward.
func (s *siteEnv) advance(d time.Duration) { s.offset.Add(int64(d)) }

func (s *siteEnv) tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// atCallback stops a browser before it calls the site's callback.
func (s *siteEnv) atCallback(u *url.URL) bool {
	return u.Host == s.host && u.Path == "/auth/callback"
}

// signedInAs is what the site's page shows for the portal's customer.
func (s *siteEnv) signedInAs() string {
	return "user=" + s.e.accountID + "|name=山田 太郎|email=" + s.e.email
}

// session is the browser's live session at the site, or nil.
func (s *siteEnv) session(b *browser) *store.SiteSession {
	s.t.Helper()
	v := b.cookie(s.url, "tobira_"+s.name)
	if v == "" {
		return nil
	}
	ss, err := s.e.db.SiteSessionByHash(context.Background(), secret.Hash(v), s.now())
	if err != nil {
		return nil
	}
	return ss
}

// browser follows redirects across the portal and the sites, one hop at a
// time, and remembers which cookie names each server set.
type browser struct {
	t   *testing.T
	jar *cookiejar.Jar
	c   *http.Client

	mu  sync.Mutex
	set map[string]map[string]bool // host -> cookie names set
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, jar: jar, set: map[string]map[string]bool{}, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport:     rawLocation{http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// rawLocation moves a Location that net/url cannot parse (a browser can: it
// drops tabs and newlines first) aside, where http.Client does not fail on it.
type rawLocation struct{ http.RoundTripper }

const rawLocationHeader = "X-Test-Raw-Location"

func (t rawLocation) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.RoundTripper.RoundTrip(r)
	if err == nil {
		if loc := res.Header.Get("Location"); loc != "" {
			if _, perr := url.Parse(loc); perr != nil {
				res.Header.Del("Location")
				res.Header.Set(rawLocationHeader, loc)
			}
		}
	}
	return res, err
}

// page is one answer the browser got.
type page struct {
	status  int
	url     *url.URL // what was asked
	loc     *url.URL // where a redirect points (nil: none, or unparsable)
	rawLoc  string
	header  http.Header
	body    string
	visited []string
}

func (b *browser) do(method, u string, form url.Values) *page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	b.mu.Lock()
	for _, c := range res.Cookies() {
		if b.set[req.URL.Host] == nil {
			b.set[req.URL.Host] = map[string]bool{}
		}
		b.set[req.URL.Host][c.Name] = true
	}
	b.mu.Unlock()
	p := &page{status: res.StatusCode, url: req.URL, header: res.Header, body: string(raw),
		rawLoc: res.Header.Get("Location") + res.Header.Get(rawLocationHeader), visited: []string{req.URL.String()}}
	p.loc, _ = res.Location()
	return p
}

// follow follows p's redirects until a page, or a redirect stop accepts.
func (b *browser) follow(p *page, stop func(*url.URL) bool) *page {
	b.t.Helper()
	visited := p.visited
	for range 30 {
		if p.status/100 != 3 || p.loc == nil || (stop != nil && stop(p.loc)) {
			p.visited = visited
			return p
		}
		p = b.do(http.MethodGet, p.loc.String(), nil)
		visited = append(visited, p.visited...)
	}
	b.t.Fatalf("redirect loop: %v", visited)
	return nil
}

func (b *browser) get(u string, stop func(*url.URL) bool) *page {
	return b.follow(b.do(http.MethodGet, u, nil), stop)
}

func (b *browser) post(u string, form url.Values, stop func(*url.URL) bool) *page {
	return b.follow(b.do(http.MethodPost, u, form), stop)
}

func (b *browser) cookie(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(u, name, value, path string) {
	pu, _ := url.Parse(u)
	b.jar.SetCookies(pu, []*http.Cookie{{Name: name, Value: value, Path: path}})
}

// namesSet returns the cookie names the server at host set.
func (b *browser) namesSet(host string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for n := range b.set[host] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// atPortalLogin reports whether the browser is on the portal's sign-in page.
func (e *portalEnv) atPortalLogin(p *page) bool {
	return p.status == http.StatusOK && p.url.Host == e.addr && p.url.Path == "/login"
}

// signIn answers the portal's sign-in pages (password, then the app's code)
// the browser is on, then follows where the portal sends it.
func (e *portalEnv) signIn(b *browser, p *page, stop func(*url.URL) bool) *page {
	e.t.Helper()
	if !e.atPortalLogin(p) {
		e.t.Fatalf("not on the portal's sign-in page: %d at %s (visited %v)", p.status, p.url, p.visited)
	}
	// A code is accepted once: each sign-in uses the next step's.
	e.clock.Advance(mfa.Period * time.Second)
	p = b.post(e.url+"/login", url.Values{"email": {e.email}, "password": {e.password},
		"next": {p.url.Query().Get("next")}}, stop)
	if p.url.Path != "/login/code" {
		e.t.Fatalf("after the password: %d at %s", p.status, p.url)
	}
	code, err := mfa.TOTPCode(e.seed, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return b.post(e.url+"/login/code", url.Values{"code": {code}}, stop)
}

// login starts a sign-in at the site that comes back to ret, signs in at
// the portal when the portal asks, and follows redirects (up to stop).
func (s *siteEnv) login(b *browser, ret string, stop func(*url.URL) bool) *page {
	s.t.Helper()
	p := b.get(s.url+"/auth/login?return="+url.QueryEscape(ret), stop)
	if s.e.atPortalLogin(p) {
		p = s.e.signIn(b, p, stop)
	}
	return p
}

// mustLogin signs the browser in at the site, coming back to ret.
func (s *siteEnv) mustLogin(b *browser, ret string) *page {
	s.t.Helper()
	p := s.login(b, ret, nil)
	if p.status != http.StatusOK || p.url.String() != s.url+ret || p.body != s.signedInAs() {
		s.t.Fatalf("%s: sign-in ended with %d at %s: %q (visited %v)", s.name, p.status, p.url, p.body, p.visited)
	}
	return p
}

// callback stops a sign-in at the site just before its callback, which it
// returns (the site's signin cookie is in the browser).
func (s *siteEnv) callback(b *browser, ret string) *url.URL {
	s.t.Helper()
	p := s.login(b, ret, s.atCallback)
	if p.loc == nil || !s.atCallback(p.loc) {
		s.t.Fatalf("%s: the sign-in did not come back to the callback: %d at %s (visited %v)", s.name, p.status, p.url, p.visited)
	}
	return p.loc
}

// signInCookie is the name of the cookie of the site's sign-in whose
// state is state: each sign-in in progress has its own.
func (s *siteEnv) signInCookie(state string) string {
	return "tobira_" + s.name + "_signin_" + secret.Hash(state)[:16]
}

// signInsKept counts the browser's cookies of sign-ins in progress at the
// site.
func (s *siteEnv) signInsKept(b *browser) int {
	pu, _ := url.Parse(s.url + "/auth/")
	n := 0
	for _, c := range b.jar.Cookies(pu) {
		if strings.HasPrefix(c.Name, "tobira_"+s.name+"_signin") {
			n++
		}
	}
	return n
}

// backchannel posts a logout token to the site's endpoint.
func (s *siteEnv) backchannel(token string) (int, string) {
	s.t.Helper()
	res, err := http.PostForm(s.url+"/auth/backchannel-logout", url.Values{"logout_token": {token}})
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// claimsOf returns a compact JWT's claims, unverified.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// signingKey is the portal's current signing key, read from its store: the
// provider does not hand it out, and tests need it to make logout tokens
// that differ from the portal's in one claim only.
func (e *portalEnv) signingKey() (string, *rsa.PrivateKey) {
	t := e.t
	t.Helper()
	ks, err := e.db.SigningKeys(context.Background(), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if !k.RetiredAt.IsZero() {
			continue
		}
		text, err := e.keys.Decrypt(k.PrivateKey, "signing key "+k.ID)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode([]byte(text))
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID, key.(*rsa.PrivateKey)
	}
	t.Fatal("the portal has no signing key")
	return "", nil
}

// sign makes a logout token as the portal does (RS256, typ logout+jwt, kid).
func sign(t *testing.T, kid string, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	return signJWT(t, "logout+jwt", kid, key, claims)
}

func signJWT(t *testing.T, typ jose.ContentType, kid string, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType(typ).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
