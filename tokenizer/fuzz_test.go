package tokenizer

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func allMatches(m matcher, s string) [][2]int {
	var out [][2]int
	m.findAll(s, func(a, b int) { out = append(out, [2]int{a, b}) })
	return out
}

// handVsRegexp2 checks every hand-written matcher, and internal/onig, against regexp2 running
// the same pattern.
func handVsRegexp2(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		return // regexp2 and Oniguruma only ever see valid UTF-8 (Rust strings)
	}
	for pat, hand := range handMatchers {
		re, err := compileRegexp2(pat)
		if err != nil {
			t.Fatal(err)
		}
		on, err := compileOnig(pat)
		if err != nil {
			t.Fatal(err)
		}
		got, want := allMatches(hand, s), allMatches(re, s)
		if !slices.Equal(got, want) {
			t.Fatalf("pattern %q on %q:\nhand    %v\nregexp2 %v", pat, s, got, want)
		}
		if o := allMatches(on, s); !slices.Equal(o, want) {
			t.Fatalf("pattern %q on %q:\nonig    %v\nregexp2 %v", pat, s, o, want)
		}
	}
}

var interesting = []rune("aZé ßİſK'sStTrReEvVlLmMdD\t\n\r \u00a0\u3000\u2028\u0085 0129٣①½.,!?…。，、।۔،()|-/#😀👍🏽\u200d\u0301\u20dd\u0903中かカ한ǅʰ_$<>\"\\\ufffd")

func TestMatchersAgainstRegexp2(t *testing.T) {
	for _, s := range readCorpus(t) {
		handVsRegexp2(t, s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		n := rng.IntN(12)
		var b strings.Builder
		for k := 0; k < n; k++ {
			b.WriteRune(interesting[rng.IntN(len(interesting))])
		}
		handVsRegexp2(t, b.String())
	}
}

func FuzzMatchers(f *testing.F) {
	for _, s := range []string{"Hello world", "it's  \n\n x", "a\u0301b", "  123456 ", "(x)|y", "Ǆa'S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { handVsRegexp2(t, s) })
}

// Decode(Encode(s)) == s for byte-level tokenizers; no panic for any tokenizer on any string.
func FuzzEncodeDecode(f *testing.F) {
	names := []string{"bloom", "gpt2", "unigram", "unigram-b", "wordpiece", "bpe-prefix", "bpe-suffix", "wordlevel"}
	toks := map[string]*Tokenizer{}
	for _, n := range names {
		toks[n] = fixture(f, n)
	}
	for _, s := range []string{"Hello world", "😀 <s> é", "\xff\xfe", "  \n\t", "a\u0301", "</s><s>", "ǅ 1234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range names {
			tk := toks[n]
			for _, add := range []bool{false, true} {
				ids, err := tk.Encode(s, add)
				if err != nil {
					continue // e.g. a unigram piece without unk: reported, not panicking
				}
				got, err := tk.Decode(ids, true)
				if err != nil {
					t.Fatalf("%s: decode of own ids: %v", n, err)
				}
				if (n == "bloom" || n == "gpt2") && utf8.ValidString(s) && !add {
					if n == "gpt2" && !strings.HasPrefix(s, " ") {
						got = strings.TrimPrefix(got, " ") // add_prefix_space
					}
					if got != s && !containsSpecialLiteral(tk, s) {
						t.Fatalf("%s: Decode(Encode(%q)) = %q", n, s, got)
					}
				}
			}
		}
	})
}

func containsSpecialLiteral(tk *Tokenizer, s string) bool {
	for _, a := range tk.added {
		if a.special && strings.Contains(s, a.content) {
			return true
		}
	}
	return false
}

// Load never panics, whatever the bytes.
func FuzzLoad(f *testing.F) {
	f.Add(minimal(nil))
	f.Add([]byte(`{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1],["<unk>",0]]},"pre_tokenizer":{"type":"Metaspace"}}`))
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1}},"normalizer":{"type":"BertNormalizer"}}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0}},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"[^(\\s|[.,])]+"},"behavior":"Isolated"}}`))
	f.Add([]byte(`{"model":{"type":"BPE","merges":["a ##b"],"vocab":{"a":0,"##b":1,"ab":2},"continuing_subword_prefix":"##"}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]],"byte_fallback":true,"unk_token":"a"},` +
		`"added_tokens":[{"id":5,"content":"<x>","lstrip":true,"rstrip":true,"single_word":true}],` +
		`"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Strip","content":" ","start":1,"stop":1}]}}`))
	if data, err := os.ReadFile("testdata/fixtures/bpe-suffix/tokenizer.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Load(data)
		if err != nil {
			return
		}
		for _, s := range []string{"hello world", "😀 a\u0301 123", "", "\xff"} {
			ids, err := tk.Encode(s, true)
			if err == nil {
				tk.Decode(ids, false)
			}
		}
		tk.Decode([]int{0, 1, 2}, true)
	})
}

// The streaming decoder's pieces add up to Decode for any id sequence, and no piece splits a
// UTF-8 sequence.
func FuzzStreamDecoder(f *testing.F) {
	names := []string{"bloom", "gpt2", "unigram", "unigram-b", "wordpiece", "bpe-prefix", "bpe-suffix", "wordlevel", "metaspace"}
	toks := make([]*Tokenizer, len(names))
	for i, n := range names {
		toks[i] = fixture(f, n)
	}
	f.Add([]byte{0, 1, 2, 3, 200, 201}, uint8(0), false)
	f.Add([]byte{9, 9, 9, 250, 4, 17}, uint8(2), true)
	f.Fuzz(func(t *testing.T, raw []byte, which uint8, skip bool) {
		tk := toks[int(which)%len(toks)]
		ids := make([]int, 0, len(raw)/2)
		for i := 0; i+1 < len(raw); i += 2 {
			ids = append(ids, (int(raw[i])<<8|int(raw[i+1]))%tk.VocabSize())
		}
		want, err := tk.Decode(ids, skip)
		if err != nil {
			t.Fatal(err)
		}
		d := tk.NewDecoder(skip)
		var got strings.Builder
		for _, id := range ids {
			p, err := d.Next(id)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.ValidString(p) {
				t.Fatalf("invalid UTF-8 piece %q", p)
			}
			got.WriteString(p)
		}
		rest, err := d.Flush()
		if err != nil {
			t.Fatal(err)
		}
		if got.String()+rest != want {
			t.Fatalf("%s: stream %q != decode %q (ids %v)", names[int(which)%len(names)], got.String()+rest, want, ids)
		}
	})
}
