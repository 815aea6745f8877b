package portal_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
)

// deleteFailStore fails every DeleteSession after the first, in units too,
// as a database that broke while ending a customer's other sessions would.
type deleteFailStore struct {
	store.Store
	calls *atomic.Int32
}

func (f deleteFailStore) Atomically(ctx context.Context, fn func(ctx context.Context, tx store.Store) error) error {
	return f.Store.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
		return fn(ctx, deleteFailStore{tx, f.calls})
	})
}

func (f deleteFailStore) DeleteSession(ctx context.Context, idHash string) error {
	if f.calls.Add(1) > 1 {
		return errors.New("the disk is full")
	}
	return f.Store.DeleteSession(ctx, idHash)
}

// TestEndOtherSessionsIsOneStep: 「ほかの端末をすべてログアウト」 that fails
// half-way ends no session, records no end and tells the sites nothing, so
// the page's list stays true and the customer's next try does the whole.
func TestEndOtherSessionsIsOneStep(t *testing.T) {
	e := newEnv(t)
	var ended []string
	e.svc.SessionEnded = func(_ context.Context, sid string) { ended = append(ended, sid) }
	c := e.newCustomer("yamada@example.jp")
	mine := e.enrol(c)
	si := e.session(mine)
	others := []string{e.signIn(c), e.signIn(c)}
	real := e.svc.Store

	e.svc.Store = deleteFailStore{real, new(atomic.Int32)}
	if n, err := e.svc.EndOtherSessions(e.ctx, si, e.ip); err == nil {
		t.Fatalf("EndOtherSessions with a failing store: %d ended, no error", n)
	}
	e.svc.Store = real
	for _, token := range others {
		e.session(token)
	}
	if len(ended) != 0 || e.audited(c.acct.ID, store.ActionSessionEndOther, "ok") {
		t.Fatalf("a failed sign-out of the other devices told the sites of %q, or was audited", ended)
	}

	n, err := e.svc.EndOtherSessions(e.ctx, si, e.ip)
	if err != nil || n != 2 {
		t.Fatalf("EndOtherSessions again: %d, %v; want 2", n, err)
	}
	for _, token := range others {
		e.noSession(token)
	}
	e.session(mine) // this one goes on
	if len(ended) != 2 || e.auditCount(c.acct.ID, store.ActionSessionEndOther, "ok") != 2 {
		t.Errorf("the sites were told of %d sessions, %d ends audited; want 2 and 2", len(ended),
			e.auditCount(c.acct.ID, store.ActionSessionEndOther, "ok"))
	}
}

// TestEndOthersFromAnEndedSession: two browsers of one account end each
// other at the same moment (the owner and whoever stole a session, say):
// the one whose own session ended first, after its request read it, ends
// nothing, so the owner's sign-out of the thief cannot be answered by the
// thief's of the owner.
func TestEndOthersFromAnEndedSession(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	owner := e.enrol(c)
	thief := e.signIn(c)
	ownerSI, thiefSI := e.session(owner), e.session(thief)

	if err := e.svc.EndOtherSession(e.ctx, ownerSI, e.ip, thiefSI.Session.SID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EndOtherSession(e.ctx, thiefSI, e.ip, ownerSI.Session.SID); !errors.Is(err, portal.ErrNoSession) {
		t.Errorf("an ended session ends another: %v, want ErrNoSession", err)
	}
	if n, err := e.svc.EndOtherSessions(e.ctx, thiefSI, e.ip); !errors.Is(err, portal.ErrNoSession) || n != 0 {
		t.Errorf("an ended session ends the others: %d, %v; want 0, ErrNoSession", n, err)
	}
	e.session(owner)
	if n := e.auditCount(c.acct.ID, store.ActionSessionEndOther, "ok"); n != 1 {
		t.Errorf("%d ends recorded, want the owner's one", n)
	}
}
