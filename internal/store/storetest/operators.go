package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// operatorsOf is the store's store.Operators.
func operatorsOf(_ *testing.T, s store.Store) store.Operators { return s }

func normOperator(t *testing.T, o store.Operator) store.Operator {
	o.CreatedAt, o.MFALockedUntil = norm(t, o.CreatedAt), norm(t, o.MFALockedUntil)
	return o
}

func normOperatorSession(t *testing.T, s store.OperatorSession) store.OperatorSession {
	s.CreatedAt, s.MFAAt, s.ExpiresAt = norm(t, s.CreatedAt), norm(t, s.MFAAt), norm(t, s.ExpiresAt)
	return s
}

func normLock(t *testing.T, l store.AccountLock) store.AccountLock {
	l.At = norm(t, l.At)
	return l
}

func newOperator(t *testing.T, o store.Operators, id string, role store.OperatorRole) *store.Operator {
	t.Helper()
	op := &store.Operator{ID: id, Email: id + "@tobira.example", Name: "Op " + id, Role: role,
		PasswordHash: "hash", TOTPSecret: "sealed", CreatedAt: t0}
	must(t, o.CreateOperator(t.Context(), op))
	return op
}

// newOperatorSession signs the operator in to the console under hash.
func newOperatorSession(t *testing.T, o store.Operators, hash, operatorID string) {
	t.Helper()
	must(t, o.CreateOperatorSession(t.Context(), &store.OperatorSession{IDHash: hash, OperatorID: operatorID,
		CreatedAt: t0, MFAAt: t0, ExpiresAt: t0.Add(8 * time.Hour)}))
}

func accountIDs(as []store.Account) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func eventIDs(evs []store.AuditEvent) []int64 {
	var ids []int64
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

var operatorTests = []test{
	{"CreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		op := store.Operator{ID: "op-1", Email: "kim@tobira.example", Name: "Kim", Role: store.RoleAdmin,
			PasswordHash: "$argon2id$x", TOTPSecret: "sealed", LastStep: 3, CreatedAt: t0, Disabled: true,
			OneTimeUntil: t0.Add(72 * time.Hour)}
		must(t, o.CreateOperator(ctx, &op))
		got, err := o.OperatorByID(ctx, "op-1")
		must(t, err)
		same(t, "OperatorByID", *got, op, normOperator)
		got, err = o.OperatorByEmail(ctx, "kim@tobira.example")
		must(t, err)
		same(t, "OperatorByEmail", *got, op, normOperator)
		_, err = o.OperatorByEmail(ctx, "nobody@tobira.example")
		wantErr(t, "OperatorByEmail of nobody", err, store.ErrNotFound)
		_, err = o.OperatorByID(ctx, "nobody")
		wantErr(t, "OperatorByID of nobody", err, store.ErrNotFound)
		dup := op
		dup.ID = "op-2"
		wantErr(t, "CreateOperator with a taken email", o.CreateOperator(ctx, &dup), store.ErrConflict)
		newOperator(t, o, "aaa", store.RoleSupport)
		list, err := o.ListOperators(ctx)
		must(t, err)
		if len(list) != 2 || list[0].ID != "aaa" || list[1].ID != "op-1" {
			t.Errorf("ListOperators: %+v", list)
		}
	}},
	{"TOTPStepAndLock", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		op := newOperator(t, o, "op-1", store.RoleSupport)
		must(t, o.AdvanceOperatorStep(ctx, op.ID, 10))
		wantErr(t, "AdvanceOperatorStep replay", o.AdvanceOperatorStep(ctx, op.ID, 10), store.ErrStale)
		wantErr(t, "AdvanceOperatorStep of nobody", o.AdvanceOperatorStep(ctx, "nobody", 11), store.ErrNotFound)
		lock := func(n int) time.Time {
			if n == 2 {
				return t0.Add(time.Hour)
			}
			return time.Time{}
		}
		for want := 1; want <= 2; want++ {
			got, err := o.ChargeOperatorMFA(ctx, op.ID, t0, lock)
			must(t, err)
			if got.MFAFailures != want {
				t.Errorf("ChargeOperatorMFA: %d failures, want %d", got.MFAFailures, want)
			}
		}
		got, err := o.ChargeOperatorMFA(ctx, op.ID, t0.Add(time.Minute), lock)
		wantErr(t, "ChargeOperatorMFA while locked", err, store.ErrLocked)
		if got == nil || !got.MFALockedUntil.Equal(t0.Add(time.Hour)) {
			t.Errorf("ChargeOperatorMFA while locked returned %+v", got)
		}
		must(t, o.ClearOperatorMFAFailures(ctx, op.ID))
		stored, err := o.OperatorByID(ctx, op.ID)
		must(t, err)
		if stored.MFAFailures != 0 || !stored.MFALockedUntil.IsZero() || stored.LastStep != 10 {
			t.Errorf("after clear: %+v", stored)
		}
		_, err = o.ChargeOperatorMFA(ctx, "nobody", t0, lock)
		wantErr(t, "ChargeOperatorMFA of nobody", err, store.ErrNotFound)
	}},
	{"Sessions", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		op := newOperator(t, o, "op-1", store.RoleSupport)
		ss := store.OperatorSession{IDHash: "h-1", OperatorID: op.ID, CreatedAt: t0, MFAAt: t0,
			ExpiresAt: t0.Add(8 * time.Hour), ClientIP: "203.0.113.1", UserAgent: "UA"}
		must(t, o.CreateOperatorSession(ctx, &ss))
		must(t, o.CreateOperatorSession(ctx, &store.OperatorSession{IDHash: "h-2", OperatorID: op.ID, CreatedAt: t0, ExpiresAt: t0}))
		wantErr(t, "CreateOperatorSession of nobody",
			o.CreateOperatorSession(ctx, &store.OperatorSession{IDHash: "h-3", OperatorID: "nobody", ExpiresAt: t0}), store.ErrNotFound)
		got, err := o.OperatorSessionByHash(ctx, "h-1")
		must(t, err)
		same(t, "OperatorSessionByHash", *got, ss, normOperatorSession)
		// Extended forward, never back; a missing session is no error.
		must(t, o.ExtendOperatorSession(ctx, "h-1", t0.Add(9*time.Hour)))
		must(t, o.ExtendOperatorSession(ctx, "h-1", t0.Add(time.Hour)))
		must(t, o.ExtendOperatorSession(ctx, "nobody", t0.Add(time.Hour)))
		if got, err = o.OperatorSessionByHash(ctx, "h-1"); err != nil || !got.ExpiresAt.Equal(t0.Add(9*time.Hour)) {
			t.Errorf("after the extensions: %v, %v; want the end at %v", got, err, t0.Add(9*time.Hour))
		}
		// The second factor typed again gives the session a new id and
		// moves MFAAt forward, never back; the code step's session and a
		// missing one are not found.
		must(t, o.StepUpOperatorSession(ctx, "h-1", "h-1b", t0.Add(2*time.Hour)))
		_, err = o.OperatorSessionByHash(ctx, "h-1")
		wantErr(t, "the session by its id before the step-up", err, store.ErrNotFound)
		must(t, o.StepUpOperatorSession(ctx, "h-1b", "h-1", t0.Add(time.Hour)))
		if got, err = o.OperatorSessionByHash(ctx, "h-1"); err != nil || !got.MFAAt.Equal(t0.Add(2*time.Hour)) ||
			!got.ExpiresAt.Equal(t0.Add(9*time.Hour)) || !got.CreatedAt.Equal(t0) || got.IDHash != "h-1" {
			t.Errorf("after StepUpOperatorSession: %+v, %v; want MFAAt %v and the rest as it was", got, err, t0.Add(2*time.Hour))
		}
		wantErr(t, "StepUpOperatorSession of the code step's session",
			o.StepUpOperatorSession(ctx, "h-2", "h-2b", t0.Add(time.Hour)), store.ErrNotFound)
		if got, err = o.OperatorSessionByHash(ctx, "h-2"); err != nil || !got.MFAAt.IsZero() {
			t.Errorf("the code step's session after StepUpOperatorSession: %+v, %v; want MFAAt zero", got, err)
		}
		wantErr(t, "StepUpOperatorSession of nobody",
			o.StepUpOperatorSession(ctx, "nobody", "nobody-b", t0.Add(time.Hour)), store.ErrNotFound)
		n, err := o.DeleteExpiredOperatorSessions(ctx, t0)
		must(t, err)
		if n != 1 {
			t.Errorf("DeleteExpiredOperatorSessions = %d, want 1", n)
		}
		_, err = o.OperatorSessionByHash(ctx, "h-2")
		wantErr(t, "expired session", err, store.ErrNotFound)
		must(t, o.DeleteOperatorSession(ctx, "h-1"))
		_, err = o.OperatorSessionByHash(ctx, "h-1")
		wantErr(t, "deleted session", err, store.ErrNotFound)
	}},
	{"Disable", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		op := newOperator(t, o, "op-1", store.RoleSupport)
		other := newOperator(t, o, "op-2", store.RoleAdmin)
		newOperatorSession(t, o, "h-1", op.ID)
		newOperatorSession(t, o, "h-2", op.ID)
		newOperatorSession(t, o, "h-3", other.ID)
		must(t, o.SetOperatorDisabled(ctx, op.ID, true))
		got, err := o.OperatorByID(ctx, op.ID)
		must(t, err)
		if !got.Disabled {
			t.Errorf("after disable: %+v", got)
		}
		for _, h := range []string{"h-1", "h-2"} {
			_, err := o.OperatorSessionByHash(ctx, h)
			wantErr(t, "disabled operator's session "+h, err, store.ErrNotFound)
		}
		_, err = o.OperatorSessionByHash(ctx, "h-3")
		must(t, err)
		if got, err := o.OperatorByID(ctx, other.ID); err != nil || got.Disabled {
			t.Errorf("the other operator after disable: %+v, %v", got, err)
		}
		must(t, o.SetOperatorDisabled(ctx, op.ID, true)) // again: no change, no error
		must(t, o.SetOperatorDisabled(ctx, op.ID, false))
		got, err = o.OperatorByID(ctx, op.ID)
		must(t, err)
		want := *op
		same(t, "after enable", *got, want, normOperator)
		newOperatorSession(t, o, "h-4", op.ID)
		must(t, o.SetOperatorDisabled(ctx, op.ID, false)) // enabling ends no session
		_, err = o.OperatorSessionByHash(ctx, "h-4")
		must(t, err)
		wantErr(t, "SetOperatorDisabled of nobody", o.SetOperatorDisabled(ctx, "nobody", true), store.ErrNotFound)
		wantErr(t, "SetOperatorDisabled(false) of nobody", o.SetOperatorDisabled(ctx, "nobody", false), store.ErrNotFound)
	}},
	{"LastAdminStaysEnabled", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		a1 := newOperator(t, o, "op-1", store.RoleAdmin)
		a2 := newOperator(t, o, "op-2", store.RoleAdmin)
		sup := newOperator(t, o, "op-3", store.RoleSupport)
		newOperatorSession(t, o, "h-2", a2.ID)
		must(t, o.SetOperatorDisabled(ctx, a1.ID, true))
		wantErr(t, "disabling the last enabled admin", o.SetOperatorDisabled(ctx, a2.ID, true), store.ErrLastAdmin)
		if got, err := o.OperatorByID(ctx, a2.ID); err != nil || got.Disabled {
			t.Errorf("the last admin after the refusal: %+v, %v", got, err)
		}
		_, err := o.OperatorSessionByHash(ctx, "h-2")
		must(t, err)
		must(t, o.SetOperatorDisabled(ctx, sup.ID, true)) // support operators go as before
		must(t, o.SetOperatorDisabled(ctx, a1.ID, false))
		must(t, o.SetOperatorDisabled(ctx, a2.ID, true))
	}},
	{"ResetTOTP", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		op := newOperator(t, o, "op-1", store.RoleSupport)
		other := newOperator(t, o, "op-2", store.RoleAdmin)
		must(t, o.AdvanceOperatorStep(ctx, op.ID, 10))
		must(t, o.AdvanceOperatorStep(ctx, other.ID, 10))
		lock := func(int) time.Time { return t0.Add(time.Hour) }
		for _, id := range []string{op.ID, other.ID} {
			_, err := o.ChargeOperatorMFA(ctx, id, t0, lock)
			must(t, err)
		}
		newOperatorSession(t, o, "h-1", op.ID)
		newOperatorSession(t, o, "h-2", op.ID)
		newOperatorSession(t, o, "h-3", other.ID)
		must(t, o.ResetOperatorTOTP(ctx, op.ID, "sealed-2"))
		got, err := o.OperatorByID(ctx, op.ID)
		must(t, err)
		want := *op
		want.TOTPSecret = "sealed-2"
		same(t, "after reset", *got, want, normOperator)
		for _, h := range []string{"h-1", "h-2"} {
			_, err := o.OperatorSessionByHash(ctx, h)
			wantErr(t, "reset operator's session "+h, err, store.ErrNotFound)
		}
		_, err = o.OperatorSessionByHash(ctx, "h-3")
		must(t, err)
		got, err = o.OperatorByID(ctx, other.ID)
		must(t, err)
		if got.TOTPSecret != "sealed" || got.LastStep != 10 || got.MFAFailures != 1 || got.MFALockedUntil.IsZero() {
			t.Errorf("the other operator after reset: %+v", got)
		}
		// The step starts again: a code of a step the old seed used passes.
		must(t, o.AdvanceOperatorStep(ctx, op.ID, 5))
		wantErr(t, "ResetOperatorTOTP of nobody", o.ResetOperatorTOTP(ctx, "nobody", "sealed-3"), store.ErrNotFound)
	}},
	{"SetPassword", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		op := newOperator(t, o, "op-1", store.RoleSupport)
		other := newOperator(t, o, "op-2", store.RoleAdmin)
		newOperatorSession(t, o, "h-1", op.ID)
		newOperatorSession(t, o, "h-2", op.ID)
		newOperatorSession(t, o, "h-3", other.ID)
		// An admin's reset: every session of the operator ends.
		must(t, o.SetOperatorPassword(ctx, op.ID, "$argon2id$new", t0.Add(72*time.Hour), ""))
		got, err := o.OperatorByID(ctx, op.ID)
		must(t, err)
		want := *op
		want.PasswordHash, want.OneTimeUntil = "$argon2id$new", t0.Add(72*time.Hour)
		same(t, "after an admin's reset", *got, want, normOperator)
		for _, h := range []string{"h-1", "h-2"} {
			_, err := o.OperatorSessionByHash(ctx, h)
			wantErr(t, "reset operator's session "+h, err, store.ErrNotFound)
		}
		_, err = o.OperatorSessionByHash(ctx, "h-3")
		must(t, err)
		// The operator's own change keeps the session it was made in.
		newOperatorSession(t, o, "h-4", op.ID)
		newOperatorSession(t, o, "h-5", op.ID)
		must(t, o.SetOperatorPassword(ctx, op.ID, "$argon2id$own", time.Time{}, "h-4"))
		got, err = o.OperatorByID(ctx, op.ID)
		must(t, err)
		if got.PasswordHash != "$argon2id$own" || got.MustChangePassword() {
			t.Errorf("after the operator's own change: %+v", got)
		}
		_, err = o.OperatorSessionByHash(ctx, "h-4")
		must(t, err)
		_, err = o.OperatorSessionByHash(ctx, "h-5")
		wantErr(t, "the operator's other session", err, store.ErrNotFound)
		got, err = o.OperatorByID(ctx, other.ID)
		must(t, err)
		same(t, "the other operator", *got, *other, normOperator)
		wantErr(t, "SetOperatorPassword of nobody", o.SetOperatorPassword(ctx, "nobody", "$argon2id$x", time.Time{}, ""), store.ErrNotFound)
	}},
	{"RehashOperatorPassword", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		op := newOperator(t, o, "op-1", store.RoleSupport)
		must(t, o.SetOperatorPassword(ctx, op.ID, "$argon2id$one-time", t0.Add(72*time.Hour), ""))
		newOperatorSession(t, o, "h-1", op.ID)
		// The same password hashed anew: the one-time deadline and the
		// sessions stay.
		must(t, o.RehashOperatorPassword(ctx, op.ID, "$argon2id$one-time", "$argon2id$one-time-b"))
		got, err := o.OperatorByID(ctx, op.ID)
		must(t, err)
		want := *op
		want.PasswordHash, want.OneTimeUntil = "$argon2id$one-time-b", t0.Add(72*time.Hour)
		same(t, "after RehashOperatorPassword", *got, want, normOperator)
		_, err = o.OperatorSessionByHash(ctx, "h-1")
		must(t, err)
		// A password set between the check and the rehash wins.
		must(t, o.SetOperatorPassword(ctx, op.ID, "$argon2id$own", time.Time{}, "h-1"))
		wantErr(t, "RehashOperatorPassword of a hash set meanwhile",
			o.RehashOperatorPassword(ctx, op.ID, "$argon2id$one-time-b", "$argon2id$one-time-c"), store.ErrStale)
		got, err = o.OperatorByID(ctx, op.ID)
		must(t, err)
		if got.PasswordHash != "$argon2id$own" || got.MustChangePassword() {
			t.Errorf("after a stale RehashOperatorPassword: %+v", got)
		}
		wantErr(t, "RehashOperatorPassword of nobody", o.RehashOperatorPassword(ctx, "nobody", "$argon2id$own", "$argon2id$x"), store.ErrNotFound)
	}},
	{"AccountLocks", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		a := newAccount(t, s, "acc-1")
		_, err := o.AccountLockOf(ctx, a.ID)
		wantErr(t, "AccountLockOf an unlocked account", err, store.ErrNotFound)
		l := store.AccountLock{AccountID: a.ID, LockedBy: "operator:kim@tobira.example", Reason: "盗難の届出", At: t0}
		must(t, o.LockAccount(ctx, &l))
		wantErr(t, "LockAccount twice", o.LockAccount(ctx, &l), store.ErrConflict)
		wantErr(t, "LockAccount of nobody", o.LockAccount(ctx, &store.AccountLock{AccountID: "nobody", LockedBy: "x", At: t0}), store.ErrNotFound)
		got, err := o.AccountLockOf(ctx, a.ID)
		must(t, err)
		same(t, "AccountLockOf", *got, l, normLock)
		must(t, o.UnlockAccount(ctx, a.ID))
		wantErr(t, "UnlockAccount twice", o.UnlockAccount(ctx, a.ID), store.ErrNotFound)
		_, err = o.AccountLockOf(ctx, a.ID)
		wantErr(t, "AccountLockOf after unlock", err, store.ErrNotFound)
	}},
	{"FindAccounts", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		for _, a := range []store.Account{
			{ID: "a1", Email: "yamada@example.jp", Name: "山田 太郎", CreatedAt: t0},
			{ID: "a2", Email: "sato@example.jp", Name: "佐藤 花子", CreatedAt: t0},
			{ID: "a3", Email: "tanaka@example.jp", Name: "Tanaka 100%_done", CreatedAt: t0},
			{ID: "a4", Email: "suzuki@example.jp", Name: "鈴木\u3000一郎", CreatedAt: t0},
		} {
			must(t, s.CreateAccount(ctx, &a))
		}
		c := newContract("a2", "C-2026-000045", t0, 5000)
		must(t, s.CreateContract(ctx, &c))
		ap := newApplication("a1", "A-2026-000123", t0, store.ApplicationReceived)
		must(t, s.CreateApplication(ctx, &ap))
		for q, want := range map[string][]string{
			"yamada":        {"a1"},
			"YAMADA@EX":     {"a1"},
			"example.jp":    nil, // a prefix of the email, not a substring
			"花子":            {"a2"},
			"c-2026-000045": {"a2"},
			"A-2026-000123": {"a1"},
			"C-2026":        nil, // numbers match whole
			"100%":          {"a3"},
			"%":             {"a3"}, // literal, not a wildcard
			"_":             {"a3"},
			"  ":            nil,
			"ta":            {"a3"},
			// Spaces in names, ASCII or ideographic, are ignored both sides.
			"山田太郎":       {"a1"},
			"山田\u3000太郎": {"a1"},
			"鈴木 一郎":      {"a4"},
			"鈴木一郎":       {"a4"},
			"木\u3000一":   {"a4"},
		} {
			got, err := o.FindAccounts(ctx, q)
			must(t, err)
			if ids := accountIDs(got); !slices.Equal(ids, want) {
				t.Errorf("FindAccounts(%q) = %v, want %v", q, ids, want)
			}
		}
		for i := range store.MaxFoundAccounts + 5 {
			must(t, s.CreateAccount(ctx, &store.Account{ID: "many-" + string(rune('a'+i/26)) + string(rune('a'+i%26)),
				Email: "many" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "@example.jp", CreatedAt: t0}))
		}
		got, err := o.FindAccounts(ctx, "many")
		must(t, err)
		if len(got) != store.MaxFoundAccounts || got[0].Email != "manyaa@example.jp" {
			t.Errorf("FindAccounts(many): %d accounts from %v", len(got), accountIDs(got[:1]))
		}
	}},
	{"ListAudit", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := operatorsOf(t, s)
		evs := []store.AuditEvent{
			{At: t0, AccountID: "acc-1", Actor: "customer", Action: "signin.password", Outcome: "fail"},
			{At: t0.Add(time.Hour), AccountID: "acc-1", Actor: "customer", Action: "signin.password", Outcome: "ok"},
			{At: t0.Add(time.Hour), AccountID: "acc-2", Actor: "operator:kim", Action: "account.lock", Outcome: "ok"},
			{At: t0.Add(2 * time.Hour), Actor: "system", Action: "signin.unknown", Outcome: "fail"},
		}
		for i := range evs {
			must(t, s.AppendAudit(ctx, &evs[i]))
		}
		id := func(i ...int) []int64 {
			var out []int64
			for _, j := range i {
				out = append(out, evs[j].ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    store.AuditFilter
			want []int64
		}{
			{"all", store.AuditFilter{}, id(3, 2, 1, 0)},
			{"limit", store.AuditFilter{Limit: 2}, id(3, 2)},
			{"account", store.AuditFilter{AccountID: "acc-1"}, id(1, 0)},
			{"action", store.AuditFilter{Action: "signin.password"}, id(1, 0)},
			{"outcome", store.AuditFilter{Outcome: "fail"}, id(3, 0)},
			{"since", store.AuditFilter{Since: t0.Add(time.Hour)}, id(3, 2, 1)},
			{"until", store.AuditFilter{Until: t0.Add(time.Hour)}, id(0)},
			{"range", store.AuditFilter{Since: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}, id(2, 1)},
			{"nothing", store.AuditFilter{AccountID: "acc-2", Outcome: "fail"}, nil},
			{"actor", store.AuditFilter{Actor: "operator:kim"}, id(2)},
			{"other actor", store.AuditFilter{Actor: "operator:ito"}, nil},
			{"customer", store.AuditFilter{Actor: "customer"}, id(1, 0)},
			// evs[1] and evs[2] share their instant: the id orders them.
			{"before", store.AuditFilter{Before: store.CursorOf(evs[2])}, id(1, 0)},
			{"before, limit", store.AuditFilter{Before: store.CursorOf(evs[3]), Limit: 2}, id(2, 1)},
			{"before, filtered", store.AuditFilter{Before: store.CursorOf(evs[3]), Outcome: "fail"}, id(0)},
			{"after", store.AuditFilter{After: store.CursorOf(evs[1])}, id(3, 2)},
			{"after, limit", store.AuditFilter{After: store.CursorOf(evs[0]), Limit: 2}, id(2, 1)},
			{"after the newest", store.AuditFilter{After: store.CursorOf(evs[3])}, nil},
			{"between", store.AuditFilter{After: store.CursorOf(evs[0]), Before: store.CursorOf(evs[3])}, id(2, 1)},
		} {
			got, err := o.ListAudit(ctx, tc.f)
			must(t, err)
			if ids := eventIDs(got); !slices.Equal(ids, tc.want) {
				t.Errorf("ListAudit %s = %v, want %v", tc.name, ids, tc.want)
			}
		}
		got, err := o.ListAudit(ctx, store.AuditFilter{AccountID: "acc-2"})
		must(t, err)
		if len(got) == 1 {
			same(t, "ListAudit event", got[0], evs[2], normEvent)
		}
	}},
}
