package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tobira/tobira/internal/store"
)

// roundTripFunc is an http.RoundTripper of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// retryAfter is a little more than how long a due logout token waits after
// its last try before a sweep tries it again (logoutRetryAfter).
const retryAfter = time.Minute + time.Second

// deliver runs the sweep's DeliverDueLogouts and fails the test unless it
// told and gave up as many as wanted.
func (e *portalEnv) deliver(told, gaveUp int) {
	e.t.Helper()
	gotTold, gotGaveUp, err := e.provider.DeliverDueLogouts(context.Background())
	if err != nil || gotTold != told || gotGaveUp != gaveUp {
		e.t.Errorf("DeliverDueLogouts = %d told, %d given up, %v; want %d, %d", gotTold, gotGaveUp, err, told, gaveUp)
	}
}

// A sign-out whose node never gets its logout token to the site (the
// process dies between the commit and the post; here its posts fail, as
// they would never leave a dead process) still logs the site out: another
// node's sweep, over the same database, delivers the token once the
// revoking node's tries are over, with the sid of the portal session, and
// only once.
func TestSignOutNoticeSurvivesItsNode(t *testing.T) {
	e := newPortal(t)
	dead := e.dyingNode()
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: rc.url()})
	b := e.browser()
	tok := r.login(b)
	_, c := r.verify(tok)
	e.signOut(b)
	e.postsLost(dead, rc)

	e.otherNode(rc)
	e.sweptOnce(rc, r.c.ID, c.SID)
}

// dyingNode restarts the portal as a node whose back-channel posts never
// reach a site, as those of a node that dies right after its revocations,
// and returns the count of its tries.
func (e *portalEnv) dyingNode() *atomic.Int32 {
	dead := new(atomic.Int32)
	e.postClient = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		dead.Add(1)
		return nil, errors.New("the node is gone")
	})}
	e.restart(true)
	return dead
}

// postsLost waits for the posts of a dying node (dyingNode) and checks
// that it tried and that none reached rc's site.
func (e *portalEnv) postsLost(dead *atomic.Int32, rc *receiver) {
	e.t.Helper()
	e.provider.Wait()
	if dead.Load() == 0 || len(rc.got()) != 0 {
		e.t.Fatalf("the dying node posted %d times, the site got %d; want its posts lost", dead.Load(), len(rc.got()))
	}
}

// otherNode restarts the portal as another node, whose posts reach the
// sites, and checks that its sweep tells rc's site nothing while the
// revoking node may still be trying: the site would get the token twice
// in the ordinary case.
func (e *portalEnv) otherNode(rc *receiver) {
	e.t.Helper()
	e.postClient = nil
	e.restart(false)
	e.deliver(0, 0)
	if n := len(rc.got()); n != 0 {
		e.t.Fatalf("the sweep posted %d times right after the revocation", n)
	}
}

// sweptOnce checks that a sweep, once the retry interval has passed,
// tells rc's site, clientID, of the session sid once, and the next sweep
// not again.
func (e *portalEnv) sweptOnce(rc *receiver, clientID, sid string) {
	e.t.Helper()
	e.clock.Advance(retryAfter)
	e.deliver(1, 0)
	posts := rc.got()
	if len(posts) != 1 {
		e.t.Fatalf("the site was told %d times, want once", len(posts))
	}
	e.checkLogoutToken(posts[0], clientID, sid)
	e.clock.Advance(retryAfter)
	e.deliver(0, 0)
	if n := len(rc.got()); n != 1 {
		e.t.Errorf("told again: %d posts", n)
	}
}

// A sign-out whose logout tokens the sites took is not told again by the
// sweep.
func TestDeliveredSignOutNotSweptAgain(t *testing.T) {
	e := newPortal(t)
	b, sites, rcs, toks, sids := backchannelPair(t, e)
	e.signOut(b)
	e.checkLoggedOut(sites, rcs, toks, sids)
	e.clock.Advance(retryAfter)
	e.deliver(0, 0)
	for i, rc := range rcs {
		if n := len(rc.got()); n != 1 {
			t.Errorf("%s told %d times, want once", sites[i].c.Name, n)
		}
	}
	if s := e.provider.LogoutStats(); s.Told != 2 || s.Failed != 0 || s.GaveUp != 0 {
		t.Errorf("LogoutStats = %+v, want 2 told", s)
	}
}

// A client that revokes its own refresh token ends its grant, not the
// customer's portal session: its site is sent no logout token, at once or
// by the sweep.
func TestRefreshTokenRevocationTellsNoSite(t *testing.T) {
	e := newPortal(t)
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: rc.url()})
	tok := r.login(e.browser())
	if status, body := r.post("/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Fatal("the revoked refresh token still works")
	}
	e.provider.Wait()
	e.clock.Advance(retryAfter)
	e.deliver(0, 0)
	if n := len(rc.got()); n != 0 {
		t.Errorf("the site was sent %d logout tokens for its own revocation", n)
	}
}

// A site that never takes its logout token is tried by each sweep, once,
// for a day after the sign-out, then given up on: it is not posted to
// again.
func TestLogoutNoticeGivenUp(t *testing.T) {
	e := newPortal(t)
	var calls atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(site.Close)
	r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: site.URL + "/bc"})
	b := e.browser()
	r.login(b)
	e.signOut(b)
	e.provider.Wait()
	if n := calls.Load(); n != 3 {
		t.Fatalf("the sign-out posted %d times, want 3 tries", n)
	}
	e.clock.Advance(retryAfter)
	e.deliver(0, 0)
	if n := calls.Load(); n != 4 {
		t.Errorf("after the first sweep: %d posts, want one more", n)
	}
	e.clock.Advance(12 * time.Hour)
	e.deliver(0, 0)
	e.clock.Advance(12 * time.Hour)
	e.deliver(0, 1)
	if n := calls.Load(); n != 6 {
		t.Errorf("after giving up: %d posts, want one a sweep (6)", n)
	}
	e.clock.Advance(retryAfter)
	e.deliver(0, 0)
	if n := calls.Load(); n != 6 {
		t.Errorf("posted again after giving up: %d posts", n)
	}
	// A post counts once however many attempts it made: the sign-out's
	// and three sweeps'.
	if s := e.provider.LogoutStats(); s.Told != 0 || s.Failed != 4 || s.GaveUp != 1 {
		t.Errorf("LogoutStats = %+v, want 4 failed and 1 given up", s)
	}
}

// A site that is down is posted to once a sweep, however many of its
// customers signed out meanwhile: the sweep does not wait for its timeout
// once per customer. Those not posted to stay due.
func TestDownSitePostedOnceASweep(t *testing.T) {
	e := newPortal(t)
	var calls atomic.Int32
	var up atomic.Bool
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(site.Close)
	r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: site.URL + "/bc"})
	for range 3 {
		b := e.browser()
		r.login(b)
		e.signOut(b)
	}
	e.provider.Wait()
	before := calls.Load()
	e.clock.Advance(retryAfter)
	e.deliver(0, 0)
	if n := calls.Load() - before; n != 1 {
		t.Errorf("a sweep posted %d times to a site down, want once", n)
	}
	up.Store(true)
	e.clock.Advance(retryAfter)
	e.deliver(3, 0)
}

// EndExpiredSessions reads its batches on, each after the last grant of the
// one before, and so tells every site of more ended sessions than a batch
// holds, each once, even of grants made in one instant, which only their
// ids order.
func TestEndExpiredSessionsReadsEveryBatch(t *testing.T) {
	e := newPortal(t)
	ctx := context.Background()
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: rc.url()})
	const n = 250 // two batches and a half
	at := e.clock.Now()
	for i := range n {
		if err := e.db.CreateGrant(ctx, &store.Grant{ID: fmt.Sprintf("g-%03d", i), ClientID: r.c.ID, AccountID: e.accountID,
			Scopes: []string{"openid"}, SessionHash: fmt.Sprintf("gone-%03d", i), AuthTime: at, CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := e.provider.EndExpiredSessions(ctx); err != nil || got != n {
		t.Fatalf("EndExpiredSessions = %d, %v; want %d", got, err, n)
	}
	sids := map[any]int{}
	for _, p := range rc.got() {
		_, c := decodeJWT(t, p.form.Get("logout_token"))
		sids[c["sid"]]++
	}
	if len(sids) != n {
		t.Errorf("%d sessions told, want %d", len(sids), n)
	}
	for sid, k := range sids {
		if k != 1 {
			t.Errorf("session %v told %d times", sid, k)
		}
	}
}

// A refresh token presented again after its rotation revokes its grant,
// and its site is told as at a sign-out: the revocation leaves the site due
// its logout token in the same commit, so a node that dies before its post
// (its posts fail here) leaves the notice to the sweep of another node,
// which delivers it once, with the grant's sid.
func TestRefreshReuseNoticeSurvivesItsNode(t *testing.T) {
	e := newPortal(t)
	dead := e.dyingNode()
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: rc.url()})
	tok := r.login(e.browser())
	_, c := r.verify(tok)
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := r.refresh(tok.RefreshToken); retrieveError(err) != "invalid_grant" {
		t.Fatalf("the rotated refresh token again: %v, want invalid_grant", err)
	}
	e.postsLost(dead, rc)

	e.otherNode(rc)
	e.sweptOnce(rc, r.c.ID, c.SID)
}

// An authorization code presented again after its exchange revokes the
// grant it gave, and its site is told as at a refresh token's reuse: the
// revocation leaves the site due its logout token in the same commit, so a
// node that dies before its post leaves the notice to the sweep of another
// node, which delivers it once, with the grant's sid. Replays after the
// first tell the site nothing more.
func TestCodeReplayNoticeSurvivesItsNode(t *testing.T) {
	e := newPortal(t)
	dead := e.dyingNode()
	rc := newReceiver(t)
	r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: rc.url()})
	verifier := oauth2.GenerateVerifier()
	code := r.codeFrom(e.signIn(e.browser(), r.authURL("st", verifier)), "st")
	tok := r.exchange(code, verifier)
	_, c := r.verify(tok)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect},
		"code_verifier": {verifier}}
	for i := range 2 {
		if status, body, err := r.tokenCall(form); err != nil || status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("the code again (%d): %d %v %v, want 400 invalid_grant", i+1, status, body, err)
		}
	}
	if status, _ := e.userinfo(tok.AccessToken); !refusedToken(status) {
		t.Errorf("the replayed code's access token works: %d", status)
	}
	e.postsLost(dead, rc)
	if n := dead.Load(); n != 3 {
		t.Errorf("the dying node tried %d times, want 3 (one post of three tries: the second replay posts nothing)", n)
	}

	e.otherNode(rc)
	e.sweptOnce(rc, r.c.ID, c.SID)
}

// A grant of an account locked without its grants revoked (a lock written
// by an older version, or straight into the database) is revoked when a
// refresh or a token's use finds the lock, and its site told as at a
// sign-out: a site down for the revoking node's three tries is told by the
// next sweep once it is up again, once, with the grant's sid.
func TestLockedGrantNoticeSurvivesADownSite(t *testing.T) {
	for _, tc := range []struct {
		name string
		use  func(e *portalEnv, r *rp, tok *oauth2.Token) bool // reports whether it was refused
	}{
		{"refresh", func(e *portalEnv, r *rp, tok *oauth2.Token) bool {
			_, err := r.refresh(tok.RefreshToken)
			return retrieveError(err) == "invalid_grant"
		}},
		{"userinfo", func(e *portalEnv, r *rp, tok *oauth2.Token) bool {
			status, _ := e.userinfo(tok.AccessToken)
			return refusedToken(status)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPortal(t)
			rc := newReceiver(t)
			var up atomic.Bool
			var refused atomic.Int32
			site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !up.Load() {
					refused.Add(1)
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				rc.srv.Config.Handler.ServeHTTP(w, r)
			}))
			t.Cleanup(site.Close)
			r := e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}, BackchannelLogoutURI: site.URL + "/bc"})
			tok := r.login(e.browser())
			_, c := r.verify(tok)
			if err := e.db.LockAccount(t.Context(), &store.AccountLock{AccountID: e.accountID, LockedBy: "operator:test", At: e.clock.Now()}); err != nil {
				t.Fatal(err)
			}
			if !tc.use(e, r, tok) {
				t.Fatalf("%s of a locked account's grant was not refused", tc.name)
			}
			e.provider.Wait()
			if n := refused.Load(); n != 3 {
				t.Fatalf("the revoking node posted %d times, want 3 tries", n)
			}

			up.Store(true)
			e.sweptOnce(rc, r.c.ID, c.SID)
		})
	}
}
