// Package storetest is the conformance suite every store.Store backend runs.
// It knows only the store package, so a new backend passes it unchanged.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// t0 is the suite's clock: fixed, whole seconds, in UTC.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// racers is how many goroutines contend in the concurrency tests.
const racers = 8

type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs the suite. open must return a new, empty store on every call; Run
// closes it when the subtest that asked for it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Accounts", accountTests},
		{"Factors", factorTests},
		{"Sessions", sessionTests},
		{"Flows", flowTests},
		{"Tokens", tokenTests},
		{"Limits", limitTests},
		{"PhoneCodes", phoneCodeTests},
		{"Outbox", outboxTests},
		{"Audit", auditTests},
		{"OIDC", oidcTests},
		{"OIDCCleanup", oidcCleanupTests},
		{"OIDCConsent", oidcConsentTests},
		{"Times", timeTests},
		{"Sites", siteTests},
		{"SitesPaging", sitePagingTests},
		{"SiteSessions", siteSessionTests},
		{"Mail", mailTests},
		{"Operators", operatorTests},
		{"RecoveryRequests", recoveryRequestTests},
		{"ResetRequests", resetRequestTests},
		{"Maintenance", maintenanceTests},
		{"Units", unitTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, s)
				})
			}
		})
	}
}

// Helpers.

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// newAccount creates an account named id with an email derived from it.
func newAccount(t *testing.T, s store.Store, id string) *store.Account {
	t.Helper()
	a := &store.Account{ID: id, Email: id + "@example.com", Name: "Name " + id, CreatedAt: t0}
	must(t, s.CreateAccount(t.Context(), a))
	return a
}

func newSession(t *testing.T, s store.Store, hash, accountID string, expires time.Time) *store.Session {
	t.Helper()
	ss := &store.Session{IDHash: hash, AccountID: accountID, CreatedAt: t0, ExpiresAt: expires}
	must(t, s.CreateSession(t.Context(), ss))
	return ss
}

// sessionExists reports whether SessionByHash finds hash.
func sessionExists(t *testing.T, s store.Store, hash string) bool {
	t.Helper()
	_, err := s.SessionByHash(t.Context(), hash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionByHash(%q): %v", hash, err)
	}
	return err == nil
}

// norm gives a time one representation per instant, so records compare with
// ==, and checks that a backend returned it in UTC.
func norm(t *testing.T, tm time.Time) time.Time {
	t.Helper()
	if tm.IsZero() {
		return time.Time{}
	}
	if tm.Location() != time.UTC {
		t.Errorf("time %v is in %v, want UTC", tm, tm.Location())
	}
	return time.Unix(0, tm.UnixNano()).UTC()
}

// same fails unless got equals want after both pass through n.
func same[T any](t *testing.T, what string, got, want T, n func(*testing.T, T) T) {
	t.Helper()
	if g, w := n(t, got), n(t, want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func normAccount(t *testing.T, a store.Account) store.Account {
	a.CreatedAt, a.MFALockedUntil = norm(t, a.CreatedAt), norm(t, a.MFALockedUntil)
	return a
}

func normFactor(t *testing.T, f store.Factor) store.Factor {
	f.CreatedAt = norm(t, f.CreatedAt)
	return f
}

func normSession(t *testing.T, s store.Session) store.Session {
	s.CreatedAt, s.MFAAt, s.ExpiresAt = norm(t, s.CreatedAt), norm(t, s.MFAAt), norm(t, s.ExpiresAt)
	if len(s.AMR) == 0 {
		s.AMR = nil // none stored reads back as none
	}
	return s
}

func normFlow(t *testing.T, f store.Flow) store.Flow {
	f.CreatedAt, f.ExpiresAt = norm(t, f.CreatedAt), norm(t, f.ExpiresAt)
	return f
}

func normToken(t *testing.T, k store.OneTimeToken) store.OneTimeToken {
	k.CreatedAt, k.ExpiresAt, k.UsedAt = norm(t, k.CreatedAt), norm(t, k.ExpiresAt), norm(t, k.UsedAt)
	return k
}

func normPhoneCode(t *testing.T, p store.PhoneCode) store.PhoneCode {
	p.SentAt, p.ExpiresAt = norm(t, p.SentAt), norm(t, p.ExpiresAt)
	return p
}

func normOutbox(t *testing.T, m store.OutboxMessage) store.OutboxMessage {
	m.At = norm(t, m.At)
	return m
}

func normEvent(t *testing.T, e store.AuditEvent) store.AuditEvent {
	e.At = norm(t, e.At)
	return e
}

// race runs fn in racers goroutines released together and returns each one's
// error.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// racersSucceed fails the test at the first racer that returned an error.
func racersSucceed(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
}

// racersTrue has every racer call fn at once, each to succeed, and returns
// how many of them reported true.
func racersTrue(t *testing.T, fn func(i int) (bool, error)) int {
	t.Helper()
	var mu sync.Mutex
	n := 0
	racersSucceed(t, race(func(i int) error {
		ok, err := fn(i)
		mu.Lock()
		defer mu.Unlock()
		if ok {
			n++
		}
		return err
	}))
	return n
}

// raceLocked has every racer call charge each times, all at once, and
// returns what the calls let through returned and how many were refused
// with ErrLocked; any other error fails the test.
func raceLocked[T any](t *testing.T, each int, charge func() (T, error)) (passed []T, locked int) {
	t.Helper()
	var mu sync.Mutex
	racersSucceed(t, race(func(int) error {
		for range each {
			got, err := charge()
			mu.Lock()
			switch {
			case err == nil:
				passed = append(passed, got)
			case errors.Is(err, store.ErrLocked):
				locked++
			default:
				mu.Unlock()
				return err
			}
			mu.Unlock()
		}
		return nil
	}))
	return passed, locked
}

// oneWins fails unless exactly one error is nil and every other is loser.
func oneWins(t *testing.T, errs []error, loser error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Errorf("racer %d: got error %v, want nil or %v", i, err, loser)
		}
	}
	if wins != 1 {
		t.Errorf("%d racers won, want exactly 1", wins)
	}
}

// Accounts.

var accountTests = []test{
	{"CreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := store.Account{
			ID: "acc-1", Email: "ana@example.com", Name: "Ana",
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", CreatedAt: t0,
		}
		must(t, s.CreateAccount(ctx, &a))
		got, err := s.AccountByID(ctx, "acc-1")
		must(t, err)
		same(t, "AccountByID", *got, a, normAccount)
		got, err = s.AccountByEmail(ctx, "ana@example.com")
		must(t, err)
		same(t, "AccountByEmail", *got, a, normAccount)
	}},
	{"Conflict", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		first := newAccount(t, s, "acc-1")
		for _, tc := range []struct{ name, id, email string }{
			{"taken email", "acc-2", first.Email},
			{"taken id", first.ID, "other@example.com"},
		} {
			err := s.CreateAccount(ctx, &store.Account{ID: tc.id, Email: tc.email, CreatedAt: t0})
			wantErr(t, "CreateAccount with "+tc.name, err, store.ErrConflict)
		}
		got, err := s.AccountByEmail(ctx, first.Email)
		must(t, err)
		same(t, "first account after conflicts", *got, *first, normAccount)
		list, err := s.ListAccounts(ctx)
		must(t, err)
		if len(list) != 1 {
			t.Errorf("ListAccounts after conflicts: %d accounts, want 1", len(list))
		}
	}},
	{"NotFound", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		newAccount(t, s, "acc-1")
		_, err := s.AccountByID(ctx, "nobody")
		wantErr(t, "AccountByID", err, store.ErrNotFound)
		_, err = s.AccountByEmail(ctx, "nobody@example.com")
		wantErr(t, "AccountByEmail", err, store.ErrNotFound)
	}},
	{"List", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		list, err := s.ListAccounts(ctx)
		must(t, err)
		if len(list) != 0 {
			t.Fatalf("ListAccounts of an empty store: %v", list)
		}
		// Inserted out of order: created_at decides, then email.
		for _, a := range []store.Account{
			{ID: "c", Email: "c@example.com", CreatedAt: t0.Add(time.Hour)},
			{ID: "b", Email: "b@example.com", CreatedAt: t0},
			{ID: "a", Email: "a@example.com", CreatedAt: t0},
			{ID: "z", Email: "z@example.com", CreatedAt: t0.Add(-time.Hour)},
		} {
			must(t, s.CreateAccount(ctx, &a))
		}
		list, err = s.ListAccounts(ctx)
		must(t, err)
		var ids []string
		for _, a := range list {
			ids = append(ids, a.ID)
		}
		if want := []string{"z", "a", "b", "c"}; !slices.Equal(ids, want) {
			t.Errorf("ListAccounts order: %v, want %v", ids, want)
		}
	}},
	{"SetPasswordHash", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		for _, h := range []string{"hash-1", "hash-2"} {
			must(t, s.SetPasswordHash(ctx, a.ID, h))
			got, err := s.AccountByID(ctx, a.ID)
			must(t, err)
			a.PasswordHash = h
			same(t, "after SetPasswordHash", *got, *a, normAccount)
		}
		wantErr(t, "SetPasswordHash of unknown account", s.SetPasswordHash(ctx, "nobody", "h"), store.ErrNotFound)
	}},
	{"RehashPassword", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.SetPasswordHash(ctx, a.ID, "hash-1"))
		must(t, s.RehashPassword(ctx, a.ID, "hash-1", "hash-1b"))
		got, err := s.AccountByID(ctx, a.ID)
		must(t, err)
		a.PasswordHash = "hash-1b"
		same(t, "after RehashPassword", *got, *a, normAccount)
		// A password set between the check and the rehash wins: the
		// rehash of the older one changes nothing.
		must(t, s.SetPasswordHash(ctx, a.ID, "hash-2"))
		wantErr(t, "RehashPassword of a hash set meanwhile", s.RehashPassword(ctx, a.ID, "hash-1b", "hash-1c"), store.ErrStale)
		got, err = s.AccountByID(ctx, a.ID)
		must(t, err)
		a.PasswordHash = "hash-2"
		same(t, "after a stale RehashPassword", *got, *a, normAccount)
		wantErr(t, "RehashPassword of unknown account", s.RehashPassword(ctx, "nobody", "hash-2", "h"), store.ErrNotFound)
	}},
	{"Lang", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// Created without a language: Japanese, in the struct too.
		a := newAccount(t, s, "acc-1")
		if a.Lang != store.DefaultLang {
			t.Errorf("CreateAccount left Lang %q, want %q", a.Lang, store.DefaultLang)
		}
		b := &store.Account{ID: "acc-2", Email: "b@example.com", CreatedAt: t0, Lang: "en"}
		must(t, s.CreateAccount(ctx, b))
		must(t, s.SetAccountLang(ctx, a.ID, "en"))
		must(t, s.SetAccountLang(ctx, b.ID, "ja"))
		a.Lang, b.Lang = "en", "ja"
		for _, want := range []*store.Account{a, b} {
			got, err := s.AccountByID(ctx, want.ID)
			must(t, err)
			same(t, "AccountByID after SetAccountLang", *got, *want, normAccount)
			got, err = s.AccountByEmail(ctx, want.Email)
			must(t, err)
			same(t, "AccountByEmail after SetAccountLang", *got, *want, normAccount)
		}
		list, err := s.ListAccounts(ctx)
		must(t, err)
		if len(list) != 2 || list[0].Lang != "en" || list[1].Lang != "ja" {
			t.Errorf("ListAccounts' languages: %+v, want en then ja", list)
		}
		newSession(t, s, "s-1", a.ID, t0.Add(time.Hour))
		if _, got, err := s.SignedInAs(ctx, "s-1"); err != nil || got.Lang != "en" {
			t.Errorf("SignedInAs' account = %+v, %v, want Lang en", got, err)
		}
		wantErr(t, "SetAccountLang of unknown account", s.SetAccountLang(ctx, "nobody", "en"), store.ErrNotFound)
	}},
	{"ChargeMFAAttempt", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		var seen []int
		lock := func(n int) time.Time {
			seen = append(seen, n)
			if n >= 3 {
				return t0.Add(15 * time.Minute)
			}
			return time.Time{}
		}
		for _, want := range []struct {
			failures int
			locked   time.Time
		}{
			{1, time.Time{}},
			{2, time.Time{}},
			{3, t0.Add(15 * time.Minute)},
		} {
			got, err := s.ChargeMFAAttempt(ctx, a.ID, t0, lock)
			must(t, err)
			a.MFAFailures, a.MFALockedUntil = want.failures, want.locked
			same(t, "ChargeMFAAttempt result", *got, *a, normAccount)
			stored, err := s.AccountByID(ctx, a.ID)
			must(t, err)
			same(t, "account after ChargeMFAAttempt", *stored, *a, normAccount)
		}
		if !slices.Equal(seen, []int{1, 2, 3}) {
			t.Errorf("lock saw %v, want [1 2 3]", seen)
		}
		// While closed: refused, uncounted, and the account says until when.
		got, err := s.ChargeMFAAttempt(ctx, a.ID, t0.Add(15*time.Minute-time.Millisecond), lock)
		wantErr(t, "ChargeMFAAttempt while locked", err, store.ErrLocked)
		if got == nil || !got.MFALockedUntil.Equal(t0.Add(15*time.Minute)) || got.MFAFailures != 3 {
			t.Errorf("ChargeMFAAttempt while locked returned %+v, want the account locked until t0+15m with 3 failures", got)
		}
		// Once open again it counts; an earlier lock from lock() never
		// shortens the current one.
		got, err = s.ChargeMFAAttempt(ctx, a.ID, t0.Add(15*time.Minute), func(int) time.Time { return t0 })
		must(t, err)
		if got.MFAFailures != 4 || !got.MFALockedUntil.Equal(t0.Add(15*time.Minute)) {
			t.Errorf("after the lock: %d failures until %v, want 4 until t0+15m", got.MFAFailures, got.MFALockedUntil)
		}
		_, err = s.ChargeMFAAttempt(ctx, "nobody", t0, lock)
		wantErr(t, "ChargeMFAAttempt of unknown account", err, store.ErrNotFound)
	}},
	{"ChargeMFAAttemptConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		const each = 5
		never := func(int) time.Time { return time.Time{} }
		got := make([][]*store.Account, racers)
		errs := race(func(i int) error {
			for range each {
				acc, err := s.ChargeMFAAttempt(ctx, a.ID, t0, never)
				if err != nil {
					return err
				}
				got[i] = append(got[i], acc)
			}
			return nil
		})
		counts := map[int]int{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
			for _, acc := range got[i] {
				counts[acc.MFAFailures]++
			}
		}
		for n := 1; n <= racers*each; n++ {
			if counts[n] != 1 {
				t.Errorf("count %d returned %d times, want once", n, counts[n])
			}
		}
		stored, err := s.AccountByID(ctx, a.ID)
		must(t, err)
		if stored.MFAFailures != racers*each {
			t.Errorf("stored MFAFailures = %d, want %d", stored.MFAFailures, racers*each)
		}
	}},
	{"ChargeMFAAttemptConcurrentLock", func(t *testing.T, s store.Store) {
		// Parallel guesses: exactly `limit` are let through, the rest refused.
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		const limit, each = 3, 2
		lock := func(n int) time.Time {
			if n >= limit {
				return t0.Add(time.Hour)
			}
			return time.Time{}
		}
		passed, locked := raceLocked(t, each, func() (*store.Account, error) {
			return s.ChargeMFAAttempt(ctx, a.ID, t0, lock)
		})
		if charged := len(passed); charged != limit || locked != racers*each-limit {
			t.Errorf("charged %d and refused %d, want %d and %d", charged, locked, limit, racers*each-limit)
		}
	}},
	{"ClearMFAFailures", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		for range 2 {
			_, err := s.ChargeMFAAttempt(ctx, a.ID, t0, func(n int) time.Time {
				if n == 2 {
					return t0.Add(time.Hour)
				}
				return time.Time{}
			})
			must(t, err)
		}
		must(t, s.ClearMFAFailures(ctx, a.ID))
		got, err := s.AccountByID(ctx, a.ID)
		must(t, err)
		same(t, "after ClearMFAFailures", *got, *a, normAccount)
		if !got.MFALockedUntil.IsZero() {
			t.Errorf("MFALockedUntil = %v, want the zero time", got.MFALockedUntil)
		}
		wantErr(t, "ClearMFAFailures of unknown account", s.ClearMFAFailures(ctx, "nobody"), store.ErrNotFound)
	}},
}

// Factors and recovery codes.

var factorTests = []test{
	{"AddFirstFactor", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		// Two enrolments at once, of different kinds: exactly one wins.
		kinds := []store.FactorKind{store.FactorTOTP, store.FactorPhone}
		errs := race(func(i int) error {
			return s.AddFirstFactor(ctx, &store.Factor{
				ID: fmt.Sprintf("f-%d", i), AccountID: a.ID, Kind: kinds[i%2], Secret: "s", CreatedAt: t0,
			})
		})
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		fs, err := s.FactorsOf(ctx, a.ID)
		must(t, err)
		if won != 1 || len(fs) != 1 {
			t.Fatalf("%d enrolments won and %d factors stored, want 1 and 1", won, len(fs))
		}
		wantErr(t, "AddFirstFactor of unknown account",
			s.AddFirstFactor(ctx, &store.Factor{ID: "f-x", AccountID: "nobody", Kind: store.FactorTOTP, CreatedAt: t0}), store.ErrNotFound)
	}},
	{"AddAndList", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		phone := store.Factor{ID: "f-phone", AccountID: a.ID, Kind: store.FactorPhone, Secret: "+41790000000", Channel: "voice", CreatedAt: t0.Add(time.Minute)}
		totp := store.Factor{ID: "f-totp", AccountID: a.ID, Kind: store.FactorTOTP, Secret: "sealed-seed", LastStep: 7, CreatedAt: t0}
		other := store.Factor{ID: "f-other", AccountID: b.ID, Kind: store.FactorTOTP, Secret: "x", CreatedAt: t0}
		for _, f := range []store.Factor{phone, totp, other} { // the newer one first
			must(t, s.AddFactor(ctx, &f))
		}
		got, err := s.FactorsOf(ctx, a.ID)
		must(t, err)
		if len(got) != 2 {
			t.Fatalf("FactorsOf: %d factors, want 2: %+v", len(got), got)
		}
		same(t, "FactorsOf[0]", got[0], totp, normFactor)
		same(t, "FactorsOf[1]", got[1], phone, normFactor)

		none := newAccount(t, s, "acc-3")
		got, err = s.FactorsOf(ctx, none.ID)
		must(t, err)
		if len(got) != 0 {
			t.Errorf("FactorsOf an account without factors: %+v", got)
		}
	}},
	{"Channel", func(t *testing.T, s store.Store) {
		// A phone keeps the channel it prefers; a TOTP factor has none.
		ctx := t.Context()
		for i, f := range []store.Factor{
			{ID: "f-sms", Kind: store.FactorPhone, Secret: "+41790000001", Channel: "sms", CreatedAt: t0},
			{ID: "f-voice", Kind: store.FactorPhone, Secret: "+41790000002", Channel: "voice", CreatedAt: t0},
			{ID: "f-totp", Kind: store.FactorTOTP, Secret: "sealed-seed", CreatedAt: t0},
		} {
			f.AccountID = newAccount(t, s, fmt.Sprint("acc-", i)).ID
			must(t, s.AddFactor(ctx, &f))
			got, err := s.FactorsOf(ctx, f.AccountID)
			must(t, err)
			if len(got) != 1 {
				t.Fatalf("FactorsOf(%s): %+v, want one factor", f.AccountID, got)
			}
			same(t, "FactorsOf "+f.ID, got[0], f, normFactor)
		}
	}},
	{"AddErrors", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.AddFactor(ctx, &store.Factor{ID: "f-1", AccountID: a.ID, Kind: store.FactorTOTP, Secret: "s", CreatedAt: t0}))
		err := s.AddFactor(ctx, &store.Factor{ID: "f-1", AccountID: a.ID, Kind: store.FactorPhone, Secret: "p", CreatedAt: t0})
		wantErr(t, "AddFactor with a taken id", err, store.ErrConflict)
		err = s.AddFactor(ctx, &store.Factor{ID: "f-2", AccountID: "nobody", Kind: store.FactorTOTP, Secret: "s", CreatedAt: t0})
		wantErr(t, "AddFactor to an unknown account", err, store.ErrNotFound)
	}},
	{"AdvanceTOTPStep", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.AddFactor(ctx, &store.Factor{ID: "f-1", AccountID: a.ID, Kind: store.FactorTOTP, Secret: "s", CreatedAt: t0}))
		for _, tc := range []struct {
			step int64
			want error
		}{
			{100, nil},
			{100, store.ErrStale}, // the same code replayed
			{99, store.ErrStale},  // an older code
			{101, nil},
			{1000, nil},
			{999, store.ErrStale},
		} {
			err := s.AdvanceTOTPStep(ctx, "f-1", tc.step)
			if !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
				t.Errorf("AdvanceTOTPStep(%d): got %v, want %v", tc.step, err, tc.want)
			}
		}
		fs, err := s.FactorsOf(ctx, a.ID)
		must(t, err)
		if len(fs) != 1 || fs[0].LastStep != 1000 {
			t.Errorf("after steps: %+v, want LastStep 1000", fs)
		}
		wantErr(t, "AdvanceTOTPStep of unknown factor", s.AdvanceTOTPStep(ctx, "nope", 5), store.ErrNotFound)
	}},
	{"AdvanceTOTPStepConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.AddFactor(ctx, &store.Factor{ID: "f-1", AccountID: a.ID, Kind: store.FactorTOTP, Secret: "s", CreatedAt: t0}))
		oneWins(t, race(func(int) error { return s.AdvanceTOTPStep(ctx, "f-1", 42) }), store.ErrStale)
	}},
	{"RecoveryCode", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		has := func(want bool) {
			t.Helper()
			got, err := s.HasRecoveryCode(ctx, a.ID)
			must(t, err)
			if got != want {
				t.Fatalf("HasRecoveryCode = %v, want %v", got, want)
			}
		}
		has(false)
		must(t, s.SetRecoveryCode(ctx, a.ID, "code-1", t0))
		has(true)
		must(t, s.SetRecoveryCode(ctx, a.ID, "code-2", t0.Add(time.Minute))) // replaces code-1
		has(true)
		wantErr(t, "spending the replaced code", s.SpendRecoveryCode(ctx, a.ID, "code-1"), store.ErrNotFound)
		wantErr(t, "spending it for another account", s.SpendRecoveryCode(ctx, b.ID, "code-2"), store.ErrNotFound)
		has(true)
		must(t, s.SpendRecoveryCode(ctx, a.ID, "code-2"))
		has(false)
		wantErr(t, "spending it twice", s.SpendRecoveryCode(ctx, a.ID, "code-2"), store.ErrNotFound)
		wantErr(t, "SetRecoveryCode of unknown account", s.SetRecoveryCode(ctx, "nobody", "c", t0), store.ErrNotFound)
	}},
	{"SpendRecoveryCodeConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.SetRecoveryCode(ctx, a.ID, "code-1", t0))
		oneWins(t, race(func(int) error { return s.SpendRecoveryCode(ctx, a.ID, "code-1") }), store.ErrNotFound)
	}},
	{"EraseAccount", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := oidcOf(t, s)
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		must(t, s.SetPasswordHash(ctx, a.ID, "$argon2id$a"))
		must(t, s.SetAccountLang(ctx, a.ID, "en"))
		for _, id := range []string{a.ID, b.ID} {
			must(t, s.AddFactor(ctx, &store.Factor{ID: "f-" + id, AccountID: id, Kind: store.FactorTOTP, Secret: "s", CreatedAt: t0}))
			must(t, s.SetRecoveryCode(ctx, id, "code-"+id, t0))
			newSession(t, s, "s-"+id, id, t0.Add(time.Hour))
			p := newPhoneCode("fl-"+id, id)
			must(t, s.PutPhoneCode(ctx, &p))
			must(t, s.LockAccount(ctx, &store.AccountLock{AccountID: id, LockedBy: "operator:kim", At: t0}))
		}
		newClient(t, o, "shop")
		ga := newGrant(t, o, "g-a", a.ID, "shop", "s-"+a.ID, t0)
		gb := newGrant(t, o, "g-b", b.ID, "shop", "s-"+b.ID, t0)
		newAccessToken(t, o, "at-a", ga)
		newRefreshToken(t, o, "rt-a", ga)
		newAccessToken(t, o, "at-b", gb)
		must(t, o.SaveConsent(ctx, a.ID, "shop", []string{"openid"}, t0))
		ma := enqueue(t, s, a.Email, t0)
		mb := enqueue(t, s, b.Email, t0)
		must(t, s.CreateContract(ctx, &store.Contract{ID: "c-1", AccountID: a.ID, Number: "C-2026-000001", Service: "光回線",
			StartDate: t0, MonthlyFee: 4800, Status: store.ContractActive}))

		ev := &store.AuditEvent{At: t0.Add(time.Minute), AccountID: a.ID, Actor: "operator:kim", Action: "account.erase", Outcome: "ok"}
		grants, err := s.EraseAccount(ctx, a.ID, ev)
		must(t, err)
		if len(grants) != 1 || grants[0].ID != "g-a" || !grants[0].RevokedAt.Equal(ev.At) {
			t.Errorf("EraseAccount's grants = %+v, want g-a revoked at the event's time", grants)
		}
		if ev.ID == 0 {
			t.Error("EraseAccount left ev.ID unset")
		}

		got, err := s.AccountByID(ctx, a.ID)
		must(t, err)
		if got.Email != store.ErasedEmail(a.ID) || got.Name != "" || got.PasswordHash != "" || got.Lang != store.DefaultLang || !got.Erased() {
			t.Errorf("erased account = %+v, want its id alone", got)
		}
		wantErr(t, "AccountByEmail of the erased address", func() error { _, err := s.AccountByEmail(ctx, a.Email); return err }(), store.ErrNotFound)
		if fs, err := s.FactorsOf(ctx, a.ID); err != nil || len(fs) != 0 {
			t.Errorf("factors after EraseAccount = %+v, %v", fs, err)
		}
		if ok, err := s.HasRecoveryCode(ctx, a.ID); err != nil || ok {
			t.Errorf("HasRecoveryCode after EraseAccount = %v, %v", ok, err)
		}
		if sessionExists(t, s, "s-"+a.ID) || phoneCodeExists(t, s, "fl-"+a.ID) {
			t.Error("a session or a phone code of the erased account is left")
		}
		wantErr(t, "AccountLockOf the erased account", func() error { _, err := s.AccountLockOf(ctx, a.ID); return err }(), store.ErrNotFound)
		if accessTokenLive(t, o, "at-a", t0) || refreshTokenLive(t, o, "rt-a", t0) || grantRevokedAt(t, o, "g-a").IsZero() {
			t.Error("the erased account's grant or its tokens are live")
		}
		if scopes, err := o.ConsentOf(ctx, a.ID, "shop"); err != nil || len(scopes) != 0 {
			t.Errorf("consent after EraseAccount = %v, %v", scopes, err)
		}
		mails, err := s.ListMails(ctx, 0)
		must(t, err)
		if len(mails) != 1 || mails[0].ID != mb.ID {
			t.Errorf("mails after EraseAccount = %d (the erased address's was %d), want the other account's alone", len(mails), ma.ID)
		}
		if cs, err := s.ContractsOf(ctx, a.ID); err != nil || len(cs) != 1 {
			t.Errorf("contracts after EraseAccount = %+v, %v; the business keeps them", cs, err)
		}
		evs, err := s.AuditOf(ctx, a.ID, 0)
		must(t, err)
		if len(evs) != 1 {
			t.Fatalf("AuditOf after EraseAccount: %+v, want its event", evs)
		}
		same(t, "EraseAccount's event", evs[0], *ev, normEvent)
		// The address may open an account again.
		must(t, s.CreateAccount(ctx, &store.Account{ID: "acc-3", Email: a.Email, CreatedAt: t0}))

		// The other account is untouched.
		if got, err := s.AccountByID(ctx, b.ID); err != nil || got.Email != b.Email || got.Erased() {
			t.Errorf("the other account = %+v, %v", got, err)
		}
		if !sessionExists(t, s, "s-"+b.ID) || !accessTokenLive(t, o, "at-b", t0) || !grantRevokedAt(t, o, "g-b").IsZero() {
			t.Error("the other account's session, token or grant went")
		}
		if _, err := s.AccountLockOf(ctx, b.ID); err != nil {
			t.Errorf("the other account's lock: %v", err)
		}

		// Erasing twice, or nobody.
		wantErr(t, "EraseAccount again", func() error { _, err := s.EraseAccount(ctx, a.ID, ev); return err }(), store.ErrNotFound)
		wantErr(t, "EraseAccount of nobody", func() error { _, err := s.EraseAccount(ctx, "nobody", ev); return err }(), store.ErrNotFound)
	}},
	{"ResetMFA", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		for _, f := range []store.Factor{
			{ID: "f-a1", AccountID: a.ID, Kind: store.FactorTOTP, Secret: "s", CreatedAt: t0},
			{ID: "f-a2", AccountID: a.ID, Kind: store.FactorPhone, Secret: "p", CreatedAt: t0},
			{ID: "f-b", AccountID: b.ID, Kind: store.FactorTOTP, Secret: "s", CreatedAt: t0},
		} {
			must(t, s.AddFactor(ctx, &f))
		}
		must(t, s.SetRecoveryCode(ctx, a.ID, "code-a", t0))
		must(t, s.SetRecoveryCode(ctx, b.ID, "code-b", t0))
		for _, h := range []string{"s-a1", "s-a2", "s-a3"} {
			newSession(t, s, h, a.ID, t0.Add(time.Hour))
		}
		newSession(t, s, "s-b", b.ID, t0.Add(time.Hour))
		for _, p := range []store.PhoneCode{
			newPhoneCode("fl-a1", a.ID), newPhoneCode("fl-a2", a.ID), newPhoneCode("fl-b", b.ID),
		} {
			must(t, s.PutPhoneCode(ctx, &p))
		}
		_, err := s.ChargeMFAAttempt(ctx, a.ID, t0, func(int) time.Time { return t0.Add(time.Hour) })
		must(t, err)

		ev := &store.AuditEvent{At: t0, AccountID: a.ID, Actor: "operator:kim", Action: "mfa.reset", Outcome: "ok"}
		must(t, s.ResetMFA(ctx, a.ID, "s-a2", ev))
		if ev.ID == 0 {
			t.Error("ResetMFA left ev.ID unset")
		}

		fs, err := s.FactorsOf(ctx, a.ID)
		must(t, err)
		if len(fs) != 0 {
			t.Errorf("factors left after ResetMFA: %+v", fs)
		}
		if ok, err := s.HasRecoveryCode(ctx, a.ID); err != nil || ok {
			t.Errorf("HasRecoveryCode after ResetMFA = %v, %v; want false", ok, err)
		}
		for h, want := range map[string]bool{"s-a1": false, "s-a2": true, "s-a3": false, "s-b": true} {
			if got := sessionExists(t, s, h); got != want {
				t.Errorf("session %s exists = %v, want %v", h, got, want)
			}
		}
		for h, want := range map[string]bool{"fl-a1": false, "fl-a2": false, "fl-b": true} {
			if got := phoneCodeExists(t, s, h); got != want {
				t.Errorf("phone code of %s exists = %v, want %v", h, got, want)
			}
		}
		got, err := s.AccountByID(ctx, a.ID)
		must(t, err)
		if got.MFAFailures != 0 || !got.MFALockedUntil.IsZero() {
			t.Errorf("after ResetMFA: failures %d, locked until %v; want 0 and the zero time", got.MFAFailures, got.MFALockedUntil)
		}
		evs, err := s.AuditOf(ctx, a.ID, 0)
		must(t, err)
		if len(evs) != 1 {
			t.Fatalf("AuditOf after ResetMFA: %+v, want the one event", evs)
		}
		same(t, "ResetMFA's event", evs[0], *ev, normEvent)

		// The other account is untouched.
		if fs, err := s.FactorsOf(ctx, b.ID); err != nil || len(fs) != 1 {
			t.Errorf("other account's factors = %+v, %v; want its one factor", fs, err)
		}
		if ok, err := s.HasRecoveryCode(ctx, b.ID); err != nil || !ok {
			t.Errorf("other account's recovery code = %v, %v; want kept", ok, err)
		}
	}},
	{"ResetMFAKeepNone", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newSession(t, s, "s-1", a.ID, t0.Add(time.Hour))
		newSession(t, s, "s-2", a.ID, t0.Add(time.Hour))
		must(t, s.ResetMFA(ctx, a.ID, "", &store.AuditEvent{At: t0, AccountID: a.ID, Actor: "system", Action: "mfa.reset", Outcome: "ok"}))
		for _, h := range []string{"s-1", "s-2"} {
			if sessionExists(t, s, h) {
				t.Errorf("session %s survived ResetMFA without a kept session", h)
			}
		}
	}},
	{"ResetMFAUnknownAccount", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		ev := &store.AuditEvent{At: t0, AccountID: "nobody", Actor: "system", Action: "mfa.reset", Outcome: "ok"}
		wantErr(t, "ResetMFA of unknown account", s.ResetMFA(ctx, "nobody", "", ev), store.ErrNotFound)
		if ev.ID != 0 {
			t.Errorf("ev.ID = %d after a failed ResetMFA, want 0", ev.ID)
		}
		evs, err := s.AuditOf(ctx, "nobody", 0)
		must(t, err)
		if len(evs) != 0 {
			t.Errorf("a failed ResetMFA appended %+v", evs)
		}
	}},
}

// Sessions.

var sessionTests = []test{
	{"CreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		for _, ss := range []store.Session{
			{IDHash: "s-plain", AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{IDHash: "s-full", AccountID: a.ID, CreatedAt: t0, MFAAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour), AMR: []string{"pwd", "otp", "mfa"}, SID: "sid-1",
				ClientIP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"},
		} {
			must(t, s.CreateSession(ctx, &ss))
			got, err := s.SessionByHash(ctx, ss.IDHash)
			must(t, err)
			same(t, "SessionByHash", *got, ss, normSession)
			sess, acct, err := s.SignedInAs(ctx, ss.IDHash)
			must(t, err)
			same(t, "SignedInAs session", *sess, ss, normSession)
			same(t, "SignedInAs account", *acct, *a, normAccount)
		}
		_, _, err := s.SignedInAs(ctx, "nope")
		wantErr(t, "SignedInAs of a missing session", err, store.ErrNotFound)
	}},
	{"Errors", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newSession(t, s, "s-1", a.ID, t0.Add(time.Hour))
		_, err := s.SessionByHash(ctx, "nope")
		wantErr(t, "SessionByHash of missing session", err, store.ErrNotFound)
		err = s.CreateSession(ctx, &store.Session{IDHash: "s-1", AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0})
		wantErr(t, "CreateSession with a taken hash", err, store.ErrConflict)
		err = s.CreateSession(ctx, &store.Session{IDHash: "s-2", AccountID: "nobody", CreatedAt: t0, ExpiresAt: t0})
		wantErr(t, "CreateSession for an unknown account", err, store.ErrNotFound)
	}},
	{"ExpiredIsLeftToCaller", func(t *testing.T, s store.Store) {
		// SessionByHash has no clock: it returns an expired session with its
		// ExpiresAt intact, and the caller treats it as missing.
		a := newAccount(t, s, "acc-1")
		want := newSession(t, s, "s-old", a.ID, t0.Add(-time.Hour))
		got, err := s.SessionByHash(t.Context(), "s-old")
		must(t, err)
		same(t, "expired session", *got, *want, normSession)
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newSession(t, s, "s-1", a.ID, t0.Add(time.Hour))
		newSession(t, s, "s-2", a.ID, t0.Add(time.Hour))
		must(t, s.DeleteSession(ctx, "s-1"))
		if sessionExists(t, s, "s-1") || !sessionExists(t, s, "s-2") {
			t.Error("DeleteSession removed the wrong sessions")
		}
		must(t, s.DeleteSession(ctx, "s-1")) // signing out twice is fine
	}},
	{"Rotate", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newSession(t, s, "s-old", a.ID, t0.Add(time.Hour))
		next := store.Session{IDHash: "s-new", AccountID: a.ID, CreatedAt: t0.Add(time.Minute), MFAAt: t0.Add(time.Minute), ExpiresAt: t0.Add(2 * time.Hour)}
		must(t, s.RotateSession(ctx, "s-old", &next))
		if sessionExists(t, s, "s-old") {
			t.Error("old session survived RotateSession")
		}
		got, err := s.SessionByHash(ctx, "s-new")
		must(t, err)
		same(t, "rotated session", *got, next, normSession)
	}},
	{"RotateMissing", func(t *testing.T, s store.Store) {
		a := newAccount(t, s, "acc-1")
		next := store.Session{IDHash: "s-new", AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		wantErr(t, "RotateSession of missing session", s.RotateSession(t.Context(), "s-gone", &next), store.ErrNotFound)
		if sessionExists(t, s, "s-new") {
			t.Error("RotateSession of a missing session stored the new one")
		}
	}},
	{"SessionLive", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a, b := newAccount(t, s, "acc-1"), newAccount(t, s, "acc-2")
		for _, ss := range []store.Session{
			{IDHash: "s-1", AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), SID: "sid-1"},
			{IDHash: "s-old", AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), SID: "sid-old"},
			{IDHash: "s-b", AccountID: b.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), SID: "sid-b"},
		} {
			must(t, s.CreateSession(ctx, &ss))
		}
		for _, c := range []struct {
			account, sid string
			at           time.Time
			want         bool
		}{
			{a.ID, "sid-1", t0, true},
			{a.ID, "sid-old", t0, true},
			{a.ID, "sid-old", t0.Add(time.Minute), false}, // expired
			{a.ID, "sid-b", t0, false},                    // another account's
			{a.ID, "sid-none", t0, false},
		} {
			got, err := s.SessionLive(ctx, c.account, c.sid, c.at)
			must(t, err)
			if got != c.want {
				t.Errorf("SessionLive(%s, %s, %v) = %v, want %v", c.account, c.sid, c.at.Sub(t0), got, c.want)
			}
		}
		must(t, s.DeleteSession(ctx, "s-1"))
		if live, err := s.SessionLive(ctx, a.ID, "sid-1", t0); err != nil || live {
			t.Errorf("SessionLive of a deleted session: %v, %v", live, err)
		}
	}},
	{"RotateConflict", func(t *testing.T, s store.Store) {
		a := newAccount(t, s, "acc-1")
		newSession(t, s, "s-1", a.ID, t0.Add(time.Hour))
		newSession(t, s, "s-2", a.ID, t0.Add(time.Hour))
		next := store.Session{IDHash: "s-2", AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		wantErr(t, "RotateSession onto a taken hash", s.RotateSession(t.Context(), "s-1", &next), store.ErrConflict)
		if !sessionExists(t, s, "s-1") {
			t.Error("a failed RotateSession still deleted the old session")
		}
	}},
	{"DeleteSessionsOf", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		for _, h := range []string{"s-a1", "s-a2", "s-a3"} {
			newSession(t, s, h, a.ID, t0.Add(time.Hour))
		}
		newSession(t, s, "s-b", b.ID, t0.Add(time.Hour))
		check := func(step string, want map[string]bool) {
			t.Helper()
			for h, w := range want {
				if got := sessionExists(t, s, h); got != w {
					t.Errorf("%s: session %s exists = %v, want %v", step, h, got, w)
				}
			}
		}
		must(t, s.DeleteSessionsOf(ctx, a.ID, "s-a2"))
		check("except s-a2", map[string]bool{"s-a1": false, "s-a2": true, "s-a3": false, "s-b": true})
		must(t, s.DeleteSessionsOf(ctx, a.ID, ""))
		check("except none", map[string]bool{"s-a2": false, "s-b": true})
	}},
	{"SessionsOf", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		signedIn := func(hash, accountID string, created, expires time.Time) store.Session {
			t.Helper()
			ss := store.Session{IDHash: hash, AccountID: accountID, CreatedAt: created, MFAAt: created, ExpiresAt: expires,
				ClientIP: "192.0.2.1", UserAgent: "UA " + hash, AMR: []string{"pwd", "otp"}, SID: "sid-" + hash}
			must(t, s.CreateSession(ctx, &ss))
			return ss
		}
		// Made out of order, so that the order read is the store's.
		middle := signedIn("s-middle", a.ID, t0.Add(-2*time.Hour), t0.Add(time.Hour))
		newest := signedIn("s-newest", a.ID, t0.Add(-time.Hour), t0.Add(time.Hour))
		oldest := signedIn("s-oldest", a.ID, t0.Add(-3*time.Hour), t0.Add(time.Millisecond))
		signedIn("s-expired", a.ID, t0.Add(-30*time.Minute), t0) // expires at now: not live
		signedIn("s-long-gone", a.ID, t0.Add(-5*time.Hour), t0.Add(-time.Hour))
		signedIn("s-other", b.ID, t0.Add(-10*time.Minute), t0.Add(time.Hour))
		list := func(limit int) []string {
			t.Helper()
			got, err := s.SessionsOf(ctx, a.ID, t0, limit)
			must(t, err)
			var hashes []string
			for _, g := range got {
				hashes = append(hashes, g.IDHash)
			}
			return hashes
		}
		got, err := s.SessionsOf(ctx, a.ID, t0, 0)
		must(t, err)
		want := []store.Session{newest, middle, oldest}
		if len(got) != len(want) {
			t.Fatalf("SessionsOf = %v, want s-newest, s-middle, s-oldest", list(0))
		}
		for i := range want {
			same(t, fmt.Sprintf("SessionsOf[%d]", i), got[i], want[i], normSession)
		}
		if l := list(2); !slices.Equal(l, []string{"s-newest", "s-middle"}) {
			t.Errorf("SessionsOf with limit 2 = %v, want the two newest", l)
		}
		if l := list(-1); len(l) != 3 {
			t.Errorf("SessionsOf with limit -1 = %v, want all three", l)
		}
		got, err = s.SessionsOf(ctx, "acc-none", t0, 0)
		must(t, err)
		if len(got) != 0 {
			t.Errorf("SessionsOf an unknown account = %v, want none", got)
		}
	}},
	{"DeleteSessionBySID", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		b := newAccount(t, s, "acc-2")
		mine := store.Session{IDHash: "s-a1", AccountID: a.ID, CreatedAt: t0, MFAAt: t0, ExpiresAt: t0.Add(time.Hour),
			ClientIP: "192.0.2.7", UserAgent: "Firefox", AMR: []string{"pwd"}, SID: "sid-a1"}
		must(t, s.CreateSession(ctx, &mine))
		must(t, s.CreateSession(ctx, &store.Session{IDHash: "s-a2", AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), SID: "sid-a2"}))
		must(t, s.CreateSession(ctx, &store.Session{IDHash: "s-b", AccountID: b.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), SID: "sid-b"}))
		newSession(t, s, "s-nosid", a.ID, t0.Add(time.Hour)) // from before sids: ""

		// Another account's session, an unknown sid and an empty one are
		// not found, and nothing is deleted.
		for _, sid := range []string{"sid-b", "sid-none", ""} {
			_, err := s.DeleteSessionBySID(ctx, a.ID, sid)
			wantErr(t, fmt.Sprintf("DeleteSessionBySID(%q)", sid), err, store.ErrNotFound)
		}
		for _, h := range []string{"s-a1", "s-a2", "s-b", "s-nosid"} {
			if !sessionExists(t, s, h) {
				t.Fatalf("a refused DeleteSessionBySID deleted %s", h)
			}
		}
		got, err := s.DeleteSessionBySID(ctx, a.ID, "sid-a1")
		must(t, err)
		same(t, "deleted session", *got, mine, normSession)
		if sessionExists(t, s, "s-a1") || !sessionExists(t, s, "s-a2") || !sessionExists(t, s, "s-b") || !sessionExists(t, s, "s-nosid") {
			t.Error("DeleteSessionBySID removed the wrong sessions")
		}
		_, err = s.DeleteSessionBySID(ctx, a.ID, "sid-a1")
		wantErr(t, "DeleteSessionBySID of a deleted session", err, store.ErrNotFound)
	}},
	{"DeleteExpired", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		newSession(t, s, "s-past", a.ID, t0.Add(-time.Minute))
		newSession(t, s, "s-now", a.ID, t0) // expires at now: expired
		newSession(t, s, "s-future", a.ID, t0.Add(time.Millisecond))
		n, err := s.DeleteExpiredSessions(ctx, t0)
		must(t, err)
		if n != 2 {
			t.Errorf("DeleteExpiredSessions = %d, want 2", n)
		}
		if sessionExists(t, s, "s-past") || sessionExists(t, s, "s-now") || !sessionExists(t, s, "s-future") {
			t.Error("DeleteExpiredSessions removed the wrong sessions")
		}
		n, err = s.DeleteExpiredSessions(ctx, t0)
		must(t, err)
		if n != 0 {
			t.Errorf("second DeleteExpiredSessions = %d, want 0", n)
		}
	}},
	{"DeleteExpiredMany", func(t *testing.T, s store.Store) {
		// More than one statement of a sweep deletes.
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
			for i := range sprayKeys {
				ss := &store.Session{IDHash: fmt.Sprintf("s-%d", i), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0}
				if err := tx.CreateSession(ctx, ss); err != nil {
					return err
				}
			}
			return nil
		}))
		newSession(t, s, "s-live", a.ID, t0.Add(time.Hour))
		n, err := s.DeleteExpiredSessions(ctx, t0)
		if err != nil || n != sprayKeys {
			t.Errorf("DeleteExpiredSessions = %d, %v; want %d", n, err, sprayKeys)
		}
		if sessionExists(t, s, "s-0") || sessionExists(t, s, fmt.Sprintf("s-%d", sprayKeys-1)) || !sessionExists(t, s, "s-live") {
			t.Error("DeleteExpiredSessions removed the wrong sessions")
		}
	}},
}

// Flows.

var flowTests = []test{
	{"CreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		for _, f := range []store.Flow{
			{IDHash: "fl-anon", State: "email", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)},
			{IDHash: "fl-known", AccountID: a.ID, State: "password", Data: "sealed", ReturnTo: "/orders?id=7",
				CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)},
		} {
			must(t, s.CreateFlow(ctx, &f))
			got, err := s.FlowByHash(ctx, f.IDHash, t0)
			must(t, err)
			same(t, "FlowByHash", *got, f, normFlow)
		}
		err := s.CreateFlow(ctx, &store.Flow{IDHash: "fl-anon", State: "email", CreatedAt: t0, ExpiresAt: t0})
		wantErr(t, "CreateFlow with a taken hash", err, store.ErrConflict)
		_, err = s.FlowByHash(ctx, "nope", t0)
		wantErr(t, "FlowByHash of missing flow", err, store.ErrNotFound)
	}},
	{"Expiry", func(t *testing.T, s store.Store) {
		expires := t0.Add(10 * time.Minute)
		must(t, s.CreateFlow(t.Context(), &store.Flow{IDHash: "fl-1", State: "email", CreatedAt: t0, ExpiresAt: expires}))
		for _, tc := range []struct {
			name string
			now  time.Time
			want error
		}{
			{"just before", expires.Add(-time.Millisecond), nil},
			{"at expiry", expires, store.ErrNotFound},
			{"after", expires.Add(time.Hour), store.ErrNotFound},
		} {
			_, err := s.FlowByHash(t.Context(), "fl-1", tc.now)
			if !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
				t.Errorf("FlowByHash %s expiry: got %v, want %v", tc.name, err, tc.want)
			}
		}
	}},
	{"Advance", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.CreateFlow(ctx, &store.Flow{IDHash: "fl-1", State: "email", Data: "d1", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}))
		next := store.Flow{IDHash: "fl-1", AccountID: a.ID, State: "password", Data: "d2", ReturnTo: "/home",
			CreatedAt: t0, ExpiresAt: t0.Add(20 * time.Minute)}
		must(t, s.AdvanceFlow(ctx, &next, "email"))
		got, err := s.FlowByHash(ctx, "fl-1", t0)
		must(t, err)
		same(t, "advanced flow", *got, next, normFlow)

		replay := next
		replay.State, replay.Data = "mfa", "d3"
		wantErr(t, "AdvanceFlow from a state it left", s.AdvanceFlow(ctx, &replay, "email"), store.ErrStale)
		got, err = s.FlowByHash(ctx, "fl-1", t0)
		must(t, err)
		same(t, "flow after a stale advance", *got, next, normFlow)

		missing := store.Flow{IDHash: "nope", State: "password", ExpiresAt: t0.Add(time.Hour)}
		wantErr(t, "AdvanceFlow of missing flow", s.AdvanceFlow(ctx, &missing, "email"), store.ErrNotFound)
	}},
	{"AdvanceConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateFlow(ctx, &store.Flow{IDHash: "fl-1", State: "email", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		errs := race(func(i int) error {
			f := store.Flow{IDHash: "fl-1", State: "password", Data: fmt.Sprint(i), ExpiresAt: t0.Add(time.Hour)}
			return s.AdvanceFlow(ctx, &f, "email")
		})
		oneWins(t, errs, store.ErrStale)
	}},
	{"Consume", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateFlow(ctx, &store.Flow{IDHash: "fl-1", State: "mfa", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		wantErr(t, "ConsumeFlow from a state it is not in", s.ConsumeFlow(ctx, "fl-1", "email"), store.ErrStale)
		if _, err := s.FlowByHash(ctx, "fl-1", t0); err != nil {
			t.Fatalf("a stale ConsumeFlow removed the flow: %v", err)
		}
		must(t, s.ConsumeFlow(ctx, "fl-1", "mfa"))
		_, err := s.FlowByHash(ctx, "fl-1", t0)
		wantErr(t, "FlowByHash after ConsumeFlow", err, store.ErrNotFound)
		wantErr(t, "ConsumeFlow again", s.ConsumeFlow(ctx, "fl-1", "mfa"), store.ErrNotFound)
	}},
	{"ConsumeConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateFlow(ctx, &store.Flow{IDHash: "fl-1", State: "mfa", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		errs := race(func(int) error { return s.ConsumeFlow(ctx, "fl-1", "mfa") })
		oneWins(t, errs, store.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateFlow(ctx, &store.Flow{IDHash: "fl-1", State: "email", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		must(t, s.DeleteFlow(ctx, "fl-1"))
		_, err := s.FlowByHash(ctx, "fl-1", t0)
		wantErr(t, "FlowByHash after DeleteFlow", err, store.ErrNotFound)
		must(t, s.DeleteFlow(ctx, "fl-1")) // already gone is fine
	}},
	{"DeleteOfAccount", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		newAccount(t, s, "acc-1")
		newAccount(t, s, "acc-2")
		for h, acct := range map[string]string{"fl-1": "acc-1", "fl-2": "acc-1", "fl-other": "acc-2", "fl-none": ""} {
			must(t, s.CreateFlow(ctx, &store.Flow{IDHash: h, AccountID: acct, State: "mfa", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		}
		must(t, s.DeleteFlowsOf(ctx, "acc-1"))
		for _, h := range []string{"fl-1", "fl-2"} {
			_, err := s.FlowByHash(ctx, h, t0)
			wantErr(t, "FlowByHash of the account's flow after DeleteFlowsOf", err, store.ErrNotFound)
		}
		for _, h := range []string{"fl-other", "fl-none"} {
			if _, err := s.FlowByHash(ctx, h, t0); err != nil {
				t.Errorf("DeleteFlowsOf removed %s, not the account's: %v", h, err)
			}
		}
		must(t, s.DeleteFlowsOf(ctx, "acc-1")) // none left is fine
	}},
	{"DeleteExpired", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for h, exp := range map[string]time.Time{
			"fl-past": t0.Add(-time.Minute), "fl-now": t0, "fl-future": t0.Add(time.Millisecond),
		} {
			must(t, s.CreateFlow(ctx, &store.Flow{IDHash: h, State: "email", CreatedAt: t0.Add(-time.Hour), ExpiresAt: exp}))
		}
		n, err := s.DeleteExpiredFlows(ctx, t0)
		must(t, err)
		if n != 2 {
			t.Errorf("DeleteExpiredFlows = %d, want 2", n)
		}
		if _, err := s.FlowByHash(ctx, "fl-future", t0); err != nil {
			t.Errorf("unexpired flow: %v", err)
		}
		// The expired rows are really gone, not just filtered: advancing one
		// says missing rather than stale.
		gone := store.Flow{IDHash: "fl-past", State: "x", ExpiresAt: t0.Add(time.Hour)}
		wantErr(t, "AdvanceFlow of a deleted expired flow", s.AdvanceFlow(ctx, &gone, "email"), store.ErrNotFound)
	}},
	{"DeleteExpiredMany", func(t *testing.T, s store.Store) {
		// More than one statement of a sweep deletes.
		ctx := t.Context()
		must(t, s.Atomically(ctx, func(ctx context.Context, tx store.Store) error {
			for i := range sprayKeys {
				f := &store.Flow{IDHash: fmt.Sprintf("fl-%d", i), State: "email", CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0}
				if err := tx.CreateFlow(ctx, f); err != nil {
					return err
				}
			}
			return nil
		}))
		must(t, s.CreateFlow(ctx, &store.Flow{IDHash: "fl-live", State: "email", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		n, err := s.DeleteExpiredFlows(ctx, t0)
		if err != nil || n != sprayKeys {
			t.Errorf("DeleteExpiredFlows = %d, %v; want %d", n, err, sprayKeys)
		}
		if _, err := s.FlowByHash(ctx, "fl-live", t0); err != nil {
			t.Errorf("unexpired flow: %v", err)
		}
		if n, err := s.DeleteExpiredFlows(ctx, t0); err != nil || n != 0 {
			t.Errorf("a sweep after the sweep: %d, %v; want 0", n, err)
		}
	}},
}

// One-time tokens.

const purpose = "password.set"

func newToken(t *testing.T, s store.Store, hash string) store.OneTimeToken {
	t.Helper()
	a := newAccount(t, s, "acc-"+hash)
	k := store.OneTimeToken{Hash: hash, Purpose: purpose, AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateToken(t.Context(), &k))
	return k
}

var tokenTests = []test{
	{"CreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		k := newToken(t, s, "tok-1")
		got, err := s.TokenByHash(ctx, "tok-1", purpose, t0)
		must(t, err)
		same(t, "TokenByHash", *got, k, normToken)
		if !got.UsedAt.IsZero() {
			t.Errorf("fresh token UsedAt = %v, want the zero time", got.UsedAt)
		}
		dup := k
		wantErr(t, "CreateToken with a taken hash", s.CreateToken(ctx, &dup), store.ErrConflict)
		orphan := store.OneTimeToken{Hash: "tok-2", Purpose: purpose, AccountID: "nobody", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		wantErr(t, "CreateToken for an unknown account", s.CreateToken(ctx, &orphan), store.ErrNotFound)

		// What a link is about comes back with it, from a read and a use.
		about := newToken(t, s, "tok-3")
		about.Hash, about.Event = "tok-4", "mfa_enrolled"
		must(t, s.CreateToken(ctx, &about))
		got, err = s.TokenByHash(ctx, "tok-4", purpose, t0)
		must(t, err)
		same(t, "TokenByHash of a token with an event", *got, about, normToken)
		used, err := s.UseToken(ctx, "tok-4", purpose, t0)
		must(t, err)
		if used.Event != "mfa_enrolled" {
			t.Errorf("UseToken result Event = %q, want mfa_enrolled", used.Event)
		}
	}},
	{"Filters", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		k := newToken(t, s, "tok-1")
		for _, tc := range []struct {
			name, hash, purpose string
			now                 time.Time
		}{
			{"unknown hash", "nope", purpose, t0},
			{"other purpose", k.Hash, "password.reset", t0},
			{"at expiry", k.Hash, purpose, k.ExpiresAt},
			{"after expiry", k.Hash, purpose, k.ExpiresAt.Add(time.Minute)},
		} {
			_, err := s.TokenByHash(ctx, tc.hash, tc.purpose, tc.now)
			wantErr(t, "TokenByHash, "+tc.name, err, store.ErrNotFound)
			_, err = s.UseToken(ctx, tc.hash, tc.purpose, tc.now)
			wantErr(t, "UseToken, "+tc.name, err, store.ErrNotFound)
		}
		// None of the refused uses spent it.
		_, err := s.UseToken(ctx, k.Hash, purpose, k.ExpiresAt.Add(-time.Millisecond))
		must(t, err)
	}},
	{"UseOnce", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		k := newToken(t, s, "tok-1")
		now := t0.Add(5 * time.Minute)
		got, err := s.UseToken(ctx, k.Hash, purpose, now)
		must(t, err)
		k.UsedAt = now
		same(t, "UseToken result", *got, k, normToken)
		_, err = s.UseToken(ctx, k.Hash, purpose, now)
		wantErr(t, "UseToken twice", err, store.ErrNotFound)
		_, err = s.TokenByHash(ctx, k.Hash, purpose, now)
		wantErr(t, "TokenByHash of a used token", err, store.ErrNotFound)
	}},
	{"Revoke", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		k := newToken(t, s, "tok-1")
		used := store.OneTimeToken{Hash: "tok-used", Purpose: purpose, AccountID: k.AccountID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		must(t, s.CreateToken(ctx, &used))
		_, err := s.UseToken(ctx, used.Hash, purpose, t0.Add(time.Minute))
		must(t, err)
		other := store.OneTimeToken{Hash: "tok-other", Purpose: "other", AccountID: k.AccountID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		must(t, s.CreateToken(ctx, &other))
		b := newToken(t, s, "tok-b") // another account's
		n, err := s.RevokeTokens(ctx, k.AccountID, purpose, t0.Add(2*time.Minute))
		must(t, err)
		if n != 1 {
			t.Errorf("RevokeTokens = %d, want 1", n)
		}
		_, err = s.UseToken(ctx, k.Hash, purpose, t0.Add(3*time.Minute))
		wantErr(t, "UseToken of a revoked token", err, store.ErrNotFound)
		_, err = s.TokenByHash(ctx, other.Hash, "other", t0.Add(3*time.Minute))
		must(t, err)
		_, err = s.TokenByHash(ctx, b.Hash, purpose, t0.Add(3*time.Minute))
		must(t, err)
	}},
	{"UseConcurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		k := newToken(t, s, "tok-1")
		errs := race(func(int) error {
			_, err := s.UseToken(ctx, k.Hash, purpose, t0.Add(time.Minute))
			return err
		})
		oneWins(t, errs, store.ErrNotFound)
	}},
}

// Limits.

// sprayKeys is more rows than one statement of a sweep deletes.
const sprayKeys = 2500

// spray counts once each of keys counters in a minute's window from t0, as
// a spray of made-up addresses does, and one in an hour's window, "fresh".
func spray(t *testing.T, s store.Store, keys int) {
	t.Helper()
	must(t, s.Atomically(t.Context(), func(ctx context.Context, tx store.Store) error {
		for i := range keys {
			if _, err := tx.Hit(ctx, fmt.Sprintf("spray:%d", i), time.Minute, t0, 1); err != nil {
				return err
			}
		}
		_, err := tx.Hit(ctx, "fresh", time.Hour, t0, 1)
		return err
	}))
}

// checkSwept checks that a sweep at t0+1m left spray's fresh counter alone.
func checkSwept(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	for _, key := range []string{"spray:0", "spray:1234", fmt.Sprintf("spray:%d", sprayKeys-1)} {
		if got, err := s.Hit(ctx, key, time.Minute, t0, 0); err != nil || got != 0 {
			t.Errorf("a swept counter, %s: %d, %v; want 0", key, got, err)
		}
	}
	if got, err := s.Hit(ctx, "fresh", time.Hour, t0, 0); err != nil || got != 1 {
		t.Errorf("the unexpired counter: %d, %v; want 1", got, err)
	}
	if n, err := s.DeleteExpiredLimits(ctx, t0.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("a sweep after the sweep: %d, %v; want 0", n, err)
	}
}

var limitTests = []test{
	{"Hit", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// t0 is on a minute boundary, so [t0, t0+1m) is one window.
		for i, tc := range []struct {
			key  string
			now  time.Time
			n    int
			want int
		}{
			{"ip:1", t0, 0, 0}, // reading nothing
			{"ip:1", t0, 1, 1},
			{"ip:1", t0.Add(30 * time.Second), 2, 3},
			{"ip:1", t0.Add(time.Minute - time.Millisecond), 0, 3},
			{"ip:2", t0, 1, 1},                  // keys count apart
			{"ip:1", t0.Add(time.Minute), 0, 0}, // next window starts over
			{"ip:1", t0.Add(time.Minute), 1, 1},
			{"ip:1", t0.Add(90 * time.Second), 4, 5},
			{"ip:2", t0.Add(time.Second), 0, 1},
			{"ip:1", t0.Add(95 * time.Second), -2, 3}, // giving back
			{"ip:1", t0.Add(95 * time.Second), -9, 0}, // never below zero
			{"ip:3", t0, -1, 0},                       // nothing to give back
		} {
			got, err := s.Hit(ctx, tc.key, time.Minute, tc.now, tc.n)
			must(t, err)
			if got != tc.want {
				t.Errorf("step %d: Hit(%s, %v, %d) = %d, want %d", i, tc.key, tc.now.Sub(t0), tc.n, got, tc.want)
			}
		}
	}},
	{"WindowSizes", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// A window is now truncated to the window length since the unix epoch.
		for _, tc := range []struct {
			window time.Duration
			later  time.Duration // still in t0's window
			next   time.Duration // the first instant of the next one
		}{
			{time.Second, 999 * time.Millisecond, time.Second},
			{15 * time.Minute, 14*time.Minute + 59*time.Second, 15 * time.Minute},
			{time.Hour, 59 * time.Minute, time.Hour},
			{24 * time.Hour, 14 * time.Hour, 15 * time.Hour}, // t0 is 09:00 UTC
		} {
			key := "k:" + tc.window.String()
			_, err := s.Hit(ctx, key, tc.window, t0, 1)
			must(t, err)
			if got, err := s.Hit(ctx, key, tc.window, t0.Add(tc.later), 1); err != nil || got != 2 {
				t.Errorf("window %v, +%v: Hit = %d, %v; want 2", tc.window, tc.later, got, err)
			}
			if got, err := s.Hit(ctx, key, tc.window, t0.Add(tc.next), 1); err != nil || got != 1 {
				t.Errorf("window %v, +%v: Hit = %d, %v; want 1", tc.window, tc.next, got, err)
			}
		}
	}},
	{"Reset", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, key := range []string{"a", "b"} {
			_, err := s.Hit(ctx, key, time.Minute, t0, 3)
			must(t, err)
		}
		must(t, s.ResetLimit(ctx, "a"))
		must(t, s.ResetLimit(ctx, "never-hit"))
		if got, err := s.Hit(ctx, "a", time.Minute, t0, 0); err != nil || got != 0 {
			t.Errorf("after ResetLimit: %d, %v; want 0", got, err)
		}
		if got, err := s.Hit(ctx, "b", time.Minute, t0, 0); err != nil || got != 3 {
			t.Errorf("other key after ResetLimit: %d, %v; want 3", got, err)
		}
	}},
	{"DeleteExpired", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// Windows starting at t0 (09:00 UTC): a minute, an hour, a day.
		for _, w := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour} {
			_, err := s.Hit(ctx, "k:"+w.String(), w, t0, 2)
			must(t, err)
		}
		for _, tc := range []struct {
			now  time.Duration // after t0
			want int64
			left []string // keys still counting at t0
		}{
			{time.Minute - time.Millisecond, 0, []string{"k:1m0s", "k:1h0m0s", "k:24h0m0s"}},
			{time.Minute, 1, []string{"k:1h0m0s", "k:24h0m0s"}}, // a window ending now is over
			{2 * time.Hour, 1, []string{"k:24h0m0s"}},
			{2 * time.Hour, 0, []string{"k:24h0m0s"}}, // again: nothing more
		} {
			n, err := s.DeleteExpiredLimits(ctx, t0.Add(tc.now))
			must(t, err)
			if n != tc.want {
				t.Errorf("DeleteExpiredLimits(t0+%v) = %d, want %d", tc.now, n, tc.want)
			}
			for _, key := range tc.left {
				w, _ := time.ParseDuration(strings.TrimPrefix(key, "k:"))
				if got, err := s.Hit(ctx, key, w, t0, 0); err != nil || got != 2 {
					t.Errorf("t0+%v: %s = %d, %v; want 2, untouched", tc.now, key, got, err)
				}
			}
		}
		// A counter of the current window keeps counting after a sweep.
		if got, err := s.Hit(ctx, "k:24h0m0s", 24*time.Hour, t0.Add(3*time.Hour), 1); err != nil || got != 3 {
			t.Errorf("after the sweeps: %d, %v; want 3", got, err)
		}
	}},
	{"DeleteExpiredMany", func(t *testing.T, s store.Store) {
		// More than one statement's batch: a spray of made-up addresses.
		ctx := t.Context()
		spray(t, s, sprayKeys)
		n, err := s.DeleteExpiredLimits(ctx, t0.Add(time.Minute))
		must(t, err)
		if n != sprayKeys {
			t.Errorf("DeleteExpiredLimits = %d, want %d", n, sprayKeys)
		}
		checkSwept(t, s)
	}},
	{"DeleteExpiredConcurrent", func(t *testing.T, s store.Store) {
		// Every node sweeps: together they drop each counter once, and
		// all of them.
		ctx := t.Context()
		spray(t, s, sprayKeys)
		counts := make([]int64, racers)
		errs := race(func(i int) error {
			var err error
			counts[i], err = s.DeleteExpiredLimits(ctx, t0.Add(time.Minute))
			return err
		})
		var total int64
		for i, err := range errs {
			must(t, err)
			total += counts[i]
		}
		if total != sprayKeys {
			t.Errorf("concurrent sweeps dropped %v, %d in all; want %d", counts, total, sprayKeys)
		}
		checkSwept(t, s)
	}},
	{"Concurrent", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		counts := make([]int, racers)
		racersSucceed(t, race(func(i int) error {
			var err error
			counts[i], err = s.Hit(ctx, "k", time.Minute, t0, 1)
			return err
		}))
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("concurrent hits returned %v, want 1..%d once each", counts, racers)
			}
		}
	}},
}

// Phone codes.

// newPhoneCode is a fresh code of the flow flowHash, sent at t0 and valid for
// five minutes. No flow row is needed: phone codes do not point at flows.
func newPhoneCode(flowHash, accountID string) store.PhoneCode {
	return store.PhoneCode{
		FlowHash: flowHash, AccountID: accountID, Phone: "+41790000000", Channel: "sms", Chosen: "sms",
		CodeHash: "hash-" + flowHash, SentAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	}
}

// phoneCodeExists reports whether PhoneCodeOf finds the flow's code.
func phoneCodeExists(t *testing.T, s store.Store, flowHash string) bool {
	t.Helper()
	_, err := s.PhoneCodeOf(t.Context(), flowHash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PhoneCodeOf(%q): %v", flowHash, err)
	}
	return err == nil
}

var phoneCodeTests = []test{
	{"PutAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		for _, p := range []store.PhoneCode{
			{FlowHash: "fl-sms", AccountID: a.ID, Phone: "+41790000000", Channel: "sms", Chosen: "sms", CodeHash: "hmac-1",
				SentAt: t0, ExpiresAt: t0.Add(5 * time.Minute)},
			// A call asked for once where text messages were chosen.
			{FlowHash: "fl-voice", AccountID: a.ID, Phone: "+14155550100", Channel: "voice", Chosen: "sms", CodeHash: "hmac-2",
				SentAt: t0.Add(time.Second), ExpiresAt: t0.Add(10 * time.Minute), Attempts: 2},
		} {
			must(t, s.PutPhoneCode(ctx, &p))
			got, err := s.PhoneCodeOf(ctx, p.FlowHash)
			must(t, err)
			same(t, "PhoneCodeOf", *got, p, normPhoneCode)
		}
	}},
	{"Resend", func(t *testing.T, s store.Store) {
		// Sending again replaces the flow's code: the old hash no longer
		// matches and the count of wrong codes starts over.
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		first := newPhoneCode("fl-1", a.ID)
		must(t, s.PutPhoneCode(ctx, &first))
		other := newPhoneCode("fl-2", a.ID)
		must(t, s.PutPhoneCode(ctx, &other))
		for range 2 {
			_, err := s.ChargePhoneCode(ctx, "fl-1", 5)
			must(t, err)
		}
		resend := store.PhoneCode{FlowHash: "fl-1", AccountID: a.ID, Phone: "+41790000000", Channel: "voice", Chosen: "sms",
			CodeHash: "hash-resent", SentAt: t0.Add(time.Minute), ExpiresAt: t0.Add(6 * time.Minute)}
		must(t, s.PutPhoneCode(ctx, &resend))
		got, err := s.PhoneCodeOf(ctx, "fl-1")
		must(t, err)
		if first.PreviousHash != "" || got.PreviousHash != first.CodeHash {
			t.Errorf("previous hash after a resend: %q, want the first code's %q", got.PreviousHash, first.CodeHash)
		}
		want := resend
		want.PreviousHash = first.CodeHash
		same(t, "PhoneCodeOf after a resend", *got, want, normPhoneCode)
		// The next resend keeps only the one before it; the choice is
		// the new code's, as the caller gives it (a number typed again
		// with the other channel).
		again := resend
		again.CodeHash, again.PreviousHash, again.Chosen = "hash-again", "ignored", "voice"
		must(t, s.PutPhoneCode(ctx, &again))
		if got, err := s.PhoneCodeOf(ctx, "fl-1"); err != nil || got.PreviousHash != "hash-resent" || got.CodeHash != "hash-again" || got.Chosen != "voice" {
			t.Errorf("after a second resend: %+v, %v", got, err)
		}
		got, err = s.PhoneCodeOf(ctx, "fl-2")
		must(t, err)
		same(t, "other flow's code after a resend", *got, other, normPhoneCode)
	}},
	{"Latest", func(t *testing.T, s store.Store) {
		// The account's code sent last, whichever flow sent it: the pause
		// between codes holds across flows.
		ctx := t.Context()
		a, b := newAccount(t, s, "acc-1"), newAccount(t, s, "acc-2")
		_, err := s.LatestPhoneCode(ctx, a.ID)
		wantErr(t, "LatestPhoneCode of an account without codes", err, store.ErrNotFound)
		early, late, others := newPhoneCode("fl-1", a.ID), newPhoneCode("fl-2", a.ID), newPhoneCode("fl-3", b.ID)
		late.SentAt, others.SentAt = t0.Add(20*time.Second), t0.Add(time.Minute)
		for _, p := range []store.PhoneCode{late, early, others} {
			must(t, s.PutPhoneCode(ctx, &p))
		}
		got, err := s.LatestPhoneCode(ctx, a.ID)
		must(t, err)
		same(t, "LatestPhoneCode", *got, late, normPhoneCode)
		must(t, s.DeletePhoneCode(ctx, "fl-2"))
		got, err = s.LatestPhoneCode(ctx, a.ID)
		must(t, err)
		same(t, "LatestPhoneCode after the latest was used", *got, early, normPhoneCode)
	}},
	{"Errors", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		p := newPhoneCode("fl-1", a.ID)
		must(t, s.PutPhoneCode(ctx, &p))
		_, err := s.PhoneCodeOf(ctx, "nope")
		wantErr(t, "PhoneCodeOf of a flow without a code", err, store.ErrNotFound)
		got, err := s.ChargePhoneCode(ctx, "nope", 5)
		wantErr(t, "ChargePhoneCode of a flow without a code", err, store.ErrNotFound)
		if got != nil {
			t.Errorf("ChargePhoneCode of a flow without a code returned %+v", got)
		}
		orphan := newPhoneCode("fl-2", "nobody")
		wantErr(t, "PutPhoneCode for an unknown account", s.PutPhoneCode(ctx, &orphan), store.ErrNotFound)
		if phoneCodeExists(t, s, "fl-2") {
			t.Error("PutPhoneCode for an unknown account stored the code")
		}
	}},
	{"Charge", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		p := newPhoneCode("fl-1", a.ID)
		must(t, s.PutPhoneCode(ctx, &p))
		const max = 3
		for n := 1; n <= max; n++ {
			got, err := s.ChargePhoneCode(ctx, "fl-1", max)
			must(t, err)
			p.Attempts = n
			same(t, fmt.Sprintf("ChargePhoneCode %d", n), *got, p, normPhoneCode)
			stored, err := s.PhoneCodeOf(ctx, "fl-1")
			must(t, err)
			same(t, fmt.Sprintf("code after ChargePhoneCode %d", n), *stored, p, normPhoneCode)
		}
		// Spent: refused, uncounted, and the code comes back whole, so the
		// caller can still tell which phone it was.
		for range 2 {
			got, err := s.ChargePhoneCode(ctx, "fl-1", max)
			wantErr(t, "ChargePhoneCode after max attempts", err, store.ErrLocked)
			if got == nil {
				t.Fatal("ChargePhoneCode after max attempts returned no code")
			}
			same(t, "ChargePhoneCode after max attempts", *got, p, normPhoneCode)
		}
		stored, err := s.PhoneCodeOf(ctx, "fl-1")
		must(t, err)
		same(t, "code after refused charges", *stored, p, normPhoneCode)
		// A higher max lets the count go on from where it is.
		got, err := s.ChargePhoneCode(ctx, "fl-1", max+1)
		must(t, err)
		if got.Attempts != max+1 {
			t.Errorf("ChargePhoneCode with a higher max: %d attempts, want %d", got.Attempts, max+1)
		}
	}},
	{"ChargeConcurrent", func(t *testing.T, s store.Store) {
		// Parallel guesses at one code: exactly max are counted, each with
		// its own number, and the rest refused.
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		p := newPhoneCode("fl-1", a.ID)
		must(t, s.PutPhoneCode(ctx, &p))
		const max, each = 3, 2
		passed, locked := raceLocked(t, each, func() (*store.PhoneCode, error) {
			return s.ChargePhoneCode(ctx, "fl-1", max)
		})
		var charged []int
		for _, got := range passed {
			charged = append(charged, got.Attempts)
		}
		slices.Sort(charged)
		if !slices.Equal(charged, []int{1, 2, 3}) || locked != racers*each-max {
			t.Errorf("charged %v and refused %d, want [1 2 3] and %d", charged, locked, racers*each-max)
		}
		stored, err := s.PhoneCodeOf(ctx, "fl-1")
		must(t, err)
		if stored.Attempts != max {
			t.Errorf("stored Attempts = %d, want %d", stored.Attempts, max)
		}
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		for _, h := range []string{"fl-1", "fl-2"} {
			p := newPhoneCode(h, a.ID)
			must(t, s.PutPhoneCode(ctx, &p))
		}
		must(t, s.DeletePhoneCode(ctx, "fl-1"))
		if phoneCodeExists(t, s, "fl-1") || !phoneCodeExists(t, s, "fl-2") {
			t.Error("DeletePhoneCode removed the wrong codes")
		}
		_, err := s.ChargePhoneCode(ctx, "fl-1", 5)
		wantErr(t, "ChargePhoneCode after DeletePhoneCode", err, store.ErrNotFound)
		must(t, s.DeletePhoneCode(ctx, "fl-1"))  // already gone is fine
		must(t, s.DeletePhoneCode(ctx, "never")) // so is never there
	}},
	{"FlowDeletedFirst", func(t *testing.T, s store.Store) {
		// A finished sign-in deletes its flow, then its code: the code must
		// not keep the flow from going.
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		must(t, s.CreateFlow(ctx, &store.Flow{IDHash: "fl-1", AccountID: a.ID, State: "mfa", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		p := newPhoneCode("fl-1", a.ID)
		must(t, s.PutPhoneCode(ctx, &p))
		must(t, s.DeleteFlow(ctx, "fl-1"))
		_, err := s.FlowByHash(ctx, "fl-1", t0)
		wantErr(t, "FlowByHash after DeleteFlow", err, store.ErrNotFound)
		must(t, s.DeletePhoneCode(ctx, "fl-1"))
		if phoneCodeExists(t, s, "fl-1") {
			t.Error("phone code survived DeletePhoneCode")
		}
	}},
	{"DeleteExpired", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newAccount(t, s, "acc-1")
		for h, exp := range map[string]time.Time{
			"fl-past": t0.Add(-time.Minute), "fl-now": t0, "fl-future": t0.Add(time.Millisecond),
		} {
			p := newPhoneCode(h, a.ID)
			p.SentAt, p.ExpiresAt = t0.Add(-time.Hour), exp
			must(t, s.PutPhoneCode(ctx, &p))
		}
		n, err := s.DeleteExpiredPhoneCodes(ctx, t0)
		must(t, err)
		if n != 2 {
			t.Errorf("DeleteExpiredPhoneCodes = %d, want 2", n)
		}
		for h, want := range map[string]bool{"fl-past": false, "fl-now": false, "fl-future": true} {
			if got := phoneCodeExists(t, s, h); got != want {
				t.Errorf("phone code of %s exists = %v, want %v", h, got, want)
			}
		}
		n, err = s.DeleteExpiredPhoneCodes(ctx, t0)
		must(t, err)
		if n != 0 {
			t.Errorf("second DeleteExpiredPhoneCodes = %d, want 0", n)
		}
	}},
}

// Outbox.

var outboxTests = []test{
	{"AppendAndList", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		got, err := s.ListOutbox(ctx, 0)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("ListOutbox of an empty store: %+v", got)
		}
		msgs := []store.OutboxMessage{
			{At: t0, To: "+41790000000", Channel: "sms", Body: "Your Tobira code is 123456"},
			{At: t0.Add(time.Second), To: "+41790000000", Channel: "voice", Body: "Your code is 1, 2, 3, 4, 5, 6"},
			{At: t0, To: "ana@example.com", Channel: "email", Subject: "Set your password", Body: "https://example.com/set?t=x"}, // an earlier At, appended later
		}
		var last int64
		for i := range msgs {
			must(t, s.AppendOutbox(ctx, &msgs[i]))
			if msgs[i].ID <= last {
				t.Fatalf("message %d got ID %d after %d; want increasing", i, msgs[i].ID, last)
			}
			last = msgs[i].ID
		}
		for _, tc := range []struct {
			limit int
			want  []int // indexes into msgs, newest first
		}{
			{0, []int{2, 1, 0}}, // no limit
			{-1, []int{2, 1, 0}},
			{1, []int{2}},
			{2, []int{2, 1}},
			{10, []int{2, 1, 0}},
		} {
			got, err := s.ListOutbox(ctx, tc.limit)
			must(t, err)
			if len(got) != len(tc.want) {
				t.Errorf("ListOutbox(%d): %d messages, want %d", tc.limit, len(got), len(tc.want))
				continue
			}
			for i, w := range tc.want {
				same(t, fmt.Sprintf("ListOutbox(%d)[%d]", tc.limit, i), got[i], msgs[w], normOutbox)
			}
		}
	}},
}

// Audit.

var auditTests = []test{
	{"Retention", func(t *testing.T, s store.Store) {
		// The database compares with its own clock: times from now.
		ctx := t.Context()
		now := time.Now()
		ages := []time.Duration{3 * 365 * 24 * time.Hour, 400 * 24 * time.Hour, 100 * 24 * time.Hour, 10 * 24 * time.Hour, 0}
		for i, age := range ages {
			must(t, s.AppendAudit(ctx, &store.AuditEvent{At: now.Add(-age), AccountID: "acc-r", Actor: "customer",
				Action: "signin", Outcome: "ok", Detail: fmt.Sprint(i)}))
		}
		left := func() []string {
			t.Helper()
			evs, err := s.AuditOf(ctx, "acc-r", 0)
			must(t, err)
			var d []string
			for _, ev := range evs {
				d = append(d, ev.Detail)
			}
			return d
		}
		// A year's retention: the two older events go, in one call however
		// many batches it takes.
		n, err := s.DeleteAuditBefore(ctx, now.Add(-365*24*time.Hour))
		must(t, err)
		if got := left(); n != 2 || !slices.Equal(got, []string{"4", "3", "2"}) {
			t.Errorf("DeleteAuditBefore(a year ago) = %d, left %v; want 2 deleted, 4 3 2 left", n, got)
		}
		if n, err := s.DeleteAuditBefore(ctx, now.Add(-365*24*time.Hour)); err != nil || n != 0 {
			t.Errorf("DeleteAuditBefore again = %d, %v; want 0", n, err)
		}
		// The least retention the database allows.
		n, err = s.DeleteAuditBefore(ctx, now.Add(-store.AuditMinRetention))
		must(t, err)
		if got := left(); n != 1 || !slices.Equal(got, []string{"4", "3"}) {
			t.Errorf("DeleteAuditBefore(90 days ago) = %d, left %v; want 1 deleted, 4 3 left", n, got)
		}
		// Younger events are refused by the database itself.
		if n, err := s.DeleteAuditBefore(ctx, now.Add(time.Hour)); err == nil {
			t.Errorf("DeleteAuditBefore(an hour ahead) deleted %d events younger than 90 days", n)
		}
		if got := left(); !slices.Equal(got, []string{"4", "3"}) {
			t.Errorf("after a refused deletion: left %v, want 4 3", got)
		}
	}},
	{"AppendAndList", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		evs := []store.AuditEvent{
			{At: t0, AccountID: "acc-1", Actor: "customer", Action: "signin.password", Outcome: "fail", ClientIP: "203.0.113.7", UserAgent: "UA", Detail: "wrong password"},
			{At: t0.Add(time.Second), AccountID: "acc-1", Actor: "customer", Action: "signin.password", Outcome: "ok"},
			{At: t0.Add(time.Second), AccountID: "acc-1", Actor: "customer", Action: "signin.mfa", Outcome: "ok"}, // same instant, appended later
			{At: t0, AccountID: "acc-2", Actor: "operator:kim", Action: "mfa.reset", Outcome: "ok"},
			{At: t0, Actor: "system", Action: "signin.unknown", Outcome: "fail"}, // no account known
		}
		var last int64
		for i := range evs {
			must(t, s.AppendAudit(ctx, &evs[i]))
			if evs[i].ID <= last {
				t.Fatalf("event %d got ID %d after %d; want increasing", i, evs[i].ID, last)
			}
			last = evs[i].ID
		}
		for _, tc := range []struct {
			account string
			limit   int
			want    []int // indexes into evs, newest first
		}{
			{"acc-1", 10, []int{2, 1, 0}},
			{"acc-1", 2, []int{2, 1}},
			{"acc-1", 0, []int{2, 1, 0}}, // no limit
			{"acc-2", 10, []int{3}},
			{"", 10, []int{4}},
			{"nobody", 10, nil},
		} {
			got, err := s.AuditOf(ctx, tc.account, tc.limit)
			must(t, err)
			if len(got) != len(tc.want) {
				t.Errorf("AuditOf(%q, %d): %d events, want %d", tc.account, tc.limit, len(got), len(tc.want))
				continue
			}
			for i, w := range tc.want {
				same(t, fmt.Sprintf("AuditOf(%q, %d)[%d]", tc.account, tc.limit, i), got[i], evs[w], normEvent)
			}
		}
		for _, tc := range []struct {
			actions []string
			limit   int
			want    []int
		}{
			{[]string{"signin.mfa", "signin.password"}, 10, []int{2, 1, 0}},
			{[]string{"signin.password", "signin.mfa"}, 1, []int{2}},
			{[]string{"signin.password"}, 10, []int{1, 0}},
			{[]string{"signin.mfa"}, 10, []int{2}},
			{[]string{"mfa.reset"}, 10, nil}, // another account's
		} {
			var got []store.AuditEvent
			for ev, err := range s.AuditOfActions(ctx, "acc-1", tc.actions, tc.limit) {
				must(t, err)
				got = append(got, ev)
			}
			if len(got) != len(tc.want) {
				t.Errorf("AuditOfActions(acc-1, %q, %d): %d events, want %d", tc.actions, tc.limit, len(got), len(tc.want))
				continue
			}
			for i, w := range tc.want {
				same(t, fmt.Sprintf("AuditOfActions(acc-1, %q)[%d]", tc.actions, i), got[i], evs[w], normEvent)
			}
		}
		// A caller that stops early gets no more, and gives the store's
		// connection back: more such stops than any pool has connections,
		// then a read that would wait for one in vain if they kept theirs.
		waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for range 20 {
			n := 0
			for ev, err := range s.AuditOfActions(waitCtx, "acc-1", []string{"signin.mfa", "signin.password"}, 0) {
				must(t, err)
				n++
				same(t, "AuditOfActions(acc-1), the first", ev, evs[2], normEvent)
				break
			}
			if n != 1 {
				t.Fatalf("AuditOfActions, stopped at the first: %d events", n)
			}
		}
		for range s.AuditOfActions(ctx, "acc-1", nil, 0) {
			t.Error("AuditOfActions with no actions yielded an event")
		}
		if got, err := s.AuditOf(waitCtx, "acc-1", 0); err != nil || len(got) != 3 {
			t.Errorf("AuditOf after stopping early: %d events, %v; want 3", len(got), err)
		}
	}},
}

// Times.

var timeTests = []test{
	{"Millisecond", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// Sub-millisecond parts and the zone are not kept; the instant, to
		// the millisecond, is, and comes back in UTC.
		zone := time.FixedZone("UTC+1", 3600)
		at := time.Date(2026, 11, 26, 10, 0, 0, 123_456_789, zone)
		a := &store.Account{ID: "acc-1", Email: "a@example.com", CreatedAt: at, MFALockedUntil: at.Add(time.Hour)}
		must(t, s.CreateAccount(ctx, a))
		got, err := s.AccountByID(ctx, a.ID)
		must(t, err)
		for _, tc := range []struct {
			name      string
			got, want time.Time
		}{
			{"CreatedAt", got.CreatedAt, a.CreatedAt},
			{"MFALockedUntil", got.MFALockedUntil, a.MFALockedUntil},
		} {
			if tc.got.Location() != time.UTC {
				t.Errorf("%s in %v, want UTC", tc.name, tc.got.Location())
			}
			if !tc.got.Truncate(time.Millisecond).Equal(tc.want.Truncate(time.Millisecond)) {
				t.Errorf("%s = %v, want %v to the millisecond", tc.name, tc.got, tc.want)
			}
		}
	}},
	{"Zero", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// A zero time.Time is "never", and must not come back as 1970.
		a := &store.Account{ID: "acc-1", Email: "a@example.com"}
		must(t, s.CreateAccount(ctx, a))
		ss := &store.Session{IDHash: "s-1", AccountID: a.ID}
		must(t, s.CreateSession(ctx, ss))
		ev := &store.AuditEvent{AccountID: a.ID, Actor: "system", Action: "x", Outcome: "ok"}
		must(t, s.AppendAudit(ctx, ev))

		gotA, err := s.AccountByID(ctx, a.ID)
		must(t, err)
		gotS, err := s.SessionByHash(ctx, "s-1")
		must(t, err)
		gotE, err := s.AuditOf(ctx, a.ID, 1)
		must(t, err)
		if len(gotE) != 1 {
			t.Fatalf("AuditOf: %+v", gotE)
		}
		for name, tm := range map[string]time.Time{
			"Account.CreatedAt": gotA.CreatedAt, "Account.MFALockedUntil": gotA.MFALockedUntil,
			"Session.CreatedAt": gotS.CreatedAt, "Session.MFAAt": gotS.MFAAt, "Session.ExpiresAt": gotS.ExpiresAt,
			"AuditEvent.At": gotE[0].At,
		} {
			if !tm.IsZero() {
				t.Errorf("%s = %v, want the zero time", name, tm)
			}
		}
	}},
}
