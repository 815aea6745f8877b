package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchNode is a server the bench started.
type benchNode struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	pprof   string // TOBIRA_PPROF_ADDR given to it, or ""
	exited  chan struct{}
	err     error // how the process ended, once exited is closed
}

// startNodes starts the servers one after the other, each timed from its
// spawn until /readyz answers; then stops the first and starts it again,
// timed the same way: the first start on a new database makes its signing
// key, a restart (a deployment, a node added) finds it there.
func (b *bencher) startNodes(ctx context.Context) error {
	bin := b.o.serverBin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	// The generated configuration decides, not the bench's environment;
	// TOBIRA_PPROF_ADDR alone passes, a port of its own for each node.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOBIRA_") {
			env = append(env, kv)
		}
	}
	b.undo = append(b.undo, b.stopNodes)
	for i := range b.bases {
		n, took, err := b.startNode(ctx, bin, env, i)
		if n != nil {
			b.nodes = append(b.nodes, n)
		}
		if err != nil {
			return err
		}
		b.report.StartupMS = append(b.report.StartupMS, ms(took))
		if n.pprof != "" {
			b.report.Pprof = append(b.report.Pprof, n.profiler())
		}
	}
	first := b.nodes[0]
	first.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-first.exited:
	case <-ctx.Done():
		return ctx.Err()
	}
	if first.err != nil {
		return fmt.Errorf("the server at %s ended with %v before its restart:\n%s", first.base, first.err, tail(first.logPath))
	}
	n, took, err := b.startNode(ctx, bin, env, 0)
	if n != nil {
		b.nodes[0] = n
	}
	if err != nil {
		return err
	}
	b.report.RestartMS = ms(took)
	return nil
}

// startNode starts server i and waits until it is ready.
func (b *bencher) startNode(ctx context.Context, bin string, env []string, i int) (*benchNode, time.Duration, error) {
	base := b.bases[i]
	n := &benchNode{base: base, logPath: filepath.Join(b.cfg.DataDir, fmt.Sprintf("node-%d.log", i+1)), exited: make(chan struct{})}
	logFile, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, err
	}
	args := []string{"serve", "--config", filepath.Join(b.cfg.DataDir, "tobira.json"),
		"--addr", strings.TrimPrefix(base, "http://"), "--console-addr", "off"}
	if b.cfg.Database != "" {
		args = append(args, "--database", b.cfg.Database)
	}
	n.cmd = exec.Command(bin, args...)
	n.cmd.Env, n.cmd.Stdout, n.cmd.Stderr = env, logFile, logFile
	if b.o.pprofAddr != "" {
		n.pprof = pprofAddr(b.o.pprofAddr, i)
		n.cmd.Env = append(slices.Clip(env), "TOBIRA_PPROF_ADDR="+n.pprof)
	}
	if i < len(b.held) {
		b.held[i].Close() // the node binds it now; closing it twice is harmless
	}
	start := time.Now()
	if err := n.cmd.Start(); err != nil {
		logFile.Close()
		return nil, 0, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		n.err = n.cmd.Wait()
		logFile.Close()
		close(n.exited)
	}()
	if err := n.waitReady(ctx, time.Minute); err != nil {
		return n, 0, err
	}
	return n, time.Since(start), nil
}

// pprofAddr is node i's (from 0) profiler address: addr's port plus i.
func pprofAddr(addr string, i int) string {
	host, port, _ := net.SplitHostPort(addr) // checked by benchFlags.check
	p, _ := strconv.Atoi(port)
	return net.JoinHostPort(host, strconv.Itoa(p+i))
}

// profiler is where the node's profiler answers, or why not.
func (n *benchNode) profiler() string {
	u := "http://" + n.pprof + "/debug/pprof/"
	client := &http.Client{Timeout: 2 * time.Second}
	res, err := client.Get(u)
	if err != nil {
		return fmt.Sprintf("%s (not answering: %v; see the node's log)", u, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Sprintf("%s (answers %s)", u, res.Status)
	}
	return u
}

// waitReady polls /readyz until it answers 200.
func (n *benchNode) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get(n.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-n.exited:
			return fmt.Errorf("the server at %s ended before it was ready (%v):\n%s", n.base, n.err, tail(n.logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server at %s was not ready within %s:\n%s", n.base, limit, tail(n.logPath))
		}
	}
}

// endedNode is a server the bench started that has ended by itself (a
// crash, a kill), nil when all still run.
func (b *bencher) endedNode() *benchNode {
	for _, n := range b.nodes {
		select {
		case <-n.exited:
			return n
		default:
		}
	}
	return nil
}

// stopNodes asks every server to stop and waits for it.
func (b *bencher) stopNodes() {
	for _, n := range b.nodes {
		n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range b.nodes {
		select {
		case <-n.exited:
		case <-time.After(15 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
		}
		if n.err != nil && !endedBySIGTERM(n.err) {
			fmt.Fprintf(b.m.Stderr, "tobira bench: the server at %s ended with %v:\n%s", n.base, n.err, tail(n.logPath))
		}
	}
}

// endedBySIGTERM tells whether a process's end (cmd.Wait's error) was the
// SIGTERM itself: a server still starting ends so, before it handles the
// signal. That is the stop the bench asked for, not a failure to report.
func endedBySIGTERM(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// sumProc adds up f over the servers' processes; 0 with none.
func (b *bencher) sumProc(f func(pid int) int64) int64 {
	var sum int64
	for _, n := range b.nodes {
		sum += f(n.cmd.Process.Pid)
	}
	return sum
}

// procStatus reads a memory field of /proc/PID/status (kB), in bytes; 0
// where there is no /proc.
func procStatus(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// clockTick is Linux's USER_HZ, the unit of /proc/PID/stat's times (100 on
// every architecture Go runs on).
const clockTick = 10 * time.Millisecond

// procCPU is the process's CPU time so far (utime + stime of
// /proc/PID/stat), as a duration in nanoseconds; 0 where there is no /proc.
func procCPU(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return (utime + stime) * int64(clockTick)
}
