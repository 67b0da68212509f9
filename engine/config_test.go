package engine

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestAlibiSlopes(t *testing.T) {
	// Reference values from shared/reference/alibi-models.md §1.2.
	known := map[int][]float64{
		16: {0.707107, 0.5, 0.353553, 0.25, 0.176777, 0.125, 0.088388, 0.0625, 0.044194, 0.03125, 0.022097, 0.015625, 0.011049, 0.0078125, 0.005524, 0.00390625},
		12: {0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625, 0.707107, 0.353553, 0.176777, 0.088388},
		8:  {0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625},
		4:  {0.25, 0.0625, 0.015625, 0.00390625},
		2:  {0.0625, 0.00390625},
		1:  {0.00390625},
		6:  {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125},
	}
	// n = 40: 32 slopes 2^(-k/4), then the listed 8.
	var s40 []float64
	for k := 1; k <= 32; k++ {
		s40 = append(s40, math.Pow(2, -float64(k)/4))
	}
	known[40] = append(s40, 0.917004, 0.771105, 0.648420, 0.545254, 0.458502, 0.385553, 0.324210, 0.272627)
	for _, n := range []int{1, 2, 4, 6, 8, 12, 16, 40, 112} {
		got := AlibiSlopes(n)
		if len(got) != n {
			t.Fatalf("n=%d: %d slopes", n, len(got))
		}
		want := known[n]
		tol := 1e-6
		if want == nil {
			want, tol = refSlopes(n), 1e-7 // the recursive get_slopes of the paper's repository
		}
		for i := range got {
			if math.Abs(float64(got[i])-want[i]) > tol*math.Max(1, want[i]) {
				t.Errorf("n=%d head %d: slope %v, want %v", n, i, got[i], want[i])
			}
		}
		// Every n: agree with the recursive reference too.
		for i, r := range refSlopes(n) {
			if math.Abs(float64(got[i])-r) > 1e-7 {
				t.Errorf("n=%d head %d: slope %v, get_slopes %v", n, i, got[i], r)
			}
		}
	}
	if s := AlibiSlopes(112); math.Abs(float64(s[0])-math.Pow(2, -8.0/64)) > 1e-7 || math.Abs(float64(s[64])-math.Pow(2, -4.0/64)) > 1e-7 {
		t.Errorf("n=112: first %v, 65th %v", s[0], s[64])
	}
}

func TestParseConfig(t *testing.T) {
	good := []struct {
		name string
		json string
		want Config
	}{
		{"bloom-560m keys", `{"architectures":["BloomForCausalLM"],"model_type":"bloom","vocab_size":250880,"hidden_size":1024,"n_layer":24,"n_head":16,"layer_norm_epsilon":1e-05,"apply_residual_connection_post_layernorm":false,"bos_token_id":1,"eos_token_id":2,"pad_token_id":3,"offset_alibi":100,"n_inner":null,"seq_length":2048}`,
			Config{Architecture: "bloom", VocabSize: 250880, HiddenSize: 1024, NLayer: 24, NHead: 16, LayerNormEpsilon: 1e-5, TieWordEmbeddings: true, BOSTokenID: 1, EOSTokenID: 2, TrainingContext: 2048}},
		{"legacy aliases", `{"model_type":"bloom","vocab_size":100,"n_embed":64,"num_hidden_layers":2,"num_attention_heads":8}`,
			Config{Architecture: "bloom", VocabSize: 100, HiddenSize: 64, NLayer: 2, NHead: 8, LayerNormEpsilon: 1e-5, TieWordEmbeddings: true, BOSTokenID: 1, EOSTokenID: 2}},
		{"agreeing aliases, eos list, post-LN, n_positions", `{"architectures":["BloomModel"],"vocab_size":100,"n_embed":64,"hidden_size":64,"n_layer":2,"n_head":8,"eos_token_id":[5,6],"bos_token_id":null,"apply_residual_connection_post_layernorm":true,"n_positions":512,"tie_word_embeddings":false}`,
			Config{Architecture: "bloom", VocabSize: 100, HiddenSize: 64, NLayer: 2, NHead: 8, LayerNormEpsilon: 1e-5, ApplyResidualConnectionPostLayernorm: true, BOSTokenID: 1, EOSTokenID: 5, TrainingContext: 512}},
		{"unknown architectures entry but bloom model_type", `{"architectures":["BloomForTokenClassification"],"model_type":"bloom","vocab_size":10,"hidden_size":4,"n_layer":1,"n_head":1,"max_position_embeddings":64}`,
			Config{Architecture: "bloom", VocabSize: 10, HiddenSize: 4, NLayer: 1, NHead: 1, LayerNormEpsilon: 1e-5, TieWordEmbeddings: true, BOSTokenID: 1, EOSTokenID: 2, TrainingContext: 64}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Architectures, cfg.ModelType = nil, ""
			if !reflect.DeepEqual(*cfg, tc.want) {
				t.Errorf("got %+v\nwant %+v", *cfg, tc.want)
			}
		})
	}

	const base = `"model_type":"bloom","vocab_size":100,"n_layer":2,"n_head":4`
	bad := []struct {
		name, json string
		kind       string
		contains   []string
	}{
		{"not JSON", `{"model_type":`, "format", []string{"invalid JSON"}},
		{"not an object", `[1,2]`, "format", []string{"invalid JSON"}},
		{"null", `null`, "format", []string{"not a JSON object"}},
		{"trailing data", `{"model_type":"bloom"} {}`, "format", []string{"trailing data"}},
		{"unknown architecture", `{"architectures":["LlamaForCausalLM"],"model_type":"llama"}`, "unsupported", []string{`"LlamaForCausalLM"`, `"llama"`, "supported: bloom (BloomForCausalLM"}},
		{"no architecture", `{"hidden_size":4}`, "format", []string{`missing "architectures" and "model_type"`, "bloom"}},
		{"architectures not a list", `{"architectures":"BloomForCausalLM"}`, "format", []string{`"architectures" = "BloomForCausalLM"`, "list of strings"}},
		{"missing hidden_size", `{` + base + `}`, "format", []string{`missing "hidden_size" (or "n_embed"`}},
		{"missing vocab_size", `{"model_type":"bloom","hidden_size":16,"n_layer":2,"n_head":4}`, "format", []string{`missing "vocab_size"`}},
		{"negative heads", `{"model_type":"bloom","vocab_size":100,"hidden_size":16,"n_layer":2,"n_head":-4}`, "format", []string{`"n_head" = -4`, "integer in [1, 4096]"}},
		{"fractional layers", `{"model_type":"bloom","vocab_size":100,"hidden_size":16,"n_layer":2.5,"n_head":4}`, "format", []string{`"n_layer" = 2.5`}},
		{"string hidden", `{` + base + `,"hidden_size":"16"}`, "format", []string{`"hidden_size" = "16"`}},
		{"huge vocab", `{"model_type":"bloom","vocab_size":1e12,"hidden_size":16,"n_layer":2,"n_head":4}`, "format", []string{`"vocab_size" = 1e12`}},
		{"heads do not divide hidden", `{` + base + `,"hidden_size":18}`, "format", []string{`"hidden_size" = 18 is not a multiple of "n_head" = 4`}},
		{"conflicting aliases", `{` + base + `,"hidden_size":16,"n_embed":32}`, "format", []string{`"hidden_size" = 16 but "n_embed" = 32`}},
		{"zero epsilon", `{` + base + `,"hidden_size":16,"layer_norm_epsilon":0}`, "format", []string{`"layer_norm_epsilon" = 0`}},
		{"bool as string", `{` + base + `,"hidden_size":16,"apply_residual_connection_post_layernorm":"yes"}`, "format", []string{`"apply_residual_connection_post_layernorm" = "yes"`, "true or false"}},
		{"eos out of vocab", `{` + base + `,"hidden_size":16,"eos_token_id":100}`, "format", []string{`"eos_token_id" = 100`, "[0, 99]"}},
		{"negative seq_length", `{` + base + `,"hidden_size":16,"seq_length":-1}`, "format", []string{`"seq_length" = -1`}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.json))
			if err == nil {
				t.Fatal("no error")
			}
			if Kind(err) != tc.kind {
				t.Errorf("kind %q, want %q: %v", Kind(err), tc.kind, err)
			}
			if !strings.HasPrefix(err.Error(), "engine: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("x"), ""},
		{ErrFormat, "format"},
		{ErrUnsupported, "unsupported"},
		{ErrContext, "context"},
		{ErrMemory, "memory"},
	} {
		if got := Kind(tc.err); got != tc.want {
			t.Errorf("Kind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if SupportedArchitectures()[0] != "bloom" {
		t.Errorf("SupportedArchitectures = %v", SupportedArchitectures())
	}
}

// TestParameterCount checks the BLOOM table against published parameter
// counts (safetensors metadata_parsing.mdx, see alibi-models.md §5.1).
func TestParameterCount(t *testing.T) {
	for _, tc := range []struct {
		json string
		want int64
	}{
		{`{"model_type":"bloom","vocab_size":250880,"hidden_size":1024,"n_layer":24,"n_head":16}`, 559_214_592},   // bloom-560m
		{`{"model_type":"bloom","vocab_size":250880,"hidden_size":2560,"n_layer":30,"n_head":32}`, 3_002_557_440}, // bloom-3b
	} {
		cfg, err := ParseConfig([]byte(tc.json))
		if err != nil {
			t.Fatal(err)
		}
		if got := parameterCount(bloomFamily, cfg); got != tc.want {
			t.Errorf("hidden %d: %d parameters, want %d", cfg.HiddenSize, got, tc.want)
		}
		// f32 weights are 4 bytes per parameter; int8 about 1.125.
		if got := weightBytes(bloomFamily, cfg, QuantNone); got != 4*tc.want {
			t.Errorf("f32 weight bytes %d", got)
		}
		i8 := weightBytes(bloomFamily, cfg, QuantInt8)
		t.Logf("hidden %d: f32 %d MiB, int8 %d MiB, EstimateMemory(ctx 2048) f32 %d MiB, int8 %d MiB", cfg.HiddenSize,
			4*tc.want>>20, i8>>20, EstimateMemory(cfg, LoadOptions{})>>20, EstimateMemory(cfg, LoadOptions{Quant: QuantInt8})>>20)
	}
}

// Token ids given as lists read as encoding/json read them into a
// []float64 before jsonscan: the first entry, null as 0; a list that does
// not read is a bad value.
func TestConfigTokenIDLists(t *testing.T) {
	base := `{"model_type":"bloom","vocab_size":100,"n_embed":64,"n_layer":2,"n_head":8,"eos_token_id":`
	for _, c := range []struct {
		eos  string
		want int // -2: an error
	}{
		{`[5,6]`, 5}, {`[2.0]`, 2}, {`[1e1]`, 10}, {`[]`, 2}, {`[null,5]`, 0}, {`7`, 7},
		{`[1,1e400]`, -2}, {`["5"]`, -2}, {`[100]`, -2}, {`[-1]`, -2}, {`[5.5]`, -2},
	} {
		cfg, err := ParseConfig([]byte(base + c.eos + `}`))
		switch {
		case c.want == -2 && err == nil:
			t.Errorf("eos_token_id %s: accepted as %d", c.eos, cfg.EOSTokenID)
		case c.want != -2 && err != nil:
			t.Errorf("eos_token_id %s: %v", c.eos, err)
		case c.want != -2 && cfg.EOSTokenID != c.want:
			t.Errorf("eos_token_id %s: %d, want %d", c.eos, cfg.EOSTokenID, c.want)
		}
	}
}
