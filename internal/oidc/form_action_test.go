package oidc_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// clientLister counts the reads of every client, which the pages'
// form-action is made of.
type clientLister struct {
	store.Store
	n *atomic.Int64
}

func (c clientLister) ListClients(ctx context.Context) ([]store.Client, error) {
	c.n.Add(1)
	return c.Store.ListClients(ctx)
}

// formAction is the form-action of the portal's answer to GET u.
func (e *portalEnv) formAction(u string) string {
	e.t.Helper()
	res, err := noFollow(e.browser()).Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	for d := range strings.SplitSeq(res.Header.Get("Content-Security-Policy"), ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "form-action ") {
			return d + " "
		}
	}
	e.t.Fatalf("GET %s: no form-action in %q", u, res.Header.Get("Content-Security-Policy"))
	return ""
}

// A site registered while the portal runs (by tobira clients, another
// process, or on another node) gets its first sign-in's forms redirected
// to it: the request that names its redirect URI reads the clients again,
// however recently they were read. Requests naming origins no client has
// read them at most once a second.
func TestFormActionFollowsANewClient(t *testing.T) {
	// The clock stands still: the clients are read every 30 seconds only
	// when the test says so.
	e := newPortalWith(t, portalOptions{Frozen: true})
	e.newRP(&store.Client{Name: "shop", RedirectURIs: []string{"http://127.0.0.1:9/shop"}})
	if fa := e.formAction(e.srv.URL + "/login"); !strings.Contains(fa, " http://127.0.0.1:9 ") {
		t.Fatalf("form-action %q lacks the registered site", fa)
	}

	late := e.newRP(&store.Client{Name: "support", RedirectURIs: []string{"http://127.0.0.2:7/cb"}})
	if fa := e.formAction(e.srv.URL + "/login"); strings.Contains(fa, "127.0.0.2") {
		t.Fatalf("form-action %q: the clients were read again before 30 seconds without a request naming the new site", fa)
	}
	if fa := e.formAction(late.authURL("s1", strings.Repeat("v", 43))); !strings.Contains(fa, " http://127.0.0.2:7 ") {
		t.Errorf("/authorize for a site registered since the last read: form-action %q lacks it", fa)
	}
	if fa := e.formAction(e.srv.URL + "/login"); !strings.Contains(fa, " http://127.0.0.2:7 ") {
		t.Errorf("the sign-in page after it: form-action %q lacks the new site", fa)
	}

	var reads atomic.Int64
	e.svc.Store = clientLister{Store: e.svc.Store, n: &reads}
	e.clock.Advance(time.Second)
	for i := range 5 {
		u := e.srv.URL + "/authorize?client_id=nobody&redirect_uri=http%3A%2F%2Fevil" + string(rune('a'+i)) + ".example%2Fcb"
		e.formAction(u)
		e.formAction(e.srv.URL + "/end_session?post_logout_redirect_uri=http%3A%2F%2Fevil.example%2Fx" + string(rune('a'+i)))
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("10 requests naming unknown origins within a second read the clients %d times, want 1", n)
	}
	e.clock.Advance(time.Second)
	e.formAction(e.srv.URL + "/authorize?client_id=nobody&redirect_uri=http%3A%2F%2Fevil.example%2Fcb")
	if n := reads.Load(); n != 2 {
		t.Errorf("a second later: %d reads, want 2", n)
	}
	// Known origins read nothing.
	e.formAction(late.authURL("s2", strings.Repeat("w", 43)))
	if n := reads.Load(); n != 2 {
		t.Errorf("a request naming a known site: %d reads, want still 2", n)
	}
}
