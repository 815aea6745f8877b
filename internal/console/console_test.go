package console_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
)

// t0 is 5 s into a TOTP step.
var t0 = time.Date(2026, 4, 1, 0, 0, 5, 0, time.UTC)

const password = "correct horse battery"

type site struct {
	t     *testing.T
	db    *sqlstore.DB
	svc   *portal.Service
	clock *testkit.Clock
	srv   *httptest.Server
}

func newSite(t *testing.T) *site {
	t.Helper()
	return newSiteWith(t, nil)
}

// newSiteWith is newSite with the console's operators store wrapped by
// wrap, when not nil.
func newSiteWith(t *testing.T, wrap func(store.Operators) store.Operators) *site {
	t.Helper()
	cfg := testkit.Config(t)
	db, err := sqlstore.OpenSQLite(cfg.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	svc := portal.New(db, keys, cfg, log)
	clock := testkit.NewClock(t0)
	svc.Now = clock.Now
	svc.Mail = &mail.Queue{Store: db, Sender: mail.Outbox{}, Log: log, Now: clock.Now}
	var ops store.Operators = db
	if wrap != nil {
		ops = wrap(db)
	}
	h, err := console.New(console.Deps{Svc: svc, Operators: ops, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return &site{t: t, db: db, svc: svc, clock: clock, srv: srv}
}

// operator creates an operator and returns its TOTP seed.
func (s *site) operator(email string, role store.OperatorRole) string {
	s.t.Helper()
	n, err := console.CreateOperator(s.t.Context(), s.svc, s.db, email, "Op "+email, role, password, "operator:test")
	if err != nil {
		s.t.Fatal(err)
	}
	return n.TOTPSecret
}

type browser struct {
	s *site
	c *http.Client
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, c: &http.Client{Jar: jar}}
}

func (b *browser) do(method, path string, form url.Values, header ...string) (*http.Response, string) {
	b.s.t.Helper()
	if form == nil {
		return b.send(method, path, nil, header...)
	}
	return b.send(method, path, strings.NewReader(form.Encode()), header...)
}

// send sends body, when not nil, as a form, as it is.
func (b *browser) send(method, path string, body io.Reader, header ...string) (*http.Response, string) {
	b.s.t.Helper()
	req, err := http.NewRequest(method, b.s.srv.URL+path, body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do("GET", path, nil) }

// post sends a form as the console's pages send it once the operator
// answered yes where they ask first: with confirmed=1, the field of a
// confirmation, which the actions that ask first need (confirm.go) and
// the others never read. confirm_test.go sends forms without it.
func (b *browser) post(path string, kv ...string) (*http.Response, string) {
	form := url.Values{"confirmed": {"1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return b.do("POST", path, form)
}

// signIn signs in with the password and the current code.
func (s *site) signIn(email, seed string) *browser {
	s.t.Helper()
	b := s.browser()
	resp, body := b.post("/login", "email", email, "password", password)
	if resp.Request.URL.Path != "/login/code" {
		s.t.Fatalf("after the password: %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	code, _ := mfa.TOTPCode(seed, s.clock.Now())
	resp, body = b.post("/login/code", "code", code)
	if resp.Request.URL.Path != "/customers" || resp.StatusCode != 200 {
		s.t.Fatalf("after the code: %s %d\n%s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	return b
}

func (s *site) auditActions(accountID string) []string {
	s.t.Helper()
	evs, err := s.db.ListAudit(s.t.Context(), store.AuditFilter{AccountID: accountID})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Actor+" "+e.Action+" "+e.Outcome)
	}
	return out
}

func TestSignIn(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)

	b := s.browser()
	if resp, _ := b.get("/customers"); resp.Request.URL.Path != "/login" {
		t.Errorf("signed out: /customers went to %s", resp.Request.URL.Path)
	}
	resp, body := b.post("/login", "email", "kim@tobira.example", "password", "wrong password!")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "正しくありません") {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	// The address stays: the focus goes to the password, which the message
	// describes, as on the portal's sign-in.
	if !regexp.MustCompile(`<input id="password"[^>]*aria-describedby="form-error"[^>]* autofocus>`).MatchString(body) ||
		regexp.MustCompile(`<input id="email"[^>]* autofocus`).MatchString(body) {
		t.Errorf("after a wrong password the focus is not on the password field:\n%s", body)
	}
	resp, body = b.post("/login", "email", "nobody@tobira.example", "password", password)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown operator: %d", resp.StatusCode)
	}
	resp, _ = b.post("/login", "email", "KIM@tobira.example", "password", password)
	if resp.Request.URL.Path != "/login/code" {
		t.Fatalf("right password: at %s", resp.Request.URL.Path)
	}
	// The password alone opens nothing: the page asks for the code.
	if resp, _ := b.get("/customers"); resp.Request.URL.Path != "/login/code" {
		t.Errorf("password only: /customers went to %s", resp.Request.URL.Path)
	}
	resp, _ = b.post("/login", "email", "kim@tobira.example", "password", password)
	code, _ := mfa.TOTPCode(seed, s.clock.Now())
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	resp, body = b.post("/login/code", "code", wrong)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "コードが正しくありません") {
		t.Errorf("wrong code: %d", resp.StatusCode)
	}
	// Typed as a Japanese input method gives it: full-width, in two groups.
	wide := strings.Map(func(r rune) rune { return r - '0' + '０' }, code)
	resp, body = b.post("/login/code", "code", wide[:9]+"　"+wide[9:])
	if resp.Request.URL.Path != "/customers" || !strings.Contains(body, "顧客検索") || !strings.Contains(body, "Op kim@tobira.example") {
		t.Fatalf("right code: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	// The session, and the marker that lets a link from elsewhere find it
	// (bounce.go).
	for _, c := range b.c.Jar.Cookies(resp.Request.URL) {
		if c.Name != console.CookieName && c.Name != "tobira_console_lax" {
			t.Errorf("cookie %s", c.Name)
		}
	}
	// The same code again, in another browser: a replay.
	b2 := s.browser()
	b2.post("/login", "email", "kim@tobira.example", "password", password)
	if resp, _ := b2.post("/login/code", "code", code); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed code: %d", resp.StatusCode)
	}
	// English by Accept-Language.
	if _, body := b.do("GET", "/customers", nil, "Accept-Language", "en"); !strings.Contains(body, "Find customers") {
		t.Error("no English page for Accept-Language: en")
	}
	// Signing out ends the session.
	b.post("/logout")
	if resp, _ := b.get("/customers"); resp.Request.URL.Path != "/login" {
		t.Errorf("after sign-out: /customers went to %s", resp.Request.URL.Path)
	}
	acts := s.auditActions("")
	for _, want := range []string{"operator:kim@tobira.example console.signin fail", "operator:nobody@tobira.example console.signin fail",
		"operator:kim@tobira.example console.signin ok", "operator:kim@tobira.example console.signout ok"} {
		if !strings.Contains(strings.Join(acts, "\n"), want) {
			t.Errorf("audit lacks %q:\n%s", want, strings.Join(acts, "\n"))
		}
	}
}

// TestSignInEmptyFields: a sign-in with the address or the password left
// empty asks for both, as the portal's sign-in does (400, its words, in the
// operator's language), hashes nothing and counts no attempt: an operator
// who pressed 「続ける」 too soon a dozen times still signs in, and the
// audit log records no failure.
func TestSignInEmptyFields(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	key := "console:password:kim@tobira.example"
	hashed, _ := s.svc.Hasher.Hashed()
	b := s.browser()
	for _, c := range []struct {
		what, email, password, lang, want string
		focus                             string
	}{
		{"no address", "", password, "", "メールアドレスとパスワードを入力してください。", "email"},
		{"spaces for an address", "  　", password, "", "メールアドレスとパスワードを入力してください。", "email"},
		{"no password", "kim@tobira.example", "", "", "メールアドレスとパスワードを入力してください。", "password"},
		{"neither", "", "", "", "メールアドレスとパスワードを入力してください。", "email"},
		{"no password, in English", "kim@tobira.example", "", "en", "Enter your email address and password.", "password"},
	} {
		for range passwordAttemptsPlus {
			form := url.Values{"email": {c.email}, "password": {c.password}}
			resp, body := b.do("POST", "/login", form, "Accept-Language", c.lang)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) || strings.Contains(body, "正しくありません") {
				t.Fatalf("%s: %d, want 400 with %q\n%s", c.what, resp.StatusCode, c.want, body)
			}
			// The address typed stays, and the focus is on the field to fill.
			if !regexp.MustCompile(`<input id="` + c.focus + `"[^>]*aria-describedby="form-error"[^>]* autofocus>`).MatchString(body) {
				t.Fatalf("%s: the focus is not on the %s field:\n%s", c.what, c.focus, body)
			}
		}
	}
	if n, _ := s.svc.Hasher.Hashed(); n != hashed {
		t.Errorf("empty sign-ins hashed %d passwords", n-hashed)
	}
	if n, err := s.db.Hit(ctx, key, 15*time.Minute, s.clock.Now(), 0); err != nil || n != 0 {
		t.Errorf("empty sign-ins counted %d attempts (%v)", n, err)
	}
	if acts := strings.Join(s.auditActions(""), "\n"); strings.Contains(acts, store.ActionConsoleSignIn) {
		t.Errorf("empty sign-ins recorded:\n%s", acts)
	}
	s.signIn("kim@tobira.example", seed)
}

// passwordAttemptsPlus is one more than the console's password attempts
// per address in its window: as many as would close the sign-in were they
// counted.
const passwordAttemptsPlus = 11

func TestWrongCodesLock(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleAdmin)
	b := s.browser()
	b.post("/login", "email", "kim@tobira.example", "password", password)
	code, _ := mfa.TOTPCode(seed, s.clock.Now())
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := 1; i <= mfa.FailuresPerLock; i++ {
		b.post("/login/code", "code", wrong)
	}
	resp, body := b.post("/login/code", "code", code)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "停止") {
		t.Fatalf("right code while locked: %d", resp.StatusCode)
	}
	s.clock.Advance(time.Hour)
	s.signIn("kim@tobira.example", seed)
}

func TestCrossOriginPostRefused(t *testing.T) {
	s := newSite(t)
	s.operator("kim@tobira.example", store.RoleAdmin)
	b := s.browser()
	form := url.Values{"email": {"kim@tobira.example"}, "password": {password}}
	resp, _ := b.do("POST", "/login", form, "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: %d", resp.StatusCode)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy")
	}
}

func TestSearch(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	yamada, _, err := s.svc.OpenAccount(ctx, "yamada@example.jp", "山田 太郎", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	sato, _, err := s.svc.OpenAccount(ctx, "sato@example.jp", "佐藤 花子", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.svc.SetPassword(ctx, sato.ID, password); err != nil {
		t.Fatal(err)
	}
	if err := s.db.CreateContract(ctx, &store.Contract{ID: "c1", AccountID: sato.ID, Number: "C-2026-000045",
		Service: "光回線 1G", Plan: "ファミリー", StartDate: t0, MonthlyFee: 5000, Status: store.ContractActive}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"yamada":        {yamada.Email, "開通待ち"},
		"花子":            {sato.Email, "開通済"},
		"c-2026-000045": {sato.Email},
		// As a Japanese IME types them: full-width space, digits, hyphens, letters.
		"佐藤　花子":         {sato.Email},
		"Ｃ－２０２６－００００４５": {sato.Email},
		"ｙａｍａｄａ＠":       {yamada.Email},
		"  山田　　太郎 ":     {yamada.Email},
	} {
		_, body := b.get("/customers?q=" + url.QueryEscape(q))
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("search %q: no %q", q, w)
			}
		}
		if !strings.Contains(body, "検索結果 1 件") {
			t.Errorf("search %q: not one result", q)
		}
	}
	// A name stored with the ideographic space is found with either space, or none.
	if _, _, err := s.svc.OpenAccount(ctx, "suzuki@example.jp", "鈴木　一郎", "operator:test"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"鈴木　一郎", "鈴木 一郎", "鈴木一郎"} {
		if _, body := b.get("/customers?q=" + url.QueryEscape(q)); !strings.Contains(body, "suzuki@example.jp") {
			t.Errorf("a name stored with the ideographic space is not found by %q", q)
		}
	}
	if _, body := b.get("/customers?q=nobody"); !strings.Contains(body, "該当する顧客はいません") {
		t.Error("search for nobody found someone")
	}
	if _, body := b.get("/customers?q=yamada"); !strings.Contains(body, "検索結果 1 件") || strings.Contains(body, "件以上") {
		t.Errorf("search for one: no exact count:\n%s", body)
	}
	// More than the cap: the count says so, and the operator is asked to narrow it.
	for i := range store.MaxFoundAccounts + 5 {
		if _, _, err := s.svc.OpenAccount(ctx, fmt.Sprintf("kaiin%03d@example.jp", i), "会員 太郎", "operator:test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, body := b.get("/customers?q=kaiin"); !strings.Contains(body, fmt.Sprintf("検索結果 %d 件以上", store.MaxFoundAccounts)) ||
		!strings.Contains(body, "条件を絞り込んでください") {
		t.Errorf("search past the cap:\n%s", body)
	}
	_, body := b.get("/customers/" + sato.ID)
	if !strings.Contains(body, "C-2026-000045") || !strings.Contains(body, "account.open") {
		t.Errorf("customer page lacks the contract or the audit:\n%s", body)
	}
}

func TestResendActivation(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a, first, err := s.svc.OpenAccount(ctx, "yamada@example.jp", "山田 太郎", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	tokenIn := func(text string) string {
		i := strings.Index(text, "/activate?token=")
		if i < 0 {
			t.Fatalf("no activation link in:\n%s", text)
		}
		u, err := url.Parse("https://x" + strings.Fields(text[i:])[0])
		if err != nil {
			t.Fatal(err)
		}
		return u.Query().Get("token")
	}
	var links []string
	for range 2 {
		resp, body := b.post("/customers/" + a.ID + "/resend")
		if resp.Request.URL.Path != "/customers/"+a.ID || !strings.Contains(body, "開通メールを送信しました") {
			t.Fatalf("resend: %s %d", resp.Request.URL.Path, resp.StatusCode)
		}
		mails, err := s.db.ListMails(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) != 1 || mails[0].To != "yamada@example.jp" || !strings.Contains(mails[0].Subject, "開通") {
			t.Fatalf("mails: %+v", mails)
		}
		links = append(links, tokenIn(mails[0].Text))
	}
	// Only the newest link works: the one of the opening and the first
	// resend's are revoked.
	u, _ := url.Parse(first)
	for i, tok := range []string{u.Query().Get("token"), links[0]} {
		if _, err := s.svc.CheckActivation(ctx, tok); !errors.Is(err, portal.ErrTokenInvalid) {
			t.Errorf("earlier link %d after a resend: %v, want ErrTokenInvalid", i, err)
		}
	}
	if _, err := s.svc.CheckActivation(ctx, links[1]); err != nil {
		t.Errorf("the newest link: %v", err)
	}
	if acts := s.auditActions(a.ID); len(acts) == 0 || acts[0] != "operator:kim@tobira.example account.activation_resend ok" {
		t.Errorf("audit: %v", acts)
	}
	// An activated account gets none.
	if err := s.svc.SetPassword(ctx, a.ID, password); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.post("/customers/" + a.ID + "/resend"); resp.StatusCode != http.StatusConflict {
		t.Errorf("resend to an activated account: %d", resp.StatusCode)
	}
}

func TestLockAndOpen(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	resp, body := b.post("/customers/new", "email", "Tanaka@Example.jp", "name", "田中 一郎")
	if !strings.Contains(body, "アカウントを開設し") {
		t.Fatalf("open: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	a, err := s.db.AccountByEmail(ctx, "tanaka@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.post("/customers/new", "email", "tanaka@example.jp", "name", "x"); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("open a taken address: %d", resp.StatusCode)
	}
	if a.Lang != "ja" || s.mailsWith("tanaka@example.jp", "開通") != 1 {
		t.Errorf("an account opened without a language: %q, activation mails in Japanese %d", a.Lang, s.mailsWith("tanaka@example.jp", "開通"))
	}
	// The mails of a customer who reads English.
	if resp, body := b.post("/customers/new", "email", "ann@example.jp", "name", "Ann", "lang", "fr"); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "メールの言語は日本語か English を選んでください") {
		t.Errorf("open with lang fr: %d", resp.StatusCode)
	}
	// The field an error is about takes the focus and names the message.
	focused := regexp.MustCompile(`<(?:input|select) id="(\w+)"[^>]* autofocus`)
	for _, c := range []struct{ name, lang, want string }{{"", "ja", "name"}, {"Ann", "fr", "lang"}} {
		_, body := b.post("/customers/new", "email", "ann@example.jp", "name", c.name, "lang", c.lang)
		if m := focused.FindAllStringSubmatch(body, -1); len(m) != 1 || m[0][1] != c.want ||
			!regexp.MustCompile(`id="`+c.want+`"[^>]*aria-invalid="true"`).MatchString(body) {
			t.Errorf("open with name %q and lang %q: focus on %v, want only %s, marked invalid", c.name, c.lang, m, c.want)
		}
	}
	if _, body := b.post("/customers/new", "email", "not an address", "name", "Ann"); !regexp.MustCompile(`id="email"[^>]*aria-invalid="true"[^>]* autofocus`).MatchString(body) {
		t.Error("a wrong address does not take the focus")
	}
	b.post("/customers/new", "email", "ann@example.jp", "name", "Ann", "lang", "en")
	ann, err := s.db.AccountByEmail(ctx, "ann@example.jp")
	if err != nil || ann.Lang != "en" || s.mailsWith("ann@example.jp", "Your account is ready") != 1 {
		t.Fatalf("an account opened in English: %+v, %v", ann, err)
	}
	if _, body := b.get("/customers/" + ann.ID); !strings.Contains(body, "<dt>メールの言語</dt><dd>English</dd>") {
		t.Error("the customer's page does not say the mails are in English")
	}
	resp, body = b.post("/customers/"+a.ID+"/lock", "reason", " ")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "ロックの理由を入力してください") {
		t.Errorf("lock without a reason: %d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `name="next" value="/customers/`+a.ID+`"`) {
		t.Errorf("the language switch of the refused lock does not go back to the customer's page:\n%s", body)
	}
	if _, err := s.db.AccountLockOf(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("locked without a reason: %v", err)
	}
	_, body = b.post("/customers/"+a.ID+"/lock", "reason", "盗難の届出")
	if !strings.Contains(body, "アカウントをロックしました") || !strings.Contains(body, "盗難の届出") {
		t.Errorf("lock: page lacks the notice or reason")
	}
	if !strings.Contains(body, "kim@tobira.example が ") || strings.Contains(body, "operator:kim@tobira.example が") {
		t.Error("the customer's page does not name who locked by address alone")
	}
	if l, err := s.db.AccountLockOf(ctx, a.ID); err != nil || l.LockedBy != "operator:kim@tobira.example" {
		t.Errorf("lock stored: %+v %v", l, err)
	}
	if resp, _ := b.post("/customers/"+a.ID+"/lock", "reason", "again"); resp.StatusCode != http.StatusConflict {
		t.Errorf("lock twice: %d", resp.StatusCode)
	}
	_, body = b.post("/customers/" + a.ID + "/unlock")
	if !strings.Contains(body, "ロックを解除しました") {
		t.Error("unlock: no notice")
	}
	want := []string{"operator:kim@tobira.example account.unlock ok", "operator:kim@tobira.example account.lock ok", "operator:kim@tobira.example account.open ok"}
	if got := s.auditActions(a.ID); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if resp, _ := b.get("/customers/nobody"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown customer: %d", resp.StatusCode)
	}
}

func TestAuditFilterAndCSV(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	support := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a, _, err := s.svc.OpenAccount(ctx, "yamada@example.jp", "山田 太郎", "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	day2 := t0.Add(24 * time.Hour)
	for _, ev := range []store.AuditEvent{
		{At: day2, AccountID: a.ID, Actor: "customer", Action: "signin.password", Outcome: "fail", Detail: "=cmd|' /C calc'!A0"},
		{At: day2, AccountID: a.ID, Actor: "customer", Action: "signin.password", Outcome: "ok"},
	} {
		if err := s.db.AppendAudit(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	_, body := support.get("/audit?email=yamada%40example.jp&action=signin.password&outcome=fail")
	if !strings.Contains(body, "signin.password") || strings.Count(body, "<tr>") != 2 || strings.Contains(body, `href="/audit.csv`) {
		t.Errorf("support's filtered audit page: %d rows\n%s", strings.Count(body, "<tr>")-1, body)
	}
	if _, body := support.get("/audit?email=nobody%40example.jp"); !strings.Contains(body, "このメールアドレスの顧客はいません") {
		t.Error("unknown email: no message")
	}
	if resp, _ := support.get("/audit.csv"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support's CSV export: %d", resp.StatusCode)
	}
	// Dates are days in Japan: 2026-04-02 JST holds the events of the second day.
	resp, body := admin.get("/audit.csv?email=yamada%40example.jp&from=2026-04-02&to=2026-04-02")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("admin's CSV: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.HasPrefix(body, "\xEF\xBB\xBF") {
		t.Error("CSV without a byte order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader([]byte(strings.TrimPrefix(body, "\xEF\xBB\xBF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != "id,at,account_id,email,actor,action,outcome,client_ip,user_agent,detail" {
		t.Fatalf("CSV records: %q", recs)
	}
	if recs[1][6] != "ok" || recs[2][6] != "fail" || recs[2][3] != "yamada@example.jp" || recs[2][1] != "2026-04-02T09:00:05+09:00" {
		t.Errorf("CSV rows: %q", recs[1:])
	}
	if recs[2][9] != "'=cmd|' /C calc'!A0" {
		t.Errorf("formula not neutralised: %q", recs[2][9])
	}
	if resp, _ := admin.get("/audit?from=yesterday"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad date: %d", resp.StatusCode)
	}
	acts := strings.Join(s.auditActions(""), "\n")
	for _, want := range []string{"operator:kim@tobira.example audit.export denied", "operator:boss@tobira.example audit.export ok"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit lacks %q", want)
		}
	}
	// A HEAD request gets the headers alone, and records no export.
	exports := strings.Count(acts, "audit.export ok")
	if resp, body := admin.do("HEAD", "/audit.csv", nil); resp.StatusCode != 200 || body != "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("HEAD of the CSV: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if n := strings.Count(strings.Join(s.auditActions(""), "\n"), "audit.export ok"); n != exports {
		t.Errorf("a HEAD of the CSV recorded %d exports", n-exports)
	}
}

// TestSignInOftenNotThrottled: the right password gives its attempt back,
// so an operator who signs in again and again within the password window
// (an idle timeout, another browser) is not throttled; wrong ones still are.
func TestSignInOftenNotThrottled(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	for i := range 12 {
		s.clock.Advance(30 * time.Second) // each code in a step of its own
		if s.signIn("kim@tobira.example", seed) == nil {
			t.Fatalf("sign-in %d", i+1)
		}
	}
	b := s.browser()
	for range 10 {
		b.post("/login", "email", "kim@tobira.example", "password", "wrong password")
	}
	if resp, body := b.post("/login", "email", "kim@tobira.example", "password", password); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right password after ten wrong ones: %d\n%s", resp.StatusCode, body)
	}
}

// TestIdleTimeout: a console sign-in lasts IdleTimeout past its last use,
// and SessionTTL from the sign-in at most, however busy the operator.
func TestIdleTimeout(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	signedIn := func(b *browser) bool {
		resp, _ := b.get("/customers")
		return resp.Request.URL.Path == "/customers"
	}
	b := s.signIn("kim@tobira.example", seed)
	for range 3 {
		s.clock.Advance(console.IdleTimeout - time.Minute)
		if !signedIn(b) {
			t.Fatal("a sign-in in use ended before its idle timeout")
		}
	}
	s.clock.Advance(console.IdleTimeout)
	if signedIn(b) {
		t.Fatal("a sign-in left unused for the idle timeout still opens the console")
	}

	b = s.signIn("kim@tobira.example", seed)
	start := s.clock.Now()
	for s.clock.Now().Before(start.Add(console.SessionTTL - console.IdleTimeout)) {
		s.clock.Advance(console.IdleTimeout / 2)
		if !signedIn(b) {
			t.Fatalf("a busy sign-in ended after %v", s.clock.Now().Sub(start))
		}
	}
	s.clock.Set(start.Add(console.SessionTTL))
	if signedIn(b) {
		t.Error("a busy sign-in outlived SessionTTL")
	}
}
