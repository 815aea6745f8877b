package console_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tobira/tobira/internal/store"
)

// TestAuditActionLabels: every action the code records has a label in
// both catalogs, other than its code.
func TestAuditActionLabels(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		b, err := os.ReadFile("locales/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(b, &msgs); err != nil {
			t.Fatal(err)
		}
		for _, a := range store.AuditActions {
			if l := strings.TrimSpace(msgs["action."+a]); l == "" || l == a {
				t.Errorf("%s: the action %q has no label (action.%s)", lang, a, a)
			}
		}
	}
}

// appendAudit appends events, failing the test on an error.
func (s *site) appendAudit(evs ...store.AuditEvent) {
	s.t.Helper()
	for i := range evs {
		if err := s.db.AppendAudit(s.t.Context(), &evs[i]); err != nil {
			s.t.Fatal(err)
		}
	}
}

// TestAuditLabels: the log shows an action by its label, in the page's
// language, with its code small beside it; the action filter offers every
// action by its label; the customer page labels its events too.
func TestAuditLabels(t *testing.T) {
	s := newSite(t)
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	a, _, err := s.svc.OpenAccount(t.Context(), "yamada@example.jp", "山田 太郎", "system:demo")
	if err != nil {
		t.Fatal(err)
	}
	s.appendAudit(store.AuditEvent{At: t0, AccountID: a.ID, Actor: "operator:cli", Action: store.ActionMFAReset, Outcome: "ok"})
	_, body := b.get("/audit?account=" + a.ID)
	for _, want := range []string{`<td title="mfa.reset" data-label="操作"><div>二要素認証のリセット<br><code class="code">mfa.reset</code></div></td>`,
		`<td title="account.open" data-label="操作"><div>アカウントの開設`, `<td title="system:demo" data-label="実行者">システム (demo)</td>`,
		`<td title="operator:cli" data-label="実行者">コマンド (tobira users など)</td>`,
		`<option value="mfa.reset">二要素認証のリセット (mfa.reset)</option>`, `<td title="ok" data-label="結果">成功</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the audit page lacks %s", want)
		}
	}
	for _, act := range store.AuditActions {
		if !strings.Contains(body, `<option value="`+act+`">`) {
			t.Errorf("the action filter does not offer %s", act)
		}
	}
	_, body = b.do("GET", "/audit?account="+a.ID, nil, "Accept-Language", "en")
	if !strings.Contains(body, `<td title="mfa.reset" data-label="Action"><div>Two-step verification reset<br>`) {
		t.Error("the English audit page does not label mfa.reset in English")
	}
	_, body = b.get("/customers/" + a.ID)
	if !strings.Contains(body, `二要素認証のリセット<br><code class="code">mfa.reset</code>`) {
		t.Error("the customer page does not label its events")
	}
}

// TestAuditByOperator: the log filters by the operator who acted, one of
// the console's or the tobira commands; the filter offers every operator.
func TestAuditByOperator(t *testing.T) {
	s := newSite(t)
	boss := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	s.appendAudit(
		store.AuditEvent{At: t0, AccountID: "acc-1", Actor: "operator:kim@tobira.example", Action: store.ActionAccountLock, Outcome: "ok", Detail: "kim-lock"},
		store.AuditEvent{At: t0, AccountID: "acc-1", Actor: "operator:boss@tobira.example", Action: store.ActionAccountUnlock, Outcome: "ok", Detail: "boss-unlock"},
		store.AuditEvent{At: t0, AccountID: "acc-1", Actor: "operator:cli", Action: store.ActionMFAReset, Outcome: "ok", Detail: "cli-reset"},
		store.AuditEvent{At: t0, AccountID: "acc-1", Actor: "customer", Action: store.ActionSignIn, Outcome: "ok", Detail: "customer-signin"},
	)
	for _, tc := range []struct {
		query     string
		want, not []string
	}{
		{"operator=kim%40tobira.example", []string{"kim-lock", `<td title="console.signin"`}, []string{"boss-unlock", "cli-reset", "customer-signin"}},
		{"operator=Kim%40Tobira.Example&account=acc-1", []string{"kim-lock"}, []string{"boss-unlock", "cli-reset", "customer-signin", `<td title="console.signin"`}},
		{"operator=cli", []string{"cli-reset"}, []string{"kim-lock", "boss-unlock", "customer-signin"}},
		{"operator=nobody%40tobira.example", []string{"該当する記録はありません"}, []string{"kim-lock"}},
	} {
		resp, body := boss.get("/audit?" + tc.query)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", tc.query, resp.StatusCode)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %s", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%s: the page shows %s", tc.query, n)
			}
		}
	}
	_, body := boss.get("/audit?operator=kim%40tobira.example")
	for _, want := range []string{`<option value="boss@tobira.example">Op boss@tobira.example (boss@tobira.example)</option>`,
		`<option value="kim@tobira.example" selected>`, `<option value="cli">`} {
		if !strings.Contains(body, want) {
			t.Errorf("the operator filter lacks %s", want)
		}
	}
	// The export takes the filter too.
	_, body = boss.get("/audit.csv?operator=kim%40tobira.example&account=acc-1")
	if !strings.Contains(body, "kim-lock") || strings.Contains(body, "boss-unlock") {
		t.Errorf("CSV by operator:\n%s", body)
	}
}

var (
	eventNumber = regexp.MustCompile(`<td[^>]*>n=(\d+)</td>`)
	pageLink    = regexp.MustCompile(`<a href="([^"]+)" rel="(prev|next)">`)
)

// auditPage reads a page of the log: the numbers of its events (their
// Detail) and its links to the pages before and after.
func auditPage(t *testing.T, b *browser, path string) (nums []int, prev, next string) {
	t.Helper()
	resp, body := b.get(path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	for _, m := range eventNumber.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		nums = append(nums, n)
	}
	for _, m := range pageLink.FindAllStringSubmatch(body, -1) {
		if m[2] == "prev" {
			prev = html.UnescapeString(m[1])
		} else {
			next = html.UnescapeString(m[1])
		}
	}
	return nums, prev, next
}

// TestAuditPaging: the log pages back past its 200 rows, newest first,
// keeping the filter, through events that share their instant, and forward
// again to the same pages.
func TestAuditPaging(t *testing.T) {
	s := newSite(t)
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	const total = 450
	var evs []store.AuditEvent
	for n := range total {
		// Three events a second: pages end between events of one instant.
		evs = append(evs, store.AuditEvent{At: t0.Add(time.Duration(n/3) * time.Second), AccountID: "acc-1", Actor: "customer",
			Action: store.ActionSignInPassword, Outcome: "fail", Detail: "n=" + strconv.Itoa(n)})
	}
	// Another customer's and another outcome's events, which the filter leaves out.
	evs = append(evs, store.AuditEvent{At: t0.Add(time.Minute), AccountID: "acc-2", Actor: "customer", Action: store.ActionSignInPassword, Outcome: "fail", Detail: "n=9001"},
		store.AuditEvent{At: t0.Add(time.Minute), AccountID: "acc-1", Actor: "customer", Action: store.ActionSignInPassword, Outcome: "ok", Detail: "n=9002"})
	s.appendAudit(evs...)

	filter := "/audit?account=acc-1&outcome=fail"
	var pages [][]int
	var seen []int
	path, prevs := filter, []string{""}
	for path != "" {
		nums, prev, next := auditPage(t, b, path)
		pages, seen = append(pages, nums), append(seen, nums...)
		if len(pages) > 1 && prev == "" {
			t.Errorf("page %d has no link to the page before", len(pages))
		}
		prevs = append(prevs, prev)
		for _, link := range []string{prev, next} {
			if link != "" && (!strings.Contains(link, "account=acc-1") || !strings.Contains(link, "outcome=fail")) {
				t.Errorf("the link %s drops the filter", link)
			}
		}
		path = next
		if len(pages) > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(pages) != 3 || len(pages[0]) != 200 || len(pages[1]) != 200 || len(pages[2]) != 50 {
		t.Fatalf("pages of %v events, want 200, 200, 50", lens(pages))
	}
	want := make([]int, total)
	for i := range want {
		want[i] = total - 1 - i
	}
	if !slices.Equal(seen, want) {
		t.Errorf("the pages hold %v..., want every event once, newest first", seen[:10])
	}
	// Back from the last page: the pages seen before, whole.
	for i := 2; i >= 1; i-- {
		nums, _, _ := auditPage(t, b, prevs[i+1])
		if !slices.Equal(nums, pages[i-1]) {
			t.Errorf("the page before page %d: %d events from %v, want page %d", i+1, len(nums), nums[:1], i)
		}
	}
	// A page before the newest one shows the newest page, whole.
	_, body := b.get(fmt.Sprintf("%s&after=%d-%d", filter, evs[total-2].At.UnixMilli(), evs[total-2].ID))
	if nums := eventNumber.FindAllStringSubmatch(body, -1); len(nums) != 200 || nums[0][1] != strconv.Itoa(total-1) ||
		strings.Contains(body, `rel="prev"`) {
		t.Errorf("the page before the second newest event: %d events", len(nums))
	}
}

func lens(pages [][]int) []int {
	var out []int
	for _, p := range pages {
		out = append(out, len(p))
	}
	return out
}

// TestAuditBadFilter: a filter the form cannot have sent gets a message
// that says what is wrong, and 400, on the page and the export alike.
func TestAuditBadFilter(t *testing.T) {
	s := newSite(t)
	b := s.signIn("boss@tobira.example", s.operator("boss@tobira.example", store.RoleAdmin))
	for _, tc := range []struct{ query, want string }{
		{"from=yesterday", "日付は 2026-04-01 のように"},
		{"to=2026-02-30", "日付は 2026-04-01 のように"},
		{"from=2026-04-02&to=2026-04-01", "終了日が開始日より前"},
		{"email=not-an-address", "メールアドレスの形式が正しくありません"},
		{"account=..%2Fetc", "顧客 ID の形式が正しくありません"},
		{"operator=" + url.QueryEscape("kim at tobira"), "オペレーターの指定が正しくありません"},
		{"action=" + url.QueryEscape("<script>"), "操作の指定が正しくありません"},
		{"outcome=" + url.QueryEscape("ok' OR 1=1"), "結果の指定が正しくありません"},
		{"before=yesterday", "ページの指定が正しくありません"},
		{"before=1-1&after=2-2", "ページの指定が正しくありません"},
		{"after=99999999999999999999-1", "ページの指定が正しくありません"},
		{"email=" + strings.Repeat("a", 300) + "%40example.jp", "長すぎます"},
		{"account=" + strings.Repeat("あ", 65), "長すぎます"},
		{"action=mfa%09reset", "文字として読めない"},
		{"account=acc%0D%0A1", "文字として読めない"},
		// The console's guard refuses what is no text in any request.
		{"email=%FF%FE", "リクエストの形式が正しくありません"},
		{"action=mfa.reset%00", "リクエストの形式が正しくありません"},
	} {
		resp, body := b.get("/audit?" + tc.query)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("/audit?%s: %d, want 400 with %q", tc.query, resp.StatusCode, tc.want)
		}
		if !strings.Contains(body, `<form method="get" action="/audit"`) && !strings.Contains(tc.want, "リクエスト") {
			t.Errorf("/audit?%s: no filter form to correct it", tc.query)
		}
		resp, body = b.get("/audit.csv?" + tc.query)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("/audit.csv?%s: %d, want 400 with %q", tc.query, resp.StatusCode, tc.want)
		}
	}
}

// TestAuditOfErasedCustomer: an erased customer's log is found by the
// account's id, which the log's rows show and link to; the customer page
// links to its log by the id.
func TestAuditOfErasedCustomer(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	admin := s.signIn("sato@tobira.example", s.operator("sato@tobira.example", store.RoleAdmin))
	a, _, err := s.svc.OpenAccount(ctx, "tanaka@example.jp", "田中 一郎", "operator:cli")
	if err != nil {
		t.Fatal(err)
	}
	s.appendAudit(store.AuditEvent{At: t0, AccountID: a.ID, Actor: "customer", Action: store.ActionSignIn, Outcome: "ok", Detail: "before-erase"},
		store.AuditEvent{At: t0, AccountID: "gone-account", Actor: "customer", Action: store.ActionSignIn, Outcome: "ok", Detail: "no-account-row"})
	path := "/customers/" + a.ID
	logLink := `href="/audit?account=` + a.ID + `"`
	if _, body := admin.get(path); !strings.Contains(body, logLink) {
		t.Errorf("the customer page does not link to its log")
	}
	if _, body := admin.get("/audit?email=tanaka%40example.jp"); !strings.Contains(body, "before-erase") {
		t.Errorf("the log by email before the erasure lacks the event")
	}
	if resp, body := admin.get("/audit?email=tanaka%40example.jp&account=gone-account"); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "メールアドレスと顧客 ID が別の顧客を指しています") {
		t.Errorf("an email and the id of another account: %d", resp.StatusCode)
	}
	if resp, body := admin.post(path+"/erase", "confirm_email", "tanaka@example.jp", "erase_reason", "退会"); !strings.Contains(body, "アカウントを削除しました") {
		t.Fatalf("erase: %d", resp.StatusCode)
	}
	if _, body := admin.get("/audit?email=tanaka%40example.jp"); !strings.Contains(body, "顧客 ID で絞り込んでください") {
		t.Errorf("the log by the erased email does not point to the id")
	}
	_, body := admin.get("/audit?account=" + a.ID)
	if !strings.Contains(body, "before-erase") || !strings.Contains(body, "アカウントの削除") || strings.Contains(body, "no-account-row") {
		t.Errorf("the log by the erased account's id:\n%s", body)
	}
	if !strings.Contains(body, logLink) || !strings.Contains(body, "削除済み") {
		t.Errorf("the erased account's rows do not link to its log by id")
	}
	if _, body := admin.get(path); !strings.Contains(body, logLink) {
		t.Errorf("the erased customer's page does not link to its log")
	}
	// An account no longer in the database at all: its id, linking to its log.
	_, body = admin.get("/audit")
	if !strings.Contains(body, `href="/audit?account=gone-account"`) {
		t.Errorf("a row of an unknown account does not link to its log")
	}
	_, body = admin.get("/audit.csv?account=" + a.ID)
	if !strings.Contains(body, "before-erase") || !strings.Contains(body, store.ErasedEmail(a.ID)) {
		t.Errorf("CSV by the erased account's id:\n%s", body)
	}
}

// TestAuditOutcomeFilterOffersEveryLabel: every outcome the catalogs label
// (those the code records) is offered by the audit filter, so that support
// staff can list, say, the enrolments refused as already_enrolled.
func TestAuditOutcomeFilterOffersEveryLabel(t *testing.T) {
	s := newSite(t)
	b := s.signIn("kim@tobira.example", s.operator("kim@tobira.example", store.RoleSupport))
	_, body := b.get("/audit")
	raw, err := os.ReadFile("locales/en.json")
	if err != nil {
		t.Fatal(err)
	}
	var msgs map[string]string
	if err := json.Unmarshal(raw, &msgs); err != nil {
		t.Fatal(err)
	}
	for key := range msgs {
		code, ok := strings.CutPrefix(key, "outcome.")
		if !ok {
			continue
		}
		if !strings.Contains(body, `<option value="`+code+`"`) {
			t.Errorf("the audit filter does not offer the outcome %q, which %s labels", code, key)
		}
	}
}
