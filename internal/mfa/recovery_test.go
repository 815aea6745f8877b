package mfa

import (
	"strings"
	"testing"
)

func TestRecoveryAlphabet(t *testing.T) {
	if len(RecoveryAlphabet) != 33 {
		t.Fatalf("alphabet has %d symbols, want 33", len(RecoveryAlphabet))
	}
	for _, r := range "ILO" {
		if strings.ContainsRune(RecoveryAlphabet, r) {
			t.Errorf("alphabet contains the ambiguous %q", r)
		}
	}
	seen := map[rune]bool{}
	for _, r := range RecoveryAlphabet {
		if seen[r] {
			t.Errorf("alphabet repeats %q", r)
		}
		seen[r] = true
	}
	// The manual's example is a valid code.
	if got := NormalizeRecoveryCode("H3URF1WMNF9GNUFH7YH8RCDV"); got != "H3URF1WMNF9GNUFH7YH8RCDV" {
		t.Errorf("the manual's example normalises to %q", got)
	}
}

func TestNewRecoveryCode(t *testing.T) {
	const n = 5000
	seen := make(map[string]bool, n)
	used := map[rune]int{}
	for range n {
		c := NewRecoveryCode()
		if len(c) != RecoveryLen || RecoveryLen != 24 {
			t.Fatalf("code %q has length %d, want 24", c, len(c))
		}
		for _, r := range c {
			if !strings.ContainsRune(RecoveryAlphabet, r) {
				t.Fatalf("code %q has %q outside the alphabet", c, r)
			}
			used[r]++
		}
		if seen[c] {
			t.Fatalf("code %q issued twice", c)
		}
		seen[c] = true
		if NormalizeRecoveryCode(c) != c {
			t.Fatalf("a fresh code %q does not normalise to itself", c)
		}
	}
	// 120 000 symbols: every one of the 33 shows up (expected ~3600 each).
	for _, r := range RecoveryAlphabet {
		if used[r] < 1000 {
			t.Errorf("symbol %q used only %d times in %d codes", r, used[r], n)
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	const code = "H3URF1WMNF9GNUFH7YH8RCDV"
	for _, tc := range []struct{ in, want string }{
		{code, code},
		{strings.ToLower(code), code},
		{"h3uR f1wM nf9g NUFH 7yh8 rcdv", code},
		{"H3UR-F1WM-NF9G-NUFH-7YH8-RCDV", code},
		{"  H3URF1WMNF9GNUFH7YH8RCDV  ", code},
		{"H3UR\u3000F1WM\u3000NF9G\u3000NUFH\u30007YH8\u3000RCDV", code}, // ideographic spaces
		{"H3URFIWMNF9GNUFH7YH8RCDV", code},                               // I read as 1
		{"H3URFlWMNF9GNUFH7YH8RCDV", code},                               // l read as 1
		{"H3URFLWMNF9GNUFH7YH8RCDV", code},                               // L read as 1
		{"OOOOOOOOOOOOOOOOOOOOOOOO", strings.Repeat("0", 24)},            // O read as 0
		{"oooooooooooooooooooooooo", strings.Repeat("0", 24)},
		// As a Japanese input method types it: full-width, lower case, with
		// its own hyphens and spaces.
		{"Ｈ３ＵＲＦ１ＷＭＮＦ９ＧＮＵＦＨ７ＹＨ８ＲＣＤＶ", code},
		{"ｈ３ｕｒ－ｆ１ｗｍ－ｎｆ９ｇ－ｎｕｆｈ－７ｙｈ８－ｒｃｄｖ", code},
		{"H3URーF1WMーNF9GーNUFHー7YH8ーRCDV", code},
		// Wrong lengths.
		{"", ""},
		{code[:23], ""},
		{code + "A", ""},
		{"----", ""},
		// Characters no code has.
		{code[:23] + "!", ""},
		{code[:23] + "_", ""},
		{strings.Repeat(code, 5), ""},
		{code[:23] + "é", ""},
		{code[:23] + "\n", ""},
	} {
		if got := NormalizeRecoveryCode(tc.in); got != tc.want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
