package webserve

import (
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"
)

func TestResolvePath(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = ErrBadPath
	}{
		{"/", "index.html"},
		{"/index.html", "index.html"},
		{"/alibi.wasm", "alibi.wasm"},
		{"/models/brown-bloom/manifest.json", "models/brown-bloom/manifest.json"},
		{"/models/brown-bloom/", "models/brown-bloom/index.html"},
		{"/models/brown-bloom/model.safetensors.000", "models/brown-bloom/model.safetensors.000"},
		{"/caf\u00e9.txt", "caf\u00e9.txt"},
		{"", ""},
		{"index.html", ""},
		{"/..", ""},
		{"/../etc/passwd", ""},
		{"/models/../../etc/passwd", ""},
		{"/models/..", ""},
		{"/./index.html", ""},
		{"/a/./b", ""},
		{"/%2e%2e/etc/passwd", ""},
		{"/%2E%2E/", ""},
		{"/%252e%252e/etc/passwd", ""},
		{"/..%2fetc/passwd", ""},
		{"/..\\etc\\passwd", ""},
		{"/models\\..\\..\\secret", ""},
		{"/index.html\x00.png", ""},
		{"/a\nb", ""},
		{"/a\x7fb", ""},
		{"//etc/passwd", ""},
		{"/a//b", ""},
		{"/C:/Windows/win.ini", ""},
		{"/c:\\boot.ini", ""},
		{"/.git/config", ""},
		{"/.env", ""},
		{"/models/.hidden", ""},
		{"/\xff\xfe", ""},
		{"/\uFFFD", ""},
		{"/" + strings.Repeat("a", 2000), ""},
	}
	for _, tt := range tests {
		got, err := ResolvePath(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrBadPath) {
				t.Errorf("ResolvePath(%q) = %q, %v; want ErrBadPath", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolvePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestResolvePathDecoded feeds paths through net/url's decoding, as a server
// does, so that percent-encoded escapes are covered end to end.
func TestResolvePathDecoded(t *testing.T) {
	for _, raw := range []string{
		"/%2e%2e/etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/models/%2e%2e/%2e%2e/x",
		"/%5c..%5cetc", "/index.html%00", "/%2fetc/passwd", "/..%c0%afetc", "/%c0%ae%c0%ae/x",
		"/%252e%252e/x", "/.%2e/x", "/%2e/x",
	} {
		u, err := url.Parse("http://h" + raw)
		if err != nil {
			continue // a server would reject it before routing
		}
		if got, err := ResolvePath(u.Path); err == nil {
			t.Errorf("ResolvePath(decode(%q) = %q) = %q; want ErrBadPath", raw, u.Path, got)
		}
	}
}

func FuzzResolvePath(f *testing.F) {
	for _, s := range []string{"/", "/index.html", "/models/a/b.000", "/../x", "/%2e%2e/x", "/a\\b", "/a\x00", "//x", "/.x", "/a/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ResolvePath(in)
		if err != nil {
			if got != "" {
				t.Fatalf("ResolvePath(%q) returned %q with error %v", in, got, err)
			}
			return
		}
		if !fs.ValidPath(got) {
			t.Fatalf("ResolvePath(%q) = %q: not a valid fs path", in, got)
		}
		for _, elem := range strings.Split(got, "/") {
			if elem == ".." || elem == "." || elem == "" || strings.HasPrefix(elem, ".") {
				t.Fatalf("ResolvePath(%q) = %q: bad element %q", in, got, elem)
			}
		}
		if strings.ContainsAny(got, "\\\x00%:") {
			t.Fatalf("ResolvePath(%q) = %q: forbidden byte", in, got)
		}
		if got != strings.TrimPrefix(in, "/") && got != strings.TrimPrefix(in, "/")+"index.html" {
			t.Fatalf("ResolvePath(%q) = %q: not the request path", in, got)
		}
	})
}
