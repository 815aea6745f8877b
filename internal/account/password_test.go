package account

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// cheap keeps tests fast; the format and logic do not depend on the cost.
var cheap = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestHashVerifyRoundTrip(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(cheap, 2)
	for _, pw := range []string{"correct horse battery", "パスワードは長いほうがよい", strings.Repeat("x", MaxPassword), " spaces  "} {
		phc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
		ok, rehash, err := h.Verify(ctx, phc, pw)
		if err != nil || !ok || rehash {
			t.Errorf("Verify(own hash of %q) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
		for _, wrong := range []string{"", pw + "x", strings.ToUpper(pw), strings.TrimSpace(pw)} {
			if wrong == pw {
				continue
			}
			ok, rehash, err := h.Verify(ctx, phc, wrong)
			if err != nil || ok || rehash {
				t.Errorf("Verify(hash of %q, %q) = %v, %v, %v; want false, false, nil", pw, wrong, ok, rehash, err)
			}
		}
	}
}

func TestHashIsSaltedPHC(t *testing.T) {
	ctx := t.Context()
	p := Argon2Params{MemoryKiB: 128, Time: 2, Threads: 1}
	h := NewHasher(p, 1)
	a, err := h.Hash(ctx, "the same password")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Hash(ctx, "the same password")
	if a == b {
		t.Fatal("two hashes of one password are equal: no random salt")
	}
	prefix := "$argon2id$v=19$m=128,t=2,p=1,norm=nfkc$"
	if !strings.HasPrefix(a, prefix) {
		t.Fatalf("hash %q does not start with %q", a, prefix)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+,norm=nfkc\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(a) {
		t.Fatalf("hash %q is not PHC with a 16-byte salt and a 32-byte key in unpadded base64", a)
	}
	def := NewHasher(DefaultArgon2, 1)
	d, _ := def.Hash(ctx, "x")
	if !strings.HasPrefix(d, "$argon2id$v=19$m=19456,t=2,p=2,norm=nfkc$") {
		t.Fatalf("default hash %q does not carry OWASP's memory and passes in two lanes", d)
	}
}

// TestVerifyIndependentPHC builds a PHC string by hand from argon2.IDKey, as
// another implementation would write it, and checks Verify reads each field.
func TestVerifyIndependentPHC(t *testing.T) {
	salt := []byte("somesalt-16bytes")
	key := argon2.IDKey([]byte("password"), salt, 3, 96, 1, 32)
	b64 := base64.RawStdEncoding
	phc := fmt.Sprintf("$argon2id$v=19$m=96,t=3,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
	h := NewHasher(cheap, 1)
	ok, rehash, err := h.Verify(t.Context(), phc, "password")
	if err != nil || !ok {
		t.Fatalf("Verify(hand-made PHC) = %v, %v", ok, err)
	}
	if !rehash {
		t.Error("other parameters than the hasher's: needsRehash = false")
	}
	// A 64-byte key (other implementations' choice) is read at its length;
	// with the hasher's parameters it is still made again, marked as over
	// the NFKC form (nfkcParam), which no other implementation says.
	key64 := argon2.IDKey([]byte("password"), salt, 1, 64, 1, 64)
	phc64 := fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key64))
	if ok, rehash, err := h.Verify(t.Context(), phc64, "password"); err != nil || !ok || !rehash {
		t.Fatalf("Verify(64-byte key) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestVerifyEmptyHashNeverMatches(t *testing.T) {
	h := NewHasher(cheap, 1)
	for _, pw := range []string{"", "tobira: a password nobody has", "anything at all"} {
		ok, rehash, err := h.Verify(t.Context(), "", pw)
		if err != nil {
			t.Errorf("Verify(\"\", %q) err = %v, want nil (an unknown account is no error)", pw, err)
		}
		if ok || rehash {
			t.Errorf("Verify(\"\", %q) = %v, %v; want false, false", pw, ok, rehash)
		}
	}
	// An unknown account costs what a known one does: the dummy it is
	// checked against has today's parameters and a key of full length.
	p, salt, key, nfkc, err := parsePHC(h.dummy)
	if err != nil || p != cheap || len(salt) != saltLen || len(key) != keyLen || !nfkc {
		t.Errorf("dummy %q: %+v, salt %d bytes, key %d bytes, %v; want %+v, %d, %d", h.dummy, p, len(salt), len(key), err, cheap, saltLen, keyLen)
	}
	if other := NewHasher(cheap, 1); other.dummy == h.dummy {
		t.Error("two hashers made the same dummy: it must be random")
	}
}

func TestVerifyMalformed(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(cheap, 1)
	good, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..., salt, key
	join := func(p ...string) string { return strings.Join(p, "$") }
	for name, phc := range map[string]string{
		"garbage":           "not a hash",
		"bcrypt":            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":           join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"argon2d":           join("", "argon2d", parts[2], parts[3], parts[4], parts[5]),
		"no leading $":      strings.TrimPrefix(good, "$"),
		"too few parts":     join("", "argon2id", parts[2], parts[3], parts[4]),
		"too many parts":    good + "$extra",
		"version 16":        join("", "argon2id", "v=16", parts[3], parts[4], parts[5]),
		"version text":      join("", "argon2id", "v=x", parts[3], parts[4], parts[5]),
		"m=0":               join("", "argon2id", parts[2], "m=0,t=1,p=1", parts[4], parts[5]),
		"t=0":               join("", "argon2id", parts[2], "m=64,t=0,p=1", parts[4], parts[5]),
		"p=0":               join("", "argon2id", parts[2], "m=64,t=1,p=0", parts[4], parts[5]),
		"p too big":         join("", "argon2id", parts[2], "m=64,t=1,p=300", parts[4], parts[5]),
		"params missing":    join("", "argon2id", parts[2], "", parts[4], parts[5]),
		"salt not base64":   join("", "argon2id", parts[2], parts[3], "!!!!", parts[5]),
		"salt short":        join("", "argon2id", parts[2], parts[3], "c2FsdA", parts[5]),
		"key not base64":    join("", "argon2id", parts[2], parts[3], parts[4], "***"),
		"key short":         join("", "argon2id", parts[2], parts[3], parts[4], "a2V5"),
		"padded base64 key": join("", "argon2id", parts[2], parts[3], parts[4], parts[5]+"="),
	} {
		ok, _, err := h.Verify(ctx, phc, "pw")
		if ok {
			t.Errorf("%s: %q matched", name, phc)
		}
		if !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: err = %v, want ErrMalformedHash", name, err)
		}
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	ctx := t.Context()
	old := NewHasher(Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	phc, err := old.Hash(ctx, "a long passphrase")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Argon2Params{
		{MemoryKiB: 128, Time: 1, Threads: 1},
		{MemoryKiB: 64, Time: 2, Threads: 1},
		{MemoryKiB: 64, Time: 1, Threads: 2},
	} {
		now := NewHasher(p, 1)
		ok, rehash, err := now.Verify(ctx, phc, "a long passphrase")
		if err != nil || !ok || !rehash {
			t.Errorf("params %+v: Verify(old hash) = %v, %v, %v; want true, true, nil", p, ok, rehash, err)
		}
		// No rehash advice for a wrong password: it would leak nothing, but
		// a caller must never rehash what it did not verify.
		ok, rehash, _ = now.Verify(ctx, phc, "wrong")
		if ok || rehash {
			t.Errorf("params %+v: wrong password gives %v, %v", p, ok, rehash)
		}
	}
	same := NewHasher(Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	if _, rehash, _ := same.Verify(ctx, phc, "a long passphrase"); rehash {
		t.Error("same parameters: needsRehash = true")
	}
}

func TestNewHasherBound(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{-3, 1}, {0, 1}, {1, 1}, {4, 4}} {
		if got := cap(NewHasher(cheap, tc.in).slots); got != tc.want {
			t.Errorf("NewHasher(_, %d) allows %d at once, want %d", tc.in, got, tc.want)
		}
	}
}

// TestHashWaitsForASlot fills every slot, starts more Hash and Verify calls
// than the bound, and cancels their context: none may have run, each returns
// the context's error. Then a freed slot lets work through again.
func TestHashWaitsForASlot(t *testing.T) {
	const bound = 2
	h := NewHasher(cheap, bound)
	phc, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	for range bound {
		h.slots <- struct{}{} // busy: as if `bound` hashes were running
	}

	ctx, cancel := context.WithCancel(t.Context())
	const callers = 3 * bound
	var wg sync.WaitGroup
	errs := make(chan error, 2*callers)
	for i := range callers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			s, err := h.Hash(ctx, fmt.Sprint("pw", i))
			if s != "" {
				err = fmt.Errorf("Hash ran while every slot was taken: %q, %v", s, err)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			ok, _, err := h.Verify(ctx, phc, "pw")
			if ok {
				err = fmt.Errorf("Verify ran while every slot was taken")
			}
			errs <- err
		}()
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("caller returned %v, want context.Canceled", err)
		}
	}
	if n := len(h.slots); n != bound {
		t.Fatalf("cancelled callers changed the slots: %d in use, want %d", n, bound)
	}

	<-h.slots // one hash finishes
	if _, err := h.Hash(t.Context(), "pw"); err != nil {
		t.Fatalf("Hash with a free slot: %v", err)
	}
	if n := len(h.slots); n != bound-1 {
		t.Fatalf("Hash did not give its slot back: %d in use, want %d", n, bound-1)
	}
}

// TestHashConcurrentCallers runs many more callers than the bound on a real
// hasher: every one finishes, and all slots are free afterwards.
func TestHashConcurrentCallers(t *testing.T) {
	h := NewHasher(cheap, 2)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := fmt.Sprint("password-", i)
			phc, err := h.Hash(t.Context(), pw)
			if err != nil {
				t.Errorf("Hash: %v", err)
				return
			}
			if ok, _, err := h.Verify(t.Context(), phc, pw); !ok || err != nil {
				t.Errorf("Verify: %v, %v", ok, err)
			}
		}()
	}
	wg.Wait()
	if n := len(h.slots); n != 0 {
		t.Fatalf("%d slots still taken after every caller returned", n)
	}
}

// TestQueueIsBounded fills the slots: MaxQueue callers wait and the next is
// told ErrBusy at once; a waiter whose MaxWait runs out is told ErrBusy too.
// Nobody hashes while refused.
func TestQueueIsBounded(t *testing.T) {
	h := NewHasher(cheap, 1)
	h.MaxQueue = 2
	h.slots <- struct{}{} // the one slot is busy

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	waitErrs := make(chan error, h.MaxQueue)
	for range h.MaxQueue {
		wg.Go(func() {
			_, err := h.Hash(ctx, "pw")
			waitErrs <- err
		})
	}
	for h.Waiting() < h.MaxQueue {
		runtime.Gosched()
	}
	if h.Running() != 1 || h.Slots() != 1 || h.Busy() != 0 {
		t.Errorf("with the slot taken: %d running of %d, %d refused; want 1 of 1, 0", h.Running(), h.Slots(), h.Busy())
	}
	if s, err := h.Hash(t.Context(), "pw"); !errors.Is(err, ErrBusy) || s != "" {
		t.Fatalf("Hash with a full queue = %q, %v; want ErrBusy", s, err)
	}
	if ok, _, err := h.Verify(t.Context(), "", "pw"); !errors.Is(err, ErrBusy) || ok {
		t.Fatalf("Verify with a full queue = %v, %v; want ErrBusy", ok, err)
	}
	cancel()
	wg.Wait()
	close(waitErrs)
	for err := range waitErrs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("waiter returned %v, want context.Canceled", err)
		}
	}
	if h.Waiting() != 0 {
		t.Fatalf("%d still counted as waiting", h.Waiting())
	}

	h.MaxWait = time.Millisecond
	if _, err := h.Hash(t.Context(), "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash after MaxWait = %v, want ErrBusy", err)
	}
	<-h.slots
	if _, err := h.Hash(t.Context(), "pw"); err != nil {
		t.Fatalf("Hash with a free slot: %v", err)
	}
	// The full queue's two refusals and the wait that ran out; the waiters
	// whose request ended were not refused.
	if h.Busy() != 3 || h.Running() != 0 {
		t.Errorf("Busy() = %d, Running() = %d; want 3 and 0", h.Busy(), h.Running())
	}
}

// Hashed counts every argon2 computation, made or checked, a dummy one for
// an unknown account included, with its time; a check refused for want of
// a slot computed nothing and counts nothing.
func TestHashedCountsEachHash(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(cheap, 1)
	phc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"correct horse battery", "wrong"} {
		if _, _, err := h.Verify(ctx, phc, pw); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := h.Verify(ctx, "", "an unknown account's"); err != nil {
		t.Fatal(err)
	}
	h.MaxQueue, h.MaxWait = 1, time.Millisecond
	h.slots <- struct{}{} // every slot taken
	if _, _, err := h.Verify(ctx, phc, "correct horse battery"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Verify with no slot free: %v; want ErrBusy", err)
	}
	h.release()
	n, took := h.Hashed()
	if n != 4 || took <= 0 {
		t.Errorf("Hashed() = %d, %v; want 4 hashes and their time", n, took)
	}
}

// TestVerifyOldParametersTakeTodaysTime: after the operator raises the
// argon2 cost, the accounts not yet upgraded still hold hashes of the old,
// cheaper cost. A wrong password for one of them must take as long as one
// for an unknown address (checked against today's dummy), or the time of a
// failed sign-in tells which addresses have an account.
func TestVerifyOldParametersTakeTodaysTime(t *testing.T) {
	ctx := t.Context()
	old := NewHasher(Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	phc, err := old.Hash(ctx, "a long passphrase")
	if err != nil {
		t.Fatal(err)
	}
	// Today's cost is some hundred times the old one.
	now := NewHasher(Argon2Params{MemoryKiB: 8 * 1024, Time: 3, Threads: 1}, 1)
	fastest := func(phc string) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 5 {
			start := time.Now()
			if ok, _, err := now.Verify(ctx, phc, "wrong"); ok || err != nil {
				t.Fatalf("Verify(wrong) = %v, %v", ok, err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	unknown := fastest("")
	known := fastest(phc)
	t.Logf("unknown address %v, known address with the old cost %v", unknown, known)
	if known < unknown*6/10 {
		t.Fatalf("a wrong password took %v for an old hash and %v for an unknown address: the time tells the account exists", known, unknown)
	}
	// A right password is still right, and asks to be upgraded.
	if ok, rehash, err := now.Verify(ctx, phc, "a long passphrase"); !ok || !rehash || err != nil {
		t.Fatalf("Verify(right) = %v, %v, %v", ok, rehash, err)
	}
}

// legacyHash is a hash as Hash made it before passwords were normalised:
// over the password as typed, with h's parameters, and unmarked.
func legacyHash(h *Hasher, password string) string {
	return unmarkedHash(h, password)
}

// unmarkedHash is h's hash over password as it is, without the mark that
// says it was made over the NFKC form (nfkcParam): as Hash made it before
// passwords were normalised (password as typed), and before the mark
// (password its NFKC form).
func unmarkedHash(h *Hasher, password string) string {
	salt := randomSalt()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.params.MemoryKiB, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func TestNormalizePassword(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tobira2026", "tobira2026"},         // ASCII is its own form
		{"ｔｏｂｉｒａ２０２６", "tobira2026"},         // full-width, as the input method types it
		{"ＴｏＢｉＲａ", "ToBiRa"},                 // case is kept
		{"ﾊﾟｽﾜｰﾄﾞ", "パスワード"},                 // half-width katakana
		{"パスワード\u3000です", "パスワード です"},        // the ideographic space
		{"\u3000 spaces\u3000", "  spaces "}, // nothing trimmed
		{"①②③㍻", "123平成"},                    // compatibility characters
		{"か\u3099", "が"},                     // a combining mark composed
		{"パスワードは長いほうがよい", "パスワードは長いほうがよい"},   // already NFKC
	} {
		if got := NormalizePassword(tc.in); got != tc.want {
			t.Errorf("NormalizePassword(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !SamePassword(tc.in, tc.want) {
			t.Errorf("SamePassword(%q, %q) = false", tc.in, tc.want)
		}
	}
	for _, pair := range [][2]string{{"tobira2026", "Tobira2026"}, {"tobira2026", " tobira2026"}, {"パスワード", "ぱすわーど"}} {
		if SamePassword(pair[0], pair[1]) {
			t.Errorf("SamePassword(%q, %q) = true", pair[0], pair[1])
		}
	}
}

// TestHashIsOverNFKC: a password is hashed over its NFKC form, so that it
// signs in typed either way, full-width or ASCII, and needs no rehash.
func TestHashIsOverNFKC(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(cheap, 1)
	for _, tc := range []struct {
		set   string
		also  []string
		wrong []string
	}{
		{"ｔｏｂｉｒａ２０２６", []string{"tobira2026", "ｔｏｂｉｒａ2026"}, []string{"TOBIRA2026", "ｔｏｂｉｒａ２０２６\u3000", "tobira2026 "}},
		{"tobira2026", []string{"ｔｏｂｉｒａ２０２６"}, []string{"ＴＯＢＩＲＡ２０２６", "tobira 2026"}},
		{"ﾊﾟｽﾜｰﾄﾞは秘密です", []string{"パスワードは秘密です"}, []string{"ぱすわーどは秘密です"}},
		{"扉の鍵\u3000２０２６", []string{"扉の鍵 2026"}, []string{"扉の鍵2026", "扉の鍵  2026"}},
	} {
		phc, err := h.Hash(ctx, tc.set)
		if err != nil {
			t.Fatal(err)
		}
		// What is stored is argon2id of the NFKC form's bytes.
		p, salt, key, nfkc, err := parsePHC(phc)
		if err != nil || !nfkc {
			t.Fatalf("Hash(%q) = %q: %v, marked as over the NFKC form: %v", tc.set, phc, err, nfkc)
		}
		if want := argon2.IDKey([]byte(NormalizePassword(tc.set)), salt, p.Time, p.MemoryKiB, p.Threads, keyLen); string(key) != string(want) {
			t.Errorf("Hash(%q) is not over its NFKC form %q", tc.set, NormalizePassword(tc.set))
		}
		for _, pw := range append([]string{tc.set}, tc.also...) {
			if ok, rehash, err := h.Verify(ctx, phc, pw); !ok || rehash || err != nil {
				t.Errorf("set %q, Verify(%q) = %v, %v, %v; want true, false, nil", tc.set, pw, ok, rehash, err)
			}
		}
		for _, pw := range tc.wrong {
			if ok, rehash, err := h.Verify(ctx, phc, pw); ok || rehash || err != nil {
				t.Errorf("set %q, Verify(%q) = %v, %v, %v; want false, false, nil", tc.set, pw, ok, rehash, err)
			}
		}
	}
}

// TestVerifyLegacyAsTyped: a hash made before passwords were normalised,
// over the password as typed, still signs in with the password typed as
// it was set, and asks to be made again over the NFKC form; once it is,
// the password signs in typed either way. A wrong password still fails
// and asks for nothing.
func TestVerifyLegacyAsTyped(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(cheap, 1)
	for _, tc := range []struct{ set, other, wrong string }{
		{"ｔｏｂｉｒａ２０２６", "tobira2026", "ｔｏｂｉｒａ２０２７"},
		{"ﾊﾟｽﾜｰﾄﾞは秘密です", "パスワードは秘密です", "ﾊﾟｽﾜｰﾄﾞは秘密でした"},
		{"扉の鍵\u3000２０２６", "扉の鍵 2026", "扉の鍵\u3000２０２５"},
	} {
		legacy := legacyHash(h, tc.set)
		ok, rehash, err := h.Verify(ctx, legacy, tc.set)
		if !ok || !rehash || err != nil {
			t.Errorf("legacy hash of %q, Verify(as typed) = %v, %v, %v; want true, true, nil", tc.set, ok, rehash, err)
		}
		for _, pw := range []string{tc.wrong, tc.other} {
			// The other way of typing it was never the hashed one: only
			// the rehash makes it sign in.
			if ok, rehash, err := h.Verify(ctx, legacy, pw); ok || rehash || err != nil {
				t.Errorf("legacy hash of %q, Verify(%q) = %v, %v, %v; want false, false, nil", tc.set, pw, ok, rehash, err)
			}
		}
		// The rehash the caller does on that advice.
		now, err := h.Hash(ctx, tc.set)
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range []string{tc.set, tc.other} {
			if ok, rehash, err := h.Verify(ctx, now, pw); !ok || rehash || err != nil {
				t.Errorf("rehashed %q, Verify(%q) = %v, %v, %v; want true, false, nil", tc.set, pw, ok, rehash, err)
			}
		}
	}
	// An ASCII password is its own NFKC form: its old hash is right, and
	// is made again only to be marked as over the NFKC form.
	if ok, rehash, err := h.Verify(ctx, legacyHash(h, "tobira2026"), "tobira2026"); !ok || !rehash || err != nil {
		t.Errorf("legacy hash of an ASCII password: %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

// TestVerifyWrongPasswordCostsOneHash: a wrong password costs one hash
// against a hash marked as made over the NFKC form (every hash Hash
// makes) and against an unknown address (the dummy, marked too), whatever
// its characters: the second hash a password whose NFKC form differs from
// what was typed once cost is not computed, but waited for, without the
// slot, as long as the first took. Only a hash without the mark, which
// may be over the password as typed, costs two, and its time is the
// unknown address's: each check stands for as many hashes. With today's
// parameters or older ones, and in one hashing slot.
//
// Regression: every wrong password whose NFKC form differed cost two
// argon2id hashes, so guesses in full-width letters doubled the server's
// hashing work for every account and every unknown address.
func TestVerifyWrongPasswordCostsOneHash(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(cheap, 1)
	var waited []time.Duration
	h.wait = func(_ context.Context, d time.Duration) { waited = append(waited, d) }
	// check is what a wrong password costs: the hashes computed, and the
	// waits that stand for more.
	check := func(phc, pw string) (int64, []time.Duration) {
		t.Helper()
		waited = nil
		before, _ := h.Hashed()
		if ok, _, err := h.Verify(ctx, phc, pw); ok || err != nil {
			t.Fatalf("Verify(%q) = %v, %v; want a wrong password", pw, ok, err)
		}
		after, _ := h.Hashed()
		if h.Running() != 0 {
			t.Fatalf("Verify(%q) left %d slots taken", pw, h.Running())
		}
		return after - before, waited
	}
	const set = "ｔｏｂｉｒａ２０２６"
	nfkc, err := h.Hash(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	legacy := legacyHash(h, set)
	unmarked := unmarkedHash(h, NormalizePassword(set))
	h.todayNanos.Store(1) // measured already: no measuring hash below
	for _, tc := range []struct {
		pw     string
		stands int64
	}{
		{"a wrong password", 1},
		{"ａ ｗｒｏｎｇ ｐａｓｓｗｏｒｄ", 2},
		{"ﾊﾟｽﾜｰﾄﾞは間違い", 2},
		{"間違い\u3000です", 2},
	} {
		for _, c := range []struct {
			name, phc string
			hashes    int64
		}{
			{"an unknown address", "", 1},
			{"a marked hash", nfkc, 1},
			{"a hash as typed", legacy, tc.stands},
			{"an unmarked hash of the NFKC form", unmarked, tc.stands},
		} {
			n, w := check(c.phc, tc.pw)
			if n != c.hashes {
				t.Errorf("Verify(%s, %q) computed %d hashes, want %d", c.name, tc.pw, n, c.hashes)
			}
			// The rest of what it stands for is waited for, once.
			if pad := tc.stands - n; pad > 0 && (len(w) != 1 || w[0] <= 0) || pad == 0 && len(w) != 0 {
				t.Errorf("Verify(%s, %q): %d hashes and waits %v, want %d hashes' time", c.name, tc.pw, n, w, tc.stands)
			}
		}
	}

	// Older parameters: the wait makes up today's time of the hashes the
	// check stands for (an hour each here), one hash computed.
	older := NewHasher(Argon2Params{MemoryKiB: 32, Time: 1, Threads: 1}, 1)
	oldParams, err := older.Hash(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	h.todayNanos.Store(int64(time.Hour))
	for _, tc := range []struct {
		pw     string
		stands time.Duration
	}{{"a wrong password", 1}, {"ａ ｗｒｏｎｇ ｐａｓｓｗｏｒｄ", 2}} {
		n, w := check(oldParams, tc.pw)
		if n != 1 || len(w) != 1 || w[0] <= (tc.stands-1)*time.Hour || w[0] > tc.stands*time.Hour {
			t.Errorf("Verify(older parameters, %q): %d hashes, waits %v; want 1 and a wait for %d hours' hashes", tc.pw, n, w, tc.stands)
		}
	}
	h.todayNanos.Store(1)

	// A right password stops at the form that matches, and waits for
	// nothing.
	for _, c := range []struct {
		name, phc, pw string
		hashes        int64
	}{
		{"marked, ASCII", nfkc, "tobira2026", 1},
		{"marked, full-width", nfkc, set, 1},
		{"as typed", legacy, set, 2},
		{"unmarked NFKC form, full-width", unmarked, set, 1},
	} {
		waited = nil
		before, _ := h.Hashed()
		if ok, _, err := h.Verify(ctx, c.phc, c.pw); !ok || err != nil {
			t.Fatalf("Verify(%s) = %v, %v", c.name, ok, err)
		}
		if after, _ := h.Hashed(); after-before != c.hashes || len(waited) != 0 {
			t.Errorf("right password, %s: %d hashes, waits %v; want %d and none", c.name, after-before, waited, c.hashes)
		}
	}
}

// TestVerifyUnmarkedHashMadeAgain: a hash without the mark (nfkcParam),
// which Hash made before the mark, still signs in, typed either way when
// it is over the NFKC form, and asks to be made again: the new one is
// marked, so that the next wrong password costs one hash. A marked hash
// does not ask, and never matches the password as typed where that is not
// its NFKC form.
func TestVerifyUnmarkedHashMadeAgain(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(cheap, 1)
	unmarked := unmarkedHash(h, "tobira2026")
	for _, pw := range []string{"tobira2026", "ｔｏｂｉｒａ２０２６"} {
		if ok, rehash, err := h.Verify(ctx, unmarked, pw); !ok || !rehash || err != nil {
			t.Errorf("unmarked hash, Verify(%q) = %v, %v, %v; want true, true, nil", pw, ok, rehash, err)
		}
	}
	marked, err := h.Hash(ctx, "tobira2026")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(marked, ",norm=nfkc$") {
		t.Fatalf("Hash made %q, without the mark", marked)
	}
	if ok, rehash, err := h.Verify(ctx, marked, "ｔｏｂｉｒａ２０２６"); !ok || rehash || err != nil {
		t.Errorf("marked hash, Verify(full-width) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	// A hash marked by hand over the password as typed (no hash Hash
	// makes): the form as typed is not tried.
	forged := strings.Replace(legacyHash(h, "ｔｏｂｉｒａ２０２６"), "p=1$", "p=1,norm=nfkc$", 1)
	if ok, _, err := h.Verify(ctx, forged, "ｔｏｂｉｒａ２０２６"); ok || err != nil {
		t.Errorf("marked hash over the form as typed, Verify(as typed) = %v, %v; want false, nil", ok, err)
	}
	// The mark is read only where it belongs: after m, t and p.
	for _, bad := range []string{
		strings.Replace(marked, ",norm=nfkc$", "$norm=nfkc$", 1),
		strings.Replace(marked, "m=64,t=1,p=1,norm=nfkc", "norm=nfkc,m=64,t=1,p=1", 1),
	} {
		if _, _, err := h.Verify(ctx, bad, "tobira2026"); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q): %v, want ErrMalformedHash", bad, err)
		}
	}
}
