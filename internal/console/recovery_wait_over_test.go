package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// TestRecoveryWaitOver: a recovery request whose period ran out without an
// early approval still waits, listed, for the customer's next sign-in,
// which enrols anew. Both pages say so, 「待機期間終了 (次回ログインで再登
// 録)」, not 「待機中」, and offer no early approval: a proposal made within
// the period lapsed with it, and is neither approved, rejected nor
// withdrawn. A form opened before the period ended is refused with a
// message saying why (409), changes nothing and mails nothing.
func TestRecoveryWaitOver(t *testing.T) {
	s := newSite(t)
	kimSeed := s.operator("kim@tobira.example", store.RoleSupport)
	bossSeed := s.operator("boss@tobira.example", store.RoleAdmin)
	a := s.customerWithFactor("yamada@example.jp")
	b := s.customerWithFactor("suzuki@example.jp")
	// Both confirmed at t0 + a minute, effective 72 hours later.
	s.waitingRecovery("rec-a", a)
	s.waitingRecovery("rec-b", b)
	effective := t0.Add(time.Minute + 72*time.Hour)
	section := func(body string) string {
		t.Helper()
		for _, h := range []string{"<h2>二要素認証の復旧申請</h2>", "<h2>Second-factor recovery request</h2>"} {
			if i := strings.Index(body, h); i >= 0 {
				body = body[i:]
				if j := strings.Index(body[len(h):], "<h2>"); j >= 0 {
					return body[:len(h)+j]
				}
				return body
			}
		}
		t.Fatalf("no recovery section:\n%s", body)
		return ""
	}
	// row is the request's row on the recoveries page.
	row := func(body, id string) string {
		t.Helper()
		i := strings.Index(body, `<tr id="recovery-`+id+`">`)
		if i < 0 {
			t.Fatalf("no row of %s:\n%s", id, body)
		}
		body = body[i:]
		if j := strings.Index(body, "</tr>"); j >= 0 {
			body = body[:j]
		}
		return body
	}
	check := func(what, body string, want, unwanted []string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, body)
			}
		}
		for _, u := range unwanted {
			if strings.Contains(body, u) {
				t.Errorf("%s shows %q:\n%s", what, u, body)
			}
		}
	}

	// A minute before the end of the period: waiting, and kim proposes
	// b's early approval.
	s.clock.Advance(72 * time.Hour)
	kim := s.signIn("kim@tobira.example", kimSeed)
	_, list := kim.get("/recoveries")
	check("rec-a's row within the period", row(list, "rec-a"), []string{"待機中", "/recoveries/rec-a/propose"}, []string{"待機期間終了"})
	if resp, _ := kim.post("/recoveries/rec-b/propose", "reason", "電話で登録住所と生年月日を確認"); resp.StatusCode != http.StatusOK {
		t.Fatalf("propose within the period: %d", resp.StatusCode)
	}
	read := s.proposal("rec-b") // as the pages opened now carry it

	// Its end: the customer re-enrols at the next sign-in.
	s.clock.Advance(time.Minute)
	kim = s.signIn("kim@tobira.example", kimSeed)
	boss := s.signIn("boss@tobira.example", bossSeed)
	_, page := kim.get("/customers/" + a.ID)
	check("a's page", section(page), []string{"待機期間終了 (次回ログインで再登録)", "有効になる日時</dt><dd>2026-04-04 09:01:05",
		"待機期間が終わっているため、早期承認は不要です。", `href="/recoveries?from=%2fcustomers%2f` + a.ID + `#recovery-rec-a"`},
		[]string{"待機中", "処理待ちの申請はありません。"})
	_, page = kim.do("GET", "/customers/"+a.ID, nil, "Accept-Language", "en")
	check("a's page in English", section(page), []string{"wait over: enrols anew at the next sign-in",
		"The waiting period is over, so no early approval is needed"}, []string{">waiting<"})
	_, page = boss.get("/customers/" + b.ID)
	check("b's page", section(page), []string{"待機期間終了 (次回ログインで再登録)",
		"kim@tobira.example が 2026-04-04 09:00:05 に早期承認を依頼 (承認されないまま待機期間が終了)",
		"本人確認: 電話で登録住所と生年月日を確認"},
		[]string{"待機中", "別のオペレーターの承認待ち"})

	// Still listed, without the actions of an early approval.
	_, list = boss.get("/recoveries")
	check("rec-a's row", row(list, "rec-a"), []string{"待機期間終了 (次回ログインで再登録)", "待機期間が終わっているため、早期承認は不要です。"},
		[]string{"待機中", "/recoveries/rec-a/"})
	check("rec-b's row for another operator", row(list, "rec-b"), []string{"待機期間終了 (次回ログインで再登録)",
		"(承認されないまま待機期間が終了)", "待機期間が終わっているため、早期承認は不要です。"},
		[]string{"待機中", "別のオペレーターの承認待ち", "/recoveries/rec-b/"})
	_, list = kim.get("/recoveries")
	check("rec-b's row for its proposer", row(list, "rec-b"), []string{"待機期間が終わっているため、早期承認は不要です。"},
		[]string{"自分の依頼", "/recoveries/rec-b/"})

	// The forms of the pages opened within the period are refused.
	resp, body := kim.post("/recoveries/rec-a/propose", "reason", "電話で確認")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "この申請の待機期間は既に終わっています。") {
		t.Errorf("a proposal once the wait is over: %d\n%s", resp.StatusCode, body)
	}
	resp, body = kim.do("POST", "/recoveries/rec-a/propose", url.Values{"reason": {"phone"}}, "Accept-Language", "en")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "waiting period is over already") {
		t.Errorf("a proposal once the wait is over, in English: %d\n%s", resp.StatusCode, body)
	}
	for _, d := range []struct {
		who      *browser
		decision string
	}{{boss, "approve"}, {boss, "reject"}, {kim, "withdraw"}} {
		resp, body := d.who.post("/recoveries/rec-b/"+d.decision, read...)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "この申請の待機期間は既に終わっています。") {
			t.Errorf("%s once the wait is over: %d\n%s", d.decision, resp.StatusCode, body)
		}
	}
	if got := s.recovery("rec-a"); got.ProposedBy != "" || got.ApprovedBy != "" || !got.EffectiveAt.Equal(effective) || got.Status != store.RecoveryWaiting {
		t.Errorf("rec-a after the refused proposal: %+v", got)
	}
	if got := s.recovery("rec-b"); got.ProposedBy != "operator:kim@tobira.example" || got.ApprovedBy != "" ||
		!got.EffectiveAt.Equal(effective) || got.Status != store.RecoveryWaiting {
		t.Errorf("rec-b after the refused decisions: %+v", got)
	}
	if n := s.approvalMails(b); n != 0 {
		t.Errorf("%d mails say support ended a period that had ended", n)
	}
	acts := strings.Join(s.auditActions(b.ID), "\n")
	for _, want := range []string{"operator:boss@tobira.example recovery.approve stale", "operator:boss@tobira.example recovery.reject stale",
		"operator:kim@tobira.example recovery.withdraw stale"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q:\n%s", want, acts)
		}
	}
	if strings.Contains(acts, "recovery.approve ok") {
		t.Errorf("audit records an approval:\n%s", acts)
	}
}
