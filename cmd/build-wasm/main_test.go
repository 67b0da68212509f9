package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHashRuntime(t *testing.T) {
	mk := func(wasm string, extra ...string) (string, string) {
		out := t.TempDir()
		write(t, out, "index.html", "<html>"+strings.Join(extra, "")+"</html>")
		write(t, out, "alibi.js", `import { a } from './loader/a.js'; new URL('./worker.js', import.meta.url); import "./nothere.js";`)
		write(t, out, "worker.js", `import('./wasm_exec.js'); new URL("./alibi.wasm", u); new URL('./loader/a.js', u); '../x.js'`)
		write(t, out, "loader/a.js", `export * from './b.js';`)
		write(t, out, "loader/b.js", `export const a = 1;`)
		write(t, out, "wasm_exec.js", `"use strict";`)
		write(t, out, "alibi.wasm", wasm)
		write(t, out, "sw.js", `importScripts('./alibi.js')`)
		write(t, out, "models/m/x.js", `'./alibi.js'`)
		v, files, err := hashRuntime(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 12 || strings.Contains(strings.Join(files, ","), "models/") || strings.Contains(strings.Join(files, ","), "sw.js") {
			t.Fatalf("version %q files %v", v, files)
		}
		return v, out
	}
	v1, out := mk("\x00asm one")
	for name, want := range map[string][]string{
		"alibi.js":      {`'./loader/a.js?v=` + v1 + `'`, `'./worker.js?v=` + v1 + `'`, `"./nothere.js"`},
		"worker.js":     {`'./wasm_exec.js?v=` + v1 + `'`, `"./alibi.wasm?v=` + v1 + `"`, `'./loader/a.js?v=` + v1 + `'`, `'../x.js'`},
		"loader/a.js":   {`'./b.js?v=` + v1 + `'`},
		"sw.js":         {`'./alibi.js'`},
		"models/m/x.js": {`'./alibi.js'`},
	} {
		got := read(t, out, name)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %s lacks %s", name, got, w)
			}
		}
	}
	v2, _ := mk("\x00asm two")
	if v1 == v2 {
		t.Fatal("a different wasm gives the same version")
	}
	v3, _ := mk("\x00asm one")
	if v3 != v1 {
		t.Fatal("the version is not a function of the content")
	}
	// A change to the page alone (no runtime file) must give a new version,
	// or the service worker would never pick it up.
	if v4, _ := mk("\x00asm one", "<p>new</p>"); v4 == v1 {
		t.Fatal("a changed index.html gives the same version")
	}
}

func TestRunFlags(t *testing.T) {
	if err := run([]string{}, io.Discard, io.Discard); err == nil {
		t.Fatal("no -o: want error")
	}
}

// TestBuild runs the whole build (go build for js/wasm, wat2wasm) without
// wasm-opt; -short skips it.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the full js/wasm build")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var log strings.Builder
	err = build(options{out: out, root: root, model: "engine/testdata/bloom-f32-h4-l2", chunkSize: 20000, opt: false, kernels: true}, &log)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	for _, f := range []string{"alibi.js", "worker.js", "alibi.wasm", "wasm_exec.js", "alibi.d.ts", "loader/load.js", "assets.json", "models/bloom-f32-h4-l2/manifest.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	if w := read(t, out, "alibi.wasm"); !strings.HasPrefix(w, "\x00asm") {
		t.Fatal("alibi.wasm is not wasm")
	}
	var assets struct {
		Version string   `json:"version"`
		Files   []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(read(t, out, "assets.json")), &assets); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(assets.Files, ",")
	if len(assets.Version) != 12 || !strings.Contains(all, "alibi.wasm") || strings.Contains(all, "models/") || strings.Contains(all, "test/") {
		t.Fatalf("assets.json: %+v", assets)
	}
	if !strings.Contains(read(t, out, "alibi.js"), "./worker.js?v="+assets.Version) {
		t.Fatal("alibi.js: worker reference not hashed")
	}
	if _, err := os.Stat(filepath.Join(root, "engine", "kernels", "simd", "kernels.wat")); err == nil {
		if _, err := os.Stat(filepath.Join(out, "kernels.wasm")); err != nil && strings.Contains(log.String(), "wat2wasm not found") == false {
			t.Errorf("kernels.wasm missing: %s", log.String())
		}
		// The relaxed-SIMD variant comes with it: the same exports, fused
		// multiply-adds in place of the marked accumulations.
		if plain, err := os.ReadFile(filepath.Join(out, "kernels.wasm")); err == nil {
			fma, err := os.ReadFile(filepath.Join(out, "kernels-fma.wasm"))
			if err != nil {
				t.Fatalf("kernels-fma.wasm: %v", err)
			}
			if bytes.Equal(fma, plain) || !bytes.Contains(fma, []byte{0xfd, 0x85, 0x02}) {
				t.Fatal("kernels-fma.wasm has no f32x4.relaxed_madd")
			}
			for _, f := range []string{"kernels-mt-fma.wasm", "kernels-mt.wasm"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
			if !strings.Contains(read(t, out, "worker.js"), "./kernels-fma.wasm?v="+assets.Version) {
				t.Error("worker.js: kernels-fma.wasm reference not hashed")
			}
		}
	}
}
