package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/store"
)

// TestWithdrawAfterSignInEndedReturnsToCustomer: a reset's withdrawal sent
// from the customer's page after the sign-in ended is not acted on, and the
// sign-in returns to that customer's page, with the search it was opened
// from, where it returned to the resets page (the withdrawal's path,
// /resets/ID/withdraw, tells no customer's page). A from field naming no
// customer's page is not followed.
func TestWithdrawAfterSignInEndedReturnsToCustomer(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	a := s.customerWithFactor("yamada@example.jp")
	kim := s.signIn("kim@tobira.example", seed)
	if resp, _ := kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "端末の紛失"); resp.StatusCode != http.StatusOK {
		t.Fatalf("reset request: %d", resp.StatusCode)
	}
	reset := s.openReset(a.ID)
	action := "/resets/" + reset.ID + "/withdraw"
	page := "/customers/" + a.ID + "?q=" + url.QueryEscape("山田 太郎")
	_, body := kim.get(page)
	form := formIn(body, action)
	if form.Get("from") == "" {
		t.Fatalf("the withdrawal's form carries no from field: %v", form)
	}
	s.clock.Advance(console.IdleTimeout)
	resp, body := kim.do("POST", action, form)
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("next") != page || !strings.Contains(alert(body), notDone) {
		t.Fatalf("a withdrawal after the sign-in ended: at %s, alert %q; want /login back to %s", resp.Request.URL, alert(body), page)
	}
	if resp = s.signInFrom(kim, body, seed); resp.Request.URL.RequestURI() != page || resp.Request.Method != http.MethodGet {
		t.Errorf("after the sign-in: at %s %s, want GET %s", resp.Request.Method, resp.Request.URL, page)
	}
	if !s.openReset(a.ID).Open() {
		t.Error("a refused withdrawal withdrew the request")
	}
	// A from field that names no customer's page: the path tells the page.
	for _, from := range []string{"//evil.example/customers/x", "/customers/", "/customers/new", "/customers/x/lock",
		"/customers/..%2Flogin", "/customers/..", "/customers/%2E%2E", "/operators", "https://evil.example/", "/customers/x?next=/lock"} {
		s.clock.Advance(30 * time.Second)
		b := s.signIn("kim@tobira.example", seed)
		s.clock.Advance(console.IdleTimeout)
		resp, _ := b.post(action, "from", from)
		if next := resp.Request.URL.Query().Get("next"); resp.Request.URL.Path != "/login" || next != "/resets" {
			t.Errorf("from %q: at %s, next %q, want /login back to /resets", from, resp.Request.URL, next)
		}
	}
}
