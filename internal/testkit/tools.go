package testkit

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// FullSuite reports whether the tests that need outside programs (a browser,
// mailpit) run: in the full suite (TOBIRA_E2E=1, as ./scripts/test.sh sets)
// and always on CI, where a missing program fails instead of skipping.
func FullSuite() bool { return os.Getenv("TOBIRA_E2E") == "1" || os.Getenv("CI") == "true" }

// MailpitBin returns the mailpit binary ./scripts/test-deps.sh builds, or
// skips the test outside the full suite; in it a missing binary fails.
func MailpitBin(t testing.TB) string {
	t.Helper()
	if !FullSuite() {
		t.Skip("mail tests against mailpit run in the full suite: ./scripts/test.sh (or TOBIRA_E2E=1 after ./scripts/test-deps.sh)")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	bin := filepath.Join(dir, "e2e", "bin", "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if bin, err := exec.LookPath("mailpit"); err == nil {
		return bin
	}
	t.Fatalf("mailpit is missing (neither %s nor on PATH): run ./scripts/test-deps.sh", bin)
	return ""
}

// handedOut holds the ports FreePort has returned in this process.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// FreePort returns a port of 127.0.0.1 that was free a moment ago and that
// it has not returned before in this process. The kernel may hand the same
// port to two listeners opened and closed in a row; a test that asks for two
// ports (mailpit's SMTP and HTTP) must get two.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no port that was not handed out before")
	return 0
}

// FreeAddr is FreePort as a host:port of 127.0.0.1.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
