package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/store"
)

var oneTimeRe = regexp.MustCompile(`<code class="secret" id="operator-password">([^<]+)</code>`)

// signInAs signs in with a password and the seed's code of the next TOTP
// step, and returns the browser and where it landed.
func (s *site) signInAs(email, pw, seed string) (*browser, string) {
	s.t.Helper()
	s.clock.Advance(30 * time.Second)
	b := s.browser()
	resp, body := b.post("/login", "email", email, "password", pw)
	if resp.Request.URL.Path != "/login/code" {
		return b, resp.Request.URL.Path + "\n" + body
	}
	code, _ := mfa.TOTPCode(seed, s.clock.Now())
	resp, _ = b.post("/login/code", "code", code)
	return b, resp.Request.URL.Path
}

// TestOperatorPasswords: an admin adds an operator with a one-time password
// and key shown once; the console opens nothing but the password change
// until the operator picks their own; an admin's reset of a forgotten
// password does the same and ends the operator's sessions; an operator's
// own change ends their other sessions.
func TestOperatorPasswords(t *testing.T) {
	s := newSite(t)
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	support := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))

	if resp, _ := support.get("/operators/new"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support GET /operators/new: %d, want 403", resp.StatusCode)
	}
	if resp, _ := support.post("/operators/new", "email", "x@tobira.example", "name", "X", "role", "admin"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support adds an operator: %d, want 403", resp.StatusCode)
	}
	for _, c := range []struct{ email, name, role, want string }{
		{"not-an-address", "新人", "support", "メールアドレスの形式が正しくありません"},
		{"new@tobira.example", "", "support", "氏名は1〜100文字"},
		{"new@tobira.example", "新人", "root", "権限を選んでください"},
		{"kim@tobira.example", "金", "support", "既に登録されています"},
	} {
		resp, body := admin.post("/operators/new", "email", c.email, "name", c.name, "role", c.role)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.want) {
			t.Errorf("add %q %q %q: %d, want 422 with %q", c.email, c.name, c.role, resp.StatusCode, c.want)
		}
	}
	if _, err := s.db.OperatorByEmail(t.Context(), "new@tobira.example"); err == nil {
		t.Fatal("a refused form added the operator")
	}

	resp, body := admin.post("/operators/new", "email", "New@Tobira.example", "name", "新人 一郎", "role", "support")
	pw, key := oneTimeRe.FindStringSubmatch(body), operatorKeyRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || pw == nil || key == nil || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("add: %d, Cache-Control %q\n%s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	oneTime, seed := pw[1], strings.ReplaceAll(key[1], " ", "")
	if len(oneTime) != 19 || strings.ContainsAny(oneTime, "0O1lI") {
		t.Errorf("one-time password %q: want four groups of four unambiguous characters", oneTime)
	}

	// The one-time password opens only the password change.
	newcomer, at := s.signInAs("new@tobira.example", oneTime, seed)
	if at != "/password" {
		t.Fatalf("first sign-in landed at %s, want /password", at)
	}
	for _, path := range []string{"/customers", "/resets", "/audit"} {
		if resp, _ := newcomer.get(path); resp.Request.URL.Path != "/password" {
			t.Errorf("GET %s with a one-time password: at %s", path, resp.Request.URL.Path)
		}
	}
	if resp, body := newcomer.get("/password"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "一時パスワードでログインしています") {
		t.Errorf("the forced change does not say why: %d", resp.StatusCode)
	}
	const own = "my own long passphrase"
	for _, c := range []struct {
		current, next, confirm string
		status                 int
		want                   string
	}{
		{"wrong one", own, own, http.StatusUnauthorized, "現在のパスワードが正しくありません"},
		{oneTime, own, own + "x", http.StatusUnprocessableEntity, "一致しません"},
		{oneTime, "short", "short", http.StatusUnprocessableEntity, "10文字以上"},
		{oneTime, "new@tobira.example", "new@tobira.example", http.StatusUnprocessableEntity, "メールアドレスと同じ"},
		{oneTime, oneTime, oneTime, http.StatusUnprocessableEntity, "現在と同じ"},
	} {
		resp, body := newcomer.post("/password", "current", c.current, "new", c.next, "confirm", c.confirm)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("change %q → %q: %d, want %d with %q", c.current, c.next, resp.StatusCode, c.status, c.want)
		}
	}
	other, _ := s.signInAs("new@tobira.example", oneTime, seed)
	resp, body = newcomer.post("/password", "current", oneTime, "new", own, "confirm", own)
	if resp.Request.URL.Path != "/customers" || !strings.Contains(body, "パスワードを変更しました") {
		t.Fatalf("change: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	other.wantSignedOut("after the operator changed their password in another browser")
	if resp, _ := newcomer.get("/resets"); resp.Request.URL.Path != "/resets" {
		t.Errorf("after the change, /resets is at %s", resp.Request.URL.Path)
	}
	if _, at := s.signInAs("new@tobira.example", oneTime, seed); at == "/customers" || at == "/password" {
		t.Error("the one-time password still signs in")
	}
	if _, at := s.signInAs("new@tobira.example", own, seed); at != "/customers" {
		t.Errorf("the operator's own password lands at %s", at)
	}

	// An admin resets a forgotten password: a new one-time password, shown
	// once; the operator's sessions end.
	op, err := s.db.OperatorByEmail(t.Context(), "new@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := support.post("/operators/" + op.ID + "/reset-password"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support resets a password: %d, want 403", resp.StatusCode)
	}
	resp, body = admin.post("/operators/" + op.ID + "/reset-password")
	pw = oneTimeRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || pw == nil || resp.Header.Get("Cache-Control") != "no-store" || operatorKeyRe.MatchString(body) {
		t.Fatalf("reset: %d\n%s", resp.StatusCode, body)
	}
	newcomer.wantSignedOut("after an admin reset their password")
	if _, at := s.signInAs("new@tobira.example", own, seed); at == "/customers" || at == "/password" {
		t.Error("the password before the reset still signs in")
	}
	if _, at := s.signInAs("new@tobira.example", pw[1], seed); at != "/password" {
		t.Errorf("the reset one-time password lands at %s, want /password", at)
	}
	adminOp, _ := s.db.OperatorByEmail(t.Context(), "boss@tobira.example")
	if resp, _ := admin.post("/operators/" + adminOp.ID + "/reset-password"); resp.StatusCode != http.StatusConflict {
		t.Errorf("an admin resets their own password there: %d, want 409", resp.StatusCode)
	}

	evs, err := s.db.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range evs {
		acts = append(acts, e.Actor+" "+e.Action+" "+e.Outcome)
	}
	all := strings.Join(acts, "\n")
	for _, want := range []string{
		"operator:boss@tobira.example operator.create ok",
		"operator:new@tobira.example operator.password_change fail",
		"operator:new@tobira.example operator.password_change ok",
		"operator:boss@tobira.example operator.reset_password ok",
		"operator:kim@tobira.example operator.create denied",
		"operator:kim@tobira.example operator.reset_password denied",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %q", want)
		}
	}

	// A one-time password not used within OneTimePasswordTTL signs in no more.
	_, body = admin.post("/operators/" + op.ID + "/reset-password")
	late := oneTimeRe.FindStringSubmatch(body)
	if late == nil || !strings.Contains(body, "まで有効です") {
		t.Fatalf("the reset page says no end of the one-time password:\n%s", body)
	}
	s.clock.Advance(console.OneTimePasswordTTL)
	if _, at := s.signInAs("new@tobira.example", late[1], seed); !strings.Contains(at, "一時パスワードの有効期限が切れています") {
		t.Errorf("an expired one-time password: at %s", at)
	}
}
