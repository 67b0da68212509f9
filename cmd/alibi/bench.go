package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func init() {
	register("bench", "benchmarks: `bench browser` runs this engine and wllama side by side in headless Chromium", runBench)
}

// benchScript is the browser benchmark, relative to the repository root.
const benchScript = "e2e/bench/browser-bench.mjs"

// runBench dispatches `alibi bench <name> [flags]`. The browser benchmark is
// a Node script (playwright-core drives Chromium); this command finds it in
// the repository (--repo, or the current directory and its parents), and
// runs it with node, passing the remaining flags through and this binary as
// the server (ALIBI_BIN).
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", "", "repository root holding "+benchScript+" (default: the current directory or a parent)")
	site := fs.String("site", "", "served folder built by cmd/build-wasm (default: the script builds build/site)")
	node := fs.String("node", "node", "node executable")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: alibi bench browser [--repo DIR] [--site DIR] [--node PATH] [script flags: --runs N --load-runs N --page-runs N --prompt N --tokens N --models small,560m --pairs f32,int8 --quick --json FILE --md FILE]\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "browser" {
		fs.Usage()
		return errors.New("bench: want `alibi bench browser`")
	}
	// Our flags (with a value) are taken out; everything else goes to the script.
	var ours, rest []string
	for a := args[1:]; len(a) > 0; a = a[1:] {
		name := strings.TrimLeft(a[0], "-")
		if k, _, ok := strings.Cut(name, "="); ok {
			name = k
		}
		if a[0] == "--" {
			rest = append(rest, a[1:]...)
			break
		}
		if strings.HasPrefix(a[0], "-") && fs.Lookup(name) != nil {
			ours = append(ours, a[0])
			if !strings.Contains(a[0], "=") && len(a) > 1 {
				ours = append(ours, a[1])
				a = a[1:]
			}
			continue
		}
		rest = append(rest, a[0])
	}
	if err := fs.Parse(ours); err != nil {
		return err
	}
	root, err := findRepo(*repo)
	if err != nil {
		return err
	}
	cmd := exec.Command(*node, append([]string{filepath.Join(root, benchScript)}, rest...)...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = os.Environ()
	if self, err := os.Executable(); err == nil {
		cmd.Env = append(cmd.Env, "ALIBI_BIN="+self)
	}
	if *site != "" {
		abs, err := filepath.Abs(*site)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		cmd.Env = append(cmd.Env, "ALIBI_SITE="+abs)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: %s %s: %w", *node, benchScript, err)
	}
	return nil
}

// findRepo returns dir when it holds the benchmark script, or else the
// first of the current directory and its parents that does.
func findRepo(dir string) (string, error) {
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, benchScript)); err != nil {
			return "", fmt.Errorf("bench: --repo %s: %w", dir, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, benchScript)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("bench: %s not found in %s or its parents (use --repo)", benchScript, wd)
		}
	}
}
