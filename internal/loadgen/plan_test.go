package loadgen_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/mail"
)

// TestVisitStatementsUseIndexes: every statement of the visit `tobira
// bench --flow full` makes, a returning customer's sign-in (the login
// page, the password, the page asking for the code, the code, the landing
// page), the security page, the OpenID Connect code flow of a first-party
// client and the sign-out, finds its rows through an index on the embedded
// SQLite: none reads a whole table or sorts in a temporary B-tree. A visit
// then costs the same with a million accounts as with a hundred, and a
// change that loses an index (or adds a query without one) fails here
// rather than in a load test.
func TestVisitStatementsUseIndexes(t *testing.T) {
	e := newPortal(t)
	ctx := t.Context()
	// The mail queue on, as a server has it: the sign-in then also asks
	// whether the browser is new.
	e.svc.Mail = &mail.Queue{Store: e.db, Sender: mail.Outbox{}, Now: time.Now}
	c := e.enrolled(t, "plan@example.jp")
	client := e.client(t, true, true)
	// The first visit grants the client its consent, as the bench's
	// customers have before they are measured.
	if err := c.SignIn(ctx, e.base, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.OIDCCodeFlow(ctx, e.base, client); err != nil {
		t.Fatal(err)
	}
	if err := c.SignOut(ctx, e.base); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]bool{}
	e.db.TraceStatements(func(q string) {
		mu.Lock()
		defer mu.Unlock()
		seen[strings.Join(strings.Fields(q), " ")] = true
	})
	err := c.SignIn(ctx, e.base, time.Now().Add(30*time.Second))
	if err == nil {
		err = c.Security(ctx, e.base)
	}
	if err == nil {
		err = c.OIDCCodeFlow(ctx, e.base, client)
	}
	if err == nil {
		err = c.SignOut(ctx, e.base)
	}
	e.db.TraceStatements(nil)
	if err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var queries []string
	for q := range seen {
		queries = append(queries, q)
	}
	slices.Sort(queries)
	// The password's limits, the account, the flow, the factors, the
	// lock, the audit events, the session, the authorization request, the
	// grant and the sign-out: a visit that ran fewer statements than these
	// did not run whole.
	if len(queries) < 30 {
		t.Fatalf("the visit ran %d different statements, want 30 or more:\n%s", len(queries), strings.Join(queries, "\n"))
	}
	for _, q := range queries {
		plan, err := e.db.QueryPlan(ctx, q)
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
