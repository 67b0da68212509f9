package engine

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/c9e48c40/alibi/engine/kernels"
)

const jaisBase = `{"architectures": ["JAISLMHeadModel"], "model_type": "jais", "n_embd": 32, "n_head": 4,
 "n_layer": 2, "n_inner": 80, "n_positions": 2048, "vocab_size": 100, "activation_function": "swiglu",
 "position_embedding_type": "alibi", "scale_attn_weights": true, "mup_embeddings_scale": 14.6,
 "mup_output_alpha": 2.22, "mup_width_scale": 0.5, "mup_scale_qk_dot_by_d": true}`

func TestParseJaisConfig(t *testing.T) {
	c, err := ParseConfig([]byte(jaisBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Architecture != "jais" || c.ffWidth() != 80 || c.Activation != actSwiGLU || c.EmbeddingScale != 14.6 ||
		math.Abs(c.LogitScale-1.11) > 1e-12 || c.AttnScale != 1.0/8 || c.TrainingContext != 2048 {
		t.Errorf("%+v", c)
	}
	newKeys := strings.NewReplacer(`"mup_embeddings_scale"`, `"embeddings_scale"`, `"mup_output_alpha": 2.22, "mup_width_scale": 0.5`,
		`"width_scale": 0.25`, `"mup_scale_qk_dot_by_d"`, `"scale_qk_dot_by_d"`).Replace(jaisBase)
	if c, err = ParseConfig([]byte(newKeys)); err != nil || c.LogitScale != 0.25 || c.EmbeddingScale != 14.6 || c.AttnScale != 1.0/8 {
		t.Errorf("newer key names: %+v %v", c, err)
	}
	sqrtD := strings.Replace(jaisBase, `"mup_scale_qk_dot_by_d": true`, `"mup_scale_qk_dot_by_d": false`, 1)
	if c, err = ParseConfig([]byte(sqrtD)); err != nil || c.AttnScale != 0 {
		t.Errorf("1/sqrt(d): %+v %v", c, err)
	}
	scaled := strings.Replace(jaisBase, `"n_layer": 2`, `"n_layer": 2, "alibi_scaling": {"type": "linear", "factor": 4}`, 1)
	if c, err = ParseConfig([]byte(scaled)); err != nil || c.AlibiScaling != 4 {
		t.Errorf("alibi_scaling: %+v %v", c, err)
	}
	btlm := strings.Replace(strings.Replace(jaisBase, `"JAISLMHeadModel"`, `"BTLMLMHeadModel"`, 1), `"jais"`, `"btlm"`, 1)
	if c, err = ParseConfig([]byte(btlm)); err != nil || c.Architecture != "btlm" {
		t.Errorf("btlm: %+v %v", c, err)
	}
	for _, tc := range []struct {
		name, from, to, key string
		kind                error
	}{
		{"gelu", `"swiglu"`, `"gelu_new"`, "activation_function", ErrUnsupported},
		{"learned", `"position_embedding_type": "alibi"`, `"position_embedding_type": "learned"`, "position_embedding_type", ErrUnsupported},
		{"dynamic alibi scaling", `"n_layer": 2`, `"n_layer": 2, "alibi_scaling": {"type": "linear", "train_seq_len": 2048}`, "train_seq_len", ErrUnsupported},
		{"alibi scaling type", `"n_layer": 2`, `"n_layer": 2, "alibi_scaling": {"type": "dynamic", "factor": 2}`, "alibi_scaling.type", ErrUnsupported},
		{"alibi scaling factor", `"n_layer": 2`, `"n_layer": 2, "alibi_scaling": {"type": "linear", "factor": 0.5}`, "factor", ErrFormat},
		{"layer idx", `"n_layer": 2`, `"n_layer": 2, "scale_attn_by_inverse_layer_idx": true`, "scale_attn_by_inverse_layer_idx", ErrUnsupported},
		{"width without alpha pair", `"mup_width_scale": 0.5, `, ``, "mup_width_scale", ErrFormat},
		{"bad scale", `"mup_embeddings_scale": 14.6`, `"mup_embeddings_scale": -1`, "mup_embeddings_scale", ErrFormat},
	} {
		_, err := ParseConfig([]byte(strings.Replace(jaisBase, tc.from, tc.to, 1)))
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestJaisStoredSlopes: the btlm fixture stores slopes no formula gives;
// the model must use them (Slopes reports them), and the standard slopes
// would give different logits.
func TestJaisStoredSlopes(t *testing.T) {
	dir := filepath.Join("testdata", "btlm-bf16-h12-untied")
	m, err := LoadDir(dir, LoadOptions{ContextLength: 64})
	if err != nil {
		t.Fatal(err)
	}
	std := AlibiSlopes(m.cfg.NHead)
	got := m.Slopes()
	differ := 0
	for i := range got {
		if got[i] != m.w.slopes.f[i] {
			t.Fatalf("head %d: slope %v, stored %v", i, got[i], m.w.slopes.f[i])
		}
		if math.Abs(float64(got[i]-std[i])) > 1e-3 {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("stored slopes equal the standard ones: the fixture does not test them")
	}
	ids := randomIDs(40, m.cfg.VocabSize, 9)
	a, err := m.NewSession().PrefillAll(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	alt := *m
	alt.slopes = std
	alt.outHead = &alt.w.head
	b, err := alt.NewSession().PrefillAll(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for p := range a {
		for j := range a[p] {
			worst = max(worst, math.Abs(float64(a[p][j]-b[p][j])))
		}
	}
	if worst < 1e-2 {
		t.Errorf("standard slopes change the logits by only %.3g", worst)
	}
	// A jais fixture with standard stored slopes reports exactly those.
	m2, err := LoadDir(filepath.Join("testdata", "jais-f32-h5-buffers"), LoadOptions{ContextLength: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range m2.Slopes() {
		if math.Abs(float64(s-AlibiSlopes(5)[i])) > 1e-6 {
			t.Errorf("head %d: %v", i, s)
		}
	}
}

func TestParseBaichuanConfig(t *testing.T) {
	base := `{"architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "hidden_size": 40,
	 "num_attention_heads": 5, "num_hidden_layers": 2, "intermediate_size": 104, "vocab_size": 64000,
	 "model_max_length": 4096, "rms_norm_eps": 1e-06, "hidden_act": "silu", "tie_word_embeddings": false}`
	c, err := ParseConfig([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Architecture != "baichuan" || c.Norm != normRMS || c.Activation != actSwiGLU || c.ffWidth() != 104 ||
		c.TieWordEmbeddings || !c.NoBias || c.TrainingContext != 4096 || c.LayerNormEpsilon != 1e-6 {
		t.Errorf("%+v", c)
	}
	for _, tc := range []struct{ name, from, to, key string }{
		{"rope 7B", `"model_max_length": 4096`, `"max_position_embeddings": 4096`, "max_position_embeddings"},
		{"baichuan2", `"vocab_size": 64000`, `"vocab_size": 125696`, "NormHead"},
		{"gelu", `"silu"`, `"gelu"`, "hidden_act"},
	} {
		_, err := ParseConfig([]byte(strings.Replace(base, tc.from, tc.to, 1)))
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := ParseConfig([]byte(strings.Replace(base, `"intermediate_size": 104,`, ``, 1))); !errors.Is(err, ErrFormat) {
		t.Errorf("missing intermediate_size: %v", err)
	}
}

// TestFamilyLoadSplits streams each family's fixture into the Loader in odd
// write sizes (elements split across writes, the Conv1D transpose and the
// int8 staging included) and checks the same logits as one write.
func TestFamilyLoadSplits(t *testing.T) {
	for _, name := range []string{"jais-f16-h6-newkeys", "jais-f32-h5-buffers", "btlm-bf16-h12-untied", "mpt-bf16-h12-bias", "falcon-f16-h6-nobias", "baichuan-f16-h5-l2"} {
		dir := filepath.Join("testdata", name)
		cfgData, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseConfig(cfgData)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		ids := randomIDs(20, cfg.VocabSize, 5)
		for _, q := range []Quant{QuantNone, QuantInt8} {
			var want [][]float32
			for _, split := range []int{0, 1, 3, 7, 4093} {
				m, err := loadBytes(cfg, LoadOptions{Quant: q, ContextLength: 32}, data, split)
				if err != nil {
					t.Fatalf("%s %s split %d: %v", name, q, split, err)
				}
				got, err := m.NewSession().PrefillAll(context.Background(), ids)
				if err != nil {
					t.Fatal(err)
				}
				if want == nil {
					want = got
					continue
				}
				for p := range got {
					for j := range got[p] {
						if got[p][j] != want[p][j] {
							t.Fatalf("%s %s split %d: logit [%d][%d] %v != %v", name, q, split, p, j, got[p][j], want[p][j])
						}
					}
				}
			}
		}
	}
}

// TestTransposedInt8: a Conv1D weight quantized while loading (band by band
// when 32 divides its input width, whole otherwise) equals QuantizeQ8 of the
// transposed f32 matrix.
func TestTransposedInt8(t *testing.T) {
	for _, name := range []string{"jais-f32-h4-l2", "btlm-bf16-h12-untied", "jais-f16-h6-newkeys"} {
		dir := filepath.Join("testdata", name)
		f, err := LoadDir(dir, LoadOptions{ContextLength: 8})
		if err != nil {
			t.Fatal(err)
		}
		q, err := LoadDir(dir, LoadOptions{ContextLength: 8, Quant: QuantInt8})
		if err != nil {
			t.Fatal(err)
		}
		bands := 0
		for li := range f.w.layers {
			lf, lq := &f.w.layers[li], &q.w.layers[li]
			for _, pair := range [][2]*tensor{{&lf.qkv, &lq.qkv}, {&lf.attnOut, &lq.attnOut}, {&lf.up, &lq.up}, {&lf.gate, &lq.gate}, {&lf.down, &lq.down}} {
				a, b := pair[0], pair[1]
				if a.rows != b.rows || a.cols != b.cols {
					t.Fatalf("%s: shapes %dx%d vs %dx%d", name, a.rows, a.cols, b.rows, b.cols)
				}
				block := kernels.Q8BlockSize(a.cols)
				if block < a.cols {
					bands++
				}
				wq := make([]int8, len(a.f))
				ws := make([]float32, len(a.f)/block)
				kernels.QuantizeQ8(wq, ws, a.f, a.cols)
				if !slices.Equal(wq, b.q) || !slices.Equal(ws, b.s) {
					t.Fatalf("%s layer %d: int8 %dx%d differs from quantizing the f32 matrix", name, li, a.rows, a.cols)
				}
			}
		}
		t.Logf("%s: %d matrices quantized band by band", name, bands)
	}
	// EstimateMemory counts the staging.
	c, err := ParseConfig([]byte(jaisBase))
	if err != nil {
		t.Fatal(err)
	}
	// c_attn (in 32, out 96) is one band of 32 rows; c_proj (in 80) has per-row scales: whole.
	want := int64(max(32*96, 32*80, 80*32) * 4)
	if got := transposeStaging(jaisFamily, c); got != want {
		t.Errorf("staging %d, want %d", got, want)
	}
	o := LoadOptions{Quant: QuantInt8, ContextLength: 16}
	base := weightBytes(jaisFamily, c, QuantInt8) + sessionBytes(c, 16) + loaderBytes(c)
	if got := EstimateMemory(c, o); got != base+want {
		t.Errorf("EstimateMemory %d, want %d + staging %d", got, base, want)
	}
}

// TestJaisAlibiScaling: a linear alibi_scaling factor divides the slopes
// the forward pass uses (AlibiPositionEmbeddingLayer: slopes / factor).
func TestJaisAlibiScaling(t *testing.T) {
	dir := filepath.Join("testdata", "jais-f32-h5-buffers")
	cfgData, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	scaled := strings.Replace(string(cfgData), `"activation_function"`, `"alibi_scaling": {"type": "linear", "factor": 2.0}, "activation_function"`, 1)
	cfg, err := ParseConfig([]byte(scaled))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := loadBytes(cfg, LoadOptions{ContextLength: 8}, data, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range m.Slopes() {
		if want := m.w.slopes.f[i] / 2; math.Abs(float64(s-want)) > 1e-7 {
			t.Errorf("head %d: slope %v, want stored/2 = %v", i, s, want)
		}
	}
}
