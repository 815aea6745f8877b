package account

import (
	_ "embed"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Errors for input that breaks the rules; the web layer maps each to a message
// in the customer's language.
var (
	ErrBadEmail        = errors.New("account: malformed email address")
	ErrBadName         = errors.New("account: name missing or too long")
	ErrPasswordShort   = errors.New("account: password too short")
	ErrPasswordLong    = errors.New("account: password too long")
	ErrPasswordIsEmail = errors.New("account: password equals the email address")
	ErrPasswordCommon  = errors.New("account: password too common or easy to guess")
	// ErrNameChars is a name with a character that has no place in one: a
	// control character or line break, or an invisible format character
	// such as a bidi override. It is an ErrBadName too, for the callers
	// that have one message for both.
	ErrNameChars = fmt.Errorf("%w: control or invisible format character", ErrBadName)
)

// Password length bounds, in characters. NIST SP 800-63B: at least 8, allow
// long passphrases; the upper bound only keeps hashing cost sane.
const (
	MinPassword = 10
	MaxPassword = 128
)

// NormalizeEmail checks an address and returns its canonical form: trimmed,
// lower case, a bare addr-spec without a display name. Full-width letters,
// digits and signs, which a Japanese input method types, are the ASCII
// they stand for; what is still not ASCII is refused, since an address
// with one (RFC 6531's) may not cross every mail relay, and one typed by
// mistake would open an account no mail reaches.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(width.Narrow.String(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return "", ErrBadEmail
		}
	}
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

// CheckName checks a display name: 1 to 100 characters (ErrBadName), none
// of them one that nameChar refuses (ErrNameChars).
func CheckName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > 100 || !utf8.ValidString(s) {
		return "", ErrBadName
	}
	if strings.ContainsFunc(s, badNameChar) {
		return "", ErrNameChars
	}
	return s, nil
}

// badNameChar reports a character that has no place in a name. A name is
// shown in the console, in mails and on the sites, so it refuses control
// characters (ESC, NUL, a line break), the line and paragraph separators,
// and the invisible format characters (Unicode's Cf): among them the bidi
// controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), with
// which 「山本\u202e郎二」 reads 「山本二郎」, and the zero-width space and
// byte order mark, with which two names that look alike differ. The zero-
// width joiner and non-joiner (U+200C, U+200D) stay: Persian and Indic
// names need them to be spelt right.
func badNameChar(r rune) bool {
	switch {
	case r == '\u200c' || r == '\u200d':
		return false
	case unicode.IsControl(r), unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
		return true
	}
	return false
}

// CheckPassword applies the password policy for a new password: its length,
// and, as NIST SP 800-63B (5.1.1.2) asks, none that an attacker tries first
// (a commonly chosen one, one character repeated, a run of the keyboard or
// the alphabet) or that is the address itself or its local part with little
// added. The rules read the password's NFKC form (NormalizePassword), which
// is what is hashed: ｐａｓｓｗｏｒｄ１２３ is password123, which an attacker
// tries with the input method on too, and a password that normalises to
// fewer than MinPassword characters (ｶﾞｷﾞｸﾞｹﾞｺﾞ, ten half-width
// characters, is ガギグゲゴ, five) is too short.
func CheckPassword(password, email string) error {
	password = NormalizePassword(password)
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPassword:
		return ErrPasswordShort
	case n > MaxPassword:
		return ErrPasswordLong
	case strings.EqualFold(strings.TrimSpace(password), email):
		return ErrPasswordIsEmail
	case guessable(password, email):
		return ErrPasswordCommon
	}
	return nil
}

//go:embed common_passwords.txt
var commonList string

// common holds common_passwords.txt's passwords.
var common = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonList, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// runs are sequences whose stretches people type as passwords, forwards or
// backwards.
var runs = []string{"0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm"}

// guessable reports a password, in its NFKC form, that an attacker tries
// early.
func guessable(password, email string) bool {
	p := strings.ToLower(strings.TrimSpace(password))
	if common[p] {
		return true
	}
	// One or two characters repeated: aaaaaaaaaa, ababababab.
	distinct := map[rune]bool{}
	for _, r := range p {
		distinct[r] = true
	}
	if len(distinct) <= 2 {
		return true
	}
	for _, run := range runs {
		if strings.Contains(run, p) || strings.Contains(reverse(run), p) {
			return true
		}
	}
	// The address's local part with a few characters around it: yamada2026.
	if local, _, ok := strings.Cut(strings.ToLower(email), "@"); ok && len(local) >= 4 && strings.Contains(p, local) &&
		utf8.RuneCountInString(p)-utf8.RuneCountInString(local) < 6 {
		return true
	}
	return false
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
