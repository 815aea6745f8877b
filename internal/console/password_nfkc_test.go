package console_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
)

// An operator's password as a Japanese input method types it full-width,
// and in ASCII: one password once normalised (NFKC), which is hashed.
const (
	opFullWidth = "ｋｉｍｕｒａの鍵２０２６"
	opASCII     = "kimuraの鍵2026"
)

// TestOperatorPasswordEitherWidth: an operator created with a full-width
// password (`operators create`) signs in typing it in ASCII; one who
// changes their own to ASCII, confirming it full-width, signs in typing it
// full-width.
func TestOperatorPasswordEitherWidth(t *testing.T) {
	s := newSite(t)
	n, err := console.CreateOperator(t.Context(), s.svc, s.db, "kim@tobira.example", "木村", store.RoleSupport, opFullWidth, "operator:cli")
	if err != nil {
		t.Fatal(err)
	}
	b, at := s.signInAs("kim@tobira.example", opASCII, n.TOTPSecret)
	if at != "/customers" {
		t.Fatalf("created full-width, signed in in ASCII: at %s", at)
	}
	const next = "ｎｅｗ－ｐａｓｓ－２０２７の鍵"
	resp, body := b.post("/password", "current", opFullWidth, "new", "new-pass-2027の鍵", "confirm", next)
	if resp.Request.URL.Path != "/customers" {
		t.Fatalf("own change with the confirmation full-width: at %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if _, at := s.signInAs("kim@tobira.example", next, n.TOTPSecret); at != "/customers" {
		t.Errorf("changed in ASCII, signed in full-width: at %s", at)
	}
}

// TestOperatorPasswordSetBeforeNormalisation: an operator whose full-width
// password was hashed as typed, before passwords were normalised, signs in
// with it as before; the sign-in hashes it again over its NFKC form and
// keeps everything else: the sign-in goes on to the code, and the
// operator's session in another browser stays. From then on it signs in
// typed in ASCII too, which before was a wrong password.
func TestOperatorPasswordSetBeforeNormalisation(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	n, err := console.CreateOperator(ctx, s.svc, s.db, "kim@tobira.example", "木村", store.RoleSupport, opFullWidth, "operator:cli")
	if err != nil {
		t.Fatal(err)
	}
	other, at := s.signInAs("kim@tobira.example", opFullWidth, n.TOTPSecret)
	if at != "/customers" {
		t.Fatalf("at %s", at)
	}
	legacy := testkit.AsTypedHash(s.svc.Config.Argon2, opFullWidth)
	if err := s.db.RehashOperatorPassword(ctx, n.Operator.ID, n.Operator.PasswordHash, legacy); err != nil {
		t.Fatal(err)
	}
	resp, _ := s.browser().post("/login", "email", "kim@tobira.example", "password", opASCII)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("ASCII against the hash as typed: %d, want 401", resp.StatusCode)
	}
	if _, at := s.signInAs("kim@tobira.example", opFullWidth, n.TOTPSecret); at != "/customers" {
		t.Fatalf("the password typed as it was set: at %s", at)
	}
	op, err := s.db.OperatorByEmail(ctx, "kim@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	if op.PasswordHash == legacy {
		t.Fatal("the hash over the password as typed was kept")
	}
	if resp, _ := other.get("/customers"); resp.Request.URL.Path != "/customers" {
		t.Errorf("the rehash ended the session in the other browser: at %s", resp.Request.URL.Path)
	}
	if _, at := s.signInAs("kim@tobira.example", opASCII, n.TOTPSecret); at != "/customers" {
		t.Errorf("after the rehash, ASCII: at %s", at)
	}
}

// TestOperatorUnknownAddressHashesAsMany: a wrong password costs the same
// hashes for an unknown address as for an operator's: one, also for a
// password whose NFKC form differs from what was typed, since the
// operator's hash is marked as over the NFKC form (account.Hasher.Verify).
func TestOperatorUnknownAddressHashesAsMany(t *testing.T) {
	s := newSite(t)
	s.operator("kim@tobira.example", store.RoleSupport)
	for _, email := range []string{"nobody@tobira.example", "kim@tobira.example", "nobody@tobira.example"} {
		s.clock.Advance(time.Hour) // past the throttle
		before, _ := s.svc.Hasher.Hashed()
		resp, _ := s.browser().post("/login", "email", email, "password", "ｗｒｏｎｇ ｐａｓｓｗｏｒｄ")
		after, _ := s.svc.Hasher.Hashed()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %d, want 401", email, resp.StatusCode)
		}
		if after-before != 1 {
			t.Errorf("a wrong full-width password for %s: %d hashes, want 1", email, after-before)
		}
	}
}
