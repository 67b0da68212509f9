package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/c9e48c40/alibi/internal/webserve"
)

// siteIndex lists every servable file of the site with its size and
// SHA-256. It is written at build time (-write-index) and bundled with the
// Worker: it is the allowlist of served paths (nothing else is ever fetched
// from the stores) and gives strong ETags without hashing at request time.
type siteIndex struct {
	Version int                   `json:"version"`
	Files   map[string]indexEntry `json:"files"`
}

type indexEntry struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// buildIndex walks fsys and hashes every regular, non-hidden file.
func buildIndex(fsys fs.FS) (*siteIndex, error) {
	idx := &siteIndex{Version: 1, Files: map[string]indexEntry{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." && strings.HasPrefix(path.Base(name), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		idx.Files[name] = indexEntry{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("edge: index: %w", err)
	}
	return idx, nil
}

func parseIndex(data []byte) (*siteIndex, error) {
	var idx siteIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("edge: site index: %w", err)
	}
	if idx.Version != 1 || idx.Files == nil {
		return nil, fmt.Errorf("edge: site index: version %d, want 1", idx.Version)
	}
	for name, e := range idx.Files {
		if _, err := webserve.ResolvePath("/" + name); err != nil || e.Size < 0 || len(e.SHA256) != 64 {
			return nil, fmt.Errorf("edge: site index: bad entry %q", name)
		}
	}
	return &idx, nil
}

// isDir reports whether name is a directory of the indexed files.
func (idx *siteIndex) isDir(name string) bool {
	prefix := name + "/"
	for f := range idx.Files {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// names returns the indexed names, sorted.
func (idx *siteIndex) names() []string {
	out := make([]string, 0, len(idx.Files))
	for f := range idx.Files {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Store reads file bytes; the Worker's stores are its static assets and the
// R2 bucket, natively a directory.
type Store interface {
	// Open returns n bytes of name at offset off (n < 0: to the end).
	Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
}

// indexedSource is the webserve.Source of the Worker: metadata from the
// index, bytes from the store (model files from R2 when configured). Files
// under models/ that the index does not list are looked up in R2 (stat)
// when R2 is configured, so larger models can live in the bucket only.
type indexedSource struct {
	idx    *siteIndex
	assets Store
	models Store                                                          // nil: no R2
	r2stat func(ctx context.Context, name string) (webserve.Entry, error) // nil: no R2
}

func (s *indexedSource) storeFor(name string) Store {
	if s.models != nil && strings.HasPrefix(name, "models/") {
		return s.models
	}
	return s.assets
}

func (s *indexedSource) Stat(ctx context.Context, name string) (webserve.Entry, error) {
	if e, ok := s.idx.Files[name]; ok {
		sum, _ := hex.DecodeString(e.SHA256)
		return webserve.Entry{Size: e.Size, ETag: webserve.ETagFromDigest(sum)}, nil
	}
	if s.idx.isDir(name) {
		return webserve.Entry{}, webserve.ErrIsDir
	}
	if s.r2stat != nil && strings.HasPrefix(name, "models/") {
		return s.r2stat(ctx, name)
	}
	return webserve.Entry{}, fmt.Errorf("edge: %s: %w", name, fs.ErrNotExist)
}

func (s *indexedSource) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	return s.storeFor(name).Open(ctx, name, off, n)
}

// readAll reads a whole file through the source.
func readAll(ctx context.Context, src webserve.Source, name string) ([]byte, error) {
	ent, err := src.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	rc, err := src.Open(ctx, name, 0, ent.Size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("edge: read %s: %w", name, err)
	}
	if int64(len(data)) != ent.Size {
		return nil, fmt.Errorf("edge: read %s: %d bytes, want %d", name, len(data), ent.Size)
	}
	return data, nil
}
