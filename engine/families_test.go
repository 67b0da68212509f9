package engine

import (
	"context"
	"math"
	"path/filepath"
	"testing"
)

// TestFamiliesStepMatchesPrefill runs every family fixture both as one
// prefill and token by token (the KV cache path): the logits agree, and
// the attention hook's probabilities of each head sum to 1.
func TestFamiliesStepMatchesPrefill(t *testing.T) {
	for _, dir := range fixtureDirs() {
		m, err := LoadDir(dir, LoadOptions{ContextLength: 80})
		if err != nil {
			continue // not a model fixture
		}
		if m.cfg.Architecture == "bloom" {
			continue // covered by forward_test.go
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ids := randomIDs(70, m.cfg.VocabSize, 3)
			want, err := m.NewSession().PrefillAll(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			s := m.NewSession()
			var sums []float64
			s.SetAttentionHook(m.cfg.NLayer-1, func(layer int, probs [][]float32) {
				for _, p := range probs {
					var sum float64
					for _, v := range p {
						sum += float64(v)
					}
					sums = append(sums, sum)
				}
			})
			for i, id := range ids {
				got, err := s.Step(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				w := make([]float64, len(want[i]))
				for j, v := range want[i] {
					w[j] = float64(v)
				}
				if d := maxAbsDiff(got, w); d > 1e-4 {
					t.Fatalf("position %d: step vs prefill logits differ by %.3g", i, d)
				}
			}
			for _, sum := range sums {
				if math.Abs(sum-1) > 1e-4 {
					t.Fatalf("attention probabilities sum to %v", sum)
				}
			}
		})
	}
}
