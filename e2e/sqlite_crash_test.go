package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/loadgen"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/testkit"
)

// TestSQLiteNodeKilled: one node on the embedded SQLite, killed with
// SIGKILL while customers enrol, loses none of the enrolments it answered.
// Started again on the same folder, every customer who was shown the
// recovery code is still signed in, and signs in from a new browser with
// the app's key the enrolment showed. The
// writer commits without a sync of its own and the syncer beside it syncs
// the log before anyone hears back; what reached the log survives the
// process.
func TestSQLiteNodeKilled(t *testing.T) {
	if !testkit.FullSuite() {
		t.Skip("the node tests run in the full suite (TOBIRA_E2E=1 or CI=true)")
	}
	bin, err := tobiraBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	cfg, err := json.Marshal(map[string]any{
		"base_url":     base,
		"secret_key":   secret.NewKey(),
		"console_addr": "off",
		"argon2":       map[string]any{"memory_kib": 8, "time": 1, "threads": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "tobira.json")
	if err := os.WriteFile(config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// The accounts are opened by the command line beside the running
	// node, on the same file, as an operator does.
	n := &node{name: "sqlite", URL: base}
	serve := func(run int) {
		if !n.start(t, bin, filepath.Join(dir, fmt.Sprintf("serve-%d.log", run)), "serve", "--config", config, "--data", data, "--addr", addr) {
			t.FailNow()
		}
		waitReady(t, base)
	}
	serve(1)
	const customers = 24
	links := make([]string, customers)
	for i := range links {
		email := fmt.Sprintf("crash%02d@example.jp", i)
		out, err := exec.Command(bin, "users", "create", "--email", email, "--name", "顧客 "+email, "--config", config, "--data", data).CombinedOutput()
		if err != nil {
			t.Fatalf("users create: %v\n%s", err, out)
		}
		if links[i] = regexp.MustCompile(`https?://\S+`).FindString(lastLines(string(out), 3)); links[i] == "" {
			t.Fatalf("users create printed no link:\n%s", out)
		}
	}

	ctx := scenario(t)
	results := make([]*loadgen.Customer, customers)
	errs := make([]error, customers)
	done := make(chan struct{}, customers)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for range 3 {
			<-done
		}
		n.kill()
	}()
	var wg sync.WaitGroup
	for i := range customers {
		wg.Go(func() {
			cu := loadgen.NewCustomer(fmt.Sprintf("crash%02d@example.jp", i), "", "")
			_, _, errs[i] = cu.Activate(ctx, base, links[i], "correct horse battery staple")
			results[i] = cu
			done <- struct{}{}
		})
	}
	wg.Wait()
	<-killed

	serve(2)
	completed, inFlight := 0, 0
	for i, cu := range results {
		if errs[i] != nil {
			inFlight++
			continue
		}
		completed++
		// The session the enrolment ended in is still there, and from a
		// new browser the customer signs in with the app.
		if err := cu.Landing(ctx, base); err != nil {
			t.Errorf("%s: the session of an enrolment completed before the kill is gone: %v", cu.Email, err)
		}
		cu.DropCookies()
		if err := cu.SignIn(ctx, base, time.Now().Add(30*time.Second)); err != nil {
			t.Errorf("%s completed enrolment before the kill but cannot sign in after it: %v", cu.Email, err)
		}
	}
	t.Logf("%d of %d enrolments completed before the kill, %d cut short by it", completed, customers, inFlight)
	if completed < 3 {
		t.Fatalf("only %d enrolments completed; the kill waited for 3", completed)
	}
	// The log says the second start found the file whole.
	b, err := os.ReadFile(filepath.Join(dir, "serve-2.log"))
	if err != nil || strings.Contains(string(b), "level=ERROR") || strings.Contains(string(b), `"level":"ERROR"`) {
		t.Errorf("the start after the kill logged an error (%v):\n%s", err, lastLines(string(b), 20))
	}
}
