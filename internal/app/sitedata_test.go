package app_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/sites"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/store/sqlstore"
)

var japan = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*60*60)
	}
	return loc
}()

func japanDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, japan) }

// siteCustomers is a data folder with two customers: 山田 太郎
// (yamada@example.jp) and 佐藤 花子 (sato@example.jp).
func siteCustomers(t *testing.T) (dir string, env map[string]string) {
	t.Helper()
	dir, env = dataDir(t, ""), keyEnv()
	for _, c := range [][2]string{{"yamada@example.jp", "山田 太郎"}, {"sato@example.jp", "佐藤 花子"}} {
		if r := run(t, env, "users", "create", "--email", c[0], "--name", c[1], "--data", dir); r.code != 0 {
			t.Fatalf("users create %s: exit %d, %s", c[0], r.code, r.stderr)
		}
	}
	return dir, env
}

// inStore opens the data folder's database, as another process would, and
// hands it and the account of email to read.
func inStore(t *testing.T, dir, email string, read func(st *sqlstore.DB, accountID string)) {
	t.Helper()
	st, err := sqlstore.OpenSQLite(filepath.Join(dir, "tobira.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.AccountByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("account %s: %v", email, err)
	}
	read(st, a.ID)
}

// wantRun runs args and checks the exit code and that the output has each
// of want.
func wantRun(t *testing.T, env map[string]string, code int, args []string, want ...string) result {
	t.Helper()
	r := run(t, env, args...)
	if r.code != code {
		t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, code, r.stdout, r.stderr)
		return r
	}
	out := r.stdout
	if code != 0 {
		out = r.stderr
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%v: output lacks %q:\n%s", args, w, out)
		}
	}
	return r
}

func with(args []string, more ...string) []string {
	return append(append([]string{}, args...), more...)
}

func TestApplicationsCommands(t *testing.T) {
	dir, env := siteCustomers(t)
	// The address as typed, in another case.
	wantRun(t, env, 0, []string{"applications", "create", "--email", "Yamada@Example.jp", "--service", "光回線 1G",
		"--plan", "ファミリー 2年割", "--number", "A-2026-000123", "--applied", "2026-04-01", "--status", "reviewing", "--data", dir},
		"application created: A-2026-000123", "山田 太郎", "光回線 1G / ファミリー 2年割", "reviewing (審査中)", "2026-04-01")
	inStore(t, dir, "yamada@example.jp", func(st *sqlstore.DB, id string) {
		a, err := st.ApplicationByNumber(t.Context(), id, "A-2026-000123")
		if err != nil {
			t.Fatalf("created application not in the store: %v", err)
		}
		if a.Service != "光回線 1G" || a.Plan != "ファミリー 2年割" || a.Status != store.ApplicationReviewing ||
			!a.AppliedAt.Equal(japanDay(2026, 4, 1)) || a.ID == "" {
			t.Errorf("stored %+v", a)
		}
	})

	// A generated number takes the year of the day applied, in Japan.
	r := wantRun(t, env, 0, []string{"applications", "create", "--email", "yamada@example.jp", "--service", "光電話",
		"--plan", "基本プラン", "--applied", "2025-12-31", "--data", dir}, "received (受付済)")
	generated := regexp.MustCompile(`A-2025-\d{6}`).FindString(r.stdout)
	if generated == "" {
		t.Fatalf("no A-2025-NNNNNN number in:\n%s", r.stdout)
	}
	// Without --applied: now.
	before := time.Now()
	r = wantRun(t, env, 0, []string{"applications", "create", "--email", "yamada@example.jp", "--service", "光回線 10G",
		"--plan", "ファミリー", "--data", dir})
	now := regexp.MustCompile(`A-\d{4}-\d{6}`).FindString(r.stdout)
	inStore(t, dir, "yamada@example.jp", func(st *sqlstore.DB, id string) {
		a, err := st.ApplicationByNumber(t.Context(), id, now)
		if err != nil {
			t.Fatalf("application %q: %v", now, err)
		}
		if a.Status != store.ApplicationReceived || a.AppliedAt.Before(before.Add(-time.Second)) || a.AppliedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("default status and applied: %+v", a)
		}
		list, err := st.ApplicationsOf(t.Context(), id)
		if err != nil || len(list) != 3 {
			t.Errorf("ApplicationsOf: %d, %v", len(list), err)
		}
	})

	// Numbers are unique across customers.
	for _, email := range []string{"yamada@example.jp", "sato@example.jp"} {
		wantRun(t, env, 1, []string{"applications", "create", "--email", email, "--service", "x", "--plan", "y",
			"--number", "A-2026-000123", "--data", dir}, "A-2026-000123 is taken")
	}

	// Status changes.
	set := func(number, status string) []string {
		return []string{"applications", "set-status", "--email", "yamada@example.jp", "--number", number, "--status", status, "--data", dir}
	}
	wantRun(t, env, 0, set("A-2026-000123", "active"), "A-2026-000123: reviewing (審査中) → active (開通済)")
	wantRun(t, env, 1, set("A-2026-000123", "cancelled"), "active (開通済), a final status", "cancelled (キャンセル)")
	wantRun(t, env, 1, set("A-2026-000123", "reviewing"), "a final status", "cannot go back")
	wantRun(t, env, 0, set(generated, "reviewing"), "received (受付済) → reviewing (審査中)")
	wantRun(t, env, 1, set(generated, "reviewing"), "is reviewing (審査中) already")
	wantRun(t, env, 0, set(generated, "cancelled"), "reviewing (審査中) → cancelled (キャンセル)")
	wantRun(t, env, 1, set(generated, "active"), "cancelled (キャンセル), a final status")
	wantRun(t, env, 1, set(now, "received"), `unknown status "received": want reviewing, active, cancelled`)
	wantRun(t, env, 1, set("A-2026-999999", "active"), "yamada@example.jp has no application A-2026-999999")
	// Another customer's application is not found.
	wantRun(t, env, 1, []string{"applications", "set-status", "--email", "sato@example.jp", "--number", now,
		"--status", "active", "--data", dir}, "sato@example.jp has no application "+now)
	inStore(t, dir, "yamada@example.jp", func(st *sqlstore.DB, id string) {
		for number, want := range map[string]store.ApplicationStatus{
			"A-2026-000123": store.ApplicationActive, generated: store.ApplicationCancelled, now: store.ApplicationReceived,
		} {
			a, err := st.ApplicationByNumber(t.Context(), id, number)
			if err != nil || a.Status != want {
				t.Errorf("%s: %+v, %v; want %s", number, a, err, want)
			}
		}
	})

	r = wantRun(t, env, 0, []string{"applications", "list", "--email", "yamada@example.jp", "--data", dir},
		"NUMBER", "A-2026-000123", "active (開通済)", generated, "cancelled (キャンセル)", now, "received (受付済)", "2025-12-31")
	if strings.Index(r.stdout, "A-2026-000123") > strings.Index(r.stdout, generated) {
		t.Errorf("list not newest first:\n%s", r.stdout)
	}
	wantRun(t, env, 0, []string{"applications", "list", "--email", "sato@example.jp", "--data", dir}, "sato@example.jp has no applications")

	// Bad input.
	create := []string{"applications", "create", "--service", "光電話", "--plan", "基本", "--data", dir}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{with(create, "--email", "nobody@example.jp"), 1, "no account has the email address nobody@example.jp"},
		{with(create, "--email", "not-an-address"), 1, `"not-an-address" is not a valid email address`},
		{with(create, "--email", "yamada@example.jp", "--applied", "2026/04/01"), 1, `--applied "2026/04/01" is not a date: want YYYY-MM-DD`},
		{with(create, "--email", "yamada@example.jp", "--applied", "2026-02-30"), 1, "is not a date"},
		{with(create, "--email", "yamada@example.jp", "--status", "done"), 1, `unknown status "done"`},
		{with(create, "--email", "yamada@example.jp", "--number", "A 1/2"), 1, `--number "A 1/2"`},
		{with(create), 2, "--email is required"},
		{[]string{"applications", "create", "--email", "yamada@example.jp", "--data", dir}, 2, "--service is required"},
		{[]string{"applications", "create", "--email", "yamada@example.jp", "--service", "x", "--data", dir}, 2, "--plan is required"},
		{[]string{"applications", "set-status", "--email", "yamada@example.jp", "--number", now, "--data", dir}, 2, "--status is required"},
		{[]string{"applications", "set-status", "--email", "yamada@example.jp", "--status", "active", "--data", dir}, 2, "--number is required"},
		{[]string{"applications", "list", "--data", dir}, 2, "--email is required"},
		{with(create, "--email", "yamada@example.jp", "extra"), 2, "unexpected arguments: extra"},
		{with(create, "--bogus"), 2, "bogus"},
		{[]string{"applications", "frobnicate"}, 2, `unknown applications command "frobnicate"`},
		{[]string{"applications"}, 2, "usage: tobira applications create|set-status|list"},
	} {
		wantRun(t, env, tc.code, tc.args, tc.want)
	}
	inStore(t, dir, "yamada@example.jp", func(st *sqlstore.DB, id string) {
		if list, _ := st.ApplicationsOf(t.Context(), id); len(list) != 3 {
			t.Errorf("bad input stored applications: %d, want 3", len(list))
		}
	})
}

func TestContractsCommands(t *testing.T) {
	dir, env := siteCustomers(t)
	wantRun(t, env, 0, []string{"contracts", "create", "--email", "yamada@example.jp", "--service", "光回線 1G",
		"--plan", "ファミリー 2年割", "--monthly-fee", "4800", "--start", "2026-04-01", "--number", "C-2026-000045", "--data", dir},
		"contract created: C-2026-000045", "4,800円 (tax excluded)", "2026-04-01", "山田 太郎")
	r := wantRun(t, env, 0, []string{"contracts", "create", "--email", "yamada@example.jp", "--service", "宅配ミネラルウォーター",
		"--plan", "12L × 2本／月", "--monthly-fee", "2320", "--start", "2025-07-01", "--data", dir}, "2,320円")
	generated := regexp.MustCompile(`C-2025-\d{6}`).FindString(r.stdout)
	if generated == "" {
		t.Fatalf("no C-2025-NNNNNN number in:\n%s", r.stdout)
	}
	// Without --start: today in Japan.
	r = wantRun(t, env, 0, []string{"contracts", "create", "--email", "yamada@example.jp", "--service", "光電話",
		"--plan", "基本プラン", "--monthly-fee", "0", "--data", dir}, "0円")
	today := regexp.MustCompile(`C-\d{4}-\d{6}`).FindString(r.stdout)

	inStore(t, dir, "yamada@example.jp", func(st *sqlstore.DB, id string) {
		k, err := st.ContractByNumber(t.Context(), id, "C-2026-000045")
		if err != nil {
			t.Fatalf("created contract not in the store: %v", err)
		}
		if k.Service != "光回線 1G" || k.Plan != "ファミリー 2年割" || k.MonthlyFee != 4800 ||
			k.Status != store.ContractActive || !k.StartDate.Equal(japanDay(2026, 4, 1)) {
			t.Errorf("stored %+v", k)
		}
		k, err = st.ContractByNumber(t.Context(), id, today)
		n := time.Now().In(japan)
		if err != nil || !k.StartDate.Equal(japanDay(n.Year(), n.Month(), n.Day())) {
			t.Errorf("default start: %+v, %v", k, err)
		}
		if list, _ := st.ContractsOf(t.Context(), id); len(list) != 3 {
			t.Errorf("ContractsOf: %d contracts, want 3", len(list))
		}
	})

	r = wantRun(t, env, 0, []string{"contracts", "list", "--email", "yamada@example.jp", "--data", dir},
		"C-2026-000045", "4,800円", "active (契約中)", generated, "2025-07-01", "宅配ミネラルウォーター")
	if strings.Index(r.stdout, "C-2026-000045") > strings.Index(r.stdout, generated) {
		t.Errorf("list not latest start first:\n%s", r.stdout)
	}
	wantRun(t, env, 0, []string{"contracts", "list", "--email", "sato@example.jp", "--data", dir}, "has no contracts")

	create := []string{"contracts", "create", "--service", "光回線 1G", "--plan", "ファミリー", "--data", dir}
	yamada := with(create, "--email", "yamada@example.jp")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{with(create, "--email", "sato@example.jp", "--monthly-fee", "4800", "--number", "C-2026-000045"), 1, "C-2026-000045 is taken"},
		{with(create, "--email", "nobody@example.jp", "--monthly-fee", "4800"), 1, "no account has the email address nobody@example.jp"},
		{with(create, "--email", "yamada@", "--monthly-fee", "4800"), 1, "not a valid email address"},
		{with(yamada, "--monthly-fee", "4,800"), 1, `--monthly-fee "4,800": want whole yen`},
		{with(yamada, "--monthly-fee", "-1"), 1, "--monthly-fee"},
		{with(yamada, "--monthly-fee", "4800", "--start", "2026-4-1"), 1, `--start "2026-4-1" is not a date`},
		{yamada, 2, "--monthly-fee is required"},
		{with(create, "--monthly-fee", "4800"), 2, "--email is required"},
		{[]string{"contracts", "delete"}, 2, `unknown contracts command "delete"`},
	} {
		wantRun(t, env, tc.code, tc.args, tc.want)
	}
	inStore(t, dir, "sato@example.jp", func(st *sqlstore.DB, id string) {
		if list, _ := st.ContractsOf(t.Context(), id); len(list) != 0 {
			t.Errorf("bad input stored %d contracts", len(list))
		}
	})
}

func TestInvoicesCommands(t *testing.T) {
	dir, env := siteCustomers(t)
	r := wantRun(t, env, 0, []string{"invoices", "create", "--email", "yamada@example.jp", "--period", "2026-04",
		"--item", "光回線 1G 月額料金|1|4800|10", "--item", "天然水 12L|2|1160|8", "--data", dir},
		"invoice created: INV-202604-", "山田 太郎 様", sites.DemoIssuer, sites.DemoIssuerRegistration,
		"2026-04-01 – 2026-04-30, issued 2026-05-01",
		"4,800円", "480円", "5,280円", // 10 %
		"2,320円", "185円", "2,505円", // 8 %: 185.6 rounded down
		"7,120円", "665円", "amount due  7,785円")
	number := regexp.MustCompile(`INV-202604-\d{6}`).FindString(r.stdout)
	if number == "" {
		t.Fatalf("no INV-202604-NNNNNN number in:\n%s", r.stdout)
	}
	inStore(t, dir, "yamada@example.jp", func(st *sqlstore.DB, id string) {
		v, err := st.InvoiceByNumber(t.Context(), id, number)
		if err != nil {
			t.Fatalf("created invoice not in the store: %v", err)
		}
		if v.Recipient != "山田 太郎" || v.IssuerName != sites.DemoIssuer || v.IssuerRegistration != sites.DemoIssuerRegistration ||
			!v.PeriodStart.Equal(japanDay(2026, 4, 1)) || !v.PeriodEnd.Equal(japanDay(2026, 4, 30)) || !v.IssuedAt.Equal(japanDay(2026, 5, 1)) {
			t.Errorf("stored %+v", v)
		}
		want := []store.InvoiceItem{
			{Description: "光回線 1G 月額料金", Quantity: 1, UnitPrice: 4800, TaxRate: 10},
			{Description: "天然水 12L", Quantity: 2, UnitPrice: 1160, TaxRate: 8, Reduced: true},
		}
		if len(v.Items) != len(want) {
			t.Fatalf("items %+v", v.Items)
		}
		for i := range want {
			if v.Items[i] != want[i] {
				t.Errorf("item %d: %+v, want %+v", i+1, v.Items[i], want[i])
			}
		}
	})

	// Tax once per rate: 3 × 155 = 465 → 46 yen, not 3 × 15; given number,
	// issue date and issuer; a description with "|" in it.
	wantRun(t, env, 0, []string{"invoices", "create", "--email", "yamada@example.jp", "--period", "2026-02",
		"--issued", "2026-03-10", "--number", "INV-202602-000001", "--issuer-name", "みらい電力株式会社",
		"--issuer-registration", "T9234567890123", "--item", "オプション A|B|3|155|10", "--data", dir},
		"invoice created: INV-202602-000001", "みらい電力株式会社 (T9234567890123)", "2026-02-01 – 2026-02-28, issued 2026-03-10",
		"465円", "46円", "511円")
	inStore(t, dir, "yamada@example.jp", func(st *sqlstore.DB, id string) {
		v, err := st.InvoiceByNumber(t.Context(), id, "INV-202602-000001")
		if err != nil {
			t.Fatal(err)
		}
		if v.IssuerName != "みらい電力株式会社" || !v.IssuedAt.Equal(japanDay(2026, 3, 10)) || len(v.Items) != 1 || v.Items[0].Description != "オプション A|B" {
			t.Errorf("stored %+v", v)
		}
	})

	r = wantRun(t, env, 0, []string{"invoices", "list", "--email", "yamada@example.jp", "--data", dir},
		number, "2026-05-01", "7,785円", "INV-202602-000001", "511円")
	if strings.Index(r.stdout, number) > strings.Index(r.stdout, "INV-202602-000001") {
		t.Errorf("list not newest first:\n%s", r.stdout)
	}
	wantRun(t, env, 0, []string{"invoices", "list", "--email", "sato@example.jp", "--data", dir}, "has no invoices")

	create := []string{"invoices", "create", "--period", "2026-04", "--data", dir}
	yamada := with(create, "--email", "yamada@example.jp")
	ok := "光回線 1G 月額料金|1|4800|10"
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{with(create, "--email", "nobody@example.jp", "--item", ok), 1, []string{"no account has the email address nobody@example.jp"}},
		{with(create, "--email", "yamada at example.jp", "--item", ok), 1, []string{"not a valid email address"}},
		{with(yamada, "--item", "光回線|1|4800"), 1, []string{`--item 1 "光回線|1|4800": want description|quantity|unit price|rate`}},
		{with(yamada, "--item", ok, "--item", "水|two|1160|8"), 1, []string{`--item 2: quantity "two" is not a whole number`}},
		{with(yamada, "--item", "水|1|1160|5"), 1, []string{"not a valid qualified invoice", "item 1: tax rate 5 %, want 10 or 8"}},
		// Every problem, not just the first.
		{with(yamada, "--item", "|0|-1|5", "--issuer-registration", "T123"), 1, []string{
			`registration number "T123"`, "item 1: no description", "item 1: quantity 0", "item 1: unit price -1", "item 1: tax rate 5",
		}},
		{with(yamada, "--item", ok, "--issuer-name", ""), 1, []string{"no issuer name"}},
		// A mistyped registration number: right shape, wrong check digit.
		{with(yamada, "--item", ok, "--issuer-registration", "T1234567890123"), 1, []string{
			`registration number "T1234567890123" has a wrong check digit`,
		}},
		{with(yamada, "--item", ok, "--number", "INV-202602-000001"), 1, []string{"INV-202602-000001 is taken"}},
		{with(create, "--email", "sato@example.jp", "--item", ok, "--number", number), 1, []string{number + " is taken"}},
		{with(yamada, "--item", ok, "--issued", "2026-05-1"), 1, []string{`--issued "2026-05-1" is not a date`}},
		{[]string{"invoices", "create", "--email", "yamada@example.jp", "--period", "2026/04", "--item", "x|1|2", "--data", dir}, 1, []string{
			`--period "2026/04" is not a month: want YYYY-MM`, `--item 1 "x|1|2"`,
		}},
		{yamada, 2, []string{"--item is required"}},
		{[]string{"invoices", "create", "--email", "yamada@example.jp", "--item", ok, "--data", dir}, 2, []string{"--period is required"}},
		{with(create, "--item", ok), 2, []string{"--email is required"}},
		{[]string{"invoices", "list", "--data", dir}, 2, []string{"--email is required"}},
	} {
		wantRun(t, env, tc.code, tc.args, tc.want...)
	}
	for _, email := range []string{"yamada@example.jp", "sato@example.jp"} {
		inStore(t, dir, email, func(st *sqlstore.DB, id string) {
			list, err := st.InvoicesOf(t.Context(), id)
			if want := map[string]int{"yamada@example.jp": 2, "sato@example.jp": 0}[email]; err != nil || len(list) != want {
				t.Errorf("%s: %d invoices after bad input, want %d (%v)", email, len(list), want, err)
			}
		})
	}
}

func TestSiteDataUsage(t *testing.T) {
	r := run(t, nil, "help")
	for _, want := range []string{"tobira applications create", "tobira applications set-status", "tobira applications list",
		"tobira contracts create", "tobira contracts list", "tobira invoices create", "tobira invoices list"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}
