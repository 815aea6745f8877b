package web

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tobira/tobira/internal/buildinfo"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// thisBuild labels tobira_build_info, so that a dashboard shows which
// version each node runs during an upgrade.
var thisBuild = buildinfo.Read()

// httpStats counts answers by status class, for /metrics.
type httpStats struct {
	classes [6]atomic.Int64 // index: status / 100
}

func (h *httpStats) record(status int) {
	if c := status / 100; c >= 1 && c <= 5 {
		h.classes[c].Add(1)
	}
}

// metrics serves counters in Prometheus's text format. It answers only on
// the loopback interface: a scraper runs beside the process, and the
// counters are no business of the internet. A request a proxy forwarded is
// none of the scraper's, though it comes from the loopback when the proxy
// runs on the node and is not in trusted_proxies: its events by outcome
// would tell anyone whether an address has an account (a forgotten
// password's request counted "ok" or "unknown").
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if ip, err := netip.ParseAddr(webkit.ClientIP(r)); err != nil || !ip.IsLoopback() || forwarded(r) {
		s.fail(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	family(w, "tobira_http_responses_total", "counter", "HTTP responses by status class.")
	for c := 1; c <= 5; c++ {
		fmt.Fprintf(w, "tobira_http_responses_total{class=\"%dxx\"} %d\n", c, s.stats.classes[c].Load())
	}
	family(w, "tobira_build_info", "gauge", "The running build, in its labels; always 1.")
	fmt.Fprintf(w, "tobira_build_info{version=%q,revision=%q,goversion=%q} 1\n", thisBuild.Version, thisBuild.Revision, thisBuild.Go)

	family(w, "tobira_events_total", "counter", "Audit events this process committed (sign-in steps, codes, resets, recovery requests, the console's actions), by action and outcome.")
	for _, e := range s.svc.Events.Snapshot() {
		fmt.Fprintf(w, "tobira_events_total{action=%q,outcome=%q} %d\n", e.Action, e.Outcome, e.N)
	}
	h := s.svc.Hasher
	family(w, "tobira_password_hash_slots", "gauge", "Password hashes that may run at once (hash_concurrency).")
	fmt.Fprintf(w, "tobira_password_hash_slots %d\n", h.Slots())
	family(w, "tobira_password_hashes_running", "gauge", "Password hashes running now.")
	fmt.Fprintf(w, "tobira_password_hashes_running %d\n", h.Running())
	family(w, "tobira_password_hash_queue", "gauge", "Requests waiting for a hashing slot now (at most hash_queue).")
	fmt.Fprintf(w, "tobira_password_hash_queue %d\n", h.Waiting())
	family(w, "tobira_password_hash_busy_total", "counter", "Requests answered busy (503) because the hashing queue was full or its wait ran out.")
	fmt.Fprintf(w, "tobira_password_hash_busy_total %d\n", h.Busy())
	n, took := h.Hashed()
	family(w, "tobira_password_hash_seconds", "summary", "Time the password hashes took, not counting their wait for a slot.")
	fmt.Fprintf(w, "tobira_password_hash_seconds_sum %g\ntobira_password_hash_seconds_count %d\n", took.Seconds(), n)

	snap := s.svc.SendStats.Snapshot()
	family(w, "tobira_phone_codes_total", "counter", "Codes sent to phones, by channel and result.")
	for _, ch := range []string{"sms", "voice"} {
		for _, result := range []string{"sent", "failed"} {
			fmt.Fprintf(w, "tobira_phone_codes_total{channel=%q,result=%q} %d\n", ch, result, snap[ch+"_"+result])
		}
	}
	// The queue is the database's, the same on every node.
	if n, err := s.svc.Store.MailsPending(r.Context()); err != nil {
		s.log.Warn("metrics: mails pending", "err", err)
	} else {
		family(w, "tobira_mails_pending", "gauge", "Mails queued and neither sent nor given up yet (all nodes).")
		fmt.Fprintf(w, "tobira_mails_pending %d\n", n)
	}
	if s.oidc != nil {
		ts := s.svc.TokenStats.Snapshot()
		family(w, "tobira_oauth_failures_total", "counter", "Requests at the token, introspection and revocation endpoints that this process answered invalid_client (a client that did not authenticate) or invalid_grant (a code or refresh token refused), by error.")
		fmt.Fprintf(w, "tobira_oauth_failures_total{error=\"invalid_client\"} %d\n", ts.InvalidClient)
		fmt.Fprintf(w, "tobira_oauth_failures_total{error=\"invalid_grant\"} %d\n", ts.InvalidGrant)
		family(w, "tobira_oauth_throttled_total", "counter", "Requests at those endpoints that this process refused (429) for the failures of their address before them.")
		fmt.Fprintf(w, "tobira_oauth_throttled_total %d\n", ts.Refused)
		st := s.oidc.LogoutStats()
		family(w, "tobira_backchannel_logouts_total", "counter", "Back-channel logout tokens this process posted, by outcome: told (the site took it), failed (it did not, after the post's tries), given_up (a site that took none for a day, told no more).")
		fmt.Fprintf(w, "tobira_backchannel_logouts_total{outcome=\"told\"} %d\n", st.Told)
		fmt.Fprintf(w, "tobira_backchannel_logouts_total{outcome=\"failed\"} %d\n", st.Failed)
		fmt.Fprintf(w, "tobira_backchannel_logouts_total{outcome=\"given_up\"} %d\n", st.GaveUp)
		// Like the mail queue, the database's, the same on every node.
		if n, err := s.svc.Store.LogoutsPending(r.Context()); err != nil {
			s.log.Warn("metrics: logouts pending", "err", err)
		} else {
			family(w, "tobira_backchannel_logouts_pending", "gauge", "Back-channel logout tokens of ended portal sessions that no site took yet, and not given up (all nodes).")
			fmt.Fprintf(w, "tobira_backchannel_logouts_pending %d\n", n)
		}
	}
	if db, ok := s.svc.Store.(interface{ Stats() store.Stats }); ok {
		dbMetrics(w, db.Stats())
	}
	if s.certExpiry != nil {
		family(w, "tobira_tls_certificate_expiry_timestamp_seconds", "gauge", "When the TLS certificate this node serves ends, in seconds since 1970 (tls_cert_file).")
		fmt.Fprintf(w, "tobira_tls_certificate_expiry_timestamp_seconds %d\n", s.certExpiry().Unix())
	}
	processMetrics(w)
}

// dbMetrics writes the database's figures: what its pools hold and wait
// for, the transactions run again, and on SQLite its writer's.
func dbMetrics(w io.Writer, st store.Stats) {
	family(w, "tobira_db_connections", "gauge", "Connections to the database by pool and state (in_use, idle), and the pool's limit (max).")
	for _, p := range st.Pools {
		fmt.Fprintf(w, "tobira_db_connections{pool=%q,state=\"in_use\"} %d\n", p.Name, p.InUse)
		fmt.Fprintf(w, "tobira_db_connections{pool=%q,state=\"idle\"} %d\n", p.Name, p.Idle)
		fmt.Fprintf(w, "tobira_db_connections{pool=%q,state=\"max\"} %d\n", p.Name, p.Max)
	}
	family(w, "tobira_db_connection_waits_total", "counter", "Times a statement waited for a free connection of the pool: a pool too small for the load.")
	for _, p := range st.Pools {
		fmt.Fprintf(w, "tobira_db_connection_waits_total{pool=%q} %d\n", p.Name, p.Waits)
	}
	family(w, "tobira_db_connection_wait_seconds_total", "counter", "Time statements waited for a free connection of the pool, in all.")
	for _, p := range st.Pools {
		fmt.Fprintf(w, "tobira_db_connection_wait_seconds_total{pool=%q} %g\n", p.Name, p.WaitTime.Seconds())
	}
	family(w, "tobira_db_transactions_retried_total", "counter", "Transactions run again (PostgreSQL): after a serialization failure or a deadlock, a race lost to another, or on a connection the server had ended.")
	fmt.Fprintf(w, "tobira_db_transactions_retried_total %d\n", st.Retried)
	if wr := st.Writer; wr != nil {
		family(w, "tobira_db_write_batches_total", "counter", "SQLite: transactions of the one writer, each the writes of every caller waiting at that moment.")
		fmt.Fprintf(w, "tobira_db_write_batches_total %d\n", wr.Batches)
		family(w, "tobira_db_writes_waiting", "gauge", "SQLite: writes sent to the one writer and not yet answered.")
		fmt.Fprintf(w, "tobira_db_writes_waiting %d\n", wr.Waiting)
		family(w, "tobira_db_log_syncs_total", "counter", "SQLite with sqlite_synchronous full: syncs of the write-ahead log, each making the batches committed before it durable.")
		fmt.Fprintf(w, "tobira_db_log_syncs_total %d\n", wr.LogSyncs)
	}
}

// forwarded reports whether r names a client a proxy forwarded it for.
func forwarded(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if _, ok := r.Header[h]; ok {
			return true
		}
	}
	return false
}

// family writes the header of a metric family.
func family(w io.Writer, name, kind, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

// processStart is when the process started, near enough: when this
// package was initialised.
var processStart = time.Now()

// processMetrics writes the process's own figures under the names
// Prometheus's client libraries give them, so that common dashboards work.
func processMetrics(w io.Writer) {
	if cpu, ok := processCPU(); ok {
		family(w, "process_cpu_seconds_total", "counter", "CPU time the process used, user and system.")
		fmt.Fprintf(w, "process_cpu_seconds_total %g\n", cpu.Seconds())
	}
	if rss, ok := residentBytes(); ok {
		family(w, "process_resident_memory_bytes", "gauge", "Memory the process holds in RAM.")
		fmt.Fprintf(w, "process_resident_memory_bytes %d\n", rss)
	}
	family(w, "process_start_time_seconds", "gauge", "When the process started, in seconds since 1970.")
	fmt.Fprintf(w, "process_start_time_seconds %d\n", processStart.Unix())
	family(w, "go_goroutines", "gauge", "Goroutines that exist now.")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
}

// residentBytes reads the process's resident set from /proc (Linux).
func residentBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return 0, false
	}
	return resident * int64(os.Getpagesize()), true
}
