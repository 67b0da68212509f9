package engine

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFalconKeyBiasTorch checks falconKeyBias bit for bit against the bias
// PyTorch computes in transformers' build_alibi_tensor (bf16 slopes times
// int64 positions: a bf16 product of bf16 operands), recorded by
// tools/reference/falcon_alibi_table.py.
func TestFalconKeyBiasTorch(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "alibi-falcon-torch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tab struct {
		Positions []int                  `json:"positions"`
		Heads     map[string][][]float64 `json:"heads"`
	}
	if err := json.Unmarshal(data, &tab); err != nil {
		t.Fatal(err)
	}
	for hs, rows := range tab.Heads {
		var H int
		if err := json.Unmarshal([]byte(hs), &H); err != nil || len(rows) != H {
			t.Fatalf("heads %q: %d rows", hs, len(rows))
		}
		slopes := AlibiSlopes(H)
		linear := 0
		for h := range rows {
			for i, j := range tab.Positions {
				got := falconKeyBias(slopes[h], j)
				if float64(got) != rows[h][i] {
					t.Fatalf("H=%d head %d position %d: %v, torch %v", H, h, j, got, rows[h][i])
				}
				if got != slopes[h]*float32(j) {
					linear++
				}
			}
		}
		t.Logf("H=%d: %d of %d biases differ from the unrounded slope·j", H, linear, H*len(tab.Positions))
		if linear == 0 {
			t.Errorf("H=%d: bf16 rounding never mattered: the table does not test it", H)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, tc := range []struct{ in, want float32 }{
		{1, 1}, {0.83984375, 0.83984375}, {float32(math.Sqrt(0.5)), 0.70703125},
		{257, 256}, {259, 260}, {-3.0078125, -3.0}, {0, 0},
	} {
		if got := bf16(tc.in); got != tc.want {
			t.Errorf("bf16(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if nan := float32(math.NaN()); bf16(nan) == bf16(nan) {
		t.Error("bf16(NaN) is not NaN")
	}
}

// TestFalconLong checks 300 positions against falcon_ref.py --long, where
// the bf16 key positions and products round (j > 256), and that a plain
// linear bias would miss (so the check can fail).
func TestFalconLong(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "falcon-*", "long.json"))
	if len(dirs) == 0 {
		t.Fatal("no falcon long.json fixtures (tools/reference/falcon_ref.py --long)")
	}
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var ref struct {
				IDs       []int       `json:"ids"`
				Positions []int       `json:"positions"`
				Logits    [][]float64 `json:"logits"`
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &ref); err != nil || len(ref.Positions) != len(ref.Logits) {
				t.Fatalf("bad long.json: %v", err)
			}
			m, err := LoadDir(dir, LoadOptions{ContextLength: len(ref.IDs)})
			if err != nil {
				t.Fatal(err)
			}
			diff := func(m *Model) float64 {
				got, err := m.NewSession().PrefillAll(context.Background(), ref.IDs)
				if err != nil {
					t.Fatal(err)
				}
				var worst float64
				for i, p := range ref.Positions {
					worst = max(worst, maxAbsDiff(got[p], ref.Logits[i]))
				}
				return worst
			}
			worst := diff(m)
			t.Logf("300 positions: max abs logit diff %.2e", worst)
			if worst > 1e-3 {
				t.Errorf("max abs logit diff %.3g > 1e-3", worst)
			}
			// The same model with the unrounded linear bias slope·(j-i)/√d.
			lin := *m
			slopes := AlibiSlopes(m.cfg.NHead)
			sqrtD := float32(math.Sqrt(float64(m.cfg.HiddenSize / m.cfg.NHead)))
			lin.keyBias = func(h, j int) float32 { return slopes[h] * float32(j) / sqrtD }
			lin.outHead = &lin.w.embed
			if d := diff(&lin); d < 1e-2 {
				t.Errorf("an unrounded linear bias is within %.3g of the reference: the fixture does not test bf16", d)
			} else {
				t.Logf("unrounded linear bias would differ by %.3g", d)
			}
		})
	}
}

func TestParseFalconConfigErrors(t *testing.T) {
	base := `{"architectures": ["FalconForCausalLM"], "model_type": "falcon", "alibi": true, "bias": true,
	 "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 100,
	 "multi_query": false, "parallel_attn": false, "new_decoder_architecture": false}`
	if c, err := ParseConfig([]byte(base)); err != nil || c.Architecture != "falcon" || c.NoBias || c.Activation != actGELU || c.ffWidth() != 128 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, tc := range []struct{ name, from, to, key string }{
		{"rope", `"alibi": true`, `"alibi": false`, "alibi"},
		{"multi query", `"multi_query": false`, `"multi_query": true`, "multi_query"},
		{"parallel", `"parallel_attn": false`, `"parallel_attn": true`, "parallel_attn"},
		{"new arch", `"new_decoder_architecture": false`, `"new_decoder_architecture": true`, "new_decoder_architecture"},
		{"default multi query", `"multi_query": false,`, ``, "multi_query"},
	} {
		_, err := ParseConfig([]byte(strings.Replace(base, tc.from, tc.to, 1)))
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// RW custom-code configs default multi_query and parallel_attn to false.
	rw := `{"architectures": ["RWForCausalLM"], "model_type": "RefinedWebModel", "alibi": true, "hidden_size": 32,
	 "n_head": 4, "n_layer": 2, "vocab_size": 100}`
	c, err := ParseConfig([]byte(rw))
	if err != nil || c.NHead != 4 || c.NLayer != 2 || !c.NoBias {
		t.Fatalf("%+v %v", c, err)
	}
}

// BenchmarkKeyBiasAttention times a decode step at context 256 with
// Falcon-RW's key-position bias (attentionKeyBias) against the same model
// with the relative bias (attention.go).
func BenchmarkKeyBiasAttention(b *testing.B) {
	m, err := LoadDir(filepath.Join("testdata", "falcon-f32-h4-rw"), LoadOptions{ContextLength: 320})
	if err != nil {
		b.Fatal(err)
	}
	rel := *m
	rel.keyBias = nil
	rel.outHead = &rel.w.embed
	for _, tc := range []struct {
		name string
		m    *Model
	}{{"key-bias", m}, {"relative", &rel}} {
		b.Run(tc.name, func(b *testing.B) {
			s := tc.m.NewSession()
			ids := randomIDs(256, m.cfg.VocabSize, 1)
			if _, err := s.Prefill(context.Background(), ids); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.n = 256
				if _, err := s.Step(context.Background(), 7); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
