package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// copyBuf is the chunk size LoadFS reads files with.
const copyBuf = 1 << 20

// LoadDir loads a Hugging Face model directory: config.json plus
// model.safetensors, or model.safetensors.index.json and its shards.
func LoadDir(dir string, opts LoadOptions) (*Model, error) {
	return LoadFS(os.DirFS(dir), opts)
}

// LoadFS is LoadDir for any file system (embedded files, a zip, a test map).
func LoadFS(fsys fs.FS, opts LoadOptions) (*Model, error) {
	cfgData, err := fs.ReadFile(fsys, "config.json")
	if err != nil {
		return nil, fmt.Errorf("engine: %w: %w", err, ErrFormat)
	}
	cfg, err := ParseConfig(cfgData)
	if err != nil {
		return nil, err
	}
	l, err := NewLoader(cfg, opts)
	if err != nil {
		return nil, err
	}
	index, err := fs.ReadFile(fsys, "model.safetensors.index.json")
	switch {
	case err == nil:
		if err := l.SetIndex(index); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("engine: %w", err)
	}
	buf := make([]byte, copyBuf)
	for _, name := range l.Files() {
		if err := loadFile(l, fsys, name, buf); err != nil {
			l.Abort(err)
			return nil, err
		}
	}
	return l.Finish()
}

func loadFile(l *Loader, fsys fs.FS, name string, buf []byte) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("engine: %w: %w", err, ErrFormat)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	w, err := l.OpenFileSize(name, size)
	if err != nil {
		return err
	}
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("engine: reading %s: %w", name, rerr)
		}
	}
	return w.Close()
}
