package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func serveFixture(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html":             "<!doctype html><title>x</title>" + strings.Repeat(" ", 600),
		"alibi.js":               "export const x = 1;\n" + strings.Repeat("// padding\n", 100),
		"alibi.wasm":             "\x00asm\x01\x00\x00\x00" + strings.Repeat("\x00", 2000),
		"manifest.webmanifest":   `{"name":"alibi"}`,
		"models/m/chunk.000":     strings.Repeat("0123456789", 100),
		"models/m/manifest.json": `{"format":"alibi-web"}`,
		".secret":                "no",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "outside.txt")
	os.WriteFile(outside, []byte("outside"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	h, err := newStaticHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, dir
}

func get(t *testing.T, srv *httptest.Server, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A transport that does not add or undo gzip by itself.
	tr := &http.Transport{DisableCompression: true}
	res, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestServeTypesAndHeaders(t *testing.T) {
	srv, _ := serveFixture(t)
	for path, want := range map[string]string{
		"/alibi.wasm":             "application/wasm",
		"/alibi.js":               "text/javascript; charset=utf-8",
		"/manifest.webmanifest":   "application/manifest+json",
		"/models/m/manifest.json": "application/json",
		"/models/m/chunk.000":     "application/octet-stream",
		"/":                       "text/html; charset=utf-8",
	} {
		res, _ := get(t, srv, "GET", path, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 200 %q", path, res.StatusCode, res.Header.Get("Content-Type"), want)
		}
		for k, v := range map[string]string{
			"Cross-Origin-Opener-Policy":   "same-origin",
			"Cross-Origin-Embedder-Policy": "require-corp",
			"Cross-Origin-Resource-Policy": "cross-origin",
		} {
			if res.Header.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", path, k, res.Header.Get(k), v)
			}
		}
	}
}

func TestServeRangeAndETag(t *testing.T) {
	srv, _ := serveFixture(t)
	res, b := get(t, srv, "GET", "/models/m/chunk.000", map[string]string{"Range": "bytes=10-19", "Accept-Encoding": "gzip"})
	if res.StatusCode != 206 || string(b) != "0123456789" || res.Header.Get("Content-Range") != "bytes 10-19/1000" {
		t.Fatalf("range: %d %q %q", res.StatusCode, b, res.Header.Get("Content-Range"))
	}
	res, _ = get(t, srv, "GET", "/models/m/chunk.000", map[string]string{"Range": "bytes=5000-6000"})
	if res.StatusCode != 416 {
		t.Fatalf("unsatisfiable range: %d", res.StatusCode)
	}
	res, _ = get(t, srv, "GET", "/models/m/chunk.000", nil)
	etag := res.Header.Get("ETag")
	if etag == "" || res.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("etag %q accept-ranges %q", etag, res.Header.Get("Accept-Ranges"))
	}
	res, b = get(t, srv, "GET", "/models/m/chunk.000", map[string]string{"If-None-Match": etag})
	if res.StatusCode != 304 || len(b) != 0 {
		t.Fatalf("If-None-Match: %d, %d bytes", res.StatusCode, len(b))
	}
	res, b = get(t, srv, "HEAD", "/models/m/chunk.000", nil)
	if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("Content-Length") != "1000" {
		t.Fatalf("HEAD: %d %d %q", res.StatusCode, len(b), res.Header.Get("Content-Length"))
	}
}

func TestServeGzip(t *testing.T) {
	srv, dir := serveFixture(t)
	orig, _ := os.ReadFile(filepath.Join(dir, "alibi.wasm"))
	res, b := get(t, srv, "GET", "/alibi.wasm", map[string]string{"Accept-Encoding": "gzip, deflate"})
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("gzip: encoding %q type %q", res.Header.Get("Content-Encoding"), res.Header.Get("Content-Type"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, orig) {
		t.Fatal("gunzipped body differs")
	}
	gzTag := res.Header.Get("ETag")
	res, _ = get(t, srv, "GET", "/alibi.wasm", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag})
	if res.StatusCode != 304 {
		t.Fatalf("gzip If-None-Match: %d", res.StatusCode)
	}
	for _, hdr := range []map[string]string{
		{},
		{"Accept-Encoding": "gzip;q=0"},
		{"Accept-Encoding": "gzip", "Range": "bytes=0-99"},
	} {
		res, b := get(t, srv, "GET", "/alibi.wasm", hdr)
		if res.Header.Get("Content-Encoding") != "" {
			t.Errorf("%v: got Content-Encoding %q", hdr, res.Header.Get("Content-Encoding"))
		}
		if _, ranged := hdr["Range"]; ranged && (res.StatusCode != 206 || len(b) != 100) {
			t.Errorf("range on wasm: %d, %d bytes", res.StatusCode, len(b))
		}
	}
	// Chunks are never compressed.
	res, _ = get(t, srv, "GET", "/models/m/chunk.000", map[string]string{"Accept-Encoding": "gzip"})
	if res.Header.Get("Content-Encoding") != "" {
		t.Fatal("chunk gzipped")
	}
}

func TestServeNoEscape(t *testing.T) {
	srv, _ := serveFixture(t)
	for _, p := range []string{"/../outside.txt", "/%2e%2e/%2e%2e/etc/passwd", "/models/../../x", "/.secret", "/link.txt", "/models/m/..%2f..%2fx", "/a\\b"} {
		res, b := get(t, srv, "GET", p, nil)
		if res.StatusCode == 200 {
			t.Errorf("%s: 200 %q", p, b)
		}
	}
	res, _ := get(t, srv, "POST", "/alibi.js", nil)
	if res.StatusCode != 405 {
		t.Errorf("POST: %d", res.StatusCode)
	}
	res, _ = get(t, srv, "GET", "/models", nil)
	if res.StatusCode != 301 {
		t.Errorf("directory without slash: %d", res.StatusCode)
	}
	res, _ = get(t, srv, "GET", "/models/", nil)
	if res.StatusCode != 404 {
		t.Errorf("directory without index.html: %d, want 404 (no listings)", res.StatusCode)
	}
}

func TestServeFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runServe([]string{}, &out, &errb); err == nil {
		t.Fatal("no --dir: want error")
	}
	if err := runServe([]string{"--dir", filepath.Join(t.TempDir(), "missing")}, &out, &errb); err == nil {
		t.Fatal("missing dir: want error")
	}
}
