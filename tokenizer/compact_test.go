package tokenizer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// loadCompactOf loads the compact form of the named conformance tokenizer, or returns nil when it
// has none (not BPE).
func loadCompactOf(t *testing.T, name string) (*Tokenizer, *Tokenizer, []byte) {
	t.Helper()
	tk, data := loadNamed(t, name)
	c, err := tk.Compact(data)
	if errors.Is(err, ErrNotCompactable) {
		if _, ok := tk.model.(*bpe); ok {
			t.Fatalf("%s: a BPE tokenizer has no compact form", name)
		}
		return tk, nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(filepath.Dir(tokenizerPath(name)), "tokenizer_config.json"))
	ct, err := LoadCompact(c, cfg)
	if err != nil {
		t.Fatalf("LoadCompact: %v", err)
	}
	return tk, ct, c
}

// TestCompactSameTokenizer: for every conformance tokenizer with a BPE model, the tokenizer read
// from its compact form encodes and decodes the corpus as the one read from tokenizer.json, and
// has the same vocabulary, special tokens and bos/eos.
func TestCompactSameTokenizer(t *testing.T) {
	corpus := readCorpus(t)
	step := 1
	if runtime.GOARCH == "wasm" {
		step = 7 // the real tokenizers are slow to load and run under js/wasm
	}
	compacted := 0
	for _, name := range goldenNames(t) {
		t.Run(name, func(t *testing.T) {
			tk, ct, c := loadCompactOf(t, name)
			if ct == nil {
				return
			}
			compacted++
			_, data := loadNamed(t, name)
			t.Logf("%s: tokenizer.json %d bytes, compact %d", name, len(data), len(c))
			if !slices.Equal(tk.tokens, ct.tokens) || !slices.Equal(tk.valid, ct.valid) || !slices.Equal(tk.special, ct.special) {
				t.Fatal("id tables differ")
			}
			if tk.bos != ct.bos || tk.eos != ct.eos || tk.VocabSize() != ct.VocabSize() {
				t.Fatalf("bos/eos/vocab %d %d %d, want %d %d %d", ct.bos, ct.eos, ct.VocabSize(), tk.bos, tk.eos, tk.VocabSize())
			}
			for i := 0; i < len(corpus); i += step {
				text := corpus[i]
				for _, add := range []bool{false, true} {
					want, err1 := tk.Encode(text, add)
					got, err2 := ct.Encode(text, add)
					if (err1 == nil) != (err2 == nil) || !slices.Equal(got, want) {
						t.Fatalf("encode(%q, %v): %v %v, want %v %v", short(text), add, got, err2, want, err1)
					}
					if !add {
						continue
					}
					for _, skip := range []bool{false, true} {
						w, _ := tk.Decode(want, skip)
						if g, _ := ct.Decode(want, skip); g != w {
							t.Fatalf("decode(%q, %v) = %q, want %q", short(text), skip, g, w)
						}
					}
				}
			}
		})
	}
	if compacted < 5 {
		t.Fatalf("only %d tokenizers had a compact form", compacted)
	}
}

func bloomFixture(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures", "bloom", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func compactOf(t testing.TB, data []byte) []byte {
	t.Helper()
	tk, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Compact(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompactRefuses(t *testing.T) {
	uni, err := os.ReadFile(tokenizerPath("unigram"))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := Load(uni)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Compact(uni); !errors.Is(err, ErrNotCompactable) {
		t.Fatalf("unigram: %v, want ErrNotCompactable", err)
	}
	data := bloomFixture(t)
	tk, err = Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Compact(append([]byte(" "), data...)); err == nil || !strings.Contains(err.Error(), "not the tokenizer.json") {
		t.Fatalf("other src: %v", err)
	}
	// A tokenizer loaded from its compact form has none of its own.
	ct, err := LoadCompact(compactOf(t, data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ct.Compact(data); !errors.Is(err, ErrNotCompactable) {
		t.Fatalf("compact-loaded: %v", err)
	}
	// continuing_subword_prefix after the merges: the main pass resolved the merges without it and
	// the model read them again, so they are not the main pass's table.
	bp, err := os.ReadFile(tokenizerPath("bpe-prefix"))
	if err != nil {
		t.Fatal(err)
	}
	moved := movePrefixLast(t, bp)
	tk, err = Load(moved)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Compact(moved); !errors.Is(err, ErrNotCompactable) {
		t.Fatalf("prefix after merges: %v, want ErrNotCompactable", err)
	}
	// The usual order compacts, and keeps the prefix.
	tk, err = Load(bp)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Compact(bp)
	if err != nil {
		t.Fatal(err)
	}
	ct, err = LoadCompact(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustEncode(t, ct, "unbelievable tokens"), mustEncode(t, tk, "unbelievable tokens"); !slices.Equal(got, want) {
		t.Fatalf("bpe-prefix: %v, want %v", got, want)
	}
}

func mustEncode(t *testing.T, tk *Tokenizer, s string) []int {
	t.Helper()
	ids, err := tk.Encode(s, false)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// movePrefixLast rewrites a tokenizer.json so that model.continuing_subword_prefix comes after
// model.merges.
func movePrefixLast(t *testing.T, data []byte) []byte {
	t.Helper()
	root, err := parseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	mo := root.get("model")
	pi := mo.index("continuing_subword_prefix")
	mi := mo.index("merges")
	if pi < 0 || mi < 0 || pi > mi {
		t.Fatalf("bpe-prefix fixture: prefix at %d, merges at %d", pi, mi)
	}
	key := []byte(`"continuing_subword_prefix"`)
	i := bytes.Index(data, key)
	j := i + bytes.IndexByte(data[i:], ',') + 1 // the member and its comma
	member := bytes.TrimSpace(data[i : j-1])
	rest := append(append([]byte{}, data[:i]...), data[j:]...)
	k := bytes.LastIndexByte(rest, '}')    // end of the document
	k = bytes.LastIndexByte(rest[:k], '}') // end of the model object
	out := append(append(append(append([]byte{}, rest[:k]...), ',', ' '), member...), rest[k:]...)
	if _, err := parseJSON(out); err != nil {
		t.Fatalf("rewritten fixture: %v\n%s", err, out)
	}
	return out
}

func TestLoadCompactErrors(t *testing.T) {
	good := compactOf(t, bloomFixture(t))
	if _, err := LoadCompact(good, nil); err != nil {
		t.Fatal(err)
	}
	// Every truncation is an error, never a panic.
	for n := 0; n < len(good); n += 1 + n/64 {
		if _, err := LoadCompact(good[:n], nil); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	le := binary.LittleEndian
	jsonLen := int(le.Uint32(good[12:]))
	prefixAt := 16 + jsonLen
	vocabAt := prefixAt + 4 + int(le.Uint32(good[prefixAt:]))
	nv := int(le.Uint32(good[vocabAt:]))
	arena := 0
	for i := 0; i < nv; i++ {
		arena += int(le.Uint32(good[vocabAt+4+8*i+4:]))
	}
	mergesAt := vocabAt + 4 + 8*nv + arena
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"magic", "bad magic", mutate(func(b []byte) []byte { b[0] = 'x'; return b })},
		{"version", "version 2", mutate(func(b []byte) []byte { le.PutUint32(b[8:], 2); return b })},
		{"json length", "truncated", mutate(func(b []byte) []byte { le.PutUint32(b[12:], 1<<31); return b })},
		{"vocab count", "truncated", mutate(func(b []byte) []byte { le.PutUint32(b[vocabAt:], 1<<30); return b })},
		{"token length", "truncated", mutate(func(b []byte) []byte { le.PutUint32(b[vocabAt+8:], 1<<31); return b })},
		{"vocab id", "vocab id", mutate(func(b []byte) []byte { le.PutUint32(b[vocabAt+4:], 1<<24); return b })},
		{"merge count", "truncated", mutate(func(b []byte) []byte { le.PutUint32(b[mergesAt:], 1<<29); return b })},
		{"merge id", "merge 0 names a token not in the vocab", mutate(func(b []byte) []byte { le.PutUint32(b[mergesAt+4+12:], 1<<30); return b })},
		{"merge rank", "merge 0: rank 2147483648 out of range", mutate(func(b []byte) []byte { le.PutUint32(b[mergesAt+4+8:], 1<<31); return b })},
		{"trailing", "trailing data", append(append([]byte{}, good...), 0)},
		{"json", "compact form: malformed JSON", mutate(func(b []byte) []byte { b[16] = '['; return b })},
		{"prefix", "a continuing_subword_prefix other than", mutate(func(b []byte) []byte {
			out := append([]byte{}, b[:prefixAt]...)
			out = le.AppendUint32(out, 2)
			out = append(out, "##"...)
			return append(out, b[prefixAt+4+int(le.Uint32(b[prefixAt:])):]...)
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCompact(tc.b, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzLoadCompact(f *testing.F) {
	good := compactOf(f, bloomFixture(f))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := LoadCompact(b, nil)
		if err != nil {
			return
		}
		ids, err := tk.Encode("Hello, world! 123 \u00e9t\u00e9", true)
		if err != nil {
			return
		}
		if _, err := tk.Decode(ids, false); err != nil {
			t.Fatalf("decode of its own ids: %v", err)
		}
	})
}

func TestAppendMinified(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"a\": [1, 2],\t\"b\" : null\r\n}", `{"a":[1,2],"b":null}`},
		{`{"pattern": " ?[^\\s]+ x", "q": "say \"hi there\" ", "e": "\\", "f": " "}`,
			`{"pattern":" ?[^\\s]+ x","q":"say \"hi there\" ","e":"\\","f":" "}`},
		{`  "ends": "x \\\" y"  `, `"ends":"x \\\" y"`},
	} {
		if got := string(appendMinified([]byte("<"), []byte(tc.in))); got != "<"+tc.want {
			t.Errorf("appendMinified(%q) = %q, want %q", tc.in, got, "<"+tc.want)
		}
	}
}
