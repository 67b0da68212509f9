package engine

// MPT (MosaicML), MPTForCausalLM / MptForCausalLM, model_type "mpt".
//
// References:
//   - mosaicml/llm-foundry llmfoundry/models/layers/attention.py
//     (GroupedQueryAttention.forward: Wqkv, clamp(clip_qkv), split
//     [d_model, kv·d, kv·d], q_ln/k_ln over all heads; gen_slopes;
//     build_alibi_bias) and llmfoundry/models/mpt/{modeling_mpt.py,
//     configuration_mpt.py} (no_bias removes every bias, layernorms
//     included; logit_scale incl. "inv_sqrt_d_model" = 1/√d_model; alibi
//     turns learned_pos_emb off)
//   - huggingface/transformers src/transformers/models/mpt/modeling_mpt.py
//     (tensor names; exact GELU; softmax_scale defaults to 1/√(d_model/n_heads))
//   - ggml-org/llama.cpp src/models/mpt.cpp, convert_hf_to_gguf.py MPTModel
//   - shared/reference/alibi-models.md §2.2
//
// The engine follows llm-foundry, which implements every config key; the
// HF-native MptForCausalLM ignores qk_ln, logit_scale and expansion_ratio.

import (
	"fmt"
	"math"
	"strconv"

	"github.com/c9e48c40/alibi/internal/jsonscan"
)

var mptFamily = &family{
	name:          "mpt",
	architectures: []string{"MPTForCausalLM", "MptForCausalLM"},
	modelTypes:    []string{"mpt"},
	prefixes:      []string{"transformer."},
	parse:         parseMPTConfig,
	tensors:       mptTensors,
	optional:      mptOptional,
}

// sub returns a reader over the JSON object under key (empty when absent).
func (r *configReader) sub(key string) (*configReader, error) {
	_, raw, _ := r.lookup(key)
	if raw == nil {
		return &configReader{m: map[string][]byte{}}, nil
	}
	ms, err := jsonscan.Members(raw)
	if err != nil {
		return nil, badValue(key, raw, "a JSON object")
	}
	return readerOf(ms), nil
}

// raw returns the raw JSON of key, nil when absent or null.
func (r *configReader) raw(key string) []byte {
	_, raw, _ := r.lookup(key)
	return raw
}

func parseMPTConfig(cfg *Config, r *configReader) error {
	cfg.LayerNormEpsilon = 1e-5 // torch LayerNorm default, as llm-foundry's LPLayerNorm
	cfg.TieWordEmbeddings = true
	cfg.Activation = actGELU
	cfg.Norm = normLayer
	cfg.NoBias, cfg.NormNoBias = true, true
	cfg.AlibiBiasMax = 8
	cfg.TrainingContext = 2048
	ratio := 4.0
	noBias := true
	checks := []error{
		r.int(&cfg.VocabSize, true, 1, 1<<24, "vocab_size"),
		r.int(&cfg.HiddenSize, true, 1, 1<<16, "d_model", "hidden_size"),
		r.int(&cfg.NLayer, true, 1, 1024, "n_layers", "num_hidden_layers"),
		r.int(&cfg.NHead, true, 1, 1<<12, "n_heads", "num_attention_heads"),
		r.int(&cfg.TrainingContext, false, 1, 1<<24, "max_seq_len"),
		r.float(&ratio, 0, 1024, "expansion_ratio"),
		r.float(&cfg.LayerNormEpsilon, 0, 1, "layer_norm_epsilon"),
		r.bool(&noBias, "no_bias"),
		r.bool(&cfg.TieWordEmbeddings, "tie_word_embeddings"),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	cfg.NoBias, cfg.NormNoBias = noBias, noBias
	if cfg.HiddenSize%cfg.NHead != 0 {
		return fmt.Errorf("engine: config.json: \"d_model\" = %d is not a multiple of \"n_heads\" = %d: %w",
			cfg.HiddenSize, cfg.NHead, ErrFormat)
	}
	// llm-foundry resolve_ffn_hidden_size: int(d_model · expansion_ratio).
	cfg.Intermediate = int(float64(cfg.HiddenSize) * ratio)
	if cfg.Intermediate < 1 {
		return badValue("expansion_ratio", r.raw("expansion_ratio"), "a ratio giving at least one MLP unit")
	}
	var norm string
	if err := r.string("norm_type", &norm); err != nil {
		return err
	}
	switch norm {
	case "", "low_precision_layernorm", "layernorm":
	default:
		return fmt.Errorf("engine: config.json: \"norm_type\" = %q is not supported (layernorm, low_precision_layernorm): %w", norm, ErrUnsupported)
	}
	if raw := r.raw("logit_scale"); raw != nil {
		s, errS := jsonscan.String(raw)
		f, errF := jsonscan.Float(raw)
		switch {
		case errS == nil && s == "inv_sqrt_d_model":
			cfg.LogitScale = 1 / math.Sqrt(float64(cfg.HiddenSize))
		case errF == nil && f != 0 && !math.IsInf(f, 0) && !math.IsNaN(f):
			cfg.LogitScale = f
		default:
			return badValue("logit_scale", raw, "a non-zero number or \"inv_sqrt_d_model\"")
		}
	}
	if raw := r.raw("ffn_config"); raw != nil {
		fc, err := r.sub("ffn_config")
		if err != nil {
			return err
		}
		var typ string
		if err := fc.string("ffn_type", &typ); err != nil {
			return err
		}
		if typ != "" && typ != "mptmlp" {
			return fmt.Errorf("engine: config.json: \"ffn_config.ffn_type\" = %q is not supported (mptmlp): %w", typ, ErrUnsupported)
		}
	}
	ac, err := r.sub("attn_config")
	if err != nil {
		return err
	}
	var alibi, prefixLM bool
	var attnType string
	kvHeads := cfg.NHead
	checks = []error{
		ac.bool(&alibi, "alibi"),
		ac.bool(&prefixLM, "prefix_lm"),
		ac.float(&cfg.AlibiBiasMax, 0, 1024, "alibi_bias_max"),
		ac.float(&cfg.ClipQKV, 0, math.MaxFloat32, "clip_qkv"),
		ac.bool(&cfg.QKLayerNorm, "qk_ln"),
		ac.float(&cfg.AttnScale, 0, math.MaxFloat32, "softmax_scale"),
		ac.string("attn_type", &attnType),
		ac.int(&kvHeads, false, 1, 1<<12, "kv_n_heads"),
	}
	for _, err := range checks {
		if err != nil {
			return fmt.Errorf("%w (in \"attn_config\")", err)
		}
	}
	if !alibi {
		return fmt.Errorf("engine: config.json: MPT with \"attn_config.alibi\" = false (learned or rotary positions) is not supported; the engine runs ALiBi models: %w", ErrUnsupported)
	}
	if prefixLM {
		return fmt.Errorf("engine: config.json: MPT with \"attn_config.prefix_lm\" = true is not supported: %w", ErrUnsupported)
	}
	switch attnType {
	case "", "multihead_attention":
	case "grouped_query_attention":
		if kvHeads != cfg.NHead {
			return fmt.Errorf("engine: config.json: MPT grouped-query attention (\"kv_n_heads\" = %d, \"n_heads\" = %d) is not supported: %w", kvHeads, cfg.NHead, ErrUnsupported)
		}
	default:
		return fmt.Errorf("engine: config.json: \"attn_config.attn_type\" = %q is not supported (multihead_attention): %w", attnType, ErrUnsupported)
	}
	if err := r.tokenID(&cfg.BOSTokenID, cfg.VocabSize, "bos_token_id"); err != nil {
		return err
	}
	return r.tokenID(&cfg.EOSTokenID, cfg.VocabSize, "eos_token_id")
}

// mptTensors is MPT's architecture table (HF MptForCausalLM / llm-foundry
// names; the Wqkv rows are already [Q; K; V]).
func mptTensors(cfg *Config) []tensorSpec {
	h, v, ff := cfg.HiddenSize, cfg.VocabSize, cfg.ffWidth()
	specs := []tensorSpec{
		{name: "wte.weight", role: roleEmbed, layer: -1, shape: []int{v, h}},
		{name: "norm_f.weight", role: roleOutNormW, layer: -1, shape: []int{h}},
	}
	if !cfg.NormNoBias {
		specs = append(specs, tensorSpec{name: "norm_f.bias", role: roleOutNormB, layer: -1, shape: []int{h}})
	}
	if !cfg.TieWordEmbeddings {
		specs = append(specs, tensorSpec{name: "lm_head.weight", role: roleHead, layer: -1, shape: []int{v, h}})
	}
	for i := 0; i < cfg.NLayer; i++ {
		p := "blocks." + strconv.Itoa(i) + "."
		specs = append(specs,
			tensorSpec{name: p + "norm_1.weight", role: roleAttnNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "attn.Wqkv.weight", role: roleQKV, layer: i, shape: []int{3 * h, h}},
			tensorSpec{name: p + "attn.out_proj.weight", role: roleAttnOut, layer: i, shape: []int{h, h}},
			tensorSpec{name: p + "norm_2.weight", role: roleMLPNormW, layer: i, shape: []int{h}},
			tensorSpec{name: p + "ffn.up_proj.weight", role: roleUp, layer: i, shape: []int{ff, h}},
			tensorSpec{name: p + "ffn.down_proj.weight", role: roleDown, layer: i, shape: []int{h, ff}},
		)
		if cfg.QKLayerNorm {
			specs = append(specs,
				tensorSpec{name: p + "attn.q_ln.weight", role: roleQNormW, layer: i, shape: []int{h}},
				tensorSpec{name: p + "attn.k_ln.weight", role: roleKNormW, layer: i, shape: []int{h}},
			)
		}
		if !cfg.NormNoBias {
			specs = append(specs,
				tensorSpec{name: p + "norm_1.bias", role: roleAttnNormB, layer: i, shape: []int{h}},
				tensorSpec{name: p + "norm_2.bias", role: roleMLPNormB, layer: i, shape: []int{h}},
			)
			if cfg.QKLayerNorm {
				specs = append(specs,
					tensorSpec{name: p + "attn.q_ln.bias", role: roleQNormB, layer: i, shape: []int{h}},
					tensorSpec{name: p + "attn.k_ln.bias", role: roleKNormB, layer: i, shape: []int{h}},
				)
			}
		}
		if !cfg.NoBias {
			specs = append(specs,
				tensorSpec{name: p + "attn.Wqkv.bias", role: roleQKVB, layer: i, shape: []int{3 * h}},
				tensorSpec{name: p + "attn.out_proj.bias", role: roleAttnOutB, layer: i, shape: []int{h}},
				tensorSpec{name: p + "ffn.up_proj.bias", role: roleUpB, layer: i, shape: []int{ff}},
				tensorSpec{name: p + "ffn.down_proj.bias", role: roleDownB, layer: i, shape: []int{h}},
			)
		}
	}
	return specs
}

// mptOptional: a tied lm_head.weight copy is checked and skipped.
func mptOptional(cfg *Config) []tensorSpec {
	if !cfg.TieWordEmbeddings {
		return nil
	}
	return []tensorSpec{{name: "lm_head.weight", role: roleSkip, layer: -1, shape: []int{cfg.VocabSize, cfg.HiddenSize}}}
}

// alibiSlopesMax generalises AlibiSlopes to a maximum bias B (MPT's
// alibi_bias_max; AlibiSlopes is B = 8): with c the largest power of two
// ≤ n, the first c slopes are 2^(-B·h/c) for h = 1..c and the remaining
// n-c are 2^(-(B/2)·(2k+1)/c). This equals llm-foundry's gen_slopes (every
// other slope of the next power of two, odd ones first) and ggml's
// soft_max max_bias slopes.
func alibiSlopesMax(n int, B float64) []float32 {
	if n <= 0 {
		return nil
	}
	c := 1
	for c*2 <= n {
		c *= 2
	}
	slopes := make([]float32, n)
	for h := 0; h < c; h++ {
		slopes[h] = float32(math.Exp2(-B * float64(h+1) / float64(c)))
	}
	for k := 0; k < n-c; k++ {
		slopes[c+k] = float32(math.Exp2(-B / 2 * float64(2*k+1) / float64(c)))
	}
	return slopes
}
