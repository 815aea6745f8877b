package account

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"a@example.jp", "a@example.jp", nil},
		{"Yamada.Taro@Example.JP", "yamada.taro@example.jp", nil},
		{"  a@example.jp \t\n", "a@example.jp", nil},
		{"a+tag@example.co.jp", "a+tag@example.co.jp", nil},
		{"first.last@sub.example.jp", "first.last@sub.example.jp", nil},
		{"", "", ErrBadEmail},
		{"   ", "", ErrBadEmail},
		{"a", "", ErrBadEmail},
		{"a@", "", ErrBadEmail},
		{"@example.jp", "", ErrBadEmail},
		{"a@localhost", "", ErrBadEmail},
		{"a@example.", "", ErrBadEmail},
		{"a@@example.jp", "", ErrBadEmail},
		{"a b@example.jp", "", ErrBadEmail},
		{"Taro <a@example.jp>", "", ErrBadEmail},
		{"<a@example.jp>", "", ErrBadEmail},
		{`"a b"@example.jp`, "", ErrBadEmail},
		{"a@example.jp, b@example.jp", "", ErrBadEmail},
		{"a@example.jp (Taro)", "", ErrBadEmail},
		{strings.Repeat("a", 250) + "@x.jp", "", ErrBadEmail}, // over 254
		{"erased-acc-1@erased.invalid", "", ErrBadEmail},      // RFC 2606: where erased accounts are
		{"a@Example.INVALID", "", ErrBadEmail},
		// As a Japanese input method types it: full-width, the ideographic space.
		{"ｎｅｗ２@example.jp", "new2@example.jp", nil},
		{"ＹＡＭＡＤＡ＠ＥＸＡＭＰＬＥ．ＪＰ\u3000", "yamada@example.jp", nil},
		{"山田@例え.jp", "", ErrBadEmail},
		{"yamada@例え.jp", "", ErrBadEmail},
	} {
		got, err := NormalizeEmail(tc.in)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("NormalizeEmail(%q) err = %v, want %v", tc.in, err, tc.err)
			continue
		}
		if got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeEmailIdempotent(t *testing.T) {
	for _, in := range []string{"A@Example.JP", " b.c+d@example.co.jp "} {
		once, err := NormalizeEmail(in)
		if err != nil {
			t.Fatal(err)
		}
		twice, err := NormalizeEmail(once)
		if err != nil || twice != once {
			t.Errorf("NormalizeEmail(NormalizeEmail(%q)) = %q, %v; want %q", in, twice, err, once)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"山田 太郎", "山田 太郎", nil},
		{"  Taro Yamada  ", "Taro Yamada", nil},
		{strings.Repeat("あ", 100), strings.Repeat("あ", 100), nil},
		{"", "", ErrBadName},
		{" \t ", "", ErrBadName},
		{"\u3000", "", ErrBadName}, // an ideographic space is space too
		{strings.Repeat("あ", 101), "", ErrBadName},
		{"bad \xff utf-8", "", ErrBadName},
		{"山田\x00太郎", "", ErrNameChars},
		{"山田\n太郎", "", ErrNameChars},
		{"山田\x1b[31m太郎", "", ErrNameChars},
		{"山田\u2028太郎", "", ErrNameChars}, // the line separator
		// The bidi controls, with which 山本\u202e郎二 reads 山本二郎.
		{"山本\u202e郎二", "", ErrNameChars},
		{"山本\u202a太郎", "", ErrNameChars},
		{"山本\u202c太郎", "", ErrNameChars},
		{"山本\u2066太郎", "", ErrNameChars},
		{"山本\u2069太郎", "", ErrNameChars},
		{"山本\u200e太郎", "", ErrNameChars},
		{"山本\u200f太郎", "", ErrNameChars},
		{"山本\u061c太郎", "", ErrNameChars},
		// Other invisible format characters.
		{"山本\u200b太郎", "", ErrNameChars},
		{"山本\ufeff太郎", "", ErrNameChars},
		{"山本\u00ad太郎", "", ErrNameChars},
		{"山本\u2060太郎", "", ErrNameChars},
		// The joiners spell names of some scripts right, and stay.
		{"\u0645\u06cc\u200c\u0631\u0648\u062f", "\u0645\u06cc\u200c\u0631\u0648\u062f", nil},
		{"\u0d28\u0d4d\u200d", "\u0d28\u0d4d\u200d", nil},
	} {
		got, err := CheckName(tc.in)
		if tc.err == ErrBadName && errors.Is(err, ErrNameChars) {
			t.Errorf("CheckName(%q) err = %v, want the length's %v", tc.in, err, tc.err)
			continue
		}
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("CheckName(%q) err = %v, want %v", tc.in, err, tc.err)
			continue
		}
		if got != tc.want {
			t.Errorf("CheckName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// varied is n characters of pattern repeated: a password of that length
// that is neither one character repeated nor a run of the keyboard.
func varied(pattern string, n int) string {
	return string([]rune(strings.Repeat(pattern, n))[:n])
}

func TestCheckPassword(t *testing.T) {
	const email = "yamada@example.jp"
	for _, tc := range []struct {
		pw  string
		err error
	}{
		{"", ErrPasswordShort},
		{"123456789", ErrPasswordShort},
		{"1234567809", nil},
		{"あいうえおかきくけ", ErrPasswordShort}, // 9 characters, 27 bytes
		{"あいうえおかきくけこ", nil},             // 10 characters
		{varied("xyz", MaxPassword), nil},
		{varied("xyz", MaxPassword+1), ErrPasswordLong},
		{varied("扉の鍵", MaxPassword), nil}, // counted in characters, not bytes
		{email, ErrPasswordIsEmail},
		{"YAMADA@EXAMPLE.JP", ErrPasswordIsEmail},
		{" " + email + " ", ErrPasswordIsEmail},
		{"yamada@example.jp!", nil},
		{"correct horse battery staple", nil},
		// What an attacker tries first (NIST SP 800-63B 5.1.1.2).
		{"1234567890", ErrPasswordCommon},
		{"Password123", ErrPasswordCommon},
		{" qwertyuiop ", ErrPasswordCommon},
		{"9876543210", ErrPasswordCommon},
		{"abcdefghijklm", ErrPasswordCommon},
		{"lkjhgfdsa0", nil},
		{strings.Repeat("x", MaxPassword), ErrPasswordCommon},
		{"ababababab", ErrPasswordCommon},
		{"扉扉扉扉扉扉扉扉扉扉", ErrPasswordCommon},
		{"yamada2026!", ErrPasswordCommon},
		{"Yamada12345", ErrPasswordCommon},
		{"yamada-no-himitsu-2026", nil},
		// Full-width, as a Japanese input method types them.
		{"ｐａｓｓｗｏｒｄ１２３", ErrPasswordCommon},
		{"ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐ", ErrPasswordCommon},
		{"１２３４５６７８９０", ErrPasswordCommon},
		{"ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ", ErrPasswordIsEmail},
		{"ｙａｍａｄａ－ｎｏ－ｈｉｍｉｔｓｕ", nil},
		// The rules read the NFKC form, which is what is hashed.
		{"ｶﾞｷﾞｸﾞｹﾞｺﾞｶﾞｷﾞ", ErrPasswordShort},           // 14 typed, ガギグゲゴガギ: 7
		{"ｶﾞｷﾞｸﾞｹﾞｺﾞｶﾞｷﾞｸﾞｹﾞｺﾞ", nil},                  // 20 typed, 10 normalised
		{"①②③④⑤⑥⑦⑧⑨⓪", ErrPasswordCommon},              // 1234567890
		{strings.Repeat("㍻", 9), ErrPasswordCommon},    // 平成 repeated: two characters
		{strings.Repeat("ﷺ", 8), ErrPasswordLong},      // 8 typed, 144 normalised
		{"ｐａｓｓｗｏｒｄ\u3000１２３", nil},                     // password 123, with a space
		{"\u3000ｐａｓｓｗｏｒｄ１２３\u3000", ErrPasswordCommon}, // trimmed for the check only
	} {
		err := CheckPassword(tc.pw, email)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("CheckPassword(%q) = %v, want %v", tc.pw, err, tc.err)
		}
	}
	if MinPassword < 8 {
		t.Errorf("MinPassword = %d, NIST SP 800-63B asks at least 8", MinPassword)
	}
}
