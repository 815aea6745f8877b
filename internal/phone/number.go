// Package phone parses, checks and shows the phone numbers customers enrol as
// a second factor. Numbers are stored in E.164 ("+819012345678") and shown
// masked to their last four digits.
package phone

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

var (
	// ErrInvalid means the input is not a valid number for its country.
	ErrInvalid = errors.New("phone: not a valid phone number")
	// ErrUnknownRegion means the country given is not one numbers can be
	// parsed for, and the input did not say its own (+NN).
	ErrUnknownRegion = errors.New("phone: unknown country")
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
	return phonenumbers.Format(n, phonenumbers.E164), nil
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
