package sites

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// TestJapaneseValuesMarked: on an English page, every record's value in
// Japanese script (a service, a plan, an item, the issuer's and the
// customer's names) is marked lang="ja", so a screen reader does not read
// 光回線 as English and the browser picks Japanese glyphs; a value in Latin
// letters is not marked, and a Japanese page marks nothing but itself.
func TestJapaneseValuesMarked(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	latin := store.Application{ID: "latin", AccountID: hanako.AccountID, Number: "A-2026-LATIN",
		Service: "Fiber 1G", Plan: "Business", Status: store.ApplicationReceived, AppliedAt: now}
	must(t, e.db.CreateApplication(ctx, &latin))
	apps, err := e.db.ApplicationsOf(ctx, hanako.AccountID)
	must(t, err)
	cons, err := e.db.ContractsOf(ctx, hanako.AccountID)
	must(t, err)
	invs, err := e.db.InvoicesOf(ctx, hanako.AccountID)
	must(t, err)

	type page struct {
		site   http.Handler
		path   string
		values []string // in Japanese: marked on the English page
	}
	home := page{e.contracts, "/", []string{hanako.Name}}
	for _, a := range apps {
		if a.ID != latin.ID {
			home.values = append(home.values, a.Service, a.Plan)
		}
	}
	for _, k := range cons {
		home.values = append(home.values, k.Service, k.Plan)
	}
	pages := []page{home,
		{e.contracts, "/applications/" + apps[1].Number, []string{apps[1].Service, apps[1].Plan}},
		{e.contracts, "/contracts/" + cons[0].Number, []string{cons[0].Service, cons[0].Plan}},
	}
	inv := page{e.invoices, "/invoices/" + invs[0].Number, []string{invs[0].IssuerName, invs[0].Recipient}}
	for _, it := range invs[0].Items {
		inv.values = append(inv.values, it.Description)
	}
	pages = append(pages, inv)

	marks := regexp.MustCompile(`<[a-z]+[^>]* lang="ja"[^>]*>([^<]*)<`)
	for _, p := range pages {
		en := do(t, p.site, req{path: p.path, who: "hanako", lang: "en"})
		if en.code != http.StatusOK {
			t.Fatalf("GET %s = %d", p.path, en.code)
		}
		marked := map[string]bool{}
		for _, m := range marks.FindAllStringSubmatch(en.body, -1) {
			marked[m[1]] = true
		}
		for _, v := range p.values {
			if !marked[esc(v)] {
				t.Errorf("en %s: %q is not marked lang=\"ja\"", p.path, v)
			}
		}
		if p.path == "/" {
			for _, v := range []string{latin.Service, latin.Plan} {
				has(t, "en /", en.body, ">"+v+"<")
				if marked[v] {
					t.Errorf("en /: %q, in Latin letters, is marked lang=\"ja\"", v)
				}
			}
		}

		ja := do(t, p.site, req{path: p.path, who: "hanako", lang: "ja"})
		if n := strings.Count(ja.body, `lang="ja"`); n != 1 { // <html lang="ja">
			t.Errorf("ja %s: lang=\"ja\" %d times, want only the page's", p.path, n)
		}
	}
}

func TestHasJapanese(t *testing.T) {
	for s, want := range map[string]bool{
		"光回線 1G": true, "ひかり": true, "テレビ": true, "ー": true, "12L × 2本／月": true, "「x」": true,
		"ﾃﾚﾋﾞ": true, "ＡＢＣ": true, "Fiber 1G": false, "Wi-Fi": false, "": false, "café": false,
	} {
		if got := hasJapanese(s); got != want {
			t.Errorf("hasJapanese(%q) = %v, want %v", s, got, want)
		}
	}
}
