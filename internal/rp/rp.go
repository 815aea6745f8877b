// Package rp signs customers in at a customer site through the portal: the
// site is an OpenID Connect relying party (authorization code with PKCE, ID
// token checked with go-oidc, the customer's name and email read from the
// userinfo endpoint), keeps its own server-side session, and ends
// it when the portal says so (back-channel logout) or the customer signs out
// (which signs out of the portal too).
package rp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/sites"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// SessionTTL is how long a site session lasts at most; the portal's
// back-channel logout ends it sooner, and so does Site.PortalSessionTTL.
const SessionTTL = 12 * time.Hour

// flowTTL bounds a sign-in between the site and the portal, at least
// (Site.SignInTTL).
const flowTTL = 10 * time.Minute

// Site is one customer site's sign-in through the portal.
type Site struct {
	Name         string // "contracts" or "invoices": names its sessions and cookies
	BaseURL      string // the site's own URL, e.g. http://127.0.0.1:8081
	Issuer       string // the portal
	ClientID     string
	ClientSecret string
	Store        store.SiteSessions
	Keys         *secret.Keyring
	Now          func() time.Time
	Log          *slog.Logger
	HTTPClient   *http.Client // for the portal's token and key endpoints
	// PortalSessionTTL is how long a portal session lasts after its
	// sign-in (the portal's session_ttl). A site session ends at the ID
	// token's auth_time plus this at the latest, when the portal session
	// it came from ends, even if the portal's back-channel logout never
	// comes; zero for no such bound.
	PortalSessionTTL time.Duration
	// SignInTTL is how long a sign-in at the portal may take (the portal's
	// enrol_ttl and flow_ttl: a first one includes setting up the
	// authenticator app). A sign-in the site started waits as long for the
	// portal's answer, flowTTL at least, so that a customer who took that
	// time comes back to the page they asked for.
	SignInTTL time.Duration

	once     sync.Mutex
	provider *gooidc.Provider
}

var _ sites.Auth = (*Site)(nil)

func (s *Site) secure() bool             { return strings.HasPrefix(s.BaseURL, "https://") }
func (s *Site) cookie() string           { return s.prefix() + "tobira_" + s.Name }
func (s *Site) flowCookie() string       { return s.prefix() + "tobira_" + s.Name + "_signin" }
func (s *Site) callbackURL() string      { return s.BaseURL + "/auth/callback" }
func (s *Site) signInTTL() time.Duration { return max(flowTTL, s.SignInTTL) }

// prefix is the cookies' name prefix over HTTPS: __Host-, which a browser
// keeps only when Secure, without Domain, on path /, so that neither a
// plain-HTTP answer (a network attacker's) nor a sibling subdomain can
// plant or overwrite them: a planted session would show the customer
// someone else's contracts, a planted sign-in would finish with the
// attacker's code. Over plain HTTP (the demo) nothing can stop that.
func (s *Site) prefix() string {
	if s.secure() {
		return "__Host-"
	}
	return ""
}

// flowPath is the path of the sign-in's cookie: /auth/, where only the
// callback reads it, but / over HTTPS, as __Host- requires.
func (s *Site) flowPath() string {
	if s.secure() {
		return "/"
	}
	return "/auth/"
}

func (s *Site) ctx(ctx context.Context) context.Context {
	if s.HTTPClient != nil {
		return gooidc.ClientContext(ctx, s.HTTPClient)
	}
	return ctx
}

// discover reads the portal's discovery document once it is reachable, so
// a site may start before the portal.
func (s *Site) discover(ctx context.Context) (*gooidc.Provider, error) {
	s.once.Lock()
	defer s.once.Unlock()
	if s.provider != nil {
		return s.provider, nil
	}
	p, err := gooidc.NewProvider(s.ctx(ctx), s.Issuer)
	if err != nil {
		return nil, fmt.Errorf("rp: discovery at %s: %w", s.Issuer, err)
	}
	s.provider = p
	return p, nil
}

// oauth is the site's client configuration. The secret goes in HTTP Basic,
// as the portal registers a confidential client (client_secret_basic),
// and only so (a site without one, a public client, names itself in the
// form): x/oauth2, left to find the style, tries the form after any
// refusal, presenting the code a second time, which the portal takes for
// a replay (it revokes what the code gave, and warns of an attack).
func (s *Site) oauth(p *gooidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if s.ClientSecret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: ep,
		RedirectURL: s.callbackURL(), Scopes: []string{gooidc.ScopeOpenID, "profile", "email"}}
}

// LoginURL starts a sign-in that comes back to returnTo.
func (s *Site) LoginURL(returnTo string) string {
	return "/auth/login?return=" + url.QueryEscape(returnTo)
}

// LogoutURL is where the menu's ログアウト posts.
func (s *Site) LogoutURL() string { return "/auth/logout" }

// SecurityURL is the portal's security page.
func (s *Site) SecurityURL() string { return strings.TrimSuffix(s.Issuer, "/") + "/security" }

// CurrentUser resolves the site's session cookie.
func (s *Site) CurrentUser(r *http.Request) (*sites.User, error) {
	c, err := r.Cookie(s.cookie())
	if err != nil {
		return nil, nil
	}
	ss, err := s.Store.SiteSessionByHash(r.Context(), secret.Hash(c.Value), s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &sites.User{AccountID: ss.AccountID, Name: ss.Name, Email: ss.Email}, nil
}

// Routes serves the sign-in's paths under /auth/.
func (s *Site) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/login", getOnly(s.login))
	mux.HandleFunc("GET /auth/callback", getOnly(s.callback))
	mux.HandleFunc("POST /auth/logout", s.logout)
	mux.HandleFunc("POST /auth/backchannel-logout", s.backchannel)
	return mux
}

// getOnly serves h for GET alone. The mux routes HEAD to a GET pattern,
// and these two act: /auth/login starts a sign-in (and drops the others
// in progress), /auth/callback spends the code, after which the browser's
// own GET of it would find the code used. Link checkers, prefetchers and
// monitors send HEAD freely; it is refused, as another method is.
func getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, msgMethod, http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}

// signin is what a sign-in in progress keeps in its (encrypted) cookie.
type signin struct {
	State, Nonce, Verifier, Return string
	Expires                        time.Time
}

func (s *Site) login(w http.ResponseWriter, r *http.Request) {
	p, err := s.discover(r.Context())
	if err != nil {
		s.Log.Error("rp: portal unreachable", "err", err)
		http.Error(w, msgPortalDown, http.StatusServiceUnavailable)
		return
	}
	in := signin{State: secret.Token(16), Nonce: secret.Token(16), Verifier: oauth2.GenerateVerifier(),
		Return: localPath(r.URL.Query().Get("return")), Expires: s.Now().Add(s.signInTTL())}
	if r.URL.Query().Get("again") != "" {
		in.State = againPrefix + in.State
	}
	s.dropSignIns(w, r)
	b, _ := json.Marshal(in)
	name := s.signInCookie(in.State)
	http.SetCookie(w, &http.Cookie{Name: name, Value: s.Keys.Encrypt(string(b), name),
		Path: s.flowPath(), MaxAge: int(s.signInTTL().Seconds()), HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	// ui_locales (OpenID Connect Core 3.1.2.1): the portal's pages in the
	// language the customer reads this site in, which on another host
	// than the portal's it has no cookie of.
	http.Redirect(w, r, s.oauth(p).AuthCodeURL(in.State, oauth2.S256ChallengeOption(in.Verifier), gooidc.Nonce(in.Nonce),
		oauth2.SetAuthURLParam("ui_locales", webkit.PickLanguage(r))), http.StatusSeeOther)
}

// maxSignIns bounds the sign-ins one browser keeps in progress at a site,
// each in a cookie of its own (signInCookie): tabs left at the portal's
// login page would otherwise pile up cookies, which over HTTPS go with
// every request to the site.
const maxSignIns = 4

// againPrefix marks the state of a sign-in the callback started again
// because the browser brought back no cookie for the one before.
const againPrefix = "again."

// signInCookie names the cookie of the sign-in whose state is state. Each
// sign-in in progress has its own: with one cookie for all, two tabs that
// signed in at once (tabs restored together, or reloaded after a sign-out
// while the portal was still signed in) overwrote each other's, each
// callback found the other's state and started its sign-in again, which
// overwrote the other's once more, until the browser gave up on too many
// redirects.
func (s *Site) signInCookie(state string) string {
	return s.flowCookie() + "_" + secret.Hash(state)[:16]
}

// dropSignIns clears, before a new sign-in, the browser's cookies of
// sign-ins that cannot finish (unreadable, or from before each sign-in had
// its own cookie) and the oldest of the rest beyond maxSignIns-1, so that
// with the new one it keeps maxSignIns at most.
func (s *Site) dropSignIns(w http.ResponseWriter, r *http.Request) {
	type kept struct {
		name    string
		expires time.Time
	}
	var live []kept
	clear := func(name string) {
		http.SetCookie(w, &http.Cookie{Name: name, Path: s.flowPath(), MaxAge: -1, HttpOnly: true, Secure: s.secure()})
	}
	for _, c := range r.Cookies() {
		if c.Name == s.flowCookie() {
			clear(c.Name)
			continue
		}
		if !strings.HasPrefix(c.Name, s.flowCookie()+"_") {
			continue
		}
		in, err := s.readSignIn(c)
		if err != nil {
			clear(c.Name)
			continue
		}
		live = append(live, kept{c.Name, in.Expires})
	}
	slices.SortFunc(live, func(a, b kept) int { return a.expires.Compare(b.expires) })
	for len(live) >= maxSignIns {
		clear(live[0].name)
		live = live[1:]
	}
}

// readSignIn reads a sign-in's cookie.
func (s *Site) readSignIn(c *http.Cookie) (signin, error) {
	var in signin
	plain, err := s.Keys.Decrypt(c.Value, c.Name)
	if err == nil {
		err = json.Unmarshal([]byte(plain), &in)
	}
	return in, err
}

// What the sign-in tells the customer when it cannot go on, in plain text,
// Japanese on the first line and English on the second: these answers come
// before the site knows the page's language. A site (sites.Deps.AuthRoutes)
// shows the line of the customer's language on its own page.
const (
	msgPortalDown = "ポータルサイトに接続できません。しばらくしてからもう一度お試しください。\nThe portal cannot be reached. Please try again later."
	msgNotSigned  = "ログインできませんでした。もう一度お試しください。\nThe sign-in did not complete. Please try again."
	msgMethod     = "このページはこの方法では開けません。\nThis page cannot be opened this way."
	msgNoCookie   = "ログインできませんでした。このサイトの Cookie がブラウザに保存されていません。Cookie を有効にしてから、もう一度お試しください。\nThe sign-in did not complete: the browser did not keep this site's cookie. Please allow cookies for this site and try again."
)

// idClaims are the ID token's claims the site keeps. The ID token carries
// no personal data: the name and email are userinfo's (profile).
type idClaims struct {
	SID   string `json:"sid"`
	Nonce string `json:"nonce"`
	// AuthTime is read as go-oidc reads iat and exp: a number, or a
	// string of one.
	AuthTime json.Number `json:"auth_time"`
}

// expiry is when a session signed in at now ends: SessionTTL on, or
// sooner when the portal session it came from, signed in at authTime
// (seconds), ends (PortalSessionTTL).
func (s *Site) expiry(now time.Time, authTime int64) time.Time {
	end := now.Add(SessionTTL)
	if s.PortalSessionTTL > 0 && authTime > 0 {
		if portal := time.Unix(authTime, 0).Add(s.PortalSessionTTL); portal.Before(end) {
			end = portal
		}
	}
	return end
}

// profile is what the site keeps of the portal's userinfo answer.
type profile struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// userinfo reads the customer's name and email from the portal's userinfo
// endpoint with the access token of the sign-in whose ID token is idt. The
// answer must be about the ID token's subject (OpenID Connect Core 1.0,
// 5.3.2): one about anyone else, or none, refuses the sign-in.
func (s *Site) userinfo(ctx context.Context, p *gooidc.Provider, tok *oauth2.Token, idt *gooidc.IDToken) (profile, error) {
	var pr profile
	ui, err := p.UserInfo(s.ctx(ctx), oauth2.StaticTokenSource(tok))
	if err != nil {
		return pr, err
	}
	if ui.Subject != idt.Subject {
		return pr, fmt.Errorf("rp: userinfo is about subject %q, the ID token about %q", ui.Subject, idt.Subject)
	}
	err = ui.Claims(&pr)
	return pr, err
}

func (s *Site) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	name := s.signInCookie(state)
	var in signin
	c, err := r.Cookie(name)
	if err == nil {
		in, err = s.readSignIn(c)
	}
	switch {
	case err != nil && strings.HasPrefix(state, againPrefix):
		// The sign-in started again for want of its cookie came back
		// without one too: the browser keeps no cookie of this site,
		// and starting once more would only send it round and round
		// between the site and the portal.
		s.Log.Warn("rp: the browser brought back no sign-in cookie twice; are its cookies blocked?")
		http.Error(w, msgNoCookie, http.StatusBadRequest)
		return
	case err != nil:
		// An old or forged callback, or the browser lost the cookie:
		// start over, once.
		http.Redirect(w, r, "/auth/login?again=1&return=%2F", http.StatusSeeOther)
		return
	case s.Now().After(in.Expires) || state != in.State:
		// An old or forged callback: start over.
		http.Redirect(w, r, s.LoginURL("/"), http.StatusSeeOther)
		return
	case q.Has("iss") && q.Get("iss") != s.Issuer:
		// The answer names another issuer than the portal the sign-in
		// went to (RFC 9207 2.4): a code or an error from elsewhere,
		// which is neither exchanged nor believed. A portal too old to
		// name itself sends none, and is believed as before.
		s.Log.Warn("rp: the answer names another issuer", "iss", q.Get("iss"))
		http.Error(w, msgNotSigned, http.StatusForbidden)
		return
	case q.Get("error") != "":
		s.Log.Warn("rp: the portal refused the sign-in", "error", q.Get("error"), "description", q.Get("error_description"))
		http.Error(w, msgNotSigned, http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: name, Path: s.flowPath(), MaxAge: -1, HttpOnly: true, Secure: s.secure()})
	p, err := s.discover(ctx)
	if err != nil {
		s.Log.Error("rp: portal unreachable", "err", err)
		http.Error(w, msgPortalDown, http.StatusServiceUnavailable)
		return
	}
	tok, err := s.oauth(p).Exchange(s.ctx(ctx), q.Get("code"), oauth2.VerifierOption(in.Verifier))
	if err != nil {
		s.Log.Warn("rp: code exchange failed", "err", err)
		http.Error(w, msgNotSigned, http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&gooidc.Config{ClientID: s.ClientID, Now: s.Now}).Verify(s.ctx(ctx), raw)
	var cl idClaims
	if err == nil {
		err = idt.Claims(&cl)
	}
	if err != nil || cl.Nonce != in.Nonce {
		s.Log.Warn("rp: ID token refused", "err", err)
		http.Error(w, msgNotSigned, http.StatusBadGateway)
		return
	}
	pr, err := s.userinfo(ctx, p, tok, idt)
	if err != nil {
		s.Log.Warn("rp: userinfo refused", "err", err)
		http.Error(w, msgNotSigned, http.StatusBadGateway)
		return
	}
	now := s.Now()
	authTime, _ := cl.AuthTime.Int64()
	expires := s.expiry(now, authTime)
	if !expires.After(now) {
		s.Log.Warn("rp: the portal session of the sign-in has ended", "auth_time", cl.AuthTime)
		http.Error(w, msgNotSigned, http.StatusBadGateway)
		return
	}
	token := secret.Token(32)
	if err := s.Store.CreateSiteSession(ctx, &store.SiteSession{
		IDHash: secret.Hash(token), Site: s.Name, AccountID: idt.Subject, Name: pr.Name, Email: pr.Email,
		SID: cl.SID, IDToken: raw, CreatedAt: now, ExpiresAt: expires,
	}); err != nil {
		s.Log.Error("rp: store session", "err", err)
		http.Error(w, msgNotSigned, http.StatusInternalServerError)
		return
	}
	// The new session replaces the one the browser had here, which ends
	// rather than lives on for whoever kept its cookie.
	if old, err := r.Cookie(s.cookie()); err == nil {
		if err := s.Store.DeleteSiteSession(ctx, secret.Hash(old.Value)); err != nil {
			s.Log.Error("rp: delete the replaced session", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie(), Value: token, Path: "/", MaxAge: int(expires.Sub(now).Seconds()),
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, in.Return, http.StatusSeeOther)
}

// logout ends the site's session and sends the browser to sign out of the
// portal, which logs the other site out by back-channel, then back here.
func (s *Site) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	hint := ""
	if c, err := r.Cookie(s.cookie()); err == nil {
		if ss, err := s.Store.SiteSessionByHash(ctx, secret.Hash(c.Value), s.Now()); err == nil {
			hint = ss.IDToken
		}
		if err := s.Store.DeleteSiteSession(ctx, secret.Hash(c.Value)); err != nil {
			s.Log.Error("rp: delete session", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie(), Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure()})
	q := url.Values{"client_id": {s.ClientID}, "post_logout_redirect_uri": {s.BaseURL + "/"}, "state": {sites.SignedOut}}
	if hint != "" {
		q.Set("id_token_hint", hint)
	}
	http.Redirect(w, r, strings.TrimSuffix(s.Issuer, "/")+"/end_session?"+q.Encode(), http.StatusSeeOther)
}

// backchannel ends the sessions a logout token from the portal names
// (OpenID Connect Back-Channel Logout 1.0, 2.6).
func (s *Site) backchannel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := s.discover(ctx)
	if err != nil {
		http.Error(w, "portal unreachable", http.StatusServiceUnavailable)
		return
	}
	// go-oidc checks a logout token as the specification says: signature,
	// issuer, audience, expiry, jti, the back-channel logout event, a sub or
	// a sid, and no nonce (so an ID token cannot pass for one).
	t, err := p.Verifier(&gooidc.Config{ClientID: s.ClientID, Now: s.Now}).VerifyLogout(s.ctx(ctx), r.PostFormValue("logout_token"))
	if err != nil {
		s.Log.Warn("rp: logout token refused", "err", err)
		http.Error(w, "invalid logout token", http.StatusBadRequest)
		return
	}
	n, err := s.Store.EndSiteSessions(ctx, s.Name, t.Subject, t.SessionID)
	if err != nil {
		s.Log.Error("rp: end sessions", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.Log.Info("rp: back-channel logout", "site", s.Name, "sessions", n)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// localPath keeps only a path on this site, so a sign-in never ends on
// another site.
func localPath(p string) string { return webkit.LocalPath(p) }
