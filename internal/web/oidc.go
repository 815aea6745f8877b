package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tobira/tobira/internal/oidc"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/webkit"
)

// oidcLogin signs an authorization request in: with the browser's portal
// session when it satisfies the request (no prompt=login, within max_age),
// otherwise through the sign-in, which comes back here.
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	req, ok := s.authRequest(w, r, id)
	if !ok {
		return
	}
	// Only the browser that started the request may sign it in: another
	// (a customer lured to the link of an attacker's request, which their
	// session would sign in at once) is told to start again from the site,
	// and nothing changes.
	//
	// A silent request (prompt=none) shows no page: OpenID Connect Core
	// 1.0 (3.1.2.1) answers one that cannot go on without the customer
	// with an error to the client, here login_required, as this browser
	// has no sign-in the request may use. The browser that started a
	// silent request comes here at once, so one without its binding is
	// a site's hidden frame whose portal cookies the browser withholds (a
	// third-party frame; the session's cookie, SameSite=Lax too, is then
	// missing as well, and the answer was login_required already), or
	// another browser sent the link: the client hears the answer rather
	// than waiting on a page, and its state says which request it was.
	if !req.From(s.browserBinding(r)) {
		if req.Silent {
			if s.oidc.NeedsLogin(w, r, id) {
				s.closed(r)
			}
			return
		}
		s.otherBrowser(w, r, req)
		return
	}
	if lang := webkit.Spoken(req.UILocales); lang != "" {
		r = s.speak(w, r, lang)
	}
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	here := oidc.LoginPath + "?id=" + url.QueryEscape(id)
	// A request whose id_token_hint names another account than the
	// browser's is not signed in with it; and one signed in for the
	// request as another account is refused, as OpenID Connect Core 1.0
	// (3.1.2.1) asks, rather than signing the client's customer in as
	// someone else.
	other := si != nil && req.Hinted != "" && si.Account.ID != req.Hinted
	if other && !si.Session.CreatedAt.Before(req.CreatedAt) {
		if s.oidc.NeedsLogin(w, r, id) {
			s.closed(r)
		}
		return
	}
	if si == nil || other || !req.Satisfied(si.Session.CreatedAt, s.svc.Now()) || !s.hasFactor(r.Context(), si.Account.ID) {
		if req.Silent {
			if s.oidc.NeedsLogin(w, r, id) {
				s.closed(r)
			}
			return
		}
		// A browser signed in asks for a fresh sign-in, which replaces
		// the session, so the request is then satisfied and this does not
		// loop. One signed out asks for a sign-in only: signed in by the
		// time it shows the page again (in another tab, then the back
		// button), the page goes on with the request, where a fresh one
		// asked for the password again.
		target := loginPath(here, si != nil, req.LoginHint)
		// One whose session ended (it expired, or another device signed
		// it out) is told so, as on the portal's own pages (toSignIn),
		// whether or not the site asked for a fresh sign-in.
		if si == nil && s.forgetEndedSession(w, r) {
			target += "&e=ended"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	// A site that asks the customer to choose the account
	// (prompt=select_account) has them confirm the one this browser
	// signed in with before the request, or sign in with another. One
	// signed in since the request began chose it then.
	if req.SelectAccount && si.Session.CreatedAt.Before(req.CreatedAt) {
		s.showSelectAccount(w, r, req, si, false)
		return
	}
	s.proceed(w, r, req, si)
}

// authRequest reads the authorization request id for a page of its
// sign-in; an expired or unknown one is told so (oidc.expired). False when
// r is answered.
func (s *Server) authRequest(w http.ResponseWriter, r *http.Request, id string) (*oidc.Request, bool) {
	req, err := s.oidc.AuthRequest(r.Context(), id)
	if errors.Is(err, oidc.ErrNoRequest) {
		s.fail(w, r, http.StatusBadRequest, "oidc.expired")
		return nil, false
	}
	if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	return req, true
}

// boundRequest is authRequest for a step that only the browser that
// started the request may take: another is told to start again from the
// site (otherBrowser), and nothing changes.
func (s *Server) boundRequest(w http.ResponseWriter, r *http.Request, id string) (*oidc.Request, bool) {
	req, ok := s.authRequest(w, r, id)
	if ok && !req.From(s.browserBinding(r)) {
		s.otherBrowser(w, r, req)
		return nil, false
	}
	return req, ok
}

// proceed signs the request in with the browser's session si, which
// satisfies it, once the customer's consent is known: asked for on its
// page when missing (a silent request's client hears consent_required).
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, req *oidc.Request, si *portal.SignedIn) {
	id := req.ID
	ok, err := s.oidc.Consented(r.Context(), req, si.Account.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !ok && req.Silent {
		if s.oidc.NeedsConsent(w, r, id) {
			s.closed(r)
		}
		return
	}
	if !ok {
		s.showConsent(w, r, req, si)
		return
	}
	s.completeRequest(w, r, id, si)
}

// The account chooser of prompt=select_account: selectPath takes the
// customer's 「続ける」, switchPath asks before 「別のアカウントでログイン」
// signs this browser out.
const (
	selectPath = "/oidc/select"
	switchPath = "/oidc/switch"
)

type selectAccountData struct {
	ID, Client string
	// Switch is the confirmation of 「別のアカウントでログイン」: signed
	// out, the browser goes to Then, the request's sign-in.
	Switch bool
	Then   string
}

// showSelectAccount asks 「このアカウントで続けますか？」 with the account
// the browser is signed in as (or, with switching, confirms the sign-out
// that signs in with another).
func (s *Server) showSelectAccount(w http.ResponseWriter, r *http.Request, req *oidc.Request, si *portal.SignedIn, switching bool) {
	title := "select.title"
	if switching {
		title = "select.switch_title"
	}
	name, _ := s.siteBack(r, req)
	if name == "" {
		name = req.ClientName
	}
	v := s.view(r, title)
	v.User = si.Account
	v.Data = selectAccountData{ID: req.ID, Client: name, Switch: switching, Then: oidc.LoginPath + "?id=" + url.QueryEscape(req.ID)}
	s.render(w, r, http.StatusOK, "select_account", v)
}

// selectAccount is 「続ける」 on the account chooser: the request goes on
// with the browser's session, to the consent if one is due. The form names
// the account it showed: a browser signed in as another since (in another
// tab) is asked again, about that one.
func (s *Server) selectAccount(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	id := r.PostForm.Get("id")
	here := oidc.LoginPath + "?id=" + url.QueryEscape(id)
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if si == nil {
		// Signed out since the page was shown: the sign-in comes back
		// to the request.
		s.toSignIn(w, r, here)
		return
	}
	req, ok := s.boundRequest(w, r, id)
	if !ok {
		return
	}
	if r.PostForm.Get("account") != si.Account.ID || !s.mayComplete(r.Context(), req, si) {
		http.Redirect(w, r, here, http.StatusSeeOther)
		return
	}
	s.proceed(w, r, req, si)
}

// switchAccount asks before 「別のアカウントでログイン」 signs the browser
// out (of the portal, and of the sites signed in through it): its form
// posts to /logout, which then goes to the request's sign-in. Shown only,
// it changes nothing. Signed out already, the browser goes to the sign-in.
func (s *Server) switchAccount(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	req, ok := s.boundRequest(w, r, id)
	if !ok {
		return
	}
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if si == nil {
		http.Redirect(w, r, oidc.LoginPath+"?id="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	s.showSelectAccount(w, r, req, si, true)
}

// speak makes the portal's pages speak lang, the language a client asked
// for (ui_locales), for the rest of the browser's session unless the
// customer chose one; from this request on, as a page may answer it.
func (s *Server) speak(w http.ResponseWriter, r *http.Request, lang string) *http.Request {
	c := webkit.UILanguageCookie(lang, s.secure)
	http.SetCookie(w, c)
	r = r.Clone(r.Context())
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, old := range cookies {
		if old.Name != c.Name {
			r.AddCookie(old)
		}
	}
	r.AddCookie(&http.Cookie{Name: c.Name, Value: lang})
	return r
}

// authorize is the provider's authorization endpoint. A request it cannot
// send back to its client (no or an unknown client_id, a redirect_uri the
// client did not register, a request it cannot parse) it answers itself,
// in the library's English plain text; the customer gets the page that
// says, in their language, that the site's request is wrong. Errors it can
// send back go to the client as OAuth says, untouched.
//
// The browser gets a random binding value in a cookie, or keeps the one it
// has, which every request it starts (in every tab) is stored with, as a
// hash: the sign-in pages, the consent and the callback go on with a
// request only in a browser with the value (oidc.Request.From). The cookie
// lasts as long as a request does, from the last one started.
//
// A request posted without the cookie goes on by GET, with its parameters
// in the query: a browser withholds a SameSite=Lax cookie from a
// cross-site POST (a site's form) though it has one, but keeps one the
// answer sets, so a new value there would leave the requests of the
// browser's other tabs bound to a value it no longer has (and any page
// could so spoil a customer's sign-in in progress). The GET of the
// redirect, a top-level navigation, carries the cookie.
//
// Every request stored is counted against its address's open requests
// (portal.Service.StartAuthorization) until it is signed in or answered:
// over the limit the customer is told to wait, and nothing is stored.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	browser := s.browserBinding(r)
	if browser == "" && r.Method == http.MethodPost && r.ParseForm() == nil {
		http.Redirect(w, r, "/authorize?"+r.Form.Encode(), http.StatusSeeOther)
		return
	}
	var locked *portal.LockedError
	if err := s.svc.StartAuthorization(r.Context(), client(r)); errors.As(err, &locked) {
		// In the language the site asked for (ui_locales), as its
		// sign-in pages would have been: the site's customer may read
		// another than their browser's, which the portal on another
		// host has no cookie of.
		if lang := webkit.Spoken(strings.Fields(r.FormValue("ui_locales"))); lang != "" {
			r = s.speak(w, r, lang)
		}
		w.Header().Set("Retry-After", seconds(locked.Until.Sub(s.svc.Now())))
		v := s.view(r, errorTitle(http.StatusTooManyRequests, "oidc.throttled"))
		v.Error = s.t(r, "oidc.throttled", formatTime(webkit.PickLanguage(r), locked.Until))
		s.render(w, r, http.StatusTooManyRequests, "message", v)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	if browser == "" {
		browser = secret.Token(32)
	}
	s.setCookie(w, s.cookieName(browserCookie), browser, int(s.oidc.RequestTTL().Seconds()))
	r = r.WithContext(oidc.WithBrowser(r.Context(), browser))
	s.oidc.ServeHTTP(&replacedError{ResponseWriter: w, replace: s.errorPage(r, "oidc.bad_request", false)}, r)
	// The provider stored the request only when it sends the browser on
	// to sign it in; any other answer (a refusal, sent to the client or
	// shown) stored nothing.
	if !strings.HasPrefix(w.Header().Get("Location"), oidc.LoginPath+"?") {
		s.closed(r)
	}
}

// only serves h for the methods allow and answers any other with 405 and
// Allow, as any page's other method is answered, changing nothing. The
// provider's pages that act for a browser create or end state even when
// asked with GET: /authorize stores a request, /oidc/login signs it in or
// ends it, /authorize/callback issues a code, /end_session signs out. A
// HEAD, which the mux routes to a GET pattern, and which link checkers,
// prefetchers and monitors send freely, got the same, and so did an
// OPTIONS or a PUT of /authorize, served for every method. A HEAD cannot
// be answered as the GET would be without that state (the GET's redirect
// names the request it stored), so it is refused.
func (s *Server) only(h http.HandlerFunc, allow ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(allow, r.Method) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, http.StatusMethodNotAllowed, "error.method")
			return
		}
		h(w, r)
	}
}

// headless are the pages routed as GET that refuse HEAD (Server.only):
// another method's 405 does not name HEAD among their methods.
var headless = []string{"/end_session", oidc.LoginPath}

// closed gives back the count of an authorization request of the
// browser's address (Server.authorize) that is no longer open: signed in,
// or answered.
func (s *Server) closed(r *http.Request) { s.svc.EndAuthorization(r.Context(), client(r)) }

// browserBinding is the browser's binding value of authorization
// requests (Server.authorize); empty without one.
func (s *Server) browserBinding(r *http.Request) string {
	c, err := r.Cookie(s.cookieName(browserCookie))
	if err != nil {
		return ""
	}
	return c.Value
}

// otherBrowser answers a request's page in a browser that did not start
// it: another one, or the one whose cookies were deleted since. The page
// says so and sends the customer back to the site, to start again there.
func (s *Server) otherBrowser(w http.ResponseWriter, r *http.Request, req *oidc.Request) {
	v := s.view(r, errorTitle(http.StatusBadRequest, "oidc.unbound"))
	v.Error = s.t(r, "oidc.unbound")
	if si, err := s.signedIn(r); err == nil && si != nil {
		v.User = si.Account
	}
	if name, u := s.siteBack(r, req); u != "" {
		v.Back = &backLink{URL: u, Label: s.t(r, "oidc.back_to_site", name)}
	}
	s.render(w, r, http.StatusBadRequest, "message", v)
}

// siteBack names the request's site and where to go back to it: a site
// マイページ lists on the same origin as the client's redirect URI, by its
// name in the page's language and its top page, or else the client's name
// and that origin's top; no URL when the redirect URI is not on the web.
func (s *Server) siteBack(r *http.Request, req *oidc.Request) (name, u string) {
	if req.Site == "" {
		return "", ""
	}
	for _, l := range s.svc.Config.SiteLinks {
		p, err := url.Parse(l.URL)
		if err != nil || p.Scheme+"://"+p.Host+"/" != req.Site {
			continue
		}
		name = l.Name
		if webkit.PickLanguage(r) == "en" && l.NameEn != "" {
			name = l.NameEn
		}
		return name, l.URL
	}
	return req.ClientName, req.Site
}

// authorizeCallback is where a signed-in request goes back to the provider,
// which issues the code. A request that is gone (the browser went back, or
// reloaded, after the code was issued; or it expired) gets the page that
// says so in the customer's language, where the library answered with its
// own text.
func (s *Server) authorizeCallback(w http.ResponseWriter, r *http.Request) {
	// The id is the form's, where a POST's body comes before the query;
	// the request read with it is the one checked here and answered
	// (Provider.Callback), so no other read can name another.
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	req, ok := s.boundRequest(w, r, r.Form.Get("id"))
	if !ok {
		return
	}
	// The code goes only to a browser of the session that signed the
	// request in. Another browser with the request's id (an attacker who
	// started the request, with its state and PKCE verifier, and had a
	// signed-in customer open its sign-in page, which signs it in at once)
	// would otherwise take the customer's code to the site. Since the
	// request is bound to its browser, the one that meets this is mostly
	// that browser after a sign-out, or a sign-in as someone else, in
	// another tab; the page says so.
	if req.SID != "" {
		si, err := s.signedIn(r)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if si == nil || si.Session.SID != req.SID {
			s.fail(w, r, http.StatusBadRequest, "oidc.other_browser")
			return
		}
	}
	// The code is issued for the request read and checked here, not for
	// one read again. The first code ends the request's count as an open
	// one, as does the answer to a request not signed in yet, which ends
	// it; the browser going back to the callback gives back nothing more.
	if s.oidc.Callback(w, r, req) {
		s.closed(r)
	}
}

// completeRequest signs the request in with the browser's session and sends
// the browser back to the provider.
func (s *Server) completeRequest(w http.ResponseWriter, r *http.Request, id string, si *portal.SignedIn) {
	back, err := s.oidc.Complete(r.Context(), id, si.Session)
	if errors.Is(err, oidc.ErrNoRequest) {
		s.fail(w, r, http.StatusBadRequest, "oidc.expired")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

type consentData struct {
	ID, Client string
	Scopes     []string // message keys
}

// showConsent asks whether a third-party client may read what it asks for.
func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, req *oidc.Request, si *portal.SignedIn) {
	d := consentData{ID: req.ID, Client: req.ClientName}
	for _, sc := range req.Scopes {
		d.Scopes = append(d.Scopes, "consent.scope."+sc)
	}
	v := s.view(r, "consent.title")
	v.User, v.Data = si.Account, d
	s.render(w, r, http.StatusOK, "consent", v)
}

// consent is the answer to the consent page: allowed, the request is signed
// in (and remembered); declined, the client hears access_denied.
func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r) {
		return
	}
	id := r.PostForm.Get("id")
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if si == nil {
		// Signed out since the page was shown (in another tab, say): the
		// sign-in comes back to the request, which asks again, not to
		// this form's address, which has no page to come back to.
		s.toSignIn(w, r, oidc.LoginPath+"?id="+url.QueryEscape(id))
		return
	}
	// Neither answer counts from a browser that did not start the
	// request, to which the form was never shown.
	req, ok := s.boundRequest(w, r, id)
	if !ok {
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		if s.oidc.Deny(w, r, id) {
			s.closed(r)
		}
		return
	}
	// The answer signs in only what the sign-in page would have asked
	// consent for: a form posted without it (prompt=login or max_age
	// unmet, an id_token_hint of another account, no second factor) goes
	// to the sign-in page, which asks for what is missing.
	if !s.mayComplete(r.Context(), req, si) {
		http.Redirect(w, r, oidc.LoginPath+"?id="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	if err := s.oidc.Consent(r.Context(), req, si.Account.ID); err != nil {
		s.internal(w, r, err)
		return
	}
	s.completeRequest(w, r, id, si)
}

// mayComplete reports whether the signed-in browser si may sign req in as
// it is, as oidcLogin checks before it asks consent.
func (s *Server) mayComplete(ctx context.Context, req *oidc.Request, si *portal.SignedIn) bool {
	return (req.Hinted == "" || req.Hinted == si.Account.ID) &&
		req.Satisfied(si.Session.CreatedAt, s.svc.Now()) && s.hasFactor(ctx, si.Account.ID)
}

// endSession is RP-initiated logout. A request whose id_token_hint names
// the browser's portal session (what the customer sites send) ends it at
// once, and with it the sites' sessions by back-channel, before the
// provider sends the browser back to the site. Without such a hint any
// page could sign the customer out, so the portal asks first
// (RP-Initiated Logout 1.0, 2): the confirmation posts to /logout, a
// same-origin form, which then comes back here signed out. A request the
// provider refuses ends nothing.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	// A request that cannot be parsed (a malformed escape, a body over the
	// limit) is the site's error, answered here: the library answered 500,
	// or with a session went on with what it had parsed, to a redirect
	// that said 「ログアウトしました」 with nothing ended.
	if status, key := webkit.ParseForm(r); status != 0 {
		if status == http.StatusBadRequest {
			key = "oidc.bad_logout"
		}
		s.fail(w, r, status, key)
		return
	}
	// The confirmation and the refusals in the language the site asked
	// for, as its sign-in's pages were.
	if lang := webkit.Spoken(strings.Fields(r.Form.Get("ui_locales"))); lang != "" {
		r = s.speak(w, r, lang)
	}
	si, err := s.signedIn(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if si == nil {
		// No portal cookie came (cleared, or the browser withheld it): a
		// valid hint still names the session the site's sign-in came
		// from, which ends, so that the site's 「ログアウトしました」 is
		// true of the portal and the other sites too. A refused request
		// ends nothing: the provider answers it below.
		if account, names, ok, err := s.oidc.LogoutHint(r); err == nil && ok {
			if _, err := s.svc.SignOutHinted(r.Context(), account, names, client(r)); err != nil {
				s.internal(w, r, err)
				return
			}
		}
	}
	if si != nil {
		ours, err := s.oidc.LogoutNames(r, si.Session)
		switch {
		case err != nil:
			// The provider answers with its error.
		case !ours:
			s.confirmSignOut(w, r, si)
			return
		default:
			if err := s.svc.SignOut(r.Context(), si, client(r)); err != nil {
				s.internal(w, r, err)
				return
			}
			s.setCookie(w, s.cookieName(sessionCookie), "", -1)
		}
	}
	// A browser follows this redirect: a refusal is a page, not JSON. The
	// library answers an unknown client_id with invalid_client's 401,
	// which asks for credentials this request has none of: it is a
	// request that is wrong, 400.
	page := s.errorPage(r, "oidc.bad_logout", true)
	s.oidc.ServeHTTP(&replacedError{ResponseWriter: w, replace: func(w http.ResponseWriter, code int, ct string) bool {
		if code == http.StatusUnauthorized {
			code = http.StatusBadRequest
		}
		return page(w, code, ct)
	}}, r)
}

// endSessionParams are the parameters of RP-initiated logout that the
// confirmation carries back to /end_session.
var endSessionParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"}

type signOutData struct {
	// Then is /end_session with the request's parameters: where the
	// browser goes once signed out.
	Then string
}

// confirmSignOut asks 「ログアウトしますか?」 before an end_session request
// that does not name this session signs the customer out.
func (s *Server) confirmSignOut(w http.ResponseWriter, r *http.Request, si *portal.SignedIn) {
	q := url.Values{}
	// r.Form is parsed: LogoutNames read the request.
	for _, k := range endSessionParams {
		if v := r.Form.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	then := "/end_session"
	if len(q) > 0 {
		then += "?" + q.Encode()
	}
	v := s.view(r, "signout.title")
	v.User, v.Data = si.Account, signOutData{Then: then}
	s.render(w, r, http.StatusOK, "signout", v)
}

// noStore keeps the answers of h out of every cache: tokens and what they
// give access to (RFC 6749 5.1 asks it of the token endpoint; the library
// sets neither header).
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// basicChallenge adds to h's 401 answers, for a client that authenticated
// with HTTP Basic, the WWW-Authenticate header RFC 6749 5.2 requires, which
// the library leaves out.
func basicChallenge(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&replacedError{ResponseWriter: w, replace: func(w http.ResponseWriter, code int, _ string) bool {
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="tobira", charset="UTF-8"`)
			}
			return false
		}}, r)
	})
}

// oauthErrors makes h's error answers OAuth's JSON (RFC 6749 5.2) where it
// writes them as plain text: the library does so for a failed client
// authentication at the introspection endpoint ("ErrorType=invalid_client
// Parent=..."), which a resource server cannot parse.
func oauthErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&replacedError{ResponseWriter: w, replace: func(w http.ResponseWriter, code int, ct string) bool {
			if strings.HasPrefix(ct, "application/json") {
				return false
			}
			kind := "invalid_request"
			if code == http.StatusUnauthorized {
				kind = "invalid_client"
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			w.Write([]byte(`{"error":"` + kind + `"}` + "\n"))
			return true
		}}, r)
	})
}

// errorPage answers, for replacedError, an error in plain text (or in
// JSON too, with json) with the portal's page that says key.
func (s *Server) errorPage(r *http.Request, key string, json bool) func(w http.ResponseWriter, code int, ct string) bool {
	return func(w http.ResponseWriter, code int, ct string) bool {
		if !strings.HasPrefix(ct, "text/plain") && !(json && strings.HasPrefix(ct, "application/json")) {
			return false
		}
		w.Header().Del("Content-Type")
		s.fail(w, r, code, key)
		return true
	}
}

// replacedError passes the library's answer through, but for an error
// that replace answers itself (given the status and the Content-Type the
// library set), whose body the library writes next is then dropped.
type replacedError struct {
	http.ResponseWriter
	replace  func(w http.ResponseWriter, code int, ct string) bool
	replaced bool
}

func (w *replacedError) WriteHeader(code int) {
	if code >= 400 {
		ct := w.Header().Get("Content-Type")
		w.Header().Del("Content-Length")
		if w.replace(w.ResponseWriter, code, ct) {
			w.replaced = true
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *replacedError) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // the library's own, which the answer replaced
	}
	return w.ResponseWriter.Write(b)
}

// userinfo is a protected resource as RFC 6750 describes: the access token
// in the Authorization header or, in a POST, the form body (2.1, 2.2); not in
// the URL, where proxies' logs and Referer headers keep it (2.3: SHOULD NOT),
// and not in two places at once (2). A refusal is 401 with WWW-Authenticate
// (3.1): error="invalid_token" for a token that is unreadable, expired or
// revoked, where the library answered 403, or a plain-text 401 without the
// header; no error code when the request carried none.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	if hasParam(r.URL.Query(), "access_token") {
		bearerError(w, http.StatusBadRequest, "invalid_request", "the access token must not be sent in the URL")
		return
	}
	inHeader, inBody := r.Header.Get("Authorization") != "", false
	if err := r.ParseForm(); err == nil {
		inBody = hasParam(r.PostForm, "access_token")
	}
	if inHeader && inBody {
		bearerError(w, http.StatusBadRequest, "invalid_request", "the access token was sent in more than one way")
		return
	}
	s.oidc.ServeHTTP(&replacedError{ResponseWriter: w, replace: func(w http.ResponseWriter, code int, _ string) bool {
		if code != http.StatusUnauthorized && code != http.StatusForbidden {
			return false
		}
		if !inHeader && !inBody {
			bearerError(w, http.StatusUnauthorized, "", "an access token is required")
		} else {
			bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid or expired")
		}
		return true
	}}, r)
}

// hasParam reports whether v has the parameter name in any case: the
// library reads its parameters so (access_token as Access_Token).
func hasParam(v url.Values, name string) bool {
	for k := range v {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// bearerError answers a request to a protected resource with status, the
// WWW-Authenticate header of RFC 6750 3 (with code, when not empty) and
// OAuth's JSON error body.
func bearerError(w http.ResponseWriter, status int, code, description string) {
	challenge := "Bearer"
	if code != "" {
		challenge += ` error="` + code + `", error_description="` + description + `"`
	}
	body := map[string]string{"error": code, "error_description": description}
	if code == "" {
		body["error"] = "invalid_token"
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// hasFactor reports whether the account has a second factor. One whose
// factors were reset signs in again, through enrolment, before a site gets
// a sign-in from its session (manual IX).
func (s *Server) hasFactor(ctx context.Context, accountID string) bool {
	ms, err := s.svc.Methods(ctx, accountID)
	return err == nil && (slices.Contains(ms, portal.MethodTOTP) || slices.Contains(ms, portal.MethodPhone))
}

// originCache keeps the origins of the clients' redirect URIs for the
// pages' form-action: a browser applies form-action to every redirect after
// a form, and a sign-in form's last redirect goes to the client, as does
// the confirmed sign-out's (to its post-logout redirect URI).
type originCache struct {
	mu      sync.Mutex
	value   string
	origins []string // sorted
	fetched time.Time
	// missAt is when a request last named an origin the cache lacked and
	// had the clients read again for it.
	missAt time.Time
}

// Origins are read again every originsFor, and at most every originMissFor
// for a request to /authorize or /end_session that names an origin they
// lack: a client registered or changed since, by another process (tobira
// clients) or node, gets its forms' redirects at once, while requests
// naming origins no client has cannot make every request read the store.
const (
	originsFor    = 30 * time.Second
	originMissFor = time.Second
)

// clientOrigins returns " origin1 origin2 ..." of every registered client's
// redirect and post-logout redirect URIs, for the form-action of r.
func (s *Server) clientOrigins(r *http.Request) string {
	if s.oidc == nil {
		return ""
	}
	want := formTarget(r)
	c := &s.origins
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.svc.Now()
	stale := now.Sub(c.fetched) > originsFor
	if !stale && want != "" && !slices.Contains(c.origins, want) && now.Sub(c.missAt) >= originMissFor {
		stale, c.missAt = true, now
	}
	if stale {
		list, err := s.svc.Store.ListClients(r.Context())
		if err != nil {
			s.log.Warn("form-action: clients", "err", err)
			return c.value
		}
		var origins []string
		for _, cl := range list {
			for _, u := range append(slices.Clone(cl.RedirectURIs), cl.PostLogoutRedirectURIs...) {
				if p, err := url.Parse(u); err == nil && p.Host != "" && !strings.ContainsAny(u, " ;'") {
					origins = append(origins, p.Scheme+"://"+p.Host)
				}
			}
		}
		slices.Sort(origins)
		origins = slices.Compact(origins)
		c.value, c.origins, c.fetched = "", origins, now
		if len(origins) > 0 {
			c.value = " " + strings.Join(origins, " ")
		}
	}
	return c.value
}

// formTarget is the origin a request to /authorize or /end_session names
// for the site its pages' forms lead back to (redirect_uri,
// post_logout_redirect_uri in the query), unchecked: only whether a
// registered client has it lets it into form-action. Empty for other
// requests.
func formTarget(r *http.Request) string {
	var name string
	switch r.URL.Path {
	case "/authorize":
		name = "redirect_uri"
	case "/end_session":
		name = "post_logout_redirect_uri"
	default:
		return ""
	}
	u, err := url.Parse(r.URL.Query().Get(name))
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
