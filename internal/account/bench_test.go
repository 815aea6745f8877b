package account

import (
	"context"
	"testing"
)

// BenchmarkVerifyDefault is the cost of one sign-in's password check with the
// default argon2id parameters: it bounds sign-ins per core per second.
func BenchmarkVerifyDefault(b *testing.B) { benchVerify(b, DefaultArgon2) }

// BenchmarkVerifyOneLane is the default cost in one lane, OWASP's own
// setting: the same work on one core.
func BenchmarkVerifyOneLane(b *testing.B) {
	p := DefaultArgon2
	p.Threads = 1
	benchVerify(b, p)
}

func benchVerify(b *testing.B, p Argon2Params) {
	h := NewHasher(p, 2)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, phc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
