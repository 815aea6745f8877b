package sites

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
)

// words is what the contracts site says, in each language, for the
// statuses and the seeded amounts.
var words = map[string]map[string]string{
	"ja": {
		"received": "受付済", "reviewing": "審査中", "active": "開通済", "cancelled": "キャンセル",
		"con-active": "契約中", "con-ended": "終了",
		"apps": "申込", "contracts": "契約", "site": "申込／契約確認サイト",
		"fee-fiber": "4,800円", "fee-water": "2,320円",
	},
	"en": {
		"received": "Received", "reviewing": "Under review", "active": "Activated", "cancelled": "Cancelled",
		"con-active": "Active", "con-ended": "Ended",
		"apps": "Applications", "contracts": "Contracts", "site": "Applications and contracts",
		"fee-fiber": "¥4,800", "fee-water": "¥2,320",
	},
}

func TestContractsHome(t *testing.T) {
	e := newEnv(t)
	apps, err := e.db.ApplicationsOf(t.Context(), hanako.AccountID)
	must(t, err)
	cons, err := e.db.ContractsOf(t.Context(), hanako.AccountID)
	must(t, err)
	if len(apps) != 3 || len(cons) != 2 {
		t.Fatalf("seeded %d applications and %d contracts, want 3 and 2", len(apps), len(cons))
	}
	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			w := words[lang]
			r := do(t, e.contracts, req{path: "/", who: "hanako", lang: lang})
			if r.code != http.StatusOK {
				t.Fatalf("GET / = %d", r.code)
			}
			has(t, "home", r.body, `<html lang="`+lang+`">`, w["site"], w["apps"], w["contracts"],
				w["fee-fiber"], w["fee-water"])
			for _, a := range apps {
				has(t, "home", r.body, `href="/applications/`+a.Number+`"`, esc(a.Service), esc(a.Plan),
					formatDate(lang, a.AppliedAt), w[string(a.Status)])
			}
			for _, k := range cons {
				has(t, "home", r.body, `href="/contracts/`+k.Number+`"`, formatDate(lang, k.StartDate), w["con-"+string(k.Status)])
			}
			// Newest application first.
			if i, j := strings.Index(r.body, apps[0].Number), strings.Index(r.body, apps[2].Number); i > j {
				t.Errorf("%s listed after %s", apps[0].Number, apps[2].Number)
			}
			lacks(t, "home", r.body, e.other.app, e.other.con, "秘密のサービス")
		})
	}
	// The seeded statuses, in words: 開通済, 審査中, キャンセル.
	r := do(t, e.contracts, req{path: "/", who: "hanako"})
	has(t, "default language", r.body, `<html lang="ja">`, "開通済", "審査中", "キャンセル", "2026年1月1日")
}

func TestContractsHomeEmpty(t *testing.T) {
	e := newEnv(t)
	e.auth.Users["new"] = &User{AccountID: "acc-new", Name: "新規 顧客"}
	r := do(t, e.contracts, req{path: "/", who: "new"})
	has(t, "empty", r.body, "申込はありません。", "契約はありません。")
	r = do(t, e.contracts, req{path: "/", who: "new", lang: "en"})
	has(t, "empty", r.body, "You have no applications.", "You have no contracts.")
}

func TestApplicationPage(t *testing.T) {
	e := newEnv(t)
	apps, err := e.db.ApplicationsOf(t.Context(), hanako.AccountID)
	must(t, err)
	for _, lang := range []string{"ja", "en"} {
		for _, a := range apps {
			t.Run(lang+"/"+string(a.Status), func(t *testing.T) {
				w := words[lang]
				r := do(t, e.contracts, req{path: "/applications/" + a.Number, who: "hanako", lang: lang})
				if r.code != http.StatusOK {
					t.Fatalf("GET /applications/%s = %d", a.Number, r.code)
				}
				has(t, "application", r.body, a.Number, esc(a.Service), esc(a.Plan), formatDate(lang, a.AppliedAt), w[string(a.Status)])
				if a.Status == store.ApplicationCancelled {
					has(t, "cancelled application", r.body, map[string]string{"ja": "この申込はキャンセルされました。", "en": "This application was cancelled."}[lang])
					lacks(t, "cancelled application", r.body, `aria-current="step"`)
				} else {
					// The way to 開通済, with this application's step current.
					has(t, "application", r.body, `aria-current="step">`+w[string(a.Status)]+`</li>`, w["received"], w["reviewing"], w["active"])
				}
			})
		}
	}
}

func TestContractPage(t *testing.T) {
	e := newEnv(t)
	cons, err := e.db.ContractsOf(t.Context(), hanako.AccountID)
	must(t, err)
	for _, lang := range []string{"ja", "en"} {
		for _, k := range cons {
			t.Run(lang+"/"+k.Number, func(t *testing.T) {
				r := do(t, e.contracts, req{path: "/contracts/" + k.Number, who: "hanako", lang: lang})
				if r.code != http.StatusOK {
					t.Fatalf("GET /contracts/%s = %d", k.Number, r.code)
				}
				has(t, "contract", r.body, k.Number, esc(k.Service), esc(k.Plan), formatDate(lang, k.StartDate),
					FormatYen(lang, k.MonthlyFee), words[lang]["con-active"])
			})
		}
	}
	// A fee of a million yen or more has two separators.
	if got := FormatYen("ja", 1234567); got != "1,234,567円" {
		t.Errorf("FormatYen = %q", got)
	}
}

// TestOtherCustomersNumbers: a number that is another customer's gives the
// same 404 as one that is nobody's, in the customer's language, and shows
// nothing of the record.
func TestOtherCustomersNumbers(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		site http.Handler
		path string
	}{
		{e.contracts, "/applications/" + e.other.app},
		{e.contracts, "/contracts/" + e.other.con},
		{e.invoices, "/invoices/" + e.other.inv},
		{e.contracts, "/applications/A-2026-000000"},
		{e.contracts, "/contracts/C-0"},
		{e.invoices, "/invoices/INV-0"},
	} {
		for lang, msg := range map[string]string{"ja": "お探しのページは見つかりませんでした。", "en": "The page you are looking for was not found."} {
			r := do(t, tc.site, req{path: tc.path, who: "hanako", lang: lang})
			if r.code != http.StatusNotFound {
				t.Errorf("%s (%s) = %d, want 404", tc.path, lang, r.code)
			}
			has(t, tc.path, r.body, msg, `<html lang="`+lang+`">`, "data-account-menu")
			lacks(t, tc.path, r.body, "秘密", "一郎", "123,456")
		}
		// Ichiro himself sees his own.
		if r := do(t, tc.site, req{path: tc.path, who: "ichiro"}); strings.Contains(tc.path, "99999") && r.code != http.StatusOK {
			t.Errorf("%s for its owner = %d", tc.path, r.code)
		}
	}
}
