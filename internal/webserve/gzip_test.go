package webserve

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
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
