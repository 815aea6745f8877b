// Package maintenance is the schedule of maintenance windows: what the
// operators' commands (and later the console) call to schedule and cancel
// them, what pages ask to warn customers during the days before, and the
// middleware that answers with a maintenance page while a window lasts.
package maintenance

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tobira/tobira/internal/store"
)

// Window is one scheduled maintenance window.
type Window = store.MaintenanceWindow

// NoticePeriod is how long before a window customers are told of it.
const NoticePeriod = 7 * 24 * time.Hour

// DefaultTTL is how long a Schedule trusts what it last read from the store.
const DefaultTTL = 30 * time.Second

// MaxReason is the longest reason, in characters, a window may give.
const MaxReason = 200

// MaxLength is the longest window. During one every customer is locked out
// of the portal and the sites, and nothing expires that would end a window
// typed with the wrong year (2036 for 2026), so a slip would close the
// service for years with one click. Planned work on a self-hosted node (an
// upgrade, a database move, a restore from backup) fits in a night; a day
// leaves room for one that overruns, and longer work can be scheduled as
// back-to-back windows, each announced and cancellable on its own.
const MaxLength = 24 * time.Hour

// MaxAhead is how far ahead a window may start. A start typed with the
// wrong year (9999, or 2036 for 2026) would otherwise be scheduled, listed
// among the upcoming windows and announced, years before, to nobody's
// purpose; planned work is known months ahead at most, and a year leaves
// room for the yearly one (a data-centre's annual power test).
const MaxAhead = 365 * 24 * time.Hour

// Why Create and Cancel refuse. An overlap comes as an *OverlapError, which
// is ErrOverlap.
var (
	ErrEndNotAfterStart = errors.New("the end must be after the start")
	ErrStartInPast      = errors.New("the start is in the past")
	ErrStartTooFar      = fmt.Errorf("the start is more than %d days ahead", int(MaxAhead.Hours()/24))
	ErrOverlap          = errors.New("it overlaps another maintenance window")
	ErrReasonTooLong    = fmt.Errorf("a reason is longer than %d characters", MaxReason)
	ErrTooLong          = fmt.Errorf("a window is at most %d hours long", int(MaxLength.Hours()))
	ErrNotFound         = errors.New("no such maintenance window")
	ErrCancelled        = errors.New("the maintenance window is already cancelled")
	ErrEnded            = errors.New("the maintenance window has already ended")
)

// OverlapError names the window a new one overlaps. With is zero when
// another operator scheduled it at the same moment and it is not known yet.
type OverlapError struct{ With Window }

func (e *OverlapError) Error() string {
	if e.With.ID == "" {
		return ErrOverlap.Error()
	}
	return fmt.Sprintf("%s: %s, %s (Japan time)", ErrOverlap, e.With.ID, Span(e.With, "en"))
}

func (e *OverlapError) Is(target error) bool { return target == ErrOverlap }

// Schedule reads the maintenance windows from the store, keeping what it
// read for TTL so that asking on every request costs nothing. Its zero
// value is not usable: set Store.
type Schedule struct {
	Store store.Maintenance
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// TTL is how long what was read stays trusted; DefaultTTL when zero.
	TTL time.Duration
	// Log receives store errors; slog.Default() when nil.
	Log *slog.Logger

	mu      sync.Mutex
	windows []Window // standing windows not ended when read, by Start
	readAt  time.Time
	read    bool
}

// New returns a schedule over st on the clock now (time.Now when nil).
func New(st store.Maintenance, now func() time.Time, log *slog.Logger) *Schedule {
	return &Schedule{Store: st, Now: now, Log: log}
}

func (s *Schedule) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Schedule) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// cached returns the standing windows, reading the store when what it
// holds is older than TTL. When the store fails it goes on with what it
// read last (a database hiccup neither starts nor ends a maintenance) and
// tries again after TTL.
func (s *Schedule) cached() []Window {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.now()
	if s.read && at.Sub(s.readAt) < ttl && !at.Before(s.readAt) {
		return s.windows
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ws, err := s.Store.ListMaintenance(ctx, at, false)
	if err != nil {
		s.log().Warn("maintenance schedule: reading the store failed; keeping what was read before", "err", err)
	} else {
		s.windows = ws
	}
	s.readAt, s.read = at, true
	return s.windows
}

// Forget drops what was read, so the next question reads the store.
func (s *Schedule) Forget() {
	s.mu.Lock()
	s.read = false
	s.mu.Unlock()
}

// Current returns the window in force at now.
func (s *Schedule) Current(now time.Time) (Window, bool) {
	for _, w := range s.cached() {
		if !now.Before(w.Start) && now.Before(w.End) {
			return w, true
		}
	}
	return Window{}, false
}

// Upcoming returns the next window to start after now, if it starts within
// NoticePeriod.
func (s *Schedule) Upcoming(now time.Time) (Window, bool) {
	for _, w := range s.cached() {
		if w.Start.After(now) {
			return w, !w.Start.After(now.Add(NoticePeriod))
		}
	}
	return Window{}, false
}

// Create schedules w from its Start, End, reasons and CreatedBy; it sets
// the ID and CreatedAt and returns the window stored. It refuses an end not
// after the start, a window longer than MaxLength, a start in the past or
// more than MaxAhead ahead, and an overlap with another window.
func (s *Schedule) Create(ctx context.Context, w Window) (Window, error) {
	now := s.now()
	w.ReasonJA, w.ReasonEN = strings.TrimSpace(w.ReasonJA), strings.TrimSpace(w.ReasonEN)
	switch {
	case !w.End.After(w.Start):
		return Window{}, ErrEndNotAfterStart
	case w.End.Sub(w.Start) > MaxLength:
		return Window{}, ErrTooLong
	case w.Start.Before(now):
		return Window{}, ErrStartInPast
	case w.Start.After(now.Add(MaxAhead)):
		return Window{}, ErrStartTooFar
	case utf8.RuneCountInString(w.ReasonJA) > MaxReason || utf8.RuneCountInString(w.ReasonEN) > MaxReason:
		return Window{}, ErrReasonTooLong
	}
	w.Start, w.End = w.Start.UTC(), w.End.UTC()
	w.ID, w.CreatedAt, w.CancelledAt = newID(), now.UTC(), time.Time{}
	err := s.Store.CreateMaintenance(ctx, &w)
	if errors.Is(err, store.ErrConflict) {
		// The store checked atomically; find the other window to name it.
		all, lerr := s.Store.ListMaintenance(ctx, now, true)
		if lerr == nil {
			for _, o := range all {
				if o.CancelledAt.IsZero() && o.Start.Before(w.End) && w.Start.Before(o.End) {
					return Window{}, &OverlapError{With: o}
				}
			}
		}
		return Window{}, &OverlapError{}
	}
	if err != nil {
		return Window{}, err
	}
	s.Forget()
	return w, nil
}

// List returns the current and upcoming windows, by start; with
// includePast, the ended and cancelled ones too.
func (s *Schedule) List(ctx context.Context, includePast bool) ([]Window, error) {
	return s.Store.ListMaintenance(ctx, s.now(), includePast)
}

// Cancel calls the window id off. A window already ended or cancelled is
// refused.
func (s *Schedule) Cancel(ctx context.Context, id string) (Window, error) {
	now := s.now()
	all, err := s.Store.ListMaintenance(ctx, now, true)
	if err != nil {
		return Window{}, err
	}
	var found *Window
	for i := range all {
		if all[i].ID == id {
			found = &all[i]
		}
	}
	switch {
	case found == nil:
		return Window{}, ErrNotFound
	case !found.CancelledAt.IsZero():
		return *found, ErrCancelled
	case !now.Before(found.End):
		return *found, ErrEnded
	}
	w, err := s.Store.CancelMaintenance(ctx, id, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Window{}, ErrNotFound
	case errors.Is(err, store.ErrStale):
		return *w, ErrCancelled
	case err != nil:
		return Window{}, err
	}
	s.Forget()
	return *w, nil
}

// newID is a short random id an operator can type: mw- and 8 characters.
func newID() string {
	return "mw-" + strings.ToLower(rand.Text()[:8])
}
