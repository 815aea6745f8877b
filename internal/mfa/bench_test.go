package mfa

import (
	"testing"
	"time"
)

// BenchmarkVerifyTOTP measures one code check: three HMAC-SHA1 steps.
func BenchmarkVerifyTOTP(b *testing.B) {
	secret := NewTOTPSecret()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	code, err := TOTPCode(secret, now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyTOTP(secret, code, now, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewRecoveryCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewRecoveryCode()
	}
}
