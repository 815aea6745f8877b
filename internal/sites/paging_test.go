package sites

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestInvoicesPaged: a customer with 48 invoices sees them twenty at a
// time, newest first, with 「前へ」「次へ」 between the pages; each page is
// one bounded read.
func TestInvoicesPaged(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	seeded, err := e.db.InvoicesOf(ctx, hanako.AccountID)
	must(t, err)
	for i := range 45 { // with the 3 seeded: 48, pages of 20, 20 and 8
		v := seeded[0]
		v.ID, v.Number = fmt.Sprintf("many-%02d", i), fmt.Sprintf("INV-MANY-%02d", i)
		v.IssuedAt = seeded[len(seeded)-1].IssuedAt.AddDate(0, 0, -1-i) // older than the seeded
		must(t, e.db.CreateInvoice(ctx, &v))
	}
	all, err := e.db.InvoicesOf(ctx, hanako.AccountID)
	must(t, err)
	if len(all) != 48 {
		t.Fatalf("%d invoices, want 48", len(all))
	}
	for _, tc := range []struct {
		path       string
		from, to   int // the page's records: all[from:to]
		prev, next string
		ja, en     []string
	}{
		{"/", 0, 20, "", "/?page=2#invoices", []string{"全48件中 1〜20件目", "1 / 3 ページ"}, []string{"1–20 of 48", "Page 1 of 3"}},
		{"/?page=2", 20, 40, "/#invoices", "/?page=3#invoices", []string{"全48件中 21〜40件目", "2 / 3 ページ"}, []string{"21–40 of 48", "Page 2 of 3"}},
		{"/?page=3", 40, 48, "/?page=2#invoices", "", []string{"全48件中 41〜48件目", "3 / 3 ページ"}, []string{"41–48 of 48", "Page 3 of 3"}},
	} {
		for _, lang := range []string{"ja", "en"} {
			r := do(t, e.invoices, req{path: tc.path, who: "hanako", lang: lang})
			if r.code != http.StatusOK {
				t.Fatalf("GET %s = %d", tc.path, r.code)
			}
			for i, v := range all {
				shown := strings.Contains(r.body, `href="/invoices/`+v.Number+`"`)
				if want := i >= tc.from && i < tc.to; shown != want {
					t.Errorf("%s (%s): %s shown %v, want %v", tc.path, lang, v.Number, shown, want)
				}
			}
			// Newest first across the page.
			if i, j := strings.Index(r.body, all[tc.from].Number), strings.Index(r.body, all[tc.to-1].Number); i > j {
				t.Errorf("%s: %s after %s", tc.path, all[tc.from].Number, all[tc.to-1].Number)
			}
			words := map[string][]string{"ja": tc.ja, "en": tc.en}[lang]
			has(t, tc.path+" "+lang, r.body, words...)
			prev, next := map[string]string{"ja": "前へ", "en": "Previous"}[lang], map[string]string{"ja": "次へ", "en": "Next"}[lang]
			has(t, tc.path+" "+lang, r.body, `aria-label="`+map[string]string{"ja": "請求書のページ", "en": "Pages of invoices"}[lang]+`"`)
			for _, l := range []struct{ rel, href, label string }{{"prev", tc.prev, prev}, {"next", tc.next, next}} {
				if l.href == "" {
					lacks(t, tc.path, r.body, `rel="`+l.rel+`"`)
					has(t, tc.path, r.body, `<span class="pager-off" aria-hidden="true">`+l.label+`</span>`)
				} else {
					has(t, tc.path, r.body, `<a class="tap" rel="`+l.rel+`" href="`+l.href+`">`+l.label+`</a>`)
				}
			}
		}
	}
	// A single page has no pager.
	r := do(t, e.invoices, req{path: "/", who: "ichiro"})
	has(t, "ichiro", r.body, e.other.inv)
	lacks(t, "ichiro", r.body, `class="pager"`)
}

// TestBadPageNumber: a page number that is not one (negative, zero, not a
// number, too large, past the end, twice) gets a message in the customer's
// language and no list; nothing changes.
func TestBadPageNumber(t *testing.T) {
	e := newEnv(t)
	msg := map[string]string{"ja": "ページの指定が正しくありません。", "en": "That page number is not valid."}
	for _, site := range []struct {
		h      http.Handler
		params []string
		list   string // a record of the first page
	}{
		{e.invoices, []string{"page"}, `href="/invoices/`},
		{e.contracts, []string{"applications_page", "contracts_page"}, `href="/applications/`},
	} {
		for _, param := range site.params {
			for _, q := range []string{"-1", "0", "abc", "1.5", "+1", "01", "", "99999999999999999999", "1000001", "2", "1&" + param + "=2"} {
				path := "/?" + param + "=" + q
				for _, lang := range []string{"ja", "en"} {
					r := do(t, site.h, req{path: path, who: "hanako", lang: lang})
					if r.code != http.StatusBadRequest {
						t.Errorf("GET %s = %d, want 400", path, r.code)
					}
					has(t, path, r.body, msg[lang], `href="/"`)
					lacks(t, path, r.body, site.list)
				}
			}
			// Page 1 asked for by name is the first page.
			r := do(t, site.h, req{path: "/?" + param + "=1", who: "hanako"})
			if r.code != http.StatusOK {
				t.Errorf("GET /?%s=1 = %d", param, r.code)
			}
			has(t, param+"=1", r.body, site.list)
		}
	}
}

// TestContractsHomePaged: the applications and the contracts page on their
// own, each list's links keeping the other's page.
func TestContractsHomePaged(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for i := range 25 { // with the 3 seeded: 28, two pages
		must(t, e.db.CreateApplication(ctx, &store.Application{ID: fmt.Sprintf("many-%02d", i), AccountID: hanako.AccountID,
			Number: fmt.Sprintf("A-MANY-%02d", i), Service: "光回線", Status: store.ApplicationReceived, AppliedAt: now.AddDate(-1, 0, -i)}))
	}
	for i := range 21 { // with the 2 seeded: 23, two pages
		must(t, e.db.CreateContract(ctx, &store.Contract{ID: fmt.Sprintf("many-%02d", i), AccountID: hanako.AccountID,
			Number: fmt.Sprintf("C-MANY-%02d", i), Service: "光回線", StartDate: now.AddDate(-1, 0, -i), Status: store.ContractEnded}))
	}
	r := do(t, e.contracts, req{path: "/?contracts_page=2", who: "hanako"})
	if r.code != http.StatusOK {
		t.Fatalf("GET = %d", r.code)
	}
	has(t, "contracts page 2", r.body, "全28件中 1〜20件目", "全23件中 21〜23件目", "C-MANY-20", "A-MANY-16",
		`href="/?applications_page=2&amp;contracts_page=2#apps"`, `href="/#contracts"`)
	lacks(t, "contracts page 2", r.body, "C-MANY-17", "A-MANY-17")
}
