package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// TestCustomerDevices: the customer's page shows support staff where the
// customer is signed in, as the customer's own security page does
// (browser and system, when, from where), newest first; an ended session
// is not listed, and a customer signed in nowhere is said to be.
func TestCustomerDevices(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	kim := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a := s.customerWithFactor("yamada@example.jp") // one session, from t0, without a browser
	for _, ss := range []store.Session{
		{IDHash: "phone", CreatedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour), ClientIP: "198.51.100.7", SID: "sid-phone",
			UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"},
		{IDHash: "ended", CreatedAt: t0.Add(2 * time.Minute), ExpiresAt: t0, ClientIP: "203.0.113.9", SID: "sid-ended",
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
	} {
		ss.AccountID = a.ID
		if err := s.db.CreateSession(ctx, &ss); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := kim.get("/customers/" + a.ID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("customer page: %d", resp.StatusCode)
	}
	i := strings.Index(body, "<h2>ログイン中の端末</h2>")
	if i < 0 {
		t.Fatalf("the customer page has no 「ログイン中の端末」:\n%s", body)
	}
	section, _, _ := strings.Cut(body[i:], "</table>")
	phone, unknown := strings.Index(section, "Safari (iPhone)"), strings.Index(section, "不明なブラウザ")
	if phone < 0 || unknown < phone || !strings.Contains(section, "198.51.100.7") {
		t.Errorf("the devices listed, want the phone first, then the session without a browser:\n%s", section)
	}
	if strings.Contains(section, "203.0.113.9") || strings.Contains(section, "Chrome (Windows)") {
		t.Errorf("an ended session is listed:\n%s", section)
	}

	// Signed in nowhere (a lock ends every session).
	if err := s.db.DeleteSessionsOf(ctx, a.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, body := kim.get("/customers/" + a.ID); !strings.Contains(body, "ログイン中の端末はありません。") {
		t.Errorf("a customer signed in nowhere:\n%s", body)
	}

	// More than the page lists: the newest, and a note.
	for i := range 21 {
		if err := s.db.CreateSession(ctx, &store.Session{IDHash: fmt.Sprint("many-", i), AccountID: a.ID,
			CreatedAt: t0.Add(time.Duration(i) * time.Second), ExpiresAt: t0.Add(time.Hour), SID: fmt.Sprint("sid-many-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, body := kim.get("/customers/" + a.ID); strings.Count(body, "不明なブラウザ") != 20 || !strings.Contains(body, "新しい順に 20 件を表示しています") {
		t.Errorf("with 21 sessions: %d rows, want 20 and the note", strings.Count(body, "不明なブラウザ"))
	}
}
