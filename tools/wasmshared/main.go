// Command wasmshared rewrites a WebAssembly binary for kernel threads
// (internal/wasmbin): a Go binary's own memory becomes an imported shared
// memory (env.memory), or, with -import, a module's memory import (the SIMD
// kernels' env.mem) becomes shared. The Node test runner
// (tools/wasmexec/go_js_wasm_exec with ALIBI_THREADS=N) uses it on test
// binaries; cmd/build-wasm calls the package directly for the site.
//
//	wasmshared [-import] -o OUT IN
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/c9e48c40/alibi/internal/wasmbin"
)

func main() {
	out := flag.String("o", "", "output file")
	imported := flag.Bool("import", false, "share the module's memory import instead of its own memory")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: wasmshared [-import] -o OUT IN")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out, *imported); err != nil {
		fmt.Fprintln(os.Stderr, "wasmshared:", err)
		os.Exit(1)
	}
}

func run(in, out string, imported bool) error {
	mod, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var res []byte
	if imported {
		res, err = wasmbin.ShareImportedMemory(mod, wasmbin.MaxPages)
	} else {
		res, _, err = wasmbin.SharedMemory(mod, "env", "memory", wasmbin.MaxPages)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	// Atomic: concurrent test binaries may write the same kernels file.
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(res); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}
