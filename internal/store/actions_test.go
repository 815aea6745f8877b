package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tobira/tobira/internal/store"
	"github.com/tobira/tobira/internal/testkit"
)

// TestAuditActionsListed: every Action constant of actions.go is in
// AuditActions once, so that the console, which labels AuditActions,
// labels every action.
func TestAuditActionsListed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "actions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			for i, name := range spec.(*ast.ValueSpec).Names {
				if !strings.HasPrefix(name.Name, "Action") {
					continue
				}
				lit, ok := spec.(*ast.ValueSpec).Values[i].(*ast.BasicLit)
				if !ok {
					t.Errorf("%s is no string literal", name.Name)
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				consts = append(consts, v)
			}
		}
	}
	if len(consts) == 0 {
		t.Fatal("no Action constants in actions.go")
	}
	for _, c := range consts {
		if n := countOf(store.AuditActions, c); n != 1 {
			t.Errorf("action %q is %d times in AuditActions, want once", c, n)
		}
	}
	for _, a := range store.AuditActions {
		if !slices.Contains(consts, a) {
			t.Errorf("AuditActions has %q, which is no Action constant", a)
		}
	}
}

func countOf(list []string, v string) int {
	n := 0
	for _, s := range list {
		if s == v {
			n++
		}
	}
	return n
}

// TestAuditEventsUseActionConstants: no code outside the tests records an
// AuditEvent whose Action is a string written in place, which could be an
// action the console knows no label for, nor passes a known action's code
// written in place to a function.
func TestAuditEventsUseActionConstants(t *testing.T) {
	for _, src := range testkit.Sources(t, "..", "../../cmd") {
		fset, f := src.Fset, src.File
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				for _, arg := range call.Args {
					if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						// "signin" and "signout" name pages too.
						if v, _ := strconv.Unquote(lit.Value); strings.Contains(v, ".") && slices.Contains(store.AuditActions, v) {
							t.Errorf("%s: the action %s written in place; use its store.Action constant", fset.Position(lit.Pos()), lit.Value)
						}
					}
				}
			}
			cl, ok := n.(*ast.CompositeLit)
			if !ok || !testkit.IsAuditEvent(cl.Type) {
				return true
			}
			for _, e := range cl.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Action" {
					if _, lit := kv.Value.(*ast.BasicLit); lit {
						t.Errorf("%s: an AuditEvent's Action written in place; use a store.Action constant", fset.Position(kv.Pos()))
					}
				}
			}
			return true
		})
	}
}
