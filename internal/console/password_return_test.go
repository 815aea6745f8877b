package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/store"
)

// TestOneTimePasswordReturnsToPage: an operator who signs in with a
// one-time password from a link (an admin sent the page with it) changes
// it first, and then lands on the page with the notice, where the change
// went to the customers page and the link was lost.
func TestOneTimePasswordReturnsToPage(t *testing.T) {
	s := newSite(t)
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	_, oneTime, err := console.SetOperatorPassword(t.Context(), s.svc, s.db, "kim@tobira.example", "", "operator:test")
	if err != nil || oneTime == "" {
		t.Fatalf("one-time password: %q %v", oneTime, err)
	}
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers?q=" + a.Email
	b := s.browser()
	_, body := b.get(page)
	s.clock.Advance(30 * time.Second)
	resp, body := b.do("POST", "/login", formIn(body, "/login", "email", "kim@tobira.example", "password", oneTime))
	if resp.Request.URL.Path != "/login/code" {
		t.Fatalf("after the password: at %s", resp.Request.URL)
	}
	resp, body = b.do("POST", "/login/code", formIn(body, "/login/code", "code", s.code(seed)))
	if resp.Request.URL.Path != "/password" || resp.Request.URL.Query().Get("next") != page {
		t.Fatalf("signed in with a one-time password: at %s, want /password on to %s", resp.Request.URL, page)
	}
	const own = "my own long passphrase"
	// A refused change keeps the page to go on to.
	resp, body = b.do("POST", "/password", formIn(body, "/password", "current", oneTime, "new", own, "confirm", own+"x"))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a mismatched confirmation: %d", resp.StatusCode)
	}
	resp, body = b.do("POST", "/password", formIn(body, "/password", "current", oneTime, "new", own, "confirm", own))
	if resp.Request.URL.RequestURI() != page || resp.StatusCode != http.StatusOK || notice(body) != "パスワードを変更しました。他のブラウザのログインは終了しました。" {
		t.Fatalf("after the change: at %s %d with %q, want %s with the notice", resp.Request.URL.RequestURI(), resp.StatusCode, notice(body), page)
	}
	if !strings.Contains(body, "yamada@example.jp") {
		t.Error("the page gone on to lost its search")
	}
	if _, body = b.get(page); notice(body) != "" {
		t.Errorf("the notice showed again: %q", notice(body))
	}
}

// changingOps disables the operator, as the next read sees it, once a
// signed-in session is made: an admin's change at that very moment.
type changingOps struct {
	store.Operators
	armed, fired bool
}

func (o *changingOps) CreateOperatorSession(ctx context.Context, ss *store.OperatorSession) error {
	o.fired = o.armed && !ss.MFAAt.IsZero()
	return o.Operators.CreateOperatorSession(ctx, ss)
}

func (o *changingOps) OperatorByID(ctx context.Context, id string) (*store.Operator, error) {
	op, err := o.Operators.OperatorByID(ctx, id)
	if err == nil && o.fired {
		o.fired = false
		op.Disabled = true
	}
	return op, err
}

// TestOperatorChangedAtCodeKeepsPage: a sign-in the operator's change cut
// short at the code goes back to the sign-in with the page it was going
// to, where it lost it.
func TestOperatorChangedAtCodeKeepsPage(t *testing.T) {
	var ops *changingOps
	s := newSiteWith(t, func(o store.Operators) store.Operators { ops = &changingOps{Operators: o}; return ops })
	seed := s.operator("kim@tobira.example", store.RoleSupport)
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers/" + a.ID
	b := s.browser()
	_, body := b.get(page)
	resp, body := b.do("POST", "/login", formIn(body, "/login", "email", "kim@tobira.example", "password", password))
	if resp.Request.URL.Path != "/login/code" {
		t.Fatalf("after the password: at %s", resp.Request.URL)
	}
	s.clock.Advance(30 * time.Second)
	ops.armed = true
	resp, body = b.do("POST", "/login/code", formIn(body, "/login/code", "code", s.code(seed)))
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("next") != page {
		t.Errorf("the sign-in cut short: at %s, want /login on to %s", resp.Request.URL, page)
	}
	// It says why, where it said nothing.
	if !strings.Contains(body, "ログイン中にアカウントの設定が変更されたため") {
		t.Errorf("the sign-in page after the cut does not say why:\n%s", body)
	}
}
