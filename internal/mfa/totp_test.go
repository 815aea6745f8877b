package mfa

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcSecret is RFC 6238 appendix B's SHA1 seed "12345678901234567890" in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// rfcVectors are RFC 6238's SHA1 test vectors. The RFC prints 8 digits; the
// 6-digit code is their last six, as dynamic truncation is mod 10^digits.
var rfcVectors = []struct {
	unix   int64
	eight  string
	sixDig string
}{
	{59, "94287082", "287082"},
	{1111111109, "07081804", "081804"},
	{1111111111, "14050471", "050471"},
	{1234567890, "89005924", "005924"},
	{2000000000, "69279037", "279037"},
	{20000000000, "65353130", "353130"},
}

func TestTOTPCodeRFC6238(t *testing.T) {
	for _, v := range rfcVectors {
		if v.eight[2:] != v.sixDig {
			t.Fatalf("bad table row %+v", v)
		}
		got, err := TOTPCode(rfcSecret, time.Unix(v.unix, 0))
		if err != nil {
			t.Fatalf("TOTPCode(%d): %v", v.unix, err)
		}
		if got != v.sixDig {
			t.Errorf("TOTPCode at %d = %q, want %q", v.unix, got, v.sixDig)
		}
	}
}

func TestVerifyTOTPRFC6238(t *testing.T) {
	for _, v := range rfcVectors {
		now := time.Unix(v.unix, 0)
		step, err := VerifyTOTP(rfcSecret, v.sixDig, now, -1)
		if err != nil {
			t.Errorf("VerifyTOTP(%s at %d): %v", v.sixDig, v.unix, err)
			continue
		}
		if want := v.unix / Period; step != want {
			t.Errorf("VerifyTOTP at %d matched step %d, want %d", v.unix, step, want)
		}
	}
}

func TestStep(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want int64
	}{{0, 0}, {29, 0}, {30, 1}, {59, 1}, {60, 2}, {1111111109, 37037036}} {
		if got := Step(time.Unix(tc.unix, 0)); got != tc.want {
			t.Errorf("Step(%d) = %d, want %d", tc.unix, got, tc.want)
		}
	}
}

// TestVerifyTOTPSkew: the previous, the current and the next step are
// accepted; two steps away is not.
func TestVerifyTOTPSkew(t *testing.T) {
	now := time.Unix(1_700_000_010, 0) // inside a step, not on its edge
	cur := Step(now)
	for _, tc := range []struct {
		offset int64
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		codeTime := time.Unix((cur+tc.offset)*Period, 0)
		code, err := TOTPCode(rfcSecret, codeTime)
		if err != nil {
			t.Fatal(err)
		}
		// A code of step ±2 could by chance equal one inside the window;
		// such a table row proves nothing either way.
		if !tc.ok && inWindow(t, code, now) {
			t.Logf("offset %d: code collides with the window, skipped", tc.offset)
			continue
		}
		step, err := VerifyTOTP(rfcSecret, code, now, -1)
		switch {
		case tc.ok && err != nil:
			t.Errorf("offset %+d: refused: %v", tc.offset, err)
		case tc.ok && step != cur+tc.offset:
			t.Errorf("offset %+d: matched step %d, want %d", tc.offset, step, cur+tc.offset)
		case !tc.ok && !errors.Is(err, ErrWrongCode):
			t.Errorf("offset %+d: err = %v, want ErrWrongCode", tc.offset, err)
		}
	}
}

func inWindow(t *testing.T, code string, now time.Time) bool {
	t.Helper()
	for s := Step(now) - Skew; s <= Step(now)+Skew; s++ {
		c, err := TOTPCode(rfcSecret, time.Unix(s*Period, 0))
		if err != nil {
			t.Fatal(err)
		}
		if c == code {
			return true
		}
	}
	return false
}

// TestVerifyTOTPReplay: a code whose step is at or before the last accepted
// one is refused, even inside its own 30 seconds.
func TestVerifyTOTPReplay(t *testing.T) {
	now := time.Unix(1_700_000_010, 0)
	cur := Step(now)
	code, _ := TOTPCode(rfcSecret, now)
	next, _ := TOTPCode(rfcSecret, now.Add(Period*time.Second))
	prev, _ := TOTPCode(rfcSecret, now.Add(-Period*time.Second))

	for _, tc := range []struct {
		name     string
		code     string
		lastStep int64
		want     error
		wantStep int64
	}{
		{"fresh current", code, cur - 1, nil, cur},
		{"current used", code, cur, ErrReplay, 0},
		{"current, later used", code, cur + 1, ErrReplay, 0},
		{"next after current used", next, cur, nil, cur + 1},
		{"previous after current used", prev, cur, ErrReplay, 0},
		{"previous fresh", prev, cur - 2, nil, cur - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, err := VerifyTOTP(rfcSecret, tc.code, now, tc.lastStep)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && step != tc.wantStep {
				t.Fatalf("step = %d, want %d", step, tc.wantStep)
			}
		})
	}
	// Within the same 30 s, a second use of the code that was just accepted.
	step, err := VerifyTOTP(rfcSecret, code, now, cur-1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyTOTP(rfcSecret, code, now.Add(5*time.Second), step); !errors.Is(err, ErrReplay) {
		t.Fatalf("same code again 5 s later: err = %v, want ErrReplay", err)
	}
}

func TestVerifyTOTPMalformed(t *testing.T) {
	now := time.Unix(1_700_000_010, 0)
	good, _ := TOTPCode(rfcSecret, now)
	for _, code := range []string{
		"", "12345", "1234567", "12a456", "１２３４５６", " " + good, good + " ", good + "0",
		"-12345", "+12345", "12 456", "\x00\x00\x00\x00\x00\x00",
	} {
		if _, err := VerifyTOTP(rfcSecret, code, now, -1); !errors.Is(err, ErrWrongCode) {
			t.Errorf("VerifyTOTP(%q) err = %v, want ErrWrongCode", code, err)
		}
	}
}

func TestIsSixDigits(t *testing.T) {
	for s, want := range map[string]bool{
		"000000": true, "123456": true, "999999": true,
		"": false, "12345": false, "1234567": false, "12a456": false, "１２３４５６": false,
		"١٢٣٤٥٦":  false, // Arabic-Indic digits
		"12345\n": false,
	} {
		if got := IsSixDigits(s); got != want {
			t.Errorf("IsSixDigits(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestNormalizeCode: the forms customers type a code in give its six ASCII
// digits; anything else gives "", whatever digits it holds.
func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"320014":                           "320014",
		"３２００１４":                           "320014", // full-width, from an input method
		"320 014":                          "320014", // as authenticator apps show it
		"320　014":                          "320014", // ideographic space
		"３２０　０１４":                          "320014",
		"320-014":                          "320014",
		"３２０－０１４":                          "320014", // full-width hyphen-minus
		"３２０ー０１４":                          "320014", // the input method's hyphen in kana mode
		"320\u2010014":                     "320014",
		" 3 2 0 0 1 4 ":                    "320014",
		"32001４":                           "320014",
		"\t320014\n":                       "320014",
		"":                                 "",
		"   ":                              "",
		"32001":                            "",
		"3200145":                          "",
		"320 0145":                         "",
		"320.014":                          "",
		"32o014":                           "",
		"+320014":                          "",
		"١٢٣٤٥٦":                           "", // Arabic-Indic digits are no code here
		"320014" + strings.Repeat(" ", 64): "",
	} {
		if got := NormalizeCode(in); got != want {
			t.Errorf("NormalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewTOTPSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s := NewTOTPSecret()
		raw, err := b32.DecodeString(s)
		if err != nil {
			t.Fatalf("secret %q is not unpadded base32: %v", s, err)
		}
		if len(raw) != 20 {
			t.Fatalf("secret %q has %d bytes, want 20", s, len(raw))
		}
		if seen[s] {
			t.Fatalf("secret %q issued twice", s)
		}
		seen[s] = true
		// It works with our own code generation.
		if _, err := TOTPCode(s, time.Unix(1_700_000_000, 0)); err != nil {
			t.Fatalf("TOTPCode with a new secret: %v", err)
		}
	}
}

func TestTOTPURI(t *testing.T) {
	for _, tc := range []struct {
		issuer, account, secret, want string
	}{
		{"Tobira", "a@example.jp", "S",
			"otpauth://totp/Tobira:a@example.jp?secret=S&issuer=Tobira&algorithm=SHA1&digits=6&period=30"},
		{"My Portal", "a b@example.jp", rfcSecret,
			"otpauth://totp/My%20Portal:a%20b@example.jp?secret=" + rfcSecret + "&issuer=My%20Portal&algorithm=SHA1&digits=6&period=30"},
	} {
		if got := TOTPURI(tc.issuer, tc.account, tc.secret); got != tc.want {
			t.Errorf("TOTPURI(%q, %q, %q)\n got %s\nwant %s", tc.issuer, tc.account, tc.secret, got, tc.want)
		}
	}
}

// TestTOTPURIParses reads the URI back as an authenticator app does: the
// label path and the query parameters must give back what went in, whatever
// characters the issuer and the account hold. Config.Validate only forbids
// ':' in the issuer, so '&', '+' and '=' are allowed there.
func TestTOTPURIParses(t *testing.T) {
	for _, tc := range []struct{ issuer, account string }{
		{"Tobira", "a@example.jp"},
		{"My Portal", "a b@example.jp"},
		{"扉ポータル", "yamada@example.jp"},
		{"Tobira & Co", "a@example.jp"},
		{"A+B", "a+tag@example.jp"},
		{"x=y", "a@example.jp"},
		{"50% off", "a@example.jp"},
	} {
		t.Run(tc.issuer, func(t *testing.T) {
			uri := TOTPURI(tc.issuer, tc.account, rfcSecret)
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatalf("url.Parse(%s): %v", uri, err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" {
				t.Fatalf("scheme/host = %s/%s", u.Scheme, u.Host)
			}
			if want := "/" + tc.issuer + ":" + tc.account; u.Path != want {
				t.Errorf("label = %q, want %q (uri %s)", u.Path, want, uri)
			}
			q := u.Query()
			if got := q.Get("issuer"); got != tc.issuer {
				t.Errorf("issuer parameter = %q, want %q (uri %s)", got, tc.issuer, uri)
			}
			if got := q.Get("secret"); got != rfcSecret {
				t.Errorf("secret parameter = %q (uri %s)", got, uri)
			}
			for k, want := range map[string]string{"algorithm": "SHA1", "digits": "6", "period": "30"} {
				if got := q.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if len(q) != 5 {
				t.Errorf("query has parameters %v, want exactly secret, issuer, algorithm, digits, period", q)
			}
		})
	}
}
