// Command build-wasm writes the folder that serves alibi in a browser
// (DESIGN.md §6):
//
//	go run ./cmd/build-wasm -o DIR
//
// It copies web/ (the runtime and, when present, the demo page), builds
// wasm/ for GOOS=js GOARCH=wasm (stripped, trimpath, then wasm-opt -Oz when
// installed), assembles the SIMD kernels with wat2wasm, copies wasm_exec.js
// from the active GOROOT, adds a content hash to every reference between
// runtime files (a query string, so a new build is never mixed with a
// cached old one), writes assets.json for the service worker, and packs the
// bundled model into DIR/models/<name>/ as a web directory.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/c9e48c40/alibi/internal/wasmbin"
	"github.com/c9e48c40/alibi/internal/watfma"
	"github.com/c9e48c40/alibi/wasm/webdir"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type options struct {
	out       string
	root      string
	model     string
	chunkSize int64
	opt       bool
	kernels   bool
	pkg       string // also write the npm package folder here
}

func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("build-wasm", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	fl.StringVar(&o.out, "o", "", "output directory (required)")
	fl.StringVar(&o.pkg, "package", "", "also write the npm package folder (alibi-wasm) to this directory")
	fl.StringVar(&o.root, "root", "", "repository root (default: found from the working directory)")
	fl.StringVar(&o.model, "model", "models/brown-bloom", "bundled model directories (comma-separated, relative to the root or absolute), each packed into DIR/models/<base name>; \"\" for none")
	// A bundled model is small: 1 MiB chunks let the runtime read, check and
	// convert chunk i+1 while the engine takes chunk i, and keep the page
	// from holding a chunk the size of the model.
	fl.Int64Var(&o.chunkSize, "chunk-size", 1<<20, "chunk size of the packed model")
	fl.BoolVar(&o.opt, "wasm-opt", true, "run wasm-opt -Oz when it is installed")
	fl.BoolVar(&o.kernels, "kernels", true, "assemble the SIMD kernels when wat2wasm is installed")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if o.out == "" || fl.NArg() != 0 {
		fl.Usage()
		return errors.New("build-wasm: -o DIR is required")
	}
	if o.root == "" {
		r, err := findRoot()
		if err != nil {
			return err
		}
		o.root = r
	}
	if err := build(o, stdout); err != nil {
		return err
	}
	if o.pkg != "" {
		return writePackage(o.out, o.pkg, "")
	}
	return nil
}

// findRoot walks up from the working directory to the directory holding go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("build-wasm: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("build-wasm: no go.mod above the working directory; pass -root")
		}
		dir = parent
	}
}

// runtimeFiles are the files of the runtime whose references are hashed.
var runtimeExt = map[string]bool{".js": true, ".mjs": true, ".wasm": true}

func build(o options, stdout io.Writer) error {
	start := time.Now()
	out := o.out
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	// 1. web/ without its tests.
	if err := copyTree(filepath.Join(o.root, "web"), out, func(rel string, d fs.DirEntry) bool {
		return rel == "test" || strings.HasSuffix(rel, ".test.mjs") || strings.HasSuffix(rel, ".test.js")
	}); err != nil {
		return err
	}
	// 1b. worker.js with its static imports inlined (bundle.go).
	if err := bundleWorker(out); err != nil {
		return err
	}
	// 2. alibi.wasm.
	if err := buildWasm(o.root, filepath.Join(out, "alibi.wasm"), o.opt, stdout); err != nil {
		return err
	}
	// 3. kernels.wasm and their host module.
	simdDir := filepath.Join(o.root, "engine", "kernels", "simd")
	if o.kernels {
		if err := buildKernels(filepath.Join(simdDir, "kernels.wat"), filepath.Join(out, "kernels.wasm"), stdout); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(simdDir, "host.mjs")); err == nil {
		if err := copyFile(filepath.Join(simdDir, "host.mjs"), filepath.Join(out, "simd-host.mjs")); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout, "build-wasm: no engine/kernels/simd/host.mjs: the worker uses stub SIMD imports")
	}
	// 3b. The kernel-threads variants (internal/wasmbin): alibi-mt.wasm, whose
	// memory is a shared import, and kernels-mt.wasm, whose memory import is
	// shared; the worker uses them when the page is cross-origin isolated and
	// loadModel asks for threads. The thread pool's modules go with them.
	if err := buildThreads(o.root, out, stdout); err != nil {
		return err
	}
	// 4. wasm_exec.js from the GOROOT of the go command that built the wasm.
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return err
	}
	if err := copyFile(filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"), filepath.Join(out, "wasm_exec.js")); err != nil {
		return err
	}
	// 5. Content hash.
	version, files, err := hashRuntime(out)
	if err != nil {
		return err
	}
	// 6. The bundled model.
	for _, m := range strings.Split(o.model, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		src := m
		if !filepath.IsAbs(src) {
			src = filepath.Join(o.root, m)
		}
		if _, err := os.Stat(filepath.Join(src, "config.json")); err != nil {
			fmt.Fprintf(stdout, "build-wasm: no model at %s (skipped)\n", src)
			continue
		}
		dst := filepath.Join(out, "models", filepath.Base(src))
		if err := webdir.Convert(src, dst, o.chunkSize, stdout); err != nil {
			return fmt.Errorf("build-wasm: model %s: %w", m, err)
		}
	}
	// 7. assets.json: the app shell, for the service worker's precache.
	shell, err := appShell(out)
	if err != nil {
		return err
	}
	// Files only kernel threads use are cached by the service worker when
	// first fetched, not precached: most visits never load them.
	lazy := []string{}
	for _, f := range shell {
		if threadFiles[f] {
			lazy = append(lazy, f)
		}
	}
	b, err := json.MarshalIndent(map[string]any{"version": version, "files": shell, "lazy": lazy}, "", " ")
	if err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "assets.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".wasm") || f == "alibi.js" || f == "worker.js" || f == "wasm_exec.js" {
			raw, gz, err := sizes(filepath.Join(out, f))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "build-wasm: %-14s %9d bytes, %9d gzipped\n", f, raw, gz)
		}
	}
	fmt.Fprintf(stdout, "build-wasm: wrote %s (version %s) in %s\n", out, version, time.Since(start).Round(time.Millisecond))
	return nil
}

func goEnv(key string) (string, error) {
	b, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return "", fmt.Errorf("build-wasm: go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func buildWasm(root, dst string, opt bool, stdout io.Writer) error {
	tmp := dst + ".tmp"
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./wasm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build-wasm: go build ./wasm: %w\n%s", err, stderr.Bytes())
	}
	if opt {
		if wo, err := exec.LookPath("wasm-opt"); err == nil {
			opted := dst + ".opt"
			c := exec.Command(wo, wasmOptArgs(tmp, opted)...)
			var e bytes.Buffer
			c.Stderr = &e
			if err := c.Run(); err != nil {
				os.Remove(opted)
				os.Remove(tmp)
				return fmt.Errorf("build-wasm: wasm-opt: %w\n%s", err, e.Bytes())
			}
			os.Remove(tmp)
			tmp = opted
		} else {
			fmt.Fprintln(stdout, "build-wasm: wasm-opt not found: alibi.wasm is not optimized")
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	return nil
}

// wasmOptArgs optimizes alibi.wasm for size (-Oz), with the features Go's
// js/wasm output uses. A new tab compiles every function it calls for the
// first time and validates the whole module, so less code is a faster
// returning visitor's load: against -O2, -Oz made the code section 8.5%
// smaller (3.61 -> 3.30 MB), a new tab's load of the bundled model 0.91x and
// 0.96x the time (two interleaved A/B runs of 14 pairs), and generation no
// slower (tiny model, f32 and int8, one thread: prefill 1.02-1.04x, decode
// 1.07-1.11x). --all-features let -Oz write type encodings browsers reject.
func wasmOptArgs(in, out string) []string {
	return []string{"-Oz", "--enable-sign-ext", "--enable-nontrapping-float-to-int", "--enable-bulk-memory", in, "-o", out}
}

// buildKernels assembles kernels.wat into dst (kernels.wasm) and its
// relaxed-SIMD variant (internal/watfma) into dst with -fma before .wasm,
// which hosts that run relaxed SIMD load instead.
func buildKernels(wat, dst string, stdout io.Writer) error {
	fmaDst := fmaName(dst)
	src, err := os.ReadFile(wat)
	if err != nil {
		fmt.Fprintln(stdout, "build-wasm: no kernels.wat: pure-Go kernels only")
		os.Remove(dst)
		os.Remove(fmaDst)
		return nil
	}
	w2w, err := exec.LookPath("wat2wasm")
	if err != nil {
		fmt.Fprintln(stdout, "build-wasm: wat2wasm not found (apt-get install wabt): pure-Go kernels only")
		os.Remove(dst)
		os.Remove(fmaDst)
		return nil
	}
	if err := wat2wasm(w2w, wat, dst); err != nil {
		return err
	}
	relaxed, _, err := watfma.Relax(src)
	if err != nil {
		return fmt.Errorf("build-wasm: %s: %w", wat, err)
	}
	rwat := fmaDst + ".wat"
	if err := os.WriteFile(rwat, relaxed, 0o644); err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	defer os.Remove(rwat)
	return wat2wasm(w2w, rwat, fmaDst, "--enable-relaxed-simd")
}

// fmaName is the file name of a kernel module's relaxed-SIMD variant.
func fmaName(path string) string {
	return strings.TrimSuffix(path, ".wasm") + "-fma.wasm"
}

func wat2wasm(w2w, wat, dst string, flags ...string) error {
	tmp := dst + ".tmp"
	c := exec.Command(w2w, append(flags, wat, "-o", tmp)...)
	var e bytes.Buffer
	c.Stderr = &e
	if err := c.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build-wasm: wat2wasm %s: %w\n%s", filepath.Base(wat), err, e.Bytes())
	}
	return os.Rename(tmp, dst)
}

// threadFiles are the files of the kernel-threads build.
var threadFiles = map[string]bool{"alibi-mt.wasm": true, "kernels-mt.wasm": true, "kernels-mt-fma.wasm": true, "simd-threads.mjs": true, "simd-thread.mjs": true}

// buildThreads writes alibi-mt.wasm and kernels-mt.wasm (and
// kernels-mt-fma.wasm) next to their
// single-thread builds, and simd-threads.mjs and simd-thread.mjs from
// engine/kernels/simd; without kernels.wasm there are no kernel threads.
func buildThreads(root, out string, stdout io.Writer) error {
	kernels, err := os.ReadFile(filepath.Join(out, "kernels.wasm"))
	if errors.Is(err, fs.ErrNotExist) {
		for f := range threadFiles {
			os.Remove(filepath.Join(out, f))
		}
		fmt.Fprintln(stdout, "build-wasm: no kernels.wasm: no kernel threads")
		return nil
	}
	if err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	kmt, err := wasmbin.ShareImportedMemory(kernels, wasmbin.MaxPages)
	if err != nil {
		return fmt.Errorf("build-wasm: kernels-mt.wasm: %w", err)
	}
	files := map[string][]byte{"kernels-mt.wasm": kmt}
	if kf, err := os.ReadFile(filepath.Join(out, "kernels-fma.wasm")); err == nil {
		if files["kernels-mt-fma.wasm"], err = wasmbin.ShareImportedMemory(kf, wasmbin.MaxPages); err != nil {
			return fmt.Errorf("build-wasm: kernels-mt-fma.wasm: %w", err)
		}
	} else {
		os.Remove(filepath.Join(out, "kernels-mt-fma.wasm"))
	}
	goWasm, err := os.ReadFile(filepath.Join(out, "alibi.wasm"))
	if err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	gmt, _, err := wasmbin.SharedMemory(goWasm, "env", "memory", wasmbin.MaxPages)
	if err != nil {
		return fmt.Errorf("build-wasm: alibi-mt.wasm: %w", err)
	}
	files["alibi-mt.wasm"] = gmt
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return fmt.Errorf("build-wasm: %w", err)
		}
	}
	simdDir := filepath.Join(root, "engine", "kernels", "simd")
	for src, dst := range map[string]string{"threads.mjs": "simd-threads.mjs", "thread.mjs": "simd-thread.mjs"} {
		if err := copyFile(filepath.Join(simdDir, src), filepath.Join(out, dst)); err != nil {
			return err
		}
	}
	return nil
}

// refPattern matches a quoted relative reference like './loader/x.js'.
var refPattern = regexp.MustCompile(`(['"])(\./[A-Za-z0-9_./-]+\.(?:js|mjs|wasm))(['"])`)

// hashRuntime computes the build version from every file of the app shell
// (everything outside models/, so that a change to index.html, the CSS or an
// icon alone also gives a new version and the service worker updates), and
// appends ?v=VERSION to each quoted relative reference from one runtime file
// (the .js, .mjs and .wasm files) to another. It returns the version and the
// runtime files.
func hashRuntime(out string) (string, []string, error) {
	shell, err := appShell(out)
	if err != nil {
		return "", nil, err
	}
	var files []string
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "models" {
				return filepath.SkipDir
			}
			return nil
		}
		if runtimeExt[path.Ext(rel)] && rel != "sw.js" {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("build-wasm: %w", err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range shell {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f)))
		if err != nil {
			return "", nil, fmt.Errorf("build-wasm: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	version := hex.EncodeToString(h.Sum(nil))[:12]
	set := map[string]bool{}
	for _, f := range files {
		set[f] = true
	}
	for _, f := range files {
		if path.Ext(f) == ".wasm" || f == "wasm_exec.js" {
			continue
		}
		p := filepath.Join(out, filepath.FromSlash(f))
		b, err := os.ReadFile(p)
		if err != nil {
			return "", nil, fmt.Errorf("build-wasm: %w", err)
		}
		dir := path.Dir(f)
		nb := refPattern.ReplaceAllFunc(b, func(m []byte) []byte {
			sm := refPattern.FindSubmatch(m)
			target := path.Join(dir, string(sm[2]))
			if !set[target] {
				return m
			}
			return []byte(string(sm[1]) + string(sm[2]) + "?v=" + version + string(sm[3]))
		})
		if !bytes.Equal(nb, b) {
			if err := os.WriteFile(p, nb, 0o644); err != nil {
				return "", nil, fmt.Errorf("build-wasm: %w", err)
			}
		}
	}
	return version, files, nil
}

// appShell lists the files a service worker should precache: everything but
// the models and assets.json itself.
func appShell(out string) ([]string, error) {
	var shell []string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "models" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "assets.json" || strings.HasSuffix(rel, ".tmp") {
			return nil
		}
		shell = append(shell, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build-wasm: %w", err)
	}
	sort.Strings(shell)
	return shell, nil
}

func sizes(p string) (int64, int64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, 0, fmt.Errorf("build-wasm: %w", err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return int64(len(b)), int64(gz.Len()), nil
}

// copyTree copies src into dst, skipping what skip reports.
func copyTree(src, dst string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("build-wasm: %w", err)
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("build-wasm: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build-wasm: copy %s: %w", src, err)
	}
	return nil
}
