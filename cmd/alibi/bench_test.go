package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "want `alibi bench browser`"},
		{"unknown subcommand", []string{"kernels"}, "want `alibi bench browser`"},
		{"missing repo", []string{"browser", "--repo", t.TempDir()}, "--repo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runBench(tt.args, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBenchRunsScript(t *testing.T) {
	// A fake node records its arguments and environment.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "e2e", "bench"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, benchScript), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "fake-node")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"args=$*\"\necho \"site=$ALIBI_SITE\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := runBench([]string{"browser", "--repo", dir, "--node", fake, "--site", "/x/site", "--quick", "--runs", "2"}, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	got := out.String()
	for _, want := range []string{"args=" + filepath.Join(dir, benchScript) + " --quick --runs 2", "site=/x/site"} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
}
