package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/tobira/tobira/internal/buildinfo"
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
// counters are no business of the internet.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if ip, err := netip.ParseAddr(webkit.ClientIP(r)); err != nil || !ip.IsLoopback() {
		s.fail(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintln(w, "# HELP tobira_http_responses_total HTTP responses by status class.")
	fmt.Fprintln(w, "# TYPE tobira_http_responses_total counter")
	for c := 1; c <= 5; c++ {
		fmt.Fprintf(w, "tobira_http_responses_total{class=\"%dxx\"} %d\n", c, s.stats.classes[c].Load())
	}
	fmt.Fprintln(w, "# HELP tobira_build_info The running build, in its labels; always 1.")
	fmt.Fprintln(w, "# TYPE tobira_build_info gauge")
	fmt.Fprintf(w, "tobira_build_info{version=%q,revision=%q,goversion=%q} 1\n", thisBuild.Version, thisBuild.Revision, thisBuild.Go)
	snap := s.svc.SendStats.Snapshot()
	fmt.Fprintln(w, "# HELP tobira_phone_codes_total Codes sent to phones, by channel and result.")
	fmt.Fprintln(w, "# TYPE tobira_phone_codes_total counter")
	for _, ch := range []string{"sms", "voice"} {
		for _, result := range []string{"sent", "failed"} {
			fmt.Fprintf(w, "tobira_phone_codes_total{channel=%q,result=%q} %d\n", ch, result, snap[ch+"_"+result])
		}
	}
}
