package portal

import (
	"context"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// limit is a count of events in fixed windows, kept in the database so it
// holds on every node.
type limit struct {
	name, key string
	max       int
	window    time.Duration
}

// count counts one event against each limit, in order, before the event is
// acted on, so events sent in parallel cannot all pass a limit before any is
// counted. When a limit is over its max, count gives back what it counted
// (a refused event uses no allowance) and returns that limit and when its
// window ends; counts are the new counts of the limits counted. The counts
// are one write that need not wait for the disk (store.Limits.Counting): the
// event they allow ends in a commit that does (its audit event, its flow).
func (s *Service) count(ctx context.Context, now time.Time, limits []limit) (over *limit, until time.Time, counts []int, err error) {
	err = s.Store.Counting(ctx, func(ctx context.Context, tx store.Limits) error {
		over, until, counts = nil, time.Time{}, nil
		for i, l := range limits {
			n, err := tx.Hit(ctx, l.key, l.window, now, 1)
			if err != nil {
				s.giveBack(ctx, tx, now, limits[:i])
				return err
			}
			counts = append(counts, n)
			if n > l.max {
				s.giveBack(ctx, tx, now, limits[:i+1])
				_, end := store.Window(now, l.window)
				over, until = &limits[i], end
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	return over, until, counts, nil
}

// uncount gives back one event of each limit.
func (s *Service) uncount(ctx context.Context, now time.Time, limits ...limit) {
	err := s.Store.Counting(ctx, func(ctx context.Context, tx store.Limits) error {
		s.giveBack(ctx, tx, now, limits)
		return nil
	})
	if err != nil {
		s.Log.Warn("limits not given back", "err", err)
	}
}

// giveBack gives back one event of each limit through tx.
func (s *Service) giveBack(ctx context.Context, tx store.Limits, now time.Time, limits []limit) {
	for _, l := range limits {
		if _, err := tx.Hit(ctx, l.key, l.window, now, -1); err != nil {
			s.Log.Warn("limit not given back", "limit", l.name, "err", err)
		}
	}
}
