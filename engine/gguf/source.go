package gguf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/c9e48c40/alibi/engine/safetensors"
)

// SafetensorsTensors lists the tensors of one in-memory safetensors file,
// with Data pointing into b (no copy). The header is validated by engine/safetensors.
func SafetensorsTensors(b []byte) ([]SourceTensor, error) {
	h, err := safetensors.ParseHeader(b, int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	out := make([]SourceTensor, 0, len(h.Tensors))
	for _, t := range h.Tensors {
		begin, end := h.DataOffset+t.Begin, h.DataOffset+t.End
		out = append(out, SourceTensor{Name: t.Name, DType: string(t.DType), Shape: append([]int(nil), t.Shape...),
			Data: b[begin:end:end]})
	}
	return out, nil
}

// SafetensorsFileTensors lists the tensors of a safetensors file read through
// r (of the given size), reading only the header now: each tensor's Load reads
// its bytes from r when the converter writes it.
func SafetensorsFileTensors(r io.ReaderAt, size int64) ([]SourceTensor, error) {
	h, err := safetensors.ReadHeader(io.NewSectionReader(r, 0, size), size)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	out := make([]SourceTensor, 0, len(h.Tensors))
	for _, t := range h.Tensors {
		off, n, name := h.DataOffset+t.Begin, t.End-t.Begin, t.Name
		out = append(out, SourceTensor{Name: t.Name, DType: string(t.DType), Shape: append([]int(nil), t.Shape...),
			Load: func() ([]byte, error) {
				buf := make([]byte, n)
				if _, err := r.ReadAt(buf, off); err != nil {
					return nil, fmt.Errorf("gguf: reading tensor %q: %w", name, err)
				}
				return buf, nil
			}})
	}
	return out, nil
}

// ConvertBLOOMDir converts a Hugging Face BLOOM directory (config.json,
// tokenizer.json, optional tokenizer_config.json, and model.safetensors or the
// shards listed in model.safetensors.index.json) to GGUF, streaming one tensor
// at a time. opts.TokenizerConfig is filled from the directory when empty.
func ConvertBLOOMDir(w io.Writer, dir string, opts ConvertOptions) error {
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	opts = withTokenizerConfig(dir, opts)
	tensors, closers, err := openCheckpoint(dir)
	defer closeAll(closers)
	if err != nil {
		return err
	}
	return ConvertBLOOM(w, cfg, tensors, tok, opts)
}

// withTokenizerConfig fills opts.TokenizerConfig from dir/tokenizer_config.json
// when the caller gave none and the file exists.
func withTokenizerConfig(dir string, opts ConvertOptions) ConvertOptions {
	if opts.TokenizerConfig == nil {
		if tc, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
			opts.TokenizerConfig = tc
		}
	}
	return opts
}

// openCheckpoint opens the safetensors of a checkpoint directory:
// model.safetensors, or the shards named by model.safetensors.index.json,
// whose weight map must list exactly the tensors the shards hold. The caller
// closes the returned files, also on error.
func openCheckpoint(dir string) ([]SourceTensor, []io.Closer, error) {
	idx, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	if err != nil {
		return openShards(dir, []string{"model.safetensors"})
	}
	var ix struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(idx, &ix); err != nil || len(ix.WeightMap) == 0 {
		return nil, nil, invalid("model.safetensors.index.json has no weight_map")
	}
	set := map[string]bool{}
	for _, f := range ix.WeightMap {
		if f != filepath.Base(f) || f == "" {
			return nil, nil, invalid("model.safetensors.index.json names shard %q outside the directory", f)
		}
		set[f] = true
	}
	files := make([]string, 0, len(set))
	for f := range set {
		files = append(files, f)
	}
	sort.Strings(files)
	tensors, closers, err := openShards(dir, files)
	if err != nil {
		return nil, closers, err
	}
	for _, t := range tensors {
		if ix.WeightMap[t.Name] == "" {
			return nil, closers, invalid("tensor %q is not listed in model.safetensors.index.json", t.Name)
		}
	}
	if len(tensors) != len(ix.WeightMap) {
		return nil, closers, invalid("model.safetensors.index.json lists %d tensors, the shards hold %d", len(ix.WeightMap), len(tensors))
	}
	return tensors, closers, nil
}

func openShards(dir string, files []string) ([]SourceTensor, []io.Closer, error) {
	var all []SourceTensor
	var closers []io.Closer
	for _, fn := range files {
		f, err := os.Open(filepath.Join(dir, fn))
		if err != nil {
			return nil, closers, fmt.Errorf("gguf: %w", err)
		}
		closers = append(closers, f)
		st, err := f.Stat()
		if err != nil {
			return nil, closers, fmt.Errorf("gguf: %w", err)
		}
		ts, err := SafetensorsFileTensors(f, st.Size())
		if err != nil {
			return nil, closers, fmt.Errorf("gguf: %s: %w", fn, err)
		}
		all = append(all, ts...)
	}
	return all, closers, nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}
