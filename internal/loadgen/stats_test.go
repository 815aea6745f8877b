package loadgen_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/loadgen"
)

// TestSummarise checks the nearest-rank percentiles on known samples: the
// p-th percentile of n sorted samples is the ceil(p*n)-th.
func TestSummarise(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		var ds []time.Duration
		for _, v := range vs {
			ds = append(ds, time.Duration(v)*time.Millisecond)
		}
		return ds
	}
	seq := func(n int) []time.Duration {
		var vs []int
		for i := n; i >= 1; i-- { // unsorted: descending
			vs = append(vs, i)
		}
		return ms(vs...)
	}
	for _, tc := range []struct {
		name               string
		in                 []time.Duration
		p50, p95, p99, max int
	}{
		{"one", ms(7), 7, 7, 7, 7},
		{"two", ms(9, 1), 1, 9, 9, 9},
		{"three", ms(3, 1, 2), 2, 3, 3, 3},
		{"ten", seq(10), 5, 10, 10, 10},
		{"twenty", seq(20), 10, 19, 20, 20},
		{"sixty", seq(60), 30, 57, 60, 60},
		{"hundred and one", seq(101), 51, 96, 100, 101},
		{"thousand", seq(1000), 500, 950, 990, 1000},
		{"ties", ms(5, 5, 5, 5, 1), 5, 5, 5, 5},
	} {
		in := append([]time.Duration(nil), tc.in...)
		l := loadgen.Summarise(tc.in)
		want := loadgen.Latencies{Count: len(tc.in), P50: time.Duration(tc.p50) * time.Millisecond,
			P95: time.Duration(tc.p95) * time.Millisecond, P99: time.Duration(tc.p99) * time.Millisecond,
			Max: time.Duration(tc.max) * time.Millisecond}
		if l != want {
			t.Errorf("%s: %+v, want %+v", tc.name, l, want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("%s: the samples were reordered", tc.name)
				break
			}
		}
	}
	if l := loadgen.Summarise(nil); l != (loadgen.Latencies{}) {
		t.Errorf("no samples: %+v", l)
	}
}

// TestOIDCErrorsObserved: a code flow that fails after a request that
// went well (the client got an error instead of a code, or the portal
// redirects in a loop) is an error the recorder counts, by kind.
func TestOIDCErrorsObserved(t *testing.T) {
	const callback = "http://127.0.0.1:9/bench/callback"
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, callback+"?error=server_error&error_description=broken&state="+r.URL.Query().Get("state"), http.StatusFound)
	}))
	t.Cleanup(refusing.Close)
	looping := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
	}))
	t.Cleanup(looping.Close)
	for _, tc := range []struct{ base, kind string }{
		{refusing.URL, "callback: redirect with error=server_error"},
		{looping.URL, "authorize: redirect to /authorize"},
	} {
		var rec loadgen.Recorder
		c := loadgen.NewCustomer("a@example.jp", "password", "")
		c.Observe = rec.Observe
		err := c.OIDCCodeFlow(t.Context(), tc.base, loadgen.OIDCClient{ID: "site", RedirectURI: callback})
		if err == nil {
			t.Fatalf("%s: no error", tc.kind)
		}
		if errs := rec.Errors(); len(errs) != 1 || errs[tc.kind] != 1 {
			t.Errorf("errors counted %v, want one %q (the flow's error: %v, kind %q)", errs, tc.kind, err, loadgen.Kind(err))
		}
	}
}
