package app

import (
	"context"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/tobira/tobira/internal/account"
)

// TestEstimateRest: the CPU per sign-in without its hash is what is left
// of the CPU measured once a hash at the level's ceiling is taken away,
// and nothing where the ceiling's moment makes the hash cost all of it or
// more.
func TestEstimateRest(t *testing.T) {
	for _, tc := range []struct {
		cpuMS, ceiling float64
		cores          int
		want           float64
	}{
		{cpuMS: 22, ceiling: 100, cores: 2, want: 2}, // a hash is 20 ms of CPU
		{cpuMS: 0.5, ceiling: 20000, cores: 2, want: 0.4},
		{cpuMS: 18, ceiling: 100, cores: 2, want: 0}, // a ceiling of a slower moment
		{cpuMS: 20, ceiling: 100, cores: 2, want: 0},
		{cpuMS: 22, ceiling: 0, cores: 2, want: 0},  // no ceiling measured
		{cpuMS: 0, ceiling: 100, cores: 2, want: 0}, // no CPU read
	} {
		lv := benchLevel{ServerCPUPerSignInMS: tc.cpuMS, HashesPerSecond: tc.ceiling, ServerCPUPerSignInExclHashMS: 99}
		lv.estimateRest(tc.cores)
		if got := lv.ServerCPUPerSignInExclHashMS; got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%v ms at %v hashes/s on %d cores: %v ms without the hash, want %v", tc.cpuMS, tc.ceiling, tc.cores, got, tc.want)
		}
	}
}

// TestPoolGiveBack: an account given back (its code not sent) may be taken
// again within the TOTP step; one taken and not given back may not.
func TestPoolGiveBack(t *testing.T) {
	p := &customerPool{}
	p.add("a@bench.example.jp", "key")
	a, err := p.take(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p.giveBack(a)
	// A cancelled context: take returns at once what is free, else fails.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.take(done); err != nil {
		t.Fatalf("an account given back is not free again: %v", err)
	}
	if _, err := p.take(done); err == nil {
		t.Fatal("an account taken twice in one step")
	}

	// Given back behind accounts that signed in: found further on.
	p = &customerPool{}
	for _, e := range []string{"a", "b", "c"} {
		p.add(e+"@bench.example.jp", "key")
	}
	var taken []*poolAccount
	for range 3 {
		a, err := p.take(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, a)
	}
	p.giveBack(taken[1])
	if a, err := p.take(done); err != nil || a != taken[1] {
		t.Fatalf("took %v (%v), want the account given back, %s", a, err, taken[1].email)
	}
}

// TestMarkdownNoStep: a run where no step went well has no latency table
// (a header with no column was a broken table).
func TestMarkdownNoStep(t *testing.T) {
	r := benchReport{Levels: []benchLevel{{Concurrency: 1, Steps: map[string]benchStep{},
		Errors: map[string]int{"transport: connection refused": 5}, PeakRSSBytes: 1 << 20, ServerCPUSeconds: 0.5}}}
	var b strings.Builder
	r.markdown(&b)
	if strings.Contains(b.String(), "Latency per step") || !strings.Contains(b.String(), "| 1 | transport: connection refused | 5 |") {
		t.Errorf("report:\n%s", b.String())
	}
	// The waits are counted as waits: it read as if each account had
	// signed in that many times in a step.
	r.Levels[0].PoolWaits = 3
	b.Reset()
	r.markdown(&b)
	if !strings.Contains(b.String(), "a customer found every account of the pool signed in during the current 30-second step 3 times") {
		t.Errorf("pool waits:\n%s", b.String())
	}
	// No sign-in: no CPU per sign-in either (it read 0.00 ms).
	if !strings.Contains(b.String(), "| 1 | 0 | 0.0 | 0.00 % | – | – | 5 | 1.0 MiB (since start) | n/a | n/a | 0 |") {
		t.Errorf("the level's row:\n%s", b.String())
	}
}

// TestCloseBracketInterrupted: a ceiling measurement an interrupt cut
// short leaves the level's ceiling the one measured before it (it read 0,
// and the mean with it halved the ceiling and doubled the level's share).
func TestCloseBracketInterrupted(t *testing.T) {
	b := &bencher{m: &Main{Stderr: io.Discard}}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	lv := benchLevel{SignInsPerSecond: 50}
	lv.ofCeiling(100)
	if next := b.closeBracket(done, &lv, 100); next != 100 || lv.HashesPerSecond != 100 || lv.PercentOfCeiling != 50 {
		t.Errorf("next %v, level's ceiling %v, %v %%; want 100, 100, 50", next, lv.HashesPerSecond, lv.PercentOfCeiling)
	}
}

// TestBusyCores: the CPU of a hash is the ceiling's over the cores its
// best rate kept busy, not every core when one hash at a time did best.
func TestBusyCores(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	one := account.Argon2Params{MemoryKiB: 8, Time: 1, Threads: 1}
	rates := []ceilingRate{{AtOnce: 1, PerSecond: 300}, {AtOnce: cores, PerSecond: 200}}
	if got := busyCores(one, rates, 300); got != 1 {
		t.Errorf("one hash at a time best: %d cores, want 1", got)
	}
	if got := busyCores(one, rates, 200); got != cores {
		t.Errorf("one hash per core best: %d cores, want %d", got, cores)
	}
	lanes := account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 64}
	if got := busyCores(lanes, rates, 300); got != cores {
		t.Errorf("one hash of 64 lanes: %d cores, want all %d", got, cores)
	}
	if got := busyCores(one, nil, 0); got != cores {
		t.Errorf("no ceiling: %d, want %d", got, cores)
	}
}

// TestEndedBySIGTERM: a server that the bench's SIGTERM ended before it
// handled the signal is not reported as failed; one killed otherwise, or
// that exited with a status, is.
func TestEndedBySIGTERM(t *testing.T) {
	end := func(sig syscall.Signal) error {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err) // coreutils' sleep is on every machine this runs on
		}
		cmd.Process.Signal(sig)
		return cmd.Wait()
	}
	if err := end(syscall.SIGTERM); !endedBySIGTERM(err) {
		t.Errorf("SIGTERM: %v not taken for it", err)
	}
	if err := end(syscall.SIGKILL); endedBySIGTERM(err) {
		t.Errorf("SIGKILL: %v taken for SIGTERM", err)
	}
	if err := exec.Command("false").Run(); err == nil || endedBySIGTERM(err) {
		t.Errorf("exit status 1: %v taken for SIGTERM", err)
	}
}

// TestRunFailsWhenAServerEnded: a run during which a server the bench
// started ended by itself (a crash, a kill) still writes its report, and
// then fails, so that a script does not take it for a measure of a server
// that held; one whose servers all still run does not fail.
func TestRunFailsWhenAServerEnded(t *testing.T) {
	node := func(killed bool) *benchNode {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err) // coreutils' sleep is on every machine this runs on
		}
		n := &benchNode{cmd: cmd, base: "http://127.0.0.1:9", exited: make(chan struct{})}
		go func() {
			n.err = cmd.Wait()
			close(n.exited)
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-n.exited
		})
		if killed {
			cmd.Process.Kill()
			<-n.exited
		}
		return n
	}
	for _, killed := range []bool{false, true} {
		var out strings.Builder
		b := &bencher{m: &Main{Stdout: &out, Stderr: io.Discard}, o: benchFlags{}, nodes: []*benchNode{node(false), node(killed)}}
		err := b.run(t.Context())
		if killed && (err == nil || !strings.Contains(err.Error(), "ended during the run")) {
			t.Errorf("a server killed: run = %v, want it to fail saying so", err)
		}
		if !killed && err != nil {
			t.Errorf("servers running: run = %v", err)
		}
		if !strings.Contains(out.String(), "tobira bench") {
			t.Errorf("killed %v: no report written:\n%s", killed, out.String())
		}
	}
}

// TestMarkdownCut: the requests a level's end cut are reported apart from
// its errors.
func TestMarkdownCut(t *testing.T) {
	r := benchReport{Levels: []benchLevel{{Concurrency: 4, Seconds: 3.1, Steps: map[string]benchStep{}, Cut: 4}}}
	var b strings.Builder
	r.markdown(&b)
	if !strings.Contains(b.String(), "With 4 customers, 4 requests still unanswered 2s after the level's end were cut (not counted as errors") {
		t.Errorf("report:\n%s", b.String())
	}
}
