package tokenizer

// SentencePiece `tokenizer.model` support (Baichuan-13B, Llama-style and
// Replit checkpoints that ship no tokenizer.json): a reader for the
// ModelProto protobuf and its conversion into the equivalent tokenizer.json
// (as transformers' convert_slow_tokenizer does for SentencePiece models),
// which the package's BPE (with byte fallback) and Unigram models then run.
//
// sentencepiece_model.proto, the fields read:
//
//	ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//	                 NormalizerSpec normalizer_spec = 3; }
//	SentencePiece  { string piece = 1; float score = 2; Type type = 3; }
//	               Type: NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6
//	TrainerSpec    { ModelType model_type = 3 (UNIGRAM = 1, BPE = 2, WORD = 3, CHAR = 4);
//	                 bool treat_whitespace_as_suffix = 24; bool byte_fallback = 35;
//	                 int32 unk_id = 40; bos_id = 41; eos_id = 42; pad_id = 43; }
//	NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3;
//	                 bool remove_extra_whitespaces = 4; bool escape_whitespaces = 5; }
//
// Conversion (the SentencePiece encoder's behaviour, checked against the
// real library on models its trainer wrote: tokenizer/testdata/sentencepiece):
//   - remove_extra_whitespaces: runs of spaces collapse to one, leading and
//     trailing spaces go (normalizer Replace steps);
//   - add_dummy_prefix and escape_whitespaces: a Metaspace pre-tokenizer
//     (▁ for spaces, prepended to the text's start, no split);
//   - BPE: the vocabulary in id order and merges from every split (l, r) of
//     every piece whose halves are pieces, ranked by the piece's score
//     (higher first): SentencePiece merges the adjacent pair whose merged
//     piece scores highest; unknown characters become <0xXX> byte pieces with
//     byte_fallback, else the unk piece;
//   - Unigram: pieces with their scores (Viterbi), byte fallback likewise;
//   - CONTROL and UNKNOWN pieces are special added tokens, USER_DEFINED ones
//     plain added tokens matched before normalization;
//   - decoding: ▁ → space, byte pieces → bytes, the dummy prefix's space
//     dropped from the start.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SentencePiece piece types (sentencepiece_model.proto SentencePiece.Type).
const (
	PieceNormal      = 1
	PieceUnknown     = 2
	PieceControl     = 3
	PieceUserDefined = 4
	PieceUnused      = 5
	PieceByte        = 6
)

// SentencePiece model types (TrainerSpec.ModelType).
const (
	ModelUnigram = 1
	ModelBPE     = 2
	ModelWord    = 3
	ModelChar    = 4
)

// SentencePiecePiece is one entry of a SentencePiece vocabulary.
type SentencePiecePiece struct {
	Piece string
	Score float32
	Type  int
}

// SentencePieceModel is what the tokenizer uses of a SentencePiece
// ModelProto (tokenizer.model). Zero-valued fields that the proto does not
// carry take the proto's defaults.
type SentencePieceModel struct {
	Pieces                  []SentencePiecePiece
	ModelType               int // ModelUnigram (the proto default) or ModelBPE
	ByteFallback            bool
	TreatWhitespaceAsSuffix bool
	UnkID, BOSID, EOSID     int // -1 when disabled
	PadID                   int
	NormalizerName          string
	PrecompiledCharsmap     []byte
	AddDummyPrefix          bool // default true
	RemoveExtraWhitespaces  bool // default true
	EscapeWhitespaces       bool // default true
}

// errSP builds a SentencePiece format error.
func errSP(format string, args ...any) error {
	return fmt.Errorf("tokenizer: sentencepiece model: "+format, args...)
}

// pbReader walks protobuf wire-format fields.
type pbReader struct {
	b   []byte
	off int
}

func (r *pbReader) done() bool { return r.off >= len(r.b) }

func (r *pbReader) varint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, errSP("bad varint at byte %d", r.off)
	}
	r.off += n
	return v, nil
}

// field reads the next key: field number and wire type.
func (r *pbReader) field() (int, int, error) {
	k, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	num, wt := k>>3, int(k&7)
	if num == 0 || num > math.MaxInt32 {
		return 0, 0, errSP("bad field number %d at byte %d", num, r.off)
	}
	return int(num), wt, nil
}

func (r *pbReader) bytes() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, errSP("length %d at byte %d runs past the end (%d bytes)", n, r.off, len(r.b))
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out, nil
}

func (r *pbReader) fixed32() (uint32, error) {
	if len(r.b)-r.off < 4 {
		return 0, errSP("truncated fixed32 at byte %d", r.off)
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// skip skips a field's value of wire type wt.
func (r *pbReader) skip(wt int) error {
	switch wt {
	case 0:
		_, err := r.varint()
		return err
	case 1:
		if len(r.b)-r.off < 8 {
			return errSP("truncated fixed64 at byte %d", r.off)
		}
		r.off += 8
		return nil
	case 2:
		_, err := r.bytes()
		return err
	case 5:
		_, err := r.fixed32()
		return err
	}
	return errSP("unsupported wire type %d at byte %d", wt, r.off)
}

// want checks a known field's wire type.
func want(num, wt, w int) error {
	if wt != w {
		return errSP("field %d has wire type %d, want %d", num, wt, w)
	}
	return nil
}

// int32v reads a varint-encoded int32 (negative values are 10-byte varints).
func (r *pbReader) int32v() (int, error) {
	v, err := r.varint()
	return int(int32(v)), err
}

// ParseSentencePiece reads a SentencePiece ModelProto (a tokenizer.model
// file). Unknown fields are skipped; malformed input is an error, never a
// panic.
func ParseSentencePiece(data []byte) (*SentencePieceModel, error) {
	m := &SentencePieceModel{ModelType: ModelUnigram, UnkID: 0, BOSID: 1, EOSID: 2, PadID: -1,
		AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true}
	r := &pbReader{b: data}
	for !r.done() {
		num, wt, err := r.field()
		if err != nil {
			return nil, err
		}
		switch num {
		case 1, 2, 3:
			if err := want(num, wt, 2); err != nil {
				return nil, err
			}
			b, err := r.bytes()
			if err != nil {
				return nil, err
			}
			switch num {
			case 1:
				p, err := parsePiece(b)
				if err != nil {
					return nil, fmt.Errorf("%w (piece %d)", err, len(m.Pieces))
				}
				m.Pieces = append(m.Pieces, p)
			case 2:
				err = m.parseTrainer(b)
			case 3:
				err = m.parseNormalizer(b)
			}
			if err != nil {
				return nil, err
			}
		default:
			if err := r.skip(wt); err != nil {
				return nil, err
			}
		}
	}
	if len(m.Pieces) == 0 {
		return nil, errSP("no pieces")
	}
	for _, id := range []*int{&m.UnkID, &m.BOSID, &m.EOSID, &m.PadID} {
		if *id >= len(m.Pieces) || *id < 0 {
			*id = -1
		}
	}
	return m, nil
}

func parsePiece(b []byte) (SentencePiecePiece, error) {
	p := SentencePiecePiece{Type: PieceNormal}
	r := &pbReader{b: b}
	for !r.done() {
		num, wt, err := r.field()
		if err != nil {
			return p, err
		}
		switch num {
		case 1:
			if err := want(num, wt, 2); err != nil {
				return p, err
			}
			s, err := r.bytes()
			if err != nil {
				return p, err
			}
			p.Piece = string(s)
		case 2:
			if err := want(num, wt, 5); err != nil {
				return p, err
			}
			v, err := r.fixed32()
			if err != nil {
				return p, err
			}
			p.Score = math.Float32frombits(v)
		case 3:
			if err := want(num, wt, 0); err != nil {
				return p, err
			}
			v, err := r.int32v()
			if err != nil {
				return p, err
			}
			p.Type = v
		default:
			if err := r.skip(wt); err != nil {
				return p, err
			}
		}
	}
	if p.Type < PieceNormal || p.Type > PieceByte {
		return p, errSP("piece %q has unknown type %d", p.Piece, p.Type)
	}
	if math.IsNaN(float64(p.Score)) {
		return p, errSP("piece %q has a NaN score", p.Piece)
	}
	return p, nil
}

func (m *SentencePieceModel) parseTrainer(b []byte) error {
	r := &pbReader{b: b}
	for !r.done() {
		num, wt, err := r.field()
		if err != nil {
			return err
		}
		var dst *int
		var flag *bool
		switch num {
		case 3:
			dst = &m.ModelType
		case 40:
			dst = &m.UnkID
		case 41:
			dst = &m.BOSID
		case 42:
			dst = &m.EOSID
		case 43:
			dst = &m.PadID
		case 24:
			flag = &m.TreatWhitespaceAsSuffix
		case 35:
			flag = &m.ByteFallback
		default:
			if err := r.skip(wt); err != nil {
				return err
			}
			continue
		}
		if err := want(num, wt, 0); err != nil {
			return err
		}
		v, err := r.int32v()
		if err != nil {
			return err
		}
		if dst != nil {
			*dst = v
		} else {
			*flag = v != 0
		}
	}
	return nil
}

func (m *SentencePieceModel) parseNormalizer(b []byte) error {
	r := &pbReader{b: b}
	for !r.done() {
		num, wt, err := r.field()
		if err != nil {
			return err
		}
		switch num {
		case 1, 2:
			if err := want(num, wt, 2); err != nil {
				return err
			}
			s, err := r.bytes()
			if err != nil {
				return err
			}
			if num == 1 {
				m.NormalizerName = string(s)
			} else {
				m.PrecompiledCharsmap = append([]byte(nil), s...)
			}
		case 3, 4, 5:
			if err := want(num, wt, 0); err != nil {
				return err
			}
			v, err := r.varint()
			if err != nil {
				return err
			}
			*[]*bool{&m.AddDummyPrefix, &m.RemoveExtraWhitespaces, &m.EscapeWhitespaces}[num-3] = v != 0
		default:
			if err := r.skip(wt); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrSentencePieceUnsupported is wrapped by errors about valid SentencePiece
// models this package cannot reproduce exactly.
var ErrSentencePieceUnsupported = errors.New("unsupported")

// TokenizerJSON returns the tokenizer.json equivalent of the model.
// addBOS/addEOS select the post-processor's <s>/</s> (tokenizer_config.json
// add_bos_token / add_eos_token).
func (m *SentencePieceModel) TokenizerJSON(addBOS, addEOS bool) ([]byte, error) {
	unsup := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer: sentencepiece model: "+format+": %w", append(args, ErrSentencePieceUnsupported)...)
	}
	switch {
	case m.ModelType != ModelBPE && m.ModelType != ModelUnigram:
		return nil, unsup("model type %d (BPE and Unigram are supported)", m.ModelType)
	case len(m.PrecompiledCharsmap) > 0 && m.NormalizerName != "identity":
		return nil, unsup("normalizer %q with a precompiled charsmap", m.NormalizerName)
	case m.TreatWhitespaceAsSuffix:
		return nil, unsup("treat_whitespace_as_suffix")
	case !m.EscapeWhitespaces:
		return nil, unsup("escape_whitespaces = false")
	}
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedTokens []added
	seen := map[string]int{}
	for id, p := range m.Pieces {
		if prev, dup := seen[p.Piece]; dup {
			return nil, errSP("pieces %d and %d are both %q", prev, id, p.Piece)
		}
		seen[p.Piece] = id
		switch p.Type {
		case PieceControl, PieceUnknown:
			addedTokens = append(addedTokens, added{ID: id, Content: p.Piece, Special: true})
		case PieceUserDefined:
			addedTokens = append(addedTokens, added{ID: id, Content: p.Piece, Normalized: true})
		}
	}
	unk := ""
	if m.UnkID >= 0 {
		unk = m.Pieces[m.UnkID].Piece
	}
	var model map[string]any
	if m.ModelType == ModelBPE {
		vocab := make(map[string]int, len(m.Pieces))
		for id, p := range m.Pieces {
			vocab[p.Piece] = id
		}
		model = map[string]any{"type": "BPE", "dropout": nil, "unk_token": nilIfEmpty(unk),
			"continuing_subword_prefix": nil, "end_of_word_suffix": nil, "fuse_unk": true,
			"byte_fallback": m.ByteFallback, "ignore_merges": false, "vocab": vocab, "merges": m.bpeMerges()}
	} else {
		vocab := make([][2]any, len(m.Pieces))
		for id, p := range m.Pieces {
			vocab[id] = [2]any{p.Piece, float64(p.Score)}
		}
		model = map[string]any{"type": "Unigram", "unk_id": nilIfNeg(m.UnkID), "vocab": vocab, "byte_fallback": m.ByteFallback}
	}
	// The whole text is normalized as SentencePiece does (one segment
	// unless it holds special tokens): squeeze and strip spaces. User-defined
	// pieces are matched after that (normalized added tokens), then the
	// Metaspace pre-tokenizer turns spaces into ▁ and adds the dummy prefix
	// to the text's first piece only.
	var norms []any
	if m.RemoveExtraWhitespaces {
		// spaces only: the identity normalizer leaves tabs and newlines
		for _, rep := range [][2]string{{" {2,}", " "}, {"^ ", ""}, {" $", ""}} {
			norms = append(norms, map[string]any{"type": "Replace", "pattern": map[string]string{"Regex": rep[0]}, "content": rep[1]})
		}
	}
	if m.AddDummyPrefix {
		// The Metaspace pre-tokenizer below prepends ▁ to the text's first
		// piece unless it already starts with one; SentencePiece always adds
		// its dummy prefix, so a leading space is doubled first.
		norms = append(norms, map[string]any{"type": "Replace", "pattern": map[string]string{"Regex": "^ "}, "content": "  "})
	}
	var normalizer any
	if len(norms) > 0 {
		normalizer = map[string]any{"type": "Sequence", "normalizers": norms}
	}
	scheme := "never"
	if m.AddDummyPrefix {
		scheme = "first"
	}
	pre := map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": false}
	var decoders []any
	if unk != "" {
		// SentencePiece decodes the unknown piece as its unk_surface, " ⁇ ".
		decoders = append(decoders, map[string]any{"type": "Replace", "pattern": map[string]string{"String": unk}, "content": " \u2047 "})
	}
	decoders = append(decoders,
		map[string]any{"type": "Replace", "pattern": map[string]string{"String": "▁"}, "content": " "},
		map[string]any{"type": "ByteFallback"},
		map[string]any{"type": "Fuse"},
	)
	if m.AddDummyPrefix {
		decoders = append(decoders, map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0})
	}
	var post any
	if (addBOS && m.BOSID >= 0) || (addEOS && m.EOSID >= 0) {
		var single, pair []any
		special := map[string]any{}
		tok := func(id int) {
			s := m.Pieces[id].Piece
			single = append(single, map[string]any{"SpecialToken": map[string]any{"id": s, "type_id": 0}})
			pair = append(pair, map[string]any{"SpecialToken": map[string]any{"id": s, "type_id": 0}})
			special[s] = map[string]any{"id": s, "ids": []int{id}, "tokens": []string{s}}
		}
		if addBOS && m.BOSID >= 0 {
			tok(m.BOSID)
		}
		single = append(single, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}})
		pair = append(pair, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}})
		if addEOS && m.EOSID >= 0 {
			tok(m.EOSID)
		}
		pair = append(pair, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}})
		post = map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": special}
	}
	doc := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": addedTokens,
		"normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
		"decoder": map[string]any{"type": "Sequence", "decoders": decoders}, "model": model,
	}
	return json.Marshal(doc)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nilIfNeg(i int) any {
	if i < 0 {
		return nil
	}
	return i
}

// bpeMerges derives BPE merges from the pieces as transformers'
// SentencePieceExtractor does: every split (l, r) of a piece whose halves
// are pieces, ordered by the piece's score (highest first), then by the
// ids of l and r.
func (m *SentencePieceModel) bpeMerges() [][2]string {
	ids := make(map[string]int, len(m.Pieces))
	for id, p := range m.Pieces {
		if p.Type == PieceNormal || p.Type == PieceUserDefined {
			ids[p.Piece] = id
		}
	}
	type merge struct {
		l, r   string
		li, ri int
		score  float32
		id     int
	}
	var merges []merge
	for id, p := range m.Pieces {
		if p.Type != PieceNormal {
			continue
		}
		s := p.Piece
		for i := range s {
			if i == 0 {
				continue
			}
			li, okL := ids[s[:i]]
			ri, okR := ids[s[i:]]
			if okL && okR {
				merges = append(merges, merge{s[:i], s[i:], li, ri, p.Score, id})
			}
		}
	}
	sort.SliceStable(merges, func(a, b int) bool {
		x, y := merges[a], merges[b]
		if x.score != y.score {
			return x.score > y.score
		}
		if x.id != y.id {
			return x.id < y.id
		}
		if x.li != y.li {
			return x.li < y.li
		}
		return x.ri < y.ri
	})
	out := make([][2]string, len(merges))
	for i, mg := range merges {
		out[i] = [2]string{mg.l, mg.r}
	}
	return out
}

// LoadSentencePiece builds a Tokenizer from a SentencePiece tokenizer.model
// and, optionally, the checkpoint's tokenizer_config.json (add_bos_token,
// default true, and add_eos_token, default false, as Llama-style slow
// tokenizers; bos/eos names). Without a config, BOS and EOS are the
// model's bos_id/eos_id pieces.
func LoadSentencePiece(modelProto, tokenizerConfig []byte) (*Tokenizer, error) {
	m, err := ParseSentencePiece(modelProto)
	if err != nil {
		return nil, err
	}
	addBOS, addEOS := true, false
	if len(tokenizerConfig) > 0 {
		var tc map[string]json.RawMessage
		if err := json.Unmarshal(tokenizerConfig, &tc); err != nil {
			return nil, fmt.Errorf("tokenizer: tokenizer_config.json: %v", err)
		}
		for key, dst := range map[string]*bool{"add_bos_token": &addBOS, "add_eos_token": &addEOS} {
			if raw, ok := tc[key]; ok && string(raw) != "null" {
				if err := json.Unmarshal(raw, dst); err != nil {
					return nil, fmt.Errorf("tokenizer: tokenizer_config.json: %q = %s: want true or false", key, raw)
				}
			}
		}
	} else {
		cfg := map[string]string{}
		if m.BOSID >= 0 {
			cfg["bos_token"] = m.Pieces[m.BOSID].Piece
		}
		if m.EOSID >= 0 {
			cfg["eos_token"] = m.Pieces[m.EOSID].Piece
		}
		tokenizerConfig, _ = json.Marshal(cfg)
	}
	doc, err := m.TokenizerJSON(addBOS, addEOS)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(string(doc), "{") {
		return nil, errSP("internal: bad tokenizer.json")
	}
	return LoadWithConfig(doc, tokenizerConfig)
}

// SentencePieceFiles are the names checkpoints give their SentencePiece
// model, in the order LoadSentencePieceDir tries them (Baichuan and Llama
// style: tokenizer.model; T5 and Replit: spiece.model).
var SentencePieceFiles = []string{"tokenizer.model", "spiece.model"}

// LoadSentencePieceDir loads dir/tokenizer.model (or dir/spiece.model) with
// dir/tokenizer_config.json when present: for checkpoints without a
// tokenizer.json.
func LoadSentencePieceDir(dir string) (*Tokenizer, error) {
	var model []byte
	var err error
	for _, name := range SentencePieceFiles {
		if model, err = os.ReadFile(filepath.Join(dir, name)); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: no %s in %s: %w", strings.Join(SentencePieceFiles, " or "), dir, err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return LoadSentencePiece(model, cfg)
}
