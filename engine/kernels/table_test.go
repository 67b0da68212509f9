package kernels

import (
	"slices"
	"testing"
)

// Small hand-computed cases (small integers, so every path is exact): they
// pin down the layout conventions (row-major, X·Wᵀ, Wᵀ·x, block scales).
func TestKernelTable(t *testing.T) {
	w23 := []float32{1, 2, 3, 4, 5, 6} // 2x3
	tests := []struct {
		name string
		run  func() []float32
		want []float32
	}{
		{"Dot", func() []float32 { return []float32{Dot([]float32{1, 2, 3}, []float32{4, 5, 6})} }, []float32{32}},
		{"Dot empty", func() []float32 { return []float32{Dot(nil, nil)} }, []float32{0}},
		{"MatVec 2x3", func() []float32 {
			d := make([]float32, 2)
			MatVec(d, w23, []float32{1, 0, -1})
			return d
		}, []float32{-2, -2}},
		{"MatVec 5x1", func() []float32 {
			d := make([]float32, 5)
			MatVec(d, []float32{1, 2, 3, 4, 5}, []float32{2})
			return d
		}, []float32{2, 4, 6, 8, 10}},
		{"MatMul X(2x3)·Wᵀ(3x2)", func() []float32 {
			d := make([]float32, 4)
			MatMul(d, []float32{1, 0, 0, 0, 1, 1}, w23, 2)
			return d
		}, []float32{1, 4, 5, 11}},
		{"MatVecTAdd Wᵀ(2x3)·x", func() []float32 {
			d := []float32{10, 20, 30}
			MatVecTAdd(d, w23, []float32{1, -1})
			return d
		}, []float32{7, 17, 27}},
		{"Axpy", func() []float32 {
			d := []float32{1, 1, 1, 1, 1}
			Axpy(d, 2, []float32{1, 2, 3, 4, 5})
			return d
		}, []float32{3, 5, 7, 9, 11}},
		{"MatVecQ8 per-row scales", func() []float32 {
			d := make([]float32, 2)
			MatVecQ8(d, []int8{1, -2, 3, 127, 0, -128}, []float32{0.5, 2}, []float32{2, 1, 1})
			return d
		}, []float32{1.5, 252}},
		{"MatMulQ8 per-row scales", func() []float32 {
			d := make([]float32, 4)
			MatMulQ8(d, []float32{2, 1, 1, 0, 0, 1}, []int8{1, -2, 3, 127, 0, -128}, []float32{0.5, 2}, 2)
			return d
		}, []float32{1.5, 252, 1.5, -256}},
		{"MatVecQ8 block 32", func() []float32 {
			q := make([]int8, 64)
			x := make([]float32, 64)
			for i := range q {
				q[i] = int8(i%5 - 2)
				x[i] = 1
			}
			d := make([]float32, 1)
			// block sums: Σ(i%5-2) over 0..31 = -3, over 32..63 = 1
			MatVecQ8(d, q, []float32{4, 8}, x)
			return d
		}, []float32{4*-3 + 8*1}},
		{"ALiBiScores", func() []float32 {
			d := make([]float32, 2)
			m := ALiBiScores(d, w23, []float32{1, 0, -1}, 0.5, 0.25, -1)
			return append(d, m)
		}, []float32{-1.25, -1, -1}},
		{"ExpShift", func() []float32 {
			x := []float32{0, 0, 0, float32(negInf())}
			s := ExpShift(x, 0)
			return append(x, s)
		}, []float32{1, 1, 1, 0, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachPath(t, func(t *testing.T) {
				if got := tc.run(); !slices.Equal(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		})
	}
}
