package npmpkg

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func put(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeSite writes a site like cmd/build-wasm's: the runtime with ?v= queries,
// plus demo files the package must leave out.
func fakeSite(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := t.TempDir()
	put(t, dir, "alibi.js", `// import { loadModel } from './alibi.js?v=abc123';
import { AlibiError } from './loader/errors.js?v=abc123';
export const VERSION = '1.2.3';
const w = () => new Worker(new URL('./worker.js?v=abc123', import.meta.url), { type: 'module' });
`)
	put(t, dir, "alibi.d.ts", "export declare const VERSION: string;\n")
	put(t, dir, "worker.js", `import { x } from "./loader/load.js?v=abc123";
await import('./wasm_exec.js?v=abc123');
host = await import('./simd-host.mjs?v=abc123');
new URL('./alibi.wasm?v=abc123', import.meta.url); new URL('./kernels.wasm?v=abc123', import.meta.url);
`)
	put(t, dir, "loader/errors.js", "export class AlibiError extends Error {}\n")
	put(t, dir, "loader/load.js", "export { AlibiError } from './errors.js?v=abc123';\nimport './sha256.js?v=abc123';\n")
	put(t, dir, "loader/sha256.js", "export const x = 1;\n")
	put(t, dir, "loader/unused.js", "export const y = 2;\n")
	put(t, dir, "simd-host.mjs", "// import kernels from './kernels.wasm?v=abc123'\n// import { simdImports } from './host.mjs';\nexport const simdImports = 1;\n")
	put(t, dir, "wasm_exec.js", `"use strict"; // './keep.js?v=1' stays as Go wrote it`+"\n")
	put(t, dir, "alibi.wasm", "\x00asm\x01\x00\x00\x00go")
	put(t, dir, "kernels.wasm", "\x00asm\x01\x00\x00\x00simd")
	put(t, dir, "index.html", "<script type=module src='./app.js?v=abc123'></script>")
	put(t, dir, "app.js", "import { loadModel } from './alibi.js?v=abc123';\n")
	put(t, dir, "sw.js", "self.addEventListener('fetch', () => {});\n")
	put(t, dir, "assets.json", `{"version":"abc123"}`)
	put(t, dir, "models/m/manifest.json", "{}")
	if edit != nil {
		edit(dir)
	}
	return dir
}

var wantFiles = []string{"README.md", "alibi.d.ts", "alibi.js", "alibi.wasm", "kernels.wasm", "loader/errors.js", "loader/load.js",
	"loader/sha256.js", "package.json", "simd-host.mjs", "wasm_exec.js", "worker.js"}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

func TestWrite(t *testing.T) {
	site := fakeSite(t, nil)
	out := filepath.Join(t.TempDir(), "npm")
	put(t, out, "stale.js", "from an earlier package")
	if err := Write(site, out, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, out); !slices.Equal(got, wantFiles) {
		t.Fatalf("files:\n got %v\nwant %v", got, wantFiles)
	}
	// Queries are gone from every runtime module, consistently; wasm_exec.js
	// and the wasm files are byte for byte the site's.
	for _, f := range []string{"alibi.js", "worker.js", "loader/load.js", "simd-host.mjs"} {
		if s := get(t, out, f); strings.Contains(s, "?v=") {
			t.Errorf("%s keeps a query: %s", f, s)
		}
	}
	if s := get(t, out, "alibi.js"); !strings.Contains(s, `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`) {
		t.Errorf("alibi.js: the worker literal changed: %s", s)
	}
	if s := get(t, out, "worker.js"); !strings.Contains(s, `await import('./wasm_exec.js');`) || !strings.Contains(s, `new URL('./alibi.wasm', import.meta.url)`) {
		t.Errorf("worker.js: %s", s)
	}
	for _, f := range []string{"wasm_exec.js", "alibi.wasm", "kernels.wasm", "alibi.d.ts"} {
		if get(t, out, f) != get(t, site, f) {
			t.Errorf("%s differs from the site's", f)
		}
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(get(t, out, "package.json")), &meta); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key  string
		want string
	}{
		{"name", `"alibi-wasm"`},
		{"version", `"1.2.3"`},
		{"type", `"module"`},
		{"license", `"Apache-2.0"`},
		{"sideEffects", `false`},
		{"engines", `{"node":">=20"}`},
		{"exports", `{".":{"default":"./alibi.js","types":"./alibi.d.ts"},"./package.json":"./package.json"}`},
	}
	for _, c := range checks {
		b, _ := json.Marshal(meta[c.key])
		b = []byte(strings.ReplaceAll(string(b), `\u003e`, ">"))
		if string(b) != c.want {
			t.Errorf("package.json %s = %s, want %s", c.key, b, c.want)
		}
	}
	var files []string
	for _, f := range meta["files"].([]any) {
		files = append(files, f.(string))
	}
	want := slices.DeleteFunc(slices.Clone(wantFiles), func(f string) bool { return f == "package.json" })
	if !slices.Equal(files, want) {
		t.Errorf("files = %v, want %v", files, want)
	}
	if s := get(t, out, "package.json"); strings.Contains(s, `\u003e`) {
		t.Errorf("package.json escapes '>': %s", s)
	}
	if s := get(t, out, "README.md"); !strings.HasPrefix(s, "# alibi-wasm 1.2.3\n") || !strings.Contains(s, "npm install alibi-wasm") {
		t.Errorf("README.md: %.200s", s)
	}
	if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary folder left behind: %v", err)
	}
}

func TestWriteWithoutKernels(t *testing.T) {
	site := fakeSite(t, func(dir string) {
		os.Remove(filepath.Join(dir, "kernels.wasm"))
		os.Remove(filepath.Join(dir, "simd-host.mjs"))
	})
	out := filepath.Join(t.TempDir(), "npm")
	if err := Write(site, out, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	got := listTree(t, out)
	if slices.Contains(got, "kernels.wasm") || slices.Contains(got, "simd-host.mjs") || !slices.Contains(got, "alibi.wasm") {
		t.Errorf("files: %v", got)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(dir string)
		version string
		want    string
	}{
		{"no wasm", func(d string) { os.Remove(filepath.Join(d, "alibi.wasm")) }, "1.2.3", "lacks alibi.wasm"},
		{"no worker", func(d string) { os.Remove(filepath.Join(d, "worker.js")) }, "1.2.3", "lacks worker.js"},
		{"no types", func(d string) { os.Remove(filepath.Join(d, "alibi.d.ts")) }, "1.2.3", "lacks alibi.d.ts"},
		{"version mismatch", nil, "1.2.4", `alibi.js says VERSION = "1.2.3"`},
		{"not semver", nil, "v1", `"v1" is not a semantic version`},
		{"outside", func(d string) {
			put(t, d, "loader/load.js", "import '../../etc/x.js';\n")
		}, "1.2.3", "outside the package"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			site := fakeSite(t, tc.edit)
			out := filepath.Join(t.TempDir(), "npm")
			err := Write(site, out, tc.version)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "npmpkg: ") {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a failed Write left %s", out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		file string
		want string
		ok   bool
	}{
		{"0.1.0\n", "0.1.0", true},
		{"  2.10.3-rc.1 \n", "2.10.3-rc.1", true},
		{"v0.1.0\n", "", false},
		{"0.1\n", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		put(t, dir, "VERSION", tc.file)
		got, err := Version(dir)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Version(%q) = %q, %v; want %q, ok=%v", tc.file, got, err, tc.want, tc.ok)
		}
	}
	if _, err := Version(t.TempDir()); err == nil {
		t.Error("no VERSION file: want an error")
	}
}

// TestBuiltSite packages the real site (ALIBI_SITE, default build/site) when
// it has been built and checks that the import graph is closed: every
// relative reference in a packaged module names a packaged file. `make
// test-e2e` runs it on the site it builds (test-go runs before the site
// exists). The served worker.js carries the loader modules it uses inlined,
// so loader/load.js is not packaged; alibi.js and worker.js still import
// loader/errors.js.
func TestBuiltSite(t *testing.T) {
	site := os.Getenv("ALIBI_SITE")
	if site == "" {
		site = filepath.Join("..", "..", "..", "build", "site")
	}
	if _, err := os.Stat(filepath.Join(site, "alibi.wasm")); err != nil {
		t.Skipf("no built site at %s (go run ./cmd/build-wasm -o build/site)", site)
	}
	v, err := Version(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "npm")
	if err := Write(site, out, v); err != nil {
		t.Fatal(err)
	}
	files := listTree(t, out)
	for _, f := range []string{"alibi.js", "alibi.d.ts", "worker.js", "alibi.wasm", "wasm_exec.js", "loader/errors.js", "package.json", "README.md"} {
		if !slices.Contains(files, f) {
			t.Errorf("package lacks %s: %v", f, files)
		}
	}
	code := regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^'"]*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]|new URL\(\s*['"](\.[^'"]+)['"],\s*import\.meta\.url`)
	for _, f := range files {
		if !strings.HasSuffix(f, ".js") && !strings.HasSuffix(f, ".mjs") || f == "wasm_exec.js" {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(get(t, out, f), -1) {
			ref := m[1] + m[2] + m[3]
			if strings.Contains(ref, "?") {
				t.Errorf("%s: %s keeps a query", f, ref)
			}
			target := filepath.ToSlash(filepath.Join(filepath.Dir(f), ref))
			if !slices.Contains(files, target) {
				t.Errorf("%s refers to %s, which is not in the package", f, ref)
			}
		}
	}
}
