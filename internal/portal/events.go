package portal

import (
	"cmp"
	"slices"
	"sync"
)

// EventCounts counts the audit events the process has committed since it
// started (Service.Record), by action and outcome, for /metrics: sign-ins
// and their failures, codes, resets, recovery requests and the operators'
// actions. An event is counted once the unit that records it has
// committed, so a unit run again after it lost a race counts once.
type EventCounts struct {
	mu sync.Mutex
	m  map[eventKey]int64
}

type eventKey struct{ action, outcome string }

// EventCount is one action and outcome's count.
type EventCount struct {
	Action, Outcome string
	N               int64
}

// add counts one event; a service made without New counts none.
func (c *EventCounts) add(action, outcome string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[eventKey]int64)
	}
	c.m[eventKey{action, outcome}]++
}

// Snapshot returns the counts by action, then outcome.
func (c *EventCounts) Snapshot() []EventCount {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	out := make([]EventCount, 0, len(c.m))
	for k, n := range c.m {
		out = append(out, EventCount{k.action, k.outcome, n})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b EventCount) int {
		return cmp.Or(cmp.Compare(a.Action, b.Action), cmp.Compare(a.Outcome, b.Outcome))
	})
	return out
}
