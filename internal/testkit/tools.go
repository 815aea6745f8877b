package testkit

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
//
// The port is below the kernel's range of ephemeral ports where it can be:
// those are what every outgoing connection of every test on the machine
// takes its local port from, so one of them could take the port while a
// server the test stops and starts again is down, or before it first
// binds. Below that range only a listener asking for that very port can.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	try := func(port int) int {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return 0
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if handedOut.ports[port] {
			return 0
		}
		handedOut.ports[port] = true
		return port
	}
	if low, high := belowEphemeral(); high > low {
		for range 100 {
			if port := try(low + rand.IntN(high-low)); port != 0 {
				return port
			}
		}
	}
	for range 100 {
		if port := try(0); port != 0 {
			return port
		}
	}
	t.Fatal("no port that was not handed out before")
	return 0
}

// belowEphemeral is the range of ports [low, high) that FreePort picks
// from: from 20000 to the first of the kernel's ephemeral ports (Linux's
// ip_local_port_range, 32768 by default); empty where that is unknown or
// no higher.
func belowEphemeral() (low, high int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 0, 0
	}
	first, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0, 0
	}
	return 20000, first
}

// FreeAddr is FreePort as a host:port of 127.0.0.1.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
