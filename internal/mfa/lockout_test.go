package mfa

import (
	"math"
	"testing"
	"time"
)

var lockNow = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func TestLockUntil(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration // 0: stays open
	}{
		{-1, 0}, {0, 0},
		{1, 0}, {2, 0}, {5, 0}, {9, 0},
		{10, time.Hour},
		{11, 0}, {19, 0},
		{20, 2 * time.Hour},
		{21, 0},
		{30, 4 * time.Hour},
		{40, 8 * time.Hour},
		{100, 512 * time.Hour},
	} {
		got := LockUntil(tc.failures, lockNow)
		if tc.want == 0 {
			if !got.IsZero() {
				t.Errorf("LockUntil(%d) = %v, want zero (open)", tc.failures, got)
			}
			continue
		}
		if want := lockNow.Add(tc.want); !got.Equal(want) {
			t.Errorf("LockUntil(%d) = %v (+%v), want +%v", tc.failures, got, got.Sub(lockNow), tc.want)
		}
	}
}

// TestLockUntilHuge: counts far beyond any real attack neither overflow into
// the past nor wrap around to an open step.
func TestLockUntilHuge(t *testing.T) {
	prev := time.Duration(0)
	for _, n := range []int{170, 180, 1000, 10_000, 1_000_000, math.MaxInt32 - math.MaxInt32%10, math.MaxInt - math.MaxInt%10} {
		got := LockUntil(n, lockNow)
		d := got.Sub(lockNow)
		if !got.After(lockNow) {
			t.Fatalf("LockUntil(%d) = %v, not after now", n, got)
		}
		if d < prev {
			t.Errorf("LockUntil(%d) = +%v, shorter than +%v for fewer failures", n, d, prev)
		}
		if d < 365*24*time.Hour {
			t.Errorf("LockUntil(%d) = +%v, want a lock of years at this count", n, d)
		}
		prev = d
	}
}

func TestLocked(t *testing.T) {
	until := lockNow.Add(time.Hour)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{lockNow, true},
		{until.Add(-time.Millisecond), true},
		{until, false},
		{until.Add(time.Second), false},
	} {
		if got := Locked(until, tc.at); got != tc.want {
			t.Errorf("Locked(until, %v) = %v, want %v", tc.at, got, tc.want)
		}
	}
	if Locked(time.Time{}, lockNow) {
		t.Error("the zero time locks")
	}
}

// TestLockoutBoundsGuessesPerYear: an attacker who guesses TOTP codes and
// retries the moment each lock opens gets few enough guesses in a year that,
// at 3/10^6 per guess (a ±1-step window), the chance of success stays under
// 0.1 %.
func TestLockoutBoundsGuessesPerYear(t *testing.T) {
	start := lockNow
	end := start.Add(365 * 24 * time.Hour)
	now := start
	var until time.Time
	guesses, failures := 0, 0
	for now.Before(end) {
		if Locked(until, now) {
			now = until // retry the moment the lock opens
			continue
		}
		guesses++
		failures++
		until = LockUntil(failures, now)
	}
	p := float64(guesses) * 3 / 1e6
	t.Logf("%d guesses in 365 days: success probability %.4f %%", guesses, p*100)
	if p >= 0.001 {
		t.Fatalf("%d guesses a year: probability %.5f, want under 0.001", guesses, p)
	}
	// 10 guesses per round; rounds start at 0, 1, 3, 7, ..., 2^13-1 = 8191 hours.
	if guesses != 140 {
		t.Errorf("guesses = %d, want 140 (14 rounds of %d)", guesses, FailuresPerLock)
	}
}
