package webserve

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	tests := []struct {
		h           string
		size        int64
		start, n    int64
		ok, unsatis bool
	}{
		{"bytes=0-99", size, 0, 100, true, false},
		{"bytes=100-199", size, 100, 100, true, false},
		{"bytes=990-", size, 990, 10, true, false},
		{"bytes=990-5000", size, 990, 10, true, false},
		{"bytes=-10", size, 990, 10, true, false},
		{"bytes=-5000", size, 0, size, true, false},
		{"bytes=0-0", size, 0, 1, true, false},
		{"bytes=999-999", size, 999, 1, true, false},
		{"BYTES=1-2", size, 1, 2, true, false},
		{" bytes= 1 - 2 ", size, 1, 2, true, false},
		{"bytes=1000-", size, 0, 0, true, true},
		{"bytes=1000-2000", size, 0, 0, true, true},
		{"bytes=-0", size, 0, 0, true, true},
		{"bytes=0-", 0, 0, 0, true, true},
		{"bytes=-1", 0, 0, 0, true, true},
		{"bytes=5-1", size, 0, 0, false, false},
		{"bytes=0-1,5-6", size, 0, 0, false, false},
		{"bytes=", size, 0, 0, false, false},
		{"bytes=abc", size, 0, 0, false, false},
		{"bytes=a-b", size, 0, 0, false, false},
		{"bytes=+1-2", size, 0, 0, false, false},
		{"bytes=-", size, 0, 0, false, false},
		{"bytes=99999999999999999999-", size, 0, 0, false, false},
		{"items=0-1", size, 0, 0, false, false},
		{"0-1", size, 0, 0, false, false},
	}
	for _, tt := range tests {
		start, n, ok, err := ParseRange(tt.h, tt.size)
		if tt.unsatis {
			if !errors.Is(err, ErrUnsatisfiable) {
				t.Errorf("ParseRange(%q, %d): err %v, want ErrUnsatisfiable", tt.h, tt.size, err)
			}
			continue
		}
		if err != nil || ok != tt.ok || (ok && (start != tt.start || n != tt.n)) {
			t.Errorf("ParseRange(%q, %d) = %d, %d, %v, %v; want %d, %d, %v", tt.h, tt.size, start, n, ok, err, tt.start, tt.n, tt.ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-99", "bytes=-5", "bytes=9-", "bytes=1-0", "bytes=0-1,2-3", "x"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		start, n, ok, err := ParseRange(h, size)
		if err != nil || !ok {
			return
		}
		if start < 0 || n <= 0 || start+n > size {
			t.Fatalf("ParseRange(%q, %d) = %d, %d: outside the file", h, size, start, n)
		}
	})
}

func TestContentRange(t *testing.T) {
	if got := ContentRange(10, 5, 100); got != "bytes 10-14/100" {
		t.Errorf("ContentRange = %q", got)
	}
}

func TestNoneMatch(t *testing.T) {
	const tag = `"abc"`
	tests := []struct {
		h    string
		want bool
	}{
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`*`, true},
		{`"x", "abc"`, true},
		{`"x","abc"`, true},
		{`"a,b", "abc"`, true},
		{`"abd"`, false},
		{`abc`, false},
		{`"x"`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := NoneMatch(tt.h, tag); got != tt.want {
			t.Errorf("NoneMatch(%q) = %v, want %v", tt.h, got, tt.want)
		}
	}
	if NoneMatch("*", "") {
		t.Error("NoneMatch with no etag matched")
	}
}

func TestIfRangeMatches(t *testing.T) {
	if !IfRangeMatches(`"abc"`, `"abc"`) || IfRangeMatches(`W/"abc"`, `"abc"`) || IfRangeMatches(`"abd"`, `"abc"`) ||
		IfRangeMatches("Wed, 21 Oct 2015 07:28:00 GMT", `"abc"`) {
		t.Error("IfRangeMatches")
	}
}

func TestETagFromDigest(t *testing.T) {
	sum := make([]byte, 32)
	sum[0], sum[15], sum[16] = 0xab, 0x01, 0xff
	if got := ETagFromDigest(sum); got != `"ab000000000000000000000000000001"` {
		t.Errorf("ETagFromDigest = %s", got)
	}
}

func TestContentType(t *testing.T) {
	tests := map[string]string{
		"index.html":                       "text/html; charset=utf-8",
		"alibi.js":                         "text/javascript; charset=utf-8",
		"worker.MJS":                       "text/javascript; charset=utf-8",
		"alibi.wasm":                       "application/wasm",
		"kernels.wasm":                     "application/wasm",
		"models/x/manifest.json":           "application/json",
		"manifest.webmanifest":             "application/manifest+json",
		"alibi.d.ts":                       "text/plain; charset=utf-8",
		"icon.svg":                         "image/svg+xml",
		"icon-192.png":                     "image/png",
		"models/x/model.safetensors":       "application/octet-stream",
		"models/x/model.safetensors.000":   "application/octet-stream",
		"README":                           "application/octet-stream",
		"style.css":                        "text/css; charset=utf-8",
		"models/x/tokenizer.json":          "application/json",
		"models/x/generation_config.json":  "application/json",
		"models/x/model.Q8.gguf":           "application/octet-stream",
		"favicon.ico":                      "image/x-icon",
		"models/brown-bloom/config.json":   "application/json",
		"models/brown-bloom/manifest.json": "application/json",
	}
	for name, want := range tests {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestPolicyHeaders(t *testing.T) {
	tests := []struct {
		name, query string
		cache       string
		cors        bool
	}{
		{"index.html", "", CacheShort, false},
		{"index.html", "v=123", CacheShort, false},
		{"alibi.js", "", CacheShort, false},
		{"alibi.js", "v=3fa92c1b", CacheImmutable, false},
		{"alibi.3fa92c1b.wasm", "", CacheImmutable, false},
		{"models/b/manifest.json", "", CacheShort, true},
		{"models/b/model.safetensors.000", "", CacheShort, true},
		{"models/b/model.safetensors.000.9f2c61d0e4", "", CacheImmutable, true},
		{"models/b/9f2c61d0e4aa.bin", "", CacheImmutable, true},
		{"models/b/model-00001-of-00003.safetensors", "", CacheShort, true},
		{"models/b/deadbee.bin", "", CacheShort, true},
	}
	for _, tt := range tests {
		h := http.Header{}
		q, _ := url.ParseQuery(tt.query)
		Policy{}.SetFileHeaders(h, tt.name, q)
		if got := h.Get("Cache-Control"); got != tt.cache {
			t.Errorf("%s?%s: Cache-Control %q, want %q", tt.name, tt.query, got, tt.cache)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: nosniff missing", tt.name)
		}
		if tt.cors {
			if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Cross-Origin-Resource-Policy") != "cross-origin" || h.Get("Cross-Origin-Embedder-Policy") != "" {
				t.Errorf("%s: CORS headers %v", tt.name, h)
			}
		} else if h.Get("Cross-Origin-Opener-Policy") != "same-origin" || h.Get("Cross-Origin-Embedder-Policy") != "require-corp" ||
			h.Get("Cross-Origin-Resource-Policy") != "same-origin" || h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: isolation headers %v", tt.name, h)
		}
	}
	custom := Policy{CORS: func(string) bool { return true }, Immutable: func(string, url.Values) bool { return true }}
	h := http.Header{}
	custom.SetFileHeaders(h, "index.html", nil)
	if h.Get("Cache-Control") != CacheImmutable || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("custom policy ignored: %v", h)
	}
	// A development server: every file isolated and readable from anywhere.
	all := func(string) bool { return true }
	dev := Policy{CORS: all, Isolate: all, ShortCache: "no-cache"}
	for _, name := range []string{"index.html", "models/b/manifest.json", "alibi.3fa92c1b.wasm"} {
		h := http.Header{}
		dev.SetFileHeaders(h, name, nil)
		want := "no-cache"
		if name == "alibi.3fa92c1b.wasm" {
			want = CacheImmutable
		}
		if h.Get("Cache-Control") != want || h.Get("Cross-Origin-Opener-Policy") != "same-origin" ||
			h.Get("Cross-Origin-Embedder-Policy") != "require-corp" || h.Get("Cross-Origin-Resource-Policy") != "cross-origin" ||
			h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("dev policy, %s: %v", name, h)
		}
	}
}
