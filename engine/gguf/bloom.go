package gguf

import (
	"encoding/json"
	"fmt"
	"github.com/c9e48c40/alibi/engine/safetensors"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// SourceTensor is one tensor of a Hugging Face checkpoint, as stored in safetensors.
type SourceTensor struct {
	Name  string // as in the checkpoint, with or without the "transformer." prefix
	DType string // "F32", "F16" or "BF16"
	Shape []int  // row-major, as in the safetensors header
	// Data holds the little-endian bytes; when nil, Load is called once, when
	// the tensor is written, so a converter can stream a large checkpoint.
	Data []byte
	Load func() ([]byte, error)
}

func (t *SourceTensor) bytes() ([]byte, error) {
	if t.Data != nil {
		return t.Data, nil
	}
	if t.Load == nil {
		return nil, invalid("source tensor %q has no data", t.Name)
	}
	return t.Load()
}

// ConvertOptions tunes ConvertBLOOM.
type ConvertOptions struct {
	// FileType selects the type of the 2-D weights: FileTypeF32 (default),
	// FileTypeF16 or FileTypeQ8_0. Norms and biases are always F32, and a Q8_0
	// weight whose rows are not a multiple of 32 falls back to F16, as in llama.cpp.
	FileType FileType
	// Name is written as general.name when not empty.
	Name string
	// TokenizerConfig is the optional tokenizer_config.json: its bos/eos/unk/pad
	// token strings and add_bos_token/add_eos_token are used like gguf-py's SpecialVocab.
	TokenizerConfig []byte
}

// Metadata keys written for BLOOM (llama.cpp llama-arch.cpp LLM_KV_NAMES).
const (
	KeyArchitecture        = "general.architecture"
	KeyType                = "general.type"
	KeyName                = "general.name"
	KeyFileType            = "general.file_type"
	KeyQuantizationVersion = "general.quantization_version"
	KeyTokenizerModel      = "tokenizer.ggml.model"
	KeyTokenizerPre        = "tokenizer.ggml.pre"
	KeyTokens              = "tokenizer.ggml.tokens"
	KeyTokenType           = "tokenizer.ggml.token_type"
	KeyMerges              = "tokenizer.ggml.merges"
)

// Token types (llama.cpp llama_token_type / gguf-py TokenType).
const (
	TokenNormal      int32 = 1
	TokenUnknown     int32 = 2
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
	TokenByte        int32 = 6
)

// QuantizationVersion is GGML_QNT_VERSION, written as general.quantization_version.
const QuantizationVersion = 2

// BLOOMConfig is what the conversion reads from config.json.
type BLOOMConfig struct {
	Hidden, Heads, Layers, Vocab int
	ContextLength                int // seq_length, or the hidden size when absent (llama.cpp quirk)
	LayerNormEps                 float64
	SpecialIDs                   map[string]int // bos, eos, unk, sep, pad, cls, mask from *_token_id
}

func firstKey(m map[string]json.RawMessage, keys ...string) (string, json.RawMessage) {
	for _, k := range keys {
		if v, ok := m[k]; ok && string(v) != "null" {
			return k, v
		}
	}
	return "", nil
}

func intKey(m map[string]json.RawMessage, required bool, keys ...string) (int, bool, error) {
	k, raw := firstKey(m, keys...)
	if raw == nil {
		if required {
			return 0, false, invalid("config.json has none of %s", strings.Join(keys, ", "))
		}
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < 0 || f > 1<<31 {
		return 0, false, invalid("config.json %s = %s: want a non-negative integer", k, raw)
	}
	return int(f), true, nil
}

// requiredInts reads one required integer per key; a key may list
// alternative spellings separated by "|" (the first present is used).
func requiredInts(m map[string]json.RawMessage, keys ...string) ([]int, error) {
	out := make([]int, len(keys))
	for i, k := range keys {
		v, _, err := intKey(m, true, strings.Split(k, "|")...)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ParseBLOOMConfig reads the hyper-parameters the converter needs, accepting
// the key aliases llama.cpp and transformers accept (hidden_size/n_embed,
// n_head/num_attention_heads, n_layer/num_hidden_layers).
func ParseBLOOMConfig(configJSON []byte) (*BLOOMConfig, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(configJSON, &m); err != nil {
		return nil, invalid("config.json: %v", err)
	}
	c := &BLOOMConfig{SpecialIDs: map[string]int{}}
	var err error
	if c.Hidden, _, err = intKey(m, true, "hidden_size", "n_embed"); err != nil {
		return nil, err
	}
	if c.Heads, _, err = intKey(m, true, "n_head", "num_attention_heads"); err != nil {
		return nil, err
	}
	if c.Layers, _, err = intKey(m, true, "n_layers", "num_hidden_layers", "n_layer", "num_layers"); err != nil {
		return nil, err
	}
	if c.Vocab, _, err = intKey(m, false, "vocab_size"); err != nil {
		return nil, err
	}
	var ok bool
	if c.ContextLength, ok, err = intKey(m, false, "seq_length"); err != nil {
		return nil, err
	} else if !ok {
		c.ContextLength = c.Hidden // convert_hf_to_gguf.py: hparams.get("seq_length", n_embed)
	}
	c.LayerNormEps = 1e-5 // BloomConfig default
	if raw, ok := m["layer_norm_epsilon"]; ok {
		if err := json.Unmarshal(raw, &c.LayerNormEps); err != nil || !(c.LayerNormEps > 0) || c.LayerNormEps > 1 {
			return nil, invalid("config.json layer_norm_epsilon = %s: want a small positive number", raw)
		}
	}
	if c.Hidden == 0 || c.Heads == 0 || c.Layers == 0 {
		return nil, invalid("config.json: hidden size %d, heads %d and layers %d must be positive", c.Hidden, c.Heads, c.Layers)
	}
	if c.Hidden%c.Heads != 0 {
		return nil, invalid("config.json: hidden size %d is not a multiple of the head count %d", c.Hidden, c.Heads)
	}
	if raw, ok := m["apply_residual_connection_post_layernorm"]; ok {
		var post bool
		if err := json.Unmarshal(raw, &post); err != nil {
			return nil, invalid("config.json apply_residual_connection_post_layernorm = %s: want a bool", raw)
		}
		if post {
			return nil, unsupported("config.json apply_residual_connection_post_layernorm = true: llama.cpp's bloom graph has no such option, the GGUF would compute different logits")
		}
	}
	for _, typ := range specialTypes {
		if id, ok, err := intKey(m, false, typ+"_token_id"); err == nil && ok {
			c.SpecialIDs[typ] = id
		}
	}
	return c, nil
}

// gguf-py SpecialVocab.special_token_types and the GGUF key of each.
var specialTypes = []string{"bos", "eos", "unk", "sep", "pad", "cls", "mask"}

var specialKeys = map[string]string{
	"bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
	"unk": "tokenizer.ggml.unknown_token_id", "sep": "tokenizer.ggml.seperator_token_id",
	"pad": "tokenizer.ggml.padding_token_id", "cls": "tokenizer.ggml.cls_token_id",
	"mask": "tokenizer.ggml.mask_token_id",
}

// bloomTensorMap maps HF names (without "transformer.") to GGUF names; {N} is the block.
var bloomTensorMap = map[string]string{
	"word_embeddings.weight":                      "token_embd.weight",
	"word_embeddings_layernorm.weight":            "token_embd_norm.weight",
	"word_embeddings_layernorm.bias":              "token_embd_norm.bias",
	"ln_f.weight":                                 "output_norm.weight",
	"ln_f.bias":                                   "output_norm.bias",
	"lm_head.weight":                              "output.weight",
	"h.{N}.input_layernorm.weight":                "blk.{N}.attn_norm.weight",
	"h.{N}.input_layernorm.bias":                  "blk.{N}.attn_norm.bias",
	"h.{N}.self_attention.query_key_value.weight": "blk.{N}.attn_qkv.weight",
	"h.{N}.self_attention.query_key_value.bias":   "blk.{N}.attn_qkv.bias",
	"h.{N}.self_attention.dense.weight":           "blk.{N}.attn_output.weight",
	"h.{N}.self_attention.dense.bias":             "blk.{N}.attn_output.bias",
	"h.{N}.post_attention_layernorm.weight":       "blk.{N}.ffn_norm.weight",
	"h.{N}.post_attention_layernorm.bias":         "blk.{N}.ffn_norm.bias",
	"h.{N}.mlp.dense_h_to_4h.weight":              "blk.{N}.ffn_up.weight",
	"h.{N}.mlp.dense_h_to_4h.bias":                "blk.{N}.ffn_up.bias",
	"h.{N}.mlp.dense_4h_to_h.weight":              "blk.{N}.ffn_down.weight",
	"h.{N}.mlp.dense_4h_to_h.bias":                "blk.{N}.ffn_down.bias",
}

var blockRe = regexp.MustCompile(`^h\.(\d+)\.(.*)$`)

// bloomGGUFName returns the GGUF name of an HF BLOOM tensor name and its block (-1 if none).
func bloomGGUFName(name string) (string, int, bool) {
	name = strings.TrimPrefix(name, "transformer.")
	if m := blockRe.FindStringSubmatch(name); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || strconv.Itoa(n) != m[1] {
			return "", 0, false
		}
		g, ok := bloomTensorMap["h.{N}."+m[2]]
		if !ok || g == "" {
			return "", 0, false
		}
		return strings.Replace(g, "{N}", m[1], 1), n, true
	}
	g, ok := bloomTensorMap[name]
	if !ok || g == "" {
		return "", 0, false
	}
	return g, -1, true
}

// expected row-major shapes of the HF tensors.
func bloomShape(gname string, c *BLOOMConfig) []int {
	h := c.Hidden
	parts := strings.Split(gname, ".")
	base := parts[len(parts)-2] + "." + parts[len(parts)-1]
	switch base {
	case "token_embd.weight", "output.weight":
		return []int{c.Vocab, h}
	case "attn_qkv.weight":
		return []int{3 * h, h}
	case "attn_qkv.bias":
		return []int{3 * h}
	case "attn_output.weight":
		return []int{h, h}
	case "ffn_up.weight":
		return []int{4 * h, h}
	case "ffn_up.bias":
		return []int{4 * h}
	case "ffn_down.weight":
		return []int{h, 4 * h}
	}
	return []int{h} // norms and the remaining biases
}

// tensorType follows convert_hf_to_gguf.py prepare_tensors for BLOOM.
func tensorType(gname string, shape []int, ft FileType) GGMLType {
	if len(shape) <= 1 || strings.HasSuffix(gname, "_norm.weight") || !strings.HasSuffix(gname, ".weight") {
		return F32
	}
	t := ft.TensorType()
	if t == Q8_0 && shape[len(shape)-1]%Q8Block != 0 {
		return F16 // gguf.QuantError -> "falling back to F16"
	}
	return t
}

func elemSize(dtype string) (int, error) {
	switch dtype {
	case "F32":
		return 4, nil
	case "F16", "BF16":
		return 2, nil
	}
	return 0, unsupported("source dtype %q (want F32, F16 or BF16)", dtype)
}

func toFloat32(dtype string, b []byte) []float32 {
	dt := safetensors.DType(dtype)
	out := make([]float32, len(b)*8/dt.Bits())
	if err := safetensors.DecodeFloat32(out, b, dt); err != nil {
		panic("gguf: " + err.Error()) // dtype and length were checked by the caller
	}
	return out
}

// ReorderQKV turns BLOOM's per-head interleaved fused QKV rows [H][3][d] into
// contiguous [Q(all heads); K; V], as convert_hf_to_gguf.py BloomModel.modify_tensors
// does for the weight (rows of rowBytes bytes) and the bias (rowBytes = element size).
func ReorderQKV(src []byte, heads, headDim, rowBytes int) []byte {
	h := heads * headDim
	dst := make([]byte, len(src))
	for hd := 0; hd < heads; hd++ {
		for p := 0; p < 3; p++ {
			for j := 0; j < headDim; j++ {
				from := (hd*3*headDim + p*headDim + j) * rowBytes
				to := (p*h + hd*headDim + j) * rowBytes
				copy(dst[to:to+rowBytes], src[from:from+rowBytes])
			}
		}
	}
	return dst
}

type tokAdded struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	Normalized bool   `json:"normalized"`
}

type tokJSON struct {
	AddedTokens []tokAdded `json:"added_tokens"`
	Model       struct {
		Type   string          `json:"type"`
		Vocab  map[string]int  `json:"vocab"`
		Merges json.RawMessage `json:"merges"`
	} `json:"model"`
}

// doesTokenLookSpecial mirrors convert_hf_to_gguf.py TextModel.does_token_look_special.
func doesTokenLookSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>")) ||
		(strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>")) ||
		(strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">"))
}

// BLOOMVocab is the tokenizer part of the GGUF (llama.cpp's gpt2 vocab).
type BLOOMVocab struct {
	Tokens    []string
	Types     []int32
	Merges    []string
	SpecialID map[string]int // bos, eos, ... as resolved
	AddBOS    *bool
	AddEOS    *bool
}

// BuildBLOOMVocab builds the token list as convert_hf_to_gguf.py get_vocab_base does:
// ids 0..vocabSize-1 from the tokenizer's vocab plus added tokens, added special
// tokens CONTROL, other added tokens USER_DEFINED, ids without a token "[PAD{i}]"
// UNUSED; merges as "a b" strings; special ids from tokenizer_config.json, then
// config.json, like gguf-py's SpecialVocab.
func BuildBLOOMVocab(tokenizerJSON []byte, vocabSize int, cfgIDs map[string]int, tokenizerConfig []byte) (*BLOOMVocab, error) {
	var tj tokJSON
	if err := json.Unmarshal(tokenizerJSON, &tj); err != nil {
		return nil, invalid("tokenizer.json: %v", err)
	}
	if tj.Model.Type != "BPE" {
		return nil, unsupported("tokenizer.json model type %q (BLOOM uses BPE)", tj.Model.Type)
	}
	rev := map[int]string{}
	maxID := -1
	for s, id := range tj.Model.Vocab {
		if id < 0 {
			return nil, invalid("tokenizer.json vocab %q has negative id %d", s, id)
		}
		if prev, dup := rev[id]; dup && prev != s {
			// deterministic choice for duplicated ids: the smaller string
			if s > prev {
				continue
			}
		}
		rev[id] = s
		maxID = max(maxID, id)
	}
	added := map[string]tokAdded{}
	for _, a := range tj.AddedTokens {
		if a.ID < 0 {
			return nil, invalid("tokenizer.json added token %q has negative id %d", a.Content, a.ID)
		}
		rev[a.ID] = a.Content
		added[a.Content] = a
		maxID = max(maxID, a.ID)
	}
	if vocabSize <= 0 {
		vocabSize = maxID + 1
	}
	if maxID >= vocabSize {
		return nil, invalid("tokenizer has id %d but the model's vocab_size is %d", maxID, vocabSize)
	}
	v := &BLOOMVocab{Tokens: make([]string, vocabSize), Types: make([]int32, vocabSize), SpecialID: map[string]int{}}
	for i := 0; i < vocabSize; i++ {
		s, ok := rev[i]
		switch {
		case !ok:
			v.Tokens[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), TokenUnused
		case added[s].Content == s && added[s].ID == i:
			v.Tokens[i] = s
			if added[s].Special || doesTokenLookSpecial(s) {
				v.Types[i] = TokenControl
			} else {
				v.Types[i] = TokenUserDefined
			}
		default:
			v.Tokens[i], v.Types[i] = s, TokenNormal
		}
	}
	// merges: ["a b", ...] or [["a", "b"], ...] (spaces inside parts encoded as U+0120, as gguf-py does)
	if len(tj.Model.Merges) > 0 && string(tj.Model.Merges) != "null" {
		var ss []string
		if err := json.Unmarshal(tj.Model.Merges, &ss); err == nil {
			v.Merges = ss
		} else {
			var pp [][]string
			if err := json.Unmarshal(tj.Model.Merges, &pp); err != nil {
				return nil, invalid("tokenizer.json merges: want strings or pairs of strings")
			}
			for i, p := range pp {
				if len(p) != 2 {
					return nil, invalid("tokenizer.json merge %d has %d parts", i, len(p))
				}
				v.Merges = append(v.Merges, strings.ReplaceAll(p[0], " ", "\u0120")+" "+strings.ReplaceAll(p[1], " ", "\u0120"))
			}
		}
	}
	setID := func(typ string, id int) {
		if _, done := v.SpecialID[typ]; !done && id >= 0 && id < vocabSize {
			v.SpecialID[typ] = id
		}
	}
	if len(tokenizerConfig) > 0 {
		var tc map[string]json.RawMessage
		if err := json.Unmarshal(tokenizerConfig, &tc); err != nil {
			return nil, invalid("tokenizer_config.json: %v", err)
		}
		for _, typ := range specialTypes {
			raw, ok := tc[typ+"_token"]
			if !ok {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				var obj struct {
					Content string `json:"content"`
				}
				if json.Unmarshal(raw, &obj) != nil {
					continue
				}
				s = obj.Content
			}
			if a, ok := added[s]; ok {
				setID(typ, a.ID)
			}
		}
		for key, dst := range map[string]**bool{"add_bos_token": &v.AddBOS, "add_eos_token": &v.AddEOS} {
			if raw, ok := tc[key]; ok {
				var b bool
				if json.Unmarshal(raw, &b) == nil {
					*dst = &b
				}
			}
		}
	}
	for _, typ := range specialTypes {
		if id, ok := cfgIDs[typ]; ok {
			setID(typ, id)
		}
	}
	return v, nil
}

// ConvertBLOOM writes a GGUF of a BLOOM checkpoint to w, following llama.cpp's
// convert_hf_to_gguf.py BloomModel: metadata general.architecture=bloom,
// bloom.{context_length, embedding_length, feed_forward_length, block_count,
// attention.head_count, attention.head_count_kv, attention.layer_norm_epsilon},
// general.file_type; tensors token_embd, token_embd_norm, blk.N.{attn_norm,
// attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down}, output_norm (output stays
// tied: llama.cpp's bloom loader falls back to token_embd); the fused QKV weight
// and bias reordered from BLOOM's per-head [H][q,k,v][d] to [Q|K|V]; the
// tokenizer as a gpt2 vocab with pre-tokenizer "bloom".
//
// tensors are the checkpoint's tensors (all shards), in any order; names may
// carry the "transformer." prefix. Unknown, missing, duplicate or mis-shaped
// tensors are errors, as is apply_residual_connection_post_layernorm = true
// (llama.cpp cannot run it).
func ConvertBLOOM(w io.Writer, configJSON []byte, tensors []SourceTensor, tokenizerJSON []byte, opts ConvertOptions) error {
	c, err := ParseBLOOMConfig(configJSON)
	if err != nil {
		return err
	}
	switch opts.FileType {
	case FileTypeF32, FileTypeF16, FileTypeQ8_0:
	default:
		return unsupported("file type %v (want F32, F16 or Q8_0)", opts.FileType)
	}
	byName := map[string]*SourceTensor{}
	for i := range tensors {
		t := &tensors[i]
		g, blk, ok := bloomGGUFName(t.Name)
		if !ok {
			return invalid("cannot map tensor %q to a BLOOM GGUF name", t.Name)
		}
		if blk >= c.Layers {
			return invalid("tensor %q belongs to block %d but the config has %d layers", t.Name, blk, c.Layers)
		}
		if prev, dup := byName[g]; dup {
			return invalid("tensors %q and %q both map to %s", prev.Name, t.Name, g)
		}
		if _, err := elemSize(t.DType); err != nil {
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		byName[g] = t
	}
	emb, ok := byName["token_embd.weight"]
	if !ok {
		return invalid("missing tensor word_embeddings.weight")
	}
	if len(emb.Shape) == 2 && c.Vocab == 0 {
		c.Vocab = emb.Shape[0]
	}
	order := []string{"token_embd.weight", "token_embd_norm.weight", "token_embd_norm.bias"}
	for l := 0; l < c.Layers; l++ {
		for _, s := range []string{"attn_norm.weight", "attn_norm.bias", "attn_qkv.weight", "attn_qkv.bias",
			"attn_output.weight", "attn_output.bias", "ffn_norm.weight", "ffn_norm.bias",
			"ffn_up.weight", "ffn_up.bias", "ffn_down.weight", "ffn_down.bias"} {
			order = append(order, fmt.Sprintf("blk.%d.%s", l, s))
		}
	}
	order = append(order, "output_norm.weight", "output_norm.bias")
	if _, ok := byName["output.weight"]; ok {
		order = append(order, "output.weight")
	}
	if len(order) != len(byName) {
		var missing []string
		for _, g := range order {
			if _, ok := byName[g]; !ok {
				missing = append(missing, g)
			}
		}
		sort.Strings(missing)
		return invalid("checkpoint is missing tensors (GGUF names) %s", strings.Join(missing, ", "))
	}
	for _, g := range order {
		t, ok := byName[g]
		if !ok {
			return invalid("checkpoint is missing tensor %s", g)
		}
		want := bloomShape(g, c)
		if fmt.Sprint(want) != fmt.Sprint(t.Shape) {
			return invalid("tensor %q has shape %v, want %v for the config (hidden %d, vocab %d)", t.Name, t.Shape, want, c.Hidden, c.Vocab)
		}
		es, _ := elemSize(t.DType)
		if t.Data != nil && len(t.Data) != es*numel(t.Shape) {
			return invalid("tensor %q: %d bytes for %s %v", t.Name, len(t.Data), t.DType, t.Shape)
		}
	}
	vocab, err := BuildBLOOMVocab(tokenizerJSON, c.Vocab, c.SpecialIDs, opts.TokenizerConfig)
	if err != nil {
		return err
	}

	gw := NewWriter()
	kv := func(k string, v any) {
		if err == nil {
			err = gw.AddKV(k, v)
		}
	}
	kv(KeyArchitecture, "bloom")
	kv(KeyType, "model")
	if opts.Name != "" {
		kv(KeyName, opts.Name)
	}
	kv("bloom.context_length", uint32(c.ContextLength))
	kv("bloom.embedding_length", uint32(c.Hidden))
	kv("bloom.feed_forward_length", uint32(4*c.Hidden))
	kv("bloom.block_count", uint32(c.Layers))
	kv("bloom.attention.head_count", uint32(c.Heads))
	kv("bloom.attention.head_count_kv", uint32(c.Heads))
	kv("bloom.attention.layer_norm_epsilon", float32(c.LayerNormEps))
	kv(KeyFileType, uint32(opts.FileType))
	kv(KeyQuantizationVersion, uint32(QuantizationVersion))
	addGPT2Vocab(kv, vocab, "bloom")
	if err != nil {
		return err
	}
	d := c.Hidden / c.Heads
	for _, g := range order {
		t := byName[g]
		typ := tensorType(g, t.Shape, opts.FileType)
		qkv := strings.HasSuffix(g, ".attn_qkv.weight") || strings.HasSuffix(g, ".attn_qkv.bias")
		isWeight := len(t.Shape) == 2
		src := t
		write := func(out io.Writer) error {
			raw, err := src.bytes()
			if err != nil {
				return err
			}
			es, _ := elemSize(src.DType)
			if len(raw) != es*numel(src.Shape) {
				return invalid("tensor %q: %d bytes for %s %v", src.Name, len(raw), src.DType, src.Shape)
			}
			if qkv {
				row := es
				if isWeight {
					row = es * c.Hidden
				}
				raw = ReorderQKV(raw, c.Heads, d, row)
			}
			if (typ == F16 && src.DType == "F16") || (typ == F32 && src.DType == "F32") {
				_, err := out.Write(raw)
				return err
			}
			// convert in slices (a multiple of the Q8_0 block) so a large tensor is never
			// held in memory as float32 and output at once
			const chunk = 1 << 16
			for off := 0; off < len(raw); off += chunk * es {
				end := min(off+chunk*es, len(raw))
				enc, err := EncodeFloat32s(typ, toFloat32(src.DType, raw[off:end]))
				if err != nil {
					return err
				}
				if _, err := out.Write(enc); err != nil {
					return err
				}
			}
			return nil
		}
		if err := gw.AddTensorStream(g, typ, t.Shape, write); err != nil {
			return err
		}
	}
	_, err = gw.WriteTo(w)
	return err
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
