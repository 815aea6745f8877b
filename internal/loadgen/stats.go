package loadgen

import (
	"errors"
	"slices"
	"sort"
	"sync"
	"time"
)

// Recorder collects what customers' Observe hooks report: the latencies of
// the steps that went well, per step, the others' errors by Kind, and the
// requests cut by their level's end apart. It is safe for concurrent use:
// give its Observe to every customer.
type Recorder struct {
	mu     sync.Mutex
	lat    map[string][]time.Duration
	errors map[string]int
	cut    int
}

// Observe records one step; it is a Customer's Observe.
func (r *Recorder) Observe(step string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.Is(err, ErrLevelEnd) {
		r.cut++
		return
	}
	if err != nil {
		if r.errors == nil {
			r.errors = map[string]int{}
		}
		r.errors[Kind(err)]++
		return
	}
	if r.lat == nil {
		r.lat = map[string][]time.Duration{}
	}
	r.lat[step] = append(r.lat[step], d)
}

// Latencies summarise one step.
type Latencies struct {
	Count         int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// Steps returns the summary of every step that went well at least once.
func (r *Recorder) Steps() map[string]Latencies {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Latencies, len(r.lat))
	for step, ds := range r.lat {
		out[step] = Summarise(ds)
	}
	return out
}

// Cut returns how many requests their level's end cut (Level), which are
// not among the errors.
func (r *Recorder) Cut() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut
}

// Errors returns how often each kind of error happened.
func (r *Recorder) Errors() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.errors))
	for k, n := range r.errors {
		out[k] = n
	}
	return out
}

// Summarise sorts a copy of ds and takes its percentiles (nearest rank).
func Summarise(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Latencies{Count: len(s), P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: s[len(s)-1]}
}

// SortedKinds lists error kinds, most frequent first.
func SortedKinds(errs map[string]int) []string {
	kinds := make([]string, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if errs[kinds[i]] != errs[kinds[j]] {
			return errs[kinds[i]] > errs[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	return kinds
}
