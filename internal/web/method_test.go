package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/buildinfo"
)

// A known page asked with the wrong method gets 405 with its methods; an
// unknown page 404; both in the customer's language, with a request id.
// The 405 is the console's and the customer sites' (webkit.OtherMethods):
// the same methods, in the same order, and the same words.
func TestMethodsAndUnknownPages(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	for _, tc := range []struct {
		method, path string
		status       int
		allow, text  string
		lang         string
	}{
		{http.MethodPut, "/login", http.StatusMethodNotAllowed, "GET, HEAD, POST", "この操作はこのページでは行えません。", ""},
		{http.MethodGet, "/logout", http.StatusMethodNotAllowed, "POST", "この操作はこのページでは行えません。", ""},
		{http.MethodHead, "/logout", http.StatusMethodNotAllowed, "POST", "", ""},
		{http.MethodDelete, "/", http.StatusMethodNotAllowed, "GET, HEAD", "この操作はこのページでは行えません。", ""},
		{http.MethodPost, "/security", http.StatusMethodNotAllowed, "GET, HEAD", "この操作はこのページでは行えません。", ""},
		// A static file is a page of its own too, as on the other sites.
		{http.MethodPost, "/static/app.js", http.StatusMethodNotAllowed, "GET, HEAD", "この操作はこのページでは行えません。", ""},
		{http.MethodPut, "/login", http.StatusMethodNotAllowed, "GET, HEAD, POST", "This action is not available on this page.", "en"},
		{http.MethodGet, "/no-such-page", http.StatusNotFound, "", "お探しのページは見つかりませんでした。", ""},
		{http.MethodPut, "/no-such-page", http.StatusNotFound, "", "お探しのページは見つかりませんでした。", ""},
		{http.MethodGet, "/static/no-such-file.css", http.StatusNotFound, "", "お探しのページは見つかりませんでした。", ""},
		{http.MethodGet, "/static/", http.StatusNotFound, "", "お探しのページは見つかりませんでした。", ""},
	} {
		req, err := http.NewRequestWithContext(s.ctx, tc.method, s.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.lang != "" {
			req.Header.Set("Accept-Language", tc.lang)
		}
		r := b.do(req)
		expect(t, r, tc.status, "")
		if got := r.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		contains(t, r, tc.text)
		if r.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no X-Request-Id", tc.method, tc.path)
		}
	}
}

// /metrics answers the loopback only, in Prometheus's text format.
func TestMetrics(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	r := b.get("/metrics")
	expect(t, r, http.StatusOK, "")
	build := buildinfo.Read()
	contains(t, r, `tobira_http_responses_total{class="2xx"}`, `tobira_phone_codes_total{channel="sms",result="sent"} 0`,
		fmt.Sprintf(`tobira_build_info{version=%q,revision=%q,goversion=%q} 1`, build.Version, build.Revision, build.Go))

	contains(t, r, "tobira_password_hash_slots ", "tobira_password_hash_busy_total 0", "tobira_mails_pending ",
		"# TYPE tobira_password_hash_seconds summary", "tobira_password_hash_seconds_sum ", "tobira_password_hash_seconds_count ",
		"process_resident_memory_bytes ", "process_cpu_seconds_total ", "go_goroutines ")

	// A first sign-in (with its enrolment), a second one and a wrong
	// password, each event counted once as committed.
	c := s.customer("yamada@example.jp")
	other := s.browser()
	other.enrol(c)
	other.signIn(c)
	wrong := other.post("/login", url.Values{"email": {c.email}, "password": {"not the password"}})
	expect(t, wrong, http.StatusUnauthorized, "")
	r = b.get("/metrics")
	contains(t, r, `tobira_events_total{action="signin.password",outcome="ok"} 2`,
		`tobira_events_total{action="signin.password",outcome="fail"} 1`,
		`tobira_events_total{action="signin",outcome="ok"} 2`, `tobira_events_total{action="mfa.enrol",outcome="ok"} 1`,
		`tobira_events_total{action="mfa.totp",outcome="ok"} 1`)

	// The database's figures: SQLite's readers' pool, its writer's batches
	// and the syncs of its log, which the sign-ins' commits waited for.
	contains(t, r, `tobira_db_connections{pool="readers",state="in_use"} `, `tobira_db_connections{pool="readers",state="max"} `,
		`tobira_db_connection_waits_total{pool="readers"} `, `tobira_db_connection_wait_seconds_total{pool="readers"} `,
		"tobira_db_transactions_retried_total 0", "tobira_db_writes_waiting 0")
	for _, name := range []string{"tobira_db_write_batches_total", "tobira_db_log_syncs_total"} {
		if n := metricValue(t, r.text(), name); n < 3 {
			t.Errorf("%s = %v after two sign-ins and an enrolment, want at least 3", name, n)
		}
	}

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "203.0.113.9:4444"
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("/metrics from outside: %d, want 404", rec.Code)
	}
}

// metricValue is the value of the unlabelled metric name in a /metrics
// answer.
func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return n
		}
	}
	t.Fatalf("/metrics lacks %s", name)
	return 0
}

// /metrics refuses a request a proxy forwarded, though it comes from the
// loopback (a proxy on the node, not in trusted_proxies): its events by
// outcome tell whether an address has an account.
func TestMetricsNotThroughAProxy(t *testing.T) {
	s := newSite(t)
	for _, h := range [][2]string{
		{"X-Forwarded-For", "203.0.113.9"}, {"Forwarded", "for=203.0.113.9"}, {"X-Real-IP", "203.0.113.9"},
		{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "id.example.jp"},
	} {
		r := s.browser().get("/metrics", h[0], h[1])
		expect(t, r, http.StatusNotFound, "")
		if strings.Contains(r.body, "tobira_events_total") {
			t.Fatalf("/metrics through a proxy (%s) shows the counters", h[0])
		}
	}
	expect(t, s.browser().get("/metrics"), http.StatusOK, "")
}
