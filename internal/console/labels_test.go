package console

import (
	"go/ast"
	"go/token"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/mail"
	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
	"github.com/tobira/tobira/internal/webkit"
)

// enumLabels are the store's enumerated types the console shows by label
// (and the languages of a customer's mails): by type, the catalog prefix
// of its labels, and whether it is a status (view.Status) or another value
// (view.Kind).
var enumLabels = map[string]struct {
	prefix string
	status bool
}{
	"ContractStatus":    {"contract.", true},
	"ApplicationStatus": {"application.", true},
	"RecoveryStatus":    {"recoveries.status.", true},
	"FactorKind":        {"factor.", false},
	"OperatorRole":      {"role.", false},
	"mail language":     {"mail_lang.", false},
}

// enumColumns are the database's columns of those types: the values their
// CHECK constraints allow are what the store can hand the console.
var enumColumns = map[string]string{
	"applications.status":      "ApplicationStatus",
	"contracts.status":         "ContractStatus",
	"recovery_requests.status": "RecoveryStatus",
	"operators.role":           "OperatorRole",
}

// enumValues walks the code for the values of enumLabels' types it can
// produce (their constants, and conversions of a literal to one), and the
// migrations for those their columns allow: by type.
func enumValues(t *testing.T) map[string][]string {
	t.Helper()
	values := map[string][]string{}
	add := func(typ, v string) {
		if !slices.Contains(values[typ], v) {
			values[typ] = append(values[typ], v)
		}
	}
	typeName := func(e ast.Expr) string {
		switch x := e.(type) {
		case *ast.Ident:
			return x.Name
		case *ast.SelectorExpr:
			if p, ok := x.X.(*ast.Ident); ok && p.Name == "store" {
				return x.Sel.Name
			}
		}
		return ""
	}
	str := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	for _, src := range testkit.Sources(t, "..", "../../cmd") {
		ast.Inspect(src.File, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.ValueSpec:
				if x.Type == nil {
					return true
				}
				if typ := typeName(x.Type); enumLabels[typ].prefix != "" {
					for _, e := range x.Values {
						if s, ok := str(e); ok {
							add(typ, s)
						}
					}
				}
			case *ast.CallExpr:
				if typ := typeName(x.Fun); enumLabels[typ].prefix != "" && len(x.Args) == 1 {
					if s, ok := str(x.Args[0]); ok {
						add(typ, s)
					}
				}
			}
			return true
		})
	}
	table := regexp.MustCompile(`(?is)CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\n\);`)
	check := regexp.MustCompile(`(?i)\n\s*(\w+)\s+TEXT\b[^\n]*CHECK \(\s*(\w+) IN \(([^)]*)\)`)
	quoted := regexp.MustCompile(`'([^']*)'`)
	for _, dialect := range []string{"sqlite", "postgres"} {
		files, err := filepath.Glob("../store/sqlstore/migrations/" + dialect + "/*.sql")
		if err != nil || len(files) == 0 {
			t.Fatalf("migrations of %s: %v", dialect, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, tm := range table.FindAllStringSubmatch(string(b), -1) {
				for _, cm := range check.FindAllStringSubmatch("\n"+tm[2], -1) {
					typ, ok := enumColumns[tm[1]+"."+cm[1]]
					if !ok {
						continue
					}
					for _, q := range quoted.FindAllStringSubmatch(cm[3], -1) {
						add(typ, q[1])
					}
				}
			}
		}
	}
	return values
}

// TestEveryEnumValueLabelled: every status and enumerated value the code
// or the store can produce, which the console shows (a contract's status,
// an application's, a recovery request's, a factor's kind, an operator's
// role), has a label in Japanese and in English, and does not show as
// 「不明な状態」 or as its catalog key.
func TestEveryEnumValueLabelled(t *testing.T) {
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		t.Fatal(err)
	}
	values := enumValues(t)
	// What the walk must find at least: it reads the code no more
	// otherwise.
	for typ, least := range map[string][]string{
		"ContractStatus":    {string(store.ContractActive), string(store.ContractEnded)},
		"ApplicationStatus": {string(store.ApplicationReceived), string(store.ApplicationCancelled)},
		"RecoveryStatus":    {string(store.RecoveryWaiting), string(store.RecoveryCompleted)},
		"FactorKind":        {string(store.FactorTOTP), string(store.FactorPhone)},
		"OperatorRole":      {string(store.RoleSupport), string(store.RoleAdmin)},
	} {
		for _, v := range least {
			if !slices.Contains(values[typ], v) {
				t.Errorf("the walk missed %s %q: it finds %v", typ, v, values[typ])
			}
		}
	}
	// The languages of a customer's mails, which their page names.
	values["mail language"] = mail.Languages
	for typ, vs := range values {
		e := enumLabels[typ]
		for _, code := range vs {
			for _, lang := range []string{"ja", "en"} {
				v := &view{Lang: lang, msgs: msgs}
				shown, unknown := v.Kind(e.prefix, code), v.T("label.unknown_value", code)
				if e.status {
					shown, unknown = v.Status(e.prefix, code), v.T("label.unknown_status", code)
				}
				if shown == unknown || shown == e.prefix+code || shown == "" {
					t.Errorf("%s %q has no label in %s: it shows as %q", typ, code, lang, shown)
				}
			}
		}
	}
}

// TestUnknownValueShownAsUnknown: a status or a kind without a label (one
// a newer version or a site writes) shows on the customer's page, the
// search's results and the operators' page as 「不明な状態 (code)」 or
// 「不明な値 (code)」, never as its catalog key.
func TestUnknownValueShownAsUnknown(t *testing.T) {
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := webkit.ParsePages(templateFS, staticFS, msgs, "customer", "customers", "operators")
	if err != nil {
		t.Fatal(err)
	}
	op := &store.Operator{ID: "op1", Email: "kim@tobira.example", Name: "Kim", Role: "auditor"}
	c := customer{Account: store.Account{ID: "a1", Email: "yamada@example.jp", Name: "山田 太郎", Lang: "zh"}, Activated: true,
		Factors: []store.FactorKind{"webauthn"}}
	pageData := map[string]any{
		"customer": customerData{customer: c,
			Contracts:    []store.Contract{{Number: "C-2026-000045", Status: "suspended"}},
			Applications: []store.Application{{Number: "A-2026-000123", Status: "on_hold"}}},
		"customers": customersData{Query: "山田", Results: []customer{c}},
		"operators": operatorsData{Operators: []store.Operator{*op}},
	}
	unknownStatus := map[string]string{"ja": "不明な状態 (%s)", "en": "Unknown status (%s)"}
	unknownValue := map[string]string{"ja": "不明な値 (%s)", "en": "Unknown value (%s)"}
	for _, lang := range []string{"ja", "en"} {
		st := func(code string) string { return strings.Replace(unknownStatus[lang], "%s", code, 1) }
		val := func(code string) string { return strings.Replace(unknownValue[lang], "%s", code, 1) }
		// The operator's role shows in the header of every page.
		for page, want := range map[string][]string{
			"customer":  {st("suspended"), st("on_hold"), val("webauthn"), val("auditor"), val("zh")},
			"customers": {val("webauthn"), val("auditor")},
			"operators": {val("auditor")},
		} {
			v := &view{Lang: lang, Title: page + ".title", Op: op, Data: pageData[page], msgs: msgs}
			rec := httptest.NewRecorder()
			if err := pages.Render(rec, 200, lang, page, v); err != nil {
				t.Fatalf("%s: %v", page, err)
			}
			body := rec.Body.String()
			for _, key := range []string{"contract.suspended", "application.on_hold", "factor.webauthn", "role.auditor"} {
				if strings.Contains(body, key) {
					t.Errorf("%s in %s shows the key %q", page, lang, key)
				}
			}
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("%s in %s lacks %q", page, lang, w)
				}
			}
		}
		v := &view{Lang: lang, msgs: msgs}
		if got := v.RecoveryState(recoveryRow{RecoveryRequest: store.RecoveryRequest{Status: "paused"}}); got[0] != st("paused") {
			t.Errorf("a recovery request's unknown status in %s: %q, want %q", lang, got, st("paused"))
		}
	}
}
