package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/webkit"
)

// memStore is a store.Maintenance in memory that counts its reads.
type memStore struct {
	mu    sync.Mutex
	ws    []store.MaintenanceWindow
	reads int
	fail  error
}

func (m *memStore) CreateMaintenance(_ context.Context, w *store.MaintenanceWindow) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.ws {
		if o.ID == w.ID || o.CancelledAt.IsZero() && o.Start.Before(w.End) && w.Start.Before(o.End) {
			return store.ErrConflict
		}
	}
	m.ws = append(m.ws, *w)
	return nil
}

func (m *memStore) ListMaintenance(_ context.Context, now time.Time, includePast bool) ([]store.MaintenanceWindow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail != nil {
		return nil, m.fail
	}
	var out []store.MaintenanceWindow
	for _, w := range m.ws {
		if includePast || w.CancelledAt.IsZero() && w.End.After(now) {
			out = append(out, w)
		}
	}
	return out, nil // created in order of Start in these tests
}

func (m *memStore) CancelMaintenance(_ context.Context, id string, at time.Time) (*store.MaintenanceWindow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.ws {
		if m.ws[i].ID == id {
			if !m.ws[i].CancelledAt.IsZero() {
				w := m.ws[i]
				return &w, store.ErrStale
			}
			m.ws[i].CancelledAt = at
			w := m.ws[i]
			return &w, nil
		}
	}
	return nil, store.ErrNotFound
}

func jst(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, webkit.JST)
}

// clockAt is a settable clock.
type clockAt struct{ t time.Time }

func (c *clockAt) now() time.Time { return c.t }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// setup schedules 2026-12-01 2:00–5:00 in Japan, created a month before.
func setup(t *testing.T) (*Schedule, *memStore, *clockAt, Window) {
	t.Helper()
	st := &memStore{}
	c := &clockAt{t: jst(2026, 11, 1, 12, 0)}
	s := New(st, c.now, quiet)
	w, err := s.Create(t.Context(), Window{Start: jst(2026, 12, 1, 2, 0), End: jst(2026, 12, 1, 5, 0),
		ReasonJA: "設備の更新", ReasonEN: "Equipment upgrade", CreatedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, c, w
}

func req(lang, cookie string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	if lang != "" {
		r.Header.Set("Accept-Language", lang)
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: webkit.LangCookie, Value: cookie})
	}
	return r
}

func TestTimeline(t *testing.T) {
	s, _, c, w := setup(t)
	const noticeJA = "メンテナンスのお知らせ: 2026年12月1日 2:00〜5:00 (日本時間) はサービスをご利用いただけません。"
	const noticeEN = "Maintenance notice: the service will be unavailable on 1 December 2026, 2:00–5:00 (Japan time)."
	for _, tc := range []struct {
		name              string
		at                time.Time
		current, upcoming bool
	}{
		{"long before", jst(2026, 11, 20, 12, 0), false, false},
		{"just before the notice period", w.Start.Add(-NoticePeriod - time.Second), false, false},
		{"as the notice period begins", w.Start.Add(-NoticePeriod), false, true},
		{"during the notice period", jst(2026, 11, 28, 9, 0), false, true},
		{"a second before", w.Start.Add(-time.Second), false, true},
		{"as it starts", w.Start, true, false},
		{"during it", jst(2026, 12, 1, 3, 30), true, false},
		{"as it ends", w.End, false, false},
		{"after it", jst(2026, 12, 2, 0, 0), false, false},
	} {
		c.t = tc.at
		s.Forget()
		cur, ok := s.Current(tc.at)
		if ok != tc.current || ok && cur.ID != w.ID {
			t.Errorf("%s: Current = %v, %v; want %v", tc.name, cur.ID, ok, tc.current)
		}
		up, ok := s.Upcoming(tc.at)
		if ok != tc.upcoming || ok && up.ID != w.ID {
			t.Errorf("%s: Upcoming = %v, %v; want %v", tc.name, up.ID, ok, tc.upcoming)
		}
		n, ok := s.NoticeFor(req("", ""))
		if ok != tc.upcoming || ok && n != noticeJA {
			t.Errorf("%s: NoticeFor = %q, %v; want %v", tc.name, n, ok, tc.upcoming)
		}
		if tc.upcoming {
			for _, r := range []*http.Request{req("en-US,en;q=0.9", ""), req("ja", "en")} {
				if n, _ := s.NoticeFor(r); n != noticeEN {
					t.Errorf("%s: English NoticeFor = %q", tc.name, n)
				}
			}
		}
	}
}

func TestSpan(t *testing.T) {
	for _, tc := range []struct {
		start, end time.Time
		ja, en     string
	}{
		{jst(2026, 12, 1, 2, 0), jst(2026, 12, 1, 5, 30), "2026年12月1日 2:00〜5:30", "1 December 2026, 2:00–5:30"},
		{jst(2026, 12, 1, 23, 0), jst(2026, 12, 2, 3, 0), "2026年12月1日 23:00〜12月2日 3:00", "1 December 2026, 23:00 – 2 December 2026, 3:00"},
		{jst(2026, 12, 31, 23, 0), jst(2027, 1, 1, 1, 0), "2026年12月31日 23:00〜2027年1月1日 1:00", "31 December 2026, 23:00 – 1 January 2027, 1:00"},
		// Stored in UTC, shown in Japan time.
		{time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC), "2026年12月1日 2:00〜5:00", "1 December 2026, 2:00–5:00"},
	} {
		w := Window{Start: tc.start, End: tc.end}
		if got := Span(w, "ja"); got != tc.ja {
			t.Errorf("Span ja = %q, want %q", got, tc.ja)
		}
		if got := Span(w, "en"); got != tc.en {
			t.Errorf("Span en = %q, want %q", got, tc.en)
		}
	}
}

func TestCache(t *testing.T) {
	s, st, c, w := setup(t)
	c.t = w.Start.Add(time.Minute)
	if _, ok := s.Current(c.t); !ok {
		t.Fatal("no current window")
	}
	reads := st.reads
	for range 10 {
		c.t = c.t.Add(2 * time.Second)
		s.Current(c.t)
	}
	if st.reads != reads {
		t.Errorf("%d reads within the TTL, want none", st.reads-reads)
	}
	// Cancelled by another process: seen once the TTL has passed.
	if _, err := st.CancelMaintenance(t.Context(), w.ID, c.t); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Current(c.t); !ok {
		t.Error("cancel seen before the TTL passed")
	}
	c.t = c.t.Add(DefaultTTL)
	if _, ok := s.Current(c.t); ok {
		t.Error("cancel not seen after the TTL")
	}
	if st.reads != reads+1 {
		t.Errorf("%d reads after the TTL, want 1", st.reads-reads)
	}

	// A failing store leaves the last schedule in place.
	s2, st2, c2, w2 := setup(t)
	c2.t = w2.Start.Add(time.Minute)
	s2.Current(c2.t)
	st2.fail = errors.New("disk on fire")
	c2.t = c2.t.Add(time.Hour)
	if _, ok := s2.Current(c2.t); !ok {
		t.Error("a store error ended the window")
	}
}

func TestCreateAndCancel(t *testing.T) {
	s, _, c, w := setup(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name       string
		start, end time.Time
		want       error
	}{
		{"end before start", jst(2026, 12, 5, 5, 0), jst(2026, 12, 5, 2, 0), ErrEndNotAfterStart},
		{"end at start", jst(2026, 12, 5, 2, 0), jst(2026, 12, 5, 2, 0), ErrEndNotAfterStart},
		{"start in the past", c.t.Add(-time.Minute), c.t.Add(time.Hour), ErrStartInPast},
		{"start in year 9999", jst(9999, 12, 31, 23, 0), jst(9999, 12, 31, 23, 59), ErrStartTooFar},
		{"start a minute over a year ahead", c.t.Add(MaxAhead + time.Minute), c.t.Add(MaxAhead + time.Hour), ErrStartTooFar},
		{"ten years", jst(2026, 12, 22, 2, 0), jst(2036, 12, 22, 3, 0), ErrTooLong},
		{"a minute over a day", jst(2026, 12, 22, 2, 0), jst(2026, 12, 23, 2, 1), ErrTooLong},
		{"overlap", jst(2026, 12, 1, 4, 0), jst(2026, 12, 1, 6, 0), ErrOverlap},
	} {
		_, err := s.Create(ctx, Window{Start: tc.start, End: tc.end})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	_, err := s.Create(ctx, Window{Start: jst(2026, 12, 1, 4, 0), End: jst(2026, 12, 1, 6, 0)})
	if err == nil || !strings.Contains(err.Error(), w.ID) {
		t.Errorf("overlap error %v does not name %s", err, w.ID)
	}
	if _, err := s.Create(ctx, Window{Start: w.Start, End: w.End, ReasonJA: strings.Repeat("長", MaxReason+1)}); !errors.Is(err, ErrReasonTooLong) {
		t.Errorf("long reason: %v", err)
	}
	day, err := s.Create(ctx, Window{Start: jst(2026, 12, 22, 2, 0), End: jst(2026, 12, 23, 2, 0)}) // the longest
	if err != nil {
		t.Fatalf("a day's window: %v", err)
	}
	if _, err := s.Cancel(ctx, day.ID); err != nil {
		t.Fatal(err)
	}
	next, err := s.Create(ctx, Window{Start: w.End, End: w.End.Add(time.Hour)}) // touching
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(next.ID, "mw-") || next.ID == w.ID || !next.CreatedAt.Equal(c.t) {
		t.Errorf("created %+v", next)
	}
	ws, err := s.List(ctx, false)
	if err != nil || len(ws) != 2 {
		t.Fatalf("List: %v, %v", ws, err)
	}

	got, err := s.Cancel(ctx, w.ID)
	if err != nil || !got.CancelledAt.Equal(c.t) {
		t.Fatalf("Cancel: %+v, %v", got, err)
	}
	if _, err := s.Cancel(ctx, w.ID); !errors.Is(err, ErrCancelled) {
		t.Errorf("second Cancel: %v", err)
	}
	if _, err := s.Cancel(ctx, "mw-nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel of unknown: %v", err)
	}
	c.t = next.End
	if _, err := s.Cancel(ctx, next.ID); !errors.Is(err, ErrEnded) {
		t.Errorf("Cancel of ended: %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	s, _, c, w := setup(t)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("served " + r.URL.Path)) })
	h := Middleware(next, s, Options{SupportURL: "https://support.example.jp/help", Pass: []string{"/console/"}})
	do := func(path, lang, cookie string) *httptest.ResponseRecorder {
		r := req(lang, cookie)
		r.URL.Path = path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}

	// Before: served, whatever the path.
	c.t = w.Start.Add(-time.Hour)
	if rec := do("/", "", ""); rec.Code != 200 || rec.Body.String() != "served /" {
		t.Errorf("before the window: %d %q", rec.Code, rec.Body)
	}

	c.t = jst(2026, 12, 1, 3, 0)
	s.Forget()
	rec := do("/account", "", "")
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("during the window: %d %q", rec.Code, body)
	}
	if got := rec.Header().Get("Retry-After"); got != "7200" {
		t.Errorf("Retry-After = %q, want 7200", got)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := rec.Header().Get("Content-Language"); got != "ja" {
		t.Errorf("Content-Language = %q", got)
	}
	for _, want := range []string{`lang="ja"`, "システムメンテナンスのため、ただいまサービスをご利用いただけません。",
		"2026年12月1日 2:00〜5:00 (日本時間)", "設備の更新", `href="https://support.example.jp/help"`} {
		if !strings.Contains(body, want) {
			t.Errorf("Japanese page lacks %q:\n%s", want, body)
		}
	}
	for _, tc := range []struct{ lang, cookie string }{{"en-GB,en;q=0.8", ""}, {"ja", "en"}} {
		rec := do("/invoices", tc.lang, tc.cookie)
		body := rec.Body.String()
		if rec.Code != 503 || rec.Header().Get("Content-Language") != "en" {
			t.Errorf("%+v: %d, Content-Language %q", tc, rec.Code, rec.Header().Get("Content-Language"))
		}
		for _, want := range []string{`lang="en"`, "unavailable due to system maintenance",
			"1 December 2026, 2:00–5:00 (Japan time)", "Equipment upgrade", "https://support.example.jp/help"} {
			if !strings.Contains(body, want) {
				t.Errorf("%+v: English page lacks %q:\n%s", tc, want, body)
			}
		}
	}
	// The Japanese cookie beats an English browser.
	if rec := do("/", "en", "ja"); rec.Header().Get("Content-Language") != "ja" {
		t.Errorf("cookie ja with an English browser: %q", rec.Header().Get("Content-Language"))
	}
	// POSTs get the page too.
	r := httptest.NewRequest("POST", "/signin", strings.NewReader("x=1"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 503 {
		t.Errorf("POST during the window: %d", rec.Code)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/static/app.css", "/console/windows"} {
		if rec := do(path, "", ""); rec.Code != 200 || rec.Body.String() != "served "+path {
			t.Errorf("%s during the window: %d %q", path, rec.Code, rec.Body)
		}
	}
	// Retry-After rounds up and never says 0.
	c.t = w.End.Add(-1500 * time.Millisecond)
	if got := do("/", "", "").Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After 1.5 s before the end = %q, want 2", got)
	}
	c.t = w.End
	if rec := do("/", "", ""); rec.Code != 200 {
		t.Errorf("at the end: %d", rec.Code)
	}
}

// The page during a window names the next one if it is near.
func TestPageNamesNextWindow(t *testing.T) {
	s, _, c, w := setup(t)
	if _, err := s.Create(t.Context(), Window{Start: jst(2026, 12, 3, 1, 0), End: jst(2026, 12, 3, 2, 0)}); err != nil {
		t.Fatal(err)
	}
	c.t = w.Start
	rec := httptest.NewRecorder()
	Middleware(http.NotFoundHandler(), s, Options{}).ServeHTTP(rec, req("", ""))
	if body := rec.Body.String(); !strings.Contains(body, "メンテナンスのお知らせ: 2026年12月3日 1:00〜2:00") || strings.Contains(body, "href=") {
		t.Errorf("page:\n%s", body)
	}
}

// TestMiddlewareForPrograms: during a window, a program's request (as
// Options.ForPrograms tells, or asking for JSON alone) gets an OAuth-style
// JSON error, not the page; the page's title names the site.
func TestMiddlewareForPrograms(t *testing.T) {
	s, _, c, _ := setup(t)
	c.t = jst(2026, 12, 1, 3, 0)
	h := Middleware(http.NotFoundHandler(), s, Options{
		ForPrograms: func(r *http.Request) bool { return r.URL.Path == "/oauth/token" },
		Site: func(lang string) string {
			return map[string]string{"ja": "ポータルサイト", "en": "Portal"}[lang]
		},
	})
	do := func(method, path, accept, lang string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if lang != "" {
			r.Header.Set("Accept-Language", lang)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for _, tc := range []struct{ method, path, accept string }{
		{"POST", "/oauth/token", ""},
		{"POST", "/oauth/token", "text/html"},
		{"GET", "/api", "application/json"},
		{"GET", "/api", "application/problem+json, */*;q=0.1"},
	} {
		rec := do(tc.method, tc.path, tc.accept, "")
		var body map[string]string
		err := json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 503 || rec.Header().Get("Content-Type") != "application/json" || err != nil ||
			body["error"] != "temporarily_unavailable" ||
			body["error_description"] != "The service is down for maintenance until 2026-12-01T05:00:00+09:00." {
			t.Errorf("%+v: %d %s %q", tc, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if got := rec.Header().Get("Retry-After"); got != "7200" {
			t.Errorf("%+v: Retry-After %q", tc, got)
		}
	}
	for _, tc := range []struct{ accept, lang, title string }{
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", "<title>システムメンテナンス中 | ポータルサイト</title>"},
		{"", "en", "<title>System maintenance | Portal</title>"},
		{"application/json, text/html", "", "<title>システムメンテナンス中 | ポータルサイト</title>"},
	} {
		rec := do("GET", "/login", tc.accept, tc.lang)
		if rec.Code != 503 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), tc.title) {
			t.Errorf("%+v: %d %s\n%s", tc, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	// Without a site's name, the title is the page's alone.
	rec := httptest.NewRecorder()
	Middleware(http.NotFoundHandler(), s, Options{}).ServeHTTP(rec, req("", ""))
	if !strings.Contains(rec.Body.String(), "<title>システムメンテナンス中</title>") {
		t.Errorf("no site: %s", rec.Body)
	}
}
