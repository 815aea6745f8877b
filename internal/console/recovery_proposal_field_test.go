package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestRecoveryDecisionWithoutProposal: an approval or a rejection whose
// form lacks the proposal it decides, or names it with what is no time, is
// refused as a malformed form (400, said so), changes nothing and is not
// recorded, where it said the proposal was decided already (409), which
// was untrue. A well-formed proposal that is not the open one is still
// stale (409).
func TestRecoveryDecisionWithoutProposal(t *testing.T) {
	s := newSite(t)
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	s.waitingRecovery("rec-1", a)
	kim.post("/recoveries/rec-1/propose", "reason", "電話で確認")
	before := s.recovery("rec-1")
	acts := len(s.auditActions(a.ID))

	for _, decision := range []string{"approve", "reject"} {
		for _, form := range [][]string{nil, {"proposal", ""}, {"proposal", "abc"}, {"proposal", "-5"}, {"proposal", "0"}, {"proposal", "1.5"}} {
			resp, body := boss.post("/recoveries/rec-1/"+decision, form...)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "どの早期承認の依頼への操作か、送信された内容からわかりませんでした。") ||
				strings.Contains(body, "既に承認・却下または取り下げされています") {
				t.Errorf("%s with %q: %d, want 400 saying the form is wrong\n%s", decision, form, resp.StatusCode, body)
			}
		}
	}
	// Confirmed, as the confirmation page or its dialog posts it: the
	// question comes before the form is read.
	resp, body := boss.do("POST", "/recoveries/rec-1/approve", url.Values{"confirmed": {"1"}}, "Accept-Language", "en")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "The form did not say which proposal it decides.") {
		t.Errorf("approve without the proposal, in English: %d\n%s", resp.StatusCode, body)
	}
	if got := s.recovery("rec-1"); got.ApprovedBy != "" || !got.Proposed() || !got.ProposedAt.Equal(before.ProposedAt) ||
		!got.EffectiveAt.Equal(before.EffectiveAt) || s.approvalMails(a) != 0 {
		t.Errorf("a malformed decision changed the request: %+v", got)
	}
	if n := len(s.auditActions(a.ID)); n != acts {
		t.Errorf("a malformed decision was recorded: %d events, want %d", n, acts)
	}

	// A time that is not the open proposal's is a stale decision, as before.
	if resp, body := boss.post("/recoveries/rec-1/approve", "proposal", "1"); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "既に承認・却下または取り下げされています") {
		t.Errorf("approve another proposal: %d, want 409\n%s", resp.StatusCode, body)
	}
}
