// Package phone parses, checks and shows the phone numbers customers enrol as
// a second factor. Numbers are stored in E.164 ("+819012345678") and shown
// masked to their last four digits.
package phone

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

var (
	// ErrInvalid means the input is not a valid number for its country.
	ErrInvalid = errors.New("phone: not a valid phone number")
	// ErrUnknownRegion means the country given is not one numbers can be
	// parsed for, and the input did not say its own (+NN).
	ErrUnknownRegion = errors.New("phone: unknown country")
	// ErrNotPersonal means a valid number that is no one's own line: a
	// premium-rate or shared-cost service, a freephone, a voicemail.
	ErrNotPersonal = errors.New("phone: not a personal line")
)

// maxInput bounds what is handed to the parser: no real number, even written
// with spaces and punctuation, comes near it, and the parser's work grows
// with its input.
const maxInput = 40

// Parse reads a number as typed for region (an ISO code such as "JP"):
// domestic forms ("090-1234-5678", "09012345678", full-width digits, spaces,
// hyphens, parentheses) or the international form ("+81 90 1234 5678"),
// which wins over region. It returns the number in E.164.
func Parse(input, region string) (string, error) {
	if utf8.RuneCountInString(input) > maxInput || len(input) > 4*maxInput {
		return "", ErrInvalid
	}
	// The parser turns letters into a keypad's digits (a vanity number,
	// "1-800-FLOWERS"): a letter typed by mistake, or an O for a 0, would
	// send a code to a stranger's number. Customers type digits (and ー,
	// a modifier letter, for a hyphen).
	if strings.IndexFunc(input, isLetter) >= 0 {
		return "", ErrInvalid
	}
	region = strings.ToUpper(strings.TrimSpace(region))
	n, err := phonenumbers.Parse(input, region)
	if err != nil {
		// The parser reports a missing country as an invalid country code,
		// whether the input's "+NN" or region is at fault; only the latter
		// is the caller's mistake rather than the customer's.
		if errors.Is(err, phonenumbers.ErrInvalidCountryCode) &&
			!strings.ContainsAny(input, "+＋") && !phonenumbers.GetSupportedRegions()[region] {
			return "", ErrUnknownRegion
		}
		return "", ErrInvalid
	}
	// An extension cannot receive a text message or a code call.
	if n.GetExtension() != "" || !phonenumbers.IsValidNumber(n) {
		return "", ErrInvalid
	}
	// A code goes to a person's own line. Calls to premium-rate and
	// shared-cost numbers (Japan's 0990 and 0570 ナビダイヤル) earn their
	// owner money, the classic toll fraud of sign-in codes; so do personal
	// numbers, forwarding numbers billed above a mobile's rate whose owner
	// shares the revenue (the UK's 070, mistaken for mobiles; Germany's
	// 0700; the United States' 500). A freephone, a universal access
	// number or a voicemail box reaches a company's switchboard or nobody.
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.TOLL_FREE,
		phonenumbers.PERSONAL_NUMBER, phonenumbers.UAN, phonenumbers.VOICEMAIL:
		return "", ErrNotPersonal
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// isLetter is a letter of any script but the modifier letters: ー, the long
// vowel mark, is what many type for a hyphen in a Japanese number.
func isLetter(r rune) bool { return unicode.IsLetter(r) && !unicode.Is(unicode.Lm, r) }

// CanText reports whether a text message can reach an E.164 number: a
// mobile, or a number its country's plan does not tell from a landline
// (FIXED_LINE_OR_MOBILE: the United States and Canada, among others).
// A code by voice call reaches the others.
func CanText(e164 string) bool {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return false
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return true
	}
	// Not VOIP: Japan's 050 IP phones receive no text messages (carriers
	// exchange them between mobile numbers only), and elsewhere whether one
	// does depends on the provider; a code that may never arrive is worse
	// than the voice call, which reaches them. Not PAGER: Japan's 020 has
	// served machines since pagers ended in 2019, and elsewhere a pager
	// takes no ordinary text message. Nor landlines, freephone, premium or
	// shared-cost numbers: nothing there receives one.
	return false
}

// Region returns the country of an E.164 number ("JP"), or "" when the
// number is not one.
func Region(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	r := phonenumbers.GetRegionCodeForNumber(n)
	if r == "ZZ" { // the library's "unknown"
		return ""
	}
	return r
}

// Mask shows an E.164 number as the screens do: the country code, then
// always four bullets, then the last four digits ("+81 •••• 5678"), so the
// masked form does not tell the number's length either.
func Mask(e164 string) string {
	const bullets = "••••"
	if n, err := phonenumbers.Parse(e164, ""); err == nil {
		return "+" + strconv.Itoa(int(n.GetCountryCode())) + " " + bullets + " " + Last4(e164)
	}
	return bullets + " " + Last4(e164)
}

// Last4 returns the last four digits of a number (fewer when it has fewer).
func Last4(e164 string) string {
	var digits []byte
	for i := 0; i < len(e164); i++ {
		if c := e164[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) > 4 {
		digits = digits[len(digits)-4:]
	}
	return string(digits)
}

// National writes an E.164 number as people of its country write it, e.g.
// "090-1234-5678"; the E.164 form itself when it cannot be parsed.
func National(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.NATIONAL)
}
