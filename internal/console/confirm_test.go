package console_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

const confirmTitle = "<h1>操作の確認</h1>"

// confirmPage is what the confirmation page of action posts; it fails the
// test when body is no such page saying question.
func confirmPage(t *testing.T, resp *http.Response, body, action, question string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, confirmTitle) || !strings.Contains(body, question) {
		t.Fatalf("POST %s without confirmation: %d, want the confirmation page saying %q\n%s", action, resp.StatusCode, question, body)
	}
	form := formIn(body, action)
	if form.Get("confirmed") != "1" {
		t.Fatalf("the confirmation page of %s posts %v, without confirmed=1", action, form)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the confirmation page of %s may be stored: %q", action, resp.Header.Get("Cache-Control"))
	}
	return form
}

// TestConfirmWithoutScript: each action whose form has a data-confirm
// asks first without script too: a form without confirmed=1 gets a page
// that says what will happen, carries the form, and posts it with the
// field; nothing is done until then.
func TestConfirmWithoutScript(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	kimSeed := s.operator("kim@tobira.example", store.RoleSupport)
	kim := s.signIn("kim@tobira.example", kimSeed)
	kimOp, err := s.db.OperatorByEmail(ctx, "kim@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	s.operator("lee@tobira.example", store.RoleSupport)
	lee, err := s.db.OperatorByEmail(ctx, "lee@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	a := s.customerWithFactor("yamada@example.jp")
	kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "端末の紛失")
	reset := s.openReset(a.ID)
	boss.post("/maintenance", "start", "2026-04-10T02:00", "end", "2026-04-10T05:00")
	ws, err := s.db.ListMaintenance(ctx, t0, false)
	if err != nil || len(ws) != 1 {
		t.Fatalf("windows: %+v %v", ws, err)
	}
	s.waitingRecovery("rec-1", a)

	// 「承認」 of the reset.
	path := "/resets/" + reset.ID + "/approve"
	resp, body := boss.do("POST", path, url.Values{})
	form := confirmPage(t, resp, body, path, "yamada@example.jp の二要素認証をリセットしますか？")
	if !strings.Contains(body, `<a class="button secondary" href="/resets">実行せずに戻る</a>`) ||
		!strings.Contains(body, `<button type="submit" class="danger">承認</button>`) {
		t.Errorf("the reset's confirmation lacks its button or its way back:\n%s", body)
	}
	if !strings.Contains(body, `name="next" value="/resets"`) {
		t.Error("the language switch of the confirmation page does not go back to the page of the form")
	}
	if s.factors(a.ID) != 1 || !s.openReset(a.ID).Open() {
		t.Fatal("the reset was approved without its confirmation")
	}
	if resp, body := boss.do("POST", path, form); resp.Request.URL.Path != "/resets" || s.factors(a.ID) != 0 ||
		notice(body) != "リセットを承認し、二要素認証をリセットしました。お客さまに通知しました。" {
		t.Errorf("the confirmed reset: at %s, %d factors, notice %q", resp.Request.URL.Path, s.factors(a.ID), notice(body))
	}

	// 「本人確認のうえ早期承認を依頼」, whose reason the page carries.
	path = "/recoveries/rec-1/propose"
	resp, body = kim.do("POST", path, url.Values{"reason": {`電話で確認 <b>"本人"</b>`}})
	form = confirmPage(t, resp, body, path, "yamada@example.jp の復旧申請の早期承認を依頼しますか？")
	if form.Get("reason") != `電話で確認 <b>"本人"</b>` {
		t.Errorf("the page carries the reason %q", form.Get("reason"))
	}
	if s.recovery("rec-1").ProposedBy != "" {
		t.Fatal("proposed without its confirmation")
	}
	if kim.do("POST", path, form); s.recovery("rec-1").ProposedReason != `電話で確認 <b>"本人"</b>` {
		t.Fatalf("the confirmed proposal: %+v", s.recovery("rec-1"))
	}

	// 「早期承認を承認」 of kim's proposal.
	path = "/recoveries/rec-1/approve"
	resp, body = boss.do("POST", path, url.Values{"proposal": {s.proposal("rec-1")[1]}})
	form = confirmPage(t, resp, body, path, "kim@tobira.example の本人確認にもとづき、yamada@example.jp の復旧申請を早期承認しますか？")
	if s.recovery("rec-1").ApprovedBy != "" {
		t.Fatal("approved without its confirmation")
	}
	if boss.do("POST", path, form); s.recovery("rec-1").ApprovedBy != "operator:boss@tobira.example" {
		t.Fatalf("the confirmed approval: %+v", s.recovery("rec-1"))
	}

	// 「中止」 of the maintenance.
	path = "/maintenance/" + ws[0].ID + "/cancel"
	resp, body = boss.do("POST", path, url.Values{})
	form = confirmPage(t, resp, body, path, "このメンテナンス (2026年4月10日 2:00〜5:00) を中止しますか？")
	if now, _ := s.db.ListMaintenance(ctx, t0, false); len(now) != 1 {
		t.Fatal("cancelled without its confirmation")
	}
	if boss.do("POST", path, form); len(must(s.db.ListMaintenance(ctx, t0, false))) != 0 {
		t.Fatal("the confirmed cancel did not cancel")
	}

	// The operators' 「停止」, 「認証アプリを再発行」, 「パスワードを再発行」.
	for _, c := range []struct {
		action, question string
		done             func(*store.Operator) bool
	}{
		{"reset-password", "Op lee@tobira.example (lee@tobira.example) のパスワードを再発行しますか？",
			func(o *store.Operator) bool { return o.MustChangePassword() }},
		{"reset-2fa", "Op lee@tobira.example (lee@tobira.example) の認証アプリを再発行しますか？",
			func(o *store.Operator) bool { return o.TOTPSecret != lee.TOTPSecret }},
		{"disable", "Op lee@tobira.example (lee@tobira.example) を停止しますか？",
			func(o *store.Operator) bool { return o.Disabled }},
	} {
		path = "/operators/" + lee.ID + "/" + c.action
		resp, body = boss.do("POST", path, url.Values{})
		form = confirmPage(t, resp, body, path, c.question)
		if got := must(s.db.OperatorByID(ctx, lee.ID)); c.done(got) {
			t.Fatalf("%s without its confirmation", c.action)
		}
		if boss.do("POST", path, form); !c.done(must(s.db.OperatorByID(ctx, lee.ID))) {
			t.Errorf("the confirmed %s was not done", c.action)
		}
	}

	// A support operator is refused an admin's action before any question.
	if resp, body := kim.do("POST", "/operators/"+kimOp.ID+"/disable", url.Values{}); resp.StatusCode != http.StatusForbidden || strings.Contains(body, confirmTitle) {
		t.Errorf("support's disable: %d, want 403 without a question", resp.StatusCode)
	}
	boss.post("/maintenance", "start", "2026-04-11T02:00", "end", "2026-04-11T05:00")
	next := must(s.db.ListMaintenance(ctx, t0, false))
	if resp, body := kim.do("POST", "/maintenance/"+next[0].ID+"/cancel", url.Values{}); resp.StatusCode != http.StatusForbidden || strings.Contains(body, confirmTitle) {
		t.Errorf("support's cancel: %d, want 403 without a question", resp.StatusCode)
	}
	// Nothing to ask about: not found, or past the action (which says so).
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/resets/nobody/approve", http.StatusNotFound, "リセットの依頼が見つかりません。"},
		{"/maintenance/mw-nobody/cancel", http.StatusNotFound, "メンテナンスが見つかりません。"},
		{"/operators/nobody/disable", http.StatusNotFound, "オペレーターが見つかりません。"},
		{"/recoveries/nobody/propose", http.StatusNotFound, "この申請は既に取り消されたか完了しています。"},
		{"/resets/" + reset.ID + "/approve", http.StatusConflict, "この依頼は既に承認・却下または取り下げされています。"},
		{"/maintenance/" + ws[0].ID + "/cancel", http.StatusConflict, "既に中止"},
		{"/recoveries/rec-1/propose", http.StatusConflict, "早期承認"},
	} {
		resp, body := boss.do("POST", c.path, url.Values{"reason": {"x"}})
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) || strings.Contains(body, confirmTitle) {
			t.Errorf("%s: %d, want %d with %q and no question\n%s", c.path, resp.StatusCode, c.status, c.want, body)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestConfirmAfterReauth: an action that asks for the code again asks
// that first, carrying the form; the right code then leads to the
// question, and only its answer acts. A form already answered (the dialog
// of the page's script) goes through the code page with its answer.
func TestConfirmAfterReauth(t *testing.T) {
	s := newSite(t)
	seed, admin, kim := s.adminAndKim()
	path := "/operators/" + kim.ID + "/disable"
	s.stale()
	resp, body := admin.do("POST", path, url.Values{})
	form := reauthForm(t, body, path)
	form.Set("reauth_code", s.code(seed))
	resp, body = admin.do("POST", path, form)
	form = confirmPage(t, resp, body, path, "を停止しますか？")
	if form.Has("reauth_code") {
		t.Error("the confirmation page carries the code")
	}
	if must(s.db.OperatorByID(t.Context(), kim.ID)).Disabled {
		t.Fatal("disabled after the code, before the answer")
	}
	if resp, _ := admin.do("POST", path, form); resp.Request.URL.Path != "/operators" || !must(s.db.OperatorByID(t.Context(), kim.ID)).Disabled {
		t.Errorf("the answer: at %s, not disabled", resp.Request.URL.Path)
	}

	// Answered in the dialog: the code page carries the answer.
	s.operator("lee@tobira.example", store.RoleSupport)
	lee := must(s.db.OperatorByEmail(t.Context(), "lee@tobira.example"))
	s.stale()
	path = "/operators/" + lee.ID + "/disable"
	_, body = admin.do("POST", path, url.Values{"confirmed": {"1"}})
	form = reauthForm(t, body, path)
	s.clock.Advance(30 * time.Second)
	form.Set("reauth_code", s.code(seed))
	if resp, _ := admin.do("POST", path, form); resp.Request.URL.Path != "/operators" || !must(s.db.OperatorByID(t.Context(), lee.ID)).Disabled {
		t.Errorf("answered in the dialog, then the code: at %s, not disabled", resp.Request.URL.Path)
	}
}

// dataConfirm finds the forms with a data-confirm in the templates.
var dataConfirm = regexp.MustCompile(`<form method="post" action="([^"]*)"[^>]*data-confirm=`)

// TestEveryDataConfirmAsks: every form of the templates with a data-confirm
// posts to an action that asks without script too; a data-confirm added
// to a form whose action does not is caught here.
func TestEveryDataConfirmAsks(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range dataConfirm.FindAllStringSubmatch(string(src), -1) {
			actions = append(actions, m[1])
		}
	}
	if len(actions) < 7 {
		t.Fatalf("found %d forms with a data-confirm, want 7 at least: %q", len(actions), actions)
	}
	s := newSite(t)
	ctx := t.Context()
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp")
	kim.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", "端末の紛失")
	boss.post("/maintenance", "start", "2026-04-10T02:00", "end", "2026-04-10T05:00")
	s.waitingRecovery("rec-1", a)
	kim.post("/recoveries/rec-1/propose", "reason", "電話で確認")
	ids := map[string]string{"resets": s.openReset(a.ID).ID, "recoveries": "rec-1",
		"maintenance": must(s.db.ListMaintenance(ctx, t0, false))[0].ID, "operators": must(s.db.OperatorByEmail(ctx, "kim@tobira.example")).ID}
	for _, action := range actions {
		kind := strings.Split(action, "/")[1]
		path := strings.Replace(action, "{{.ID}}", ids[kind], 1)
		resp, body := boss.do("POST", path, url.Values{"proposal": {s.proposal("rec-1")[1]}, "reason": {"x"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, confirmTitle) {
			t.Errorf("%s (%s) without its confirmation: %d, want the confirmation page", action, path, resp.StatusCode)
		}
	}
}
