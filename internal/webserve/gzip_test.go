package webserve

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"gzip": true, "gzip, deflate, br": true, "br;q=1.0, gzip;q=0.5": true, "GZIP": true, "*": true,
		"gzip;q=0": false, "gzip;q=0.0": false, "br": false, "": false, "identity": false, "gzip;q=x": false,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestGzip(t *testing.T) {
	js := []byte(strings.Repeat("export const x = 1;\n", 200))
	fsys := fstest.MapFS{"app.js": {Data: js}, "small.js": {Data: []byte("x")}, "models/a.bin": {Data: bytes.Repeat([]byte{1}, 4000)}}
	h := New(NewFSSource(fsys))
	h.Gzip = true
	get := func(path string, hdr map[string]string) *httptest.ResponseRecorder { return do(t, h, "GET", path, hdr) }

	r := get("/app.js", map[string]string{"Accept-Encoding": "gzip, br"})
	if r.Code != 200 || r.Header().Get("Content-Encoding") != "gzip" || r.Header().Get("Vary") != "Accept-Encoding" ||
		!strings.HasSuffix(r.Header().Get("ETag"), `-gz"`) {
		t.Fatalf("gzip response: %d %v", r.Code, r.Header())
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, js) || r.Header().Get("Content-Length") == "" {
		t.Errorf("decompressed body differs")
	}
	gzTag := r.Header().Get("ETag")
	if r := get("/app.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag}); r.Code != 304 {
		t.Errorf("304 on gzip tag: %d", r.Code)
	}
	for name, hdr := range map[string]map[string]string{
		"no accept": nil,
		"q=0":       {"Accept-Encoding": "gzip;q=0"},
		"range":     {"Accept-Encoding": "gzip", "Range": "bytes=0-9"},
	} {
		r := get("/app.js", hdr)
		if r.Header().Get("Content-Encoding") != "" || strings.HasSuffix(r.Header().Get("ETag"), `-gz"`) || r.Header().Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: %v", name, r.Header())
		}
	}
	if r := get("/small.js", map[string]string{"Accept-Encoding": "gzip"}); r.Header().Get("Content-Encoding") != "" {
		t.Error("tiny file gzipped")
	}
	if r := get("/models/a.bin", map[string]string{"Accept-Encoding": "gzip"}); r.Header().Get("Content-Encoding") != "" || r.Header().Get("Vary") != "" {
		t.Error("binary model file gzipped")
	}
	h.Gzip = false
	if r := get("/app.js", map[string]string{"Accept-Encoding": "gzip"}); r.Header().Get("Content-Encoding") != "" {
		t.Error("gzip when off")
	}
}

// countingSource counts the Opens of a Source.
type countingSource struct {
	Source
	mu    sync.Mutex
	opens map[string]int
}

func (c *countingSource) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	return c.Source.Open(ctx, name, off, n)
}

func TestPrecompress(t *testing.T) {
	wasm := bytes.Repeat([]byte("\x00asm wasm bytes "), 4096)
	js := []byte(strings.Repeat("export const y = 2;\n", 100))
	fsys := fstest.MapFS{"alibi.wasm": {Data: wasm}, "app.js": {Data: js}, "models/m/tokenizer.json": {Data: bytes.Repeat([]byte(`{"a":1}`), 1000)}}
	src := &countingSource{Source: NewFSSource(fsys), opens: map[string]int{}}
	h := New(src)
	h.Gzip = true
	h.Precompress(context.Background(), []string{"alibi.wasm", "app.js", "models/m/tokenizer.json", "missing.js"})
	if src.opens["alibi.wasm"] != 1 || src.opens["app.js"] != 1 || src.opens["models/m/tokenizer.json"] != 0 {
		t.Fatalf("precompress opened %v, want the wasm and the js once, no model file", src.opens)
	}
	// A request finds the body compressed: no further read of the file.
	r := do(t, h, "GET", "/alibi.wasm", map[string]string{"Accept-Encoding": "gzip"})
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if r.Code != 200 || !bytes.Equal(plain, wasm) || src.opens["alibi.wasm"] != 1 {
		t.Fatalf("after precompress: %d, %d bytes, %d opens", r.Code, len(plain), src.opens["alibi.wasm"])
	}
	// Without Gzip it does nothing.
	h2 := New(&countingSource{Source: NewFSSource(fsys), opens: map[string]int{}})
	h2.Precompress(context.Background(), []string{"alibi.wasm"})
	if n := h2.Source.(*countingSource).opens["alibi.wasm"]; n != 0 {
		t.Errorf("precompress without Gzip opened the file %d times", n)
	}
}

// TestGzipOnce: concurrent first requests for a file compress it once.
func TestGzipOnce(t *testing.T) {
	wasm := bytes.Repeat([]byte("0123456789abcdef"), 1<<14)
	src := &countingSource{Source: NewFSSource(fstest.MapFS{"alibi.wasm": {Data: wasm}}), opens: map[string]int{}}
	h := New(src)
	h.Gzip = true
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = do(t, h, "GET", "/alibi.wasm", map[string]string{"Accept-Encoding": "gzip"}).Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if n := src.opens["alibi.wasm"]; n != 1 {
		t.Errorf("the file was read %d times for 8 concurrent requests, want 1", n)
	}
}

// TestGzipKeyedByName: two files with the same size and modification time
// have the same FastETag; each must still get its own compressed body.
func TestGzipKeyedByName(t *testing.T) {
	dir := t.TempDir()
	a := []byte(strings.Repeat(`{"n_layer": 2}`, 100))
	b := []byte(strings.Repeat(`{"n_layer": 3}`, 100))
	when := time.Date(2026, 12, 5, 6, 4, 46, 471876646, time.UTC)
	for name, data := range map[string][]byte{"a/config.json": a, "b/config.json": b} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	src := NewFSSource(os.DirFS(dir))
	src.FastETag = true
	h := New(src)
	h.Gzip = true
	for _, tc := range []struct {
		path string
		want []byte
	}{{"/a/config.json", a}, {"/b/config.json", b}, {"/a/config.json", a}} {
		rec := do(t, h, "GET", tc.path, map[string]string{"Accept-Encoding": "gzip"})
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: not gzipped", tc.path)
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Fatalf("%s: served another file's body (%.20q...)", tc.path, got)
		}
	}
}
