package webserve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func testFS() (fstest.MapFS, []byte) {
	chunk := make([]byte, 5000)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return fstest.MapFS{
		"index.html":                        {Data: []byte("<!doctype html><title>alibi</title>"), ModTime: mod},
		"alibi.wasm":                        {Data: []byte("\x00asm\x01\x00\x00\x00"), ModTime: mod},
		"empty.txt":                         {Data: nil, ModTime: mod},
		"models/b/manifest.json":            {Data: []byte(`{"format":"alibi-web"}`), ModTime: mod},
		"models/b/model.safetensors.000":    {Data: chunk, ModTime: mod},
		"models/b/index.html":               {Data: []byte("dir index"), ModTime: mod},
		"sub/index.html":                    {Data: []byte("sub index"), ModTime: mod},
		".secret":                           {Data: []byte("SECRET")},
		"models/b/model.safetensors.000.a1": {Data: []byte("x")},
	}, chunk
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://example.test/", nil)
	req.URL.Path = target // set decoded paths directly (NewRequest would reject some)
	if i := strings.IndexByte(target, '?'); i >= 0 {
		req.URL.Path, req.URL.RawQuery = target[:i], target[i+1:]
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	fsys, chunk := testFS()
	h := New(NewFSSource(fsys))
	sum := sha256.Sum256(chunk)
	chunkTag := ETagFromDigest(sum[:])
	const chunkPath = "/models/b/model.safetensors.000"

	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		status int
		body   []byte // nil: not checked
		check  func(t *testing.T, r *httptest.ResponseRecorder)
	}{
		{name: "index", method: "GET", path: "/", status: 200, body: fsys["index.html"].Data, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Content-Type": "text/html; charset=utf-8", "Cross-Origin-Opener-Policy": "same-origin",
				"Cross-Origin-Embedder-Policy": "require-corp", "Cache-Control": CacheShort, "Accept-Ranges": "bytes",
				"Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT"})
		}},
		{name: "wasm mime", method: "GET", path: "/alibi.wasm", status: 200, body: fsys["alibi.wasm"].Data, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Content-Type": "application/wasm", "Content-Length": "8"})
		}},
		{name: "full chunk", method: "GET", path: chunkPath, status: 200, body: chunk, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"ETag": chunkTag, "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin",
				"Content-Type": "application/octet-stream", "Content-Length": "5000"})
		}},
		{name: "range", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=100-1099"}, status: 206, body: chunk[100:1100], check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Content-Range": "bytes 100-1099/5000", "Content-Length": "1000", "ETag": chunkTag})
		}},
		{name: "range open end", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=4990-"}, status: 206, body: chunk[4990:]},
		{name: "range suffix", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=-7"}, status: 206, body: chunk[4993:]},
		{name: "range clamp", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=4999-9999"}, status: 206, body: chunk[4999:]},
		{name: "range 416", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=5000-"}, status: 416, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Content-Range": "bytes */5000"})
		}},
		{name: "range multi ignored", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=0-1,3-4"}, status: 200, body: chunk},
		{name: "range bad syntax ignored", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=x-"}, status: 200, body: chunk},
		{name: "if-range match", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=0-9", "If-Range": chunkTag}, status: 206, body: chunk[:10]},
		{name: "if-range stale", method: "GET", path: chunkPath, hdr: map[string]string{"Range": "bytes=0-9", "If-Range": `"old"`}, status: 200, body: chunk},
		{name: "empty file range", method: "GET", path: "/empty.txt", hdr: map[string]string{"Range": "bytes=0-"}, status: 416},
		{name: "empty file", method: "GET", path: "/empty.txt", status: 200, body: []byte{}},
		{name: "head", method: "HEAD", path: chunkPath, status: 200, body: []byte{}, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Content-Length": "5000", "ETag": chunkTag})
		}},
		{name: "head range", method: "HEAD", path: chunkPath, hdr: map[string]string{"Range": "bytes=0-9"}, status: 206, body: []byte{}, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Content-Length": "10", "Content-Range": "bytes 0-9/5000"})
		}},
		{name: "304", method: "GET", path: chunkPath, hdr: map[string]string{"If-None-Match": chunkTag}, status: 304, body: []byte{}, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"ETag": chunkTag, "Access-Control-Allow-Origin": "*"})
		}},
		{name: "304 list", method: "GET", path: chunkPath, hdr: map[string]string{"If-None-Match": `"zzz", W/` + chunkTag}, status: 304},
		{name: "304 star", method: "HEAD", path: chunkPath, hdr: map[string]string{"If-None-Match": `*`}, status: 304},
		{name: "inm mismatch", method: "GET", path: chunkPath, hdr: map[string]string{"If-None-Match": `"zzz"`}, status: 200, body: chunk},
		{name: "inm beats ims", method: "GET", path: "/index.html", hdr: map[string]string{"If-None-Match": `"zzz"`, "If-Modified-Since": "Sat, 03 Jan 2026 00:00:00 GMT"}, status: 200},
		{name: "ims 304", method: "GET", path: "/index.html", hdr: map[string]string{"If-Modified-Since": "Fri, 02 Jan 2026 03:04:05 GMT"}, status: 304},
		{name: "ims old", method: "GET", path: "/index.html", hdr: map[string]string{"If-Modified-Since": "Fri, 02 Jan 2026 03:04:04 GMT"}, status: 200},
		{name: "preflight", method: "OPTIONS", path: chunkPath, hdr: map[string]string{"Origin": "https://other.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"}, status: 204, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS"})
			if !strings.Contains(r.Header().Get("Access-Control-Allow-Headers"), "Range") {
				t.Errorf("Allow-Headers %q lacks Range", r.Header().Get("Access-Control-Allow-Headers"))
			}
		}},
		{name: "options app page", method: "OPTIONS", path: "/index.html", hdr: map[string]string{"Origin": "https://other.example", "Access-Control-Request-Method": "GET"}, status: 204, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			if r.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Error("app page answered a cross-origin preflight")
			}
		}},
		{name: "post 405", method: "POST", path: "/index.html", status: 405, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Allow": "GET, HEAD, OPTIONS"})
		}},
		{name: "delete 405", method: "DELETE", path: chunkPath, status: 405},
		{name: "missing", method: "GET", path: "/nope.js", status: 404, body: []byte("not found\n")},
		{name: "dir redirect", method: "GET", path: "/sub?x=1", status: 301, check: func(t *testing.T, r *httptest.ResponseRecorder) {
			hasHeaders(t, r, map[string]string{"Location": "/sub/?x=1"})
		}},
		{name: "dir index", method: "GET", path: "/models/b/", status: 200, body: []byte("dir index")},
		{name: "hidden", method: "GET", path: "/.secret", status: 400},
		{name: "dotdot", method: "GET", path: "/models/../.secret", status: 400},
		{name: "backslash", method: "GET", path: "/models\\b\\manifest.json", status: 400},
		{name: "nul", method: "GET", path: "/index.html\x00", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, h, tt.method, tt.path, tt.hdr)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d (body %q)", r.Code, tt.status, r.Body.String())
			}
			if tt.body != nil && !bytes.Equal(r.Body.Bytes(), tt.body) {
				t.Errorf("body %d bytes %q, want %d bytes", r.Body.Len(), trunc(r.Body.Bytes()), len(tt.body))
			}
			if bytes.Contains(r.Body.Bytes(), []byte("SECRET")) {
				t.Error("hidden file leaked")
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func hasHeaders(t *testing.T, r *httptest.ResponseRecorder, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := r.Header().Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

type failingSource struct{ statErr, openErr error }

func (f failingSource) Stat(context.Context, string) (Entry, error) {
	return Entry{Size: 10, ETag: `"x"`}, f.statErr
}
func (f failingSource) Open(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, f.openErr
}

func TestHandlerErrorsHideDetails(t *testing.T) {
	var logged []string
	for _, src := range []Source{
		failingSource{statErr: errors.New("disk on fire /etc/secret")},
		failingSource{openErr: errors.New("disk on fire /etc/secret")},
	} {
		h := &Handler{Source: src, Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}
		r := do(t, h, "GET", "/x.bin", nil)
		if r.Code != 500 || strings.Contains(r.Body.String(), "fire") || r.Header().Get("Content-Length") != "15" {
			t.Errorf("status %d body %q headers %v", r.Code, r.Body.String(), r.Header())
		}
	}
	if len(logged) != 2 {
		t.Errorf("logged %q", logged)
	}
}

// TestDirSourceSymlinkEscape checks that a symbolic link inside the served
// directory cannot expose a file outside it.
func TestDirSourceSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(root, "link.txt")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	src, err := DirSource(root)
	if err != nil {
		t.Fatal(err)
	}
	h := New(src)
	if r := do(t, h, "GET", "/link.txt", nil); r.Code == 200 || strings.Contains(r.Body.String(), "SECRET") {
		t.Errorf("symlink escaped: %d %q", r.Code, r.Body.String())
	}
	if r := do(t, h, "GET", "/", nil); r.Code != 200 || r.Body.String() != "hello" {
		t.Errorf("index: %d %q", r.Code, r.Body.String())
	}
}

// TestRawRequestsOverTCP sends raw request lines (no client-side cleaning)
// to a real server using the handler and checks nothing outside the root is
// served.
func TestRawRequestsOverTCP(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "site")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(parent, "secret.txt"), []byte("SECRET"), 0o644)
	os.WriteFile(filepath.Join(root, "index.html"), []byte("hello"), 0o644)
	h, err := NewDirHandler(root)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, target := range []string{
		"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/..%5csecret.txt", "/..\\secret.txt",
		"/%252e%252e/secret.txt", "/secret.txt%00.html", "//secret.txt", "/./../secret.txt",
		"/" + filepath.Join(parent, "secret.txt"), "*",
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode == 200 || bytes.Contains(body, []byte("SECRET")) {
			t.Errorf("%s: status %d body %q", target, resp.StatusCode, body)
		}
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Errorf("index: %d %q", resp.StatusCode, body)
	}
	if _, err := NewDirHandler(filepath.Join(parent, "missing")); err == nil {
		t.Error("NewDirHandler accepted a missing directory")
	}
}

// noSeekFS hides io.Seeker so that FSSource.Open's skip path is used.
type noSeekFS struct{ fs.FS }
type noSeekFile struct{ f fs.File }

func (n noSeekFS) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return noSeekFile{f}, nil
}
func (n noSeekFile) Stat() (fs.FileInfo, error) { return n.f.Stat() }
func (n noSeekFile) Read(p []byte) (int, error) { return n.f.Read(p) }
func (n noSeekFile) Close() error               { return n.f.Close() }

func TestFSSourceOpenWithoutSeek(t *testing.T) {
	fsys, chunk := testFS()
	src := NewFSSource(noSeekFS{fsys})
	rc, err := src.Open(context.Background(), "models/b/model.safetensors.000", 1234, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, chunk[1234:1334]) {
		t.Errorf("got %d bytes, wrong content", len(got))
	}
}

func TestFSSourceETagFollowsContent(t *testing.T) {
	fsys := fstest.MapFS{"a.txt": {Data: []byte("one"), ModTime: time.Unix(1, 0)}}
	src := NewFSSource(fsys)
	e1, err := src.Stat(context.Background(), "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	fsys["a.txt"] = &fstest.MapFile{Data: []byte("two"), ModTime: time.Unix(2, 0)}
	e2, _ := src.Stat(context.Background(), "a.txt")
	if e1.ETag == e2.ETag || !strings.HasPrefix(e1.ETag, `"`) {
		t.Errorf("etags %s %s", e1.ETag, e2.ETag)
	}
	if _, err := src.Stat(context.Background(), "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestFSSourceFastETag(t *testing.T) {
	fsys := fstest.MapFS{"a.txt": {Data: []byte("one"), ModTime: time.Unix(1, 0)}}
	src := NewFSSource(fsys)
	src.FastETag = true
	e1, err := src.Stat(context.Background(), "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if e1.ETag != `"3-3b9aca00"` {
		t.Errorf("fast etag %s, want size-mtime", e1.ETag)
	}
	fsys["a.txt"] = &fstest.MapFile{Data: []byte("three"), ModTime: time.Unix(2, 0)}
	if e2, _ := src.Stat(context.Background(), "a.txt"); e2.ETag == e1.ETag || e2.Size != 5 {
		t.Errorf("after a change: %+v", e2)
	}
}

func BenchmarkServeRange(b *testing.B) {
	fsys, _ := testFS()
	h := New(NewFSSource(fsys))
	req := httptest.NewRequest("GET", "/models/b/model.safetensors.000", nil)
	req.Header.Set("Range", "bytes=100-4000")
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
