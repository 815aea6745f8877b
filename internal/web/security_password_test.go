package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

const (
	msgPasswordChanged = "パスワードを変更しました。このブラウザ以外でのログインは終了しました。"
	newPassphrase      = "a brand new passphrase"
)

// changeForm is the password change's form.
func changeForm(current, next, confirm string) url.Values {
	return url.Values{"current": {current}, "password": {next}, "confirm": {confirm}}
}

// passwordSignsIn reports whether pw passes c's password step, from a
// browser of its own; the clock moves past the throttle window first.
func (s *site) passwordSignsIn(c *customer, pw string) bool {
	s.t.Helper()
	s.clock.Advance(s.svc.Config.PasswordWindow.Duration)
	r := s.browser().post("/login", url.Values{"email": {c.email}, "password": {pw}})
	switch r.StatusCode {
	case http.StatusSeeOther:
		return true
	case http.StatusUnauthorized:
		return false
	}
	s.t.Fatalf("POST /login: status %d", r.StatusCode)
	return false
}

// TestSecurityPageLinksPasswordChange: the security page has 「パスワード」
// with 「パスワードを変更」, which opens the form.
func TestSecurityPageLinksPasswordChange(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	page := b.get("/security")
	expect(t, page, http.StatusOK, "")
	contains(t, page, `<h2 id="password-heading">パスワード</h2>`, `<a class="button secondary" href="/security/password">パスワードを変更</a>`)
	form := b.get("/security/password")
	expect(t, form, http.StatusOK, "")
	contains(t, form, "<h1>パスワードの変更</h1>", "現在のパスワードと、新しいパスワード (10文字以上) を入力してください。",
		`<label for="current">現在のパスワード</label>`, `autocomplete="current-password"`,
		`<label for="password">新しいパスワード</label>`, `<label for="confirm">新しいパスワード (確認)</label>`,
		`autocomplete="new-password"`, `autocomplete="username"`, `value="yamada@example.jp"`,
		`action="/security/password"`, ">変更する</button>", `href="/security">キャンセル</a>`)
	if form.Header.Get("Cache-Control") != "no-store" {
		t.Error("the password change page may be cached")
	}
	b.lang = "en"
	contains(t, b.get("/security"), `<h2 id="password-heading">Password</h2>`, ">Change password</a>")
	contains(t, b.get("/security/password"), "<h1>Change your password</h1>", "Current password", "New password (again)", ">Change</button>")

	// Signed out, the page is the sign-in's, which comes back to it.
	expect(t, s.browser().get("/security/password"), http.StatusSeeOther, "/login?next=%2Fsecurity%2Fpassword")
	expect(t, s.browser().post("/security/password", changeForm(c.password, newPassphrase, newPassphrase)),
		http.StatusSeeOther, "/login?next=%2Fsecurity%2Fpassword")
}

// TestChangePasswordOverHTTP: 「変更する」 with the current password sets
// the new one; this browser stays signed in under a new session id, the
// other browser is signed out; the old password signs in no more.
func TestChangePasswordOverHTTP(t *testing.T) {
	s := newSite(t).withMail()
	c, b := s.enrolled()
	other := s.browser()
	otherSession := other.signIn(c)
	before := b.cookie("tobira_session")

	r := b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase))
	expect(t, r, http.StatusSeeOther, "/security")
	after := b.cookie("tobira_session")
	if after == "" || after == before {
		t.Fatal("the change did not renew the session cookie")
	}
	if s.live(before) {
		t.Error("the session id from before the change still works")
	}
	if s.live(otherSession) {
		t.Error("the other browser's session survived the change")
	}
	expect(t, other.get("/security"), http.StatusSeeOther, "/login?next=%2Fsecurity&e=ended")
	page := b.get("/security")
	expect(t, page, http.StatusOK, "")
	contains(t, page, msgPasswordChanged, "<td>パスワードの変更</td>")

	var notice bool
	for _, m := range s.mailsTo(c.email) {
		notice = notice || strings.Contains(m.Text, "パスワードが変更されました。") && strings.Contains(m.Text, "/not-me?token=")
	}
	if !notice {
		t.Error("no security notice of the change, with its \"not me\" link")
	}
	if s.passwordSignsIn(c, c.password) {
		t.Error("the old password still signs in")
	}
	if !s.passwordSignsIn(c, newPassphrase) {
		t.Error("the new password does not sign in")
	}
}

// TestChangePasswordErrors: each bad form is answered on the form, with
// the message in the customer's language, and changes nothing: the
// password, this browser's session and another's stay.
func TestChangePasswordErrors(t *testing.T) {
	s := newSite(t).withMail()
	c := s.customer("yamada@example.jp")
	b := s.browser()
	session := b.enrol(c)
	other := s.browser().signIn(c)
	hash := s.account(c).PasswordHash
	mails := len(s.mailsTo(c.email))
	for _, tc := range []struct {
		name, lang             string
		current, next, confirm string
		status                 int
		msg                    string
	}{
		{"nothing", "", "", "", "", 400, "現在のパスワード、新しいパスワード、新しいパスワード (確認)をすべて入力してください。"},
		{"no current", "", "", newPassphrase, newPassphrase, 400, "現在のパスワード、新しいパスワード、新しいパスワード (確認)をすべて入力してください。"},
		{"no new", "", c.password, "", newPassphrase, 400, "現在のパスワード、新しいパスワード、新しいパスワード (確認)をすべて入力してください。"},
		{"no confirmation", "", c.password, newPassphrase, "", 400, "現在のパスワード、新しいパスワード、新しいパスワード (確認)をすべて入力してください。"},
		{"mismatch", "", c.password, newPassphrase, newPassphrase + "!", 400, "確認用のパスワードが一致しません。"},
		{"same", "", c.password, c.password, c.password, 400, "新しいパスワードには、現在のパスワードと異なるものを入力してください。"},
		{"short", "", c.password, "short", "short", 400, "パスワードは10文字以上にしてください。"},
		{"long", "", c.password, strings.Repeat("long ", 26), strings.Repeat("long ", 26), 400, "パスワードは128文字以内にしてください。"},
		{"the address", "", c.password, c.email, c.email, 400, "メールアドレスと同じパスワードは使用できません。"},
		{"common", "", c.password, "password123", "password123", 400, "よく使われているパスワードや推測されやすいパスワード"},
		{"wrong current", "", "wrong horse battery", newPassphrase, newPassphrase, 401, "現在のパスワードが正しくありません。"},
		{"nothing, in English", "en", "", "", "", 400, "Please enter your current password, the new password, and the new password again."},
		{"mismatch, in English", "en", c.password, newPassphrase, "x", 400, "The passwords do not match."},
		{"same, in English", "en", c.password, c.password, c.password, 400, "The new password must differ from your current one."},
		{"short, in English", "en", c.password, "short", "short", 400, "at least 10 characters"},
		{"wrong current, in English", "en", "wrong horse battery", newPassphrase, newPassphrase, 401, "The current password is not correct."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.lang = tc.lang
			r := b.post("/security/password", changeForm(tc.current, tc.next, tc.confirm))
			expect(t, r, tc.status, "")
			contains(t, r, tc.msg, `role="alert"`, `action="/security/password"`)
			if strings.Contains(r.body, `value="`+c.password+`"`) || strings.Contains(r.body, `value="`+newPassphrase+`"`) {
				t.Error("the form sent a password back")
			}
			if setCookieOf(r, "tobira_session") != nil {
				t.Error("a refused change set the session cookie")
			}
			if s.account(c).PasswordHash != hash {
				t.Fatal("the password changed")
			}
			if !s.live(session) || !s.live(other) {
				t.Fatal("a refused change ended a session")
			}
			if n := len(s.mailsTo(c.email)); n != mails {
				t.Fatal("a refused change mailed the customer")
			}
		})
	}
	if s.audited(c, store.ActionPasswordChange, "ok") {
		t.Error("a refused change was audited as done")
	}
	if !s.audited(c, store.ActionPasswordChange, "fail") {
		t.Error("a wrong current password was not audited")
	}
}

// TestChangePasswordThrottledOverHTTP: wrong current passwords count
// towards the account's password limit; at it the customer is told until
// when, and the right password changes nothing either.
func TestChangePasswordThrottledOverHTTP(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	for range s.svc.Config.PasswordFailuresPerAccount {
		expect(t, b.post("/security/password", changeForm("wrong horse battery", newPassphrase, newPassphrase)), http.StatusUnauthorized, "")
	}
	hash := s.account(c).PasswordHash
	r := b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase))
	expect(t, r, http.StatusTooManyRequests, "")
	now := s.clock.Now()
	_, until := store.Window(now, s.svc.Config.PasswordWindow.Duration)
	contains(t, r, "パスワードの試行回数が上限に達しました。", until.In(jst).Format("2006年1月2日 15:04"))
	if got, want := r.Header.Get("Retry-After"), strconv.Itoa(int(until.Sub(now).Seconds())); got != want {
		t.Errorf("Retry-After = %q, want %s", got, want)
	}
	if s.account(c).PasswordHash != hash {
		t.Fatal("a throttled change changed the password")
	}
	// The sign-in is throttled too: the limit is the account's.
	expect(t, s.browser().post("/login", url.Values{"email": {c.email}, "password": {c.password}}), http.StatusTooManyRequests, "")
	b.lang = "en"
	contains(t, b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase)), "Too many password attempts. Please try again after")
}

// TestChangePasswordNeedsFreshSecondFactor: the form and its POST, once the
// second factor is older than the step-up limit, ask for it again (the
// page says why) and change nothing; the step-up comes back to the form.
func TestChangePasswordNeedsFreshSecondFactor(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	hash := s.account(c).PasswordHash
	s.clock.Advance(11 * time.Minute)
	expect(t, b.get("/security/password"), http.StatusSeeOther, "/login/code")
	expect(t, b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase)), http.StatusSeeOther, "/login/code")
	if s.account(c).PasswordHash != hash {
		t.Fatal("a change without a fresh second factor changed the password")
	}
	code := b.get("/login/code")
	expect(t, code, http.StatusOK, "")
	contains(t, code, "セキュリティ設定を変更するため、もう一度ご本人確認をお願いします。")
	expect(t, b.post("/login/code", url.Values{"code": {s.code(c)}}), http.StatusSeeOther, "/security/password")
	expect(t, b.get("/security/password"), http.StatusOK, "")
	expect(t, b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase)), http.StatusSeeOther, "/security")
}

// TestChangePasswordBadRequests: a cross-site post, an oversized body and
// a malformed one are refused with a message and change nothing.
func TestChangePasswordBadRequests(t *testing.T) {
	s := newSite(t)
	c := s.customer("yamada@example.jp")
	b := s.browser()
	session := b.enrol(c)
	hash := s.account(c).PasswordHash
	form := changeForm(c.password, newPassphrase, newPassphrase)
	for _, h := range crossOrigin {
		r := b.post("/security/password", form, h...)
		expect(t, r, http.StatusForbidden, "")
		contains(t, r, "他のサイトからの送信は受け付けられません。")
	}
	big := url.Values{"current": {c.password}, "password": {newPassphrase}, "confirm": {newPassphrase}, "pad": {strings.Repeat("a", 65<<10)}}
	r := b.post("/security/password", big)
	expect(t, r, http.StatusRequestEntityTooLarge, "")
	contains(t, r, "送信されたデータが大きすぎます。")
	for _, body := range []string{"current=%zz&password=x", "password=%", "current=%G1", "current=\xff\xfe"} {
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.srv.URL+"/security/password", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := b.do(req)
		expect(t, r, http.StatusBadRequest, "")
		contains(t, r, "リクエストの形式が正しくありません。")
	}
	b.lang = "en"
	contains(t, b.post("/security/password", form, "Sec-Fetch-Site", "cross-site"), "Requests from other sites are not accepted.")
	contains(t, b.post("/security/password", big), "The data sent is too large.")
	if s.account(c).PasswordHash != hash || !s.live(session) || b.cookie("tobira_session") != session {
		t.Fatal("a refused request changed the password or the session")
	}
	// The same site's own form passes.
	expect(t, b.post("/security/password", form, "Sec-Fetch-Site", "same-origin"), http.StatusSeeOther, "/security")
}

func (s *site) account(c *customer) *store.Account {
	s.t.Helper()
	a, err := s.svc.Store.AccountByID(s.ctx, c.acct.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

func (s *site) audited(c *customer, action, outcome string) bool {
	s.t.Helper()
	evs, err := s.svc.Store.AuditOf(s.ctx, c.acct.ID, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == action && ev.Outcome == outcome {
			return true
		}
	}
	return false
}

// TestChangePasswordBusy: the current password waits for a hashing slot
// as a sign-in's does; with every slot taken and the queue full, the form
// says to try again shortly, and the attempt is not counted.
func TestChangePasswordBusy(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	hash := s.account(c).PasswordHash
	// From now on one slot and one place in the queue, and slow hashes:
	// the dummy hash an unknown address is checked against is the
	// hasher's, so those sign-ins hold the slot and the queue.
	h := account.NewHasher(account.Argon2Params{MemoryKiB: 64 * 1024, Time: 30, Threads: 1}, 1)
	h.MaxQueue, h.MaxWait = 1, 5*time.Minute
	s.svc.Hasher = h
	var wg sync.WaitGroup
	for range 2 { // one hashing, one waiting
		wg.Go(func() {
			s.browser().post("/login", url.Values{"email": {"nobody@example.jp"}, "password": {"wrong password"}})
		})
	}
	for h.Waiting() < 1 {
		time.Sleep(time.Millisecond)
	}
	r := b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase))
	expect(t, r, http.StatusServiceUnavailable, "")
	contains(t, r, "ただいま大変混み合っています。少し待ってから、もう一度お試しください。", `action="/security/password"`)
	if got := r.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	wg.Wait()
	if s.account(c).PasswordHash != hash {
		t.Fatal("a change refused as busy changed the password")
	}
	n, err := s.svc.Store.Hit(s.ctx, "pw:email:"+secret.Hash(c.email), s.svc.Config.PasswordWindow.Duration, s.clock.Now(), 0)
	if err != nil || n != 0 {
		t.Fatalf("the account's password attempts = %d, %v; want none counted", n, err)
	}
}

// TestChangePasswordWithoutSecondFactor: after a reset of two-step
// verification the change goes through while the reset's second factor is
// fresh; once it is not, there is nothing to step up with, so the security
// page says to set one up first, and the form sends the browser there.
func TestChangePasswordWithoutSecondFactor(t *testing.T) {
	s := newSite(t)
	c, b := s.enrolled()
	expect(t, b.reset(c), http.StatusSeeOther, "/security")
	contains(t, b.get("/security"), `href="/security/password"`)
	s.clock.Advance(11 * time.Minute)
	page := b.get("/security")
	expect(t, page, http.StatusOK, "")
	contains(t, page, "パスワードの変更には、二要素認証によるご本人確認が必要です。")
	if strings.Contains(page.body, `href="/security/password"`) {
		t.Error("the security page offers a password change that would need a second factor the account lacks")
	}
	expect(t, b.get("/security/password"), http.StatusSeeOther, "/security")
	hash := s.account(c).PasswordHash
	expect(t, b.post("/security/password", changeForm(c.password, newPassphrase, newPassphrase)), http.StatusSeeOther, "/security")
	if s.account(c).PasswordHash != hash {
		t.Fatal("the password changed without a fresh second factor")
	}
}
