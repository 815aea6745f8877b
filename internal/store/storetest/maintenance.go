package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// maintenanceOf returns s's maintenance schedule; a backend without one
// skips the group.
func maintenanceOf(t *testing.T, s store.Store) store.Maintenance {
	t.Helper()
	m, ok := s.(store.Maintenance)
	if !ok {
		t.Skip("backend has no maintenance schedule")
	}
	return m
}

func normMaintenance(t *testing.T, w store.MaintenanceWindow) store.MaintenanceWindow {
	w.Start, w.End, w.CreatedAt, w.CancelledAt = norm(t, w.Start), norm(t, w.End), norm(t, w.CreatedAt), norm(t, w.CancelledAt)
	return w
}

// newWindow schedules id from t0+from to t0+to.
func newWindow(t *testing.T, m store.Maintenance, id string, from, to time.Duration) store.MaintenanceWindow {
	t.Helper()
	w := store.MaintenanceWindow{ID: id, Start: t0.Add(from), End: t0.Add(to), ReasonJA: "設備工事 " + id,
		ReasonEN: "Works " + id, CreatedBy: "operator:kim", CreatedAt: t0.Add(-time.Hour)}
	must(t, m.CreateMaintenance(t.Context(), &w))
	return w
}

// windowIDs lists m's windows at now.
func windowIDs(t *testing.T, m store.Maintenance, now time.Time, includePast bool) []string {
	t.Helper()
	ws, err := m.ListMaintenance(t.Context(), now, includePast)
	must(t, err)
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	return ids
}

var maintenanceTests = []test{
	{"CreateAndList", func(t *testing.T, s store.Store) {
		ctx, m := t.Context(), maintenanceOf(t, s)
		if ids := windowIDs(t, m, t0, true); len(ids) != 0 {
			t.Fatalf("ListMaintenance of an empty store: %v", ids)
		}
		// Created out of order: Start decides.
		later := newWindow(t, m, "mw-later", 48*time.Hour, 50*time.Hour)
		past := newWindow(t, m, "mw-past", -3*time.Hour, -time.Hour)
		now := newWindow(t, m, "mw-now", -time.Minute, time.Hour)
		soon := store.MaintenanceWindow{ID: "mw-soon", Start: t0.Add(24 * time.Hour), End: t0.Add(26 * time.Hour), CreatedAt: t0}
		must(t, m.CreateMaintenance(ctx, &soon)) // no reasons, no author

		got, err := m.ListMaintenance(ctx, t0, false)
		must(t, err)
		want := []store.MaintenanceWindow{now, soon, later}
		if len(got) != len(want) {
			t.Fatalf("ListMaintenance: %d windows, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			same(t, fmt.Sprintf("ListMaintenance[%d]", i), got[i], want[i], normMaintenance)
		}
		got, err = m.ListMaintenance(ctx, t0, true)
		must(t, err)
		if len(got) != 4 {
			t.Fatalf("ListMaintenance with the past: %d windows, want 4", len(got))
		}
		same(t, "ListMaintenance with the past [0]", got[0], past, normMaintenance)

		// A window has ended at its End; one not yet begun is listed.
		if ids, w := windowIDs(t, m, t0.Add(time.Hour), false), []string{"mw-soon", "mw-later"}; !slices.Equal(ids, w) {
			t.Errorf("at mw-now's end: %v, want %v", ids, w)
		}
		if ids, w := windowIDs(t, m, t0.Add(time.Hour-time.Millisecond), false), []string{"mw-now", "mw-soon", "mw-later"}; !slices.Equal(ids, w) {
			t.Errorf("just before mw-now's end: %v, want %v", ids, w)
		}
		if ids := windowIDs(t, m, t0.Add(60*time.Hour), false); len(ids) != 0 {
			t.Errorf("after every window: %v", ids)
		}
	}},
	{"Overlap", func(t *testing.T, s store.Store) {
		ctx, m := t.Context(), maintenanceOf(t, s)
		a := newWindow(t, m, "mw-a", 2*time.Hour, 5*time.Hour)
		for _, tc := range []struct {
			name     string
			id       string
			from, to time.Duration
		}{
			{"overlapping its start", "mw-x", time.Hour, 3 * time.Hour},
			{"overlapping its end", "mw-x", 4 * time.Hour, 6 * time.Hour},
			{"inside it", "mw-x", 3 * time.Hour, 4 * time.Hour},
			{"around it", "mw-x", time.Hour, 6 * time.Hour},
			{"the same times", "mw-x", 2 * time.Hour, 5 * time.Hour},
			{"a taken id", a.ID, 10 * time.Hour, 11 * time.Hour},
		} {
			w := store.MaintenanceWindow{ID: tc.id, Start: t0.Add(tc.from), End: t0.Add(tc.to), CreatedAt: t0}
			wantErr(t, "CreateMaintenance "+tc.name, m.CreateMaintenance(ctx, &w), store.ErrConflict)
		}
		// Touching is not overlapping.
		newWindow(t, m, "mw-before", time.Hour, 2*time.Hour)
		newWindow(t, m, "mw-after", 5*time.Hour, 6*time.Hour)
		if ids, w := windowIDs(t, m, t0, false), []string{"mw-before", "mw-a", "mw-after"}; !slices.Equal(ids, w) {
			t.Errorf("after the conflicts: %v, want %v", ids, w)
		}
		// A cancelled window frees its time.
		_, err := m.CancelMaintenance(ctx, a.ID, t0)
		must(t, err)
		newWindow(t, m, "mw-instead", 3*time.Hour, 4*time.Hour)
		// A window that has ended still blocks its own past times; only
		// cancelling frees them.
		w := store.MaintenanceWindow{ID: "mw-y", Start: t0.Add(90 * time.Minute), End: t0.Add(100 * time.Minute), CreatedAt: t0}
		wantErr(t, "CreateMaintenance over mw-before", m.CreateMaintenance(ctx, &w), store.ErrConflict)
	}},
	{"OverlapConcurrent", func(t *testing.T, s store.Store) {
		ctx, m := t.Context(), maintenanceOf(t, s)
		errs := race(func(i int) error {
			d := time.Duration(i) * time.Minute
			return m.CreateMaintenance(ctx, &store.MaintenanceWindow{ID: fmt.Sprintf("mw-%d", i),
				Start: t0.Add(time.Hour + d), End: t0.Add(2*time.Hour + d), CreatedAt: t0})
		})
		oneWins(t, errs, store.ErrConflict)
		if ids := windowIDs(t, m, t0, true); len(ids) != 1 {
			t.Errorf("stored %v, want one window", ids)
		}
	}},
	{"Cancel", func(t *testing.T, s store.Store) {
		ctx, m := t.Context(), maintenanceOf(t, s)
		a := newWindow(t, m, "mw-a", time.Hour, 2*time.Hour)
		b := newWindow(t, m, "mw-b", 3*time.Hour, 4*time.Hour)
		got, err := m.CancelMaintenance(ctx, a.ID, t0)
		must(t, err)
		a.CancelledAt = t0
		same(t, "CancelMaintenance", *got, a, normMaintenance)
		if ids, w := windowIDs(t, m, t0, false), []string{"mw-b"}; !slices.Equal(ids, w) {
			t.Errorf("after the cancel: %v, want %v", ids, w)
		}
		all, err := m.ListMaintenance(ctx, t0, true)
		must(t, err)
		if len(all) != 2 {
			t.Fatalf("ListMaintenance with the past: %+v", all)
		}
		same(t, "cancelled window listed with the past", all[0], a, normMaintenance)
		same(t, "standing window listed with the past", all[1], b, normMaintenance)

		// Again: refused, and the first time stays.
		got, err = m.CancelMaintenance(ctx, a.ID, t0.Add(time.Minute))
		wantErr(t, "second CancelMaintenance", err, store.ErrStale)
		if got == nil {
			t.Fatal("second CancelMaintenance returned no window")
		}
		same(t, "second CancelMaintenance", *got, a, normMaintenance)
		_, err = m.CancelMaintenance(ctx, "nobody", t0)
		wantErr(t, "CancelMaintenance of unknown window", err, store.ErrNotFound)
	}},
}
