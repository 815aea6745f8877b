package console_test

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

var detailCell = regexp.MustCompile(`<td class="detail" data-label="[^"]*">([^<]*)</td>`)

// details are the detail cells of a page, in order.
func details(body string) []string {
	var out []string
	for _, m := range detailCell.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// TestAuditDetails: the audit log and a customer's page show the details
// the code records in the page's language, where they showed the recorded
// English ("already activated", "own request ID", a path); a detail of
// another form (an operator's reason) shows as recorded, and the export
// keeps every detail as recorded.
func TestAuditDetails(t *testing.T) {
	s := newSite(t)
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a, _, err := s.svc.OpenAccount(t.Context(), "yamada@example.jp", "山田 太郎", "system:demo")
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first; the pages show the newest first.
	cases := []struct {
		ev     store.AuditEvent
		ja, en string
	}{
		{store.AuditEvent{Action: store.ActionActivationResend, Outcome: "fail", Detail: "already activated"},
			"開通済みのため送信していません", "Not sent: the account is activated already"},
		{store.AuditEvent{Action: store.ActionResetApprove, Outcome: "denied", Detail: "own request 5404b0f0"},
			"依頼 5404b0f0: 自分の依頼は承認・却下できません", "Request 5404b0f0: you cannot approve or reject your own request"},
		{store.AuditEvent{Action: store.ActionResetReject, Outcome: "ok", Detail: "request 5404b0f0 by operator:tanaka@example.jp: a"},
			"依頼 5404b0f0 (依頼者: tanaka@example.jp、理由: a)", "Request 5404b0f0 (by tanaka@example.jp, reason: a)"},
		{store.AuditEvent{Action: store.ActionResetApprove, Outcome: "outdated", Detail: "request 5404b0f0: mfa.totp since the request"},
			"依頼 5404b0f0: 依頼のあとに「認証アプリのコードの確認」がありました", "Request 5404b0f0: “Authenticator code check” happened after the request"},
		{store.AuditEvent{Action: store.ActionConsoleReauth, Outcome: "fail", Detail: "/customers/" + "ACCOUNT" + "/unlock"},
			"対象の操作: アカウントのロック解除", "Action: Account unlocked"},
		{store.AuditEvent{Action: store.ActionRecoveryApprove, Outcome: "ok",
			Detail: "request rec-1 proposed by operator:kim@tobira.example, approved by operator:boss@tobira.example: 電話で確認"},
			"申請 rec-1 (kim@tobira.example が依頼、boss@tobira.example が承認、本人確認: 電話で確認)",
			"Request rec-1 (proposed by kim@tobira.example, approved by boss@tobira.example, check: 電話で確認)"},
		{store.AuditEvent{Action: store.ActionRecoveryReject, Outcome: "stale", Detail: "request rec-1: no open proposal"},
			"申請 rec-1: 処理待ちの早期承認の依頼がありません", "Request rec-1: no proposal is waiting"},
		{store.AuditEvent{Action: store.ActionRecoveryConfirm, Outcome: "ok", Detail: "effective 2026-04-04T00:00:05Z"},
			"有効になる日時: 2026-04-04 09:00:05", "Effective from 2026-04-04 09:00:05"},
		{store.AuditEvent{Actor: "customer", Action: store.ActionNotMe, Outcome: "alert",
			Detail: "sessions ended; notice new_browser sent 2026-04-01T09:00:00+09:00; second factors: totp set up 2026-03-01T10:00:00+09:00, phone set up 2026-03-02T10:00:00+09:00"},
			"ログインをすべて終了。新しいブラウザからのログインのお知らせ (2026-04-01 09:00:00 送信) から報告。二要素認証: 認証アプリ (2026-03-01 10:00:00 設定)、電話番号 (2026-03-02 10:00:00 設定)",
			"Every sign-in ended. Reported from the notice “Sign-in from a new browser” sent 2026-04-01 09:00:00. Second factors: Authenticator app (set up 2026-03-01 10:00:00), Phone number (set up 2026-03-02 10:00:00)"},
		// What the commands and the maintenance schedule record, and the
		// portal's forms that showed as recorded.
		{store.AuditEvent{Action: store.ActionMaintenanceCreate, Outcome: "ok", Detail: "mw-1 1 December 2026, 2:00–5:00"},
			"予定 mw-1: 2026年12月1日 2:00〜5:00 (日本時間)", "Window mw-1: 1 December 2026, 2:00–5:00 (Japan time)"},
		{store.AuditEvent{Action: store.ActionMaintenanceCancel, Outcome: "ok", Detail: "mw-2 31 December 2026, 22:00 – 1 January 2027, 2:00"},
			"予定 mw-2: 2026年12月31日 22:00〜2027年1月1日 2:00 (日本時間)", "Window mw-2: 31 December 2026, 22:00 – 1 January 2027, 2:00 (Japan time)"},
		{store.AuditEvent{Actor: "operator:cli", Action: store.ActionClientUpdate, Outcome: "ok", Detail: "tobira-contracts (契約サイト): name, redirect URIs"},
			"契約サイト (クライアントID: tobira-contracts) の変更: サイト名、ログイン後の戻り先",
			"契約サイト (client ID: tobira-contracts), changed: Site name, Redirect URIs"},
		{store.AuditEvent{Actor: "operator:cli", Action: store.ActionClientDelete, Outcome: "ok", Detail: "tobira-contracts (契約サイト): 3 live grants revoked"},
			"契約サイト (クライアントID: tobira-contracts)、有効な認可 3 件を取り消し", "契約サイト (client ID: tobira-contracts); 3 live grants revoked"},
		{store.AuditEvent{Actor: "operator:cli", Action: store.ActionClientCreate, Outcome: "ok", Detail: "tobira-invoices (請求書サイト)"},
			"請求書サイト (クライアントID: tobira-invoices)", "請求書サイト (client ID: tobira-invoices)"},
		{store.AuditEvent{Action: store.ActionAuditExport, Outcome: "ok", Detail: "operator=cli&action=account.lock rows=2"},
			"2件 (条件: 実行したオペレーター: コマンド (tobira users など)、操作: アカウントのロック)",
			"2 rows (filter: Operator: Commands (tobira users etc.), Action: Account locked)"},
		{store.AuditEvent{Action: store.ActionAuditExport, Outcome: "ok", Detail: " rows=5"}, "5件 (条件: すべて)", "5 rows (filter: any)"},
		{store.AuditEvent{Action: store.ActionOperatorDisable, Outcome: "ok", Detail: "kim@tobira.example"},
			"対象のオペレーター: kim@tobira.example", "Operator: kim@tobira.example"},
		{store.AuditEvent{Actor: "customer", Action: store.ActionSignOut, Outcome: "ok", Detail: "by a site's logout, without the portal's cookie"},
			"連携サイトからのログアウト (ポータルの Cookie なし)", "By a site's logout, without the portal's cookie"},
		{store.AuditEvent{Actor: "customer", Action: store.ActionSessionEndOther, Outcome: "ok", Detail: "ended unknown browser (Windows) from 203.0.113.9"},
			"不明なブラウザ (Windows) (203.0.113.9) のログインを終了", "Signed out Unknown browser (Windows) (203.0.113.9)"},
		// A lock's reason is the operator's text, whatever it reads like.
		{store.AuditEvent{Action: store.ActionAccountLock, Outcome: "ok", Detail: "password"}, "password", "password"},
		// A form the page does not know shows as recorded.
		{store.AuditEvent{Action: store.ActionMFAReset, Outcome: "ok", Detail: "something new"}, "something new", "something new"},
	}
	var ja, en []string
	for i, c := range cases {
		ev := c.ev
		ev.At, ev.AccountID = t0.Add(time.Duration(i)*time.Minute), a.ID
		ev.Detail = strings.ReplaceAll(ev.Detail, "ACCOUNT", a.ID)
		if ev.Actor == "" {
			ev.Actor = "operator:boss@tobira.example"
		}
		s.appendAudit(ev)
		ja, en = append(ja, c.ja), append(en, c.en)
	}
	slices.Reverse(ja)
	slices.Reverse(en)
	// The console's sign-ins, on no account.
	s.appendAudit(store.AuditEvent{At: t0.Add(-2 * time.Minute), Actor: "operator:kim@tobira.example", Action: store.ActionConsoleSignIn, Outcome: "fail", Detail: "password"},
		store.AuditEvent{At: t0.Add(-time.Minute), Actor: "operator:kim@tobira.example", Action: store.ActionConsoleSignIn, Outcome: "ok", Detail: "totp"})

	_, body := boss.get("/audit?account=" + a.ID)
	if got := details(body); !slices.Equal(got[:len(ja)], ja) {
		t.Errorf("/audit details in Japanese:\n%q\nwant\n%q", got, ja)
	}
	_, body = boss.do("GET", "/audit?account="+a.ID, nil, "Accept-Language", "en")
	if got := details(body); !slices.Equal(got[:len(en)], en) {
		t.Errorf("/audit details in English:\n%q\nwant\n%q", got, en)
	}
	_, body = boss.get("/audit?operator=kim@tobira.example&action=console.signin")
	if got := details(body); !slices.Equal(got, []string{"認証アプリのコードの確認", "パスワードの確認"}) {
		t.Errorf("console.signin details: %q", got)
	}
	// The customer's page lists their newest events (20) with the same
	// details.
	_, body = boss.get("/customers/" + a.ID)
	if got, n := details(body), min(len(ja), 20); len(got) < n || !slices.Equal(got[:n], ja[:n]) {
		t.Errorf("the customer's page's details:\n%q\nwant\n%q", got, ja)
	}
	// The export is the record: the details as recorded.
	_, csv := boss.get("/audit.csv?account=" + a.ID)
	for _, raw := range []string{"already activated", "own request 5404b0f0", "request 5404b0f0 by operator:tanaka@example.jp: a",
		"/customers/" + a.ID + "/unlock", "sessions ended; notice new_browser"} {
		if !strings.Contains(csv, raw) {
			t.Errorf("the export lacks the detail %q as recorded", raw)
		}
	}
}
