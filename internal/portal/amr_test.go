package portal_test

import (
	"slices"
	"testing"

	"github.com/tobira/tobira/internal/notify"
	"github.com/tobira/tobira/internal/portal"
)

// A session remembers how its customer proved who they are (RFC 8176), for
// the amr claim of ID tokens.
func TestSessionAMR(t *testing.T) {
	e, rec := phoneEnv(t)
	app := e.newCustomer("yamada@example.jp")
	if got := e.session(e.enrol(app)).Session.AMR; !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("app enrolment: amr %v", got)
	}
	if got := e.session(e.signIn(app)).Session.AMR; !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("app sign-in: amr %v", got)
	}
	voice := e.newCustomer("sato@example.jp")
	if got := e.session(e.enrolPhone(rec, voice, "090-1234-5678", notify.Voice)).Session.AMR; !slices.Equal(got, []string{"pwd", "tel", "mfa"}) {
		t.Errorf("voice enrolment: amr %v", got)
	}
	// A recovery code proves no more than the password and a second factor.
	f := e.mfaFlow(voice)
	if err := e.svc.SecondFactor(e.ctx, f, portal.MethodRecovery, voice.recovery, e.ip); err != nil {
		t.Fatal(err)
	}
	f = e.reload(f, portal.StateRecovery)
	token, err := e.svc.Finish(e.ctx, f, "", e.ip)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.session(token).Session.AMR; !slices.Equal(got, []string{"pwd", "mfa"}) {
		t.Errorf("recovery code: amr %v", got)
	}
}
