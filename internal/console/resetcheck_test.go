package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// customerWithApp opens an activated account whose authenticator app
// works (customerWithFactor's seed is no real one) and returns its seed.
func (s *site) customerWithApp(email string) (*store.Account, string) {
	s.t.Helper()
	ctx := s.t.Context()
	a, _, err := s.svc.OpenAccount(ctx, email, "山田 太郎", "operator:test")
	if err != nil {
		s.t.Fatal(err)
	}
	seed := mfa.NewTOTPSecret()
	if err := s.db.AddFirstFactor(ctx, &store.Factor{ID: secret.ID(), AccountID: a.ID, Kind: store.FactorTOTP,
		Secret: s.svc.Keys.Encrypt(seed, a.ID), CreatedAt: s.clock.Now()}); err != nil {
		s.t.Fatal(err)
	}
	return a, seed
}

// TestResetNotApprovedAfterFactorUsed: a reset is asked for a customer who
// "lost their phone" (a caller may say so of anyone's account); when the
// customer's authenticator is used after the request, the approval is
// refused (409, said, recorded) and removes nothing, and the request is
// rejected instead. Wrong codes since, or the factor used before the
// request, do not stand in the way.
func TestResetNotApprovedAfterFactorUsed(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	code := func(seed string) string {
		c, err := mfa.TOTPCode(seed, s.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	a, seed := s.customerWithApp("yamada@example.jp")
	if err := s.svc.VerifyTOTP(ctx, a, code(seed), portal.Client{}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Minute)
	kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "電話で端末紛失の申告")
	req := s.openReset(a.ID)
	// Who asked is named by address, as in the audit log.
	for _, path := range []string{"/customers/" + a.ID, "/resets"} {
		if _, body := boss.get(path); !strings.Contains(body, "kim@tobira.example") || strings.Contains(body, ">operator:") || strings.Contains(body, "operator:kim@tobira.example が") {
			t.Errorf("%s does not name the requester by address alone", path)
		}
	}
	s.clock.Advance(time.Minute)
	// The customer, who has the phone, signs in with it.
	if err := s.svc.VerifyTOTP(ctx, a, code(seed), portal.Client{}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Minute)
	s.approvalRefused(boss, a, req, "二要素認証を使ったか変更した")

	// Another customer: the factor used before the request, wrong codes
	// after it. The approval goes through.
	b, seed := s.customerWithApp("sato@example.jp")
	if err := s.svc.VerifyTOTP(ctx, b, code(seed), portal.Client{}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Minute)
	kim.post("/customers/"+b.ID+"/reset-mfa", "reset_reason", "端末紛失")
	req = s.openReset(b.ID)
	wrong := "000000"
	if code(seed) == wrong {
		wrong = "111111"
	}
	if err := s.svc.VerifyTOTP(ctx, b, wrong, portal.Client{}); err == nil {
		t.Fatal("a wrong code was accepted")
	}
	resp, body := boss.post("/resets/" + req.ID + "/approve")
	if resp.Request.URL.Path != "/resets" || resp.StatusCode != 200 || s.factors(b.ID) != 0 {
		t.Fatalf("approval: %s %d, %d factors\n%s", resp.Request.URL.Path, resp.StatusCode, s.factors(b.ID), body)
	}
}

// TestResetNotApprovedAfterRequesterDisabled: an operator asks for a reset
// and is disabled before it is approved (they left, or misused the
// console): the approver relied on their word, and the approval is refused
// (409, said, recorded) and removes nothing; a rejection still goes.
func TestResetNotApprovedAfterRequesterDisabled(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "電話で本人確認済み、端末紛失")
	req := s.openReset(a.ID)
	if _, err := console.DisableOperator(t.Context(), s.svc, s.db, "kim@tobira.example", "operator:boss@tobira.example"); err != nil {
		t.Fatal(err)
	}
	s.approvalRefused(boss, a, req, "無効にされた")
}

// approvalRefused: boss's approval of req, a's open reset request, is
// refused (409, with why in the page), removes nothing, sends nothing and
// leaves the request open, is recorded as outdated, and the request can
// still be rejected.
func (s *site) approvalRefused(boss *browser, a *store.Account, req *store.ResetRequest, why string) {
	s.t.Helper()
	resp, body := boss.post("/resets/" + req.ID + "/approve")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, why) {
		s.t.Fatalf("approval: %d, want 409 saying %q\n%s", resp.StatusCode, why, body)
	}
	if s.factors(a.ID) != 1 || s.resetMails(a.Email) != 0 || !s.openReset(a.ID).Open() {
		s.t.Fatal("a refused approval changed something")
	}
	acts := strings.Join(s.auditActions(a.ID), "\n")
	if !strings.Contains(acts, "operator:boss@tobira.example mfa.reset_approve outdated") {
		s.t.Errorf("audit lacks the refused approval:\n%s", acts)
	}
	if resp, _ := boss.post("/resets/" + req.ID + "/reject"); resp.Request.URL.Path != "/resets" || resp.StatusCode != 200 {
		s.t.Errorf("reject: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
}
