package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refLayerNorm is LayerNorm written plainly in float64.
func refLayerNorm(x, w, b []float32, eps float32) []float64 {
	n := float64(len(x))
	var mean float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= n
	var variance float64
	for _, v := range x {
		variance += (float64(v) - mean) * (float64(v) - mean)
	}
	variance /= n
	out := make([]float64, len(x))
	for i, v := range x {
		y := (float64(v) - mean) / math.Sqrt(variance+float64(eps))
		if w != nil {
			y *= float64(w[i])
		}
		if b != nil {
			y += float64(b[i])
		}
		out[i] = y
	}
	return out
}

func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 31, 64, 255, 256, 1023, 1024, 4096} {
		for _, affine := range []bool{true, false} {
			for _, inPlace := range []bool{false, true} {
				x := randSlice(r, n)
				for i := range x {
					x[i] = x[i]*3 + 0.5 // an offset mean, so cancellation matters
				}
				var w, b []float32
				if affine {
					w, b = randSlice(r, n), randSlice(r, n)
				}
				want := refLayerNorm(x, w, b, 1e-5)
				dst := make([]float32, n)
				if inPlace {
					dst = append([]float32(nil), x...)
					LayerNorm(dst, dst, w, b, 1e-5)
				} else {
					LayerNorm(dst, x, w, b, 1e-5)
				}
				for i := range dst {
					if d := math.Abs(float64(dst[i]) - want[i]); d > 1e-5*(1+math.Abs(want[i])) || math.IsNaN(float64(dst[i])) {
						t.Fatalf("n=%d affine=%v inPlace=%v: dst[%d] = %v, want %v", n, affine, inPlace, i, dst[i], want[i])
					}
				}
			}
		}
	}
	// Only w, or only b.
	x, w := randSlice(r, 9), randSlice(r, 9)
	dst := make([]float32, 9)
	LayerNorm(dst, x, w, nil, 1e-5)
	for i, v := range refLayerNorm(x, w, nil, 1e-5) {
		if math.Abs(float64(dst[i])-v) > 1e-5*(1+math.Abs(v)) {
			t.Fatalf("w only: dst[%d] = %v, want %v", i, dst[i], v)
		}
	}
	LayerNorm(dst, x, nil, w, 1e-5)
	for i, v := range refLayerNorm(x, nil, w, 1e-5) {
		if math.Abs(float64(dst[i])-v) > 1e-5*(1+math.Abs(v)) {
			t.Fatalf("b only: dst[%d] = %v, want %v", i, dst[i], v)
		}
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	x, w, bias := randSlice(r, 1024), randSlice(r, 1024), randSlice(r, 1024)
	dst := make([]float32, 1024)
	benchOp(b, float64(len(x)), "Gelem/s", func() { LayerNorm(dst, x, w, bias, 1e-5) })
}
