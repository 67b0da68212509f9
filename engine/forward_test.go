package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/c9e48c40/alibi/engine/safetensors"
)

// TestForwardMatchesReference checks PrefillAll against the float64
// reference forward for several shapes, dtypes and the post-LN residual.
func TestForwardMatchesReference(t *testing.T) {
	cases := []tinyOpts{
		{hidden: 16, heads: 4, layers: 1, vocab: 40, dtype: safetensors.F32},
		{hidden: 24, heads: 6, layers: 2, vocab: 50, dtype: safetensors.F16},
		{hidden: 48, heads: 12, layers: 3, vocab: 60, dtype: safetensors.BF16},
		{hidden: 16, heads: 4, layers: 2, vocab: 40, postLN: true},
		{hidden: 8, heads: 1, layers: 1, vocab: 30},
	}
	for i, o := range cases {
		o.seed = uint64(i + 1)
		name := fmt.Sprintf("h%d-H%d-L%d-%s-post%v", o.hidden, o.heads, o.layers, o.dtype, o.postLN)
		t.Run(name, func(t *testing.T) {
			tb := newTinyBloom(t, o)
			m := tb.load(t, LoadOptions{ContextLength: 32})
			ids := randomIDs(12, tb.cfg.VocabSize, uint64(i))
			got, err := m.NewSession().PrefillAll(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			want := tb.refForward(ids)
			for p := range ids {
				if d := maxAbsDiff(got[p], want[p]); d > 1e-4 {
					t.Fatalf("position %d: max abs logit diff %.3g > 1e-4", p, d)
				}
			}
		})
	}
}

// TestPrefillChunksAndBlocks runs a prompt longer than one prefill chunk and
// one attention key block, so both boundaries are crossed.
func TestPrefillChunksAndBlocks(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 16, heads: 4, layers: 2, vocab: 40, seed: 3})
	m := tb.load(t, LoadOptions{ContextLength: 200})
	ids := randomIDs(150, 40, 5)
	got, err := m.NewSession().PrefillAll(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want := tb.refForward(ids)
	for _, p := range []int{0, 63, 64, 65, 127, 128, 149} {
		if d := maxAbsDiff(got[p], want[p]); d > 1e-4 {
			t.Errorf("position %d: max abs logit diff %.3g", p, d)
		}
	}
	s := m.NewSession()
	last, err := s.Prefill(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(last, want[149]); d > 1e-4 {
		t.Errorf("Prefill last logits differ by %.3g", d)
	}
}

// TestDecodeMatchesPrefill checks that step-by-step decoding with the KV
// cache gives the logits of a full prefill.
func TestDecodeMatchesPrefill(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 24, heads: 6, layers: 2, vocab: 50, seed: 9})
	for _, q := range []Quant{QuantNone, QuantInt8} {
		t.Run(string(q), func(t *testing.T) {
			m := tb.load(t, LoadOptions{Quant: q, ContextLength: 100})
			ids := randomIDs(80, 50, 2)
			full, err := m.NewSession().PrefillAll(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			s := m.NewSession()
			if _, err := s.Prefill(context.Background(), ids[:5]); err != nil {
				t.Fatal(err)
			}
			for p := 5; p < len(ids); p++ {
				logits, err := s.Step(context.Background(), ids[p])
				if err != nil {
					t.Fatal(err)
				}
				for j := range logits {
					// Matrix-vector and matrix-matrix kernels may sum in different
					// orders (SIMD): allow float32 rounding.
					if d := math.Abs(float64(logits[j] - full[p][j])); d > 1e-4*(1+math.Abs(float64(full[p][j]))) {
						t.Fatalf("position %d token %d: step %v, prefill %v", p, j, logits[j], full[p][j])
					}
				}
			}
			if s.Len() != len(ids) {
				t.Fatalf("Len = %d, want %d", s.Len(), len(ids))
			}
		})
	}
}

// TestStepAllocs proves a decode step allocates nothing.
func TestStepAllocs(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 32, heads: 4, layers: 2, vocab: 64, seed: 4})
	for _, q := range []Quant{QuantNone, QuantInt8} {
		m := tb.load(t, LoadOptions{Quant: q, ContextLength: 512})
		s := m.NewSession()
		ctx := context.Background()
		if _, err := s.Prefill(ctx, []int{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := s.Step(ctx, 5); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Step allocates %v times per call", q, allocs)
		}
		// With the attention hook off there must be no hook cost either; on,
		// still no allocation.
		s.SetAttentionHook(1, func(int, [][]float32) {})
		allocs = testing.AllocsPerRun(50, func() {
			if _, err := s.Step(ctx, 5); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Step with hook allocates %v times per call", q, allocs)
		}
	}
}

// TestContextOverflow checks the context error and its numbers, and that a
// failed call leaves the session usable.
func TestContextOverflow(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 5})
	m := tb.load(t, LoadOptions{ContextLength: 10})
	s := m.NewSession()
	ctx := context.Background()
	if _, err := s.Prefill(ctx, make([]int, 7)); err != nil {
		t.Fatal(err)
	}
	_, err := s.Prefill(ctx, make([]int, 4))
	if !errors.Is(err, ErrContext) || Kind(err) != "context" {
		t.Fatalf("err = %v, want ErrContext", err)
	}
	if want := "prompt of 4 tokens + 7 already in context exceeds context length 10"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}
	if s.Len() != 7 {
		t.Errorf("Len after failed prefill = %d, want 7", s.Len())
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Step(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Step(ctx, 1); !errors.Is(err, ErrContext) || !strings.Contains(err.Error(), "1 new token + 10 already in context exceeds context length 10") {
		t.Errorf("Step at full context: err = %v", err)
	}
	s.Reset()
	if _, err := s.Prefill(ctx, []int{tb.cfg.VocabSize}); err == nil || Kind(err) != "" {
		t.Errorf("out-of-range id: err = %v", err)
	}
	if _, err := s.Prefill(ctx, nil); err == nil {
		t.Error("empty prompt: no error")
	}
}

// TestLongContext runs past the training length (ALiBi extrapolates) and
// checks against the reference.
func TestLongContext(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 6, extraConfig: map[string]any{"seq_length": 16}})
	if tb.cfg.TrainingContext != 16 {
		t.Fatalf("TrainingContext = %d", tb.cfg.TrainingContext)
	}
	def := tb.load(t, LoadOptions{})
	if def.Info().ContextLength != DefaultContextLength {
		t.Errorf("default context = %d, want DefaultContextLength (%d) for a model trained on 16", def.Info().ContextLength, DefaultContextLength)
	}
	m := tb.load(t, LoadOptions{ContextLength: 70})
	ids := randomIDs(70, tb.cfg.VocabSize, 1)
	got, err := m.NewSession().PrefillAll(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want := tb.refForward(ids)
	if d := maxAbsDiff(got[69], want[69]); d > 1e-4 {
		t.Errorf("logit diff %.3g at position 69", d)
	}
}

// TestInt8LogitError measures int8 against f32 logits.
func TestInt8LogitError(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 64, heads: 4, layers: 2, vocab: 100, seed: 8})
	ids := randomIDs(24, 100, 3)
	f32, err := tb.load(t, LoadOptions{}).NewSession().PrefillAll(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	i8m := tb.load(t, LoadOptions{Quant: QuantInt8})
	i8, err := i8m.NewSession().PrefillAll(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var maxErr, maxLogit float64
	for p := range ids {
		for j := range f32[p] {
			maxErr = math.Max(maxErr, math.Abs(float64(i8[p][j]-f32[p][j])))
			maxLogit = math.Max(maxLogit, math.Abs(float64(f32[p][j])))
		}
	}
	t.Logf("int8 vs f32: max abs logit error %.4f (max |logit| %.2f, weights %d vs %d bytes)",
		maxErr, maxLogit, i8m.Info().WeightBytes, tb.load(t, LoadOptions{}).Info().WeightBytes)
	if maxErr > 0.05*maxLogit || maxErr == 0 {
		t.Errorf("int8 max abs logit error %.4f out of the expected range (0, %.3f]", maxErr, 0.05*maxLogit)
	}
}

// TestAttentionHook checks the hook's probabilities against a direct softmax.
func TestAttentionHook(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 16, heads: 4, layers: 2, seed: 10})
	m := tb.load(t, LoadOptions{ContextLength: 100})
	s := m.NewSession()
	var calls int
	var last [][]float32
	s.SetAttentionHook(1, func(layer int, probs [][]float32) {
		calls++
		if layer != 1 {
			t.Errorf("layer = %d", layer)
		}
		last = make([][]float32, len(probs))
		for i := range probs {
			last[i] = append([]float32(nil), probs[i]...)
		}
	})
	ctx := context.Background()
	if _, err := s.Prefill(ctx, randomIDs(70, 50, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Step(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || len(last) != 4 || len(last[0]) != 71 {
		t.Fatalf("calls %d, heads %d, keys %d; want 2, 4, 71", calls, len(last), len(last[0]))
	}
	// Recompute from the cache: query = last row's Q in s.qkv, keys in s.k[1].
	h, d := 16, 4
	for hh := 0; hh < 4; hh++ {
		q := s.qkv[hh*d : (hh+1)*d]
		scores := make([]float64, 71)
		mx := math.Inf(-1)
		for j := range scores {
			var dot float64
			for e := 0; e < d; e++ {
				dot += float64(q[e]) * float64(s.k[1][(hh*s.ctxLen+j)*d+e])
			}
			scores[j] = dot/2 - float64(m.slopes[hh])*float64(70-j)
			mx = math.Max(mx, scores[j])
		}
		var sum, psum float64
		for j := range scores {
			scores[j] = math.Exp(scores[j] - mx)
			sum += scores[j]
		}
		for j := range scores {
			psum += float64(last[hh][j])
			if diff := math.Abs(scores[j]/sum - float64(last[hh][j])); diff > 1e-5 {
				t.Fatalf("head %d key %d: prob %v, want %v", hh, j, last[hh][j], scores[j]/sum)
			}
		}
		if math.Abs(psum-1) > 1e-4 {
			t.Errorf("head %d: probabilities sum to %v", hh, psum)
		}
	}
	_ = h
	s.SetAttentionHook(0, nil)
	if _, err := s.Step(ctx, 3); err != nil || calls != 2 {
		t.Errorf("hook called after removal (calls %d, err %v)", calls, err)
	}
}

// TestCancel checks that a canceled context stops a prefill and leaves the
// session unchanged.
func TestCancel(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 11})
	m := tb.load(t, LoadOptions{ContextLength: 300})
	s := m.NewSession()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Prefill(ctx, randomIDs(200, 50, 1)); !errors.Is(err, context.Canceled) || Kind(err) != "aborted" {
		t.Fatalf("err = %v", err)
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d after canceled prefill", s.Len())
	}
}

// TestTraceHook checks the order and shapes of traced values and that
// "out_norm" times the tied head gives the logits.
func TestTraceHook(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 16, heads: 4, layers: 2, vocab: 30, seed: 13})
	m := tb.load(t, LoadOptions{ContextLength: 16})
	s := m.NewSession()
	var names []string
	var outNorm []float32
	s.SetTraceHook(func(name string, layer, pos int, x []float32) {
		names = append(names, fmt.Sprintf("%s@%d:%d/%d", name, layer, pos, len(x)))
		if name == "out_norm" {
			outNorm = append([]float32(nil), x...)
		}
	})
	logits, err := s.Prefill(context.Background(), []int{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	want := "embed_norm@-1:0/48 " +
		"attn_norm@0:0/48 qkv@0:0/144 attn@0:0/48 attn_res@0:0/48 ffn_norm@0:0/48 ffn_act@0:0/192 block_out@0:0/48 " +
		"attn_norm@1:0/48 qkv@1:0/144 attn@1:0/48 attn_res@1:0/48 ffn_norm@1:0/48 ffn_act@1:0/192 block_out@1:0/48 " +
		"out_norm@-1:2/16"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("trace\n got %s\nwant %s", got, want)
	}
	emb := tb.values["word_embeddings.weight"]
	for v := 0; v < 30; v++ {
		var dot float64
		for e := 0; e < 16; e++ {
			dot += float64(outNorm[e]) * float64(emb[v*16+e])
		}
		if math.Abs(dot-float64(logits[v])) > 1e-4 {
			t.Fatalf("logit %d: %v, out_norm·E %v", v, logits[v], dot)
		}
	}
	s.SetTraceHook(nil)
	names = nil
	if _, err := s.Step(context.Background(), 4); err != nil || names != nil {
		t.Errorf("trace after removal: %v %v", names, err)
	}
}
