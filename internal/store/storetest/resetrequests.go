package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

func newResetRequest(t *testing.T, s store.Store, id, accountID, by string, at time.Time) *store.ResetRequest {
	t.Helper()
	r := &store.ResetRequest{ID: id, AccountID: accountID, Reason: "lost phone " + id, RequestedBy: by, RequestedAt: at}
	must(t, s.CreateResetRequest(t.Context(), r))
	return r
}

var resetRequestTests = []test{
	{"CreateOpenList", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		_, err := s.OpenResetRequest(ctx, a.ID)
		wantErr(t, "open request of an account without one", err, store.ErrNotFound)
		newResetRequest(t, s, "rr2", b.ID, "operator:a", t0.Add(time.Minute))
		newResetRequest(t, s, "rr1", a.ID, "operator:a", t0)
		err = s.CreateResetRequest(ctx, &store.ResetRequest{ID: "rr3", AccountID: a.ID, Reason: "again", RequestedBy: "operator:b", RequestedAt: t0})
		wantErr(t, "second open request", err, store.ErrConflict)
		err = s.CreateResetRequest(ctx, &store.ResetRequest{ID: "rr4", AccountID: "nobody", Reason: "x", RequestedBy: "operator:b", RequestedAt: t0})
		wantErr(t, "request for an unknown account", err, store.ErrNotFound)
		got, err := s.OpenResetRequest(ctx, a.ID)
		must(t, err)
		if got.ID != "rr1" || got.Reason != "lost phone rr1" || got.RequestedBy != "operator:a" ||
			!got.RequestedAt.Equal(t0) || !got.Open() || got.DecidedBy != "" || !got.DecidedAt.IsZero() {
			t.Fatalf("open request = %+v", got)
		}
		list, err := s.ListOpenResetRequests(ctx)
		must(t, err)
		if len(list) != 2 || list[0].ID != "rr1" || list[1].ID != "rr2" {
			t.Fatalf("open requests = %+v, want rr1, rr2", list)
		}
	}},
	{"DecideOnceByAnother", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newResetRequest(t, s, "rr1", a.ID, "operator:a", t0)
		_, err := s.DecideResetRequest(ctx, "rr1", "operator:a", store.ResetApproved, t0.Add(time.Minute))
		wantErr(t, "requester approves", err, store.ErrOwnResetRequest)
		wantErr(t, "requester approves (as a conflict)", err, store.ErrConflict)
		if got, err := s.OpenResetRequest(ctx, a.ID); err != nil || !got.Open() {
			t.Fatalf("after a refused self-approval: %+v, %v", got, err)
		}
		_, err = s.DecideResetRequest(ctx, "nobody", "operator:b", store.ResetApproved, t0.Add(time.Minute))
		wantErr(t, "unknown request", err, store.ErrNotFound)
		d, err := s.DecideResetRequest(ctx, "rr1", "operator:b", store.ResetApproved, t0.Add(time.Minute))
		must(t, err)
		if d.Decision != store.ResetApproved || d.DecidedBy != "operator:b" || !d.DecidedAt.Equal(t0.Add(time.Minute)) ||
			d.DecidedAt.Location() != time.UTC || d.Open() || d.AccountID != a.ID {
			t.Fatalf("decided = %+v", d)
		}
		_, err = s.DecideResetRequest(ctx, "rr1", "operator:c", store.ResetRejected, t0.Add(2*time.Minute))
		wantErr(t, "second decision", err, store.ErrStale)
		_, err = s.OpenResetRequest(ctx, a.ID)
		wantErr(t, "open request after the decision", err, store.ErrNotFound)
		// By its id a decided request is still found, as decided.
		if got, err := s.ResetRequestByID(ctx, "rr1"); err != nil || got.Decision != store.ResetApproved ||
			got.DecidedBy != "operator:b" || got.AccountID != a.ID || got.Reason != "lost phone rr1" || !got.RequestedAt.Equal(t0) {
			t.Fatalf("decided request by id = %+v, %v", got, err)
		}
		_, err = s.ResetRequestByID(ctx, "nobody")
		wantErr(t, "unknown request by id", err, store.ErrNotFound)
		if list, err := s.ListOpenResetRequests(ctx); err != nil || len(list) != 0 {
			t.Fatalf("open requests after the decision: %+v, %v", list, err)
		}
		// A decided request frees the account for a new one.
		newResetRequest(t, s, "rr2", a.ID, "operator:b", t0.Add(3*time.Minute))
		r, err := s.DecideResetRequest(ctx, "rr2", "operator:a", store.ResetRejected, t0.Add(4*time.Minute))
		must(t, err)
		if r.Decision != store.ResetRejected || r.DecidedBy != "operator:a" {
			t.Fatalf("rejected = %+v", r)
		}
	}},
	{"WithdrawnByTheRequesterOnly", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newResetRequest(t, s, "rr1", a.ID, "operator:a", t0)
		_, err := s.DecideResetRequest(ctx, "rr1", "operator:b", store.ResetWithdrawn, t0.Add(time.Minute))
		wantErr(t, "another operator withdraws", err, store.ErrNotOwnResetRequest)
		wantErr(t, "another operator withdraws (as a conflict)", err, store.ErrConflict)
		if got, err := s.OpenResetRequest(ctx, a.ID); err != nil || !got.Open() {
			t.Fatalf("after a refused withdrawal: %+v, %v", got, err)
		}
		d, err := s.DecideResetRequest(ctx, "rr1", "operator:a", store.ResetWithdrawn, t0.Add(time.Minute))
		must(t, err)
		if d.Decision != store.ResetWithdrawn || d.DecidedBy != "operator:a" || d.Open() {
			t.Fatalf("withdrawn = %+v", d)
		}
		_, err = s.DecideResetRequest(ctx, "rr1", "operator:b", store.ResetApproved, t0.Add(2*time.Minute))
		wantErr(t, "approval of a withdrawn request", err, store.ErrStale)
		_, err = s.OpenResetRequest(ctx, a.ID)
		wantErr(t, "open request after the withdrawal", err, store.ErrNotFound)
		// The account is free for a new request.
		newResetRequest(t, s, "rr2", a.ID, "operator:a", t0.Add(3*time.Minute))
	}},
	{"ConcurrentDecisions", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newResetRequest(t, s, "rr1", a.ID, "operator:a", t0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, stale := 0, 0
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.DecideResetRequest(ctx, "rr1", "operator:b"+string(rune('0'+i)), store.ResetApproved, t0.Add(time.Minute))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrStale):
					stale++
				default:
					t.Errorf("decide: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || stale != racers-1 {
			t.Fatalf("decisions: %d won, %d stale; want 1 and %d", won, stale, racers-1)
		}
	}},
}
