package console_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/store"
)

// wantSignedOut fails unless b's console session is gone.
func (b *browser) wantSignedOut(what string) {
	b.s.t.Helper()
	if resp, _ := b.get("/customers"); resp.Request.URL.Path != "/login" {
		b.s.t.Errorf("%s: /customers went to %s", what, resp.Request.URL.Path)
	}
}

func TestDisableOperator(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	otherSeed := s.operator("sato@tobira.example", store.RoleAdmin)
	b := s.signIn("kim@tobira.example", seed)
	other := s.signIn("sato@tobira.example", otherSeed)

	op, err := console.DisableOperator(ctx, s.svc, s.db, "Kim@Tobira.Example", "operator:cli")
	if err != nil || !op.Disabled || op.Email != "kim@tobira.example" {
		t.Fatalf("DisableOperator: %+v, %v", op, err)
	}
	b.wantSignedOut("right after disable")
	if resp, _ := other.get("/customers"); resp.Request.URL.Path != "/customers" || resp.StatusCode != http.StatusOK {
		t.Errorf("another operator after disable: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	if resp, _ := s.browser().post("/login", "email", "kim@tobira.example", "password", password); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("password of a disabled operator: %d", resp.StatusCode)
	}
	if _, err := console.DisableOperator(ctx, s.svc, s.db, "kim@tobira.example", "operator:cli"); !errors.Is(err, console.ErrOperatorDisabled) {
		t.Errorf("disable twice: %v", err)
	}

	if op, err := console.EnableOperator(ctx, s.svc, s.db, "kim@tobira.example", "operator:cli"); err != nil || op.Disabled {
		t.Fatalf("EnableOperator: %+v, %v", op, err)
	}
	// The session was deleted, not only refused while disabled.
	b.wantSignedOut("after enable")
	if _, err := console.EnableOperator(ctx, s.svc, s.db, "kim@tobira.example", "operator:cli"); !errors.Is(err, console.ErrOperatorEnabled) {
		t.Errorf("enable twice: %v", err)
	}
	s.clock.Advance(mfa.Period * time.Second) // the code of the first sign-in's step is spent
	s.signIn("kim@tobira.example", seed)

	if _, err := console.DisableOperator(ctx, s.svc, s.db, "nobody@tobira.example", "operator:cli"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("disable an unknown operator: %v", err)
	}
	if _, err := console.EnableOperator(ctx, s.svc, s.db, "nobody@tobira.example", "operator:cli"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enable an unknown operator: %v", err)
	}
	acts := strings.Join(s.auditActions(""), "\n")
	for _, want := range []string{"operator:cli operator.disable ok", "operator:cli operator.enable ok"} {
		if strings.Count(acts, want) != 1 {
			t.Errorf("audit should hold %q once:\n%s", want, acts)
		}
	}
}

func TestResetOperatorTOTP(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	b := s.signIn("kim@tobira.example", seed)
	// Another browser closes the code step with wrong codes.
	locked := s.browser()
	locked.post("/login", "email", "kim@tobira.example", "password", password)
	code, _ := mfa.TOTPCode(seed, s.clock.Now())
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range mfa.FailuresPerLock {
		locked.post("/login/code", "code", wrong)
	}

	n, err := console.ResetOperatorTOTP(ctx, s.svc, s.db, "KIM@tobira.example", "operator:cli")
	if err != nil {
		t.Fatal(err)
	}
	if n.TOTPSecret == "" || n.TOTPSecret == seed || !strings.HasPrefix(n.TOTPURI, "otpauth://totp/") ||
		!strings.Contains(n.TOTPURI, n.TOTPSecret) || n.Operator.Email != "kim@tobira.example" {
		t.Errorf("ResetOperatorTOTP: %+v", n)
	}
	b.wantSignedOut("right after reset")

	// In the same TOTP step as the first sign-in: the new seed's code passes
	// only because the step and the lock start again.
	c := s.browser()
	c.post("/login", "email", "kim@tobira.example", "password", password)
	if resp, _ := c.post("/login/code", "code", code); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old seed's code after reset: %d", resp.StatusCode)
	}
	s.signIn("kim@tobira.example", n.TOTPSecret)

	if _, err := console.ResetOperatorTOTP(ctx, s.svc, s.db, "nobody@tobira.example", "operator:cli"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown operator: %v", err)
	}
	if acts := s.auditActions(""); !strings.Contains(strings.Join(acts, "\n"), "operator:cli operator.reset_2fa ok") {
		t.Errorf("audit lacks the reset:\n%s", strings.Join(acts, "\n"))
	}
}
