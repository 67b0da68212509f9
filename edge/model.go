package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/internal/webserve"
	"github.com/c9e48c40/alibi/tokenizer"
)

// generationConfig holds the sampling defaults of generation_config.json
// (the same keys and precedence as `alibi run`).
type generationConfig struct {
	DoSample          *bool    `json:"do_sample"`
	Temperature       *float32 `json:"temperature"`
	TopK              *int     `json:"top_k"`
	TopP              *float32 `json:"top_p"`
	RepetitionPenalty *float32 `json:"repetition_penalty"`
}

// loadedModel is the model of an isolate: loaded once, one session reused by
// every request (the queue runs one generation at a time).
type loadedModel struct {
	name    string
	model   *engine.Model
	info    engine.Info
	tok     *tokenizer.Tokenizer
	sess    *engine.Session
	gen     generationConfig
	stopIDs []int
	loadDur time.Duration
}

// digester is a store reader that computes the SHA-256 of what was read
// (SHA256 is valid after EOF).
type digester interface {
	CanDigest() bool
	SHA256() (hex string, ok bool, err error)
}

// webManifest is the web directory manifest (DESIGN.md §3).
type webManifest struct {
	Format string `json:"format"`
	Files  []struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		Chunks []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		} `json:"chunks"`
	} `json:"files"`
}

// loadModel loads the model directory dir of src: a web directory
// (manifest.json + chunk files, each chunk's SHA-256 checked) or a Hugging
// Face directory (config.json + safetensors file or shards).
func loadModel(ctx context.Context, src webserve.Source, dir string, opts engine.LoadOptions) (*loadedModel, error) {
	start := time.Now()
	file := func(name string) string { return path.Join(dir, name) }
	cfgData, err := readAll(ctx, src, file("config.json"))
	if err != nil {
		return nil, fmt.Errorf("edge: model config: %w", err)
	}
	cfg, err := engine.ParseConfig(cfgData)
	if err != nil {
		return nil, err
	}
	tokData, err := readAll(ctx, src, file("tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("edge: tokenizer: %w", err)
	}
	tokCfg, err := readOptional(ctx, src, file("tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.LoadWithConfig(tokData, tokCfg)
	if err != nil {
		return nil, err
	}
	var gen generationConfig
	if data, err := readOptional(ctx, src, file("generation_config.json")); err != nil {
		return nil, err
	} else if data != nil {
		if err := json.Unmarshal(data, &gen); err != nil {
			return nil, fmt.Errorf("edge: generation_config.json: %w", err)
		}
	}
	l, err := engine.NewLoader(cfg, opts)
	if err != nil {
		return nil, err
	}
	if index, err := readOptional(ctx, src, file("model.safetensors.index.json")); err != nil {
		return nil, err
	} else if index != nil {
		if err := l.SetIndex(index); err != nil {
			return nil, err
		}
	}
	manifest, err := readOptional(ctx, src, file("manifest.json"))
	if err != nil {
		return nil, err
	}
	if manifest != nil {
		err = loadChunks(ctx, src, dir, manifest, l)
	} else {
		for _, name := range l.Files() {
			if err = loadWhole(ctx, src, file(name), name, l); err != nil {
				break
			}
		}
	}
	if err != nil {
		l.Abort(err)
		return nil, err
	}
	m, err := l.Finish()
	if err != nil {
		return nil, err
	}
	info := m.Info()
	lm := &loadedModel{name: path.Base(dir), model: m, info: info, tok: tok, sess: m.NewSession(), gen: gen}
	if info.EOS >= 0 {
		lm.stopIDs = append(lm.stopIDs, info.EOS)
	}
	if eos, ok := tok.EOS(); ok && eos != info.EOS {
		lm.stopIDs = append(lm.stopIDs, eos)
	}
	lm.loadDur = time.Since(start)
	return lm, nil
}

func readOptional(ctx context.Context, src webserve.Source, name string) ([]byte, error) {
	data, err := readAll(ctx, src, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

func loadWhole(ctx context.Context, src webserve.Source, name, logical string, l *engine.Loader) error {
	ent, err := src.Stat(ctx, name)
	if err != nil {
		return fmt.Errorf("edge: model file: %w", err)
	}
	w, err := l.OpenFileSize(logical, ent.Size)
	if err != nil {
		return err
	}
	rc, err := src.Open(ctx, name, 0, ent.Size)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("edge: loading %s: %w", name, err)
	}
	return w.Close()
}

func loadChunks(ctx context.Context, src webserve.Source, dir string, manifestJSON []byte, l *engine.Loader) error {
	var m webManifest
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return fmt.Errorf("edge: manifest.json: %w: %w", err, engine.ErrFormat)
	}
	if m.Format != "alibi-web" {
		return fmt.Errorf("edge: manifest.json: format %q, want alibi-web: %w", m.Format, engine.ErrFormat)
	}
	buf := make([]byte, 1<<20)
	for _, f := range m.Files {
		w, err := l.OpenFileSize(f.Name, f.Size)
		if err != nil {
			return err
		}
		var next int64
		for _, c := range f.Chunks {
			if c.Offset != next {
				return fmt.Errorf("edge: manifest.json: %s: chunk %s at %d, want %d: %w", f.Name, c.Path, c.Offset, next, engine.ErrFormat)
			}
			name := path.Join(dir, c.Path)
			if _, err := webserve.ResolvePath("/" + name); err != nil {
				return fmt.Errorf("edge: manifest.json: bad chunk path %q: %w", c.Path, engine.ErrFormat)
			}
			rc, err := src.Open(ctx, name, 0, c.Size)
			if err != nil {
				return fmt.Errorf("edge: chunk %s: %w", c.Path, err)
			}
			// The store may hash as it reads (the Worker's runtime does it
			// natively); otherwise hash here.
			dg, hostHash := rc.(digester)
			hostHash = hostHash && dg.CanDigest()
			h := sha256.New()
			dst := io.MultiWriter(w, h)
			if hostHash {
				dst = w
			}
			n, err := io.CopyBuffer(dst, rc, buf)
			if err != nil {
				rc.Close()
				return fmt.Errorf("edge: chunk %s: %w", c.Path, err)
			}
			got := ""
			if hostHash {
				var ok bool
				if got, ok, err = dg.SHA256(); err != nil || !ok {
					rc.Close()
					return fmt.Errorf("edge: chunk %s: no digest from the store (%v)", c.Path, err)
				}
			} else {
				got = hex.EncodeToString(h.Sum(nil))
			}
			rc.Close()
			if n != c.Size {
				return fmt.Errorf("edge: chunk %s: %d bytes, want %d: %w", c.Path, n, c.Size, engine.ErrFormat)
			}
			if c.SHA256 != "" && got != c.SHA256 {
				return fmt.Errorf("edge: chunk %s: sha256 %s, want %s: %w", c.Path, got, c.SHA256, engine.ErrFormat)
			}
			next += n
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}
