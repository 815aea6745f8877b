package testkit

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Mailpit is a mailpit process, a real SMTP server, on free ports of
// 127.0.0.1, read back through its HTTP API. Stop and Start keep its ports
// and its database.
type Mailpit struct {
	t                  testing.TB
	bin                string
	args               []string
	SMTPPort, HTTPPort int
	cmd                *exec.Cmd
	exited             chan error // the running process's end
	out                *Buffer
}

// StartMailpit starts mailpit with args besides the ports and database, and
// stops it when the test ends.
func StartMailpit(t testing.TB, args ...string) *Mailpit {
	t.Helper()
	m := &Mailpit{t: t, bin: MailpitBin(t), SMTPPort: FreePort(t), HTTPPort: FreePort(t)}
	m.args = append([]string{
		"--smtp", "127.0.0.1:" + strconv.Itoa(m.SMTPPort),
		"--listen", "127.0.0.1:" + strconv.Itoa(m.HTTPPort),
		"--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--smtp-disable-rdns",
	}, args...)
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start runs mailpit again after Stop, and waits until it answers.
func (m *Mailpit) Start() {
	m.t.Helper()
	m.out = &Buffer{}
	m.cmd = exec.Command(m.bin, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(m.cmd, m.exited)
	deadline := time.Now().Add(15 * time.Second)
	for !m.ready() {
		select {
		case err := <-m.exited:
			m.cmd = nil
			m.t.Fatalf("mailpit exited: %v\n%s", err, m.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Stop()
			m.t.Fatalf("mailpit not ready after 15 s:\n%s", m.out)
		}
	}
}

// ready reports whether both the API and the SMTP port answer.
func (m *Mailpit) ready() bool {
	resp, err := http.Get(m.API("/readyz"))
	if err != nil {
		return false
	}
	resp.Body.Close()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(m.SMTPPort))
	if err != nil {
		return false
	}
	c.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop ends mailpit as a service manager would: SIGTERM, then SIGKILL.
func (m *Mailpit) Stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// API is the address of path on mailpit's HTTP API.
func (m *Mailpit) API(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(m.HTTPPort) + path
}

// Raw is the body of GET path, which must answer 200.
func (m *Mailpit) Raw(path string) []byte {
	m.t.Helper()
	resp, err := http.Get(m.API(path))
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	return b
}

// Get decodes the JSON of GET path into v.
func (m *Mailpit) Get(path string, v any) {
	m.t.Helper()
	if err := json.Unmarshal(m.Raw(path), v); err != nil {
		m.t.Fatalf("GET %s: %v", path, err)
	}
}
