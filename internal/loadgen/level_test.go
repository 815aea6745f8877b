package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/loadgen"
)

// A level against a server that stops answering ends a grace after its
// duration, not at the customers' request timeout: the requests still in
// flight are cut, counted apart from the server's errors.
func TestLevelCutsRequestsAtItsEnd(t *testing.T) {
	arrived := make(chan struct{}, 16)
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		// Never answers: the client's cancel ends it, or the test's end.
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)

	rec := &loadgen.Recorder{}
	var iterations atomic.Int64
	l := loadgen.Level{
		Workers: 2, Duration: time.Second, Grace: 100 * time.Millisecond,
		Iteration: func(reqs, _ context.Context, _ int) bool {
			iterations.Add(1)
			c := loadgen.NewCustomer("yamada@example.jp", "pw", "JBSWY3DPEHPK3PXP")
			c.HTTP.Timeout = 10 * time.Minute
			c.Observe = rec.Observe
			c.StartSignIn(reqs, srv.URL)
			return true
		},
	}
	done := make(chan struct{})
	go func() {
		l.Run(t.Context())
		close(done)
	}()
	// Far below the requests' 10 minutes, far above the level's second
	// and grace on a loaded machine.
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the level waited for its requests' timeout")
	}
	if n := len(arrived); n != 2 {
		t.Errorf("%d requests reached the server, want one per worker", n)
	}
	if got := iterations.Load(); got != 2 {
		t.Errorf("%d iterations, want 2: none starts after the level's end", got)
	}
	if got := rec.Cut(); got != 2 {
		t.Errorf("Cut() = %d, want the 2 requests in flight", got)
	}
	if errs := rec.Errors(); len(errs) != 0 {
		t.Errorf("errors %v: a request cut by the level's end is no error of the server", errs)
	}
}

// A request the server answers within the grace counts as usual; Count
// runs its iterations to their end, with nothing cut.
func TestLevelCountIsNotCut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	rec := &loadgen.Recorder{}
	var runs atomic.Int64
	l := loadgen.Level{
		Workers: 3, Count: 4,
		Iteration: func(reqs, until context.Context, _ int) bool {
			if reqs != until {
				t.Error("with Count, the requests' and the waits' contexts differ")
			}
			// The three workers' first requests wait for one another.
			if runs.Add(1) == 3 {
				close(release)
			}
			c := loadgen.NewCustomer("yamada@example.jp", "pw", "JBSWY3DPEHPK3PXP")
			c.Observe = rec.Observe
			c.StartSignIn(reqs, srv.URL)
			return true
		},
	}
	l.Run(t.Context())
	if got := runs.Load(); got != 4 {
		t.Errorf("%d iterations, want Count's 4", got)
	}
	if rec.Cut() != 0 || rec.Errors()["login-page: status 503"] != 4 {
		t.Errorf("cut %d, errors %v: want none cut, 4 answers of 503", rec.Cut(), rec.Errors())
	}
}
