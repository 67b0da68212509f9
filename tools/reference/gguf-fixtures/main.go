// Command gguf-fixtures converts fixture directories (BLOOM, MPT, Jais) to
// GGUF with engine/gguf.ConvertDir, for tools/reference/wllama_goldens.mjs.
// A fixture whose config llama.cpp cannot run (gguf refuses it with
// ErrUnsupported, e.g. MPT logit_scale) is reported as skipped on stdout
// ("skip DIR: reason") and written nowhere.
//
//	go run ./tools/reference/gguf-fixtures -out DIR [-type f32|f16|q8_0] engine/testdata/bloom-f32-h4-l2 ...
//
// Each input directory D becomes DIR/<basename D>.gguf.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/c9e48c40/alibi/engine/gguf"
)

func main() {
	out := flag.String("out", "", "output directory (required)")
	typ := flag.String("type", "f32", "file type: f32, f16 or q8_0")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: gguf-fixtures -out DIR [-type f32|f16|q8_0] FIXTURE_DIR...")
		os.Exit(2)
	}
	if err := run(os.Stdout, *out, *typ, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "gguf-fixtures:", err)
		os.Exit(1)
	}
}

func run(stdout io.Writer, out, typ string, dirs []string) error {
	ft, err := gguf.ParseFileType(typ)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, d := range dirs {
		name := filepath.Base(filepath.Clean(d))
		path := filepath.Join(out, name+".gguf")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		bw := bufio.NewWriter(f)
		err = gguf.ConvertDir(bw, d, gguf.ConvertOptions{FileType: ft, Name: name})
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, gguf.ErrUnsupported) {
			os.Remove(path)
			fmt.Fprintf(stdout, "skip %s: %v\n", d, err)
			continue
		}
		if err != nil {
			os.Remove(path)
			return fmt.Errorf("%s: %w", d, err)
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}
