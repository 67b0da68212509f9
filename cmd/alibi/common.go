package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/tokenizer"
)

// newFlags returns a flag set that reports errors instead of exiting and
// prints its usage to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("alibi "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseIDs parses a comma-separated list of token ids such as "1,2,3".
func parseIDs(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("--ids is empty")
	}
	parts := strings.Split(s, ",")
	ids := make([]int, 0, len(parts))
	for _, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("--ids: %q is not a token id", p)
		}
		ids = append(ids, v)
	}
	return ids, nil
}

// writeJSON writes v as one JSON document followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func parseQuant(s string) (engine.Quant, error) {
	switch s {
	case "", "none", "f32":
		return engine.Quant("none"), nil
	case "int8":
		return engine.Quant("int8"), nil
	}
	return "", fmt.Errorf("--quant %q: want none or int8", s)
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// modelSource reads the small files of a model directory that is either a
// local path or an http(s) URL, and streams its safetensors files into an
// engine loader.
type modelSource struct {
	base   string
	remote bool
	client *http.Client
	stderr io.Writer
}

func newModelSource(base string, stderr io.Writer) *modelSource {
	return &modelSource{
		base:   strings.TrimSuffix(base, "/"),
		remote: isURL(base),
		client: &http.Client{Timeout: 0},
		stderr: stderr,
	}
}

var errNotFound = errors.New("not found")

// open returns a reader for one file of the model and its size (-1 if unknown).
func (m *modelSource) open(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	if !m.remote {
		f, err := os.Open(filepath.Join(m.base, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, 0, fmt.Errorf("%s: %w", name, errNotFound)
			}
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, st.Size(), nil
	}
	url := m.base + "/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("download %s: %w", url, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%s: %w", url, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}

// readSmall reads a whole small file (config, tokenizer, index), capped at 512 MiB.
func (m *modelSource) readSmall(ctx context.Context, name string) ([]byte, error) {
	rc, _, err := m.open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	const limit = 512 << 20
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, limit)
	}
	return data, nil
}

// loadModel loads the model at base (directory or URL). Remote weights stream
// straight into the loader with a progress bar on stderr; nothing is written
// to disk.
func loadModel(ctx context.Context, base string, opts engine.LoadOptions, stderr io.Writer) (*engine.Model, error) {
	if !isURL(base) {
		if st, err := os.Stat(base); err != nil {
			return nil, fmt.Errorf("model %s: %w", base, err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("model %s: not a directory", base)
		}
		return engine.LoadDir(base, opts)
	}
	src := newModelSource(base, stderr)
	cfgData, err := src.readSmall(ctx, "config.json")
	if err != nil {
		return nil, err
	}
	cfg, err := engine.ParseConfig(cfgData)
	if err != nil {
		return nil, err
	}
	loader, err := engine.NewLoader(cfg, opts)
	if err != nil {
		return nil, err
	}
	index, err := src.readSmall(ctx, "model.safetensors.index.json")
	switch {
	case err == nil:
		if err := loader.SetIndex(index); err != nil {
			return nil, err
		}
	case !errors.Is(err, errNotFound):
		loader.Abort(err)
		return nil, err
	}
	for _, name := range loader.Files() {
		if err := src.stream(ctx, loader, name); err != nil {
			loader.Abort(err)
			return nil, err
		}
	}
	return loader.Finish()
}

// shardNames lists the distinct files of a safetensors index in first-seen
// order of their sorted tensor names.
func shardNames(index []byte) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("model.safetensors.index.json: %w", err)
	}
	seen := map[string]bool{}
	var names []string
	for _, f := range idx.WeightMap {
		if !seen[f] {
			seen[f] = true
			names = append(names, f)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("model.safetensors.index.json: empty weight_map")
	}
	slices.Sort(names)
	return names, nil
}

func (m *modelSource) stream(ctx context.Context, loader *engine.Loader, name string) error {
	rc, size, err := m.open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := loader.OpenFileSize(name, size)
	if err != nil {
		return err
	}
	var r io.Reader = rc
	if m.remote {
		r = &progressReader{r: rc, name: name, total: size, w: m.stderr, start: time.Now()}
	}
	if _, err := io.CopyBuffer(w, r, make([]byte, 1<<20)); err != nil {
		w.Close()
		return fmt.Errorf("load %s: %w", name, err)
	}
	if pr, ok := r.(*progressReader); ok {
		pr.finish()
	}
	return w.Close()
}

// progressReader draws a one-line progress bar on w at most ten times a second.
type progressReader struct {
	r     io.Reader
	name  string
	total int64
	done  int64
	w     io.Writer
	start time.Time
	last  time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw()
	}
	return n, err
}

func (p *progressReader) draw() {
	mb := float64(p.done) / (1 << 20)
	rate := mb / max(time.Since(p.start).Seconds(), 1e-3)
	if p.total > 0 {
		frac := float64(p.done) / float64(p.total)
		bar := strings.Repeat("#", int(frac*30)) + strings.Repeat(".", 30-int(frac*30))
		fmt.Fprintf(p.w, "\r%s [%s] %5.1f%% %.1f/%.1f MiB %.1f MiB/s", p.name, bar, frac*100, mb, float64(p.total)/(1<<20), rate)
		return
	}
	fmt.Fprintf(p.w, "\r%s %.1f MiB %.1f MiB/s", p.name, mb, rate)
}

func (p *progressReader) finish() {
	p.draw()
	fmt.Fprintln(p.w)
}

// loadTokenizer reads the tokenizer of a model directory or URL:
// tokenizer.json with tokenizer_config.json when present (for BOS/EOS), or,
// for checkpoints that ship none, a SentencePiece tokenizer.model/spiece.model.
func loadTokenizer(ctx context.Context, base string, stderr io.Writer) (*tokenizer.Tokenizer, error) {
	src := newModelSource(base, stderr)
	optional := func(name string) ([]byte, error) {
		data, err := src.readSmall(ctx, name)
		if errors.Is(err, errNotFound) {
			return nil, nil
		}
		return data, err
	}
	cfg, err := optional("tokenizer_config.json")
	if err != nil {
		return nil, err
	}
	data, err := optional("tokenizer.json")
	if err != nil {
		return nil, err
	}
	if data != nil {
		return tokenizer.LoadWithConfig(data, cfg)
	}
	for _, name := range tokenizer.SentencePieceFiles {
		model, err := optional(name)
		if err != nil {
			return nil, err
		}
		if model != nil {
			return tokenizer.LoadSentencePiece(model, cfg)
		}
	}
	return nil, fmt.Errorf("model %s has no tokenizer.json, %s: %w", base,
		strings.Join(tokenizer.SentencePieceFiles, " or "), errNotFound)
}
