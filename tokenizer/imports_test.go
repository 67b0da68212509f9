package tokenizer

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The package stays portable: no syscall/js, no net, no engine (DESIGN.md section 2), and
// small: no regexp2 outside the tests.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == forbiddenJS || path == "net" || strings.HasPrefix(path, "net/") || strings.HasSuffix(path, "/alibi/engine") {
				t.Errorf("%s imports %s", f, path)
			}
			// regexp2 is the tests' reference only: its code and tables
			// would cost every page that starts the engine (internal/onig).
			if strings.HasPrefix(path, "github.com/dlclark/regexp2") {
				t.Errorf("%s imports %s: use internal/onig", f, path)
			}
		}
	}
}

// forbiddenJS is syscall/js, spelled so that a search of the sources for the
// import finds only real imports.
const forbiddenJS = "syscall" + "/js"
