package webdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "engine", "testdata", name)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	return dir
}

func TestConvertRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		chunk   int64
	}{
		{"bloom-f32-h4-l2", 10000},
		{"bloom-f32-h4-l2", 0},
		{"bloom-f16-h4-sharded", 4096},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			src := fixture(t, tc.fixture)
			out := t.TempDir()
			if err := Convert(src, out, tc.chunk, nil); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(out, ManifestName))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Read(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Model.Architecture != "bloom" || m.Model.Config != "config.json" || m.Model.Tokenizer != "tokenizer.json" {
				t.Fatalf("model %+v", m.Model)
			}
			sharded := strings.Contains(tc.fixture, "sharded")
			if sharded != (m.Model.Index != "") || (sharded && len(m.Files) < 2) {
				t.Fatalf("index %q, %d files", m.Model.Index, len(m.Files))
			}
			for _, f := range m.Files {
				orig, err := os.ReadFile(filepath.Join(src, f.Name))
				if err != nil {
					t.Fatal(err)
				}
				var joined []byte
				for _, c := range f.Chunks {
					// Content-addressed names: caches may keep them forever.
					if !strings.HasSuffix(c.Path, "."+c.SHA256[:12]) || !strings.HasPrefix(c.Path, f.Name+".") {
						t.Errorf("chunk %s of %s: name does not end with its hash %s", c.Path, f.Name, c.SHA256[:12])
					}
					cb, err := os.ReadFile(filepath.Join(out, c.Path))
					if err != nil {
						t.Fatal(err)
					}
					if s := sha256.Sum256(cb); hex.EncodeToString(s[:]) != c.SHA256 || int64(len(cb)) != c.Size {
						t.Fatalf("chunk %s: hash or size mismatch", c.Path)
					}
					if want := tc.chunk; want > 0 && c.Size > want {
						t.Fatalf("chunk %s: %d bytes > %d", c.Path, c.Size, want)
					}
					joined = append(joined, cb...)
				}
				if !bytes.Equal(joined, orig) {
					t.Fatalf("%s: chunks do not join to the original", f.Name)
				}
				if s := sha256.Sum256(orig); hex.EncodeToString(s[:]) != f.SHA256 {
					t.Fatalf("%s: file hash", f.Name)
				}
			}
			for _, n := range []string{"config.json", "tokenizer.json"} {
				if _, err := os.Stat(filepath.Join(out, n)); err != nil {
					t.Fatal(err)
				}
			}
			// Running again over the same output is fine (no stale temp files).
			if err := Convert(src, out, tc.chunk, nil); err != nil {
				t.Fatal(err)
			}
			tmps, _ := filepath.Glob(filepath.Join(out, "*.tmp"))
			if len(tmps) != 0 {
				t.Fatalf("temp files left: %v", tmps)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	src := fixture(t, "bloom-f32-h4-l2")
	if err := Convert(src, src, 0, nil); err == nil {
		t.Fatal("output = input: want error")
	}
	// A truncated safetensors file is refused.
	bad := t.TempDir()
	for _, n := range []string{"config.json", "tokenizer.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if n == "model.safetensors" {
			b = b[:len(b)*2/3]
		}
		if err := os.WriteFile(filepath.Join(bad, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Convert(bad, t.TempDir(), 0, nil); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated: %v", err)
	}
	// No weights at all.
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "config.json"), []byte(`{"model_type":"bloom"}`), 0o644)
	os.WriteFile(filepath.Join(empty, "tokenizer.json"), []byte(`{}`), 0o644)
	if err := Convert(empty, t.TempDir(), 0, nil); err == nil {
		t.Fatal("no weights: want error")
	}
}

func TestCheckSafetensors(t *testing.T) {
	mk := func(hdr string, data int) []byte {
		b := make([]byte, 8+len(hdr)+data)
		b[0] = byte(len(hdr))
		copy(b[8:], hdr)
		return b
	}
	tests := []struct {
		name string
		file []byte
		ok   bool
	}{
		{"ok", mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8), true},
		{"metadata", mk(`{"__metadata__":{"x":"y"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), true},
		{"short data", mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 7), false},
		{"bad json", mk(`{"a":`, 0), false},
		{"negative", mk(`{"a":{"data_offsets":[4,0]}}`, 8), false},
		{"tiny", []byte{1, 2, 3}, false},
		{"huge header", append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 16)...), false},
	}
	for _, tc := range tests {
		err := CheckSafetensors(bytes.NewReader(tc.file), int64(len(tc.file)), tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestReadRejects(t *testing.T) {
	for _, s := range []string{
		`{`,
		`{"format":"other","version":1}`,
		`{"format":"alibi-web","version":2}`,
		`{"format":"alibi-web","version":1,"files":[{"name":"m","size":10,"chunks":[{"path":"a","offset":0,"size":5}]}]}`,
		`{"format":"alibi-web","version":1,"files":[{"name":"m","size":10,"chunks":[{"path":"a","offset":1,"size":10}]}]}`,
	} {
		if _, err := Read([]byte(s)); err == nil {
			t.Errorf("Read(%s): want error", s)
		}
	}
}

func FuzzCheckSafetensors(f *testing.F) {
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"data_offsets\":[0,4]}}    \x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		CheckSafetensors(bytes.NewReader(b), int64(len(b)), "fuzz") // must not panic
	})
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"format":"alibi-web","version":1,"model":{"config":"config.json","tokenizer":"tokenizer.json"},"files":[{"name":"m","size":3,"chunks":[{"path":"m.000","offset":0,"size":3,"sha256":"x"}]}]}`))
	f.Add([]byte(`{"format":"alibi-web","version":1,"files":[{"name":"m","size":0,"chunks":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Read(b)
		if err != nil {
			return
		}
		for _, fl := range m.Files { // accepted manifests are contiguous
			var off int64
			for _, c := range fl.Chunks {
				if c.Offset != off || c.Size <= 0 {
					t.Fatalf("accepted a gap in %s", fl.Name)
				}
				off += c.Size
			}
			if off != fl.Size {
				t.Fatalf("accepted %s covering %d of %d", fl.Name, off, fl.Size)
			}
		}
	})
}
