package mfa

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// RecoveryAlphabet has the digits and the capital letters but I, L and O,
// which are read as 1 and 0; 33 symbols, so a 24-character code carries 121
// bits, like the manual's example H3URF1WMNF9GNUFH7YH8RCDV.
const RecoveryAlphabet = "0123456789ABCDEFGHJKMNPQRSTUVWXYZ"

// RecoveryLen is the length of a recovery code.
const RecoveryLen = 24

// NewRecoveryCode returns a fresh recovery code from a CSPRNG.
func NewRecoveryCode() string {
	var b strings.Builder
	max := big.NewInt(int64(len(RecoveryAlphabet)))
	for range RecoveryLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b.WriteByte(RecoveryAlphabet[n.Int64()])
	}
	return b.String()
}

// NormalizeRecoveryCode forgives how people copy a code: spaces, hyphens,
// lower case, and the letters O, I and L for the digits they look like. It
// returns "" for input that cannot be a recovery code.
func NormalizeRecoveryCode(s string) string {
	if len(s) > 4*RecoveryLen {
		return ""
	}
	var b strings.Builder
	// Full-width letters and digits, from a Japanese input method, as the
	// ASCII they stand for.
	for _, r := range strings.ToUpper(width.Narrow.String(s)) {
		switch {
		case unicode.IsSpace(r) || isDash(r):
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(RecoveryAlphabet, r) {
			return ""
		}
		b.WriteRune(r)
	}
	if b.Len() != RecoveryLen {
		return ""
	}
	return b.String()
}

// NewPhoneCode returns six random digits from a CSPRNG, for a text message
// or a voice call.
func NewPhoneCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return fmt.Sprintf("%06d", n.Int64())
}
