package webserve

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// FSSource serves an fs.FS. ETags are the SHA-256 of the content, computed
// on first use and cached while the file's size and modification time stay
// the same; or, with FastETag, made of the size and modification time alone
// (no read of the file: a development server over multi-gigabyte files).
type FSSource struct {
	FS       fs.FS
	FastETag bool

	mu     sync.Mutex
	digest map[string]digestEntry
}

type digestEntry struct {
	size    int64
	modTime time.Time
	etag    string
}

// NewFSSource returns a Source over fsys.
func NewFSSource(fsys fs.FS) *FSSource {
	return &FSSource{FS: fsys, digest: map[string]digestEntry{}}
}

// DirSource returns a Source over a directory opened with os.OpenRoot, so
// symbolic links cannot lead outside it either.
func DirSource(dir string) (*FSSource, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("webserve: open root: %w", err)
	}
	return NewFSSource(root.FS()), nil
}

// Stat implements Source.
func (s *FSSource) Stat(ctx context.Context, name string) (Entry, error) {
	fi, err := fs.Stat(s.FS, name)
	if err != nil {
		return Entry{}, err
	}
	if fi.IsDir() {
		return Entry{}, ErrIsDir
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("webserve: %s: not a regular file: %w", name, fs.ErrNotExist)
	}
	ent := Entry{Size: fi.Size(), ModTime: fi.ModTime()}
	if s.FastETag {
		ent.ETag = fmt.Sprintf(`"%x-%x"`, ent.Size, ent.ModTime.UnixNano())
		return ent, nil
	}
	s.mu.Lock()
	d, ok := s.digest[name]
	s.mu.Unlock()
	if ok && d.size == ent.Size && d.modTime.Equal(ent.ModTime) {
		ent.ETag = d.etag
		return ent, nil
	}
	f, err := s.FS.Open(name)
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Entry{}, fmt.Errorf("webserve: hash %s: %w", name, err)
	}
	ent.Size = n
	ent.ETag = ETagFromDigest(h.Sum(nil))
	s.mu.Lock()
	s.digest[name] = digestEntry{size: ent.Size, modTime: ent.ModTime, etag: ent.ETag}
	s.mu.Unlock()
	return ent, nil
}

// Open implements Source.
func (s *FSSource) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	f, err := s.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if sk, ok := f.(io.Seeker); ok {
			_, err = sk.Seek(off, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, f, off)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("webserve: seek %s: %w", name, err)
		}
	}
	return &limitedFile{r: io.LimitReader(f, n), c: f}, nil
}

type limitedFile struct {
	r io.Reader
	c io.Closer
}

func (l *limitedFile) Read(p []byte) (int, error) { return l.r.Read(p) }
func (l *limitedFile) Close() error               { return l.c.Close() }

// NewDirHandler returns a Handler with the default policy over a directory
// (DirSource): what `alibi serve --dir DIR` needs.
func NewDirHandler(dir string) (*Handler, error) {
	src, err := DirSource(dir)
	if err != nil {
		return nil, err
	}
	return New(src), nil
}
