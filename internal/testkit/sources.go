package testkit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// Source is a parsed Go file of the code outside the tests.
type Source struct {
	Path string
	Fset *token.FileSet
	File *ast.File
}

// Sources parses every Go file under roots (relative to the calling test's
// package) but the tests and the store's conformance suite (storetest),
// for the tests that check what the code itself writes (audit actions,
// their details).
func Sources(t testing.TB, roots ...string) []Source {
	t.Helper()
	var out []Source
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.Contains(path, "storetest") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			out = append(out, Source{Path: path, Fset: fset, File: f})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// IsAuditEvent reports whether a composite literal's type e is the
// store's AuditEvent (store.AuditEvent, or AuditEvent within the store).
func IsAuditEvent(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name == "AuditEvent"
	case *ast.SelectorExpr:
		return x.Sel.Name == "AuditEvent"
	}
	return false
}
