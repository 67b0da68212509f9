package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/c9e48c40/alibi/internal/webserve"
)

// fsStore is a Store over an fs.FS (natively, the site directory).
type fsStore struct{ src *webserve.FSSource }

func (s fsStore) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if n < 0 {
		fi, err := fs.Stat(s.src.FS, name)
		if err != nil {
			return nil, err
		}
		n = fi.Size() - off
	}
	return s.src.Open(ctx, name, off, n)
}

// newDirSource indexes dir and returns the Worker's kind of Source over it.
func newDirSource(dir string) (*indexedSource, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	fsys := root.FS()
	idx, err := buildIndex(fsys)
	if err != nil {
		return nil, err
	}
	return &indexedSource{idx: idx, assets: fsStore{webserve.NewFSSource(fsys)}}, nil
}

// writeIndex writes the site index of dir to out (the build step).
func writeIndex(dir, out string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	idx, err := buildIndex(root.FS())
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(idx, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(data, '\n'), 0o644)
}
