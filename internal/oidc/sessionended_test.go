package oidc_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// sessionEndedMsg is what the login page says to a browser whose portal
// session has ended (web: login.session_ended).
const sessionEndedMsg = "ログインが終了しています。有効期限が切れたか、ほかの端末での操作でログアウトされました。"

// TestSiteSignInSaysTheSessionEnded: a site's authorization request,
// with prompt=login or without, that comes after the browser's portal
// session ended (it expired; or another device signed it out) shows the
// login page with 「ログインが終了しています」, as the portal's own pages
// do, and drops the cookie that names no session; the sign-in then goes
// back to the site. A browser that never signed in is not told so.
//
// Regression: the request's sign-in page said nothing, where /security
// in the same browser said the session had ended.
func TestSiteSignInSaysTheSessionEnded(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []oauth2.AuthCodeOption
		end  func(e *portalEnv)
	}{
		{"expired, prompt=login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, expireSession},
		{"expired", nil, expireSession},
		{"signed out elsewhere, prompt=login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, endSessions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPortal(t)
			a, b := newSite(e, "a"), newSite(e, "b")
			br := e.browser()
			a.login(br)
			tc.end(e)

			verifier := oauth2.GenerateVerifier()
			back, visited := e.follow(br, b.authURL("again", verifier, tc.opts...))
			if back != nil {
				t.Fatalf("an ended session was sent back to the site: %s (visited %v)", back, visited)
			}
			last, _ := url.Parse(visited[len(visited)-1])
			if last.Path != "/login" || last.Query().Get("e") != "ended" || !strings.HasPrefix(last.Query().Get("next"), "/oidc/login?id=") {
				t.Fatalf("the request led to %s, want the login page that says the session ended (visited %v)", last, visited)
			}
			_, body := e.get(br, e.srv.URL+last.RequestURI())
			if !strings.Contains(body, sessionEndedMsg) {
				t.Errorf("the login page does not say the session ended:\n%s", body)
			}
			// Said once: the cookie of the ended session is gone.
			if again, v := e.follow(br, b.authURL("third", oauth2.GenerateVerifier(), tc.opts...)); again != nil || strings.Contains(v[len(v)-1], "e=ended") {
				t.Errorf("the next request: sent to %v, visited %v; want the login page, without the message", again, v)
			}

			// The sign-in from there goes back to the site.
			back, at := e.trySignIn(br, b.authURL("fourth", verifier, tc.opts...))
			if back == nil {
				t.Fatalf("after signing in the browser is at %s, not back at the site", at)
			}
			b.codeFrom(back, "fourth")
		})
	}

	// Never signed in: the login page, without the message.
	e := newPortal(t)
	b := newSite(e, "b")
	for _, opts := range [][]oauth2.AuthCodeOption{nil, {oauth2.SetAuthURLParam("prompt", "login")}} {
		_, visited := e.follow(newJarBrowser(), b.authURL("new", oauth2.GenerateVerifier(), opts...))
		last, _ := url.Parse(visited[len(visited)-1])
		if last.Path != "/login" || last.Query().Get("e") != "" {
			t.Errorf("a browser that never signed in was sent to %s", last)
		}
	}
}

// expireSession moves the clock past the session's life.
func expireSession(e *portalEnv) {
	e.clock.Advance(e.cfg.SessionTTL.Duration + time.Minute)
}

// endSessions signs the customer out everywhere, as another device's
// 「ほかの端末をすべてログアウト」 or an operator would.
func endSessions(e *portalEnv) {
	if err := e.db.DeleteSessionsOf(e.t.Context(), e.accountID, ""); err != nil {
		e.t.Fatal(err)
	}
}
