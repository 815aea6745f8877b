package storetest

import (
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// recoveries returns s as a store of recovery requests.
func recoveries(_ *testing.T, s store.Store) store.RecoveryRequests { return s }

func newRecovery(t *testing.T, rr store.RecoveryRequests, id, accountID string, at time.Time) *store.RecoveryRequest {
	t.Helper()
	r := &store.RecoveryRequest{ID: id, AccountID: accountID, ConfirmTokenHash: "tok-" + id,
		CreatedAt: at, ConfirmExpiresAt: at.Add(time.Hour)}
	must(t, rr.CreateRecoveryRequest(t.Context(), r))
	return r
}

var recoveryRequestTests = []test{
	{"ConfirmOnceThenComplete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a := newAccount(t, s, "acc-1")
		newRecovery(t, rr, "r1", a.ID, t0)
		got, err := rr.PendingRecoveryOf(ctx, a.ID)
		must(t, err)
		if got.Status != store.RecoveryUnconfirmed || got.ID != "r1" || !got.Open() {
			t.Fatalf("pending = %+v, want r1 unconfirmed", got)
		}
		byTok, err := rr.RecoveryRequestByToken(ctx, "tok-r1", t0.Add(time.Minute))
		must(t, err)
		if byTok.ID != "r1" || !byTok.ConfirmExpiresAt.Equal(t0.Add(time.Hour)) || !byTok.CreatedAt.Equal(t0) {
			t.Fatalf("by token = %+v", byTok)
		}
		_, err = rr.RecoveryRequestByToken(ctx, "tok-r1", t0.Add(time.Hour))
		wantErr(t, "expired token lookup", err, store.ErrNotFound)
		_, err = rr.ConfirmRecoveryRequest(ctx, "tok-nobody", t0.Add(time.Minute), 72*time.Hour)
		wantErr(t, "unknown token", err, store.ErrNotFound)
		c, err := rr.ConfirmRecoveryRequest(ctx, "tok-r1", t0.Add(time.Minute), 72*time.Hour)
		must(t, err)
		if c.Status != store.RecoveryWaiting || !c.ConfirmedAt.Equal(t0.Add(time.Minute)) ||
			!c.EffectiveAt.Equal(t0.Add(time.Minute+72*time.Hour)) || c.EffectiveAt.Location() != time.UTC {
			t.Fatalf("confirmed = %+v", c)
		}
		_, err = rr.ConfirmRecoveryRequest(ctx, "tok-r1", t0.Add(2*time.Minute), 72*time.Hour)
		wantErr(t, "second confirmation", err, store.ErrNotFound)
		// The link once used finds the request it confirmed, waiting, past
		// the link's own hour too; no longer once it is completed.
		if w, err := rr.RecoveryRequestByToken(ctx, "tok-r1", t0.Add(2*time.Hour)); err != nil || w.ID != "r1" ||
			w.Status != store.RecoveryWaiting || !w.EffectiveAt.Equal(c.EffectiveAt) {
			t.Fatalf("lookup of a used token = %+v, %v; want r1 waiting", w, err)
		}

		wantErr(t, "complete before effective", rr.CompleteRecovery(ctx, "r1", t0.Add(time.Hour)), store.ErrStale)
		wantErr(t, "complete unknown", rr.CompleteRecovery(ctx, "nope", t0.Add(time.Hour)), store.ErrNotFound)
		must(t, rr.CompleteRecovery(ctx, "r1", c.EffectiveAt))
		wantErr(t, "complete twice", rr.CompleteRecovery(ctx, "r1", c.EffectiveAt), store.ErrStale)
		_, err = rr.PendingRecoveryOf(ctx, a.ID)
		wantErr(t, "pending after completion", err, store.ErrNotFound)
		_, err = rr.RecoveryRequestByToken(ctx, "tok-r1", c.EffectiveAt)
		wantErr(t, "lookup of a completed request's token", err, store.ErrNotFound)
	}},
	{"ConfirmLinkExpires", func(t *testing.T, s store.Store) {
		rr := recoveries(t, s)
		a := newAccount(t, s, "acc-1")
		newRecovery(t, rr, "r1", a.ID, t0)
		_, err := rr.ConfirmRecoveryRequest(t.Context(), "tok-r1", t0.Add(time.Hour), 72*time.Hour)
		wantErr(t, "expired link", err, store.ErrNotFound)
	}},
	{"OneOpenPerAccount", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a := newAccount(t, s, "acc-1")
		newRecovery(t, rr, "r1", a.ID, t0)
		newRecovery(t, rr, "r2", a.ID, t0.Add(time.Minute)) // supersedes r1
		_, err := rr.ConfirmRecoveryRequest(ctx, "tok-r1", t0.Add(2*time.Minute), time.Hour)
		wantErr(t, "superseded link", err, store.ErrNotFound)
		_, err = rr.ConfirmRecoveryRequest(ctx, "tok-r2", t0.Add(2*time.Minute), time.Hour)
		must(t, err)
		wantErr(t, "request while one waits", rr.CreateRecoveryRequest(ctx, &store.RecoveryRequest{ID: "r3",
			AccountID: a.ID, ConfirmTokenHash: "tok-r3", CreatedAt: t0, ConfirmExpiresAt: t0.Add(time.Hour)}), store.ErrConflict)
		wantErr(t, "unknown account", rr.CreateRecoveryRequest(ctx, &store.RecoveryRequest{ID: "r4",
			AccountID: "nobody", ConfirmTokenHash: "tok-r4", CreatedAt: t0, ConfirmExpiresAt: t0.Add(time.Hour)}), store.ErrNotFound)
	}},
	{"Cancel", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a, b := newAccount(t, s, "acc-1"), newAccount(t, s, "acc-2")
		newRecovery(t, rr, "r1", a.ID, t0)
		newRecovery(t, rr, "r2", b.ID, t0)
		_, err := rr.ConfirmRecoveryRequest(ctx, "tok-r1", t0, time.Hour)
		must(t, err)
		ok, err := rr.CancelRecovery(ctx, a.ID, "second factor used", t0.Add(time.Minute))
		must(t, err)
		if !ok {
			t.Error("CancelRecovery found no open request")
		}
		ok, err = rr.CancelRecovery(ctx, a.ID, "again", t0.Add(time.Minute))
		must(t, err)
		if ok {
			t.Error("CancelRecovery cancelled a request twice")
		}
		_, err = rr.PendingRecoveryOf(ctx, a.ID)
		wantErr(t, "pending after cancel", err, store.ErrNotFound)
		wantErr(t, "complete cancelled", rr.CompleteRecovery(ctx, "r1", t0.Add(2*time.Hour)), store.ErrStale)
		if _, err := rr.PendingRecoveryOf(ctx, b.ID); err != nil {
			t.Errorf("the other account's request: %v", err)
		}
		// A cancelled request leaves room for a new one.
		newRecovery(t, rr, "r3", a.ID, t0.Add(2*time.Minute))
	}},
	{"ListAndApproveEarly", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a, b, c := newAccount(t, s, "acc-1"), newAccount(t, s, "acc-2"), newAccount(t, s, "acc-3")
		newRecovery(t, rr, "r1", a.ID, t0)
		newRecovery(t, rr, "r2", b.ID, t0.Add(time.Minute))
		newRecovery(t, rr, "r3", c.ID, t0.Add(-2*time.Hour)) // link expired, unconfirmed
		_, err := rr.ConfirmRecoveryRequest(ctx, "tok-r2", t0.Add(2*time.Minute), 72*time.Hour)
		must(t, err)
		list, err := rr.ListPendingRecoveries(ctx, t0.Add(3*time.Minute))
		must(t, err)
		var ids []string
		for _, r := range list {
			ids = append(ids, r.ID)
		}
		if len(ids) != 2 || ids[0] != "r1" || ids[1] != "r2" {
			t.Errorf("pending = %v, want [r1 r2]", ids)
		}
		_, err = rr.ApproveRecoveryEarly(ctx, "r1", "operator:sato", t0.Add(time.Hour))
		wantErr(t, "approve unconfirmed", err, store.ErrNotFound)
		now := t0.Add(5 * time.Hour)
		r, err := rr.ApproveRecoveryEarly(ctx, "r2", "operator:sato", now)
		must(t, err)
		if r.ApprovedBy != "operator:sato" || !r.EffectiveAt.Equal(now) || r.Status != store.RecoveryWaiting {
			t.Errorf("approved = %+v", r)
		}
		// A request is approved once: a second approval is refused and
		// changes nothing.
		_, err = rr.ApproveRecoveryEarly(ctx, "r2", "operator:ito", now.Add(100*time.Hour))
		wantErr(t, "approve twice", err, store.ErrConflict)
		r, err = rr.PendingRecoveryOf(ctx, b.ID)
		must(t, err)
		if r.ApprovedBy != "operator:sato" || !r.EffectiveAt.Equal(now) {
			t.Errorf("after a second approval: %+v", r)
		}
		must(t, rr.CompleteRecovery(ctx, "r2", now))
	}},
}
