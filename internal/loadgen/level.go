package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// LevelGrace is how long the requests still in flight at the end of a
// level's duration may go on: one the server answers within it counts as
// any other; one it does not is canceled, and counted as cut by the level's
// end (Recorder.Cut), not as an error of the server. Without it, a level
// against a server that stops answering lasted until the customers'
// request timeout (two minutes).
const LevelGrace = 2 * time.Second

// ErrLevelEnd is what a request cut by its level's end failed with (a
// StepError wraps it).
var ErrLevelEnd = errors.New("cut by the level's end")

// Level is one level of load: Workers virtual customers at once, each
// running Iteration again and again until Duration is over, or, with Count
// above 0, until Count iterations have started in all (each then runs to
// its end).
type Level struct {
	Workers  int
	Duration time.Duration
	Count    int
	// Grace replaces LevelGrace when above 0.
	Grace time.Duration
	// Wait, when set, is called before each iteration with the context
	// that ends with the level's duration; false stops the worker (a
	// pace whose next start falls after the level's end).
	Wait func(until context.Context) bool
	// Iteration runs worker w's next iteration. Its requests take reqs,
	// canceled with the cause ErrLevelEnd a grace after the level's end;
	// what only waits (for an account, say) takes until, which ends with
	// the level's duration. With Count both are Run's ctx. False stops
	// the worker.
	Iteration func(reqs, until context.Context, w int) bool
}

// Run runs the level and returns how long it took: at most its duration
// and the grace, whatever the server does, or until ctx ends.
func (l Level) Run(ctx context.Context) time.Duration {
	start := time.Now()
	reqs, until := ctx, ctx
	if l.Count <= 0 {
		grace := l.Grace
		if grace <= 0 {
			grace = LevelGrace
		}
		end := start.Add(l.Duration)
		var cancel, cancelReqs context.CancelFunc
		until, cancel = context.WithDeadline(ctx, end)
		defer cancel()
		reqs, cancelReqs = context.WithDeadlineCause(ctx, end.Add(grace), ErrLevelEnd)
		defer cancelReqs()
	}
	var started atomic.Int64
	more := func() bool {
		if ctx.Err() != nil || (l.Wait != nil && !l.Wait(until)) {
			return false
		}
		if l.Count > 0 {
			return started.Add(1) <= int64(l.Count)
		}
		return until.Err() == nil
	}
	var wg sync.WaitGroup
	for w := range l.Workers {
		wg.Go(func() {
			for more() {
				if !l.Iteration(reqs, until, w) {
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// cutByLevelEnd says a request that failed with err under ctx was cut by
// its level's end (Level.Run), and wraps err so.
func cutByLevelEnd(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrLevelEnd) {
		return &levelEndError{err}
	}
	return err
}

type levelEndError struct{ err error }

func (e *levelEndError) Error() string   { return ErrLevelEnd.Error() + ": " + e.err.Error() }
func (e *levelEndError) Unwrap() []error { return []error{ErrLevelEnd, e.err} }
