package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/app"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
	"github.com/tobira/tobira/internal/testkit"
	"github.com/tobira/tobira/internal/webkit"
)

var windowIDRe = regexp.MustCompile(`mw-[a-z0-9]{8}`)

// windowDetailRe is the audit detail of a window: its id and its span in
// English, as the console records it.
var windowDetailRe = regexp.MustCompile(`^mw-[a-z0-9]{8} [0-9]{1,2} [A-Z][a-z]+ [0-9]{4}, [0-9]{1,2}:[0-9]{2}`)

// jstFlag writes t as --start and --end take it.
func jstFlag(t time.Time) string { return t.In(webkit.JST).Format("2006-01-02 15:04") }

func TestMaintenanceCommands(t *testing.T) {
	dir := dataDir(t, "")
	start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	end := start.Add(3 * time.Hour)

	r := run(t, nil, "maintenance", "schedule", "--start", jstFlag(start), "--end", jstFlag(end),
		"--reason-ja", "設備の更新", "--reason-en", "Equipment upgrade", "--data", dir)
	if r.code != 0 {
		t.Fatalf("schedule: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	id := windowIDRe.FindString(r.stdout)
	if id == "" || !strings.Contains(r.stdout, "(日本時間)") || !strings.Contains(r.stdout, "(Japan time)") {
		t.Fatalf("schedule output:\n%s", r.stdout)
	}

	r = run(t, nil, "maintenance", "list", "--data", dir)
	if r.code != 0 {
		t.Fatalf("list: exit %d, %s", r.code, r.stderr)
	}
	for _, want := range []string{"ID", id, jstFlag(start), jstFlag(end), "upcoming, notice shown", "設備の更新 / Equipment upgrade"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}

	// Refusals: exit 1, with what is wrong.
	for _, tc := range []struct {
		name       string
		start, end string
		want       []string
	}{
		{"overlap", jstFlag(start.Add(time.Hour)), jstFlag(end.Add(time.Hour)), []string{"overlaps", id}},
		{"end before start", jstFlag(end.Add(24 * time.Hour)), jstFlag(start.Add(24 * time.Hour)), []string{"is not after --start"}},
		{"end at start", jstFlag(end.Add(24 * time.Hour)), jstFlag(end.Add(24 * time.Hour)), []string{"is not after --start"}},
		{"start in the past", jstFlag(time.Now().Add(-2 * time.Hour)), jstFlag(time.Now().Add(time.Hour)), []string{"in the past"}},
		{"ten years", jstFlag(end.Add(24 * time.Hour)), jstFlag(end.Add(10*365*24*time.Hour + time.Hour)), []string{"longer than 24 hours"}},
		{"year 9999", "9999-12-31 23:00", "9999-12-31 23:59", []string{"--start 9999-12-31 23:00 is more than 365 days ahead"}},
		{"not a time", "2026-12-01", "tomorrow", []string{`--start "2026-12-01" is not a time`, `--end "tomorrow" is not a time`}},
	} {
		r := run(t, nil, "maintenance", "schedule", "--start", tc.start, "--end", tc.end, "--data", dir)
		if r.code != 1 {
			t.Errorf("%s: exit %d, stderr %q; want 1", tc.name, r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr %q lacks %q", tc.name, r.stderr, w)
			}
		}
	}
	// Touching is not overlapping.
	r = run(t, nil, "maintenance", "schedule", "--start", jstFlag(end), "--end", jstFlag(end.Add(time.Hour)), "--data", dir)
	if r.code != 0 {
		t.Fatalf("window right after: exit %d, %s", r.code, r.stderr)
	}
	second := windowIDRe.FindString(r.stdout)

	// Usage errors: exit 2 with a message.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"maintenance", "schedule", "--start", jstFlag(start), "--data", dir}, "--end is required"},
		{[]string{"maintenance", "cancel", "--data", dir}, "--id is required"},
		{[]string{"maintenance", "postpone", "--data", dir}, `unknown maintenance command "postpone"`},
		{[]string{"maintenance"}, "usage: tobira maintenance schedule|list|cancel"},
		{[]string{"maintenance", "list", "extra", "--data", dir}, "unexpected arguments"},
	} {
		r := run(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}

	r = run(t, nil, "maintenance", "cancel", "--id", id, "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "cancelled: "+id) {
		t.Fatalf("cancel: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "maintenance", "cancel", "--id", id, "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "already cancelled") {
		t.Errorf("second cancel: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, nil, "maintenance", "cancel", "--id", "mw-nobody1", "--data", dir)
	if r.code != 1 || !strings.Contains(r.stderr, `no maintenance window has the id "mw-nobody1"`) {
		t.Errorf("unknown id: exit %d, stderr %q", r.code, r.stderr)
	}
	// The cancelled window's time is free again.
	r = run(t, nil, "maintenance", "schedule", "--start", jstFlag(start), "--end", jstFlag(end), "--data", dir)
	if r.code != 0 {
		t.Fatalf("schedule over a cancelled window: exit %d, %s", r.code, r.stderr)
	}
	third := windowIDRe.FindString(r.stdout)

	r = run(t, nil, "maintenance", "list", "--data", dir)
	if strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, second) || !strings.Contains(r.stdout, third) {
		t.Errorf("list after the cancel:\n%s", r.stdout)
	}
	r = run(t, nil, "maintenance", "list", "--all", "--data", dir)
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "cancelled") {
		t.Errorf("list --all:\n%s", r.stdout)
	}
	for _, w := range []string{second, third} {
		if r := run(t, nil, "maintenance", "cancel", "--id", w, "--data", dir); r.code != 0 {
			t.Fatalf("cancel %s: %s", w, r.stderr)
		}
	}
	r = run(t, nil, "maintenance", "list", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "no maintenance windows scheduled") {
		t.Errorf("empty list: exit %d, %q", r.code, r.stdout)
	}

	// Each window scheduled and cancelled is in the audit log, by the
	// command line, as the console records its own.
	db := openData(t, dir)
	var got []string
	for ev, err := range db.AuditOfActions(t.Context(), "", []string{store.ActionMaintenanceCreate, store.ActionMaintenanceCancel}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Actor != "operator:cli" || ev.Outcome != "ok" || !windowDetailRe.MatchString(ev.Detail) {
			t.Errorf("audit event %+v", ev)
		}
		got = append(got, ev.Action+" "+windowIDRe.FindString(ev.Detail))
	}
	slices.Reverse(got) // oldest first
	want := []string{store.ActionMaintenanceCreate + " " + id, store.ActionMaintenanceCreate + " " + second,
		store.ActionMaintenanceCancel + " " + id, store.ActionMaintenanceCreate + " " + third,
		store.ActionMaintenanceCancel + " " + second, store.ActionMaintenanceCancel + " " + third}
	if !slices.Equal(got, want) {
		t.Errorf("audit events %q, want %q", got, want)
	}

	if r := run(t, nil, "help"); !strings.Contains(r.stdout, "tobira maintenance schedule") {
		t.Errorf("usage does not list the maintenance commands:\n%s", r.stdout)
	}
}

// During a window the portal and both sites answer with the maintenance
// page; their health endpoints stay up.
func TestMaintenancePageServed(t *testing.T) {
	dir := dataDir(t, `, "support_url": "https://help.example.jp/maintenance"`)
	db, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Begun already, which the command refuses to schedule: straight to the store.
	err = db.CreateMaintenance(t.Context(), &store.MaintenanceWindow{ID: "mw-testnow1", Start: now.Add(-time.Minute),
		End: now.Add(time.Hour), CreatedBy: "test", CreatedAt: now})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	out, errb := &testkit.Buffer{}, &testkit.Buffer{}
	ready, done := make(chan string, 1), make(chan int, 1)
	m := &app.Main{Stdout: out, Stderr: errb, Getenv: func(string) string { return "" },
		Ready: func(base string) { ready <- base }}
	go func() {
		done <- m.Run(ctx, []string{"demo", "--data", dir, "--addr", "127.0.0.1:0",
			"--contracts-addr", "127.0.0.1:0", "--invoices-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0"})
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case code := <-done:
		done <- code
		t.Fatalf("demo exited %d\nstdout: %s\nstderr: %s", code, out, errb)
	}
	urls := regexp.MustCompile(`: (http://127\.0\.0\.1:\d+)\n`).FindAllStringSubmatch(out.String(), -1)
	if len(urls) < 3 {
		t.Fatalf("three servers not listed:\n%s", out)
	}
	for i, u := range urls[:3] {
		base := u[1]
		res, body := get(t, base+"/")
		if res.StatusCode != 503 || !strings.Contains(body, "システムメンテナンスのため、ただいまサービスをご利用いただけません。") ||
			!strings.Contains(body, "https://help.example.jp/maintenance") {
			t.Errorf("%s/: %d\n%s", base, res.StatusCode, body)
		}
		// Titled as the site's own pages are.
		site := []string{"ポータルサイト", "申込／契約確認サイト", "適格請求書閲覧サイト"}[i]
		if want := "<title>システムメンテナンス中 | " + site + "</title>"; !strings.Contains(body, want) {
			t.Errorf("%s/: the page's title is not %s", base, want)
		}
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 3500 || s > 3600 {
			t.Errorf("%s/: Retry-After %q", base, res.Header.Get("Retry-After"))
		}
		if res, body := get(t, base+"/healthz"); res.StatusCode != 200 {
			t.Errorf("%s/healthz: %d %q", base, res.StatusCode, body)
		}
	}
	// The provider's endpoints for programs answer as OAuth does, in JSON,
	// where their clients got the page.
	portal := urls[0][1]
	for _, tc := range []struct{ method, path string }{
		{"POST", "/oauth/token"}, {"POST", "/oauth/introspect"}, {"POST", "/revoke"},
		{"GET", "/userinfo"}, {"GET", "/keys"}, {"GET", "/.well-known/openid-configuration"},
	} {
		req, _ := http.NewRequest(tc.method, portal+tc.path, strings.NewReader("grant_type=authorization_code&code=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer x")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != 503 || res.Header.Get("Content-Type") != "application/json" || err != nil ||
			body.Error != "temporarily_unavailable" || !strings.Contains(body.ErrorDescription, "maintenance") {
			t.Errorf("%s %s: %d %s %+v (%v)", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), body, err)
		}
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 3500 || s > 3600 {
			t.Errorf("%s %s: Retry-After %q", tc.method, tc.path, res.Header.Get("Retry-After"))
		}
		if h := res.Header.Get("WWW-Authenticate"); h != "" {
			t.Errorf("%s %s: WWW-Authenticate %q", tc.method, tc.path, h)
		}
	}
	// A browser's sign-in at the provider gets the page.
	if res, body := get(t, portal+"/authorize?client_id=x"); res.StatusCode != 503 || !strings.Contains(body, "<title>システムメンテナンス中") {
		t.Errorf("/authorize: %d\n%s", res.StatusCode, body)
	}
}
