package engine

// Jais (Core42/Inception, JAISLMHeadModel, model_type "jais") and BTLM
// (Cerebras, BTLMLMHeadModel, model_type "btlm"): GPT-2 layout with
// Conv1D weights, SwiGLU, ALiBi with the slopes stored in the checkpoint,
// and muP scales.
//
// References (the Hub originals modeling_jais.py / modeling_btlm.py were
// not reachable; these are ports of them):
//   - vllm-project/vllm vllm/model_executor/models/jais.py and
//     transformers_utils/configs/jais.py (config keys incl. the newer
//     embeddings_scale / width_scale / scale_qk_dot_by_d names; Conv1D
//     weights transposed at load; c_fc the linear branch, c_fc2 the gated
//     one; attention scale d^-1 with mup_scale_qk_dot_by_d)
//   - the text-generation-inference BTLM port (ShardedBTLMAttention._attn:
//     q·kᵀ / d^power (+ mask) + position_bias, position_bias =
//     −slopes·|i − j| from AlibiPositionEmbeddingLayer, whose slopes are a
//     parameter saved in the checkpoint as transformer.relative_pe.slopes;
//     hidden *= mup_embeddings_scale; logits *= mup_output_alpha·mup_width_scale)
//   - ggml-org/llama.cpp src/models/jais.cpp, convert_hf_to_gguf.py JaisModel
//   - shared/reference/alibi-models.md §2.5, §2.6

import (
	"fmt"
	"strconv"
)

var jaisFamily = &family{
	name:          "jais",
	architectures: []string{"JAISLMHeadModel", "JaisLMHeadModel"},
	modelTypes:    []string{"jais"},
	prefixes:      []string{"transformer."},
	parse:         parseJaisConfig,
	tensors:       jaisTensors,
	optional:      jaisOptional,
	setup:         setupJais,
}

var btlmFamily = &family{
	name:          "btlm",
	architectures: []string{"BTLMLMHeadModel", "BTLMForCausalLM"},
	modelTypes:    []string{"btlm"},
	prefixes:      []string{"transformer."},
	parse:         parseJaisConfig,
	tensors:       jaisTensors,
	optional:      jaisOptional,
	setup:         setupJais,
}

func parseJaisConfig(cfg *Config, r *configReader) error {
	cfg.LayerNormEpsilon = 1e-5
	cfg.TieWordEmbeddings = true
	cfg.Activation = actSwiGLU
	cfg.Norm = normLayer
	act, pos := "gelu_new", "learned" // GPT2Config defaults
	scaleAttn, inverseLayer, qkByD, upcast := true, false, false, false
	embScale, widthScale, alpha := 1.0, 1.0, 1.0
	checks := []error{
		r.int(&cfg.VocabSize, true, 1, 1<<24, "vocab_size"),
		r.int(&cfg.HiddenSize, true, 1, 1<<16, "n_embd", "hidden_size"),
		r.int(&cfg.NLayer, true, 1, 1024, "n_layer", "num_hidden_layers"),
		r.int(&cfg.NHead, true, 1, 1<<12, "n_head", "num_attention_heads"),
		r.int(&cfg.Intermediate, false, 1, 1<<20, "n_inner"),
		r.int(&cfg.TrainingContext, false, 1, 1<<24, "n_positions"),
		r.float(&cfg.LayerNormEpsilon, 0, 1, "layer_norm_epsilon"),
		r.bool(&cfg.TieWordEmbeddings, "tie_word_embeddings"),
		r.string("activation_function", &act),
		r.string("position_embedding_type", &pos),
		r.bool(&scaleAttn, "scale_attn_weights"),
		r.bool(&inverseLayer, "scale_attn_by_inverse_layer_idx"),
		r.bool(&upcast, "reorder_and_upcast_attn"),
		r.bool(&qkByD, "mup_scale_qk_dot_by_d", "scale_qk_dot_by_d"),
		r.float(&embScale, 0, 1e6, "mup_embeddings_scale", "embeddings_scale"),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if cfg.HiddenSize%cfg.NHead != 0 {
		return fmt.Errorf("engine: config.json: \"n_embd\" = %d is not a multiple of \"n_head\" = %d: %w",
			cfg.HiddenSize, cfg.NHead, ErrFormat)
	}
	switch {
	case act != "swiglu":
		return fmt.Errorf("engine: config.json: \"activation_function\" = %q is not supported (swiglu): %w", act, ErrUnsupported)
	case pos != "alibi":
		return fmt.Errorf("engine: config.json: \"position_embedding_type\" = %q is not supported (alibi): %w", pos, ErrUnsupported)
	case inverseLayer:
		return fmt.Errorf("engine: config.json: \"scale_attn_by_inverse_layer_idx\" = true is not supported: %w", ErrUnsupported)
	}
	if raw := r.raw("alibi_scaling"); raw != nil {
		// AlibiPositionEmbeddingLayer: slopes / factor with {"type": "linear",
		// "factor": f}; {"train_seq_len": N} rescales by the length of each
		// forward call (key_length / N), which depends on how a prompt is
		// chunked: not supported.
		sc, err := r.sub("alibi_scaling")
		if err != nil {
			return err
		}
		var typ string
		if err := sc.string("type", &typ); err != nil {
			return err
		}
		if typ != "" && typ != "linear" {
			return fmt.Errorf("engine: config.json: \"alibi_scaling.type\" = %q is not supported (linear): %w", typ, ErrUnsupported)
		}
		if sc.raw("factor") == nil {
			return fmt.Errorf("engine: config.json: \"alibi_scaling\" = %s: only a linear \"factor\" is supported (dynamic \"train_seq_len\" scaling depends on the prompt chunking): %w", raw, ErrUnsupported)
		}
		if err := sc.float(&cfg.AlibiScaling, 1, 1e6, "factor"); err != nil {
			return fmt.Errorf("%w (in \"alibi_scaling\")", err)
		}
	}
	// Output logit scale: mup_output_alpha·mup_width_scale, or width_scale.
	if r.raw("mup_output_alpha") != nil {
		var ws float64
		if err := r.float(&alpha, 0, 1e6, "mup_output_alpha"); err != nil {
			return err
		}
		if r.raw("mup_width_scale") == nil {
			return missing([]string{"mup_width_scale"})
		}
		if err := r.float(&ws, 0, 1e6, "mup_width_scale"); err != nil {
			return err
		}
		widthScale = alpha * ws
	} else if err := r.float(&widthScale, 0, 1e6, "width_scale"); err != nil {
		return err
	}
	cfg.EmbeddingScale, cfg.LogitScale = embScale, widthScale
	d := float64(cfg.HiddenSize / cfg.NHead)
	switch {
	case !scaleAttn:
		cfg.AttnScale = 1
	case qkByD:
		cfg.AttnScale = 1 / d
	}
	if err := r.tokenID(&cfg.BOSTokenID, cfg.VocabSize, "bos_token_id"); err != nil {
		return err
	}
	return r.tokenID(&cfg.EOSTokenID, cfg.VocabSize, "eos_token_id")
}

// jaisTensors is the Jais/BTLM architecture table. Conv1D weights are
// stored (in, out) and transposed while loading.
func jaisTensors(cfg *Config) []tensorSpec {
	h, v, ff := cfg.HiddenSize, cfg.VocabSize, cfg.ffWidth()
	specs := []tensorSpec{
		{name: "wte.weight", role: roleEmbed, layer: -1, shape: []int{v, h}},
		{name: "ln_f.weight", role: roleOutNormW, layer: -1, shape: []int{h}},
		{name: "ln_f.bias", role: roleOutNormB, layer: -1, shape: []int{h}},
	}
	if !cfg.TieWordEmbeddings {
		specs = append(specs, tensorSpec{name: "lm_head.weight", role: roleHead, layer: -1, shape: []int{v, h}})
	}
	T := layoutTransposed
	for i := 0; i < cfg.NLayer; i++ {
		p := "h." + strconv.Itoa(i) + "."
		specs = append(specs,
			tensorSpec{name: p + "ln_1.weight", role: roleAttnNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "ln_1.bias", role: roleAttnNormB, layer: i, shape: []int{h}},
			tensorSpec{name: p + "attn.c_attn.weight", role: roleQKV, layer: i, shape: []int{h, 3 * h}, layout: T},
			tensorSpec{name: p + "attn.c_attn.bias", role: roleQKVB, layer: i, shape: []int{3 * h}},
			tensorSpec{name: p + "attn.c_proj.weight", role: roleAttnOut, layer: i, shape: []int{h, h}, layout: T},
			tensorSpec{name: p + "attn.c_proj.bias", role: roleAttnOutB, layer: i, shape: []int{h}},
			tensorSpec{name: p + "ln_2.weight", role: roleMLPNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "ln_2.bias", role: roleMLPNormB, layer: i, shape: []int{h}},
			tensorSpec{name: p + "mlp.c_fc.weight", role: roleUp, layer: i, shape: []int{h, ff}, layout: T},
			tensorSpec{name: p + "mlp.c_fc.bias", role: roleUpB, layer: i, shape: []int{ff}},
			tensorSpec{name: p + "mlp.c_fc2.weight", role: roleGate, layer: i, shape: []int{h, ff}, layout: T},
			tensorSpec{name: p + "mlp.c_fc2.bias", role: roleGateB, layer: i, shape: []int{ff}},
			tensorSpec{name: p + "mlp.c_proj.weight", role: roleDown, layer: i, shape: []int{ff, h}, layout: T},
			tensorSpec{name: p + "mlp.c_proj.bias", role: roleDownB, layer: i, shape: []int{h}},
		)
	}
	return specs
}

// jaisOptional: the stored ALiBi slopes (used when present), a tied
// lm_head copy, and GPT-2's causal-mask buffers (any dtype and shape,
// skipped as vLLM and llama.cpp skip them).
func jaisOptional(cfg *Config) []tensorSpec {
	specs := []tensorSpec{{name: "relative_pe.slopes", role: roleSlopes, layer: -1, shape: []int{cfg.NHead, 1}}}
	if cfg.TieWordEmbeddings {
		specs = append(specs, tensorSpec{name: "lm_head.weight", role: roleSkip, layer: -1, shape: []int{cfg.VocabSize, cfg.HiddenSize}})
	}
	for i := 0; i < cfg.NLayer; i++ {
		specs = append(specs,
			tensorSpec{name: "h." + strconv.Itoa(i) + ".attn.bias", role: roleSkip, layer: i, anyShape: true},
			tensorSpec{name: "h." + strconv.Itoa(i) + ".attn.masked_bias", role: roleSkip, layer: i, anyShape: true},
		)
	}
	return specs
}

// setupJais uses the checkpoint's slopes when it has them, divided by the
// linear alibi_scaling factor when the config has one.
func setupJais(m *Model) {
	if s := m.w.slopes.f; len(s) == m.cfg.NHead {
		m.slopes = append([]float32(nil), s...)
	}
	if f := m.cfg.AlibiScaling; f > 0 {
		for i := range m.slopes {
			m.slopes[i] = float32(float64(m.slopes[i]) / f)
		}
	}
}
