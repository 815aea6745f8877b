package account

import (
	"errors"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Errors for input that breaks the rules; the web layer maps each to a message
// in the customer's language.
var (
	ErrBadEmail        = errors.New("account: malformed email address")
	ErrBadName         = errors.New("account: name missing or too long")
	ErrPasswordShort   = errors.New("account: password too short")
	ErrPasswordLong    = errors.New("account: password too long")
	ErrPasswordIsEmail = errors.New("account: password equals the email address")
)

// Password length bounds, in characters. NIST SP 800-63B: at least 8, allow
// long passphrases; the upper bound only keeps hashing cost sane.
const (
	MinPassword = 10
	MaxPassword = 128
)

// NormalizeEmail checks an address and returns its canonical form: trimmed,
// lower case, a bare addr-spec without a display name.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return "", ErrBadEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", ErrBadEmail
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", ErrBadEmail
	}
	// .invalid is reserved (RFC 2606): no mail reaches it, and erased
	// accounts have an address there.
	if strings.HasSuffix(strings.ToLower(domain), ".invalid") {
		return "", ErrBadEmail
	}
	return strings.ToLower(s), nil
}

// CheckName checks a display name.
func CheckName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > 100 || !utf8.ValidString(s) {
		return "", ErrBadName
	}
	return s, nil
}

// CheckPassword applies the password policy for a new password.
func CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPassword:
		return ErrPasswordShort
	case n > MaxPassword:
		return ErrPasswordLong
	case strings.EqualFold(strings.TrimSpace(password), email):
		return ErrPasswordIsEmail
	}
	return nil
}
