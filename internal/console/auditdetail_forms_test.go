package console

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
	"github.com/tobira/tobira/internal/webkit"
)

// freeText marks a detail that is someone's own words (an operator's
// reason, a customer's), shown as recorded.
var freeText = []string{}

// detailValues are the forms of the details the code builds from values
// the walk below cannot read as text: by the file and the expression as
// written there, what it may be. A detail the code records from an
// expression not here, and not built of text and these, fails the test:
// add its forms here, and its label to auditdetail.go.
var detailValues = map[string][]string{
	// An operator's or a customer's own words.
	"customers.go: reason":                       freeText, // a lock's reason
	"resets.go: reason":                          freeText, // a reset request's reason
	"erase.go: r.PostForm.Get(\"erase_reason\")": freeText,
	"users.go: why":                              freeText, // tobira users lock --reason
	"users.go: *reason":                          freeText, // tobira users erase --reason
	"lockedout.go: reason":                       freeText, // recovery.propose: the check the operator made
	"accounts.go: q.Reason":                      freeText,
	"resets.go: q.Reason":                        freeText,

	// Forms built elsewhere.
	"resets.go: outdated.why": {"request 5404b0f0: operator:kim@tobira.example disabled since the request",
		"request 5404b0f0: mfa.totp since the request"},
	"recoveries.go: why": {"proposed already", "proposer disabled since the proposal", "own proposal", "another's proposal",
		"the request is no longer waiting", "the waiting period is over", "no open proposal"},
	"recoveries.go: portal.ProposalDetail(q)": {"request rec-1 proposed by operator:kim@tobira.example, approved by operator:boss@tobira.example: 電話で確認"},
	"lockedout.go: ProposalDetail(r)":         {"request rec-1 proposed by operator:kim@tobira.example, approved by operator:boss@tobira.example: 電話で確認"},
	"notices.go: notMeDetail(t, err == nil, factors, ferr == nil)": {
		"sessions ended; notice new_browser sent 2026-04-01T09:00:00+09:00; second factors: totp set up 2026-03-01T10:00:00+09:00",
		"sessions not ended; second factors not read", "sessions ended; no second factor"},
	"phone.go: string(ch)":                          {"sms", "voice"},
	"reauth.go: r.URL.Path":                         reauthPaths(),
	"operators.go: op.Email":                        {"kim@tobira.example"},
	"audit.go: aq.Encode()":                         {"", "account=abc&action=mfa.reset", "operator=cli&from=2026-04-01&to=2026-04-02", "email=a%40example.jp&outcome=ok"},
	"maintenance.go: maintenance.Span(win, \"en\")": {"1 December 2026, 2:00–5:00", "1 December 2026, 22:00 – 2 December 2026, 2:00"},
	"maintenance.go: maintenance.Span(w, \"en\")":   {"1 December 2026, 2:00–5:00", "1 December 2026, 22:00 – 2 December 2026, 2:00"}, // tobira maintenance
	"session.go: useragent.Parse(ended.UserAgent).Label(\"unknown browser\")": {"Chrome (Windows)", "unknown browser (Windows)", "unknown browser"},
	"clients.go: strings.Join(changed, \", \")":                               {"name", "name, redirect URIs, post-logout redirect URIs, back-channel logout URI"},
}

// reauthPaths are the paths of the actions the console asks the code again
// for, from its routes.
func reauthPaths() []string {
	src, err := parser.ParseFile(token.NewFileSet(), "console.go", nil, 0)
	if err != nil {
		panic(err)
	}
	var out []string
	route := regexp.MustCompile(`^POST (/\S+)$`)
	ast.Inspect(src, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		pattern, _ := strconv.Unquote(lit.Value)
		m := route.FindStringSubmatch(pattern)
		if m == nil || !strings.Contains(exprText(call.Args[1]), "Fresh(") {
			return true
		}
		out = append(out, strings.NewReplacer("{id}", "abc123").Replace(m[1]))
		return true
	})
	return out
}

// wrappers pass their detail argument through a form of their own.
var wrappers = map[string]func(string) string{
	"auditClient/5": func(d string) string {
		if d == "" {
			return "tobira-contracts (契約サイト)"
		}
		return "tobira-contracts (契約サイト): " + d
	},
}

// detailSite is where the code records a detail.
type detailSite struct {
	pos     string
	file    string
	action  string // "" when the code passes it in a variable
	outcome string
	expr    ast.Expr
	fn      *ast.FuncDecl
	wrap    func(string) string
}

// TestEveryRecordedDetailShown walks the code for every audit detail it
// records (an AuditEvent's Detail, and the arguments of the functions that
// pass one on: audit, cliAudit, auditOperator, ...) and shows each of its
// forms as the audit log does: none may show as recorded in English, and
// no English text of the code may be left in the Japanese page. A detail
// built of an expression the walk cannot read fails until its forms are
// in detailValues; a form without a label fails until auditdetail.go has
// one.
func TestEveryRecordedDetailShown(t *testing.T) {
	msgs, err := webkit.LoadCatalog(localeFS)
	if err != nil {
		t.Fatal(err)
	}
	sites, consts := detailSites(t)
	if len(sites) < 40 {
		t.Fatalf("the walk found %d details recorded; it reads the code no more", len(sites))
	}
	used := map[string]bool{}
	for _, st := range sites {
		forms, lits, err := shapes(st, consts, used)
		if err != nil {
			t.Errorf("%s: %v", st.pos, err)
			continue
		}
		for _, form := range forms {
			if form.free {
				continue
			}
			d := form.text
			if st.wrap != nil {
				d = st.wrap(d)
			}
			if d == "" {
				continue
			}
			actions := []string{st.action}
			if st.action == "" {
				actions = store.AuditActions
			}
			outcomes := []string{st.outcome}
			if st.outcome == "" {
				outcomes = []string{"ok", "fail"}
			}
			var shown string
		find:
			for _, a := range actions {
				for _, o := range outcomes {
					v := &view{Lang: "ja", msgs: msgs}
					if s := v.Detail(store.AuditEvent{Action: a, Outcome: o, Detail: d}); s != d {
						shown = s
						break find
					}
				}
			}
			if shown == "" {
				t.Errorf("%s: the detail %q (action %q) has no label: it shows as recorded", st.pos, d, st.action)
				continue
			}
			for _, l := range lits {
				if strings.Contains(shown, l) {
					t.Errorf("%s: %q shows as %q, with the code's English %q", st.pos, d, shown, l)
				}
			}
		}
	}
	for k := range detailValues {
		if !used[k] {
			t.Errorf("detailValues has %q, which no detail is built of any more", k)
		}
	}
}

type form struct {
	text string
	free bool
}

// shapes are the forms the detail at st may take, and the English words
// of the code's text in it.
func shapes(st detailSite, consts map[string]string, used map[string]bool) ([]form, []string, error) {
	var lits []string
	var walk func(e ast.Expr, whole bool) ([]form, error)
	walk = func(e ast.Expr, whole bool) ([]form, error) {
		key := st.file + ": " + exprText(e)
		if vs, ok := detailValues[key]; ok {
			used[key] = true
			if len(vs) == 0 {
				// Someone's words: shown as recorded, alone or within a
				// form of the code's.
				return []form{{text: "電話で確認", free: whole}}, nil
			}
			out := make([]form, len(vs))
			for i, v := range vs {
				out[i] = form{text: v}
				lits = append(lits, words(valueFree.ReplaceAllString(v, ""))...)
			}
			return out, nil
		}
		switch x := e.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(x.Value)
			lits = append(lits, words(s)...)
			return []form{{text: s}}, nil
		case *ast.BinaryExpr:
			if x.Op != token.ADD {
				break
			}
			a, err := walk(x.X, false)
			if err != nil {
				return nil, err
			}
			b, err := walk(x.Y, false)
			if err != nil {
				return nil, err
			}
			var out []form
			for _, l := range a {
				for _, r := range b {
					out = append(out, form{text: l.text + r.text})
				}
			}
			return out, nil
		case *ast.CallExpr:
			if exprText(x.Fun) == "fmt.Sprintf" && len(x.Args) > 0 {
				if lit, ok := x.Args[0].(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					lits = append(lits, words(s)...)
					// The operator.create form: an address and a role.
					s = strings.Replace(s, "%s (%s)", "%s (admin)", 1)
					s = strings.ReplaceAll(s, "%d", "3")
					return []form{{text: regexp.MustCompile(`%[sv]`).ReplaceAllString(s, "kim@tobira.example")}}, nil
				}
			}
		case *ast.Ident:
			if v, ok := consts[x.Name]; ok {
				lits = append(lits, words(v)...)
				return []form{{text: v}}, nil
			}
			if defs := localDefs(st.fn, x.Name); len(defs) > 0 {
				var out []form
				for _, d := range defs {
					f, err := walk(d, whole)
					if err != nil {
						return nil, err
					}
					out = append(out, f...)
				}
				return out, nil
			}
		case *ast.SelectorExpr:
			if v, ok := consts[x.Sel.Name]; ok {
				lits = append(lits, words(v)...)
				return []form{{text: v}}, nil
			}
		}
		if whole {
			return nil, fmt.Errorf("the detail %s (%s) is no text the walk reads: add its forms to detailValues as %q",
				exprText(e), st.action, key)
		}
		// A value within text: an id, a count.
		return []form{{text: "123"}}, nil
	}
	forms, err := walk(st.expr, true)
	return forms, lits, err
}

// valueFree drops the values from a form of detailValues, leaving its
// words: addresses, ids and codes (with "@" or "."), and the names of
// browsers and systems, which show as they are.
var valueFree = regexp.MustCompile(`\S*[@.]\S*|Chrome|Windows`)

// words are the English words of a text of the code, as a label must not
// leave them: runs of three letters or more.
func words(s string) []string {
	return regexp.MustCompile(`[A-Za-z][A-Za-z' -]*[A-Za-z]{2,}`).FindAllString(s, -1)
}

// localDefs are the values fn gives its local variable name.
func localDefs(fn *ast.FuncDecl, name string) []ast.Expr {
	if fn == nil || fn.Body == nil {
		return nil
	}
	var out []ast.Expr
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) || (as.Tok != token.DEFINE && as.Tok != token.ASSIGN) {
			return true
		}
		for i, l := range as.Lhs {
			if id, ok := l.(*ast.Ident); ok && id.Name == name {
				out = append(out, as.Rhs[i])
			}
		}
		return true
	})
	return out
}

func exprText(e ast.Node) string {
	var b strings.Builder
	printer.Fprint(&b, token.NewFileSet(), e)
	return b.String()
}

// detailSites walks the code outside the tests for the details it
// records, and returns them with the package-level string constants.
func detailSites(t *testing.T) ([]detailSite, map[string]string) {
	t.Helper()
	files := testkit.Sources(t, "..", "../../cmd")
	consts := map[string]string{}
	for _, fl := range files {
		for _, decl := range fl.File.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}

	// writers are the functions that record their argument as a detail,
	// by name and arity: the index of that argument.
	writers := map[string]int{}
	for k := range wrappers {
		writers[k] = 4
	}
	var sites []detailSite
	for pass := 0; ; pass++ {
		sites = sites[:0]
		before := len(writers)
		for _, fl := range files {
			for _, decl := range fl.File.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				params := paramNames(fn)
				sink := func(n ast.Node, e ast.Expr, action, outcome string, wrap func(string) string) {
					if id, ok := e.(*ast.Ident); ok {
						if i := slices.Index(params, id.Name); i >= 0 {
							writers[fn.Name.Name+"/"+strconv.Itoa(len(params))] = i
							return
						}
					}
					sites = append(sites, detailSite{pos: fl.Fset.Position(n.Pos()).String(), file: filepath.Base(fl.Path),
						action: action, outcome: outcome, expr: e, fn: fn, wrap: wrap})
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					switch x := n.(type) {
					case *ast.CompositeLit:
						if !testkit.IsAuditEvent(x.Type) {
							return true
						}
						var action, outcome string
						var detail ast.Expr
						for _, el := range x.Elts {
							kv, ok := el.(*ast.KeyValueExpr)
							if !ok {
								continue
							}
							switch exprText(kv.Key) {
							case "Action":
								action = actionOf(kv.Value)
							case "Outcome":
								outcome = litOf(kv.Value)
							case "Detail":
								detail = kv.Value
							}
						}
						if detail != nil {
							sink(x, detail, action, outcome, nil)
						}
					case *ast.AssignStmt:
						for i, l := range x.Lhs {
							if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "Detail" && len(x.Rhs) == len(x.Lhs) {
								sink(x, x.Rhs[i], "", "", nil)
							}
						}
					case *ast.CallExpr:
						name := exprText(x.Fun)
						if i := strings.LastIndex(name, "."); i >= 0 {
							name = name[i+1:]
						}
						key := name + "/" + strconv.Itoa(len(x.Args))
						i, ok := writers[key]
						if !ok {
							return true
						}
						var action, outcome string
						for _, a := range x.Args {
							if s := actionOf(a); s != "" {
								action = s
							}
						}
						for j, a := range x.Args {
							if s := litOf(a); s != "" && j != i && !strings.Contains(s, " ") && outcome == "" && action != "" {
								outcome = s
							}
						}
						if key == "auditClient/5" && fn.Name.Name != "auditClient" {
							sink(x, x.Args[i], action, outcome, wrappers[key])
						} else if key != "auditClient/5" {
							sink(x, x.Args[i], action, outcome, nil)
						}
					}
					return true
				})
			}
		}
		if len(writers) == before {
			break
		}
	}
	// auditClient's own call passes d, its form of the detail, which
	// wrappers shows; what its callers pass is walked at theirs.
	sites = slices.DeleteFunc(sites, func(st detailSite) bool { return st.fn.Name.Name == "auditClient" })
	return sites, consts
}

func paramNames(fn *ast.FuncDecl) []string {
	var out []string
	for _, f := range fn.Type.Params.List {
		if len(f.Names) == 0 {
			out = append(out, "_")
		}
		for _, n := range f.Names {
			out = append(out, n.Name)
		}
	}
	return out
}

// actionOf is the action a store.Action constant names, or "".
func actionOf(e ast.Expr) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || !strings.HasPrefix(sel.Sel.Name, "Action") {
		return ""
	}
	return storeActions()[sel.Sel.Name]
}

func litOf(e ast.Expr) string {
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		s, _ := strconv.Unquote(lit.Value)
		return s
	}
	return ""
}

// storeActions are store's Action constants by name.
func storeActions() map[string]string {
	f, err := parser.ParseFile(token.NewFileSet(), "../store/actions.go", nil, 0)
	if err != nil {
		panic(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				out[n.Name] = litOf(vs.Values[i])
			}
		}
	}
	return out
}
