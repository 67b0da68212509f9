package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWritePackage: writePackage with an empty version reads VERSION from the
// repository root above the site folder.
func TestWritePackage(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":            "module example.com/x\n",
		"VERSION":           "3.4.5\n",
		"site/alibi.js":     "import './loader/a.js?v=1';\nexport const VERSION = '3.4.5';\nnew Worker(new URL('./worker.js?v=1', import.meta.url), { type: 'module' });\n",
		"site/alibi.d.ts":   "export {};\n",
		"site/worker.js":    "await import('./wasm_exec.js?v=1'); new URL('./alibi.wasm?v=1', import.meta.url);\n",
		"site/loader/a.js":  "export {};\n",
		"site/alibi.wasm":   "\x00asm",
		"site/wasm_exec.js": "\"use strict\";\n",
		"site/index.html":   "<!doctype html>\n",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(root, "npm")
	if err := writePackage(filepath.Join(root, "site"), out, ""); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Name    string   `json:"name"`
		Version string   `json:"version"`
		Files   []string `json:"files"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Name != "alibi-wasm" || meta.Version != "3.4.5" {
		t.Errorf("package.json: %s", b)
	}
	if got := strings.Join(meta.Files, ","); got != "README.md,alibi.d.ts,alibi.js,alibi.wasm,loader/a.js,wasm_exec.js,worker.js" {
		t.Errorf("files: %s", got)
	}
	js, _ := os.ReadFile(filepath.Join(out, "alibi.js"))
	if strings.Contains(string(js), "?v=") {
		t.Errorf("alibi.js keeps queries: %s", js)
	}
	// A wrong explicit version is refused (alibi.js says 3.4.5).
	if err := writePackage(filepath.Join(root, "site"), out, "3.4.6"); err == nil {
		t.Error("version mismatch: want an error")
	}
}
