package mfa

import "time"

// Lock-out policy for wrong second-factor codes, of every factor together:
// after every FailuresPerLock wrong codes in a row the step closes, first for
// FirstLock, then twice as long each time, until a right code clears the count.
//
// With a ±1-step TOTP window a guess succeeds with probability 3/10^6, and the
// doubling lets about 13 rounds (130 guesses) into a year: about 0.04 %.
const (
	FailuresPerLock = 10
	FirstLock       = time.Hour
	maxDoublings    = 16 // about 7 years; only keeps the shift from overflowing
)

// LockUntil says until when the step is closed after the failures-th wrong
// code in a row; the zero time when it stays open.
func LockUntil(failures int, now time.Time) time.Time {
	if failures <= 0 || failures%FailuresPerLock != 0 {
		return time.Time{}
	}
	d := min(failures/FailuresPerLock-1, maxDoublings)
	return now.Add(FirstLock << d)
}

// Locked reports whether a step closed until `until` is still closed at now.
func Locked(until, now time.Time) bool { return now.Before(until) }
