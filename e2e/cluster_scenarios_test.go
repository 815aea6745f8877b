package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/tobira/tobira/internal/loadgen"
)

// TestCluster runs the multi-node scenarios on one deployment of three
// nodes; the node killed last.
func TestCluster(t *testing.T) {
	c := startCluster(t, 3)
	n1, n2, n3 := c.nodes[0].URL, c.nodes[1].URL, c.nodes[2].URL

	t.Run("SignInAcrossNodes", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "across@example.jp")
		must(t, cu.StartSignIn(ctx, n1))
		must(t, cu.SubmitPassword(ctx, n2))
		must(t, cu.SubmitTOTP(ctx, n3, nextCode(t, cu)))
		must(t, cu.Landing(ctx, n1))
		must(t, cu.Security(ctx, n2))
		must(t, cu.SignOut(ctx, n3))
	})

	t.Run("CodeAcceptedOnce", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "once@example.jp")
		code := nextCode(t, cu)
		wins := race(t, ctx, c, cu, func(b *loadgen.Customer, node string) error {
			return b.SubmitTOTP(ctx, node, code)
		})
		if wins != 1 {
			t.Fatalf("one TOTP code sent to three nodes at once signed in %d times, want exactly once", wins)
		}
	})

	t.Run("RecoveryCodeAcceptedOnce", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "recovery@example.jp")
		code := cu.RecoveryCode
		wins := race(t, ctx, c, cu, func(b *loadgen.Customer, node string) error {
			return b.SubmitRecoveryCode(ctx, node, code)
		})
		if wins != 1 {
			t.Fatalf("one recovery code sent to three nodes at once signed in %d times, want exactly once", wins)
		}
	})

	t.Run("PasswordLimitAcrossNodes", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "guessed@example.jp")
		guesser := loadgen.NewCustomer(cu.Email, "not the password", "")
		// Ten wrong passwords, round the nodes: each is refused as wrong.
		for i := range 10 {
			node := c.nodes[i%3].URL
			must(t, guesser.StartSignIn(ctx, node))
			if err := guesser.SubmitPassword(ctx, node); !errors.Is(err, loadgen.ErrPasswordRefused) {
				t.Fatalf("wrong password %d on %s: %v, want refused", i+1, node, err)
			}
		}
		// The right password, on any node, now waits for the window.
		for _, node := range []string{n1, n2, n3} {
			must(t, cu.StartSignIn(ctx, node))
			if err := cu.SubmitPassword(ctx, node); !errors.Is(err, loadgen.ErrLocked) {
				t.Fatalf("the right password on %s after ten wrong ones: %v, want the step locked", node, err)
			}
		}
	})

	t.Run("CodeLimitAcrossNodes", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "codes@example.jp")
		must(t, cu.StartSignIn(ctx, n1))
		must(t, cu.SubmitPassword(ctx, n1))
		right := nextCode(t, cu)
		for i := range 10 {
			node := c.nodes[i%3].URL
			err := cu.SubmitTOTP(ctx, node, wrongCode(t, cu.TOTPSecret))
			// The tenth wrong code closes the step as it is refused.
			if !errors.Is(err, loadgen.ErrCodeRefused) && !(i == 9 && errors.Is(err, loadgen.ErrLocked)) {
				t.Fatalf("wrong code %d on %s: %v, want refused", i+1, node, err)
			}
		}
		for _, node := range []string{n1, n2, n3} {
			if err := cu.SubmitTOTP(ctx, node, right); err == nil {
				t.Fatalf("the right code on %s after ten wrong ones signed in; want the step closed", node)
			}
		}
		// The database says so too.
		var until int64
		query(t, c, `SELECT mfa_locked_until FROM accounts WHERE email = $1`, []any{cu.Email}, &until)
		if until <= time.Now().UnixMilli() {
			t.Fatalf("after ten wrong codes round the nodes the account is not locked (until %d)", until)
		}
	})

	t.Run("SendLimitAcrossNodes", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "forgetful@example.jp")
		for i := range 8 {
			forgot(t, ctx, c.nodes[i%3].URL, cu.Email)
		}
		var mails int
		query(t, c, `SELECT COUNT(*) FROM mails WHERE recipient = $1 AND subject LIKE '%パスワード%'`, []any{cu.Email}, &mails)
		if mails != 5 {
			t.Fatalf("eight forgotten-password requests round the nodes queued %d mails, want the limit of 5", mails)
		}
	})

	t.Run("SigningKeyRotation", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "rotation@example.jp")
		id, secret := c.createClient("rotation", "http://127.0.0.1:9/callback")
		client := loadgen.OIDCClient{ID: id, Secret: secret, RedirectURI: "http://127.0.0.1:9/callback"}
		// The customer signs in once (on the balancer); each flow after
		// that goes straight to one node.
		must(t, cu.SignIn(ctx, c.LB, time.Now().Add(30*time.Second)))
		must(t, cu.OIDCCodeFlow(ctx, n1, client))
		before := cu.IDToken
		oldKid := verifyOn(t, before, n1, n2, n3)

		c.run("signing-keys", "rotate")
		// Every node publishes the new key at once, and still the old one.
		var newKid string
		for _, node := range []string{n1, n2, n3} {
			kids := keyIDs(t, node)
			if !slices.Contains(kids, oldKid) || len(kids) < 2 {
				t.Fatalf("%s publishes %v after the rotation; want the old key %s and a new one", node, kids, oldKid)
			}
			newKid = kids[0] // newest first
		}
		verifyOn(t, before, n1, n2, n3)

		// Each node has listed the keys since: it signs with the new key
		// at once (within a minute in any case); what it signs verifies
		// on the others.
		deadline := time.Now().Add(90 * time.Second)
		for _, node := range []string{n2, n3} {
			for {
				must(t, cu.OIDCCodeFlow(ctx, node, client))
				if kid := verifyOn(t, cu.IDToken, n1, n2, n3); kid == newKid {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s still signs with the old key %s long after the rotation", node, oldKid)
				}
				time.Sleep(2 * time.Second)
			}
		}
	})

	t.Run("DatabaseConnectionsCut", func(t *testing.T) {
		ctx := scenario(t)
		cu := c.customer(ctx, "cut@example.jp")
		// PostgreSQL ends every connection of every node, as a fail-over
		// or a restart of the database would.
		cut := c.cutConnections(t)
		if cut == 0 {
			t.Fatal("found no connection of the nodes to cut")
		}
		// The pools notice and connect again: a sign-in across the
		// three nodes goes through without an error.
		must(t, cu.StartSignIn(ctx, n1))
		must(t, cu.SubmitPassword(ctx, n2))
		must(t, cu.SubmitTOTP(ctx, n3, nextCode(t, cu)))
		must(t, cu.Landing(ctx, n1))
		must(t, cu.Security(ctx, n2))
		t.Logf("cut %d connections; the nodes served on", cut)
	})

	t.Run("NodeKilledUnderLoad", func(t *testing.T) {
		ctx := scenario(t)
		const first, second = 24, 12
		links := make([]string, first+second)
		for i := range links {
			links[i] = c.createUser(fmt.Sprintf("load%02d@example.jp", i))
		}
		type result struct {
			cu  *loadgen.Customer
			err error
		}
		done := make(chan struct{}, first+second)
		enrol := func(from, to int) []result {
			out := make([]result, to-from)
			var wg sync.WaitGroup
			for i := from; i < to; i++ {
				wg.Go(func() {
					cu := loadgen.NewCustomer(fmt.Sprintf("load%02d@example.jp", i), "", "")
					_, _, err := cu.Activate(ctx, c.LB, links[i], "correct horse battery staple")
					if err == nil {
						err = cu.SignOut(ctx, c.LB)
					}
					out[i-from] = result{cu, err}
					done <- struct{}{}
				})
			}
			wg.Wait()
			return out
		}
		// Enrolments run through the balancer; node 2 dies in their midst,
		// once the first few have completed.
		killed := make(chan struct{})
		go func() {
			defer close(killed)
			for range 3 {
				<-done
			}
			c.nodes[1].kill()
		}()
		results := enrol(0, first)
		<-killed
		// Then more customers enrol, on the two nodes left.
		afterKill := enrol(first, first+second)
		for _, r := range afterKill {
			if r.err != nil {
				t.Errorf("an enrolment after the kill failed: %v", r.err)
			}
		}
		// Every enrolment that completed is there: its customer signs in
		// with the app and the key the enrolment showed.
		completed := 0
		for _, r := range append(results, afterKill...) {
			if r.err != nil {
				t.Logf("in flight when the node died: %s: %v", r.cu.Email, r.err)
				continue
			}
			completed++
			if err := r.cu.SignIn(ctx, c.LB, time.Now().Add(30*time.Second)); err != nil {
				t.Errorf("%s completed enrolment but cannot sign in after the kill: %v", r.cu.Email, err)
			}
		}
		t.Logf("%d of %d enrolments completed; node 2 was killed during the first %d", completed, first+second, first)
		if completed < second {
			t.Fatalf("only %d enrolments completed", completed)
		}
	})
}

// customer opens an account and enrols it through the balancer.
func (c *cluster) customer(ctx context.Context, email string) *loadgen.Customer {
	c.t.Helper()
	link := c.createUser(email)
	cu := loadgen.NewCustomer(email, "", "")
	if _, _, err := cu.Activate(ctx, c.LB, link, "correct horse battery staple"); err != nil {
		c.t.Fatalf("enrol %s: %v", email, err)
	}
	// Enrolment ends signed in; the scenarios start signed out.
	if err := cu.SignOut(ctx, c.LB); err != nil {
		c.t.Fatalf("sign %s out: %v", email, err)
	}
	return cu
}

// race brings a browser per node to the code step of cu's sign-in, then
// submits on all three at once; it returns how many were signed in.
func race(t *testing.T, ctx context.Context, c *cluster, cu *loadgen.Customer, submit func(b *loadgen.Customer, node string) error) int {
	t.Helper()
	browsers := make([]*loadgen.Customer, len(c.nodes))
	for i, n := range c.nodes {
		b := loadgen.NewCustomer(cu.Email, cu.Password, cu.TOTPSecret)
		must(t, b.StartSignIn(ctx, n.URL))
		must(t, b.SubmitPassword(ctx, n.URL))
		browsers[i] = b
	}
	errs := make([]error, len(browsers))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, b := range browsers {
		wg.Go(func() {
			<-start
			errs[i] = submit(b, c.nodes[i].URL)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loadgen.ErrCodeRefused):
			t.Errorf("%s: %v, want signed in or the code refused", c.nodes[i].name, err)
		}
	}
	return wins
}

// nextCode is the app's code of the next time step: the enrolment used this
// step's, and the portal accepts one step ahead.
func nextCode(t *testing.T, cu *loadgen.Customer) string {
	t.Helper()
	code, err := cu.Code(time.Now().Add(30 * time.Second))
	must(t, err)
	return code
}

// forgot sends the forgotten-password form to node, as a browser on its
// page does.
func forgot(t *testing.T, ctx context.Context, node, email string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node+"/forgot",
		strings.NewReader(url.Values{"email": {email}}.Encode()))
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", node)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/forgot: %s", node, resp.Status)
	}
}

// query reads one row from the cluster's database.
func query(t *testing.T, c *cluster, q string, args []any, dst ...any) {
	t.Helper()
	db, err := sql.Open("pgx", c.db)
	must(t, err)
	defer db.Close()
	must(t, db.QueryRow(q, args...).Scan(dst...))
}

// cutConnections ends every PostgreSQL connection of the nodes (theirs
// only: PostgreSQL serves other tests too) and returns how many there were.
func (c *cluster) cutConnections(t *testing.T) int {
	t.Helper()
	db, err := sql.Open("pgx", c.db)
	must(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, c.appName)
	must(t, err)
	var pids []int
	for rows.Next() {
		var pid int
		must(t, rows.Scan(&pid))
		pids = append(pids, pid)
	}
	must(t, rows.Err())
	rows.Close()
	for _, pid := range pids {
		var ok bool
		must(t, db.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&ok))
	}
	return len(pids)
}

// keyIDs lists the signing keys node publishes, newest first.
func keyIDs(t *testing.T, node string) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, node+"/keys", &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// verifyOn checks token's signature against each node's published keys and
// returns the key id that signed it.
func verifyOn(t *testing.T, token string, nodes ...string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	must(t, err)
	kid := jws.Signatures[0].Header.KeyID
	for _, node := range nodes {
		var set jose.JSONWebKeySet
		getJSON(t, node+"/keys", &set)
		keys := set.Key(kid)
		if len(keys) == 0 {
			t.Fatalf("%s does not publish key %s, which signed an ID token", node, kid)
		}
		if _, err := jws.Verify(keys[0]); err != nil {
			t.Fatalf("an ID token does not verify with %s's key %s: %v", node, kid, err)
		}
	}
	return kid
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	must(t, json.NewDecoder(resp.Body).Decode(v))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
