package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

// postRaw posts body as a form, as it is.
func (b *browser) postRaw(path, body string) (*http.Response, string) {
	b.s.t.Helper()
	return b.send("POST", path, strings.NewReader(body))
}

// TestPostBodyRefused: a POST with a body over the limit, or one that is
// no form of text, changes nothing, even where the action reads nothing
// of its body, and says why in Japanese.
func TestPostBodyRefused(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	s.operator("kim@tobira.example", store.RoleSupport)
	kim, err := s.db.OperatorByEmail(ctx, "kim@tobira.example")
	if err != nil {
		t.Fatal(err)
	}
	a := s.customerWithFactor("yamada@example.jp")
	if resp, _ := admin.post("/customers/"+a.ID+"/lock", "reason", "盗難の届出"); resp.StatusCode != http.StatusOK {
		t.Fatalf("lock: %d", resp.StatusCode)
	}
	big := url.Values{"pad": {strings.Repeat("a", 100<<10)}}
	for _, c := range []struct {
		name, path, body, want string
		status                 int
	}{
		{"oversized", "/customers/" + a.ID + "/unlock", big.Encode(), "送信された内容が大きすぎます", http.StatusRequestEntityTooLarge},
		{"malformed", "/customers/" + a.ID + "/unlock", "x=%zz", "リクエストの形式が正しくありません", http.StatusBadRequest},
		{"not text", "/customers/" + a.ID + "/unlock", "x=%00", "リクエストの形式が正しくありません", http.StatusBadRequest},
		{"oversized", "/operators/" + kim.ID + "/disable", big.Encode(), "送信された内容が大きすぎます", http.StatusRequestEntityTooLarge},
		{"malformed", "/operators/" + kim.ID + "/disable", "x=%zz", "リクエストの形式が正しくありません", http.StatusBadRequest},
	} {
		resp, body := admin.postRaw(c.path, c.body)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s body to %s: %d, want %d with %q", c.name, c.path, resp.StatusCode, c.status, c.want)
		}
	}
	if _, err := s.db.AccountLockOf(ctx, a.ID); errors.Is(err, store.ErrNotFound) {
		t.Error("a refused body unlocked the account")
	}
	if op, _ := s.db.OperatorByEmail(ctx, "kim@tobira.example"); op.Disabled {
		t.Error("a refused body disabled the operator")
	}
}

// copyOf is another browser with b's cookies: one who copied them.
func (b *browser) copyOf() *browser {
	b.s.t.Helper()
	c := b.s.browser()
	u, _ := url.Parse(b.s.srv.URL)
	c.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
	return c
}

// TestPasswordChangeRotatesSession: an operator who changes their password
// goes on signed in under a new cookie; a copy of the old one, taken
// before the change, opens nothing.
func TestPasswordChangeRotatesSession(t *testing.T) {
	s := newSite(t)
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	thief := b.copyOf()
	if resp, _ := thief.get("/customers"); resp.Request.URL.Path != "/customers" {
		t.Fatalf("the copied cookie does not open the console: at %s", resp.Request.URL.Path)
	}
	const own = "another long passphrase"
	resp, body := b.post("/password", "current", password, "new", own, "confirm", own)
	if resp.Request.URL.Path != "/customers" || !strings.Contains(body, "パスワードを変更しました") {
		t.Fatalf("change: at %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
	thief.wantSignedOut("a copy of the cookie from before the password change")
	if resp, _ := b.get("/resets"); resp.Request.URL.Path != "/resets" {
		t.Errorf("the operator who changed the password: /resets went to %s", resp.Request.URL.Path)
	}
}

// TestOverlongInputRefused: a field longer than the form allows, posted
// directly, is refused with a message and changes nothing; it was cut and
// stored, an address cut into another valid one.
func TestOverlongInputRefused(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	a := s.customerWithFactor("yamada@example.jp")
	long := strings.Repeat("長", 201)

	// Its first 254 characters are an address too.
	addr := "sato@example.jp" + strings.Repeat("p", 250)
	resp, body := admin.post("/customers/new", "email", addr, "name", "佐藤 花子")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "メールアドレスの形式が正しくありません") {
		t.Errorf("open with a %d-character address: %d", len(addr), resp.StatusCode)
	}
	if found, _ := s.db.FindAccounts(ctx, "sato@"); len(found) != 0 {
		t.Errorf("an over-long address opened %s", found[0].Email)
	}
	resp, body = admin.post("/operators/new", "email", addr, "name", "佐藤", "role", "support")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "メールアドレスの形式が正しくありません") {
		t.Errorf("add an operator with a %d-character address: %d", len(addr), resp.StatusCode)
	}
	if ops, _ := s.db.ListOperators(ctx); len(ops) != 1 {
		t.Errorf("an over-long address added an operator: %d operators", len(ops))
	}

	resp, body = admin.post("/customers/"+a.ID+"/lock", "reason", long)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "200文字以内") {
		t.Errorf("lock with a 201-character reason: %d", resp.StatusCode)
	}
	if _, err := s.db.AccountLockOf(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a 201-character reason locked the account: %v", err)
	}
	resp, body = admin.post("/customers/"+a.ID+"/reset-mfa", "reset_reason", long)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "200文字以内") {
		t.Errorf("reset with a 201-character reason: %d", resp.StatusCode)
	}
	if _, err := s.db.OpenResetRequest(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a 201-character reason opened a reset request: %v", err)
	}
	resp, body = admin.post("/customers/"+a.ID+"/erase", "confirm_email", a.Email, "erase_reason", long)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "200文字以内") {
		t.Errorf("erase with a 201-character reason: %d", resp.StatusCode)
	}
	if got, _ := s.db.AccountByID(ctx, a.ID); got.Erased() {
		t.Error("a 201-character reason erased the account")
	}

	r := &store.RecoveryRequest{ID: "rec-1", AccountID: a.ID, ConfirmTokenHash: secret.Hash("tok"), CreatedAt: t0,
		ConfirmExpiresAt: t0.Add(time.Hour)}
	if err := s.db.CreateRecoveryRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ConfirmRecoveryRequest(ctx, secret.Hash("tok"), t0.Add(time.Minute), 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	resp, body = admin.post("/recoveries/rec-1/propose", "reason", long)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "200文字以内") {
		t.Errorf("propose a recovery's early approval with a 201-character reason: %d", resp.StatusCode)
	}
	if got, _ := s.db.PendingRecoveryOf(ctx, a.ID); got == nil || got.ProposedBy != "" || got.ApprovedBy != "" {
		t.Errorf("a 201-character reason proposed the recovery's early approval: %+v", got)
	}
}

// TestSignInBusy: when the password hashing is busy (a flood of sign-ins
// at the portal, which shares it), the console's sign-in and password
// change say so, with Retry-After, and count no attempt: an operator who
// tried again was throttled for attempts never checked.
func TestSignInBusy(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	key := "console:password:kim@tobira.example"
	before, err := s.db.Hit(ctx, key, 15*time.Minute, s.clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}

	// One slow hash holds the only slot and another waits in the only
	// place of the queue.
	h := account.NewHasher(account.Argon2Params{MemoryKiB: 32 * 1024, Time: 16, Threads: 1}, 1)
	h.MaxQueue, h.MaxWait = 1, 5*time.Minute
	s.svc.Hasher = h
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { h.Hash(context.Background(), "x") })
	}
	defer wg.Wait()
	for h.Waiting() < 1 {
		time.Sleep(time.Millisecond)
	}

	for _, c := range []struct {
		what string
		b    *browser
		path string
		kv   []string
	}{
		{"sign-in", s.browser(), "/login", []string{"email", "kim@tobira.example", "password", password}},
		{"password change", b, "/password", []string{"current", password, "new", "a new long passphrase", "confirm", "a new long passphrase"}},
	} {
		resp, body := c.b.post(c.path, c.kv...)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "ただいま混み合っています") ||
			resp.Header.Get("Retry-After") != "5" {
			t.Errorf("%s while busy: %d, Retry-After %q", c.what, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if n, err := s.db.Hit(ctx, key, 15*time.Minute, s.clock.Now(), 0); err != nil || n != before {
		t.Errorf("attempts counted while busy: %d, %v; want %d", n, err, before)
	}
}

// sessionHook is the operators' store with a step run once just before
// the next session of a kind (pending: the code step's) is stored: what
// another admin or command does at that moment.
type sessionHook struct {
	store.Operators
	pending bool
	before  func()
}

func (h *sessionHook) CreateOperatorSession(ctx context.Context, ss *store.OperatorSession) error {
	if f := h.before; f != nil && ss.MFAAt.IsZero() == h.pending {
		h.before = nil
		f()
	}
	return h.Operators.CreateOperatorSession(ctx, ss)
}

// TestChangeDuringSignIn: an operator disabled, given a new password or a
// new authenticator key while their sign-in is between its checks and its
// session is left with no session: the change ends the operator's
// sessions, and the one made just after it outlived it.
func TestChangeDuringSignIn(t *testing.T) {
	for _, c := range []struct {
		name    string
		pending bool
		change  func(s *site)
	}{
		{"disabled at the code step", false, func(s *site) {
			if _, err := console.DisableOperator(s.t.Context(), s.svc, s.db, "kim@tobira.example", "operator:cli"); err != nil {
				s.t.Fatal(err)
			}
		}},
		{"new key at the code step", false, func(s *site) {
			if _, err := console.ResetOperatorTOTP(s.t.Context(), s.svc, s.db, "kim@tobira.example", "operator:cli"); err != nil {
				s.t.Fatal(err)
			}
		}},
		{"new password at the password step", true, func(s *site) {
			if _, _, err := console.SetOperatorPassword(s.t.Context(), s.svc, s.db, "kim@tobira.example", "a password set by the cli", "operator:cli"); err != nil {
				s.t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			hook := &sessionHook{pending: c.pending}
			s := newSiteWith(t, func(ops store.Operators) store.Operators { hook.Operators = ops; return hook })
			seed := s.operator("kim@tobira.example", store.RoleSupport)
			hook.before = func() { c.change(s) }
			b := s.browser()
			b.post("/login", "email", "kim@tobira.example", "password", password)
			code, _ := mfa.TOTPCode(seed, s.clock.Now())
			b.post("/login/code", "code", code)
			if op, _ := s.db.OperatorByEmail(t.Context(), "kim@tobira.example"); op.Disabled {
				if _, err := console.EnableOperator(t.Context(), s.svc, s.db, "kim@tobira.example", "operator:cli"); err != nil {
					t.Fatal(err)
				}
			}
			b.wantSignedOut("a sign-in through the change")
		})
	}
}
