package gguf

// Jais: convert_hf_to_gguf.py JaisModel; llama.cpp src/models/jais.cpp.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// transposeBytes turns a row-major (rows, cols) matrix of es-byte elements
// into (cols, rows): GPT-2 Conv1D weights are stored (in, out).
func transposeBytes(src []byte, rows, cols, es int) []byte {
	dst := make([]byte, len(src))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			copy(dst[(c*rows+r)*es:(c*rows+r+1)*es], src[(r*cols+c)*es:(r*cols+c+1)*es])
		}
	}
	return dst
}

// scaledF32 returns the tensor's values times s as F32 bytes (the
// converter multiplies in torch's float32 arithmetic).
func scaledF32(raw []byte, dtype string, s float64) []byte {
	v := toFloat32(dtype, raw)
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x*float32(s)))
	}
	return out
}

// JaisScales returns Jais' muP embedding and output scales from config.json
// as convert_hf_to_gguf.py JaisModel reads them: mup_embeddings_scale or
// embeddings_scale; mup_output_alpha·mup_width_scale or width_scale.
func JaisScales(m map[string]json.RawMessage) (emb, width float64, err error) {
	emb, ok, err := floatKey(m, "mup_embeddings_scale")
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		if emb, ok, err = floatKey(m, "embeddings_scale"); err != nil {
			return 0, 0, err
		} else if !ok {
			return 0, 0, invalid("config.json has neither mup_embeddings_scale nor embeddings_scale")
		}
	}
	alpha, okA, err := floatKey(m, "mup_output_alpha")
	if err != nil {
		return 0, 0, err
	}
	if okA {
		ws, ok, err := floatKey(m, "mup_width_scale")
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			return 0, 0, invalid("config.json has mup_output_alpha without mup_width_scale")
		}
		return emb, alpha * ws, nil
	}
	if width, ok, err = floatKey(m, "width_scale"); err != nil {
		return 0, 0, err
	} else if !ok {
		return 0, 0, invalid("config.json has neither mup_output_alpha nor width_scale")
	}
	return emb, width, nil
}

// ConvertJais writes a GGUF of a Jais checkpoint (JAISLMHeadModel names):
// general.architecture=jais, jais.{context_length = n_positions,
// embedding_length, feed_forward_length = n_inner, block_count,
// attention.head_count, attention.layer_norm_epsilon,
// attention.max_alibi_bias = −round(log2(slopes[0])·2^⌊log2 H⌋)}; the
// Conv1D weights (c_attn, c_proj, c_fc, c_fc2) transposed to (out, in);
// token_embd = wte·embeddings_scale and, when the scales differ, output =
// wte·width_scale (an untied lm_head is written ·width_scale); the GPT-2
// causal-mask buffers (attn.bias, attn.masked_bias) dropped; the tokenizer
// as a gpt2 vocab with pre-tokenizer "jais". llama.cpp applies 1/head_dim
// as the score scale.
func ConvertJais(w io.Writer, configJSON []byte, tensors []SourceTensor, tokenizerJSON []byte, opts ConvertOptions) error {
	m, err := cfgMap(configJSON)
	if err != nil {
		return err
	}
	v, err := requiredInts(m, "n_embd", "n_head", "n_layer", "vocab_size", "n_positions", "n_inner")
	if err != nil {
		return err
	}
	h, H, L, V, ctx, ff := v[0], v[1], v[2], v[3], v[4], v[5]
	if h == 0 || H == 0 || L == 0 || h%H != 0 {
		return invalid("config.json: n_embd %d, n_head %d, n_layer %d", h, H, L)
	}
	var act, pos string
	_ = json.Unmarshal(m["activation_function"], &act)
	_ = json.Unmarshal(m["position_embedding_type"], &pos)
	if act != "swiglu" || pos != "alibi" {
		return unsupported("config.json activation_function %q, position_embedding_type %q: want swiglu and alibi", act, pos)
	}
	if raw, ok := m["alibi_scaling"]; ok && string(raw) != "null" {
		return unsupported("config.json alibi_scaling = %s: llama.cpp's jais graph has no ALiBi scaling", raw)
	}
	emb, width, err := JaisScales(m)
	if err != nil {
		return err
	}
	eps := 1e-5
	if f, ok, err := floatKey(m, "layer_norm_epsilon"); err != nil {
		return err
	} else if ok {
		eps = f
	}
	// GPT-2's causal-mask buffers (any dtype) are dropped, as the converter does.
	var kept []SourceTensor
	for _, t := range tensors {
		if !strings.HasSuffix(t.Name, ".attn.bias") && !strings.HasSuffix(t.Name, ".attn.masked_bias") {
			kept = append(kept, t)
		}
	}
	by, err := sourceMap(kept)
	if err != nil {
		return err
	}
	maxBias := 8.0
	if t, ok := by["relative_pe.slopes"]; ok {
		raw, err := t.bytes()
		if err != nil {
			return err
		}
		es, _ := elemSize(t.DType)
		if numel(t.Shape) != H || len(raw) != es*H {
			return invalid("tensor %q has shape %v, want [%d, 1]", t.Name, t.Shape, H)
		}
		first := float64(toFloat32(t.DType, raw[:es])[0])
		if !(first > 0) {
			return invalid("tensor %q: first slope %g is not positive", t.Name, first)
		}
		c := 1
		for c*2 <= H {
			c *= 2
		}
		maxBias = -math.Round(math.Log2(first) * float64(c))
		delete(by, "relative_pe.slopes")
	}
	var out []outTensor
	conv1d := func(gname, hf string, in, outDim int) error {
		t, err := take(by, hf, in, outDim)
		if err != nil {
			return err
		}
		out = append(out, outTensor{name: gname, src: t, shape: []int{outDim, in},
			transform: func(raw []byte, dtype string) ([]byte, string, error) {
				es, _ := elemSize(dtype)
				return transposeBytes(raw, in, outDim, es), dtype, nil
			}})
		return nil
	}
	plain := func(gname, hf string, shape ...int) error {
		t, err := take(by, hf, shape...)
		if err != nil {
			return err
		}
		out = append(out, outTensor{name: gname, src: t, shape: shape})
		return nil
	}
	scaled := func(gname string, t *SourceTensor, s float64) {
		out = append(out, outTensor{name: gname, src: t, shape: []int{V, h},
			transform: func(raw []byte, dtype string) ([]byte, string, error) {
				return scaledF32(raw, dtype, s), "F32", nil
			}})
	}
	wte, err := take(by, "wte.weight", V, h)
	if err != nil {
		return err
	}
	scaled("token_embd.weight", wte, emb)
	for i := 0; i < L; i++ {
		b := fmt.Sprintf("blk.%d.", i)
		p := fmt.Sprintf("h.%d.", i)
		steps := []error{
			plain(b+"attn_norm.weight", p+"ln_1.weight", h),
			plain(b+"attn_norm.bias", p+"ln_1.bias", h),
			conv1d(b+"attn_qkv.weight", p+"attn.c_attn.weight", h, 3*h),
			plain(b+"attn_qkv.bias", p+"attn.c_attn.bias", 3*h),
			conv1d(b+"attn_output.weight", p+"attn.c_proj.weight", h, h),
			plain(b+"attn_output.bias", p+"attn.c_proj.bias", h),
			plain(b+"ffn_norm.weight", p+"ln_2.weight", h),
			plain(b+"ffn_norm.bias", p+"ln_2.bias", h),
			conv1d(b+"ffn_up.weight", p+"mlp.c_fc.weight", h, ff),
			plain(b+"ffn_up.bias", p+"mlp.c_fc.bias", ff),
			conv1d(b+"ffn_gate.weight", p+"mlp.c_fc2.weight", h, ff),
			plain(b+"ffn_gate.bias", p+"mlp.c_fc2.bias", ff),
			conv1d(b+"ffn_down.weight", p+"mlp.c_proj.weight", ff, h),
			plain(b+"ffn_down.bias", p+"mlp.c_proj.bias", h),
		}
		for _, err := range steps {
			if err != nil {
				return err
			}
		}
	}
	if err := plain("output_norm.weight", "ln_f.weight", h); err != nil {
		return err
	}
	if err := plain("output_norm.bias", "ln_f.bias", h); err != nil {
		return err
	}
	if t, ok := by["lm_head.weight"]; ok {
		if _, err := take(by, "lm_head.weight", V, h); err != nil {
			return err
		}
		scaled("output.weight", t, width)
	} else if emb != width {
		scaled("output.weight", wte, width)
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
	kvs := [][2]any{{KeyArchitecture, "jais"}, {KeyType, "model"}}
	if opts.Name != "" {
		kvs = append(kvs, [2]any{KeyName, opts.Name})
	}
	kvs = append(kvs,
		[2]any{"jais.block_count", uint32(L)},
		[2]any{"jais.context_length", uint32(ctx)},
		[2]any{"jais.embedding_length", uint32(h)},
		[2]any{"jais.feed_forward_length", uint32(ff)},
		[2]any{"jais.attention.head_count", uint32(H)},
		[2]any{"jais.attention.layer_norm_epsilon", float32(eps)},
		[2]any{"jais.attention.max_alibi_bias", float32(maxBias)},
	)
	return writeFamily(w, kvs, vocab, "jais", out, opts.FileType)
}
