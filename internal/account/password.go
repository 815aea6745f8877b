// Package account holds the rules for customers' sign-in details: addresses,
// password policy, and password hashing with argon2id.
package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Argon2Params are the argon2id cost parameters (RFC 9106). The defaults are
// OWASP's recommendation of 19 MiB and 2 passes, in 2 lanes (DefaultArgon2).
type Argon2Params struct {
	MemoryKiB uint32 `json:"memory_kib"`
	Time      uint32 `json:"time"`
	Threads   uint8  `json:"threads"`
}

// DefaultArgon2 is OWASP's first choice for argon2id, 19 MiB and 2 passes,
// in two lanes: argon2 computes lanes side by side, so one customer's hash
// takes two cores for about half as long, for the same memory and passes,
// which are what a guess costs an attacker (RFC 9106 recommends 4 lanes).
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMalformedHash is returned for a stored hash that is not an argon2id PHC string.
var ErrMalformedHash = errors.New("account: malformed password hash")

// Hasher hashes and checks passwords, at most a bounded number at once:
// memory-hard hashing must not run unbounded, or a burst of sign-ins becomes
// a memory exhaustion attack.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	// dummy is checked against for unknown accounts: today's parameters,
	// so a check costs what a real one does, with a random salt and key,
	// which no password hashes to (and Verify never accepts it anyway).
	// Being random, it costs nothing to make at start-up.
	dummy string

	// MaxQueue requests may wait for a slot, each at most MaxWait; beyond
	// either, ErrBusy. Zero means no bound. The waiting hold no hashing
	// memory, only their request.
	MaxQueue int
	MaxWait  time.Duration
	waiting  atomic.Int64
	busy     atomic.Int64

	hashes    atomic.Int64 // argon2 computations done
	hashNanos atomic.Int64 // their time, not counting the wait for a slot
	// todayNanos is the time the latest computation with today's
	// parameters took: a check of a hash made with other parameters waits
	// until it has taken as long (Verify).
	todayNanos atomic.Int64

	// wait waits d, or until ctx ends, holding no hashing slot: Verify's
	// waits that even out the time of a check (timerWait; tests record
	// them).
	wait func(ctx context.Context, d time.Duration)
}

// ErrBusy says every hashing slot is taken and the queue for them is full,
// or the wait for one ran out: the customer should try again shortly.
var ErrBusy = errors.New("account: too many passwords being checked at once")

// NewHasher returns a hasher that runs at most concurrent hashes at a time.
func NewHasher(p Argon2Params, concurrent int) *Hasher {
	if concurrent < 1 {
		concurrent = 1
	}
	h := &Hasher{params: p, slots: make(chan struct{}, concurrent), wait: timerWait}
	h.dummy = h.phc(randomSalt(), randomBytes(keyLen))
	return h
}

// randomSalt is a new salt.
func randomSalt() []byte { return randomBytes(saltLen) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// NormalizePassword is the form of a password that is hashed: its NFKC
// form, as NIST SP 800-63B (5.1.1.2) asks, so that one password typed two
// ways is one password. Full-width letters, digits and signs, which a
// Japanese input method types, are their ASCII; half-width katakana are
// full-width (ﾊﾟｽﾜｰﾄﾞ is パスワード); the ideographic space is a space;
// compatibility characters are what they stand for (① is 1, ㍻ is 平成).
// Nothing is trimmed and case is kept: those are part of the password.
// ASCII is its own NFKC form.
func NormalizePassword(password string) string { return norm.NFKC.String(password) }

// SamePassword reports whether a and b are one password once normalised:
// whether the one signs in where the other was set.
func SamePassword(a, b string) bool { return NormalizePassword(a) == NormalizePassword(b) }

// Hash returns the PHC string of password's NFKC form (NormalizePassword),
// marked as such (nfkcParam), e.g.
// $argon2id$v=19$m=19456,t=2,p=2,norm=nfkc$SALT$KEY.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(NormalizePassword(password), randomSalt()), nil
}

func (h *Hasher) hash(password string, salt []byte) string {
	return h.phc(salt, h.idKey(password, salt, h.params, keyLen))
}

// idKey computes argon2id and counts it and its time (Hashed).
func (h *Hasher) idKey(password string, salt []byte, p Argon2Params, n uint32) []byte {
	start := time.Now()
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, n)
	took := int64(time.Since(start))
	h.hashNanos.Add(took)
	h.hashes.Add(1)
	if p == h.params {
		h.todayNanos.Store(took)
	}
	return key
}

// nfkcParam is the PHC parameter that marks a hash made over the NFKC form
// of the password (NormalizePassword), as every hash Hash makes is. A hash
// without it is from before the mark: made over the NFKC form, or, before
// passwords were normalised, over the password as typed, which Verify
// cannot tell apart. Marked, a check needs only the NFKC form's hash.
//
// It follows m, t and p, which argon2's own parameters are read from
// (a reader that knows only those, Tobira's before the mark included,
// reads the hash as ever). Other argon2 tools take only the three: to use
// a hash there, drop ",norm=nfkc" and hash the NFKC form of the password.
const nfkcParam = "norm=nfkc"

// phc writes a salt and key with today's parameters as a PHC string of a
// hash over the NFKC form.
func (h *Hasher) phc(salt, key []byte) string {
	p := h.params
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d,%s$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, nfkcParam, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the PHC string phc. An empty phc
// (an unknown account, or one without a password yet) is checked against a
// dummy hash so that it takes as long as a real check, and never matches.
// needsRehash tells the caller to hash the password again (Hash) and store
// it: the hash used other parameters than today's, or it is not marked as
// made over the NFKC form (nfkcParam), or it was made over the password
// as typed.
//
// The password's NFKC form is checked first. A hash without the mark may
// be from before passwords were normalised, made over the password as
// typed: when that differs from the NFKC form and the NFKC form does not
// match, the password as typed is checked too. A marked hash (and the
// dummy, which is marked) can match the NFKC form only, so a wrong
// password costs one hash, whatever its characters: the second is not
// computed but waited for, without a hashing slot, as long as the first
// took. A check takes as long for an unknown address as for a known one,
// marked or not, so its time does not tell them apart; the server's
// hashing work, which an attacker could double with guesses in full-width
// or other characters that NFKC changes, is doubled only for the accounts
// whose hash is unmarked, each until its next sign-in remakes it.
func (h *Hasher) Verify(ctx context.Context, phc, password string) (ok, needsRehash bool, err error) {
	target := phc
	if target == "" {
		target = h.dummy
	}
	p, salt, key, nfkc, err := parsePHC(target)
	if err != nil {
		return false, false, err
	}
	forms := []string{NormalizePassword(password)}
	// stands is how many hashes the check stands for: the forms a hash
	// of unknown making would be checked with.
	stands := 1
	if forms[0] != password {
		stands = 2
		if !nfkc {
			forms = append(forms, password)
		}
	}
	// Both checks run in one slot, one after the other. The slots bound
	// the hashes running at once, and so the memory and cores they take:
	// two hashes in turn in one slot never take more than one. Taking a
	// second slot could leave a check half done, refused ErrBusy or
	// waiting in the queue after its first hash, and with one slot it
	// would wait for itself. The queue's wait counts the slot's longer
	// hold, as it counts a costlier hash.
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	start := time.Now()
	match, asTyped, checked := false, false, 0
	var last time.Duration
	for i, pw := range forms {
		began := time.Now()
		got := h.idKey(pw, salt, p, uint32(len(key)))
		last = time.Since(began)
		checked++
		if subtle.ConstantTimeCompare(got, key) == 1 && phc != "" {
			match, asTyped = true, i > 0
			break
		}
	}
	other := p != h.params && phc != ""
	if other && h.todayNanos.Load() == 0 {
		// Nothing has measured today's cost yet: the dummy does, once.
		_, dsalt, dkey, _, _ := parsePHC(h.dummy)
		h.idKey(password, dsalt, h.params, uint32(len(dkey)))
	}
	took := time.Since(start)
	h.release()
	// A right password stops at the form that matches; a wrong one takes
	// as long as the hashes it stands for.
	n := checked
	if !match {
		n = stands
	}
	switch {
	case other:
		h.waitForToday(ctx, n, took)
	case n > checked:
		h.wait(ctx, time.Duration(n-checked)*last)
	}
	return match, match && (p != h.params || asTyped || !nfkc), nil
}

// waitForToday makes the check of a hash made with other parameters than
// today's, which computed n hashes in `took`, last as long as n with
// today's: an unknown address is checked against today's dummy, and an
// account whose hash is from before the operator raised the cost, and not
// yet upgraded by its next sign-in, would otherwise answer a wrong password
// sooner, and so tell that it exists. It waits without a hashing slot, and
// no longer than ctx lasts. A hash costlier than today's (the cost lowered)
// takes longer whatever is done here.
func (h *Hasher) waitForToday(ctx context.Context, n int, took time.Duration) {
	if wait := time.Duration(int64(n)*h.todayNanos.Load()) - took; wait > 0 {
		h.wait(ctx, wait)
	}
}

// timerWait waits d, or until ctx ends.
func timerWait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// acquire takes a hashing slot: at once when one is free, else after a
// bounded wait in a bounded queue.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if n := h.waiting.Add(1); h.MaxQueue > 0 && n > int64(h.MaxQueue) {
		h.waiting.Add(-1)
		h.busy.Add(1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	var timeout <-chan time.Time
	if h.MaxWait > 0 {
		t := time.NewTimer(h.MaxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timeout:
		h.busy.Add(1)
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Waiting is how many requests wait for a hashing slot now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// Running is how many hashes run now, of Slots at most.
func (h *Hasher) Running() int { return len(h.slots) }

// Slots is how many hashes may run at once.
func (h *Hasher) Slots() int { return cap(h.slots) }

// Busy is how many requests were refused with ErrBusy since the start.
func (h *Hasher) Busy() int64 { return h.busy.Load() }

// Hashed is how many hashes were computed since the start, and the time
// they took together, not counting their wait for a slot.
func (h *Hasher) Hashed() (n int64, took time.Duration) {
	return h.hashes.Load(), time.Duration(h.hashNanos.Load())
}

func (h *Hasher) release() { <-h.slots }

// parsePHC reads an argon2id PHC string: its parameters, salt and key,
// and whether it is marked as made over the NFKC form (nfkcParam).
func parsePHC(s string) (p Argon2Params, salt, key []byte, nfkc bool, err error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..[,norm=nfkc]", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, false, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, false, ErrMalformedHash
	}
	params := parts[3]
	if rest, ok := strings.CutSuffix(params, ","+nfkcParam); ok {
		params, nfkc = rest, true
	}
	if _, err := fmt.Sscanf(params, "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 {
		return p, nil, nil, false, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err = b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, false, ErrMalformedHash
	}
	key, err = b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return p, nil, nil, false, ErrMalformedHash
	}
	return p, salt, key, nfkc, nil
}
