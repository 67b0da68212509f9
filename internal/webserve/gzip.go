package webserve

import (
	"bytes"
	"compress/gzip"
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

// gzipCache holds compressed bodies by ETag; when full it is emptied.
type gzipCache struct {
	mu sync.Mutex
	m  map[string][]byte
	n  int64
}

func (c *gzipCache) get(etag string, size int64, open func(off, n int64) (io.ReadCloser, error)) ([]byte, error) {
	c.mu.Lock()
	if b, ok := c.m[etag]; ok && etag != "" {
		c.mu.Unlock()
		return b, nil
	}
	c.mu.Unlock()
	rc, err := open(0, size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
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
	b := buf.Bytes()
	if etag == "" {
		return b, nil
	}
	c.mu.Lock()
	if c.m == nil || c.n+int64(len(b)) > gzipCacheMax {
		c.m, c.n = map[string][]byte{}, 0
	}
	c.m[etag] = b
	c.n += int64(len(b))
	c.mu.Unlock()
	return b, nil
}
