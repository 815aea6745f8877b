package e2e

// Several nodes: three `tobira serve` processes on one PostgreSQL schema,
// behind haproxy balancing round robin without stickiness, all on
// 127.0.0.1. The tests drive customers over HTTP (internal/loadgen), now
// through the balancer, now straight at one node, and look in the database
// for what must have been kept.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/testkit"
)

// cluster is a running deployment: the balancer's URL, which is also every
// node's base_url, and the nodes.
type cluster struct {
	t       *testing.T
	bin     string // the tobira binary
	config  string // the config file every node and command shares
	db      string // the PostgreSQL URL
	appName string // the nodes' application_name in PostgreSQL
	LB      string
	nodes   []*node
	logs    string
	haproxy *exec.Cmd
}

// node is one `tobira serve` process.
type node struct {
	name string
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// tobiraBin builds the binary once per test run.
var tobiraBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tobira-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tobira")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/tobira").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startCluster starts PostgreSQL's share (a fresh schema), the nodes and the
// balancer, and stops them when the test ends.
func startCluster(t *testing.T, nodes int) *cluster {
	t.Helper()
	if !testkit.FullSuite() {
		t.Skip("the multi-node test runs in the full suite (TOBIRA_E2E=1 or CI=true)")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy is missing (./scripts/test-deps.sh installs it): %v", err)
	}
	bin, err := tobiraBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The balancer's port stays bound here while the nodes start and
	// migrate, so that nothing else takes it meanwhile; haproxy binds it
	// the moment it is let go.
	lbPort, err := net.Listen("tcp", testkit.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lbPort.Close()
	c := &cluster{t: t, bin: bin, db: testkit.Postgres(t), logs: dir, LB: "http://" + lbPort.Addr().String()}

	// The nodes name themselves to PostgreSQL, so that a test can find
	// (and cut) their connections.
	c.appName = "tobira-" + filepath.Base(dir)
	cfg := map[string]any{
		"base_url":        c.LB,
		"database":        c.db + "&application_name=" + c.appName,
		"secret_key":      secret.NewKey(),
		"trusted_proxies": []string{"127.0.0.1"},
		"console_addr":    "off",
		// The cheapest hashing: these tests are about the nodes, not
		// about argon2id.
		"argon2":           map[string]any{"memory_kib": 8, "time": 1, "threads": 1},
		"hash_concurrency": 2,
		"database_pool":    map[string]any{"max_open_conns": 8, "max_idle_conns": 8, "conn_max_lifetime": "30m", "conn_max_idle_time": "5m"},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	c.config = filepath.Join(dir, "tobira.json")
	if err := os.WriteFile(c.config, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// The nodes start at once: their migrations take turns on the
	// advisory lock.
	var wg sync.WaitGroup
	c.nodes = make([]*node, nodes)
	for i := range c.nodes {
		c.nodes[i] = &node{name: fmt.Sprintf("node%d", i+1)}
		wg.Go(func() { c.startNode(c.nodes[i]) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// haproxy: round robin, no stickiness; a node that stops answering
	// /readyz leaves the rotation within a second, and a request whose
	// connection fails is sent to another node. A request the dead node
	// had taken is not sent again (it may have been done): its customer
	// sees an error and tries again.
	var servers strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&servers, "    server %s %s check inter 300ms fall 2 rise 2\n", n.name, strings.TrimPrefix(n.URL, "http://"))
	}
	hcfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(hcfg, []byte(`global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option forwardfor
    retries 3
    option redispatch 1
    retry-on conn-failure
frontend portal
    bind `+strings.TrimPrefix(c.LB, "http://")+`
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
`+servers.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	c.haproxy = exec.Command(haproxy, "-db", "-f", hcfg)
	c.haproxy.Stdout, c.haproxy.Stderr = logf, logf
	lbPort.Close()
	if err := c.haproxy.Start(); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	t.Cleanup(func() {
		c.haproxy.Process.Kill()
		c.haproxy.Wait()
		logf.Close()
	})
	waitReady(t, c.LB)
	return c
}

// startNode starts n and waits until it is ready.
func (c *cluster) startNode(n *node) {
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(c.t))
	n.URL = "http://" + addr
	if n.start(c.t, c.bin, filepath.Join(c.logs, n.name+".log"),
		"serve", "--config", c.config, "--data", filepath.Join(c.logs, n.name), "--addr", addr) {
		waitReady(c.t, n.URL)
	}
}

// start runs the tobira binary bin with args as n, its output in logPath;
// when the test ends it stops n as SIGTERM would, and prints the end of
// its log if the test failed. It reports whether n started.
func (n *node) start(t *testing.T, bin, logPath string, args ...string) bool {
	logf, err := os.Create(logPath)
	if err != nil {
		t.Error(err)
		return false
	}
	n.cmd = exec.Command(bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.done = make(chan struct{})
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		t.Errorf("%s: %v", n.name, err)
		return false
	}
	cmd, done := n.cmd, n.done
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s's log:\n%s", n.name, lastLines(string(b), 40))
		}
	})
	return true
}

// waitReady waits for url's /readyz.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s never became ready: %v", url, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops n at once, as a crash or a pulled plug would.
func (n *node) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// run runs a tobira command on the cluster's database and returns its
// output.
func (c *cluster) run(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(args, "--config", c.config, "--data", filepath.Join(c.logs, "cli"))...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("tobira %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// createUser opens an account and returns its first-password link.
func (c *cluster) createUser(email string) string {
	c.t.Helper()
	out := c.run("users", "create", "--email", email, "--name", "顧客 "+email)
	link := regexp.MustCompile(`https?://\S+`).FindString(lastLines(out, 3))
	if link == "" {
		c.t.Fatalf("users create printed no link:\n%s", out)
	}
	return link
}

// createClient registers an OpenID Connect client and returns its id and
// secret.
func (c *cluster) createClient(name, redirect string) (id, secret string) {
	c.t.Helper()
	out := c.run("clients", "create", "--name", name, "--redirect-uri", redirect)
	return fieldOf(c.t, out, "client_id"), fieldOf(c.t, out, "client_secret")
}

// fieldOf reads "name: value" (or "name=value") from a command's output.
func fieldOf(t *testing.T, out, name string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, sep := range []string{":", "="} {
			if v, ok := strings.CutPrefix(line, name+sep); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	t.Fatalf("no %s in:\n%s", name, out)
	return ""
}

// scenario is a test's context with a deadline for one scenario.
func scenario(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
