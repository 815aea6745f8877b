package console_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// postRaw posts body as a form, as it is.
func (b *browser) postRaw(path, body string) (*http.Response, string) {
	b.s.t.Helper()
	req, err := http.NewRequest("POST", b.s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
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
		{"malformed", "/customers/" + a.ID + "/unlock", "x=%zz", "リクエストが正しくありません", http.StatusBadRequest},
		{"not text", "/customers/" + a.ID + "/unlock", "x=%00", "リクエストが正しくありません", http.StatusBadRequest},
		{"oversized", "/operators/" + kim.ID + "/disable", big.Encode(), "送信された内容が大きすぎます", http.StatusRequestEntityTooLarge},
		{"malformed", "/operators/" + kim.ID + "/disable", "x=%zz", "リクエストが正しくありません", http.StatusBadRequest},
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
