package gguf

// Conversion of the non-BLOOM ALiBi families llama.cpp runs (MPT, Jais),
// following convert_hf_to_gguf.py (MPTModel, JaisModel) and the tensor
// names of llama.cpp's llama-arch.cpp. Shared machinery: a family maps
// each Hugging Face tensor to its GGUF name, shape and an optional byte
// transform; metadata is written first, then the tensors in table order.

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// outTensor is one GGUF tensor of a conversion.
type outTensor struct {
	name  string        // GGUF name
	src   *SourceTensor // checkpoint tensor
	shape []int         // row-major shape written (after transform)
	// transform, when set, rewrites the raw little-endian bytes (element size
	// es) before encoding: transposes, scales.
	transform func(raw []byte, dtype string) ([]byte, string, error)
}

// addGPT2Vocab adds the tokenizer metadata of a byte-level BPE vocabulary
// (tokenizer.ggml.model "gpt2") with pre-tokenizer pre.
func addGPT2Vocab(kv func(string, any), vocab *BLOOMVocab, pre string) {
	kv(KeyTokenizerModel, "gpt2")
	kv(KeyTokenizerPre, pre)
	kv(KeyTokens, vocab.Tokens)
	kv(KeyTokenType, vocab.Types)
	if len(vocab.Merges) > 0 {
		kv(KeyMerges, vocab.Merges)
	}
	for _, typ := range specialTypes {
		if id, ok := vocab.SpecialID[typ]; ok {
			kv(specialKeys[typ], uint32(id))
		}
	}
	if vocab.AddBOS != nil {
		kv("tokenizer.ggml.add_bos_token", *vocab.AddBOS)
	}
	if vocab.AddEOS != nil {
		kv("tokenizer.ggml.add_eos_token", *vocab.AddEOS)
	}
}

// writeFamily writes metadata kvs (in order), the gpt2 vocab and tensors.
func writeFamily(w io.Writer, kvs [][2]any, vocab *BLOOMVocab, pre string, tensors []outTensor, ft FileType) error {
	gw := NewWriter()
	var err error
	kv := func(k string, v any) {
		if err == nil {
			err = gw.AddKV(k, v)
		}
	}
	for _, p := range kvs {
		kv(p[0].(string), p[1])
	}
	kv(KeyFileType, uint32(ft))
	kv(KeyQuantizationVersion, uint32(QuantizationVersion))
	addGPT2Vocab(kv, vocab, pre)
	if err != nil {
		return err
	}
	return writeTensors(gw, w, tensors, ft)
}

// writeTensors adds the tensors to gw (converted to the file type's types
// as they stream out) and writes the file.
func writeTensors(gw *Writer, w io.Writer, tensors []outTensor, ft FileType) error {
	for _, t := range tensors {
		t := t
		typ := tensorType(t.name, t.shape, ft)
		write := func(out io.Writer) error {
			raw, err := t.src.bytes()
			if err != nil {
				return err
			}
			es, _ := elemSize(t.src.DType)
			if len(raw) != es*numel(t.src.Shape) {
				return invalid("tensor %q: %d bytes for %s %v", t.src.Name, len(raw), t.src.DType, t.src.Shape)
			}
			dtype := t.src.DType
			if t.transform != nil {
				if raw, dtype, err = t.transform(raw, dtype); err != nil {
					return err
				}
			}
			if (typ == F16 && dtype == "F16") || (typ == F32 && dtype == "F32") {
				_, err := out.Write(raw)
				return err
			}
			const chunk = 1 << 16
			es, _ = elemSize(dtype)
			for off := 0; off < len(raw); off += chunk * es {
				end := min(off+chunk*es, len(raw))
				enc, err := EncodeFloat32s(typ, toFloat32(dtype, raw[off:end]))
				if err != nil {
					return err
				}
				if _, err := out.Write(enc); err != nil {
					return err
				}
			}
			return nil
		}
		if err := gw.AddTensorStream(t.name, typ, t.shape, write); err != nil {
			return err
		}
	}
	_, err := gw.WriteTo(w)
	return err
}

// cfgMap parses config.json into raw values.
func cfgMap(configJSON []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(configJSON, &m); err != nil {
		return nil, invalid("config.json: %v", err)
	}
	if m == nil {
		return nil, invalid("config.json is not an object")
	}
	return m, nil
}

func floatKey(m map[string]json.RawMessage, key string) (float64, bool, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, invalid("config.json %s = %s: want a number", key, raw)
	}
	return f, true, nil
}

func boolKey(m map[string]json.RawMessage, key string, def bool) (bool, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, invalid("config.json %s = %s: want true or false", key, raw)
	}
	return b, nil
}

// sourceMap indexes tensors by name without the "transformer." prefix,
// rejecting duplicates and unsupported dtypes.
func sourceMap(tensors []SourceTensor) (map[string]*SourceTensor, error) {
	by := map[string]*SourceTensor{}
	for i := range tensors {
		t := &tensors[i]
		n := strings.TrimPrefix(t.Name, "transformer.")
		if _, dup := by[n]; dup {
			return nil, invalid("duplicate tensor %q", t.Name)
		}
		if _, err := elemSize(t.DType); err != nil {
			return nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		by[n] = t
	}
	return by, nil
}

// take moves the named tensor out of by, checking its shape.
func take(by map[string]*SourceTensor, name string, shape ...int) (*SourceTensor, error) {
	t, ok := by[name]
	if !ok {
		return nil, invalid("checkpoint is missing tensor %q", name)
	}
	if fmt.Sprint(t.Shape) != fmt.Sprint(shape) {
		return nil, invalid("tensor %q has shape %v, want %v", t.Name, t.Shape, shape)
	}
	delete(by, name)
	return t, nil
}

// leftover reports tensors a conversion did not use.
func leftover(by map[string]*SourceTensor) error {
	if len(by) == 0 {
		return nil
	}
	var names []string
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	return invalid("unexpected tensors %s", strings.Join(names, ", "))
}

// MPT: convert_hf_to_gguf.py MPTModel; llama.cpp src/models/mpt.cpp.

// ConvertMPT writes a GGUF of an MPT checkpoint (MPTForCausalLM names,
// with or without the "transformer." prefix): general.architecture=mpt,
// mpt.{context_length = max_seq_len, embedding_length, block_count,
// feed_forward_length = 4·d_model, attention.head_count,
// attention.layer_norm_epsilon, attention.clamp_kqv (clip_qkv),
// attention.max_alibi_bias (alibi_bias_max)}; tensors token_embd,
// blk.N.{attn_norm, attn_qkv, attn_q_norm, attn_k_norm, attn_output,
// ffn_norm, ffn_up, ffn_down} (+ biases when present), output_norm, output
// when untied; the tokenizer as a gpt2 vocab with pre-tokenizer "mpt".
//
// Configurations llama.cpp's mpt graph would compute differently are
// refused (ErrUnsupported): logit_scale, a softmax_scale other than 1/√d,
// expansion_ratio other than 4, grouped-query attention, no ALiBi.
func ConvertMPT(w io.Writer, configJSON []byte, tensors []SourceTensor, tokenizerJSON []byte, opts ConvertOptions) error {
	m, err := cfgMap(configJSON)
	if err != nil {
		return err
	}
	h, _, err := intKey(m, true, "d_model", "hidden_size")
	if err != nil {
		return err
	}
	H, _, err := intKey(m, true, "n_heads")
	if err != nil {
		return err
	}
	L, _, err := intKey(m, true, "n_layers")
	if err != nil {
		return err
	}
	V, _, err := intKey(m, true, "vocab_size")
	if err != nil {
		return err
	}
	ctx, ok, err := intKey(m, false, "max_seq_len")
	if err != nil {
		return err
	} else if !ok {
		ctx = 2048
	}
	if h == 0 || H == 0 || L == 0 || h%H != 0 {
		return invalid("config.json: d_model %d, n_heads %d, n_layers %d", h, H, L)
	}
	if ratio, ok, err := floatKey(m, "expansion_ratio"); err != nil {
		return err
	} else if ok && ratio != 4 {
		return unsupported("config.json expansion_ratio = %g: llama.cpp's MPT uses a 4·d_model MLP", ratio)
	}
	if _, ok := m["logit_scale"]; ok && string(m["logit_scale"]) != "null" {
		return unsupported("config.json logit_scale = %s: llama.cpp's mpt graph does not scale logits", m["logit_scale"])
	}
	eps := 1e-5
	if f, ok, err := floatKey(m, "layer_norm_epsilon"); err != nil {
		return err
	} else if ok {
		eps = f
	}
	var ac map[string]json.RawMessage
	if raw, ok := m["attn_config"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &ac); err != nil {
			return invalid("config.json attn_config: %v", err)
		}
	}
	if ac == nil {
		ac = map[string]json.RawMessage{}
	}
	alibi, err := boolKey(ac, "alibi", false)
	if err != nil {
		return err
	}
	if !alibi {
		return unsupported("config.json attn_config.alibi is not true")
	}
	maxBias := 8.0
	if f, ok, err := floatKey(ac, "alibi_bias_max"); err != nil {
		return err
	} else if ok {
		maxBias = f
	}
	clip, _, err := floatKey(ac, "clip_qkv")
	if err != nil {
		return err
	}
	if s, ok, err := floatKey(ac, "softmax_scale"); err != nil {
		return err
	} else if ok && math.Abs(s-1/math.Sqrt(float64(h/H))) > 1e-7 {
		return unsupported("config.json attn_config.softmax_scale = %g: llama.cpp's mpt graph uses 1/sqrt(head_dim)", s)
	}
	if raw, ok := ac["attn_type"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || (s != "multihead_attention" && s != "") {
			return unsupported("config.json attn_config.attn_type = %s", raw)
		}
	}
	qkln, err := boolKey(ac, "qk_ln", false)
	if err != nil {
		return err
	}
	noBias, err := boolKey(m, "no_bias", true)
	if err != nil {
		return err
	}
	tied, err := boolKey(m, "tie_word_embeddings", true)
	if err != nil {
		return err
	}
	by, err := sourceMap(tensors)
	if err != nil {
		return err
	}
	var out []outTensor
	add := func(gname, hf string, shape ...int) error {
		t, err := take(by, hf, shape...)
		if err != nil {
			return err
		}
		out = append(out, outTensor{name: gname, src: t, shape: shape})
		return nil
	}
	type pair struct {
		g, hf string
		shape []int
	}
	list := []pair{{"token_embd.weight", "wte.weight", []int{V, h}}}
	for i := 0; i < L; i++ {
		b := fmt.Sprintf("blk.%d.", i)
		p := fmt.Sprintf("blocks.%d.", i)
		list = append(list,
			pair{b + "attn_norm.weight", p + "norm_1.weight", []int{h}},
			pair{b + "attn_qkv.weight", p + "attn.Wqkv.weight", []int{3 * h, h}})
		if !noBias {
			list = append(list, pair{b + "attn_norm.bias", p + "norm_1.bias", []int{h}},
				pair{b + "attn_qkv.bias", p + "attn.Wqkv.bias", []int{3 * h}})
		}
		if qkln {
			list = append(list, pair{b + "attn_q_norm.weight", p + "attn.q_ln.weight", []int{h}},
				pair{b + "attn_k_norm.weight", p + "attn.k_ln.weight", []int{h}})
			if !noBias {
				list = append(list, pair{b + "attn_q_norm.bias", p + "attn.q_ln.bias", []int{h}},
					pair{b + "attn_k_norm.bias", p + "attn.k_ln.bias", []int{h}})
			}
		}
		list = append(list,
			pair{b + "attn_output.weight", p + "attn.out_proj.weight", []int{h, h}},
			pair{b + "ffn_norm.weight", p + "norm_2.weight", []int{h}},
			pair{b + "ffn_up.weight", p + "ffn.up_proj.weight", []int{4 * h, h}},
			pair{b + "ffn_down.weight", p + "ffn.down_proj.weight", []int{h, 4 * h}})
		if !noBias {
			list = append(list, pair{b + "attn_output.bias", p + "attn.out_proj.bias", []int{h}},
				pair{b + "ffn_norm.bias", p + "norm_2.bias", []int{h}},
				pair{b + "ffn_up.bias", p + "ffn.up_proj.bias", []int{4 * h}},
				pair{b + "ffn_down.bias", p + "ffn.down_proj.bias", []int{h}})
		}
	}
	list = append(list, pair{"output_norm.weight", "norm_f.weight", []int{h}})
	if !noBias {
		list = append(list, pair{"output_norm.bias", "norm_f.bias", []int{h}})
	}
	if !tied {
		list = append(list, pair{"output.weight", "lm_head.weight", []int{V, h}})
	} else if t, ok := by["lm_head.weight"]; ok && fmt.Sprint(t.Shape) == fmt.Sprint([]int{V, h}) {
		delete(by, "lm_head.weight") // a tied copy: llama.cpp uses token_embd
	}
	for _, p := range list {
		if err := add(p.g, p.hf, p.shape...); err != nil {
			return err
		}
	}
	if err := leftover(by); err != nil {
		return err
	}
	ids := map[string]int{}
	for _, typ := range specialTypes {
		if id, ok, err := intKey(m, false, typ+"_token_id"); err == nil && ok {
			ids[typ] = id
		}
	}
	vocab, err := BuildBLOOMVocab(tokenizerJSON, V, ids, opts.TokenizerConfig)
	if err != nil {
		return err
	}
	kvs := [][2]any{
		{KeyArchitecture, "mpt"}, {KeyType, "model"},
	}
	if opts.Name != "" {
		kvs = append(kvs, [2]any{KeyName, opts.Name})
	}
	kvs = append(kvs,
		[2]any{"mpt.context_length", uint32(ctx)},
		[2]any{"mpt.embedding_length", uint32(h)},
		[2]any{"mpt.block_count", uint32(L)},
		[2]any{"mpt.feed_forward_length", uint32(4 * h)},
		[2]any{"mpt.attention.head_count", uint32(H)},
		[2]any{"mpt.attention.layer_norm_epsilon", float32(eps)},
	)
	if clip > 0 {
		kvs = append(kvs, [2]any{"mpt.attention.clamp_kqv", float32(clip)})
	}
	kvs = append(kvs, [2]any{"mpt.attention.max_alibi_bias", float32(maxBias)})
	return writeFamily(w, kvs, vocab, "mpt", out, opts.FileType)
}

// ConvertDir converts a Hugging Face checkpoint directory of any family this
// package converts (bloom, mpt, jais, baichuan), chosen by config.json's
// model_type or architectures: config.json, tokenizer.json (Baichuan:
// tokenizer.model), optional tokenizer_config.json, model.safetensors or
// the shards of model.safetensors.index.json.
func ConvertDir(w io.Writer, dir string, opts ConvertOptions) error {
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	var id struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(cfg, &id); err != nil {
		return invalid("config.json: %v", err)
	}
	kind := strings.ToLower(id.ModelType)
	if kind == "" && len(id.Architectures) > 0 {
		kind = strings.ToLower(id.Architectures[0])
	}
	var conv func(io.Writer, []byte, []SourceTensor, []byte, ConvertOptions) error
	switch {
	case strings.HasPrefix(kind, "bloom"):
		return ConvertBLOOMDir(w, dir, opts)
	case strings.HasPrefix(kind, "mpt"):
		conv = ConvertMPT
	case strings.HasPrefix(kind, "jais"):
		conv = ConvertJais
	case strings.HasPrefix(kind, "baichuan"):
	default:
		return unsupported("model_type %q (architectures %v): this package converts bloom, mpt, jais and baichuan", id.ModelType, id.Architectures)
	}
	var tok []byte
	if conv != nil {
		if tok, err = os.ReadFile(filepath.Join(dir, "tokenizer.json")); err != nil {
			return fmt.Errorf("gguf: %w", err)
		}
	}
	opts = withTokenizerConfig(dir, opts)
	tensors, closers, err := openCheckpoint(dir)
	defer closeAll(closers)
	if err != nil {
		return err
	}
	if conv == nil {
		return convertBaichuanDir(w, dir, cfg, tensors, opts)
	}
	return conv(w, cfg, tensors, tok, opts)
}
