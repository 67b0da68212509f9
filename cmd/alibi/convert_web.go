package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/c9e48c40/alibi/wasm/webdir"
)

// convertWeb writes the web directory (DESIGN.md §3: manifest.json, the
// small files, chunk files with a SHA-256 each) of the HF-style model in
// modelDir into outDir. chunkSize <= 0 means 16 MiB. Quantization is done by
// the runtime while loading (loadModel(..., { quant: 'int8' })), so quant
// must be "" or "none" here.
func convertWeb(modelDir, outDir string, chunkSize int64, quant string, stderr io.Writer) error {
	switch quant {
	case "", "none", "f32":
	case "int8":
		return errors.New("--quant int8 with --to web is not supported: the web directory keeps the checkpoint's dtypes and the runtime quantizes while loading; use loadModel(url, { quant: 'int8' })")
	default:
		return fmt.Errorf("--quant %q: want none", quant)
	}
	return webdir.Convert(modelDir, outDir, chunkSize, stderr)
}
