package phone

import (
	"errors"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		region string
		want   string
		err    error
	}{
		{"mobile with hyphens", "090-1234-5678", "JP", "+819012345678", nil},
		{"mobile digits only", "09012345678", "JP", "+819012345678", nil},
		{"mobile 080", "080 1234 5678", "JP", "+818012345678", nil},
		{"mobile 070", "070-1234-5678", "JP", "+817012345678", nil},
		{"full-width digits", "０９０１２３４５６７８", "JP", "+819012345678", nil},
		{"full-width hyphens", "０９０ー１２３４ー５６７８", "JP", "+819012345678", nil},
		{"lower-case region", "09012345678", "jp", "+819012345678", nil},
		{"landline Tokyo with parentheses", "(03) 1234-5678", "JP", "+81312345678", nil},
		{"landline Osaka", "06-1234-5678", "JP", "+81612345678", nil},
		{"international form", "+81 90 1234 5678", "JP", "+819012345678", nil},
		{"international form overrides region", "+81 90-1234-5678", "US", "+819012345678", nil},
		{"international form without region", "+819012345678", "", "+819012345678", nil},
		{"international form, unknown region", "+819012345678", "XX", "+819012345678", nil},
		{"US number for US", "(202) 555-0123", "US", "+12025550123", nil},
		{"IP phone 050", "050-1234-5678", "JP", "+815012345678", nil},
		// No one's own line: toll fraud, or a switchboard.
		{"premium rate 0990", "0990-123-456", "JP", "", ErrNotPersonal},
		{"ナビダイヤル 0570", "0570-123-456", "JP", "", ErrNotPersonal},
		{"freephone 0120", "0120-123-456", "JP", "", ErrNotPersonal},
		{"freephone 0800", "0800-123-4567", "JP", "", ErrNotPersonal},
		{"US toll free", "(800) 555-0199", "US", "", ErrNotPersonal},
		// Personal numbers: forwarding numbers billed above a mobile's
		// rate, whose owner shares the revenue (the UK's 070, Germany's
		// 0700), the toll fraud of UK "07" numbers mistaken for mobiles.
		{"UK personal number 070", "070 1234 5678", "GB", "", ErrNotPersonal},
		{"UK personal number international", "+44 70 1234 5678", "JP", "", ErrNotPersonal},
		{"German personal number 0700", "0700 12345678", "DE", "", ErrNotPersonal},
		{"UK mobile 07400", "07400 123456", "GB", "+447400123456", nil},
		{"US number international", "+1 202-555-0123", "JP", "+12025550123", nil},
		{"mobile one digit short", "090-1234-567", "JP", "", ErrInvalid},
		{"mobile one digit long", "090-1234-56789", "JP", "", ErrInvalid},
		{"mobile prefix that does not exist", "010-1234-5678", "JP", "", ErrInvalid},
		{"too short", "12", "JP", "", ErrInvalid},
		// The parser reads letters as a keypad's (1-800-FLOWERS): a typo
		// would send a code to a stranger's number.
		{"letters", "090-ABCD-EFGH", "JP", "", ErrInvalid},
		{"a letter among the digits", "090-1234-567O", "JP", "", ErrInvalid},
		{"full-width letters", "０９０ーＡＢＣＤーＥＦＧＨ", "JP", "", ErrInvalid},
		{"an extension", "03-1234-5678 ext. 12", "JP", "", ErrInvalid},
		{"US number for US, too short", "555-0123", "US", "", ErrInvalid},
		{"unknown calling code", "+999 1234 5678", "JP", "", ErrInvalid},
		{"with an extension", "03-1234-5678 ext. 12", "JP", "", ErrInvalid},
		{"garbage", "hello", "JP", "", ErrInvalid},
		{"symbols", "+-()", "JP", "", ErrInvalid},
		{"empty", "", "JP", "", ErrInvalid},
		{"spaces only", "   ", "JP", "", ErrInvalid},
		{"too long", "090-1234-5678" + strings.Repeat(" ", 30), "JP", "", ErrInvalid},
		{"too long, full-width", strings.Repeat("０", 41), "JP", "", ErrInvalid},
		{"unknown region", "090-1234-5678", "XX", "", ErrUnknownRegion},
		{"no region", "090-1234-5678", "", "", ErrUnknownRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input, tt.region)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("Parse(%q, %q) error = %v, want %v", tt.input, tt.region, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q, %q) = %q, want %q", tt.input, tt.region, got, tt.want)
			}
		})
	}
}

func TestCanText(t *testing.T) {
	tests := []struct {
		input, region string
		want          bool
	}{
		{"090-1234-5678", "JP", true},
		{"080-1234-5678", "JP", true},
		{"070-1234-5678", "JP", true},
		{"03-1234-5678", "JP", false},  // landline, Tokyo
		{"06-1234-5678", "JP", false},  // landline, Osaka
		{"0120-123-456", "JP", false},  // freephone
		{"0800-123-4567", "JP", false}, // freephone
		{"050-1234-5678", "JP", false}, // IP phone
		{"020-4123-4567", "JP", false}, // pager, now machines
		{"0570-123-456", "JP", false},  // ナビダイヤル
		{"0990-123-456", "JP", false},  // premium rate
		{"(202) 555-0123", "US", true}, // the plan does not tell mobiles from landlines
		{"07400 123456", "GB", true},
		{"020 7946 0018", "GB", false},
	}
	for _, tt := range tests {
		// Not through Parse, which refuses some of these for enrolment.
		n, err := phonenumbers.Parse(tt.input, tt.region)
		if err != nil {
			t.Fatalf("phonenumbers.Parse(%q, %q): %v", tt.input, tt.region, err)
		}
		e164 := phonenumbers.Format(n, phonenumbers.E164)
		if got := CanText(e164); got != tt.want {
			t.Errorf("CanText(%s, from %q) = %t, want %t", e164, tt.input, got, tt.want)
		}
	}
	for _, bad := range []string{"", "garbage", "+999"} {
		if CanText(bad) {
			t.Errorf("CanText(%q) = true", bad)
		}
	}
}

func TestRegion(t *testing.T) {
	tests := []struct{ e164, want string }{
		{"+819012345678", "JP"},
		{"+81312345678", "JP"},
		{"+12025550123", "US"},
		{"+447400123456", "GB"},
		{"", ""},
		{"garbage", ""},
	}
	for _, tt := range tests {
		if got := Region(tt.e164); got != tt.want {
			t.Errorf("Region(%q) = %q, want %q", tt.e164, got, tt.want)
		}
	}
}

func TestMaskAndLast4(t *testing.T) {
	tests := []struct{ e164, mask, last4 string }{
		{"+819012345678", "+81 •••• 5678", "5678"},
		{"+81312345678", "+81 •••• 5678", "5678"}, // shorter number, same shape
		{"+12025550123", "+1 •••• 0123", "0123"},
		{"+447400123456", "+44 •••• 3456", "3456"},
		{"12", "•••• 12", "12"},
		{"", "•••• ", ""},
	}
	for _, tt := range tests {
		if got := Mask(tt.e164); got != tt.mask {
			t.Errorf("Mask(%q) = %q, want %q", tt.e164, got, tt.mask)
		}
		if got := Last4(tt.e164); got != tt.last4 {
			t.Errorf("Last4(%q) = %q, want %q", tt.e164, got, tt.last4)
		}
	}
}

// Parse and Mask go together: what the enrolment screen stores is what the
// code screen shows masked.
func TestParseThenMask(t *testing.T) {
	e, err := Parse("090-1234-5678", "JP")
	if err != nil {
		t.Fatal(err)
	}
	if got := Mask(e); got != "+81 •••• 5678" {
		t.Errorf("Mask = %q", got)
	}
	if got := Region(e); got != "JP" {
		t.Errorf("Region = %q", got)
	}
}

func TestNational(t *testing.T) {
	for in, want := range map[string]string{
		"+819012345678": "090-1234-5678",
		"+81312345678":  "03-1234-5678",
		"+12025550143":  "(202) 555-0143",
		"garbage":       "garbage",
	} {
		if got := National(in); got != want {
			t.Errorf("National(%q) = %q, want %q", in, got, want)
		}
	}
}
