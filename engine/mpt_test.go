package engine

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const mptBase = `{"architectures": ["MPTForCausalLM"], "model_type": "mpt", "d_model": 32, "n_heads": 4,
 "n_layers": 2, "vocab_size": 100, "max_seq_len": 512, "expansion_ratio": 4, "no_bias": true,
 "logit_scale": null, "attn_config": {"alibi": true, "alibi_bias_max": 8, "clip_qkv": null,
 "qk_ln": false, "softmax_scale": null, "attn_type": "multihead_attention", "prefix_lm": false}}`

func mptCfg(repl ...string) string {
	s := mptBase
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			panic("mptCfg: " + repl[i])
		}
		s = strings.Replace(s, repl[i], repl[i+1], 1)
	}
	return s
}

func TestParseMPTConfig(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, c *Config)
	}{
		{"defaults", mptCfg(), func(t *testing.T, c *Config) {
			if c.Architecture != "mpt" || c.HiddenSize != 32 || c.NHead != 4 || c.NLayer != 2 || c.TrainingContext != 512 {
				t.Errorf("%+v", c)
			}
			if c.Activation != actGELU || !c.NoBias || !c.NormNoBias || c.ffWidth() != 128 || c.LogitScale != 0 || c.AttnScale != 0 {
				t.Errorf("%+v", c)
			}
		}},
		{"inv_sqrt_d_model", mptCfg(`"logit_scale": null`, `"logit_scale": "inv_sqrt_d_model"`), func(t *testing.T, c *Config) {
			if math.Abs(c.LogitScale-1/math.Sqrt(32)) > 1e-12 {
				t.Errorf("logit scale %v", c.LogitScale)
			}
		}},
		{"numeric scales", mptCfg(`"logit_scale": null`, `"logit_scale": 0.5`, `"softmax_scale": null`, `"softmax_scale": 0.2`,
			`"clip_qkv": null`, `"clip_qkv": 6`, `"qk_ln": false`, `"qk_ln": true`, `"expansion_ratio": 4`, `"expansion_ratio": 2.5`,
			`"no_bias": true`, `"no_bias": false`, `"alibi_bias_max": 8`, `"alibi_bias_max": 16`), func(t *testing.T, c *Config) {
			if c.LogitScale != 0.5 || c.AttnScale != 0.2 || c.ClipQKV != 6 || !c.QKLayerNorm || c.ffWidth() != 80 || c.NoBias || c.AlibiBiasMax != 16 {
				t.Errorf("%+v", c)
			}
		}},
		{"hidden_size alias", mptCfg(`"d_model": 32`, `"hidden_size": 32`), func(t *testing.T, c *Config) {
			if c.HiddenSize != 32 {
				t.Errorf("hidden %d", c.HiddenSize)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestParseMPTConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		json string
		kind error
		key  string
	}{
		{"no alibi", mptCfg(`"alibi": true`, `"alibi": false`), ErrUnsupported, "attn_config.alibi"},
		{"prefix lm", mptCfg(`"prefix_lm": false`, `"prefix_lm": true`), ErrUnsupported, "prefix_lm"},
		{"gqa", mptCfg(`"attn_type": "multihead_attention"`, `"attn_type": "grouped_query_attention", "kv_n_heads": 2`), ErrUnsupported, "kv_n_heads"},
		{"mqa", mptCfg(`"attn_type": "multihead_attention"`, `"attn_type": "multiquery_attention"`), ErrUnsupported, "attn_type"},
		{"rmsnorm", mptCfg(`"no_bias": true`, `"no_bias": true, "norm_type": "rmsnorm"`), ErrUnsupported, "norm_type"},
		{"glu", mptCfg(`"no_bias": true`, `"no_bias": true, "ffn_config": {"ffn_type": "mptglu"}`), ErrUnsupported, "ffn_type"},
		{"bad logit scale", mptCfg(`"logit_scale": null`, `"logit_scale": "sqrt"`), ErrFormat, "logit_scale"},
		{"zero logit scale", mptCfg(`"logit_scale": null`, `"logit_scale": 0`), ErrFormat, "logit_scale"},
		{"bad clip", mptCfg(`"clip_qkv": null`, `"clip_qkv": -1`), ErrFormat, "clip_qkv"},
		{"bad attn_config", mptCfg(`"attn_config": {`, `"attn_config": 3, "x": {`), ErrFormat, "attn_config"},
		{"heads", mptCfg(`"n_heads": 4`, `"n_heads": 5`), ErrFormat, "n_heads"},
		{"missing d_model", mptCfg(`"d_model": 32,`, ``), ErrFormat, "d_model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.json))
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("err %v, want %v naming %q", err, tc.kind, tc.key)
			}
		})
	}
}

// genSlopes is llm-foundry's gen_slopes, transcribed: P = 2^ceil(log2 n),
// s_i = 2^(-i·B/P), then concat(s[1::2], s[::2])[:n] when P != n.
func genSlopes(n int, B float64) []float64 {
	P := 1
	for P < n {
		P *= 2
	}
	s := make([]float64, P)
	for i := range s {
		s[i] = 1 / math.Pow(2, float64(i+1)*B/float64(P))
	}
	if P == n {
		return s
	}
	var out []float64
	for i := 1; i < P; i += 2 {
		out = append(out, s[i])
	}
	for i := 0; i < P; i += 2 {
		out = append(out, s[i])
	}
	return out[:n]
}

func TestMPTSlopes(t *testing.T) {
	for _, B := range []float64{8, 16, 4} {
		for _, n := range []int{1, 4, 5, 6, 12, 16, 40, 71} {
			got := alibiSlopesMax(n, B)
			want := genSlopes(n, B)
			for i := range want {
				if math.Abs(float64(got[i])-want[i]) > 1e-7*want[i] {
					t.Fatalf("B=%g n=%d head %d: %g, want %g", B, n, i, got[i], want[i])
				}
			}
			if B == 8 {
				for i, s := range AlibiSlopes(n) {
					if s != got[i] {
						t.Fatalf("n=%d: B=8 differs from AlibiSlopes at %d", n, i)
					}
				}
			}
		}
	}
	c, err := ParseConfig([]byte(mptCfg(`"alibi_bias_max": 8`, `"alibi_bias_max": 16`, `"n_heads": 4`, `"n_heads": 8`)))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.AlibiSlopes(); s[0] != 0.25 || s[7] != float32(math.Exp2(-16)) {
		t.Errorf("slopes %v", s)
	}
}

func TestUnsupportedListsAllFamilies(t *testing.T) {
	_, err := ParseConfig([]byte(`{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}`))
	if !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	for _, fam := range SupportedArchitectures() {
		if !strings.Contains(err.Error(), fam) {
			t.Errorf("%v does not name %s", err, fam)
		}
	}
}
