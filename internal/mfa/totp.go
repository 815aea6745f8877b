// Package mfa is the second factor's logic, free of HTTP and storage: TOTP
// (RFC 6238), recovery codes, and the lock-out policy for wrong codes.
package mfa

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/text/width"
)

// TOTP parameters: what Google Authenticator understands everywhere.
const (
	Period = 30
	Digits = 6
	// Skew accepts the previous and the next step too, for clocks a little off.
	Skew = 1
)

// Errors of a code check. Both count as a wrong code.
var (
	ErrWrongCode = errors.New("mfa: wrong code")
	ErrReplay    = errors.New("mfa: code already used")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random 160-bit seed in base32, the size RFC 4226
// recommends.
func NewTOTPSecret() string {
	b := make([]byte, 20)
	rand.Read(b)
	return b32.EncodeToString(b)
}

// TOTPURI is the otpauth:// URI an authenticator app scans, in the form
// Google Authenticator documents: label "Issuer:account", issuer repeated.
func TOTPURI(issuer, account, secret string) string {
	return "otpauth://totp/" + url.PathEscape(issuer) + ":" + url.PathEscape(account) +
		"?secret=" + secret + "&issuer=" + queryEscape(issuer) +
		"&algorithm=SHA1&digits=6&period=30"
}

// queryEscape escapes a query value with %20 for spaces, which every
// authenticator app reads, where "+" is not read as a space by all of them.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Step is the TOTP time step that contains t.
func Step(t time.Time) int64 { return t.Unix() / Period }

// TOTPCode returns the code for the step that contains t.
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{
		Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
}

// VerifyTOTP checks code at time now against secret and returns the step it
// matched. A code of a step at or before lastStep is refused with ErrReplay:
// a code is never accepted twice, even inside its own 30 seconds.
func VerifyTOTP(secret, code string, now time.Time, lastStep int64) (int64, error) {
	if !IsSixDigits(code) {
		return 0, ErrWrongCode
	}
	current := Step(now)
	var matched int64 = -1
	// Check every step of the window, so timing says nothing of which matched.
	for s := current - Skew; s <= current+Skew; s++ {
		want, err := TOTPCode(secret, time.Unix(s*Period, 0))
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && matched < s {
			matched = s
		}
	}
	switch {
	case matched < 0:
		return 0, ErrWrongCode
	case matched <= lastStep:
		return 0, ErrReplay
	}
	return matched, nil
}

// maxCodeInput bounds what NormalizeCode reads: a code with a space or a
// hyphen between every digit is far shorter.
const maxCodeInput = 64

// NormalizeCode forgives how people type a six-digit code: full-width
// digits from a Japanese input method, and the spaces (ASCII and
// ideographic) and hyphens that apps and messages show between groups
// ("320 014"). It returns "" for input that is still not six ASCII digits,
// which is no guess at a code.
func NormalizeCode(s string) string {
	if len(s) > maxCodeInput {
		return ""
	}
	var b strings.Builder
	for _, r := range width.Narrow.String(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsSpace(r) || isDash(r):
		default:
			return ""
		}
	}
	if !IsSixDigits(b.String()) {
		return ""
	}
	return b.String()
}

// isDash reports whether r is a hyphen as people type one between digits:
// "-", the Unicode dashes and minus, and "ー", which a Japanese input method
// gives for the hyphen key in kana mode.
func isDash(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', 'ー', 'ｰ':
		return true
	}
	return false
}

// IsSixDigits reports whether s is exactly six ASCII digits.
func IsSixDigits(s string) bool {
	if len(s) != Digits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
