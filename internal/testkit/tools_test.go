package testkit

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortNeverRepeats: a test that asks for two ports gets two, even
// when the kernel would hand the same one out again.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// TestFreePortBelowEphemeral: where the kernel says which ports it hands
// outgoing connections, FreePort's are below them, and free.
func TestFreePortBelowEphemeral(t *testing.T) {
	low, high := belowEphemeral()
	if high <= low {
		t.Skip("the kernel's ephemeral ports are unknown here")
	}
	for range 20 {
		p := FreePort(t)
		if p < low || p >= high {
			t.Fatalf("port %d, want one in [%d, %d)", p, low, high)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
	}
}
