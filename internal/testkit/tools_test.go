package testkit

import "testing"

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
