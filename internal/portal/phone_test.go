package portal_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/config"
	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
)

// phoneEnv is newEnv with a recording Sender.
func phoneEnv(t *testing.T, change ...func(*config.Config)) (*env, *testkit.Sender) {
	t.Helper()
	e := newEnv(t, change...)
	rec := &testkit.Sender{}
	e.svc.Sender = rec
	return e, rec
}

// Numbers of the tests: the manual's example and others of its form.
const (
	mobileJP = "090-1234-5678"
	e164JP   = "+819012345678"
)

// mobile returns the i-th of distinct valid Japanese mobile numbers.
func mobile(i int) string { return fmt.Sprintf("090-%04d-%04d", 1000+i, 5000+i) }

// otherCode is six digits that differ from code.
func otherCode(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+1)%1000000)
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

func sendLimitErr(t *testing.T, err error) *portal.SendLimitError {
	t.Helper()
	var l *portal.SendLimitError
	if !errors.As(err, &l) {
		t.Fatalf("err = %v, want *portal.SendLimitError", err)
	}
	return l
}

func resendErr(t *testing.T, err error) *portal.ResendError {
	t.Helper()
	var r *portal.ResendError
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want *portal.ResendError", err)
	}
	return r
}

// enrolFlow passes the password of a customer with no factor yet.
func (e *env) enrolFlow(c *customer) *portal.Flow {
	e.t.Helper()
	f := e.passwordStep(c)
	if f.State != portal.StateEnrol {
		e.t.Fatalf("after password: state %s, want %s", f.State, portal.StateEnrol)
	}
	return f
}

// mfaFlow passes the password of a customer with a factor.
func (e *env) mfaFlow(c *customer) *portal.Flow {
	e.t.Helper()
	f := e.passwordStep(c)
	if f.State != portal.StateMFA {
		e.t.Fatalf("after password: state %s, want %s", f.State, portal.StateMFA)
	}
	return f
}

// phoneCodeSent is enrolFlow with mobileJP typed at the enrolment: a code
// is on its way by SMS and the flow waits for it.
func (e *env) phoneCodeSent(c *customer) *portal.Flow {
	e.t.Helper()
	f := e.enrolFlow(c)
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
		e.t.Fatalf("EnrolPhone: %v", err)
	}
	return f
}

// enrolPhone is a first sign-in that enrols a phone (manual XI): number,
// code, recovery code, session. It returns the session token.
func (e *env) enrolPhone(rec *testkit.Sender, c *customer, number string, ch notify.Channel) string {
	e.t.Helper()
	f := e.enrolFlow(c)
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", number, ch, "ja", e.ip); err != nil {
		e.t.Fatalf("EnrolPhone(%s): %v", number, err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(e.t).Code, e.ip); err != nil {
		e.t.Fatalf("ConfirmPhone: %v", err)
	}
	f = e.reload(f, portal.StateRecovery)
	var err error
	if c.recovery, err = e.svc.RecoveryCode(f); err != nil {
		e.t.Fatal(err)
	}
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		e.t.Fatalf("Finish: %v", err)
	}
	return token
}

// addPhone gives an account a phone next to its app, as the store keeps it
// (an account with both factors, as 「別の方法を試す」 lists them).
func (e *env) addPhone(c *customer, e164 string, ch notify.Channel) {
	e.t.Helper()
	err := e.svc.Store.AddFactor(e.ctx, &store.Factor{
		ID: secret.ID(), AccountID: c.acct.ID, Kind: store.FactorPhone, Secret: e164, Channel: string(ch),
		LastStep: -1, CreatedAt: e.clock.Now(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func client(ip string) portal.Client { return portal.Client{IP: ip, UserAgent: "test"} }

// TestEnrolPhone: manual XI. III–V by text message and by voice call. The
// sender gets the number in E.164, the channel chosen, a fresh six-digit
// code and the customer's language; the right code saves the phone with its
// channel and leads to the recovery code.
func TestEnrolPhone(t *testing.T) {
	for _, tc := range []struct {
		ch   notify.Channel
		lang string
	}{{notify.SMS, "ja"}, {notify.Voice, "en"}} {
		t.Run(string(tc.ch), func(t *testing.T) {
			e, rec := phoneEnv(t)
			c := e.newCustomer("yamada@example.jp")
			f := e.enrolFlow(c)
			if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, tc.ch, tc.lang, e.ip); err != nil {
				t.Fatalf("EnrolPhone: %v", err)
			}
			sent := rec.Last(t)
			if sent.To != e164JP || sent.Channel != tc.ch || sent.Lang != tc.lang || !sixDigits.MatchString(sent.Code) {
				t.Fatalf("sent %+v; want To %s, channel %s, lang %s, six digits", sent, e164JP, tc.ch, tc.lang)
			}
			if sent.ValidMinutes != 5 || sent.Service != e.svc.Config.Issuer {
				t.Errorf("sent ValidMinutes %d, Service %q; want 5, %q", sent.ValidMinutes, sent.Service, e.svc.Config.Issuer)
			}
			sc, err := e.svc.SentCodeOf(e.ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Phone != e164JP || sc.Channel != tc.ch || sc.ResendIn != 30*time.Second {
				t.Fatalf("SentCodeOf = %+v", sc)
			}
			// The code is kept only as a keyed hash.
			pc, err := e.svc.Store.PhoneCodeOf(e.ctx, f.IDHash)
			if err != nil {
				t.Fatal(err)
			}
			plain := sha256.Sum256([]byte(sent.Code))
			if strings.Contains(pc.CodeHash, sent.Code) || pc.CodeHash == hex.EncodeToString(plain[:]) || pc.CodeHash == secret.Hash(sent.Code) {
				t.Fatalf("stored code hash %q reveals the code %s", pc.CodeHash, sent.Code)
			}
			if !pc.ExpiresAt.Equal(t0.Add(5 * time.Minute)) {
				t.Errorf("code expires %v, want %v", pc.ExpiresAt, t0.Add(5*time.Minute))
			}

			if err := e.svc.ConfirmPhone(e.ctx, f, sent.Code, e.ip); err != nil {
				t.Fatalf("ConfirmPhone: %v", err)
			}
			if f.State != portal.StateRecovery {
				t.Fatalf("state %s, want %s", f.State, portal.StateRecovery)
			}
			f = e.reload(f, portal.StateRecovery)
			if code, err := e.svc.RecoveryCode(f); err != nil || len(code) != 24 {
				t.Fatalf("RecoveryCode = %q, %v", code, err)
			}
			p, err := e.svc.PhoneFactor(e.ctx, c.acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			if p.Secret != e164JP || p.Channel != string(tc.ch) {
				t.Fatalf("phone factor %s by %q, want %s by %s", p.Secret, p.Channel, e164JP, tc.ch)
			}
			if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); !slices.Equal(ms, []portal.Method{portal.MethodPhone, portal.MethodRecovery}) {
				t.Fatalf("Methods = %v", ms)
			}
			// The code was used up.
			if _, err := e.svc.SentCodeOf(e.ctx, f); !errors.Is(err, portal.ErrNoPhoneCode) {
				t.Fatalf("SentCodeOf after confirm: %v, want ErrNoPhoneCode", err)
			}
			if err := e.svc.AcknowledgeRecovery(f, true); err != nil {
				t.Fatal(err)
			}
			token, err := e.svc.Finish(e.ctx, f, "", e.ip)
			if err != nil {
				t.Fatal(err)
			}
			e.session(token)
		})
	}
}

// Numbers typed the domestic way or the international way are one number,
// stored in E.164.
func TestPhoneNumberForms(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerNumberHour = 100; c.Phone.PerClientHour = 100 })
	for i, tc := range []struct{ region, input string }{
		{"JP", "090-1234-5678"},
		{"JP", "09012345678"},
		{"JP", "090 1234 5678"},
		{"JP", "(090) 1234-5678"},
		{"JP", "０９０－１２３４－５６７８"},
		{"JP", "+81 90 1234 5678"},
		{"JP", "+81-90-1234-5678"},
		{"JP", "+819012345678"},
		{"US", "+81 90-1234-5678"}, // the +81 wins over the picker
		{"jp", "090-1234-5678"},
	} {
		c := e.newCustomer(fmt.Sprintf("c%d@example.jp", i))
		f := e.enrolFlow(c)
		if err := e.svc.EnrolPhone(e.ctx, f, tc.region, tc.input, notify.SMS, "ja", e.ip); err != nil {
			t.Errorf("EnrolPhone(%s, %q): %v", tc.region, tc.input, err)
			continue
		}
		if got := rec.Last(t).To; got != e164JP {
			t.Errorf("EnrolPhone(%s, %q) sent to %s, want %s", tc.region, tc.input, got, e164JP)
		}
	}
}

// Invalid numbers get ErrInvalidPhone and send nothing.
func TestInvalidPhoneNumbers(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	for _, tc := range []struct{ region, input string }{
		{"JP", ""},
		{"JP", "abc"},
		{"JP", "090-1234"},
		{"JP", "090-1234-56789"},
		{"JP", "12345"},
		{"JP", "0000000000"},
		{"JP", "+81"},
		{"JP", "090-1234-5678 ext. 12"},
		{"JP", strings.Repeat("0", 50)},
		{"", "090-1234-5678"},   // no country, no +NN
		{"XX", "090-1234-5678"}, // no such country
		{"JP", "+999 1234 5678"},
	} {
		if err := e.svc.EnrolPhone(e.ctx, f, tc.region, tc.input, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrInvalidPhone) {
			t.Errorf("EnrolPhone(%q, %q) = %v, want ErrInvalidPhone", tc.region, tc.input, err)
		}
	}
	if n := rec.Count(); n != 0 {
		t.Fatalf("%d codes sent to invalid numbers", n)
	}
	if _, err := e.svc.SentCodeOf(e.ctx, f); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("SentCodeOf: %v, want ErrNoPhoneCode", err)
	}
	// Nothing was counted against the limits either: ten sends still pass.
	for i := 0; i < 10; i++ {
		if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
			t.Fatalf("send %d after the invalid numbers: %v", i+1, err)
		}
		e.clock.Advance(30 * time.Second)
	}
}

// Only numbers of the allowed countries enrol: Japan by default.
func TestPhoneCountryAllowList(t *testing.T) {
	us := []struct{ region, input string }{
		{"US", "(650) 253-0000"},
		{"US", "+1 650 253 0000"},
		{"JP", "+1 650-253-0000"}, // an international number typed with Japan picked
	}
	t.Run("default", func(t *testing.T) {
		e, rec := phoneEnv(t)
		c := e.newCustomer("yamada@example.jp")
		f := e.enrolFlow(c)
		for _, tc := range us {
			if err := e.svc.EnrolPhone(e.ctx, f, tc.region, tc.input, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrCountryNotAllowed) {
				t.Errorf("EnrolPhone(%s, %q) = %v, want ErrCountryNotAllowed", tc.region, tc.input, err)
			}
		}
		if n := rec.Count(); n != 0 {
			t.Fatalf("%d codes sent abroad", n)
		}
		if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
			t.Fatalf("Japanese number: %v", err)
		}
	})
	t.Run("JP and US", func(t *testing.T) {
		e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.Countries = []string{"JP", "US"} })
		for i, tc := range us {
			c := e.newCustomer(fmt.Sprintf("c%d@example.jp", i))
			f := e.enrolFlow(c)
			if err := e.svc.EnrolPhone(e.ctx, f, tc.region, tc.input, notify.SMS, "en", client(fmt.Sprintf("192.0.2.%d", 10+i))); err != nil {
				t.Fatalf("EnrolPhone(%s, %q): %v", tc.region, tc.input, err)
			}
			if got := rec.Last(t).To; got != "+16502530000" {
				t.Fatalf("sent to %s", got)
			}
			if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip); err != nil {
				t.Fatal(err)
			}
		}
		// Still not the rest of the world.
		c := e.newCustomer("uk@example.jp")
		f := e.enrolFlow(c)
		if err := e.svc.EnrolPhone(e.ctx, f, "GB", "07400 123456", notify.SMS, "en", e.ip); !errors.Is(err, portal.ErrCountryNotAllowed) {
			t.Fatalf("a British number: %v, want ErrCountryNotAllowed", err)
		}
	})
}

func TestConfirmPhoneWrongCode(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.phoneCodeSent(c)
	code := rec.Last(t).Code
	// Input that is no six-digit code is no guess: neither the account
	// nor the code's own tries count it.
	for _, bad := range []string{"12345", "1234567", "abcdef", "", code + "0", code[:5]} {
		if err := e.svc.ConfirmPhone(e.ctx, f, bad, e.ip); !errors.Is(err, portal.ErrCodeFormat) {
			t.Fatalf("malformed code %q: %v, want ErrCodeFormat", bad, err)
		}
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Fatalf("malformed codes counted %d failures", a.MFAFailures)
	}
	wrong := otherCode(code)
	for i := range 5 {
		typed := []func(string) string{same, fullWidth, spaced, same, fullWidth}[i](wrong)
		if err := e.svc.ConfirmPhone(e.ctx, f, typed, e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("wrong code %q: %v, want ErrWrongCode", typed, err)
		}
		if a := e.account(c); a.MFAFailures != i+1 {
			t.Fatalf("after %d wrong codes the account counts %d", i+1, a.MFAFailures)
		}
	}
	if fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID); len(fs) != 0 {
		t.Fatalf("a wrong code saved a factor: %+v", fs)
	}
	if f.State != portal.StateEnrol {
		t.Fatalf("state %s", f.State)
	}
	// Five wrong: the code is spent, even the right one is refused.
	if err := e.svc.ConfirmPhone(e.ctx, f, code, e.ip); !errors.Is(err, portal.ErrPhoneCodeExhausted) {
		t.Fatalf("right code after 5 wrong: %v, want ErrPhoneCodeExhausted", err)
	}
}

// A phone code is accepted as customers type it, at enrolment and at
// sign-in.
func TestPhoneCodesAsCustomersTypeThem(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.phoneCodeSent(c)
	if err := e.svc.ConfirmPhone(e.ctx, f, spaced(fullWidth(rec.Last(t).Code)), e.ip); err != nil {
		t.Fatalf("ConfirmPhone(full-width, spaced): %v", err)
	}
	e.clock.Advance(time.Minute)
	g := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, g, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	code := rec.Last(t).Code
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, code[:3]+"ー"+code[3:], e.ip); err != nil {
		t.Fatalf("SecondFactor(with the input method's hyphen): %v", err)
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Fatalf("failures %d", a.MFAFailures)
	}
}

// A code lasts 5 minutes: 4:59 after it was sent it works, at 5:00 not.
func TestPhoneCodeLifetime(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		want  error
	}{
		{5*time.Minute - time.Second, nil},
		{5*time.Minute - time.Millisecond, nil},
		{5 * time.Minute, portal.ErrPhoneCodeExpired},
		{10 * time.Minute, portal.ErrPhoneCodeExpired},
	} {
		t.Run(tc.after.String(), func(t *testing.T) {
			e, rec := phoneEnv(t)
			c := e.newCustomer("yamada@example.jp")
			f := e.phoneCodeSent(c)
			e.clock.Advance(tc.after)
			f = e.reload(f, portal.StateEnrol)
			err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("right code %v after sending: %v, want %v", tc.after, err, tc.want)
			}
			if tc.want != nil {
				// A new code sent then works.
				if err := e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", e.ip); err != nil {
					t.Fatalf("resend after expiry: %v", err)
				}
				if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip); err != nil {
					t.Fatalf("new code: %v", err)
				}
			}
		})
	}
}

// At most 5 tries per code; then even the right code is refused, and a new
// code starts with 5 tries again.
func TestPhoneCodeAttempts(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.phoneCodeSent(c)
	code := rec.Last(t).Code
	for i := 1; i <= 5; i++ {
		if err := e.svc.ConfirmPhone(e.ctx, f, otherCode(code), e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := e.svc.ConfirmPhone(e.ctx, f, code, e.ip); !errors.Is(err, portal.ErrPhoneCodeExhausted) {
			t.Fatalf("right code after 5 wrong: %v, want ErrPhoneCodeExhausted", err)
		}
	}
	if a := e.account(c); a.MFAFailures != 5 {
		t.Errorf("account counts %d failures, want 5 (the refused tries are not checks)", a.MFAFailures)
	}
	if fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID); len(fs) != 0 {
		t.Fatalf("factor saved with a spent code")
	}
	e.clock.Advance(30 * time.Second)
	if err := e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	code = rec.Last(t).Code
	for i := 1; i <= 4; i++ {
		if err := e.svc.ConfirmPhone(e.ctx, f, otherCode(code), e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("new code, wrong try %d: %v", i, err)
		}
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, code, e.ip); err != nil {
		t.Fatalf("new code after 4 wrong tries: %v", err)
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Errorf("a right code leaves %d failures", a.MFAFailures)
	}
}

// Parallel guesses cannot try a code more than 5 times.
func TestParallelPhoneGuesses(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.phoneCodeSent(c)
	code := rec.Last(t).Code
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			g := e.reload(f, portal.StateEnrol)
			guess := fmt.Sprintf("%06d", (mustAtoi(code)+1+i)%1000000)
			errs[i] = e.svc.ConfirmPhone(e.ctx, g, guess, e.ip)
		})
	}
	wg.Wait()
	wrong, spent := 0, 0
	for _, err := range errs {
		switch {
		case errors.Is(err, portal.ErrWrongCode):
			wrong++
		case errors.Is(err, portal.ErrPhoneCodeExhausted):
			spent++
		default:
			t.Errorf("guess: %v", err)
		}
	}
	if wrong != 5 || spent != n-5 {
		t.Fatalf("%d guesses checked, %d refused; want 5 and %d", wrong, spent, n-5)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// A new code is refused for 30 s (with the wait); after it the new code
// replaces the old one.
func TestResendCode(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	if err := e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("resend before any send: %v, want ErrNoPhoneCode", err)
	}
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	first := rec.Last(t).Code

	e.clock.Advance(10 * time.Second)
	if r := resendErr(t, e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", e.ip)); r.Wait != 20*time.Second {
		t.Fatalf("resend 10 s after: wait %v, want 20s", r.Wait)
	}
	if sc, _ := e.svc.SentCodeOf(e.ctx, f); sc.ResendIn != 20*time.Second {
		t.Fatalf("SentCodeOf.ResendIn = %v, want 20s", sc.ResendIn)
	}
	// Typing the number again (「編集」) is no way around the pause.
	resendErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", mobile(1), notify.SMS, "ja", e.ip))
	e.clock.Advance(20*time.Second - time.Millisecond)
	if r := resendErr(t, e.svc.ResendCode(e.ctx, f, notify.Voice, "ja", e.ip)); r.Wait != time.Millisecond {
		t.Fatalf("wait %v, want 1ms", r.Wait)
	}
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d messages sent during the pause", n)
	}

	e.clock.Advance(time.Millisecond)
	if err := e.svc.ResendCode(e.ctx, f, notify.Voice, "en", e.ip); err != nil {
		t.Fatalf("resend at 30 s: %v", err)
	}
	second := rec.Last(t)
	if second.To != e164JP || second.Channel != notify.Voice || second.Lang != "en" {
		t.Fatalf("resent %+v", second)
	}
	if sc, _ := e.svc.SentCodeOf(e.ctx, f); sc.Channel != notify.Voice || sc.ResendIn != 30*time.Second {
		t.Fatalf("SentCodeOf after resend = %+v", sc)
	}
	if first != second.Code {
		// The earlier code, arriving late, is refused as replaced, and
		// counts as a wrong code does.
		if err := e.svc.ConfirmPhone(e.ctx, f, first, e.ip); !errors.Is(err, portal.ErrPhoneCodeReplaced) {
			t.Fatalf("the replaced code: %v, want ErrPhoneCodeReplaced", err)
		}
		if pc, err := e.svc.Store.PhoneCodeOf(e.ctx, f.IDHash); err != nil || pc.Attempts != 1 {
			t.Fatalf("the replaced code's attempt was not counted: %+v, %v", pc, err)
		}
		if err := e.svc.ConfirmPhone(e.ctx, f, wrongCode(first, second.Code), e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("a code never sent: %v, want ErrWrongCode", err)
		}
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, second.Code, e.ip); err != nil {
		t.Fatalf("the new code: %v", err)
	}
	// The channel chosen on the number form is the one saved, not that of
	// the resend (TestVoiceResendIsAOneOff).
	if p, _ := e.svc.PhoneFactor(e.ctx, c.acct.ID); p.Channel != string(notify.SMS) {
		t.Fatalf("channel saved %q, want sms", p.Channel)
	}
}

// TestVoiceResendIsAOneOff: text messages chosen on the number form, then
// 「音声通話で受け取る」 once while enrolling, and the code of the call typed.
// The phone keeps the text messages the customer chose (manual XI. III):
// the next sign-in sends one, and a call asked for at a sign-in changes no
// later one either. The enrolment's session still says what it proved: a
// code by voice call.
func TestVoiceResendIsAOneOff(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.phoneCodeSent(c)
	e.clock.Advance(30 * time.Second)
	if err := e.svc.ResendCode(e.ctx, f, notify.Voice, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if sc, err := e.svc.SentCodeOf(e.ctx, f); err != nil || sc.Channel != notify.Voice || sc.Chosen != notify.SMS {
		t.Fatalf("SentCodeOf after the call = %+v, %v; want voice, chosen sms", sc, err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.svc.PhoneFactor(e.ctx, c.acct.ID); p.Channel != string(notify.SMS) {
		t.Fatalf("channel saved %q, want sms as chosen", p.Channel)
	}
	f = e.reload(f, portal.StateRecovery)
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	if amr := e.session(token).Session.AMR; !slices.Equal(amr, []string{"pwd", "tel", "mfa"}) {
		t.Fatalf("enrolment's AMR %v, want the call's tel", amr)
	}

	for i := range 2 {
		e.clock.Advance(time.Minute)
		g := e.mfaFlow(c)
		if err := e.svc.SendSignInCode(e.ctx, g, "", "ja", e.ip); err != nil {
			t.Fatal(err)
		}
		if s := rec.Last(t); s.Channel != notify.SMS || s.To != e164JP {
			t.Fatalf("sign-in %d sent %+v, want a text message", i+1, s)
		}
		if sc, _ := e.svc.SentCodeOf(e.ctx, g); sc.Channel != notify.SMS || sc.Chosen != notify.SMS {
			t.Fatalf("sign-in %d: SentCodeOf = %+v", i+1, sc)
		}
		// The sign-in's own 「音声通話で受け取る」.
		e.clock.Advance(30 * time.Second)
		if err := e.svc.ResendCode(e.ctx, g, notify.Voice, "ja", e.ip); err != nil {
			t.Fatal(err)
		}
		if s := rec.Last(t); s.Channel != notify.Voice {
			t.Fatalf("sign-in %d resent %+v, want a call", i+1, s)
		}
		if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, rec.Last(t).Code, e.ip); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Finish(e.ctx, g, "", e.ip); err != nil {
			t.Fatal(err)
		}
		if p, _ := e.svc.PhoneFactor(e.ctx, c.acct.ID); p.Channel != string(notify.SMS) {
			t.Fatalf("after sign-in %d: channel %q, want sms", i+1, p.Channel)
		}
	}
}

// A code in flight at the upgrade to migration 0032 has no choice stored:
// its enrolment saves the channel of its last code, as before.
func TestCodeFromBeforeTheChoiceWasKept(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.Voice, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	pc, err := e.st.PhoneCodeOf(e.ctx, f.IDHash)
	if err != nil || pc.Chosen != string(notify.Voice) {
		t.Fatalf("code stored %+v, %v; want chosen voice", pc, err)
	}
	pc.Chosen = ""
	if err := e.st.DeletePhoneCode(e.ctx, f.IDHash); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutPhoneCode(e.ctx, pc); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.svc.PhoneFactor(e.ctx, c.acct.ID); p.Channel != string(notify.Voice) {
		t.Fatalf("channel saved %q, want voice", p.Channel)
	}
}

// Editing the number after 30 s sends to the new number; the old code no
// longer works.
func TestEditNumber(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobile(1), notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	old := rec.Last(t).Code
	e.clock.Advance(30 * time.Second)
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	code := rec.Last(t).Code
	if old != code {
		if err := e.svc.ConfirmPhone(e.ctx, f, old, e.ip); !errors.Is(err, portal.ErrPhoneCodeReplaced) {
			t.Fatalf("old number's code: %v, want ErrPhoneCodeReplaced", err)
		}
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, code, e.ip); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.svc.PhoneFactor(e.ctx, c.acct.ID); p.Secret != e164JP {
		t.Fatalf("saved %s, want %s", p.Secret, e164JP)
	}
}

// 「編集」 and the number form sent again within the pause: the number of the
// code in flight (however typed) by the channel chosen for it sends nothing
// and counts nothing, and says that the code in flight still works
// (ResendError.InFlight); another number, or the other channel, is refused
// with the wait as before, so that the pause still holds.
func TestSameNumberAgainWithinThePause(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerAccountHour = 2 })
	c := e.newCustomer("yamada@example.jp")
	f := e.phoneCodeSent(c)
	code := rec.Last(t).Code

	e.clock.Advance(10 * time.Second)
	for _, number := range []string{mobileJP, "09012345678", "+81 90 1234 5678"} {
		r := resendErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", number, notify.SMS, "ja", e.ip))
		if !r.InFlight || r.Wait != 20*time.Second {
			t.Errorf("%s again: %+v, want in flight, wait 20s", number, r)
		}
	}
	for _, again := range []struct {
		number string
		ch     notify.Channel
	}{{mobile(1), notify.SMS}, {mobileJP, notify.Voice}} {
		if r := resendErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", again.number, again.ch, "ja", e.ip)); r.InFlight {
			t.Errorf("%s by %s: in flight, want the pause's refusal", again.number, again.ch)
		}
	}
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
	if n := e.auditCount(c.acct.ID, store.ActionPhoneSend, "ok") + e.auditCount(c.acct.ID, store.ActionPhoneResend, "ok"); n != 1 {
		t.Errorf("%d sends audited, want 1", n)
	}

	// After a call asked for once, the text messages chosen are still the
	// number's channel; nothing above counted against the 2 an hour.
	e.clock.Advance(20 * time.Second)
	if err := e.svc.ResendCode(e.ctx, f, notify.Voice, "ja", e.ip); err != nil {
		t.Fatalf("the call after the pause: %v", err)
	}
	called := rec.Last(t).Code
	e.clock.Advance(5 * time.Second)
	if r := resendErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip)); !r.InFlight {
		t.Errorf("the number by text after a call: %+v, want in flight", r)
	}
	if r := resendErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.Voice, "ja", e.ip)); r.InFlight {
		t.Errorf("the number by voice after a call: in flight, want the pause's refusal")
	}
	if code != called {
		if err := e.svc.ConfirmPhone(e.ctx, f, code, e.ip); !errors.Is(err, portal.ErrPhoneCodeReplaced) {
			t.Fatalf("the first code: %v, want ErrPhoneCodeReplaced", err)
		}
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, called, e.ip); err != nil {
		t.Fatalf("the code in flight: %v", err)
	}
	if p, _ := e.svc.PhoneFactor(e.ctx, c.acct.ID); p.Secret != e164JP || p.Channel != string(notify.SMS) {
		t.Fatalf("saved %+v", p)
	}
}

// At most 10 messages an hour per account, across its sign-in flows; the
// 11th says until when (the end of the hour window); the next window sends.
func TestSendLimitPerAccount(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerNumberHour = 100; c.Phone.PerClientHour = 100 })
	c := e.newCustomer("yamada@example.jp")
	var f *portal.Flow
	for i := 1; i <= 10; i++ {
		if i%2 == 1 { // a new sign-in every second message
			f = e.enrolFlow(c)
			if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobile(i), notify.SMS, "ja", client(fmt.Sprintf("192.0.2.%d", i))); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		} else if err := e.svc.ResendCode(e.ctx, f, notify.Voice, "ja", client(fmt.Sprintf("192.0.2.%d", i))); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		e.clock.Advance(30 * time.Second)
	}
	before, err := e.svc.Store.PhoneCodeOf(e.ctx, f.IDHash)
	if err != nil {
		t.Fatal(err)
	}
	l := sendLimitErr(t, e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", client("198.51.100.1")))
	wantUntil := time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)
	if l.Limit != "account" || !l.Until.Equal(wantUntil) {
		t.Fatalf("11th message: %+v, want account limit until %v", l, wantUntil)
	}
	g := e.enrolFlow(c)
	if l := sendLimitErr(t, e.svc.EnrolPhone(e.ctx, g, "JP", mobile(20), notify.SMS, "ja", client("198.51.100.2"))); l.Limit != "account" {
		t.Fatalf("in a new flow: %+v", l)
	}
	if n := rec.Count(); n != 10 {
		t.Fatalf("%d messages sent, want 10", n)
	}
	// The refusal left the code in flight alone.
	if after, err := e.svc.Store.PhoneCodeOf(e.ctx, f.IDHash); err != nil || after.CodeHash != before.CodeHash || !after.SentAt.Equal(before.SentAt) {
		t.Fatalf("the code in flight after a refused resend: %+v, %v; before %+v", after, err, before)
	}
	// Another account is not limited.
	d := e.newCustomer("sato@example.jp")
	if err := e.svc.EnrolPhone(e.ctx, e.enrolFlow(d), "JP", mobile(30), notify.SMS, "ja", e.ip); err != nil {
		t.Fatalf("another account: %v", err)
	}
	// The audit log records the refusals.
	if limited := e.auditCount(c.acct.ID, "phone.send", "limited"); limited != 2 {
		t.Errorf("audit has %d limited sends, want 2", limited)
	}

	// The next hour window.
	e.clock.Set(wantUntil.Add(-time.Millisecond))
	h := e.enrolFlow(c)
	sendLimitErr(t, e.svc.EnrolPhone(e.ctx, h, "JP", mobile(21), notify.SMS, "ja", e.ip))
	e.clock.Set(wantUntil)
	if err := e.svc.EnrolPhone(e.ctx, h, "JP", mobile(21), notify.SMS, "ja", e.ip); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// At most 10 messages an hour to one number, whichever accounts ask.
func TestSendLimitPerNumber(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerClientHour = 100 })
	a, b := e.newCustomer("a@example.jp"), e.newCustomer("b@example.jp")
	fa, fb := e.enrolFlow(a), e.enrolFlow(b)
	ipA, ipB := client("192.0.2.10"), client("198.51.100.20")
	for i := 1; i <= 10; i++ {
		var err error
		switch {
		case i == 1:
			err = e.svc.EnrolPhone(e.ctx, fa, "JP", mobileJP, notify.SMS, "ja", ipA)
		case i == 2:
			err = e.svc.EnrolPhone(e.ctx, fb, "JP", "+81 90 1234 5678", notify.SMS, "ja", ipB)
		case i%2 == 1:
			err = e.svc.ResendCode(e.ctx, fa, notify.SMS, "ja", ipA)
		default:
			err = e.svc.ResendCode(e.ctx, fb, notify.Voice, "ja", ipB)
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if i%2 == 0 {
			e.clock.Advance(30 * time.Second)
		}
	}
	l := sendLimitErr(t, e.svc.ResendCode(e.ctx, fb, notify.SMS, "ja", ipB))
	if l.Limit != "number" || !l.Until.Equal(time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("11th message to the number: %+v", l)
	}
	c := e.newCustomer("c@example.jp")
	if l := sendLimitErr(t, e.svc.EnrolPhone(e.ctx, e.enrolFlow(c), "JP", "09012345678", notify.SMS, "ja", client("203.0.113.5"))); l.Limit != "number" {
		t.Fatalf("a third account: %+v", l)
	}
	if n := rec.Count(); n != 10 {
		t.Fatalf("%d messages sent, want 10", n)
	}
	// Another number is not limited.
	if err := e.svc.EnrolPhone(e.ctx, e.enrolFlow(c), "JP", mobile(1), notify.SMS, "ja", client("203.0.113.5")); err != nil {
		t.Fatalf("another number: %v", err)
	}
	e.clock.Set(l.Until)
	if err := e.svc.ResendCode(e.ctx, fb, notify.SMS, "ja", ipB); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Enrolments elsewhere do not use up the sign-in codes of a number: one
// customer's enrolment, which may type any number and need not receive its
// codes, sends a number ten codes in an hour, and the number's owner still
// gets the code they sign in with. The number's own sign-ins are limited
// to 10 an hour too.
func TestEnrolmentsLeaveTheNumbersSignInCodes(t *testing.T) {
	e, rec := phoneEnv(t)
	owner := e.newCustomer("owner@example.jp")
	e.enrolPhone(rec, owner, mobileJP, notify.SMS)
	e.clock.Advance(time.Hour)

	other := e.newCustomer("other@example.jp")
	f := e.enrolFlow(other)
	ip := client("203.0.113.66")
	for i := 1; i <= 10; i++ {
		var err error
		if i == 1 {
			err = e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", ip)
		} else {
			err = e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", ip)
		}
		if err != nil {
			t.Fatalf("enrolment's message %d: %v", i, err)
		}
		e.clock.Advance(30 * time.Second)
	}
	// The 11th is refused (by the account's limit or the number's, both 10).
	sendLimitErr(t, e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", ip))

	g := e.mfaFlow(owner)
	if err := e.svc.SendSignInCode(e.ctx, g, "", "ja", e.ip); err != nil {
		t.Fatalf("the owner's sign-in code, after another account's enrolment used up the number's hour: %v", err)
	}
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, rec.Last(t).Code, e.ip); err != nil {
		t.Fatalf("the owner's code: %v", err)
	}

	// The sign-ins' own count: ten an hour to the number.
	for i := 2; i <= 10; i++ {
		e.clock.Advance(30 * time.Second)
		if err := e.svc.SendSignInCode(e.ctx, e.mfaFlow(owner), "", "ja", client(fmt.Sprint("198.51.100.", i))); err != nil {
			t.Fatalf("sign-in message %d: %v", i, err)
		}
	}
	e.clock.Advance(30 * time.Second)
	if l := sendLimitErr(t, e.svc.SendSignInCode(e.ctx, e.mfaFlow(owner), "", "ja", client("198.51.100.99"))); l.Limit != "account" && l.Limit != "number" {
		t.Fatalf("the 11th sign-in message: %+v", l)
	}
}

// At most 10 messages an hour from one client address (an IPv6 client by
// its /64), whichever accounts and numbers.
func TestSendLimitPerClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ip    func(i int) string
		other string
	}{
		{"IPv4", func(int) string { return "198.51.100.7" }, "198.51.100.8"},
		{"IPv6", func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", 0x10+i) }, "2001:db8:1:3::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, rec := phoneEnv(t)
			for i := 1; i <= 10; i++ {
				c := e.newCustomer(fmt.Sprintf("c%d@example.jp", i))
				if err := e.svc.EnrolPhone(e.ctx, e.enrolFlow(c), "JP", mobile(i), notify.SMS, "ja", client(tc.ip(i))); err != nil {
					t.Fatalf("account %d: %v", i, err)
				}
			}
			c := e.newCustomer("c11@example.jp")
			f := e.enrolFlow(c)
			l := sendLimitErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", mobile(11), notify.SMS, "ja", client(tc.ip(11))))
			if l.Limit != "client" || !l.Until.Equal(time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)) {
				t.Fatalf("11th from one client: %+v", l)
			}
			if n := rec.Count(); n != 10 {
				t.Fatalf("%d messages sent, want 10", n)
			}
			if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobile(11), notify.SMS, "ja", client(tc.other)); err != nil {
				t.Fatalf("from another client: %v", err)
			}
		})
	}
}

// The daily budget refuses every message once used up, until the next
// (UTC) day, with a warning in the log at 80 %.
func TestDailyBudget(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.DailyBudget = 5 })
	var logs testkit.Buffer
	e.svc.Log = slog.New(slog.NewTextHandler(&logs, nil))
	var flows []*portal.Flow
	for i := 1; i <= 5; i++ {
		c := e.newCustomer(fmt.Sprintf("c%d@example.jp", i))
		f := e.enrolFlow(c)
		flows = append(flows, f)
		if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobile(i), notify.SMS, "ja", client(fmt.Sprintf("192.0.2.%d", i))); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		warned := strings.Count(logs.String(), "80 %")
		if want := map[bool]int{true: 1, false: 0}[i >= 4]; warned != want {
			t.Fatalf("after message %d the log has %d warnings of 80 %%, want %d:\n%s", i, warned, want, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the 80 %% message is not a warning:\n%s", logs.String())
	}
	c := e.newCustomer("c6@example.jp")
	f := e.enrolFlow(c)
	l := sendLimitErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", mobile(6), notify.SMS, "ja", client("203.0.113.6")))
	if l.Limit != "budget" || !l.Until.Equal(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("over the budget: %+v", l)
	}
	e.clock.Advance(30 * time.Second)
	if l := sendLimitErr(t, e.svc.ResendCode(e.ctx, flows[0], notify.SMS, "ja", client("192.0.2.1"))); l.Limit != "budget" {
		t.Fatalf("a resend over the budget: %+v", l)
	}
	if n := rec.Count(); n != 5 {
		t.Fatalf("%d messages sent, want 5", n)
	}
	if !strings.Contains(logs.String(), "budget is used up") {
		t.Errorf("no error logged when the budget ran out:\n%s", logs.String())
	}
	e.clock.Set(l.Until)
	f = e.enrolFlow(c)
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobile(6), notify.SMS, "ja", client("203.0.113.6")); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}

// Parallel sends cannot pass a limit: here the client's, by sixteen
// accounts at once (one account's sends are held back by its 30-second
// pause as well).
func TestParallelSendsStayUnderTheLimit(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerNumberHour, c.Phone.PerClientHour = 100, 10 })
	const n = 16
	flows := make([]*portal.Flow, n)
	for i := range flows {
		flows[i] = e.enrolFlow(e.newCustomer(fmt.Sprintf("c%d@example.jp", i)))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = e.svc.EnrolPhone(e.ctx, flows[i], "JP", mobile(i), notify.SMS, "ja", e.ip)
		})
	}
	wg.Wait()
	ok, limited := 0, 0
	for _, err := range errs {
		var l *portal.SendLimitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &l) && l.Limit == "client":
			limited++
		default:
			t.Errorf("send: %v", err)
		}
	}
	if ok != 10 || limited != n-10 || rec.Count() != 10 {
		t.Fatalf("%d sent (%d recorded), %d limited; want 10 and %d", ok, rec.Count(), limited, n-10)
	}
}

// A failed send is reported, and leaves no code that could work.
func TestSendFailure(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	rec.SetFail(func(notify.Code) error { return fmt.Errorf("%w: provider down", notify.ErrSend) })
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrSendFailed) {
		t.Fatalf("EnrolPhone with the provider down: %v, want ErrSendFailed", err)
	}
	if _, err := e.svc.SentCodeOf(e.ctx, f); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("SentCodeOf after a failed send: %v, want ErrNoPhoneCode", err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, "123456", e.ip); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("ConfirmPhone after a failed send: %v, want ErrNoPhoneCode", err)
	}
	if err := e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("ResendCode after a failed send: %v, want ErrNoPhoneCode", err)
	}

	// The provider is back: asking again at once works (no pause after a
	// code nobody received).
	rec.SetFail(nil)
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
		t.Fatalf("EnrolPhone with the provider back: %v", err)
	}
	good := rec.Last(t).Code

	// A failed resend drops the earlier code too: it was replaced.
	e.clock.Advance(30 * time.Second)
	rec.SetFail(func(c notify.Code) error {
		if c.Channel == notify.Voice {
			return notify.ErrSend
		}
		return nil
	})
	if err := e.svc.ResendCode(e.ctx, f, notify.Voice, "ja", e.ip); !errors.Is(err, portal.ErrSendFailed) {
		t.Fatalf("a failed voice call: %v, want ErrSendFailed", err)
	}
	if _, err := e.svc.SentCodeOf(e.ctx, f); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("SentCodeOf after a failed resend: %v, want ErrNoPhoneCode", err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, good, e.ip); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("the code before a failed resend: %v, want ErrNoPhoneCode", err)
	}
	if failed := e.auditCount(c.acct.ID, "phone.send", "fail"); failed != 2 {
		t.Errorf("audit has %d failed sends, want 2", failed)
	}
}

// Text messages go only to numbers that can receive them: a landline, an
// IP phone (050) get their code by voice call, at enrolment, at 「再送信」,
// at the switch of channel and at the sign-in; a freephone, ナビダイヤル or
// a premium-rate number by neither. Nothing is sent for a refusal, nor
// counted.
func TestPhoneTextNeedsAMobile(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerAccountHour = 3 })
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	for _, number := range []string{"03-1234-5678", "050-1234-5678", "020-4123-4567"} {
		if err := e.svc.EnrolPhone(e.ctx, f, "JP", number, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrCannotText) {
			t.Errorf("EnrolPhone(%s) by text message: %v, want ErrCannotText", number, err)
		}
	}
	for _, number := range []string{"0120-123-456", "0570-123-456", "0990-123-456"} {
		for _, ch := range []notify.Channel{notify.SMS, notify.Voice} {
			if err := e.svc.EnrolPhone(e.ctx, f, "JP", number, ch, "ja", e.ip); !errors.Is(err, portal.ErrNotPersonalPhone) {
				t.Errorf("EnrolPhone(%s) by %s: %v, want ErrNotPersonalPhone", number, ch, err)
			}
		}
	}
	if n := rec.Count(); n != 0 {
		t.Fatalf("%d sent", n)
	}
	// A voice call to the landline.
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", "03-1234-5678", notify.Voice, "ja", e.ip); err != nil {
		t.Fatalf("EnrolPhone(landline) by voice: %v", err)
	}
	if sent := rec.Last(t); sent.To != "+81312345678" || sent.Channel != notify.Voice {
		t.Fatalf("sent %+v", sent)
	}
	sc, err := e.svc.SentCodeOf(e.ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sc.Channels, []notify.Channel{notify.Voice}) {
		t.Errorf("the landline's channels are %v, want voice only", sc.Channels)
	}
	e.clock.Advance(30 * time.Second)
	if err := e.svc.ResendCode(e.ctx, f, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrCannotText) {
		t.Fatalf("ResendCode by text message to the landline: %v, want ErrCannotText", err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip); err != nil {
		t.Fatalf("the code of the call after a refused text: %v", err)
	}

	// The sign-in: by the enrolled voice call; never a text.
	e.clock.Advance(time.Minute)
	g := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, g, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrCannotText) {
		t.Fatalf("SendSignInCode by text message to the landline: %v, want ErrCannotText", err)
	}
	if err := e.svc.SendSignInCode(e.ctx, g, "", "ja", e.ip); err != nil {
		t.Fatalf("SendSignInCode by the enrolled channel: %v (the refused texts counted against the limit?)", err)
	}
	if sent := rec.Last(t); sent.Channel != notify.Voice {
		t.Errorf("the sign-in sent a %s", sent.Channel)
	}
	if n := rec.Count(); n != 2 {
		t.Errorf("%d sent, want the two calls", n)
	}

	// A mobile has both channels.
	h := e.enrolFlow(e.newCustomer("sato@example.jp"))
	if err := e.svc.EnrolPhone(e.ctx, h, "JP", mobile(1), notify.Voice, "ja", client("192.0.2.9")); err != nil {
		t.Fatal(err)
	}
	if sc, err := e.svc.SentCodeOf(e.ctx, h); err != nil || !slices.Equal(sc.Channels, []notify.Channel{notify.SMS, notify.Voice}) {
		t.Errorf("a mobile's channels: %+v, %v; want sms and voice", sc, err)
	}
}

// A channel other than a text message or a voice call is refused with an
// error of its own (not the wrong step's), at every send, and changes
// nothing: no message, no code replaced, nothing counted against a limit.
func TestPhoneUnknownChannel(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerAccountHour = 2 })
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	for _, ch := range []notify.Channel{"fax", "", "SMS"} {
		if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, ch, "ja", e.ip); !errors.Is(err, portal.ErrUnknownChannel) {
			t.Fatalf("EnrolPhone by %q: %v, want ErrUnknownChannel", ch, err)
		}
	}
	if _, err := e.svc.SentCodeOf(e.ctx, f); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("a code in flight after refused sends: %v", err)
	}
	if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	code := rec.Last(t).Code
	e.clock.Advance(30 * time.Second)
	if err := e.svc.ResendCode(e.ctx, f, "fax", "ja", e.ip); !errors.Is(err, portal.ErrUnknownChannel) {
		t.Fatalf("ResendCode by fax: %v, want ErrUnknownChannel", err)
	}
	if n := rec.Count(); n != 1 {
		t.Fatalf("%d sent, want 1", n)
	}
	// The limit of two an hour still has room for the second message.
	if err := e.svc.ResendCode(e.ctx, f, notify.Voice, "ja", e.ip); err != nil {
		t.Fatalf("ResendCode by voice after a refused fax: %v", err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, code, e.ip); !errors.Is(err, portal.ErrPhoneCodeReplaced) {
		t.Fatalf("the first code after a resend: %v, want ErrPhoneCodeReplaced", err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, f, rec.Last(t).Code, e.ip); err != nil {
		t.Fatal(err)
	}

	g := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, g, "fax", "ja", e.ip); !errors.Is(err, portal.ErrUnknownChannel) {
		t.Fatalf("SendSignInCode by fax: %v, want ErrUnknownChannel", err)
	}
}

// Steps out of order are refused.
func TestPhoneStepsOutOfOrder(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("SendSignInCode at enrolment: %v", err)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, "123456", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("SecondFactor at enrolment: %v", err)
	}
	if n := rec.Count(); n != 0 {
		t.Fatalf("%d sent", n)
	}
	e.enrolPhone(rec, c, mobileJP, notify.SMS) // this flow is another one, still at enrol
	e.clock.Advance(time.Minute)
	g := e.mfaFlow(c)
	if err := e.svc.EnrolPhone(e.ctx, g, "JP", mobileJP, notify.SMS, "ja", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("EnrolPhone at the second factor: %v", err)
	}
	if err := e.svc.ConfirmPhone(e.ctx, g, "123456", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("ConfirmPhone at the second factor: %v", err)
	}
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, "123456", e.ip); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("SecondFactor(phone) before a code was sent: %v, want ErrNoPhoneCode", err)
	}
	if _, err := e.svc.Finish(e.ctx, g, "", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("Finish without a checked code: %v", err)
	}
}

// Sign-in with the phone: the code goes to the enrolled number, by the
// channel chosen at enrolment or the one asked for, and a right code ends
// the step.
func TestSignInWithPhone(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrolPhone(rec, c, mobileJP, notify.Voice)

	e.clock.Advance(time.Minute)
	f := e.mfaFlow(c)
	if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); !slices.Equal(ms, []portal.Method{portal.MethodPhone, portal.MethodRecovery}) {
		t.Fatalf("Methods = %v", ms)
	}
	if err := e.svc.SendSignInCode(e.ctx, f, "", "en", e.ip); err != nil {
		t.Fatalf("SendSignInCode: %v", err)
	}
	sent := rec.Last(t)
	if sent.To != e164JP || sent.Channel != notify.Voice || sent.Lang != "en" || !sixDigits.MatchString(sent.Code) {
		t.Fatalf("sent %+v; want the enrolled number by voice", sent)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, otherCode(sent.Code), e.ip); !errors.Is(err, portal.ErrWrongCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("Finish after a wrong code: %v", err)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, sent.Code, e.ip); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if f.State != portal.StateMFA {
		t.Fatalf("state %s", f.State)
	}
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if si := e.session(token); si.Account.ID != c.acct.ID || !si.Session.MFAAt.Equal(e.clock.Now()) {
		t.Fatalf("session %+v", si.Session)
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Fatalf("failures %d after a right code", a.MFAFailures)
	}
	// A code is good once.
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, sent.Code, e.ip); err == nil {
		t.Fatal("a used code worked again")
	}

	// The channel asked for wins over the enrolled one.
	e.clock.Advance(time.Minute)
	g := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, g, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if s := rec.Last(t); s.Channel != notify.SMS || s.To != e164JP {
		t.Fatalf("sent %+v, want SMS", s)
	}
	// 「再送信」 within the pause.
	e.clock.Advance(5 * time.Second)
	if r := resendErr(t, e.svc.SendSignInCode(e.ctx, g, "", "ja", e.ip)); r.Wait != 25*time.Second {
		t.Fatalf("wait %v", r.Wait)
	}
	if r := resendErr(t, e.svc.ResendCode(e.ctx, g, notify.Voice, "ja", e.ip)); r.Wait != 25*time.Second {
		t.Fatalf("wait %v", r.Wait)
	}
	e.clock.Advance(25 * time.Second)
	if err := e.svc.ResendCode(e.ctx, g, notify.Voice, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if s := rec.Last(t); s.Channel != notify.Voice || s.To != e164JP {
		t.Fatalf("resent %+v", s)
	}
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, rec.Last(t).Code, e.ip); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Finish(e.ctx, g, "", e.ip); err != nil {
		t.Fatal(err)
	}

	// An account without a phone has none to send to.
	d := e.newCustomer("sato@example.jp")
	e.enrol(d)
	e.clock.Advance(time.Minute)
	if err := e.svc.SendSignInCode(e.ctx, e.mfaFlow(d), "", "ja", e.ip); !errors.Is(err, portal.ErrNoSuchMethod) {
		t.Fatalf("SendSignInCode for an app-only account: %v, want ErrNoSuchMethod", err)
	}
}

// A sign-in code also expires after 5 minutes and allows 5 tries.
func TestSignInPhoneCodeLimits(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrolPhone(rec, c, mobileJP, notify.SMS)
	e.clock.Advance(time.Minute)
	f := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, rec.Last(t).Code, e.ip); !errors.Is(err, portal.ErrPhoneCodeExpired) {
		t.Fatalf("code at 5 min: %v, want ErrPhoneCodeExpired", err)
	}
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	code := rec.Last(t).Code
	for i := 0; i < 5; i++ {
		if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, otherCode(code), e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("wrong %d: %v", i+1, err)
		}
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, code, e.ip); !errors.Is(err, portal.ErrPhoneCodeExhausted) {
		t.Fatalf("right code after 5 wrong: %v, want ErrPhoneCodeExhausted", err)
	}
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); !errors.Is(err, portal.ErrWrongStep) {
		t.Fatalf("Finish: %v", err)
	}
}

// Wrong phone codes and wrong app codes count together: the 10th in a row
// closes the step for an hour, whichever factor it was.
func TestWrongPhoneAndAppCodesCountTogether(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	e.addPhone(c, e164JP, notify.SMS)
	if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); !slices.Equal(ms, []portal.Method{portal.MethodTOTP, portal.MethodPhone, portal.MethodRecovery}) {
		t.Fatalf("Methods = %v, want totp, phone, recovery", ms)
	}
	e.clock.Advance(30 * time.Second)
	f := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	phoneCode := rec.Last(t).Code
	for i := 1; i <= 10; i++ {
		var err error
		if i%2 == 1 {
			err = e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
		} else {
			err = e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, otherCode(phoneCode), e.ip)
		}
		if i < 10 {
			if !errors.Is(err, portal.ErrWrongCode) {
				t.Fatalf("wrong code %d: %v", i, err)
			}
			continue
		}
		// The 10th is the phone code's 5th wrong try.
		if l := lockedErr(t, err); !l.Until.Equal(e.clock.Now().Add(time.Hour)) || l.Password {
			t.Fatalf("10th wrong code: %+v, want the step closed for an hour", l)
		}
	}
	lockedAt := e.clock.Now()
	if a := e.account(c); a.MFAFailures != 10 {
		t.Fatalf("failures %d, want 10", a.MFAFailures)
	}
	// Closed for every factor, even with right codes.
	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(c), e.ip))
	e.clock.Advance(30 * time.Second)
	// No message is spent on a code that could not be used.
	sent := rec.Count()
	lockedErr(t, e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip))
	if rec.Count() != sent {
		t.Fatal("a code was sent while the step is closed")
	}
	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, rec.Last(t).Code, e.ip))
	lockedErr(t, e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, c.recovery, e.ip))

	// An hour later a right phone code opens it and clears the count.
	e.clock.Set(lockedAt.Add(time.Hour))
	g := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, g, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, rec.Last(t).Code, e.ip); err != nil {
		t.Fatalf("right code after the hour: %v", err)
	}
	if a := e.account(c); a.MFAFailures != 0 || !a.MFALockedUntil.IsZero() {
		t.Fatalf("after a right code: failures %d, locked until %v", a.MFAFailures, a.MFALockedUntil)
	}
	if _, err := e.svc.Finish(e.ctx, g, "", e.ip); err != nil {
		t.Fatal(err)
	}

	// Ten more wrong in a row close it twice as long only after the 20th;
	// here a run of 10 after a right code is again an hour.
	e.clock.Advance(30 * time.Second)
	h := e.mfaFlow(c)
	for i := 1; i <= 10; i++ {
		if i%5 == 1 { // a fresh code every 5 phone tries
			e.clock.Advance(30 * time.Second)
			if err := e.svc.SendSignInCode(e.ctx, h, "", "ja", e.ip); err != nil {
				t.Fatal(err)
			}
		}
		err := e.svc.SecondFactor(e.ctx, h, portal.MethodPhone, otherCode(rec.Last(t).Code), e.ip)
		if i < 10 && !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("phone-only wrong %d: %v", i, err)
		}
		if i == 10 {
			if l := lockedErr(t, err); !l.Until.Equal(e.clock.Now().Add(time.Hour)) {
				t.Fatalf("10 wrong phone codes: until %v", l.Until)
			}
		}
	}
}

// 「別の方法を試す」 lists every factor the account has, app first.
func TestMethodsWithPhone(t *testing.T) {
	e, rec := phoneEnv(t)
	app, ph, both := e.newCustomer("app@example.jp"), e.newCustomer("phone@example.jp"), e.newCustomer("both@example.jp")
	e.enrol(app)
	e.enrolPhone(rec, ph, mobileJP, notify.SMS)
	e.enrol(both)
	e.addPhone(both, "+818012345678", notify.Voice)
	for _, tc := range []struct {
		c    *customer
		want []portal.Method
	}{
		{app, []portal.Method{portal.MethodTOTP, portal.MethodRecovery}},
		{ph, []portal.Method{portal.MethodPhone, portal.MethodRecovery}},
		{both, []portal.Method{portal.MethodTOTP, portal.MethodPhone, portal.MethodRecovery}},
	} {
		if ms, err := e.svc.Methods(e.ctx, tc.c.acct.ID); err != nil || !slices.Equal(ms, tc.want) {
			t.Errorf("Methods(%s) = %v, %v; want %v", tc.c.email, ms, err, tc.want)
		}
	}
	// Each of them works for the account with both.
	e.clock.Advance(30 * time.Second)
	f := e.mfaFlow(both)
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if s := rec.Last(t); s.To != "+818012345678" || s.Channel != notify.Voice {
		t.Fatalf("sent %+v", s)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.code(both), e.ip); err != nil {
		t.Fatalf("the app while a phone code is in flight: %v", err)
	}
	if _, err := e.svc.Finish(e.ctx, f, "", e.ip); err != nil {
		t.Fatal(err)
	}
}

// A phone-only account steps up with its phone.
func TestStepUpWithPhone(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrolPhone(rec, c, mobileJP, notify.SMS)
	e.clock.Advance(time.Hour)
	si := e.session(token)
	if e.svc.Fresh(si) {
		t.Fatal("fresh after an hour")
	}
	f, err := e.svc.StartStepUp(e.ctx, si, "/security")
	if err != nil {
		t.Fatal(err)
	}
	f = e.reload(f, portal.StateMFA)
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, rec.Last(t).Code, e.ip); err != nil {
		t.Fatal(err)
	}
	renewed, err := e.svc.Finish(e.ctx, f, token, e.ip)
	if err != nil {
		t.Fatal(err)
	}
	e.noSession(token)
	if !e.svc.Fresh(e.session(renewed)) {
		t.Fatal("the renewed session is not fresh")
	}
}

// The security page's reset removes the phone and any code in flight: a
// code sent to another browser's sign-in no longer works.
func TestResetMFARemovesThePhone(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrolPhone(rec, c, mobileJP, notify.SMS)

	e.clock.Advance(time.Minute)
	other := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, other, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	inFlight := rec.Last(t).Code
	if err := e.svc.ResetMFA(e.ctx, e.session(token), e.ip); err != nil {
		t.Fatalf("ResetMFA: %v", err)
	}

	if _, err := e.svc.PhoneFactor(e.ctx, c.acct.ID); !errors.Is(err, portal.ErrNoSuchMethod) {
		t.Fatalf("PhoneFactor after reset: %v, want ErrNoSuchMethod", err)
	}
	if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); len(ms) != 0 {
		t.Fatalf("Methods after reset: %v", ms)
	}
	if _, err := e.svc.SentCodeOf(e.ctx, other); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("the code in flight after reset: %v, want ErrNoPhoneCode", err)
	}
	if err := e.svc.SecondFactor(e.ctx, other, portal.MethodPhone, inFlight, e.ip); err == nil {
		t.Fatal("a code sent before the reset signed in")
	}
	if _, err := e.svc.Finish(e.ctx, other, "", e.ip); err == nil {
		t.Fatal("the other sign-in finished")
	}
	// The next sign-in enrols again; the same number may be enrolled.
	e.clock.Advance(time.Minute)
	e.enrolPhone(rec, c, mobileJP, notify.Voice)
	if p, _ := e.svc.PhoneFactor(e.ctx, c.acct.ID); p.Channel != string(notify.Voice) {
		t.Fatalf("re-enrolled phone %+v", p)
	}
}

// Two enrolment flows of one account (two tabs): once one has enrolled a
// phone, the other cannot add a second one.
func TestSecondPhoneEnrolment(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	tabA, tabB := e.enrolFlow(c), e.enrolFlow(c)
	if err := e.svc.EnrolPhone(e.ctx, tabA, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	codeA := rec.Last(t).Code
	e.clock.Advance(30 * time.Second) // the account's pause between codes
	if err := e.svc.EnrolPhone(e.ctx, tabB, "JP", mobile(1), notify.Voice, "ja", client("198.51.100.1")); err != nil {
		t.Fatal(err)
	}
	codeB := rec.Last(t).Code
	if err := e.svc.ConfirmPhone(e.ctx, tabA, codeA, e.ip); err != nil {
		t.Fatal(err)
	}
	recordedA, _ := e.svc.RecoveryCode(e.reload(tabA, portal.StateRecovery))
	if err := e.svc.ConfirmPhone(e.ctx, tabB, codeB, client("198.51.100.1")); !errors.Is(err, portal.ErrAlreadyEnrolled) {
		t.Fatalf("second phone: %v, want ErrAlreadyEnrolled", err)
	}
	fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID)
	if len(fs) != 1 || fs[0].Secret != e164JP {
		t.Fatalf("factors %+v, want only the first phone", fs)
	}
	// The recovery code the first tab showed still works.
	e.clock.Advance(time.Minute)
	if err := e.svc.SecondFactor(e.ctx, e.mfaFlow(c), portal.MethodRecovery, recordedA, e.ip); err != nil {
		t.Fatalf("first tab's recovery code: %v", err)
	}
}

// An app enrolled in one tab and a phone in another (two enrolment flows
// from one password step each): the recovery code shown, and recorded, in
// the first tab must keep working, as for two apps (TestEnrolmentInTwoTabs).
func TestPhoneEnrolmentAfterAppInAnotherTab(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	tabA, tabB := e.enrolFlow(c), e.enrolFlow(c)
	enA, _ := e.svc.Enrolment(e.ctx, tabA)
	c.seed = enA.Secret
	if err := e.svc.EnrolPhone(e.ctx, tabB, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ConfirmEnrolment(e.ctx, tabA, e.code(c), e.ip); err != nil {
		t.Fatal(err)
	}
	recordedA, _ := e.svc.RecoveryCode(e.reload(tabA, portal.StateRecovery))

	errB := e.svc.ConfirmPhone(e.ctx, tabB, rec.Last(t).Code, e.ip)
	fs, _ := e.svc.Store.FactorsOf(e.ctx, c.acct.ID)
	t.Logf("second tab's ConfirmPhone: %v; factors now %d", errB, len(fs))
	e.wantEnrolledOnce(c, errB)

	e.clock.Advance(time.Minute)
	f := e.mfaFlow(c)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, recordedA, e.ip); err != nil {
		t.Errorf("the recovery code shown (and recorded) in the app tab was replaced by the phone tab's "+
			"ConfirmPhone (err %v, %d factors): %v", errB, len(fs), err)
	}
}

// The 10th wrong try in a row closes the step for every factor; when that
// try is a code past its lifetime, the customer must be told the step is
// closed and until when, not merely that the code expired.
func TestExpiredCodeThatClosesTheStep(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrolPhone(rec, c, mobileJP, notify.SMS)
	e.clock.Advance(time.Minute)
	f := e.mfaFlow(c)
	for i := 1; i <= 9; i++ {
		if i%5 == 1 {
			e.clock.Advance(30 * time.Second)
			if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, otherCode(rec.Last(t).Code), e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	e.clock.Advance(5 * time.Minute) // the code in flight expires
	err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, rec.Last(t).Code, e.ip)
	a := e.account(c)
	t.Logf("10th try (the right code, expired): %v; failures %d, locked until %v", err, a.MFAFailures, a.MFALockedUntil)
	var l *portal.LockedError
	if a.MFALockedUntil.After(e.clock.Now()) && !errors.As(err, &l) {
		t.Errorf("an expired code closed the second-factor step until %v (failures %d) but the answer is %v: "+
			"the customer is told to resend, not that the step is closed", a.MFALockedUntil, a.MFAFailures, err)
	}
}

// A code belongs to the sign-in it was sent for: another flow of the same
// account cannot use it.
func TestPhoneCodeBoundToItsFlow(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrolPhone(rec, c, mobileJP, notify.SMS)
	e.clock.Advance(time.Minute)
	f, g := e.mfaFlow(c), e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	code := rec.Last(t).Code
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, code, e.ip); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("f's code in g: %v, want ErrNoPhoneCode", err)
	}
	e.clock.Advance(30 * time.Second) // the account's pause between codes
	if err := e.svc.SendSignInCode(e.ctx, g, "", "ja", e.ip); err != nil {
		t.Fatalf("g's own code: %v", err)
	}
	if gc := rec.Last(t).Code; gc != code {
		if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, code, e.ip); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("f's code in g: %v, want ErrWrongCode", err)
		}
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, code, e.ip); err != nil {
		t.Fatalf("f's code in f: %v", err)
	}
}

// The limits count messages: a send that another limit refused sent
// nothing, and must not use up this account's own allowance. Here another
// account used up a number's hour; ten refused tries at that number leave
// the customer unable to send a single message to their own number for
// the rest of the hour, having received none.
func TestRefusedSendsDoNotUseUpTheAccountLimit(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.PerNumberHour = 1; c.Phone.PerClientHour = 100 })
	other := e.newCustomer("other@example.jp")
	if err := e.svc.EnrolPhone(e.ctx, e.enrolFlow(other), "JP", mobileJP, notify.SMS, "ja", client("203.0.113.9")); err != nil {
		t.Fatal(err)
	}
	c := e.newCustomer("yamada@example.jp")
	f := e.enrolFlow(c)
	for i := 1; i <= 10; i++ {
		if l := sendLimitErr(t, e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip)); l.Limit != "number" {
			t.Fatalf("try %d: %+v, want the number limit", i, l)
		}
	}
	sentBefore := rec.Count()
	err := e.svc.EnrolPhone(e.ctx, f, "JP", mobile(1), notify.SMS, "ja", e.ip)
	if err != nil {
		t.Errorf("the customer's first message of the hour, to another number, is refused: %v "+
			"(%d messages sent to this account; the 10 sends refused by the number limit were counted against the account limit)",
			err, rec.Count()-sentBefore)
	}
}

// The 30-second pause between codes holds for the account, not only for
// one flow: a new sign-in or step-up started during it sends nothing and
// says how long to wait; the earlier flow's code still works.
func TestResendPauseHoldsAcrossFlows(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	token := e.enrolPhone(rec, c, mobileJP, notify.SMS)
	e.clock.Advance(time.Hour)
	before := rec.Count()

	f := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	sent := rec.Last(t).Code
	e.clock.Advance(10 * time.Second)
	if r := resendErr(t, e.svc.SendSignInCode(e.ctx, e.mfaFlow(c), "", "ja", e.ip)); r.Wait != 20*time.Second {
		t.Fatalf("a new sign-in's code 10 s after another's: wait %v, want 20s", r.Wait)
	}
	up, err := e.svc.StartStepUp(e.ctx, e.session(token), "/security")
	if err != nil {
		t.Fatal(err)
	}
	if r := resendErr(t, e.svc.SendSignInCode(e.ctx, up, notify.Voice, "ja", e.ip)); r.Wait != 20*time.Second {
		t.Fatalf("a step-up's code 10 s after a sign-in's: wait %v, want 20s", r.Wait)
	}
	if n := rec.Count() - before; n != 1 {
		t.Fatalf("%d codes sent during the pause, want 1", n)
	}
	if _, err := e.svc.SentCodeOf(e.ctx, up); !errors.Is(err, portal.ErrNoPhoneCode) {
		t.Fatalf("the refused step-up has a code in flight: %v", err)
	}

	e.clock.Advance(20 * time.Second)
	if err := e.svc.SendSignInCode(e.ctx, up, "", "ja", e.ip); err != nil {
		t.Fatalf("the step-up's code after the pause: %v", err)
	}
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, sent, e.ip); err != nil {
		t.Fatalf("the first flow's code: %v", err)
	}
}

// wrongCode is a six-digit code that is none of those given.
func wrongCode(not ...string) string {
	for n := 0; ; n++ {
		c := fmt.Sprintf("%06d", n)
		if !slices.Contains(not, c) {
			return c
		}
	}
}

// TestEnrolmentEndedMeanwhileAddsNoFactor: a new password (the owner's
// reset by mail, say, against whoever else knew the old one) ends the
// account's sign-ins in progress. An enrolment whose request loaded its
// flow just before must then add no factor: it would have stayed on the
// account, someone else's authenticator or phone, which the owner's next
// sign-in asked for, while that enrolment went on to no session.
func TestEnrolmentEndedMeanwhileAddsNoFactor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		confirm func(e *env, rec *testkit.Sender, c *customer, f *portal.Flow) error
	}{
		{"app", func(e *env, rec *testkit.Sender, c *customer, f *portal.Flow) error {
			en, err := e.svc.Enrolment(e.ctx, f)
			if err != nil {
				e.t.Fatal(err)
			}
			c.seed = en.Secret
			return e.svc.ConfirmEnrolment(e.ctx, f, e.code(c), e.ip)
		}},
		{"phone", func(e *env, rec *testkit.Sender, c *customer, f *portal.Flow) error {
			if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", e.ip); err != nil {
				e.t.Fatal(err)
			}
			return e.svc.ConfirmPhone(e.ctx, f, rec.Last(e.t).Code, e.ip)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, rec := phoneEnv(t)
			e.withMail()
			c := e.newCustomer("yamada@example.jp")
			f := e.enrolFlow(c)
			if err := e.svc.ResetPassword(e.ctx, e.resetLink(c), "a new long passphrase", e.ip); err != nil {
				t.Fatal(err)
			}
			if err := tc.confirm(e, rec, c, f); err == nil {
				t.Fatal("the enrolment of a sign-in that a new password ended went on")
			}
			if ms, _ := e.svc.Methods(e.ctx, c.acct.ID); len(ms) != 0 {
				t.Fatalf("the account has %v after an enrolment that a new password ended", ms)
			}
		})
	}
}

// TestWrongCodesPerNumber: wrong codes are counted per phone number too
// (DESIGN.md), over the sign-ins of every account that enrolled it and
// from any address: past phone.wrong_per_number_hour in an hour, every
// code sent to the number is refused, a right one too, until the hour
// ends, and the refusal counts against no account. Wrong codes typed at
// enrolments, to a number whoever enrols may type, count apart, as the
// messages do: they cannot close the number's sign-ins.
func TestWrongCodesPerNumber(t *testing.T) {
	e, rec := phoneEnv(t, func(c *config.Config) { c.Phone.WrongPerNumberHour = 3 })
	yamada, sato := e.newCustomer("yamada@example.jp"), e.newCustomer("sato@example.jp")
	e.enrolPhone(rec, yamada, mobileJP, notify.SMS)
	e.enrolPhone(rec, sato, mobileJP, notify.SMS) // a family's one phone
	e.clock.Set(e.clock.Now().Truncate(time.Hour).Add(time.Hour + time.Minute))

	// Three enrolments' wrong codes to the same number, by someone else.
	for i := range 3 {
		other := e.newCustomer(fmt.Sprintf("other%d@example.jp", i))
		f := e.enrolFlow(other)
		if err := e.svc.EnrolPhone(e.ctx, f, "JP", mobileJP, notify.SMS, "ja", client(fmt.Sprintf("198.51.100.%d", i))); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ConfirmPhone(e.ctx, f, otherCode(rec.Last(t).Code), client(fmt.Sprintf("198.51.100.%d", i))); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("enrolment's wrong code %d: %v", i+1, err)
		}
	}

	signIn := func(c *customer) (*portal.Flow, string) {
		t.Helper()
		f := e.mfaFlow(c)
		if err := e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip); err != nil {
			t.Fatal(err)
		}
		return f, rec.Last(t).Code
	}
	f, code := signIn(yamada)
	for i := range 2 {
		if err := e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, otherCode(code), client(fmt.Sprintf("203.0.113.%d", i))); !errors.Is(err, portal.ErrWrongCode) {
			t.Fatalf("yamada's wrong code %d: %v", i+1, err)
		}
	}
	e.clock.Advance(time.Minute)
	g, code := signIn(sato)
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, otherCode(code), client("203.0.113.9")); !errors.Is(err, portal.ErrWrongCode) {
		t.Fatalf("sato's wrong code: %v", err)
	}
	err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, code, client("203.0.113.10"))
	var l *portal.LockedError
	if !errors.As(err, &l) || !l.Number || l.Client {
		t.Fatalf("a right code after the number's wrong ones: %v, want a *LockedError for the number", err)
	}
	if want := e.clock.Now().Truncate(time.Hour).Add(time.Hour); !l.Until.Equal(want) {
		t.Errorf("refused until %v, want the hour's end %v", l.Until, want)
	}
	if a := e.account(sato); a.MFAFailures != 1 {
		t.Errorf("sato's failures %d, want 1: the refusal counts against no account", a.MFAFailures)
	}
	if !e.audited(sato.acct.ID, store.ActionMFAPhone, "throttled_number") {
		t.Error("the refusal is not in the audit log as throttled_number")
	}
	e.clock.Set(e.clock.Now().Truncate(time.Hour).Add(time.Hour))
	g, code = signIn(sato)
	if err := e.svc.SecondFactor(e.ctx, g, portal.MethodPhone, code, client("203.0.113.10")); err != nil {
		t.Fatalf("the right code in the next hour: %v", err)
	}
}

// TestPhoneCodeFormSentTwice: the phone code form of one sign-in sent twice
// (a double click), both requests having loaded the flow first. The first
// signs in and spends the code; the second hears that the sign-in ended,
// not that no code was sent, and nothing counts it.
func TestPhoneCodeFormSentTwice(t *testing.T) {
	e, rec := phoneEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrolPhone(rec, c, mobileJP, notify.SMS)
	f := e.mfaFlow(c)
	if err := e.svc.SendSignInCode(e.ctx, f, notify.SMS, "ja", e.ip); err != nil {
		t.Fatal(err)
	}
	again := e.reload(f, portal.StateMFA)
	code := rec.Last(t).Code
	if token, err := e.svc.SecondFactorThenFinish(e.ctx, f, portal.MethodPhone, code, "", e.ip); err != nil || token == "" {
		t.Fatalf("first: %q, %v", token, err)
	}
	if token, err := e.svc.SecondFactorThenFinish(e.ctx, again, portal.MethodPhone, code, "", e.ip); !errors.Is(err, portal.ErrFlowFinished) || token != "" {
		t.Fatalf("the same form again: %q, %v; want ErrFlowFinished", token, err)
	}
	if a := e.account(c); a.MFAFailures != 0 {
		t.Errorf("failures %d, want 0", a.MFAFailures)
	}
}
