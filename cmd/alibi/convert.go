package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/c9e48c40/alibi/engine/gguf"
)

func init() {
	register("convert", "write a web directory (chunked, hashed) or a GGUF file from an HF checkpoint", runConvert)
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", stderr)
	model := fs.String("model", "", "Hugging Face model directory")
	out := fs.String("out", "", "output directory")
	to := fs.String("to", "web", "output form: web (manifest.json + chunk files) or gguf (for llama.cpp runners)")
	chunk := fs.String("chunk-size", "16MiB", "web: chunk file size (e.g. 16MiB, 4MB, 1048576)")
	quant := fs.String("quant", "none", "gguf: none (F32 weights) or int8 (Q8_0); web: none")
	ggufType := fs.String("gguf-type", "", "gguf: f32, f16 or q8_0 (overrides --quant)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *out == "" {
		return errors.New("--model and --out are required")
	}
	if isURL(*model) {
		return errors.New("convert reads a local directory; download the checkpoint first")
	}
	switch *to {
	case "web":
		size, err := parseSize(*chunk)
		if err != nil {
			return fmt.Errorf("--chunk-size: %w", err)
		}
		return convertWeb(*model, *out, size, *quant, stderr)
	case "gguf":
		ft := gguf.FileTypeF32
		switch *quant {
		case "", "none", "f32":
		case "int8":
			ft = gguf.FileTypeQ8_0
		default:
			return fmt.Errorf("--quant %q: want none or int8", *quant)
		}
		if *ggufType != "" {
			var err error
			if ft, err = gguf.ParseFileType(*ggufType); err != nil {
				return err
			}
		}
		return convertGGUF(*model, *out, ft, stderr)
	}
	return fmt.Errorf("--to %q: want web or gguf", *to)
}

// convertGGUF writes OUT/model-<type>.gguf through a temporary file so that a
// failed conversion leaves nothing half-written behind.
func convertGGUF(modelDir, outDir string, ft gguf.FileType, stderr io.Writer) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(outDir, "model-"+strings.ToLower(ft.String())+".gguf")
	tmp, err := os.CreateTemp(outDir, ".model-*.gguf.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = gguf.ConvertDir(tmp, modelDir, gguf.ConvertOptions{FileType: ft, Name: filepath.Base(filepath.Clean(modelDir))})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("convert %s: %w", modelDir, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (%s, %s)\n", name, ft, humanBytes(st.Size()))
	return nil
}

// parseSize parses a byte count with an optional KiB/MiB/GiB (or KB/MB/GB,
// also powers of 1024 here, as the manifest's chunk sizes are) suffix.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	v := int64(n * float64(mult))
	if v < 4096 {
		return 0, fmt.Errorf("%q is below the 4 KiB minimum", s)
	}
	return v, nil
}
