package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// TestCustomerPageShowsRecovery: the operator who answers a customer's
// call opens the customer's page first, which shows their pending
// recovery request as the recoveries page lists it: when it was made, its
// state (awaiting the mail's link, waiting, an early approval proposed
// with who, when and the identity check, approved), when the wait ends,
// and a link to its row on the recoveries page, where its actions are. A
// request whose link expired unconfirmed, or that completed, is not shown,
// as the list does not show it.
func TestCustomerPageShowsRecovery(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	kimSeed := s.operator("kim@tobira.example", store.RoleSupport)
	kim := s.signIn("kim@tobira.example", kimSeed)
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers/" + a.ID
	look := func(b *browser, what string, want, unwanted []string, lang ...string) {
		t.Helper()
		header := []string{}
		if len(lang) > 0 {
			header = []string{"Accept-Language", lang[0]}
		}
		resp, body := b.do("GET", page, nil, header...)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", what, resp.StatusCode)
		}
		// The section of the request: from its heading to the next (the
		// audit log further down names requests and operators too).
		for _, h := range []string{"<h2>二要素認証の復旧申請</h2>", "<h2>Second-factor recovery request</h2>"} {
			if i := strings.Index(body, h); i >= 0 {
				body = body[i:]
				if j := strings.Index(body[len(h):], "<h2>"); j >= 0 {
					body = body[:len(h)+j]
				}
			}
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the customer's page lacks %q:\n%s", what, w, body)
			}
		}
		for _, u := range unwanted {
			if strings.Contains(body, u) {
				t.Errorf("%s: the customer's page shows %q:\n%s", what, u, body)
			}
		}
	}

	look(kim, "no request", []string{"<h2>二要素認証の復旧申請</h2>", "処理待ちの申請はありません。"}, []string{`href="/recoveries?`})

	// Asked for, its mail's link not yet followed.
	r := &store.RecoveryRequest{ID: "rec-0", AccountID: a.ID, ConfirmTokenHash: secret.Hash("tok-rec-0"), CreatedAt: t0,
		ConfirmExpiresAt: t0.Add(time.Hour)}
	if err := s.db.CreateRecoveryRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	look(kim, "unconfirmed", []string{"メール確認待ち", "確認リンクの期限", "2026-04-01 10:00:05",
		"申請日時</dt><dd>2026-04-01 09:00:05", "メールのリンクが確認されるまで承認できません。",
		`<a class="line-link" href="/recoveries?from=%2fcustomers%2f` + a.ID + `#recovery-rec-0">復旧申請の一覧でこの申請を開く</a>`},
		[]string{"処理待ちの申請はありません。", "待機中", "/recoveries/rec-0/"})
	// Its link expired: the request waits for nothing, and neither page
	// lists it.
	s.clock.Advance(2 * time.Hour)
	kim = s.signIn("kim@tobira.example", kimSeed) // signed out when idle
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	look(kim, "link expired", []string{"処理待ちの申請はありません。"}, []string{"メール確認待ち", "rec-0"})
	if _, body := kim.get("/recoveries"); strings.Contains(body, "rec-0") {
		t.Errorf("the recoveries page lists the request whose link expired")
	}

	// Asked for again and confirmed: it waits out its period.
	s.waitingRecovery("rec-1", a)
	look(kim, "waiting", []string{"待機中", "有効になる日時</dt><dd>2026-04-04 09:01:05", "申請日時</dt><dd>2026-04-01 09:00:05",
		`href="/recoveries?from=%2fcustomers%2f` + a.ID + `#recovery-rec-1"`},
		[]string{"処理待ちの申請はありません。", "メール確認待ち", "早期承認を依頼", "/recoveries/rec-1/"})
	// The link leads to the request's row, where its actions are.
	if _, body := kim.get("/recoveries"); !strings.Contains(body, `<tr id="recovery-rec-1">`) ||
		!strings.Contains(body, "/recoveries/rec-1/propose") {
		t.Errorf("the recoveries page has no row recovery-rec-1 with its actions:\n%s", body)
	}

	// An early approval proposed: who, when, on what check; the page
	// offers no decision, the list does.
	s.clock.Advance(time.Minute)
	if resp, _ := kim.post("/recoveries/rec-1/propose", "reason", "電話で登録住所と生年月日を確認"); resp.StatusCode != http.StatusOK {
		t.Fatalf("propose: %d", resp.StatusCode)
	}
	look(boss, "proposed", []string{"待機中", "kim@tobira.example が 2026-04-01 11:01:05 に早期承認を依頼 (別のオペレーターの承認待ち)",
		"本人確認: 電話で登録住所と生年月日を確認", "有効になる日時</dt><dd>2026-04-04 09:01:05"},
		[]string{"operator:kim", "/recoveries/rec-1/approve", "承認済み"})

	// Approved by another operator: its wait is over.
	if resp, _ := boss.post("/recoveries/rec-1/approve", s.proposal("rec-1")...); resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	look(kim, "approved", []string{"承認済み (次回ログインで再登録)", "kim@tobira.example が依頼し、boss@tobira.example が早期承認",
		"有効になる日時</dt><dd>2026-04-01 11:01:05"},
		[]string{"待機中", "別のオペレーターの承認待ち", "処理待ちの申請はありません。"})
	look(kim, "approved, in English", []string{"<h2>Second-factor recovery request</h2>", "approved: enrols anew at the next sign-in",
		"proposed by kim@tobira.example, approved early by boss@tobira.example", "Open this request in the recovery requests"},
		[]string{"承認済み"}, "en")

	// The next sign-in completed it: nothing is pending any more.
	if err := s.db.CompleteRecovery(ctx, "rec-1", s.clock.Now()); err != nil {
		t.Fatal(err)
	}
	look(kim, "completed", []string{"処理待ちの申請はありません。"}, []string{"承認済み", "rec-1"})
}
