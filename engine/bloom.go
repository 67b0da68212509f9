package engine

// BLOOM (BigScience), BloomForCausalLM.
//
// References:
//   - huggingface/transformers src/transformers/models/bloom/modeling_bloom.py
//     and configuration_bloom.py
//   - ggml-org/llama.cpp src/models/bloom.cpp, convert_hf_to_gguf.py BloomModel
//   - shared/reference/alibi-models.md §2.1
//
// Checkpoint names appear only in this file. The forward pass (forward.go)
// sees the final layouts: QKV rows reordered from BLOOM's per-head
// [H][Q,K,V][d] interleave to contiguous [Q | K | V], each head-major.

import (
	"fmt"
	"strconv"
)

var bloomFamily = &family{
	name:          "bloom",
	architectures: []string{"BloomForCausalLM", "BloomModel"},
	modelTypes:    []string{"bloom"},
	// bigscience checkpoints store "h.0....", BloomForCausalLM state dicts
	// "transformer.h.0....": both are accepted.
	prefixes: []string{"transformer."},
	parse:    parseBloomConfig,
	tensors:  bloomTensors,
	optional: bloomOptional,
}

func parseBloomConfig(cfg *Config, r *configReader) error {
	cfg.LayerNormEpsilon = 1e-5 // configuration_bloom.py defaults
	cfg.TieWordEmbeddings = true
	cfg.BOSTokenID, cfg.EOSTokenID = 1, 2
	checks := []error{
		r.int(&cfg.VocabSize, true, 1, 1<<24, "vocab_size"),
		r.int(&cfg.HiddenSize, true, 1, 1<<16, "hidden_size", "n_embed"),
		r.int(&cfg.NLayer, true, 1, 1024, "n_layer", "num_hidden_layers"),
		r.int(&cfg.NHead, true, 1, 1<<12, "n_head", "num_attention_heads"),
		r.float(&cfg.LayerNormEpsilon, 0, 1, "layer_norm_epsilon"),
		r.bool(&cfg.ApplyResidualConnectionPostLayernorm, "apply_residual_connection_post_layernorm"),
		r.bool(&cfg.TieWordEmbeddings, "tie_word_embeddings"),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if cfg.HiddenSize%cfg.NHead != 0 {
		return fmt.Errorf("engine: config.json: \"hidden_size\" = %d is not a multiple of \"n_head\" = %d: %w",
			cfg.HiddenSize, cfg.NHead, ErrFormat)
	}
	// The training length has no single key in BLOOM configs; take the first present.
	for _, k := range []string{"seq_length", "n_positions", "max_position_embeddings"} {
		if err := r.int(&cfg.TrainingContext, false, 1, 1<<24, k); err != nil {
			return err
		}
		if cfg.TrainingContext != 0 {
			break
		}
	}
	if err := r.tokenID(&cfg.BOSTokenID, cfg.VocabSize, "bos_token_id"); err != nil {
		return err
	}
	return r.tokenID(&cfg.EOSTokenID, cfg.VocabSize, "eos_token_id")
}

// bloomTensors is BLOOM's architecture table: every tensor of a checkpoint,
// its role in the engine and its expected shape.
func bloomTensors(cfg *Config) []tensorSpec {
	h, v := cfg.HiddenSize, cfg.VocabSize
	specs := []tensorSpec{
		{name: "word_embeddings.weight", role: roleEmbed, layer: -1, shape: []int{v, h}},
		{name: "word_embeddings_layernorm.weight", role: roleEmbNormW, layer: -1, shape: []int{h}},
		{name: "word_embeddings_layernorm.bias", role: roleEmbNormB, layer: -1, shape: []int{h}},
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
			tensorSpec{name: p + "self_attention.query_key_value.bias", role: roleQKVB, layer: i, shape: []int{3 * h}, layout: layoutHeadsQKV},
			tensorSpec{name: p + "self_attention.dense.weight", role: roleAttnOut, layer: i, shape: []int{h, h}},
			tensorSpec{name: p + "self_attention.dense.bias", role: roleAttnOutB, layer: i, shape: []int{h}},
			tensorSpec{name: p + "post_attention_layernorm.weight", role: roleMLPNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "post_attention_layernorm.bias", role: roleMLPNormB, layer: i, shape: []int{h}},
			tensorSpec{name: p + "mlp.dense_h_to_4h.weight", role: roleUp, layer: i, shape: []int{4 * h, h}},
			tensorSpec{name: p + "mlp.dense_h_to_4h.bias", role: roleUpB, layer: i, shape: []int{4 * h}},
			tensorSpec{name: p + "mlp.dense_4h_to_h.weight", role: roleDown, layer: i, shape: []int{h, 4 * h}},
			tensorSpec{name: p + "mlp.dense_4h_to_h.bias", role: roleDownB, layer: i, shape: []int{h}},
		)
	}
	return specs
}

// bloomOptional: with tied embeddings (the default), BloomForCausalLM state
// dicts may still carry lm_head.weight, a copy of the embeddings. It is
// checked and skipped, as transformers does when it ties the weights.
func bloomOptional(cfg *Config) []tensorSpec {
	if !cfg.TieWordEmbeddings {
		return nil
	}
	return []tensorSpec{{name: "lm_head.weight", role: roleSkip, layer: -1, shape: []int{cfg.VocabSize, cfg.HiddenSize}}}
}
