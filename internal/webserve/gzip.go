package webserve

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
)

var compressibleExt = map[string]bool{".wasm": true, ".js": true, ".mjs": true, ".json": true, ".html": true,
	".css": true, ".svg": true, ".webmanifest": true, ".ts": true, ".txt": true, ".map": true}

func compressible(name string) bool { return compressibleExt[strings.ToLower(path.Ext(name))] }

// acceptsGzip reports whether an Accept-Encoding value allows gzip (a
// q=0 refuses it; "*" allows it).
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		coding := strings.ToLower(strings.TrimSpace(fields[0]))
		if coding != "gzip" && coding != "*" {
			continue
		}
		for _, p := range fields[1:] {
			if q, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if v, err := strconv.ParseFloat(q, 64); err != nil || v == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

const gzipCacheMax = 64 << 20

// gzipCache holds compressed bodies by file name and ETag (gzKey); when full
// it is emptied. A body being compressed is compressed once: other requests
// for it wait. The name is part of the key because an ETag only tells
// versions of one file apart: with FSSource.FastETag (size and modification
// time) two files of the same size written in the same clock tick share one.
type gzipCache struct {
	mu       sync.Mutex
	m        map[string][]byte
	n        int64
	inflight map[string]*gzipCall
}

type gzipCall struct {
	done chan struct{}
	b    []byte
	err  error
}

// gzKey is the cache key of a file's compressed body ("" when the file has
// no ETag: it is then compressed every time).
func gzKey(name, etag string) string {
	if etag == "" {
		return ""
	}
	return name + "\x00" + etag
}

func (c *gzipCache) get(key string, size int64, open func(off, n int64) (io.ReadCloser, error)) ([]byte, error) {
	if key == "" {
		return compress(size, open)
	}
	c.mu.Lock()
	if b, ok := c.m[key]; ok {
		c.mu.Unlock()
		return b, nil
	}
	if call, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		<-call.done
		return call.b, call.err
	}
	call := &gzipCall{done: make(chan struct{})}
	if c.inflight == nil {
		c.inflight = map[string]*gzipCall{}
	}
	c.inflight[key] = call
	c.mu.Unlock()

	call.b, call.err = compress(size, open)
	c.mu.Lock()
	delete(c.inflight, key)
	if call.err == nil {
		if c.m == nil || c.n+int64(len(call.b)) > gzipCacheMax {
			c.m, c.n = map[string][]byte{}, 0
		}
		c.m[key] = call.b
		c.n += int64(len(call.b))
	}
	c.mu.Unlock()
	close(call.done)
	return call.b, call.err
}

// compress reads size bytes from open and gzips them at the default level
// (for alibi.wasm 1.5% larger than the best level, in a third of the time).
func compress(size int64, open func(off, n int64) (io.ReadCloser, error)) ([]byte, error) {
	rc, err := open(0, size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	n, err := io.Copy(zw, rc)
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, fmt.Errorf("webserve: gzip: read %d bytes, want %d", n, size)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// precompressExt are the files Precompress prepares: the app and its
// runtime, not model files (a tokenizer.json can be many megabytes).
var precompressExt = map[string]bool{".wasm": true, ".js": true, ".mjs": true, ".html": true, ".css": true, ".webmanifest": true}

// Precompress fills the gzip cache with the compressible app files among
// names (slash-separated paths in the Source), so that the first client
// does not wait for a large file such as alibi.wasm (6.8 MB) to be
// compressed. It stops at ctx's end or once the
// cache holds half its capacity, and is meant to run in its own goroutine;
// requests that come meanwhile share the compression in progress.
func (h *Handler) Precompress(ctx context.Context, names []string) {
	if !h.Gzip {
		return
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		if !precompressExt[strings.ToLower(path.Ext(name))] {
			continue
		}
		ent, err := h.Source.Stat(ctx, name)
		if err != nil || ent.Size <= 512 || ent.ETag == "" {
			continue
		}
		h.gz.mu.Lock()
		full := h.gz.n > gzipCacheMax/2
		h.gz.mu.Unlock()
		if full {
			return
		}
		if _, err := h.gz.get(gzKey(name, ent.ETag), ent.Size, func(off, n int64) (io.ReadCloser, error) {
			return h.Source.Open(ctx, name, off, n)
		}); err != nil {
			h.logf("webserve: precompress %s: %v", name, err)
		}
	}
}
