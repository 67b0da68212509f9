package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A worker importing a small module graph (a shared dependency, renamed
// imports, every export form the bundler takes) runs the same bundled as
// unbundled.
func TestBundleWorker(t *testing.T) {
	out := t.TempDir()
	write(t, out, "worker.js", `// the worker
// second comment line

import { twice, Thing as T } from './loader/a.js';
import { base } from './loader/b.js';
export const PROTOCOL = 1;
const url = new URL('./kernels.wasm', import.meta.url);
console.log(JSON.stringify([twice(base), new T().n, await later(), url.pathname.endsWith('/kernels.wasm')]));
async function later() { return (await import('./loader/b.js')).base + 1; }
`)
	write(t, out, "loader/a.js", `import { base, helper } from './b.js';
export function twice(x) { return helper(x) * 2; }
export class Thing { constructor() { this.n = base; } }
export async function unused() {}
export const K = Object.freeze([1]);
`)
	write(t, out, "loader/b.js", `// b has no imports
export const base = 20;
export function helper(x) { return x + 1; }
function hidden() {}
`)
	node, nodeErr := exec.LookPath("node")
	run := func() string {
		t.Helper()
		cmd := exec.Command(node, filepath.Join(out, "worker.js"))
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node worker.js: %v\n%s", err, b)
		}
		return strings.TrimSpace(string(b))
	}
	var before string
	if nodeErr == nil {
		write(t, out, "package.json", `{"type":"module"}`)
		before = run()
		if before != `[42,20,21,true]` {
			t.Fatalf("unbundled worker printed %s", before)
		}
	}
	if err := bundleWorker(out); err != nil {
		t.Fatal(err)
	}
	got := read(t, out, "worker.js")
	if !strings.HasPrefix(got, "// the worker\n// second comment line\n\n// loader/b.js (inlined") {
		t.Errorf("the inlined modules should follow the leading comments, b (a's dependency) first:\n%s", got[:200])
	}
	if strings.Count(got, "const __alibi_loader_b_js = ") != 1 {
		t.Error("b.js, imported twice, should be inlined once")
	}
	for _, want := range []string{
		"const { twice, Thing: T } = __alibi_loader_a_js;",
		"return { twice, Thing, unused, K };",
		"return { base, helper };",
		"export const PROTOCOL = 1;", // the entry keeps its exports
		"import('./loader/b.js')",    // and its dynamic imports
		"new URL('./kernels.wasm', import.meta.url)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bundle lacks %q", want)
		}
	}
	if strings.Contains(got, "\nimport {") {
		t.Error("a static import is left")
	}
	if nodeErr == nil {
		if after := run(); after != before {
			t.Errorf("bundled worker printed %s, unbundled %s", after, before)
		}
	}
}

// Forms the bundler does not take fail the build with the file's name.
func TestBundleWorkerRejects(t *testing.T) {
	cases := []struct {
		name, worker string
		files        map[string]string
		want         string
	}{
		{"export list", `import { a } from './loader/a.js';`, map[string]string{"loader/a.js": "const a = 1;\nexport { a };\n"}, "loader/a.js: 1 export(s) not of the form"},
		{"export let", `import { a } from './loader/a.js';`, map[string]string{"loader/a.js": "export let a = 1;\n"}, "loader/a.js: 1 export(s) not of the form"},
		{"default import", `import a from './loader/a.js';`, map[string]string{"loader/a.js": "export const a = 1;\n"}, "worker.js: 1 static import(s) not of the form"},
		{"namespace import", `import { b } from './loader/b.js';`, map[string]string{"loader/b.js": "import * as a from './a.js';\nexport const b = 1;\n", "loader/a.js": "export const a = 1;\n"}, "loader/b.js: 1 static import(s)"},
		{"missing export", `import { nope } from './loader/a.js';`, map[string]string{"loader/a.js": "export const a = 1;\n"}, "loader/a.js does not export nope"},
		{"cycle", `import { a } from './loader/a.js';`, map[string]string{"loader/a.js": "import { b } from './b.js';\nexport const a = 1;\n", "loader/b.js": "import { a } from './a.js';\nexport const b = 1;\n"}, "import cycle through loader/a.js"},
		{"import.meta", `import { a } from './loader/a.js';`, map[string]string{"loader/a.js": "export const a = import.meta.url;\n"}, "loader/a.js: uses import.meta"},
		{"missing file", `import { a } from './loader/gone.js';`, nil, "loader/gone.js (imported by worker.js)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			write(t, out, "worker.js", c.worker+"\n")
			for name, body := range c.files {
				write(t, out, name, body)
			}
			err := bundleWorker(out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if got := read(t, out, "worker.js"); got != c.worker+"\n" {
				t.Errorf("worker.js was rewritten after a failure:\n%s", got)
			}
		})
	}
}

// A worker without static imports is left as it is.
func TestBundleWorkerNoImports(t *testing.T) {
	out := t.TempDir()
	body := "// nothing to inline\nconst x = await import('./a.js');\n"
	write(t, out, "worker.js", body)
	if err := bundleWorker(out); err != nil {
		t.Fatal(err)
	}
	if got := read(t, out, "worker.js"); got != body {
		t.Errorf("worker.js changed:\n%s", got)
	}
}
