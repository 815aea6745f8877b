// Package testkit holds small fakes the tests of several packages share. It
// is imported only from tests.
package testkit

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/notify"
)

// Clock is a clock that moves only when told; its Now is a service's clock in tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Buffer is an output stream a running server may write to while a test
// reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Sender is a phone code sender that keeps every code it is given; a
// failure set with SetFail makes sends fail (the provider is down).
type Sender struct {
	mu   sync.Mutex
	sent []notify.Code
	fail func(notify.Code) error
}

// Send records c, or fails as SetFail said.
func (r *Sender) Send(_ context.Context, c notify.Code) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(c); err != nil {
			return err
		}
	}
	r.sent = append(r.sent, c)
	return nil
}

// Count is how many codes were sent.
func (r *Sender) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

// SetFail decides, per code, whether a send fails; nil lets all through.
func (r *Sender) SetFail(f func(notify.Code) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

// Last is the latest code sent; the test fails when none was.
func (r *Sender) Last(t testing.TB) notify.Code {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		t.Fatal("no code was sent")
	}
	return r.sent[len(r.sent)-1]
}
