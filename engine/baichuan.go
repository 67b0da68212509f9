package engine

// Baichuan-13B (Baichuan Inc., BaichuanForCausalLM / BaiChuanForCausalLM,
// model_type "baichuan", custom code): the ALiBi variant of Baichuan.
//
// References:
//   - a copy of the Baichuan-13B-Chat remote code (modeling_baichuan.py:
//     _get_interleave slopes = the paper's get_slopes; _gen_alibi_mask =
//     slope·key index + a −inf upper triangle, added after q·kᵀ/√d;
//     RMSNorm x·rsqrt(mean(x²) + eps)·w; W_pack [3h, h] unflattened as
//     (3, h), i.e. contiguous [Q; K; V]; MLP down(act(gate(x))·up(x)) with
//     hidden_act "silu"; untied lm_head; no biases anywhere) and its
//     configuration_baichuan.py (defaults rms_norm_eps 1e-6,
//     model_max_length 4096, tie_word_embeddings false)
//   - ggml-org/llama.cpp src/models/baichuan.cpp, convert_hf_to_gguf.py
//     BaichuanModel (W_pack split into attn_q/k/v)
//   - shared/reference/alibi-models.md §2.4
//
// Baichuan-7B and Baichuan2-7B use rotary positions (their configs carry
// max_position_embeddings) and Baichuan2-13B normalises its lm_head rows
// (NormHead, vocabulary 125696): those are refused.

import (
	"fmt"
	"strconv"
)

var baichuanFamily = &family{
	name:          "baichuan",
	architectures: []string{"BaichuanForCausalLM", "BaiChuanForCausalLM"},
	modelTypes:    []string{"baichuan"},
	prefixes:      []string{"model."},
	parse:         parseBaichuanConfig,
	tensors:       baichuanTensors,
	optional:      func(*Config) []tensorSpec { return nil },
}

// baichuan2Vocab is the vocabulary size of Baichuan2, whose NormHead
// normalises the lm_head rows at inference.
const baichuan2Vocab = 125696

func parseBaichuanConfig(cfg *Config, r *configReader) error {
	cfg.LayerNormEpsilon = 1e-6
	cfg.TieWordEmbeddings = false
	cfg.Activation = actSwiGLU
	cfg.Norm = normRMS
	cfg.NoBias, cfg.NormNoBias = true, true
	cfg.TrainingContext = 4096
	cfg.BOSTokenID, cfg.EOSTokenID = 1, 2
	act := "silu"
	checks := []error{
		r.int(&cfg.VocabSize, true, 1, 1<<24, "vocab_size"),
		r.int(&cfg.HiddenSize, true, 1, 1<<16, "hidden_size"),
		r.int(&cfg.NLayer, true, 1, 1024, "num_hidden_layers"),
		r.int(&cfg.NHead, true, 1, 1<<12, "num_attention_heads"),
		r.int(&cfg.Intermediate, true, 1, 1<<20, "intermediate_size"),
		r.int(&cfg.TrainingContext, false, 1, 1<<24, "model_max_length"),
		r.float(&cfg.LayerNormEpsilon, 0, 1, "rms_norm_eps"),
		r.bool(&cfg.TieWordEmbeddings, "tie_word_embeddings"),
		r.string("hidden_act", &act),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	switch {
	case r.raw("max_position_embeddings") != nil:
		return fmt.Errorf("engine: config.json: Baichuan with \"max_position_embeddings\" is a rotary-position model (Baichuan-7B, Baichuan2-7B); only the ALiBi Baichuan-13B is supported: %w", ErrUnsupported)
	case cfg.VocabSize == baichuan2Vocab:
		return fmt.Errorf("engine: config.json: \"vocab_size\" = %d is Baichuan2, whose normalised lm_head (NormHead) is not supported: %w", cfg.VocabSize, ErrUnsupported)
	case act != "silu":
		return fmt.Errorf("engine: config.json: \"hidden_act\" = %q is not supported (silu): %w", act, ErrUnsupported)
	}
	if cfg.HiddenSize%cfg.NHead != 0 {
		return fmt.Errorf("engine: config.json: \"hidden_size\" = %d is not a multiple of \"num_attention_heads\" = %d: %w",
			cfg.HiddenSize, cfg.NHead, ErrFormat)
	}
	if err := r.tokenID(&cfg.BOSTokenID, cfg.VocabSize, "bos_token_id"); err != nil {
		return err
	}
	return r.tokenID(&cfg.EOSTokenID, cfg.VocabSize, "eos_token_id")
}

// baichuanTensors is Baichuan-13B's architecture table.
func baichuanTensors(cfg *Config) []tensorSpec {
	h, v, ff := cfg.HiddenSize, cfg.VocabSize, cfg.ffWidth()
	specs := []tensorSpec{
		{name: "embed_tokens.weight", role: roleEmbed, layer: -1, shape: []int{v, h}},
		{name: "norm.weight", role: roleOutNormW, layer: -1, shape: []int{h}},
	}
	if !cfg.TieWordEmbeddings {
		specs = append(specs, tensorSpec{name: "lm_head.weight", role: roleHead, layer: -1, shape: []int{v, h}})
	}
	for i := 0; i < cfg.NLayer; i++ {
		p := "layers." + strconv.Itoa(i) + "."
		specs = append(specs,
			tensorSpec{name: p + "input_layernorm.weight", role: roleAttnNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "self_attn.W_pack.weight", role: roleQKV, layer: i, shape: []int{3 * h, h}},
			tensorSpec{name: p + "self_attn.o_proj.weight", role: roleAttnOut, layer: i, shape: []int{h, h}},
			tensorSpec{name: p + "post_attention_layernorm.weight", role: roleMLPNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "mlp.gate_proj.weight", role: roleGate, layer: i, shape: []int{ff, h}},
			tensorSpec{name: p + "mlp.up_proj.weight", role: roleUp, layer: i, shape: []int{ff, h}},
			tensorSpec{name: p + "mlp.down_proj.weight", role: roleDown, layer: i, shape: []int{h, ff}},
		)
	}
	return specs
}
