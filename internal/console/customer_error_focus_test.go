package console_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// inputTag is the tag of the input of this id in body, or "".
func inputTag(body, id string) string {
	return regexp.MustCompile(`<input id="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
}

// TestCustomerRefusalFocusesField: a lock, a reset request or an erasure
// refused on a customer's page (no reason, a reason too long, another
// address) shows the page again with the message just before the refused
// form, and the refused field marked invalid, naming the message and
// taking the focus, as the console's other forms do, where the message
// stood atop the long page with no field marked: on a phone the form was
// far below it. The reasons typed are kept; the erasure's form comes back
// empty, its address to be typed anew. Nothing is changed.
func TestCustomerRefusalFocusesField(t *testing.T) {
	s := newSite(t)
	seed := s.operator("boss@tobira.example", store.RoleAdmin)
	boss := s.signIn("boss@tobira.example", seed)
	a := s.customerWithFactor("yamada@example.jp")
	page := "/customers/" + a.ID
	long := strings.Repeat("長", 201)
	for _, c := range []struct {
		action, field, message string
		kv                     []string
		kept                   map[string]string
	}{
		{"/lock", "reason", "ロックの理由を入力してください", []string{"reason", "  "}, nil},
		{"/reset-mfa", "reset_reason", "リセットの理由を入力してください", []string{"reset_reason", ""}, nil},
		{"/lock", "reason", "ロックの理由を入力してください", []string{"reason", long}, map[string]string{"reason": long[:200*len("長")]}},
		// The erasure's form comes back empty: the address is typed anew.
		{"/erase", "confirm_email", "一致しません", []string{"confirm_email", "yamada@example.com", "erase_reason", "本人の退会の申し出"},
			map[string]string{"confirm_email": "", "erase_reason": ""}},
		{"/erase", "erase_reason", "削除の理由を入力してください", []string{"confirm_email", "yamada@example.jp", "erase_reason", " "},
			map[string]string{"confirm_email": ""}},
	} {
		resp, body := boss.post(page+c.action, c.kv...)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(alert(body), c.message) {
			t.Errorf("%s %q: %d, alert %q", c.action, c.kv, resp.StatusCode, alert(body))
			continue
		}
		tag := inputTag(body, c.field)
		if !strings.Contains(tag, ` aria-invalid="true"`) || !regexp.MustCompile(`aria-describedby="[^"]*form-error`).MatchString(tag) ||
			!strings.Contains(tag, " autofocus") {
			t.Errorf("%s %q: the field in error is %s, want it invalid, naming the message, with the focus", c.action, c.kv, tag)
		}
		if n := strings.Count(body, " autofocus"); n != 1 {
			t.Errorf("%s %q: %d fields ask for the focus", c.action, c.kv, n)
		}
		for id, want := range c.kept {
			got := ""
			if m := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(inputTag(body, id)); m != nil {
				got = html.UnescapeString(m[1])
			}
			if got != want {
				t.Errorf("%s %q: #%s holds %q, want %q", c.action, c.kv, id, got, want)
			}
		}
		// The message stands by the form it is about, just before it: on
		// a long page the field's focus brings the operator to both.
		_, after, _ := strings.Cut(body, `<p class="error" role="alert" id="form-error">`)
		if next := regexp.MustCompile(`<form method="post" action="([^"]*)"`).FindStringSubmatch(after); next == nil ||
			next[1] != page+c.action || strings.Count(body, `id="form-error"`) != 1 {
			t.Errorf("%s %q: the message is not by its form (next form %q)", c.action, c.kv, next)
		}
	}
	// The page as opened asks for no focus, and names no message.
	if _, body := boss.get(page); strings.Contains(body, " autofocus") || strings.Contains(body, `aria-invalid`) {
		t.Errorf("the customer's page as opened marks a field: %s", body)
	}
	if _, err := s.db.AccountLockOf(t.Context(), a.ID); err == nil {
		t.Error("a refused lock locked the customer")
	}
	if got, err := s.db.AccountByID(t.Context(), a.ID); err != nil || got.Erased() {
		t.Errorf("a refused erasure erased the customer: %v", err)
	}
	if _, err := s.db.OpenResetRequest(t.Context(), a.ID); err == nil {
		t.Error("a refused reset request was made")
	}
}
