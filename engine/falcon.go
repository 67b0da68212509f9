package engine

// Falcon-RW (TII), the ALiBi path of FalconForCausalLM (alibi: true), and
// the original custom-code RWForCausalLM (model_type "RefinedWebModel").
//
// References:
//   - huggingface/transformers src/transformers/models/falcon/modeling_falcon.py:
//     build_alibi_tensor (slopes as BLOOM's, then
//     `slopes[..., None].bfloat16() * arange_tensor` with the integer key
//     positions: the product is a bf16 tensor, both operands rounded to
//     bf16 first); FalconAttention (alibi path: (q·kᵀ + alibi)·1/√d, the
//     SDPA path puts alibi/√d into the mask); _split_heads ([H][3][d]
//     interleave when neither multi_query nor new_decoder_architecture);
//     FalconDecoderLayer (sequential residual when parallel_attn is false);
//     FalconMLP (activation "gelu" = exact erf GELU, ffn_hidden_size);
//     no embedding layernorm; tied lm_head
//   - configuration_falcon.py (defaults), convert_custom_code_checkpoint.py
//     (RW names n_head/n_layer)
//   - shared/reference/alibi-models.md §2.3
//
// llama.cpp cannot run Falcon-RW (its falcon graph always applies RoPE).

import (
	"fmt"
	"math"
	"strconv"

	"github.com/c9e48c40/alibi/engine/kernels"
)

var falconFamily = &family{
	name:          "falcon",
	architectures: []string{"FalconForCausalLM", "RWForCausalLM"},
	modelTypes:    []string{"falcon", "RefinedWebModel", "RefinedWeb"},
	prefixes:      []string{"transformer."},
	parse:         parseFalconConfig,
	tensors:       falconTensors,
	optional:      falconOptional,
	setup:         setupFalcon,
}

func parseFalconConfig(cfg *Config, r *configReader) error {
	cfg.LayerNormEpsilon = 1e-5
	cfg.TieWordEmbeddings = true
	cfg.Activation = actGELU
	cfg.Norm = normLayer
	cfg.TrainingContext = 2048
	// FalconConfig defaults multi_query and parallel_attn to true (Falcon-7B);
	// the RW custom config defaults them to false.
	rw := cfg.ModelType == "RefinedWebModel" || cfg.ModelType == "RefinedWeb"
	multiQuery, parallel, newArch, alibi, bias, postLN := !rw, !rw, false, false, false, false
	activation := "gelu"
	checks := []error{
		r.int(&cfg.VocabSize, true, 1, 1<<24, "vocab_size"),
		r.int(&cfg.HiddenSize, true, 1, 1<<16, "hidden_size", "n_embed"),
		r.int(&cfg.NLayer, true, 1, 1024, "num_hidden_layers", "n_layer"),
		r.int(&cfg.NHead, true, 1, 1<<12, "num_attention_heads", "n_head"),
		r.int(&cfg.TrainingContext, false, 1, 1<<24, "max_position_embeddings"),
		r.int(&cfg.Intermediate, false, 1, 1<<20, "ffn_hidden_size"),
		r.float(&cfg.LayerNormEpsilon, 0, 1, "layer_norm_epsilon"),
		r.bool(&alibi, "alibi"),
		r.bool(&bias, "bias"),
		r.bool(&multiQuery, "multi_query"),
		r.bool(&parallel, "parallel_attn"),
		r.bool(&newArch, "new_decoder_architecture"),
		r.bool(&postLN, "apply_residual_connection_post_layernorm"),
		r.bool(&cfg.TieWordEmbeddings, "tie_word_embeddings"),
		r.string("activation", &activation),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	switch {
	case !alibi:
		return fmt.Errorf("engine: config.json: Falcon with \"alibi\" = false uses rotary positions; only the ALiBi Falcon-RW layout is supported: %w", ErrUnsupported)
	case newArch:
		return fmt.Errorf("engine: config.json: Falcon \"new_decoder_architecture\" = true is not supported (Falcon-RW layout only): %w", ErrUnsupported)
	case multiQuery:
		return fmt.Errorf("engine: config.json: Falcon \"multi_query\" = true is not supported (Falcon-RW layout only): %w", ErrUnsupported)
	case parallel:
		return fmt.Errorf("engine: config.json: Falcon \"parallel_attn\" = true is not supported (Falcon-RW layout only): %w", ErrUnsupported)
	case postLN:
		return fmt.Errorf("engine: config.json: Falcon \"apply_residual_connection_post_layernorm\" = true is not supported: %w", ErrUnsupported)
	case activation != "gelu":
		return fmt.Errorf("engine: config.json: Falcon \"activation\" = %q is not supported (gelu): %w", activation, ErrUnsupported)
	}
	cfg.NoBias = !bias
	if cfg.HiddenSize%cfg.NHead != 0 {
		return fmt.Errorf("engine: config.json: \"hidden_size\" = %d is not a multiple of \"num_attention_heads\" = %d: %w",
			cfg.HiddenSize, cfg.NHead, ErrFormat)
	}
	cfg.BOSTokenID, cfg.EOSTokenID = 11, 11 // FalconConfig defaults
	if err := r.tokenID(&cfg.BOSTokenID, cfg.VocabSize, "bos_token_id"); err != nil {
		return err
	}
	if err := r.tokenID(&cfg.EOSTokenID, cfg.VocabSize, "eos_token_id"); err != nil {
		return err
	}
	if cfg.BOSTokenID >= cfg.VocabSize {
		cfg.BOSTokenID = -1
	}
	if cfg.EOSTokenID >= cfg.VocabSize {
		cfg.EOSTokenID = -1
	}
	return nil
}

// falconTensors is Falcon-RW's architecture table: BLOOM's names without
// the embedding layernorm, biases only with "bias": true.
func falconTensors(cfg *Config) []tensorSpec {
	h, v, ff := cfg.HiddenSize, cfg.VocabSize, cfg.ffWidth()
	specs := []tensorSpec{
		{name: "word_embeddings.weight", role: roleEmbed, layer: -1, shape: []int{v, h}},
		{name: "ln_f.weight", role: roleOutNormW, layer: -1, shape: []int{h}},
		{name: "ln_f.bias", role: roleOutNormB, layer: -1, shape: []int{h}},
	}
	if !cfg.TieWordEmbeddings {
		specs = append(specs, tensorSpec{name: "lm_head.weight", role: roleHead, layer: -1, shape: []int{v, h}})
	}
	for i := 0; i < cfg.NLayer; i++ {
		p := "h." + strconv.Itoa(i) + "."
		specs = append(specs,
			tensorSpec{name: p + "input_layernorm.weight", role: roleAttnNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "input_layernorm.bias", role: roleAttnNormB, layer: i, shape: []int{h}},
			tensorSpec{name: p + "self_attention.query_key_value.weight", role: roleQKV, layer: i, shape: []int{3 * h, h}, layout: layoutHeadsQKV},
			tensorSpec{name: p + "self_attention.dense.weight", role: roleAttnOut, layer: i, shape: []int{h, h}},
			tensorSpec{name: p + "post_attention_layernorm.weight", role: roleMLPNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "post_attention_layernorm.bias", role: roleMLPNormB, layer: i, shape: []int{h}},
			tensorSpec{name: p + "mlp.dense_h_to_4h.weight", role: roleUp, layer: i, shape: []int{ff, h}},
			tensorSpec{name: p + "mlp.dense_4h_to_h.weight", role: roleDown, layer: i, shape: []int{h, ff}},
		)
		if !cfg.NoBias {
			specs = append(specs,
				tensorSpec{name: p + "self_attention.query_key_value.bias", role: roleQKVB, layer: i, shape: []int{3 * h}, layout: layoutHeadsQKV},
				tensorSpec{name: p + "self_attention.dense.bias", role: roleAttnOutB, layer: i, shape: []int{h}},
				tensorSpec{name: p + "mlp.dense_h_to_4h.bias", role: roleUpB, layer: i, shape: []int{ff}},
				tensorSpec{name: p + "mlp.dense_4h_to_h.bias", role: roleDownB, layer: i, shape: []int{h}},
			)
		}
	}
	return specs
}

// falconOptional: a tied lm_head.weight copy is checked and skipped.
func falconOptional(cfg *Config) []tensorSpec {
	if !cfg.TieWordEmbeddings {
		return nil
	}
	return []tensorSpec{{name: "lm_head.weight", role: roleSkip, layer: -1, shape: []int{cfg.VocabSize, cfg.HiddenSize}}}
}

// bf16 rounds x to bfloat16 (round to nearest, ties to even), as torch's
// float32 → bfloat16 conversion does; NaN stays NaN.
func bf16(x float32) float32 {
	b := math.Float32bits(x)
	if x != x {
		return x
	}
	b += 0x7FFF + (b>>16)&1
	return math.Float32frombits(b &^ 0xFFFF)
}

// falconKeyBias returns the bias Falcon-RW adds to the score of key
// position j in a head with slope m (before the 1/√d scale):
// bf16(bf16(m)·bf16(j)), torch's `slopes.bfloat16() * arange_tensor`
// (the int64 positions are cast to bf16, the product is rounded to bf16;
// positions above 256 are therefore themselves rounded).
func falconKeyBias(m float32, j int) float32 {
	return bf16(bf16(m) * bf16(float32(j)))
}

// setupFalcon folds the 1/√d scale into Falcon's key-position bias:
// score(i, j) = (q·k_j + b(j))/√d = q·k_j·attnScale + b(j)·attnScale. The
// reported slopes are bf16(m)/√d, the slope of the (nearly linear) bias as
// applied.
func setupFalcon(m *Model) {
	slopes := AlibiSlopes(m.cfg.NHead)
	scale := m.attnScale
	m.slopes = make([]float32, len(slopes))
	for i, s := range slopes {
		m.slopes[i] = bf16(s) * scale
	}
	// torch's SDPA path divides the bias by √d (alibi / math.sqrt(d)).
	sqrtD := float32(math.Sqrt(float64(m.cfg.HiddenSize / m.cfg.NHead)))
	m.keyBias = func(h, j int) float32 {
		return falconKeyBias(slopes[h], j) / sqrtD
	}
}

// attentionKeyBias is attention (attention.go) for a family whose ALiBi
// term depends on the key position alone (Falcon-RW): for query position
// i and key j ≤ i in head hh,
//
//	score(i, j) = q_i·k_j·scale + keyBias(hh, j)
//
// with the same online softmax over blocks of keys.
func (s *Session) attentionKeyBias(li, pos0, n int, hooked bool) {
	h, H := s.m.cfg.HiddenSize, s.m.cfg.NHead
	d := h / H
	scale := s.m.attnScale
	kc, vc := s.k[li], s.v[li]
	last := pos0 + n - 1
	for hh := 0; hh < H; hh++ {
		base := hh * s.ctxLen * d
		var mx, sum float32
		for i := 0; i < n; i++ {
			p := pos0 + i
			q := s.qkv[i*3*h+hh*d : i*3*h+(hh+1)*d]
			mx, sum = s.attendKeyBias(s.att[i*h+hh*d:i*h+(hh+1)*d], q, kc[base:base+(p+1)*d], vc[base:base+(p+1)*d], hh, scale)
		}
		if hooked {
			q := s.qkv[(n-1)*3*h+hh*d : (n-1)*3*h+(hh+1)*d]
			probs := s.hookBuf[hh*s.ctxLen : hh*s.ctxLen+last+1]
			kernels.MatVec(probs, kc[base:base+(last+1)*d], q)
			for j, dot := range probs {
				x := dot*scale + s.m.keyBias(hh, j)
				probs[j] = float32(math.Exp(float64(x-mx))) / sum
			}
		}
	}
}

// attendKeyBias computes one head's output for the query q at position
// len(k)/d-1 over keys k and values v with the online softmax, returning
// the final maximum score and normaliser.
func (s *Session) attendKeyBias(out, q, k, v []float32, hh int, scale float32) (mx, sum float32) {
	d := len(q)
	p := len(k)/d - 1
	clear(out)
	mx = float32(math.Inf(-1))
	blk := scoresLen(s.ctxLen)
	for j0 := 0; j0 <= p; j0 += blk {
		j1 := min(j0+blk, p+1)
		sc := s.scores[:j1-j0]
		kernels.MatVec(sc, k[j0*d:j1*d], q)
		bmx := float32(math.Inf(-1))
		for j := range sc {
			x := sc[j]*scale + s.m.keyBias(hh, j0+j)
			sc[j] = x
			bmx = max(bmx, x)
		}
		if bmx > mx {
			if sum != 0 {
				c := float32(math.Exp(float64(mx - bmx)))
				sum *= c
				kernels.Scale(out, c)
			}
			mx = bmx
		}
		for j, x := range sc {
			e := float32(math.Exp(float64(x - mx)))
			sum += e
			kernels.Axpy(out, e, v[(j0+j)*d:(j0+j+1)*d])
		}
	}
	kernels.Scale(out, 1/sum)
	return mx, sum
}
