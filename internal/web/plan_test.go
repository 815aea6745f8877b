package web_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

// TestSignInStatementsUseIndexes: every statement of a returning
// customer's visit, from the login page through the sign-in and the
// landing page to the security page and the sign-out, finds its rows
// through an index on the embedded SQLite: none reads a whole table or
// sorts in a temporary B-tree. A sign-in then costs the same with a
// million accounts as with a hundred, and a change that loses an index
// (or adds a query without one) fails here rather than in a load test.
func TestSignInStatementsUseIndexes(t *testing.T) {
	s := newSite(t)
	// The mail queue on, as a server has it: the sign-in then also asks
	// whether the browser is new.
	s.svc.Mail = &mail.Queue{Store: s.svc.Store, Sender: mail.Outbox{}, Now: s.clock.Now}
	c := s.customer("yamada@example.jp")
	b := s.browser()
	b.enrol(c)
	b.signIn(c)

	db := s.svc.Store.(*sqlstore.DB)
	var mu sync.Mutex
	seen := map[string]bool{}
	db.TraceStatements(func(q string) {
		mu.Lock()
		defer mu.Unlock()
		seen[strings.Join(strings.Fields(q), " ")] = true
	})
	again := s.browser()
	expect(t, again.get("/login"), http.StatusOK, "")
	again.signIn(c)
	expect(t, again.get("/"), http.StatusOK, "")
	expect(t, again.get("/security"), http.StatusOK, "")
	expect(t, again.post("/logout", nil), http.StatusSeeOther, "/login?e=signedout")
	db.TraceStatements(nil)

	var queries []string
	for q := range seen {
		queries = append(queries, q)
	}
	slices.Sort(queries)
	// The password's limits, the account, the flow, the factors, the
	// lock, the audit events, the session and its end: a visit that ran
	// fewer statements than these did not run whole.
	if len(queries) < 18 {
		t.Fatalf("the visit ran %d different statements, want 18 or more:\n%s", len(queries), strings.Join(queries, "\n"))
	}
	for _, q := range queries {
		plan, err := db.QueryPlan(t.Context(), q)
		if err != nil {
			t.Errorf("plan of %s: %v", q, err)
			continue
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && step != "SCAN CONSTANT ROW" || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s\n  plan: %s", q, strings.Join(plan, "; "))
				break
			}
		}
	}
}
