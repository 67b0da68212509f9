package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	root := t.TempDir()
	site := filepath.Join(root, "site")
	for name, body := range map[string]string{
		"VERSION":      "0.9.1\n",
		"alibi.js":     "new Worker(new URL('./worker.js?v=9', import.meta.url), { type: 'module' });\n",
		"alibi.d.ts":   "export {};\n",
		"worker.js":    "await import('./wasm_exec.js?v=9');\n",
		"alibi.wasm":   "\x00asm",
		"wasm_exec.js": "\"use strict\";\n",
	} {
		dir := site
		if name == "VERSION" {
			dir = root
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(root, "npm")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-site", site, "-o", out, "-root", root}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "alibi-wasm@0.9.1") {
		t.Errorf("stdout: %s", stdout.String())
	}
	if b, err := os.ReadFile(filepath.Join(out, "package.json")); err != nil || !strings.Contains(string(b), `"version": "0.9.1"`) {
		t.Errorf("package.json: %s %v", b, err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-site", site, "-o", out, "-version", "0.9.2", "extra"}, "unexpected arguments"},
		{[]string{"-site", filepath.Join(root, "nothing"), "-o", out, "-version", "0.9.2"}, "lacks alibi.js"},
		{[]string{"-site", site, "-o", out, "-root", site}, "VERSION"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		stderr.Reset()
		err := run(tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
