package portal

import (
	"context"

	"github.com/tobira/tobira/internal/store"
)

// unit is what a Service inside a unit of work defers until the unit is
// committed.
type unit struct {
	// after runs once the unit is committed, with the caller's context:
	// the unit's own may only write through the unit's store.
	after []func(ctx context.Context)
	// account is the account the unit read through Account, current in
	// the unit's transaction: an attempt charged to it in the unit need
	// not read it again (charge).
	account *store.Account
}

// atomically runs fn as one unit of work: every write fn makes through
// u.Store goes into one transaction (rate limits on PostgreSQL aside, which
// count at once: store.Units), so a step of the sign-in costs one commit
// (one fsync on SQLite) instead of one per write, and no other request sees
// it half done.
//
// The unit groups, it does not undo: what fn wrote is committed whatever
// fn returns, as each write would have been on its own, because a wrong
// answer must stay counted and audited. fn's error is returned after the
// commit; an error of the commit itself is returned instead, and then none
// of fn's writes happened.
//
// fn may run more than once (a lost race on PostgreSQL): it starts from the
// same state each time and sets, not accumulates, what it hands out. It
// must be short and only the database's: no password hashing, no codes
// sent, no calls to other systems; mails are queued in the unit and the
// sites are told of a reset after the commit (afterCommit).
func (s *Service) atomically(ctx context.Context, fn func(ctx context.Context, u *Service) error) error {
	return s.unitOf(ctx, fn, false)
}

// allOrNothing is atomically for writes that stand or fall together (a
// lock and the end of the sessions and grants it means): when fn returns
// an error, none of its writes is committed.
func (s *Service) allOrNothing(ctx context.Context, fn func(ctx context.Context, u *Service) error) error {
	return s.unitOf(ctx, fn, true)
}

func (s *Service) unitOf(ctx context.Context, fn func(ctx context.Context, u *Service) error, undo bool) error {
	if s.unit != nil {
		return fn(ctx, s) // already in one: the outer unit commits
	}
	var result error
	var work *unit
	err := s.Store.Atomically(ctx, func(txCtx context.Context, tx store.Store) error {
		u := *s
		u.Store = tx
		work = &unit{}
		u.unit = work
		result = fn(txCtx, &u)
		if undo {
			return result
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range work.after {
		f(ctx)
	}
	return result
}

// afterCommit runs f once the unit s is in has been committed, or at once
// outside a unit.
func (s *Service) afterCommit(ctx context.Context, f func(ctx context.Context)) {
	if s.unit != nil {
		s.unit.after = append(s.unit.after, f)
		return
	}
	f(ctx)
}
