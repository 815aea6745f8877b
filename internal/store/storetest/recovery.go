package storetest

import (
	"errors"
	"slices"
	"sync"
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
	{"ListProposeAndApproveEarly", func(t *testing.T, s store.Store) {
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
		// RecoveryRequest.Pending is the list's rule, which the console
		// applies to a customer's own request.
		for _, id := range []string{"r1", "r2", "r3"} {
			r, err := rr.RecoveryRequestByID(ctx, id)
			must(t, err)
			if listed := slices.Contains(ids, id); r.Pending(t0.Add(3*time.Minute)) != listed {
				t.Errorf("%s: Pending = %v, listed = %v", id, !listed, listed)
			}
		}
		// Only a waiting request can be proposed for early approval.
		_, err = rr.ProposeRecoveryApproval(ctx, "r1", "operator:sato", "電話で確認", t0.Add(time.Hour))
		wantErr(t, "propose unconfirmed", err, store.ErrRecoveryNotWaiting)
		_, err = rr.ProposeRecoveryApproval(ctx, "nobody", "operator:sato", "電話で確認", t0.Add(time.Hour))
		wantErr(t, "propose unknown", err, store.ErrNotFound)
		_, err = rr.DecideRecoveryProposal(ctx, "r2", time.Time{}, "operator:ito", store.ResetApproved, t0.Add(time.Hour))
		wantErr(t, "approve without a proposal", err, store.ErrStale)
		proposed := t0.Add(4 * time.Hour)
		r, err := rr.ProposeRecoveryApproval(ctx, "r2", "operator:sato", "電話で登録住所を確認", proposed)
		must(t, err)
		if r.ProposedBy != "operator:sato" || !r.ProposedAt.Equal(proposed) || r.ProposedReason != "電話で登録住所を確認" ||
			!r.Proposed() || r.ApprovedBy != "" || !r.EffectiveAt.Equal(t0.Add(2*time.Minute+72*time.Hour)) {
			t.Errorf("proposed = %+v", r)
		}
		// A proposal is no approval: the period goes on, and a second
		// proposal is refused.
		_, err = rr.ProposeRecoveryApproval(ctx, "r2", "operator:ito", "別の確認", proposed.Add(time.Minute))
		wantErr(t, "propose twice", err, store.ErrRecoveryProposed)
		// The proposer decides nothing but a withdrawal; another operator
		// no withdrawal.
		_, err = rr.DecideRecoveryProposal(ctx, "r2", proposed, "operator:sato", store.ResetApproved, proposed)
		wantErr(t, "approve own proposal", err, store.ErrOwnRecoveryProposal)
		_, err = rr.DecideRecoveryProposal(ctx, "r2", proposed, "operator:sato", store.ResetRejected, proposed)
		wantErr(t, "reject own proposal", err, store.ErrOwnRecoveryProposal)
		_, err = rr.DecideRecoveryProposal(ctx, "r2", proposed, "operator:ito", store.ResetWithdrawn, proposed)
		wantErr(t, "withdraw another's proposal", err, store.ErrNotOwnRecoveryProposal)
		r, err = rr.PendingRecoveryOf(ctx, b.ID)
		must(t, err)
		if !r.Proposed() || r.ApprovedBy != "" || !r.EffectiveAt.Equal(t0.Add(2*time.Minute+72*time.Hour)) {
			t.Errorf("after refused decisions: %+v", r)
		}
		now := t0.Add(5 * time.Hour)
		r, err = rr.DecideRecoveryProposal(ctx, "r2", proposed, "operator:ito", store.ResetApproved, now)
		must(t, err)
		if r.ApprovedBy != "operator:ito" || r.ProposedBy != "operator:sato" || r.Proposed() ||
			!r.EffectiveAt.Equal(now) || r.Status != store.RecoveryWaiting {
			t.Errorf("approved = %+v", r)
		}
		// A request is approved once: a second approval, or a proposal
		// after it, is refused and changes nothing.
		_, err = rr.DecideRecoveryProposal(ctx, "r2", proposed, "operator:kato", store.ResetApproved, now.Add(100*time.Hour))
		wantErr(t, "approve twice", err, store.ErrStale)
		_, err = rr.DecideRecoveryProposal(ctx, "r2", proposed, "operator:kato", store.ResetRejected, now.Add(time.Hour))
		wantErr(t, "reject after approval", err, store.ErrStale)
		_, err = rr.ProposeRecoveryApproval(ctx, "r2", "operator:kato", "電話で確認", now.Add(time.Hour))
		wantErr(t, "propose after approval", err, store.ErrRecoveryApproved)
		r, err = rr.PendingRecoveryOf(ctx, b.ID)
		must(t, err)
		if r.ApprovedBy != "operator:ito" || r.ProposedBy != "operator:sato" || !r.EffectiveAt.Equal(now) {
			t.Errorf("after a second approval: %+v", r)
		}
		must(t, rr.CompleteRecovery(ctx, "r2", now))
	}},
	{"ProposalRejectedOrWithdrawn", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a := newAccount(t, s, "acc-1")
		newRecovery(t, rr, "r1", a.ID, t0)
		_, err := rr.ConfirmRecoveryRequest(ctx, "tok-r1", t0.Add(time.Minute), 72*time.Hour)
		must(t, err)
		effective := t0.Add(time.Minute + 72*time.Hour)
		// Rejected by another operator, or withdrawn by its proposer, a
		// proposal is gone; the request waits out its period and may be
		// proposed again.
		for i, d := range []struct {
			by       string
			decision store.ResetDecision
		}{{"operator:ito", store.ResetRejected}, {"operator:sato", store.ResetWithdrawn}} {
			at := t0.Add(time.Duration(i+1) * time.Hour)
			_, err := rr.ProposeRecoveryApproval(ctx, "r1", "operator:sato", "電話で確認", at)
			must(t, err)
			r, err := rr.DecideRecoveryProposal(ctx, "r1", at, d.by, d.decision, at.Add(time.Minute))
			must(t, err)
			if r.ProposedBy != "operator:sato" || r.ProposedReason != "電話で確認" || !r.ProposedAt.Equal(at) {
				t.Errorf("%s returned %+v, want the proposal decided", d.decision, r)
			}
			r, err = rr.PendingRecoveryOf(ctx, a.ID)
			must(t, err)
			if r.Proposed() || r.ProposedBy != "" || r.ProposedReason != "" || !r.ProposedAt.IsZero() ||
				r.ApprovedBy != "" || !r.EffectiveAt.Equal(effective) || r.Status != store.RecoveryWaiting {
				t.Errorf("after %s: %+v", d.decision, r)
			}
			_, err = rr.DecideRecoveryProposal(ctx, "r1", at, "operator:kato", store.ResetApproved, at.Add(2*time.Minute))
			wantErr(t, "approval after "+string(d.decision), err, store.ErrStale)
		}
		// A decision is on the proposal its operator read: once that one
		// was withdrawn and another made, it is stale.
		_, err = rr.ProposeRecoveryApproval(ctx, "r1", "operator:sato", "電話で確認", t0.Add(3*time.Hour))
		must(t, err)
		_, err = rr.DecideRecoveryProposal(ctx, "r1", t0.Add(3*time.Hour), "operator:sato", store.ResetWithdrawn, t0.Add(4*time.Hour))
		must(t, err)
		if _, err := rr.ProposeRecoveryApproval(ctx, "r1", "operator:kato", "メールで確認", t0.Add(5*time.Hour)); err != nil {
			t.Fatalf("a new proposal after the withdrawal: %v", err)
		}
		for _, d := range []store.ResetDecision{store.ResetApproved, store.ResetRejected} {
			_, err = rr.DecideRecoveryProposal(ctx, "r1", t0.Add(3*time.Hour), "operator:ito", d, t0.Add(6*time.Hour))
			wantErr(t, string(d)+" of the proposal withdrawn", err, store.ErrStale)
		}
		r, err := rr.PendingRecoveryOf(ctx, a.ID)
		must(t, err)
		if r.ProposedBy != "operator:kato" || r.ApprovedBy != "" || !r.EffectiveAt.Equal(effective) {
			t.Errorf("after decisions on a withdrawn proposal: %+v", r)
		}
		r, err = rr.DecideRecoveryProposal(ctx, "r1", t0.Add(5*time.Hour), "operator:ito", store.ResetApproved, t0.Add(6*time.Hour))
		must(t, err)
		if r.ApprovedBy != "operator:ito" || r.ProposedBy != "operator:kato" {
			t.Errorf("approval of the proposal read: %+v", r)
		}
	}},
	{"ProposalVoidOnceCancelled", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a := newAccount(t, s, "acc-1")
		newRecovery(t, rr, "r1", a.ID, t0)
		_, err := rr.ConfirmRecoveryRequest(ctx, "tok-r1", t0.Add(time.Minute), 72*time.Hour)
		must(t, err)
		_, err = rr.ProposeRecoveryApproval(ctx, "r1", "operator:sato", "電話で確認", t0.Add(time.Hour))
		must(t, err)
		// The customer said "this was not me": the proposal is void, and
		// no decision on it takes.
		ok, err := rr.CancelRecovery(ctx, a.ID, "not me", t0.Add(2*time.Hour))
		must(t, err)
		if !ok {
			t.Fatal("CancelRecovery cancelled nothing")
		}
		for _, d := range []store.ResetDecision{store.ResetApproved, store.ResetRejected} {
			_, err = rr.DecideRecoveryProposal(ctx, "r1", t0.Add(time.Hour), "operator:ito", d, t0.Add(3*time.Hour))
			wantErr(t, string(d)+" a cancelled request's proposal", err, store.ErrRecoveryNotWaiting)
		}
		_, err = rr.DecideRecoveryProposal(ctx, "r1", t0.Add(time.Hour), "operator:sato", store.ResetWithdrawn, t0.Add(3*time.Hour))
		wantErr(t, "withdraw a cancelled request's proposal", err, store.ErrRecoveryNotWaiting)
		_, err = rr.DecideRecoveryProposal(ctx, "nobody", t0.Add(time.Hour), "operator:ito", store.ResetApproved, t0.Add(3*time.Hour))
		wantErr(t, "approve an unknown request", err, store.ErrNotFound)
		_, err = rr.PendingRecoveryOf(ctx, a.ID)
		wantErr(t, "pending after the cancel", err, store.ErrNotFound)
		// The request is still found by its id, cancelled, with the proposal
		// it had.
		r, err := rr.RecoveryRequestByID(ctx, "r1")
		must(t, err)
		if r.Status != store.RecoveryCancelled || r.AccountID != a.ID || r.ProposedBy != "operator:sato" {
			t.Errorf("cancelled request by id = %+v", r)
		}
		_, err = rr.RecoveryRequestByID(ctx, "nobody")
		wantErr(t, "unknown request by id", err, store.ErrNotFound)
	}},
	{"NoEarlyApprovalOnceWaitOver", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a, b := newAccount(t, s, "acc-1"), newAccount(t, s, "acc-2")
		newRecovery(t, rr, "r1", a.ID, t0)
		newRecovery(t, rr, "r2", b.ID, t0)
		effective := t0.Add(time.Minute + 72*time.Hour)
		for _, tok := range []string{"tok-r1", "tok-r2"} {
			_, err := rr.ConfirmRecoveryRequest(ctx, tok, t0.Add(time.Minute), 72*time.Hour)
			must(t, err)
		}
		// Its period over, a request waits for the next sign-in, listed
		// still; an early approval would end nothing, so none is proposed.
		if r, err := rr.RecoveryRequestByID(ctx, "r1"); err != nil || r.WaitOver(effective.Add(-time.Millisecond)) || !r.WaitOver(effective) {
			t.Errorf("r1 = %+v, %v: WaitOver before and at its effective time", r, err)
		}
		_, err := rr.ProposeRecoveryApproval(ctx, "r1", "operator:sato", "電話で確認", effective)
		wantErr(t, "propose once the wait is over", err, store.ErrRecoveryWaitOver)
		list, err := rr.ListPendingRecoveries(ctx, effective.Add(time.Hour))
		must(t, err)
		if len(list) != 2 || list[0].ProposedBy != "" {
			t.Errorf("pending after the period = %+v, want r1 and r2, r1 without a proposal", list)
		}
		// A proposal made within the period lapses with it: no decision
		// on it takes, and it stays as it was.
		proposed := effective.Add(-time.Hour)
		_, err = rr.ProposeRecoveryApproval(ctx, "r2", "operator:sato", "電話で確認", proposed)
		must(t, err)
		for _, d := range []struct {
			by       string
			decision store.ResetDecision
		}{{"operator:ito", store.ResetApproved}, {"operator:ito", store.ResetRejected}, {"operator:sato", store.ResetWithdrawn}} {
			_, err = rr.DecideRecoveryProposal(ctx, "r2", proposed, d.by, d.decision, effective)
			wantErr(t, string(d.decision)+" once the wait is over", err, store.ErrRecoveryWaitOver)
		}
		r, err := rr.PendingRecoveryOf(ctx, b.ID)
		must(t, err)
		if !r.Proposed() || r.ProposedBy != "operator:sato" || r.ApprovedBy != "" || !r.EffectiveAt.Equal(effective) ||
			r.Status != store.RecoveryWaiting || !r.WaitOver(effective) {
			t.Errorf("after decisions once the wait is over: %+v", r)
		}
		// The next sign-in completes it as ever.
		must(t, rr.CompleteRecovery(ctx, "r2", effective.Add(time.Hour)))
	}},
	{"ConcurrentApprovals", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rr := recoveries(t, s)
		a := newAccount(t, s, "acc-1")
		newRecovery(t, rr, "r1", a.ID, t0)
		_, err := rr.ConfirmRecoveryRequest(ctx, "tok-r1", t0.Add(time.Minute), 72*time.Hour)
		must(t, err)
		_, err = rr.ProposeRecoveryApproval(ctx, "r1", "operator:a", "電話で確認", t0.Add(time.Hour))
		must(t, err)
		// Operators on several nodes (or tabs) approve, and the proposer
		// withdraws, at once: one decision takes, the others are stale.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, stale := 0, 0
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				by, d := "operator:b"+string(rune('0'+i)), store.ResetApproved
				if i == 0 {
					by, d = "operator:a", store.ResetWithdrawn
				}
				_, err := rr.DecideRecoveryProposal(ctx, "r1", t0.Add(time.Hour), by, d, t0.Add(2*time.Hour))
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
