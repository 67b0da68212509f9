// Command watfma writes the relaxed-SIMD variant of the kernels' text
// (internal/watfma): the accumulations of the functions marked `;; @fma`
// become f32x4.relaxed_madd. Assemble the result with
// `wat2wasm --enable-relaxed-simd`.
//
//	go run ./tools/watfma -o build/kernels/kernels-fma.wat engine/kernels/simd/kernels.wat
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/c9e48c40/alibi/internal/watfma"
)

func main() {
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: watfma [-o OUT] kernels.wat")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("watfma: %w", err)
	}
	relaxed, n, err := watfma.Relax(src)
	if err != nil {
		return fmt.Errorf("watfma: %s: %w", in, err)
	}
	fmt.Fprintf(os.Stderr, "watfma: %d accumulations fused\n", n)
	if out == "" {
		_, err = os.Stdout.Write(relaxed)
		return err
	}
	return os.WriteFile(out, relaxed, 0o644)
}
