package tokenizer

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func fixture(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tk, err := LoadDir("testdata/fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// minimal builds a tokenizer.json around a BPE model; parts override top-level keys.
func minimal(parts map[string]string) []byte {
	doc := map[string]string{
		"added_tokens":   `[{"id":0,"content":"<s>","special":true}]`,
		"normalizer":     "null",
		"pre_tokenizer":  `{"type":"ByteLevel","add_prefix_space":false}`,
		"post_processor": "null",
		"decoder":        `{"type":"ByteLevel"}`,
		"model":          `{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":["a b"]}`,
	}
	for k, v := range parts {
		doc[k] = v
	}
	var b strings.Builder
	b.WriteString("{")
	first := true
	for _, k := range []string{"added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"} {
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString(`"` + k + `":` + doc[k])
	}
	b.WriteString("}")
	return []byte(b.String())
}

func TestMinimal(t *testing.T) {
	tk, err := Load(minimal(nil))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tk.Encode("abab<s>a", true)
	if err != nil || !slices.Equal(ids, []int{3, 3, 0, 1}) {
		t.Fatalf("got %v, %v", ids, err)
	}
	if s, _ := tk.Decode(ids, true); s != "ababa" {
		t.Errorf("decode %q", s)
	}
	if id, ok := tk.TokenID("ab"); !ok || id != 3 {
		t.Errorf("TokenID(ab) = %d, %v", id, ok)
	}
	if tk.VocabSize() != 4 || string(tk.TokenBytes(3)) != "ab" {
		t.Errorf("VocabSize %d TokenBytes %q", tk.VocabSize(), tk.TokenBytes(3))
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", []byte(""), "malformed JSON"},
		{"truncated", []byte(`{"model": {"type": "BPE", "vocab": {"a": 1`), "malformed JSON"},
		{"not an object", []byte(`[1,2]`), "top level"},
		{"no model", []byte(`{"normalizer": null}`), "model: expected an object"},
		{"unknown pre-tokenizer", minimal(map[string]string{"pre_tokenizer": `{"type":"Sequence","pretokenizers":[{"type":"ByteLevel"},{"type":"Foo"}]}`}),
			`pre_tokenizer.pretokenizers[1].type: unknown "Foo"`},
		{"unknown normalizer", minimal(map[string]string{"normalizer": `{"type":"Sequence","normalizers":[{"type":"Bar"}]}`}),
			`normalizer.normalizers[0].type: unknown "Bar"`},
		{"unknown decoder", minimal(map[string]string{"decoder": `{"type":"Baz"}`}), `decoder.type: unknown "Baz"`},
		{"unknown post-processor", minimal(map[string]string{"post_processor": `{"type":"Qux"}`}), `post_processor.type: unknown "Qux"`},
		{"unknown model", minimal(map[string]string{"model": `{"type":"Magic","vocab":{}}`}), `model.type: unknown "Magic"`},
		{"missing type", minimal(map[string]string{"decoder": `{"prefix":"##"}`}), "decoder.type: missing"},
		{"merge unknown token", minimal(map[string]string{"model": `{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a c"]}`}),
			`model.merges[0]: merge refers to unknown token "c"`},
		{"merge result unknown", minimal(map[string]string{"model": `{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]}`}),
			`merged token "ab" is not in the vocab`},
		{"bad merge", minimal(map[string]string{"model": `{"type":"BPE","vocab":{"a":0},"merges":["a"]}`}), "not two tokens"},
		{"vocab id out of range", minimal(map[string]string{"model": `{"type":"BPE","vocab":{"a":-1},"merges":[]}`}), "out of range"},
		{"vocab id too large", minimal(map[string]string{"model": `{"type":"BPE","vocab":{"a":4294967296},"merges":[]}`}), "out of range"},
		{"vocab id not a number", minimal(map[string]string{"model": `{"type":"BPE","vocab":{"a":"x"},"merges":[]}`}), "expected an integer id"},
		{"added id out of range", minimal(map[string]string{"added_tokens": `[{"id":99999999999,"content":"x"}]`}), "out of range"},
		{"unigram unk out of range", minimal(map[string]string{"model": `{"type":"Unigram","unk_id":5,"vocab":[["a",-1.0]]}`}),
			"model.unk_id: id 5 out of range"},
		{"dropout", minimal(map[string]string{"model": `{"type":"BPE","dropout":0.1,"vocab":{},"merges":[]}`}), "dropout"},
		{"bad regex", minimal(map[string]string{"pre_tokenizer": `{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"}`}),
			"pre_tokenizer.pattern"},
		{"bad behavior", minimal(map[string]string{"pre_tokenizer": `{"type":"Split","pattern":{"String":"x"},"behavior":"Sideways"}`}),
			`pre_tokenizer.behavior: unknown "Sideways"`},
		{"template missing token", minimal(map[string]string{"post_processor": `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<bos>"}}],"special_tokens":{}}`}),
			`special token "<bos>" is not in special_tokens`},
		{"wrong field type", minimal(map[string]string{"pre_tokenizer": `{"type":"ByteLevel","add_prefix_space":"yes"}`}),
			"pre_tokenizer.add_prefix_space: expected a boolean"},
		{"invalid utf8", []byte("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xff\": 0}, \"merges\": []}}"), "invalid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "tokenizer: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestDecodeOutOfRange(t *testing.T) {
	tk := fixture(t, "bloom")
	if _, err := tk.Decode([]int{1, -1}, false); err == nil {
		t.Error("negative id accepted")
	}
	if _, err := tk.Decode([]int{tk.VocabSize()}, false); err == nil {
		t.Error("id == VocabSize accepted")
	}
	d := tk.NewDecoder(false)
	if _, err := d.Next(1 << 30); err == nil {
		t.Error("stream decoder accepted a bad id")
	}
}

func TestBOSEOS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bos, eos int
	}{{"bloom", 1, 2}, {"unigram", 1, 2}, {"wordpiece", 2, 3}, {"bpe-suffix", 0, 2}} {
		tk := fixture(t, tc.name)
		bos, ok1 := tk.BOS()
		eos, ok2 := tk.EOS()
		if !ok1 || !ok2 || bos != tc.bos || eos != tc.eos {
			t.Errorf("%s: BOS %d,%v EOS %d,%v; want %d, %d", tc.name, bos, ok1, eos, ok2, tc.bos, tc.eos)
		}
	}
}

func TestTokenBytes(t *testing.T) {
	tk := fixture(t, "bloom")
	ids, _ := tk.Encode("héllo 😀 world", false)
	var all []byte
	for _, id := range ids {
		all = append(all, tk.TokenBytes(id)...)
	}
	if string(all) != "héllo 😀 world" {
		t.Errorf("byte-level TokenBytes concatenation %q", all)
	}
	u := fixture(t, "unigram")
	id, ok := u.TokenID("<0xE2>")
	if !ok || !slices.Equal(u.TokenBytes(id), []byte{0xE2}) {
		t.Errorf("byte fallback token bytes %v", u.TokenBytes(id))
	}
	if u.TokenBytes(-1) != nil || u.TokenBytes(1<<30) != nil {
		t.Error("TokenBytes of a bad id is not nil")
	}
}

// The streaming decoder never emits partial UTF-8 and its pieces add up to Decode.
func TestStreamDecoder(t *testing.T) {
	for _, name := range []string{"bloom", "gpt2", "unigram", "unigram-b", "wordpiece", "bpe-prefix", "bpe-suffix", "wordlevel"} {
		tk := fixture(t, name)
		for _, text := range []string{"héllo 😀👨‍👩‍👧 wörld 日本語", "a\u0301\u0302 ", "ｆｕｌｌ", "\ufffd x \ufffd"} {
			ids, err := tk.Encode(text, true)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := tk.Decode(ids, false)
			d := tk.NewDecoder(false)
			var got strings.Builder
			for _, id := range ids {
				p, err := d.Next(id)
				if err != nil {
					t.Fatal(err)
				}
				if !utf8.ValidString(p) || strings.ContainsRune(p, '\uFFFD') && !strings.ContainsRune(want, '\uFFFD') {
					t.Errorf("%s: bad piece %q", name, p)
				}
				got.WriteString(p)
			}
			rest, _ := d.Flush()
			if got.String()+rest != want {
				t.Errorf("%s: stream %q != decode %q", name, got.String()+rest, want)
			}
		}
	}
}

func TestLossyUTF8(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "abc"},
		{"\xe2\x82", "\ufffd"},                 // truncated 3-byte sequence: one replacement
		{"\xe2\x82a", "\ufffda"},               // then ASCII
		{"\xff\xfe", "\ufffd\ufffd"},           // two invalid bytes
		{"\xf0\x9f\x98", "\ufffd"},             // truncated emoji
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"}, // surrogate: E0 ok? ED A0 is invalid -> 3
		{"\xc3", "\ufffd"},
		{"😀\xf0\x9f", "😀\ufffd"},
	} {
		if got := lossyUTF8([]byte(tc.in)); got != tc.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSerdeFloat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"0", 0}, {"-1.5", -1.5}, {"1e3", 1000}, {"-2.5E-3", -0.0025}, {"123", 123}, {"0.1", 0.1}} {
		got, err := serdeFloat(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("serdeFloat(%q) = %v, %v", tc.in, got, err)
		}
	}
	// 17 significant digits: u64 -> f64 rounding then one division, as serde_json does.
	got, _ := serdeFloat("-2.6882713079237357")
	if want := -float64(26882713079237357) / 1e16; got != want {
		t.Errorf("serdeFloat double rounding: got %v want %v", got, want)
	}
	for _, bad := range []string{"", "-", "01", "1.", "1e", "abc", "1.5x"} {
		if _, err := serdeFloat(bad); err == nil {
			t.Errorf("serdeFloat(%q) accepted", bad)
		}
	}
}

func TestLoadDirMissing(t *testing.T) {
	if _, err := LoadDir(t.TempDir()); err == nil {
		t.Error("LoadDir of an empty directory succeeded")
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/tokenizer.json", minimal(nil), 0o644)
	os.WriteFile(dir+"/tokenizer_config.json", []byte(`{"bos_token": {"content": "<s>"}, "eos_token": "b"}`), 0o644)
	tk, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := tk.BOS(); b != 0 {
		t.Errorf("BOS %d", b)
	}
	if e, _ := tk.EOS(); e != 2 {
		t.Errorf("EOS %d", e)
	}
}

// The two ways of reading model.vocab/model.merges (in the main pass, or from raw spans when the
// file's key order does not allow it) give the same tokenizer.
func TestModelReadPaths(t *testing.T) {
	defer func() { inlineModel = true }()
	corpus := readCorpus(t)
	for _, name := range []string{"bloom", "gpt2", "bpe-prefix", "bpe-suffix", "wordpiece", "wordlevel"} {
		data, err := os.ReadFile("testdata/fixtures/" + name + "/tokenizer.json")
		if err != nil {
			t.Fatal(err)
		}
		inlineModel = true
		a, err := Load(data)
		if err != nil {
			t.Fatal(err)
		}
		inlineModel = false
		b, err := Load(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range corpus[:100] {
			x, _ := a.Encode(s, true)
			y, _ := b.Encode(s, true)
			if !slices.Equal(x, y) {
				t.Fatalf("%s: %q: inline %v raw %v", name, s, x, y)
			}
		}
	}
	// merges before vocab, and a continuing_subword_prefix declared after the merges.
	doc := `{"model":{"type":"BPE","merges":["a ##b"],"vocab":{"a":0,"##b":1,"ab":2,"b":3},"continuing_subword_prefix":"##"},
		"pre_tokenizer":{"type":"Whitespace"}}`
	doc2 := `{"model":{"type":"BPE","vocab":{"a":0,"##b":1,"ab":2,"b":3},"merges":["a ##b"],"continuing_subword_prefix":"##"},
		"pre_tokenizer":{"type":"Whitespace"}}`
	for _, d := range []string{doc, doc2} {
		inlineModel = true
		tk, err := Load([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		if ids, _ := tk.Encode("ab", false); !slices.Equal(ids, []int{2}) {
			t.Errorf("prefix merge: %v", ids)
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	tk := fixture(t, "bloom")
	corpus := readCorpus(t)
	want := make([][]int, len(corpus))
	for i, s := range corpus {
		want[i], _ = tk.Encode(s, true)
	}
	fresh := fixture(t, "bloom")
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- true }()
			for i := g; i < len(corpus); i += 2 {
				got, _ := fresh.Encode(corpus[i], true)
				if !slices.Equal(got, want[i]) {
					t.Errorf("concurrent encode of %q differs", corpus[i])
				}
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

// TestSpecialSharedContent: an id whose token is the content of a special added token is special
// too, when the vocab maps that text to an id of its own as well as when the added token has it.
func TestSpecialSharedContent(t *testing.T) {
	tk, err := Load(minimal(map[string]string{
		"added_tokens": `[{"id":0,"content":"<s>","special":true},{"id":5,"content":"<x>","special":true},{"id":6,"content":"y","special":false}]`,
		"model":        `{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2,"ab":3,"<x>":4},"merges":["a b"]}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range []bool{true, false, false, false, true, true, false} {
		if got := tk.IsSpecial(id); got != want {
			t.Errorf("IsSpecial(%d) = %v, want %v", id, got, want)
		}
	}
	if s, _ := tk.Decode([]int{4, 1, 5, 2}, true); s != "ab" {
		t.Errorf("Decode skipping special = %q, want %q", s, "ab")
	}
}
