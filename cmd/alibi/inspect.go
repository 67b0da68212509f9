package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/engine/safetensors"
)

func init() {
	register("inspect", "architecture, parameter count, dtypes and memory needed per quant", runInspect)
}

// inspectReport is the JSON form of `alibi inspect --json`.
type inspectReport struct {
	Architecture   string            `json:"architecture"`
	Families       []string          `json:"supported"`
	Parameters     int64             `json:"parameters"`
	Layers         int               `json:"layers"`
	Heads          int               `json:"heads"`
	Hidden         int               `json:"hidden"`
	Vocab          int               `json:"vocab"`
	TrainingCtx    int               `json:"trainingContext"`
	Files          []string          `json:"files"`
	FileBytes      int64             `json:"fileBytes"`
	DTypes         map[string]int64  `json:"dtypes"` // dtype -> parameters
	Tensors        int               `json:"tensors"`
	Memory         map[string]int64  `json:"memory"` // quant -> bytes (weights + KV cache + scratch)
	MemoryContext  int               `json:"memoryContext"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	ALiBiSlopes    []float32         `json:"slopes"`
	TokenizerFound bool              `json:"tokenizer"`
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", stderr)
	model := fs.String("model", "", "model directory or http(s) URL of one")
	ctxLen := fs.Int("context", 0, "context length for the memory estimate (default: training length)")
	asJSON := fs.Bool("json", false, "print one JSON document")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" {
		return errors.New("--model is required")
	}
	ctx := context.Background()
	src := newModelSource(*model, stderr)
	cfgData, err := src.readSmall(ctx, "config.json")
	if err != nil {
		return err
	}
	cfg, err := engine.ParseConfig(cfgData)
	if err != nil {
		return err
	}
	rep := inspectReport{
		Architecture: cfg.Architecture,
		Families:     engine.SupportedArchitectures(),
		Layers:       cfg.NLayer,
		Heads:        cfg.NHead,
		Hidden:       cfg.HiddenSize,
		Vocab:        cfg.VocabSize,
		TrainingCtx:  cfg.TrainingContext,
		DTypes:       map[string]int64{},
		Memory:       map[string]int64{},
		ALiBiSlopes:  cfg.AlibiSlopes(),
	}
	files := []string{"model.safetensors"}
	if index, err := src.readSmall(ctx, "model.safetensors.index.json"); err == nil {
		if files, err = shardNames(index); err != nil {
			return err
		}
	} else if !errors.Is(err, errNotFound) {
		return err
	}
	rep.Files = files
	for _, name := range files {
		h, err := src.header(ctx, name)
		if err != nil {
			return err
		}
		rep.FileBytes += h.FileSize()
		for i := range h.Tensors {
			t := &h.Tensors[i]
			rep.DTypes[string(t.DType)] += t.Elements()
			rep.Parameters += t.Elements()
			rep.Tensors++
		}
		if len(files) == 1 {
			rep.Metadata = h.Metadata
		}
	}
	if _, err := src.readSmall(ctx, "tokenizer.json"); err == nil {
		rep.TokenizerFound = true
	}
	for _, q := range []engine.Quant{engine.QuantNone, engine.QuantInt8} {
		rep.Memory[string(q)] = engine.EstimateMemory(cfg, engine.LoadOptions{Quant: q, ContextLength: *ctxLen})
	}
	rep.MemoryContext = *ctxLen
	if rep.MemoryContext == 0 {
		rep.MemoryContext = cfg.TrainingContext
		if rep.MemoryContext == 0 {
			rep.MemoryContext = engine.DefaultContextLength
		}
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	return printInspect(stdout, *model, &rep)
}

func printInspect(w io.Writer, model string, r *inspectReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "model         %s\n", model)
	fmt.Fprintf(&b, "architecture  %s (supported: %s)\n", r.Architecture, strings.Join(r.Families, ", "))
	fmt.Fprintf(&b, "parameters    %s (%d)\n", humanCount(r.Parameters), r.Parameters)
	fmt.Fprintf(&b, "shape         %d layers, %d heads, hidden %d, vocab %d, training context %d\n",
		r.Layers, r.Heads, r.Hidden, r.Vocab, r.TrainingCtx)
	dts := make([]string, 0, len(r.DTypes))
	for d := range r.DTypes {
		dts = append(dts, d)
	}
	sort.Strings(dts)
	for i, d := range dts {
		dts[i] = fmt.Sprintf("%s: %s params", d, humanCount(r.DTypes[d]))
	}
	fmt.Fprintf(&b, "dtypes        %s\n", strings.Join(dts, ", "))
	fmt.Fprintf(&b, "files         %d (%s), %d tensors, tokenizer.json: %v\n",
		len(r.Files), humanBytes(r.FileBytes), r.Tensors, r.TokenizerFound)
	fmt.Fprintf(&b, "memory        f32: %s, int8: %s (weights + KV cache for %d tokens + scratch)\n",
		humanBytes(r.Memory["none"]), humanBytes(r.Memory["int8"]), r.MemoryContext)
	slopes := make([]string, len(r.ALiBiSlopes))
	for i, s := range r.ALiBiSlopes {
		slopes[i] = fmt.Sprintf("%.4g", s)
	}
	fmt.Fprintf(&b, "alibi slopes  %s\n", strings.Join(slopes, " "))
	_, err := io.WriteString(w, b.String())
	return err
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// header reads only the safetensors header of one file: from disk, or with
// HTTP Range requests so that a remote checkpoint is not downloaded.
func (m *modelSource) header(ctx context.Context, name string) (*safetensors.Header, error) {
	if !m.remote {
		f, err := os.Open(filepath.Join(m.base, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		h, err := safetensors.ReadHeader(f, st.Size())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return h, nil
	}
	prefix, size, err := m.rangeGet(ctx, name, 0, 7)
	if err != nil {
		return nil, err
	}
	n := int64(0)
	for i := 7; i >= 0; i-- {
		n = n<<8 | int64(prefix[i])
	}
	if n <= 0 || n > safetensors.MaxHeaderSize || (size > 0 && 8+n > size) {
		return nil, fmt.Errorf("%s: header length %d is invalid: %w", name, n, safetensors.ErrInvalid)
	}
	body, _, err := m.rangeGet(ctx, name, 8, 8+n-1)
	if err != nil {
		return nil, err
	}
	h, err := safetensors.ParseHeader(append(prefix, body...), size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return h, nil
}

// rangeGet fetches bytes [from, to] of a remote file and returns them with
// the file's total size (-1 when the server does not say).
func (m *modelSource) rangeGet(ctx context.Context, name string, from, to int64) ([]byte, int64, error) {
	url := m.base + "/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return nil, 0, fmt.Errorf("download %s: want 206 for a Range request, got HTTP %s", url, resp.Status)
	}
	size := int64(-1)
	var a, b, total int64
	if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &a, &b, &total); err == nil {
		size = total
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, to-from+1))
	if err != nil {
		return nil, 0, fmt.Errorf("download %s: %w", url, err)
	}
	if int64(len(data)) != to-from+1 {
		return nil, 0, fmt.Errorf("download %s: short range read (%d of %d bytes)", url, len(data), to-from+1)
	}
	return data, size, nil
}
