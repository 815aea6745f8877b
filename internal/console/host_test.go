package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/store"
)

// TestHostChecked: the console answers at an IP address, at localhost and
// at the names of console_hosts; a request naming another host, as a page
// that pointed a DNS name of its own at the console would send (DNS
// rebinding), gets a page saying where the console opens, and its
// password is not tried.
func TestHostChecked(t *testing.T) {
	s := newSite(t)
	s.operator("boss@tobira.example", store.RoleAdmin)
	s.svc.Config.ConsoleHosts = []string{"Console.Mgmt.example.jp"}
	h, err := console.New(console.Deps{Svc: s.svc, Operators: s.db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	events := func() int {
		evs, err := s.db.ListAudit(t.Context(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	do := func(host, method string) (*http.Response, string) {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader(url.Values{"email": {"boss@tobira.example"}, "password": {"guess"}}.Encode())
		}
		req, err := http.NewRequest(method, srv.URL+"/login", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, host := range []string{"127.0.0.1:8090", "[::1]:8090", "10.0.0.7", "localhost:8090", "LocalHost.:8090",
		"console.mgmt.example.jp:8090", "console.mgmt.example.jp."} {
		if resp, body := do(host, "GET"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Errorf("Host %s: %d, want the sign-in page", host, resp.StatusCode)
		}
	}
	before := events()
	for _, host := range []string{"rebind.example:8090", "127.0.0.1.nip.example", "localhost.example", "mgmt.example.jp"} {
		for _, method := range []string{"GET", "POST"} {
			resp, body := do(host, method)
			if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, "オペレーターコンソールを開けません") ||
				!strings.Contains(body, "console_hosts") || strings.Contains(body, `name="password"`) {
				t.Errorf("%s with Host %s: %d, want 421 and the page saying where the console opens\n%s", method, host, resp.StatusCode, body)
			}
		}
	}
	if resp, body := do("rebind.example:8090", "GET"); !strings.Contains(body, "http://localhost:8090/") {
		t.Errorf("the refusal names no address with the console's port: %d\n%s", resp.StatusCode, body)
	}
	// The health check answers under any name (a container's probe).
	req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
	req.Host = "tobira:8090"
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz under a service name: %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if n := events(); n != before {
		t.Errorf("requests for another host left %d audit events: a password was tried", n-before)
	}
}
