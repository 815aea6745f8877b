package app_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
)

// TestAuditRetention: serve deletes the audit events older than
// audit_retention_days, and no others.
func TestAuditRetention(t *testing.T) {
	addr := testkit.FreeAddr(t)
	dir := dataDir(t, `, "base_url": "http://`+addr+`", "audit_retention_days": 180`)
	db, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	for _, days := range []int{400, 181, 179, 1} {
		if err := db.AppendAudit(t.Context(), &store.AuditEvent{At: now.Add(-time.Duration(days) * 24 * time.Hour),
			AccountID: "acc-1", Actor: "customer", Action: "signin", Outcome: "ok", Detail: fmt.Sprint(days, " days")}); err != nil {
			t.Fatal(err)
		}
	}
	left := func() []string {
		evs, err := db.AuditOf(t.Context(), "acc-1", 0)
		if err != nil {
			t.Fatal(err)
		}
		var d []string
		for _, ev := range evs {
			d = append(d, ev.Detail)
		}
		return d
	}

	node := start(t, keyEnv(), "serve", "--data", dir, "--addr", addr, "--console-addr", "off")
	// The sweep runs at start, then every five minutes.
	want := []string{"1 days", "179 days"}
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(left(), want) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := left(); !slices.Equal(got, want) {
		t.Fatalf("events left after the sweep: %v, want those of 1 and 179 days (%v)\nlog: %s", got, want, node.stderr)
	}
	if code := node.stop(t); code != 0 {
		t.Errorf("serve exit %d: %s", code, node.stderr)
	}
	if !strings.Contains(node.stderr.String(), `"msg":"audit events past audit_retention_days deleted","events":2`) {
		t.Errorf("the log does not tell of the deletion:\n%s", node.stderr)
	}
}
