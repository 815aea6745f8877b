package console_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// A name with a line break, a bidi control or another invisible format
// character is refused with a message that says so, where it said the
// name must be 1 to 100 characters (or, for a bidi control, was taken and
// read reversed in the console and the activation mail). Nothing is
// opened, nothing is mailed.
func TestOpenRefusesNameChars(t *testing.T) {
	s := newSite(t)
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	for _, name := range []string{"山田\n太郎", "山田\r\n太郎", "山本\u202e郎二", "山本\u2067太郎", "山本\u200f太郎", "山本\u061c太郎", "山本\u200b太郎", "山本\ufeff太郎"} {
		resp, body := b.post("/customers/new", "email", "yamamoto@example.jp", "name", name)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "氏名に改行や制御文字、文字の向きを変える記号などの見えない文字は使えません。") ||
			strings.Contains(body, "1〜100文字") {
			t.Errorf("open with name %q: %d, want 422 saying which characters are wrong\n%s", name, resp.StatusCode, body)
		}
	}
	if _, err := s.db.AccountByEmail(t.Context(), "yamamoto@example.jp"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused name opened the account: %v", err)
	}
	if n := s.mailsWith("yamamoto@example.jp", "開通"); n != 0 {
		t.Errorf("a refused name sent %d activation mails", n)
	}
	// A name too long still says so.
	if _, body := b.post("/customers/new", "email", "yamamoto@example.jp", "name", strings.Repeat("山", 101)); !strings.Contains(body, "氏名は1〜100文字で入力してください。") {
		t.Error("a name of 101 characters: no message about the length")
	}
	// An operator's name is shown in the console and the audit log too.
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	resp, body := admin.post("/operators/new", "email", "new@tobira.example", "name", "新人\u202e郎一", "role", "support")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "氏名に改行や制御文字") {
		t.Errorf("add an operator named with a bidi override: %d, want 422 saying why", resp.StatusCode)
	}
	if _, err := s.db.OperatorByEmail(t.Context(), "new@tobira.example"); err == nil {
		t.Error("a refused name added the operator")
	}
}
