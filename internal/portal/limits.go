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
// window ends; counts are the new counts of the limits counted. The limits
// are counted in one unit of work: one commit for all of them.
func (s *Service) count(ctx context.Context, now time.Time, limits []limit) (over *limit, until time.Time, counts []int, err error) {
	err = s.atomically(ctx, func(ctx context.Context, u *Service) error {
		over, until, counts = nil, time.Time{}, nil
		for i, l := range limits {
			n, err := u.Store.Hit(ctx, l.key, l.window, now, 1)
			if err != nil {
				u.uncount(ctx, now, limits[:i]...)
				return err
			}
			counts = append(counts, n)
			if n > l.max {
				u.uncount(ctx, now, limits[:i+1]...)
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
	err := s.atomically(ctx, func(ctx context.Context, u *Service) error {
		for _, l := range limits {
			if _, err := u.Store.Hit(ctx, l.key, l.window, now, -1); err != nil {
				u.Log.Warn("limit not given back", "limit", l.name, "err", err)
			}
		}
		return nil
	})
	if err != nil {
		s.Log.Warn("limits not given back", "err", err)
	}
}
