package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestMaintenanceStartTooFar: a window may start at most 365 days ahead;
// one typed for year 9999 is refused with a message that says so (422),
// where it was scheduled and listed among the upcoming windows.
func TestMaintenanceStartTooFar(t *testing.T) {
	s := newSite(t)
	admin := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	// t0 is 2026-04-01 09:00:05 in Japan: 365 days ahead is 2027-04-01 09:00:05.
	for _, kv := range [][]string{
		{"start", "9999-12-31T23:00", "end", "9999-12-31T23:59"},
		{"start", "2036-04-10T02:00", "end", "2036-04-10T05:00"},
		{"start", "2027-04-01T09:01", "end", "2027-04-01T10:00"},
	} {
		resp, body := admin.post("/maintenance", kv...)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "開始は365日先までの日時にしてください。") {
			t.Errorf("%v: %d, want 422 saying how far ahead a start may be", kv, resp.StatusCode)
		}
	}
	resp, body := admin.do("POST", "/maintenance", url.Values{"start": {"9999-12-31T23:00"}, "end": {"9999-12-31T23:59"}}, "Accept-Language", "en")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "The start can be at most 365 days ahead.") {
		t.Errorf("year 9999 in English: %d", resp.StatusCode)
	}
	if ws, err := s.db.ListMaintenance(t.Context(), t0, true); err != nil || len(ws) != 0 {
		t.Fatalf("a refused window was stored: %+v, %v", ws, err)
	}
	// Within the year it is scheduled.
	resp, body = admin.post("/maintenance", "start", "2027-04-01T09:00", "end", "2027-04-01T10:00")
	if resp.Request.URL.Path != "/maintenance" || !strings.Contains(body, "メンテナンスを予定しました") {
		t.Errorf("a window 365 days ahead: %s %d", resp.Request.URL.Path, resp.StatusCode)
	}
}
