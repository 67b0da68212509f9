// Package npmpkg writes the npm package `alibi-wasm` from a folder built by
// cmd/build-wasm (the "site"): the runtime module alibi.js, its types, the
// worker and every module it imports, alibi.wasm, the SIMD kernels and
// wasm_exec.js, plus package.json and a README for npm users.
//
// The file set is the import graph of alibi.js: every quoted relative
// reference ('./x.js', "./loader/y.js", './alibi.wasm', ...) in a packaged
// .js/.mjs file that names a file of the site is packaged too. The ?v=HASH
// query strings build-wasm adds (cache busting for the served folder) are
// removed from every packaged file alike: an npm version already pins the
// content, and bundlers key modules by their full specifier, so a query
// would only risk loading one module twice.
//
// Used by cmd/build-wasm (writePackage) and tools/package (the CLI).
package npmpkg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Name is the npm name of the package.
const Name = "alibi-wasm"

// pkgRequired must be in the site; pkgOptional is packaged when present
// (build-wasm leaves out the kernels when wat2wasm is missing, and the
// runtime then falls back to the pure-Go loops).
var (
	pkgRequired = []string{"alibi.js", "alibi.d.ts", "worker.js", "alibi.wasm", "wasm_exec.js"}
	pkgOptional = []string{"kernels.wasm", "kernels-fma.wasm", "simd-host.mjs"}
)

// pkgRef matches a quoted relative reference with an optional query string.
var pkgRef = regexp.MustCompile(`(['"])(\.{1,2}/[A-Za-z0-9_./-]+\.(?:js|mjs|wasm))(\?[A-Za-z0-9_=&.-]*)?(['"])`)

// pkgVersionConst finds `export const VERSION = '0.1.0'` in alibi.js.
var pkgVersionConst = regexp.MustCompile(`export\s+const\s+VERSION\s*=\s*['"]([^'"]+)['"]`)

// pkgSemver accepts the versions npm accepts (without build metadata).
var pkgSemver = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// Version reads the package version from the VERSION file at the
// repository root.
func Version(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("npmpkg version: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if !pkgSemver.MatchString(v) {
		return "", fmt.Errorf("npmpkg version: VERSION holds %q, want a semantic version like 0.1.0", v)
	}
	return v, nil
}

// Write writes the npm package folder pkgDir from the built site
// siteDir. pkgDir is replaced: files of an earlier package that are no longer
// part of it do not survive.
func Write(siteDir, pkgDir string, version string) error {
	if !pkgSemver.MatchString(version) {
		return fmt.Errorf("npmpkg: version %q is not a semantic version", version)
	}
	for _, f := range pkgRequired {
		if _, err := os.Stat(filepath.Join(siteDir, f)); err != nil {
			return fmt.Errorf("npmpkg: the site %s lacks %s (build it with go run ./cmd/build-wasm -o DIR): %w", siteDir, f, err)
		}
	}
	files, err := pkgFiles(siteDir)
	if err != nil {
		return err
	}
	// The runtime reports its version: it must be the package's.
	js, err := os.ReadFile(filepath.Join(siteDir, "alibi.js"))
	if err != nil {
		return fmt.Errorf("npmpkg: %w", err)
	}
	if m := pkgVersionConst.FindSubmatch(js); m != nil && string(m[1]) != version {
		return fmt.Errorf("npmpkg: alibi.js says VERSION = %q but the package version is %q: bump both together", m[1], version)
	}

	tmp := pkgDir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("npmpkg: %w", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(siteDir, filepath.FromSlash(f)))
		if err != nil {
			return fmt.Errorf("npmpkg: %w", err)
		}
		if ext := path.Ext(f); (ext == ".js" || ext == ".mjs") && f != "wasm_exec.js" {
			b = pkgStripQueries(b)
		}
		if err := pkgWrite(tmp, f, b); err != nil {
			return err
		}
	}
	meta, err := pkgJSON(version, files)
	if err != nil {
		return err
	}
	if err := pkgWrite(tmp, "package.json", meta); err != nil {
		return err
	}
	if err := pkgWrite(tmp, "README.md", []byte(strings.ReplaceAll(pkgReadme, "{{VERSION}}", version))); err != nil {
		return err
	}
	if err := os.RemoveAll(pkgDir); err != nil {
		return fmt.Errorf("npmpkg: %w", err)
	}
	if err := os.Rename(tmp, pkgDir); err != nil {
		return fmt.Errorf("npmpkg: %w", err)
	}
	return nil
}

// pkgFiles walks the import graph from alibi.js and returns the packaged
// site files, sorted.
func pkgFiles(siteDir string) ([]string, error) {
	exists := func(rel string) bool {
		st, err := os.Stat(filepath.Join(siteDir, filepath.FromSlash(rel)))
		return err == nil && st.Mode().IsRegular()
	}
	seen := map[string]bool{}
	var queue []string
	add := func(rel string) {
		if !seen[rel] {
			seen[rel] = true
			queue = append(queue, rel)
		}
	}
	for _, f := range pkgRequired {
		add(f)
	}
	for _, f := range pkgOptional {
		if exists(f) {
			add(f)
		}
	}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		if ext := path.Ext(f); ext != ".js" && ext != ".mjs" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(siteDir, filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("npmpkg: %w", err)
		}
		for _, m := range pkgRef.FindAllSubmatch(b, -1) {
			target := path.Join(path.Dir(f), string(m[2]))
			if strings.HasPrefix(target, "../") || target == ".." {
				return nil, fmt.Errorf("npmpkg: %s refers to %s, outside the package", f, m[2])
			}
			// References in comments may name files that are not shipped
			// (host.mjs documents its own name): only existing files count.
			if exists(target) {
				add(target)
			}
		}
	}
	files := make([]string, 0, len(seen))
	for f := range seen {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// pkgStripQueries removes the query string from every quoted relative
// reference to a .js, .mjs or .wasm file.
func pkgStripQueries(b []byte) []byte {
	return pkgRef.ReplaceAllFunc(b, func(m []byte) []byte {
		sm := pkgRef.FindSubmatch(m)
		if len(sm[3]) == 0 {
			return m
		}
		var out bytes.Buffer
		out.Write(sm[1])
		out.Write(sm[2])
		out.Write(sm[4])
		return out.Bytes()
	})
}

func pkgJSON(version string, files []string) ([]byte, error) {
	type exportEntry struct {
		Types   string `json:"types"`
		Default string `json:"default"`
	}
	meta := struct {
		Name        string            `json:"name"`
		Version     string            `json:"version"`
		Description string            `json:"description"`
		License     string            `json:"license"`
		Type        string            `json:"type"`
		Main        string            `json:"main"`
		Types       string            `json:"types"`
		Exports     map[string]any    `json:"exports"`
		Files       []string          `json:"files"`
		SideEffects bool              `json:"sideEffects"`
		Engines     map[string]string `json:"engines"`
		Keywords    []string          `json:"keywords"`
	}{
		Name:        Name,
		Version:     version,
		Description: "Run ALiBi language models (BLOOM) in the browser and Node: a Go engine compiled to WebAssembly, in a worker.",
		License:     "Apache-2.0",
		Type:        "module",
		Main:        "./alibi.js",
		Types:       "./alibi.d.ts",
		Exports: map[string]any{
			".":              exportEntry{Types: "./alibi.d.ts", Default: "./alibi.js"},
			"./package.json": "./package.json",
		},
		Files:       append(append([]string{}, files...), "README.md"),
		SideEffects: false,
		Engines:     map[string]string{"node": ">=20"},
		Keywords:    []string{"alibi", "bloom", "llm", "webassembly", "wasm", "worker", "transformer", "inference"},
	}
	sort.Strings(meta.Files)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(meta); err != nil {
		return nil, fmt.Errorf("npmpkg: %w", err)
	}
	return buf.Bytes(), nil
}

func pkgWrite(dir, rel string, b []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("npmpkg: %w", err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("npmpkg: %w", err)
	}
	return nil
}

// pkgReadme is the package's README.md.
const pkgReadme = "# alibi-wasm {{VERSION}}\n" + `
Run ALiBi language models (BLOOM) in the browser and in Node: a Go engine
compiled to WebAssembly, running in a worker, with SIMD128 kernels where the
runtime has them. No cross-origin isolation is needed (the engine is single
threaded; ` + "`model.info.threads`" + ` is 1 and ` + "`model.info.crossOriginIsolated`" + ` says
what the page has).

    npm install alibi-wasm

## In a bundled app (Vite, webpack 5)

` + "```js" + `
import { loadModel } from 'alibi-wasm';

const model = await loadModel('/models/brown-bloom/', { onProgress: (e) => console.log(e.status, e.loaded, e.total) });
for await (const { text } of model.generate('The jury said', { maxTokens: 32 })) out.textContent += text;
await model.dispose();
` + "```" + `

The runtime finds its worker, ` + "`alibi.wasm`" + `, ` + "`kernels.wasm`" + ` and ` + "`wasm_exec.js`" + ` with
` + "`new URL('./…', import.meta.url)`" + `, which bundlers follow and emit. webpack 5 needs no
configuration. With Vite, set
` + "`worker: { format: 'es' }`" + ` (the worker uses top-level await and dynamic
imports) and ` + "`optimizeDeps: { exclude: ['alibi-wasm'] }`" + ` (so the dev server
serves the files next to the module):

` + "```js" + `
// vite.config.js
export default { worker: { format: 'es' }, optimizeDeps: { exclude: ['alibi-wasm'] } };
` + "```" + `

The model itself (a web directory with ` + "`manifest.json`" + `, or an HF-style folder
with ` + "`config.json`" + `, ` + "`tokenizer.json`" + ` and safetensors) is fetched at run time from
any URL; put it in your app's public folder or on a CDN.

## In a plain page (no bundler)

Serve the package folder (or copy it) and import the module:

` + "```html" + `
<script type="module">
  import { loadModel } from './node_modules/alibi-wasm/alibi.js';
  const model = await loadModel('./models/brown-bloom/');
  console.log(await model.detokenize(await model.tokenize('Hello')));
</script>
` + "```" + `

To host the worker and wasm files elsewhere (a CDN), copy them there and pass
` + "`loadModel(url, { baseURL: 'https://cdn.example/alibi-wasm/' })`" + `.
Serve ` + "`.wasm`" + ` as ` + "`application/wasm`" + `.

## In Node (20 or newer)

` + "```js" + `
import { loadModel } from 'alibi-wasm';

const model = await loadModel('./models/brown-bloom'); // a directory path or a URL
let text = '';
for await (const t of model.generate('The jury said', { maxTokens: 16 })) text += t.text;
console.log(text);
await model.dispose();
` + "```" + `

## API

See ` + "`alibi.d.ts`" + `: ` + "`loadModel(source, options)`" + ` returns a model with
` + "`tokenize`" + `, ` + "`detokenize`" + `, ` + "`tokenBytes`" + `, ` + "`logits`" + `, ` + "`slopes`" + `, ` + "`memory`" + `,
` + "`generate`" + ` (an async iterator of ` + "`{ id, text }`" + `), ` + "`info`" + ` and ` + "`dispose`" + `;
errors are ` + "`AlibiError`" + `s whose ` + "`type`" + ` is one of ` + "`download`" + `, ` + "`integrity`" + `,
` + "`format`" + `, ` + "`unsupported`" + `, ` + "`memory`" + `, ` + "`context`" + `, ` + "`aborted`" + `.

License: Apache-2.0.
`
