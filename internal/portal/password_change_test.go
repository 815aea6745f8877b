package portal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/account"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/store"
)

const newPassword = "a brand new passphrase"

// sessionGrant gives the session of token a live grant at a site, as a
// sign-in there through the portal would (the grant names the session's
// SID), and returns its id.
func (e *env) sessionGrant(c *customer, token, id string) string {
	e.t.Helper()
	si := e.session(token)
	err := e.st.CreateClient(e.ctx, &store.Client{ID: "site", Name: "site", RedirectURIs: []string{"https://site.example.jp/cb"},
		FirstParty: true, CreatedAt: e.clock.Now()})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		e.t.Fatal(err)
	}
	g := &store.Grant{ID: id, ClientID: "site", AccountID: c.acct.ID, Scopes: []string{"openid"},
		AuthTime: e.clock.Now(), SessionHash: si.Session.SID, CreatedAt: e.clock.Now()}
	if err := e.st.CreateGrant(e.ctx, g); err != nil {
		e.t.Fatal(err)
	}
	return g.ID
}

// passwordIs reports whether pw signs c in (its password step passes);
// it moves the clock past the throttle window first, so that earlier
// attempts do not decide.
func (e *env) passwordIs(c *customer, pw string) bool {
	e.t.Helper()
	e.clock.Advance(e.svc.Config.PasswordWindow.Duration)
	_, err := e.svc.Password(e.ctx, c.email, pw, "/", e.ip)
	if err != nil && !errors.Is(err, portal.ErrBadCredentials) {
		e.t.Fatalf("Password: %v", err)
	}
	return err == nil
}

// TestChangePassword: the current password and a new one set the new one;
// the account's other sessions and the sites' grants of them end, this
// session goes on under a new id with its grants, the change is audited,
// and a notice with a "this was not me" link goes to the account.
func TestChangePassword(t *testing.T) {
	e, box, c := enrolledWithNotices(t)
	told := e.sitesTold()
	other := e.signIn(c)
	otherGrant := e.sessionGrant(c, other, "g-other")
	token := e.signIn(c)
	grant := e.sessionGrant(c, token, "g-this")
	box.since()
	si := e.session(token)
	before := *si.Session

	e.clock.Advance(time.Minute)
	at := e.clock.Now()
	newToken, err := e.svc.ChangePassword(e.ctx, si, c.password, newPassword, e.ip)
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if newToken == "" || newToken == token {
		t.Fatalf("ChangePassword gave the token %q, want a new one", newToken)
	}
	e.noSession(token)
	e.noSession(other)
	after := e.session(newToken).Session
	if after.SID != before.SID || !after.CreatedAt.Equal(before.CreatedAt) || !after.MFAAt.Equal(before.MFAAt) ||
		!after.ExpiresAt.Equal(before.ExpiresAt) || strings.Join(after.AMR, " ") != strings.Join(before.AMR, " ") {
		t.Errorf("the session after the change is %+v, want %+v under a new id", after, before)
	}
	if !e.grantEnded(otherGrant) {
		t.Error("the other session's grant at the site lives after the change")
	}
	if e.grantEnded(grant) {
		t.Error("the change ended this session's grant at the site")
	}
	if strings.Join(*told, ",") != c.acct.ID {
		t.Errorf("the sites were told of grants of %v, want the other session's one", *told)
	}
	if !e.audited(c.acct.ID, store.ActionPasswordChange, "ok") {
		t.Error("no audit event of the change")
	}
	box.one(c, at, "203.0.113.7", "Chrome (Linux)", "内容: パスワードが変更されました。",
		"第三者がお客様のパスワードを変更した可能性があります。", "新しいパスワードでログインし直してください。")

	if e.passwordIs(c, c.password) {
		t.Error("the old password still signs in")
	}
	if !e.passwordIs(c, newPassword) {
		t.Error("the new password does not sign in")
	}
}

// TestChangePasswordNoticeInEnglish: the notice is in the language of the
// request that changed the password.
func TestChangePasswordNoticeInEnglish(t *testing.T) {
	e, box, c := enrolledWithNotices(t)
	token := e.signIn(c)
	box.since()
	en := e.ip
	en.Lang = "en"
	if _, err := e.svc.ChangePassword(e.ctx, e.session(token), c.password, newPassword, en); err != nil {
		t.Fatal(err)
	}
	ms := box.since()
	if len(ms) != 1 || ms[0].Subject != "[Tobira] Security notice" ||
		!strings.Contains(ms[0].Text, "Your password was changed.") ||
		!strings.Contains(ms[0].Text, "someone else may have changed your password") {
		t.Fatalf("mails %+v, want one English notice of the change", ms)
	}
}

// TestChangePasswordRefused: every input the change refuses changes
// nothing: the password, the sessions, the grants and the mails stay.
func TestChangePasswordRefused(t *testing.T) {
	for _, tc := range []struct {
		name            string
		current, next   string
		stale           bool
		want            error
		counted, logged bool // a password attempt counted, a failure audited
	}{
		{"step-up expired", "correct horse battery", newPassword, true, portal.ErrStepUpNeeded, false, false},
		{"same as the current", "correct horse battery", "correct horse battery", false, portal.ErrSamePassword, false, false},
		{"too short", "correct horse battery", "short", false, account.ErrPasswordShort, false, false},
		{"too long", "correct horse battery", strings.Repeat("long ", 26), false, account.ErrPasswordLong, false, false},
		{"the address", "correct horse battery", "yamada@example.jp", false, account.ErrPasswordIsEmail, false, false},
		{"common", "correct horse battery", "password123", false, account.ErrPasswordCommon, false, false},
		{"wrong current", "wrong horse battery", newPassword, false, portal.ErrBadCredentials, true, true},
		{"no current", "", newPassword, false, portal.ErrBadCredentials, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, box, c := enrolledWithNotices(t)
			told := e.sitesTold()
			other := e.signIn(c)
			otherGrant := e.sessionGrant(c, other, "g-other")
			token := e.signIn(c)
			box.since()
			if tc.stale {
				e.clock.Advance(e.svc.Config.StepUpMaxAge.Duration + time.Second)
			}
			hash := e.account(c).PasswordHash
			_, err := e.svc.ChangePassword(e.ctx, e.session(token), tc.current, tc.next, e.ip)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ChangePassword: %v, want %v", err, tc.want)
			}
			if e.account(c).PasswordHash != hash {
				t.Error("the password hash changed")
			}
			e.session(token)
			e.session(other)
			if e.grantEnded(otherGrant) || len(*told) != 0 {
				t.Error("a grant at the sites ended")
			}
			box.none("a refused change")
			if e.audited(c.acct.ID, store.ActionPasswordChange, "ok") {
				t.Error("a refused change audited as done")
			}
			if got := e.audited(c.acct.ID, store.ActionPasswordChange, "fail"); got != tc.logged {
				t.Errorf("a failure audited: %v, want %v", got, tc.logged)
			}
			n, err := e.st.Hit(e.ctx, "pw:email:"+secret.Hash(c.email), e.svc.Config.PasswordWindow.Duration, e.clock.Now(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if counted := n > 0; counted != tc.counted {
				t.Errorf("the account's password attempts count %d, want counted: %v", n, tc.counted)
			}
			if !e.passwordIs(c, c.password) {
				t.Error("the current password no longer signs in")
			}
		})
	}
}

// TestChangePasswordThrottled: wrong current passwords count towards the
// account's password limit, with the sign-in's wrong passwords: at the
// limit both are refused until the window ends, a right password too, and
// the customer learns until when.
func TestChangePasswordThrottled(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	token := e.signIn(c)
	si := e.session(token)
	max := e.svc.Config.PasswordFailuresPerAccount
	// Half at sign-in, from other addresses, half on the security page.
	for i := 1; i <= max; i++ {
		var err error
		if i%2 == 0 {
			_, err = e.svc.Password(e.ctx, c.email, "wrong password", "/", portal.Client{IP: fmt.Sprintf("198.51.100.%d", i)})
		} else {
			_, err = e.svc.ChangePassword(e.ctx, si, "wrong password", newPassword, e.ip)
		}
		if !errors.Is(err, portal.ErrBadCredentials) {
			t.Fatalf("wrong password %d: %v, want ErrBadCredentials", i, err)
		}
	}
	_, windowEnd := store.Window(e.clock.Now(), e.svc.Config.PasswordWindow.Duration)
	for _, pw := range []string{"wrong password", c.password} {
		_, err := e.svc.ChangePassword(e.ctx, si, pw, newPassword, e.ip)
		if l := lockedErr(t, err); !l.Password || !l.Until.Equal(windowEnd) {
			t.Fatalf("ChangePassword(%q) locked %+v, want a password lock until %v", pw, l, windowEnd)
		}
	}
	_, err := e.svc.Password(e.ctx, c.email, c.password, "/", e.ip)
	lockedErr(t, err)
	if !e.audited(c.acct.ID, store.ActionPasswordChange, "throttled") {
		t.Error("the throttled change is not audited")
	}
	hash := e.account(c).PasswordHash

	// After the window, the right password changes it.
	e.clock.Set(windowEnd)
	if e.account(c).PasswordHash != hash {
		t.Fatal("the password changed while throttled")
	}

	si = e.session(e.signIn(c))
	if _, err := e.svc.ChangePassword(e.ctx, si, c.password, newPassword, e.ip); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestChangePasswordTwice: of two changes with the same current password
// (two tabs), the one that comes second finds the password changed and
// changes nothing.
func TestChangePasswordTwice(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	token := e.signIn(c)
	si := e.session(token)
	stale := e.session(token) // the second tab's, read before the first change
	newToken, err := e.svc.ChangePassword(e.ctx, si, c.password, newPassword, e.ip)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangePassword(e.ctx, stale, c.password, "another new passphrase", e.ip); !errors.Is(err, portal.ErrBadCredentials) {
		t.Fatalf("the second change: %v, want ErrBadCredentials", err)
	}
	e.session(newToken)
	if !e.passwordIs(c, newPassword) {
		t.Error("the second change replaced the first's password")
	}
}

// TestChangePasswordSignedOutMeanwhile: a session that ended while the
// new password was hashed changes nothing.
func TestChangePasswordSignedOutMeanwhile(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	token := e.signIn(c)
	si := e.session(token)
	if err := e.svc.SignOut(context.Background(), e.session(token), e.ip); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangePassword(e.ctx, si, c.password, newPassword, e.ip); !errors.Is(err, portal.ErrNoSession) {
		t.Fatalf("ChangePassword of an ended session: %v, want ErrNoSession", err)
	}
	if !e.passwordIs(c, c.password) {
		t.Error("the password changed")
	}
}

// TestChangePasswordRightForgetsFailures: a right current password
// forgets the account's wrong ones and gives back the client's attempt,
// as a right password at sign-in does.
func TestChangePasswordRightForgetsFailures(t *testing.T) {
	e := newEnv(t)
	c := e.newCustomer("yamada@example.jp")
	e.enrol(c)
	si := e.session(e.signIn(c))
	for range e.svc.Config.PasswordFailuresPerAccount - 1 {
		if _, err := e.svc.ChangePassword(e.ctx, si, "wrong password", newPassword, e.ip); !errors.Is(err, portal.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	w := e.svc.Config.PasswordWindow.Duration
	clientBefore, err := e.st.Hit(e.ctx, "pw:ip:"+e.ip.IP, w, e.clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangePassword(e.ctx, si, c.password, newPassword, e.ip); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if n, err := e.st.Hit(e.ctx, "pw:email:"+secret.Hash(c.email), w, e.clock.Now(), 0); err != nil || n != 0 {
		t.Errorf("the account's password failures after a right one: %d, %v; want 0", n, err)
	}
	if n, err := e.st.Hit(e.ctx, "pw:ip:"+e.ip.IP, w, e.clock.Now(), 0); err != nil || n != clientBefore {
		t.Errorf("the client's password attempts after a right one: %d, %v; want %d as before it", n, err, clientBefore)
	}
}
