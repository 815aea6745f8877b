package portal_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/portal"
)

// TestStepUpOfAnEndedSessionChecksNothing: a step-up renews one session; once that has
// ended (signed out elsewhere while the screen was open, or expired), no
// code is checked for it and none is sent, and the flow says it expired
// (ErrFlowExpired), changing nothing: no TOTP step is taken, no wrong code
// counted, no recovery code spent and replaced, no text sent, nothing
// recorded. Finish refused such a step-up already, but only after the code
// had been checked and its effects committed, for a session that could
// no longer be renewed.
func TestStepUpOfAnEndedSessionChecksNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(e *env, token string)
	}{
		{"signed out", func(e *env, token string) {
			if err := e.svc.SignOut(e.ctx, e.session(token), e.ip); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"expired", func(e *env, token string) {
			e.clock.Advance(6 * time.Minute)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, rec := phoneEnv(t)
			c := e.newCustomer("yamada@example.jp")
			token := e.enrol(c)
			e.addPhone(c, e164JP, "sms")
			// Five minutes before the session's end, the security page
			// asks for the second factor again.
			e.clock.Advance(e.svc.Config.SessionTTL.Duration - 5*time.Minute)
			up, err := e.svc.StartStepUp(e.ctx, e.session(token), "/security")
			if err != nil {
				t.Fatal(err)
			}
			// A text is on its way when the session ends.
			if err := e.svc.SendSignInCode(e.ctx, e.reload(up, portal.StateMFA), "", "ja", e.ip); err != nil {
				t.Fatal(err)
			}
			sent := rec.Count()
			tc.end(e, token)

			before, err := e.st.AuditOf(e.ctx, c.acct.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			factors, err := e.st.FactorsOf(e.ctx, c.acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, try := range []struct {
				what string
				do   func(f *portal.Flow) error
			}{
				{"the app's code", func(f *portal.Flow) error {
					_, err := e.svc.SecondFactorThenFinish(e.ctx, f, portal.MethodTOTP, e.code(c), token, e.ip)
					return err
				}},
				{"a wrong code", func(f *portal.Flow) error {
					return e.svc.SecondFactor(e.ctx, f, portal.MethodTOTP, e.wrongCode(c), e.ip)
				}},
				{"the recovery code", func(f *portal.Flow) error {
					return e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, c.recovery, e.ip)
				}},
				{"a text", func(f *portal.Flow) error { return e.svc.SendSignInCode(e.ctx, f, "", "ja", e.ip) }},
				{"a resend", func(f *portal.Flow) error { return e.svc.ResendCode(e.ctx, f, "voice", "ja", e.ip) }},
				{"the text's code", func(f *portal.Flow) error {
					return e.svc.SecondFactor(e.ctx, f, portal.MethodPhone, rec.Last(t).Code, e.ip)
				}},
			} {
				// Each as the request that loaded the flow sends it.
				if err := try.do(e.reload(up, portal.StateMFA)); !errors.Is(err, portal.ErrFlowExpired) {
					t.Errorf("%s for the step-up of an ended session: %v, want ErrFlowExpired", try.what, err)
				}
			}
			if n := rec.Count() - sent; n != 0 {
				t.Errorf("%d texts sent", n)
			}
			if a := e.account(c); a.MFAFailures != 0 {
				t.Errorf("%d wrong codes counted", a.MFAFailures)
			}
			after, err := e.st.AuditOf(e.ctx, c.acct.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("%d events recorded, the newest %+v", len(after)-len(before), after[0])
			}
			now, err := e.st.FactorsOf(e.ctx, c.acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i := range now {
				if now[i].LastStep != factors[i].LastStep {
					t.Errorf("the %s factor's last step moved from %d to %d", now[i].Kind, factors[i].LastStep, now[i].LastStep)
				}
			}
			// The recovery code is still the customer's.
			e.clock.Advance(time.Hour)
			g := e.passwordStep(c)
			if err := e.svc.SecondFactor(e.ctx, g, portal.MethodRecovery, c.recovery, e.ip); err != nil {
				t.Errorf("the recovery code after the refused step-up: %v", err)
			}
		})
	}
}
