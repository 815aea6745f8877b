package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tobira/tobira/internal/testkit"
)

// One password as a Japanese input method types it full-width, and in
// ASCII: the same once normalised (NFKC), which is what is hashed.
const (
	typedFullWidth = "ｔｏｂｉｒａの扉２０２６"
	typedASCII     = "tobiraの扉2026"
)

// TestPasswordEitherWidthOverHTTP: a password set full-width on the
// security page's change signs in typed in ASCII, and one set in ASCII by
// a forgotten password's reset signs in typed full-width; the confirmation
// may be typed the other way, as it is the same password.
func TestPasswordEitherWidthOverHTTP(t *testing.T) {
	s := newSite(t).withMail()
	c, b := s.enrolled()

	r := b.post("/security/password", changeForm(c.password, typedFullWidth, typedASCII))
	expect(t, r, http.StatusSeeOther, "/security")
	for _, pw := range []string{typedASCII, typedFullWidth} {
		if !s.passwordSignsIn(c, pw) {
			t.Errorf("set full-width on the security page, %q does not sign in", pw)
		}
	}

	other := s.browser()
	other.forgot(c.email)
	token := mustQuery(t, s.resetPath(c.email), "token")
	const next = "ｍｏｎ－２０２７の扉の鍵"
	r = other.post("/reset-password", url.Values{"token": {token}, "password": {"mon-2027の扉の鍵"}, "confirm": {next}})
	expect(t, r, http.StatusSeeOther, "/login?e=password_reset")
	for _, pw := range []string{next, "mon-2027の扉の鍵", typedFullWidth} {
		if got, want := s.passwordSignsIn(c, pw), pw != typedFullWidth; got != want {
			t.Errorf("reset in ASCII, %q signs in: %v, want %v", pw, got, want)
		}
	}
}

// TestActivationFullWidthOverHTTP: the first password, set full-width from
// the activation mail's link, signs in typed in ASCII.
func TestActivationFullWidthOverHTTP(t *testing.T) {
	s := newSite(t)
	a, link, err := s.svc.OpenAccount(s.ctx, "new@example.jp", "新規 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	token := mustQuery(t, link, "token")
	r := s.browser().post("/activate", url.Values{"token": {token}, "password": {typedFullWidth}, "confirm": {typedFullWidth}})
	expect(t, r, http.StatusSeeOther, "/login?e=activated")
	if !s.passwordSignsIn(&customer{email: a.Email, acct: a}, typedASCII) {
		t.Errorf("activated with %q, %q does not sign in", typedFullWidth, typedASCII)
	}
}

// TestPasswordSetBeforeNormalisationOverHTTP: a customer whose full-width
// password was hashed as typed, before passwords were normalised, signs
// in with it as before; the sign-in hashes it again over its NFKC form,
// and from then on it signs in typed in ASCII too. Before, ASCII is a
// wrong password, answered as any.
func TestPasswordSetBeforeNormalisationOverHTTP(t *testing.T) {
	s := newSite(t)
	c, _ := s.enrolled()
	if err := s.svc.Store.SetPasswordHash(s.ctx, c.acct.ID, testkit.AsTypedHash(s.svc.Config.Argon2, typedFullWidth)); err != nil {
		t.Fatal(err)
	}
	r := s.browser().post("/login", url.Values{"email": {c.email}, "password": {typedASCII}})
	expect(t, r, http.StatusUnauthorized, "")
	contains(t, r, msgBadCredentials)
	for _, pw := range []string{typedFullWidth, typedASCII} {
		if !s.passwordSignsIn(c, pw) {
			t.Errorf("%q does not sign in", pw)
		}
	}
}

// TestPasswordNormalisedOverHTTP: what the form says of a password is said
// of its normalised form: one long enough only as typed is too short, in
// the customer's language, and the current password typed the other way
// is no new one. Neither changes the password.
func TestPasswordNormalisedOverHTTP(t *testing.T) {
	s := newSite(t).withMail()
	c, b := s.enrolled()
	hash := s.account(c).PasswordHash
	const short = "ｶﾞｷﾞｸﾞｹﾞｺﾞｶﾞｷﾞ" // 14 characters typed, ガギグゲゴガギ: 7
	for _, tc := range []struct{ lang, next, msg string }{
		{"", short, "パスワードは10文字以上にしてください。"},
		{"en", short, "Use at least 10 characters."},
		{"", "ｃｏｒｒｅｃｔ\u3000ｈｏｒｓｅ\u3000ｂａｔｔｅｒｙ", "新しいパスワードには、現在のパスワードと異なるものを入力してください。"},
	} {
		b.lang = tc.lang
		r := b.post("/security/password", changeForm(c.password, tc.next, tc.next))
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, tc.msg)
	}
	if s.account(c).PasswordHash != hash {
		t.Error("a refused password changed the hash")
	}
}
