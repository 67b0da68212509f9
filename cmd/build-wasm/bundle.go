package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// The runtime worker (worker.js) is a module worker whose static imports
// (loader/*.js) a browser fetches one level of the module graph at a time
// before the worker's first line runs: about 25 ms of a new page's model load
// on the 2-core VM of the README, against about 20 ms for the worker's whole
// start without them. bundleWorker inlines them, so the served worker.js is
// one file; loader/ stays served for alibi.js, which imports some of it on
// the page. The sources keep their imports (tests and Node use them as they
// are).
//
// The inlining is for this project's own modules and the forms they use,
// checked here so a new form fails the build instead of being mangled:
//   - a static import is one line `import { a, b as c } from './x.js';`;
//   - an export is `export function|async function|class|const NAME` at the
//     start of a line (no `export {...}`, `export default`, `export let`:
//     a let could be reassigned, which a copied binding would not see);
//   - the graph has no cycles.
// Each imported module becomes a function whose body is the module's text
// without its import and export keywords, called once in dependency order,
// returning its exports; an import becomes a const destructuring of that
// result. Dynamic import() calls are left as they are.

var (
	importLine   = regexp.MustCompile(`(?m)^import\s*\{([^}]*)\}\s*from\s*'(\./[^']+\.js)';[ \t]*$`)
	anyImport    = regexp.MustCompile(`(?m)^import[\s{*'"]`)
	exportDecl   = regexp.MustCompile(`(?m)^export (async function\*? |function\*? |class |const )([A-Za-z_$][A-Za-z0-9_$]*)`)
	anyExport    = regexp.MustCompile(`(?m)^export\b`)
	importSymbol = regexp.MustCompile(`^([A-Za-z_$][A-Za-z0-9_$]*)(?:\s+as\s+([A-Za-z_$][A-Za-z0-9_$]*))?$`)
)

type jsModule struct {
	rel     string   // path relative to the served folder
	body    string   // text with imports rewritten and export keywords dropped
	exports []string // names it exports
}

// bundleWorker inlines the static imports of out/worker.js (see above).
func bundleWorker(out string) error {
	b := &bundler{out: out, done: map[string]*jsModule{}, active: map[string]bool{}}
	entry, err := os.ReadFile(filepath.Join(out, "worker.js"))
	if err != nil {
		return fmt.Errorf("build-wasm: bundle worker.js: %w", err)
	}
	text, err := b.rewriteImports("worker.js", string(entry))
	if err != nil {
		return err
	}
	var sb strings.Builder
	for _, m := range b.order {
		fmt.Fprintf(&sb, "// %s (inlined by cmd/build-wasm)\nconst %s = (() => {\n%s\nreturn { %s };\n})();\n\n",
			m.rel, moduleVar(m.rel), strings.TrimRight(m.body, "\n"), strings.Join(m.exports, ", "))
	}
	if sb.Len() == 0 {
		return nil
	}
	// The inlined modules go after the worker's leading comment block and
	// before its first statement, where its imports were.
	head, rest := leadingComments(text)
	bundled := head + sb.String() + rest
	if err := os.WriteFile(filepath.Join(out, "worker.js"), []byte(bundled), 0o644); err != nil {
		return fmt.Errorf("build-wasm: bundle worker.js: %w", err)
	}
	return nil
}

type bundler struct {
	out    string
	done   map[string]*jsModule
	active map[string]bool
	order  []*jsModule
}

// rewriteImports loads (once) every module text (at rel) imports and
// replaces each import line with a destructuring of that module's exports.
func (b *bundler) rewriteImports(rel, text string) (string, error) {
	var ferr error
	n := 0
	text = importLine.ReplaceAllStringFunc(text, func(line string) string {
		if ferr != nil {
			return line
		}
		sm := importLine.FindStringSubmatch(line)
		dep := path.Join(path.Dir(rel), sm[2])
		m, err := b.load(dep, rel)
		if err != nil {
			ferr = err
			return line
		}
		var binds []string
		for _, s := range strings.Split(sm[1], ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p := importSymbol.FindStringSubmatch(s)
			if p == nil {
				ferr = fmt.Errorf("build-wasm: bundle %s: cannot read the import %q", rel, s)
				return line
			}
			if !slices.Contains(m.exports, p[1]) {
				ferr = fmt.Errorf("build-wasm: bundle %s: %s does not export %s", rel, dep, p[1])
				return line
			}
			if p[2] != "" {
				binds = append(binds, p[1]+": "+p[2])
			} else {
				binds = append(binds, p[1])
			}
		}
		n++
		return "const { " + strings.Join(binds, ", ") + " } = " + moduleVar(dep) + ";"
	})
	if ferr != nil {
		return "", ferr
	}
	if got := len(anyImport.FindAllStringIndex(text, -1)); got > 0 {
		return "", fmt.Errorf("build-wasm: bundle %s: %d static import(s) not of the form `import { ... } from './x.js';`", rel, got)
	}
	return text, nil
}

// load reads, rewrites and records the module at rel (and, first, its own
// imports), once.
func (b *bundler) load(rel, from string) (*jsModule, error) {
	if m, ok := b.done[rel]; ok {
		return m, nil
	}
	if b.active[rel] {
		return nil, fmt.Errorf("build-wasm: bundle: import cycle through %s (from %s)", rel, from)
	}
	b.active[rel] = true
	defer delete(b.active, rel)
	raw, err := os.ReadFile(filepath.Join(b.out, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("build-wasm: bundle %s (imported by %s): %w", rel, from, err)
	}
	text, err := b.rewriteImports(rel, string(raw))
	if err != nil {
		return nil, err
	}
	m := &jsModule{rel: rel}
	for _, sm := range exportDecl.FindAllStringSubmatch(text, -1) {
		m.exports = append(m.exports, sm[2])
	}
	text = exportDecl.ReplaceAllString(text, "$1$2")
	if got := len(anyExport.FindAllStringIndex(text, -1)); got > 0 {
		return nil, fmt.Errorf("build-wasm: bundle %s: %d export(s) not of the form `export function|async function|class|const NAME`", rel, got)
	}
	if strings.Contains(text, "import.meta") {
		return nil, fmt.Errorf("build-wasm: bundle %s: uses import.meta, which would name worker.js once inlined", rel)
	}
	m.body = text
	b.done[rel] = m
	b.order = append(b.order, m)
	return m, nil
}

// moduleVar is the name of the const holding an inlined module's exports.
func moduleVar(rel string) string {
	var sb strings.Builder
	sb.WriteString("__alibi_")
	for _, r := range rel {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

// leadingComments splits text after its leading run of // comment lines and
// blank lines.
func leadingComments(text string) (string, string) {
	i := 0
	for i < len(text) {
		j := strings.IndexByte(text[i:], '\n')
		if j < 0 {
			break
		}
		line := strings.TrimSpace(text[i : i+j])
		if line != "" && !strings.HasPrefix(line, "//") {
			break
		}
		i += j + 1
	}
	return text[:i], text[i:]
}
