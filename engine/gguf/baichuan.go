package gguf

// Baichuan-13B: convert_hf_to_gguf.py BaichuanModel (W_pack unpacked into
// attn_q/attn_k/attn_v, Q and K through _reverse_hf_permute, the
// SentencePiece vocabulary of tokenizer.model); llama.cpp
// src/models/baichuan.cpp runs it with ALiBi (max bias 8) when it has 40
// layers (the 13B type) and with RoPE for 32 (7B).

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// SPMPiece is one piece of a SentencePiece model (tokenizer.model).
type SPMPiece struct {
	Piece string
	Score float32
	Type  int32 // 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte
}

// ReadSentencePiecePieces reads the pieces (field 1 of ModelProto: piece = 1,
// score = 2, type = 3) of a SentencePiece tokenizer.model; other fields
// are skipped. The tokenizer package has the full reader; engine packages
// do not import it.
func ReadSentencePiecePieces(data []byte) ([]SPMPiece, error) {
	var pieces []SPMPiece
	err := pbWalk(data, func(num, wt int, v uint64, b []byte) error {
		if num != 1 {
			return nil
		}
		if wt != 2 {
			return invalid("tokenizer.model: field 1 has wire type %d", wt)
		}
		p := SPMPiece{Type: 1}
		err := pbWalk(b, func(num, wt int, v uint64, b []byte) error {
			switch {
			case num == 1 && wt == 2:
				p.Piece = string(b)
			case num == 2 && wt == 5:
				p.Score = math.Float32frombits(uint32(v))
			case num == 3 && wt == 0:
				p.Type = int32(v)
			case num <= 3:
				return invalid("tokenizer.model: piece field %d has wire type %d", num, wt)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if p.Type < 1 || p.Type > 6 {
			return invalid("tokenizer.model: piece %q has type %d", p.Piece, p.Type)
		}
		pieces = append(pieces, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(pieces) == 0 {
		return nil, invalid("tokenizer.model has no pieces")
	}
	return pieces, nil
}

// pbWalk calls fn for each field of a protobuf message: varints and fixed
// values in v, length-delimited bytes in b.
func pbWalk(data []byte, fn func(num, wt int, v uint64, b []byte) error) error {
	for off := 0; off < len(data); {
		k, n := binary.Uvarint(data[off:])
		if n <= 0 || k>>3 == 0 {
			return invalid("tokenizer.model: bad field key at byte %d", off)
		}
		off += n
		num, wt := int(k>>3), int(k&7)
		var v uint64
		var b []byte
		switch wt {
		case 0:
			if v, n = binary.Uvarint(data[off:]); n <= 0 {
				return invalid("tokenizer.model: bad varint at byte %d", off)
			}
			off += n
		case 1:
			if len(data)-off < 8 {
				return invalid("tokenizer.model: truncated at byte %d", off)
			}
			v = binary.LittleEndian.Uint64(data[off:])
			off += 8
		case 5:
			if len(data)-off < 4 {
				return invalid("tokenizer.model: truncated at byte %d", off)
			}
			v = uint64(binary.LittleEndian.Uint32(data[off:]))
			off += 4
		case 2:
			l, n := binary.Uvarint(data[off:])
			if n <= 0 || l > uint64(len(data)-off-n) {
				return invalid("tokenizer.model: bad length at byte %d", off)
			}
			off += n
			b = data[off : off+int(l)]
			off += int(l)
		default:
			return invalid("tokenizer.model: wire type %d at byte %d", wt, off)
		}
		if err := fn(num, wt, v, b); err != nil {
			return err
		}
	}
	return nil
}

// reverseHFPermute reorders the rows of one of Q or K as
// convert_hf_to_gguf.py _reverse_hf_permute: (H, 2, d/2, in) → (H, d/2, 2,
// in): engine row head·d + 2i + j comes from head·d + j·d/2 + i.
func reverseHFPermute(src []byte, heads, headDim, rowBytes int) []byte {
	dst := make([]byte, len(src))
	half := headDim / 2
	for h := 0; h < heads; h++ {
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				to := (h*headDim + 2*i + j) * rowBytes
				from := (h*headDim + j*half + i) * rowBytes
				copy(dst[to:to+rowBytes], src[from:from+rowBytes])
			}
		}
	}
	return dst
}

// ConvertBaichuan writes a GGUF of a Baichuan-13B checkpoint
// (BaichuanForCausalLM names with the "model." prefix):
// general.architecture=baichuan, baichuan.{tensor_data_layout,
// context_length = model_max_length, embedding_length, block_count,
// feed_forward_length, rope.dimension_count, attention.head_count,
// attention.head_count_kv, attention.layer_norm_rms_epsilon}; tensors
// token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v (from W_pack, Q and
// K permuted), attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down},
// output_norm, output; the vocabulary of tokenizer.model (tokenizer.ggml.model
// "llama": pieces, scores, types) with special ids and add_bos/add_eos from
// tokenizer_config.json. llama.cpp applies ALiBi only to 40-layer models.
func ConvertBaichuan(w io.Writer, configJSON []byte, tensors []SourceTensor, tokenizerModel, tokenizerConfig []byte, opts ConvertOptions) error {
	m, err := cfgMap(configJSON)
	if err != nil {
		return err
	}
	v, err := requiredInts(m, "hidden_size", "num_attention_heads", "num_hidden_layers", "vocab_size", "intermediate_size",
		"max_sequence_length|max_position_embeddings|model_max_length")
	if err != nil {
		return err
	}
	h, H, L, V, ff, ctx := v[0], v[1], v[2], v[3], v[4], v[5]
	if h == 0 || H == 0 || h%H != 0 || (h/H)%2 != 0 {
		return invalid("config.json: hidden_size %d and num_attention_heads %d (head size must be even)", h, H)
	}
	eps := 1e-6
	if f, ok, err := floatKey(m, "rms_norm_eps"); err != nil {
		return err
	} else if ok {
		eps = f
	}
	pieces, err := ReadSentencePiecePieces(tokenizerModel)
	if err != nil {
		return err
	}
	if len(pieces) > V {
		return invalid("tokenizer.model has %d pieces but vocab_size is %d", len(pieces), V)
	}
	by, err := sourceMap(tensors)
	if err != nil {
		return err
	}
	// sourceMap strips "transformer."; Baichuan's prefix is "model.".
	for name, t := range by {
		if s, ok := cutPrefix(name, "model."); ok {
			delete(by, name)
			by[s] = t
		}
	}
	d := h / H
	var out []outTensor
	plain := func(gname, hf string, shape ...int) error {
		t, err := take(by, hf, shape...)
		if err != nil {
			return err
		}
		out = append(out, outTensor{name: gname, src: t, shape: shape})
		return nil
	}
	if err := plain("token_embd.weight", "embed_tokens.weight", V, h); err != nil {
		return err
	}
	for i := 0; i < L; i++ {
		b := fmt.Sprintf("blk.%d.", i)
		p := fmt.Sprintf("layers.%d.", i)
		if err := plain(b+"attn_norm.weight", p+"input_layernorm.weight", h); err != nil {
			return err
		}
		pack, err := take(by, p+"self_attn.W_pack.weight", 3*h, h)
		if err != nil {
			return err
		}
		for part, name := range []string{"attn_q", "attn_k", "attn_v"} {
			part := part
			out = append(out, outTensor{name: b + name + ".weight", src: pack, shape: []int{h, h},
				transform: func(raw []byte, dtype string) ([]byte, string, error) {
					es, _ := elemSize(dtype)
					row := es * h
					slice := raw[part*h*row : (part+1)*h*row]
					if part == 2 {
						return append([]byte(nil), slice...), dtype, nil
					}
					return reverseHFPermute(slice, H, d, row), dtype, nil
				}})
		}
		steps := []error{
			plain(b+"attn_output.weight", p+"self_attn.o_proj.weight", h, h),
			plain(b+"ffn_norm.weight", p+"post_attention_layernorm.weight", h),
			plain(b+"ffn_gate.weight", p+"mlp.gate_proj.weight", ff, h),
			plain(b+"ffn_up.weight", p+"mlp.up_proj.weight", ff, h),
			plain(b+"ffn_down.weight", p+"mlp.down_proj.weight", h, ff),
		}
		for _, err := range steps {
			if err != nil {
				return err
			}
		}
	}
	if err := plain("output_norm.weight", "norm.weight", h); err != nil {
		return err
	}
	if err := plain("output.weight", "lm_head.weight", V, h); err != nil {
		return err
	}
	if err := leftover(by); err != nil {
		return err
	}
	// vocabulary: pieces, padded to vocab_size with [PAD{i}] (unused)
	tokens := make([]string, V)
	scores := make([]float32, V)
	types := make([]int32, V)
	index := map[string]int{}
	for i := range tokens {
		if i < len(pieces) {
			p := pieces[i]
			tokens[i], scores[i] = p.Piece, p.Score
			switch p.Type {
			case 2, 3, 5, 6:
				types[i] = p.Type
			default: // normal and user-defined pieces are NORMAL (llama.cpp _create_vocab_sentencepiece)
				types[i] = TokenNormal
			}
			index[p.Piece] = i
		} else {
			tokens[i], scores[i], types[i] = fmt.Sprintf("[PAD%d]", i), -1000, TokenUnused
		}
	}
	special := map[string]int{}
	var addBOS, addEOS *bool
	if len(tokenizerConfig) > 0 {
		var tc map[string]json.RawMessage
		if err := json.Unmarshal(tokenizerConfig, &tc); err != nil {
			return invalid("tokenizer_config.json: %v", err)
		}
		for _, typ := range specialTypes {
			var s string
			if raw, ok := tc[typ+"_token"]; ok && json.Unmarshal(raw, &s) == nil {
				if id, ok := index[s]; ok {
					special[typ] = id
				}
			}
		}
		for key, dst := range map[string]**bool{"add_bos_token": &addBOS, "add_eos_token": &addEOS} {
			var b bool
			if raw, ok := tc[key]; ok && json.Unmarshal(raw, &b) == nil {
				*dst = &b
			}
		}
	}
	for _, typ := range specialTypes {
		if _, ok := special[typ]; ok {
			continue
		}
		if id, ok, err := intKey(m, false, typ+"_token_id"); err == nil && ok && id < V {
			special[typ] = id
		}
	}
	gw := NewWriter()
	kv := func(k string, v any) {
		if err == nil {
			err = gw.AddKV(k, v)
		}
	}
	kv(KeyArchitecture, "baichuan")
	kv(KeyType, "model")
	if opts.Name != "" {
		kv(KeyName, opts.Name)
	}
	kv("baichuan.tensor_data_layout", "Meta AI original pth")
	kv("baichuan.context_length", uint32(ctx))
	kv("baichuan.embedding_length", uint32(h))
	kv("baichuan.block_count", uint32(L))
	kv("baichuan.feed_forward_length", uint32(ff))
	kv("baichuan.rope.dimension_count", uint32(d))
	kv("baichuan.attention.head_count", uint32(H))
	kv("baichuan.attention.head_count_kv", uint32(H))
	kv("baichuan.attention.layer_norm_rms_epsilon", float32(eps))
	kv(KeyFileType, uint32(opts.FileType))
	kv(KeyQuantizationVersion, uint32(QuantizationVersion))
	kv(KeyTokenizerModel, "llama")
	kv(KeyTokenizerPre, "default")
	kv(KeyTokens, tokens)
	kv("tokenizer.ggml.scores", scores)
	kv(KeyTokenType, types)
	for _, typ := range specialTypes {
		if id, ok := special[typ]; ok {
			kv(specialKeys[typ], uint32(id))
		}
	}
	if addBOS != nil {
		kv("tokenizer.ggml.add_bos_token", *addBOS)
	}
	if addEOS != nil {
		kv("tokenizer.ggml.add_eos_token", *addEOS)
	}
	if err != nil {
		return err
	}
	return writeTensors(gw, w, out, opts.FileType)
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// convertBaichuanDir converts a Baichuan checkpoint directory (config.json,
// tokenizer.model, optional tokenizer_config.json, safetensors).
func convertBaichuanDir(w io.Writer, dir string, cfg []byte, tensors []SourceTensor, opts ConvertOptions) error {
	tm, err := os.ReadFile(filepath.Join(dir, "tokenizer.model"))
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return ConvertBaichuan(w, cfg, tensors, tm, opts.TokenizerConfig, opts)
}
