package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randQ8 quantizes a random (rows, cols) matrix with QuantizeQ8.
func randQ8(r *rand.Rand, rows, cols int) ([]int8, []float32) {
	w := randSlice(r, rows*cols)
	for i := range w { // vary the block ranges
		w[i] *= float32(1 + i%7)
	}
	q := make([]int8, len(w))
	s := make([]float32, len(w)/Q8BlockSize(cols))
	QuantizeQ8(q, s, w, cols)
	return q, s
}

// refDotQ8 is the doc-comment loop for one row, in float64, with its f32
// error bound. When the SIMD path is on, the bound also covers its int16
// rounding of the activations: each full 32-column group of x is stored as
// q·(max|x|/32767), an error of at most one step per element.
func refDotQ8(w []int8, scales, x []float32, block int) (dot, tol float64) {
	var abs, act float64
	for c := range x {
		p := float64(float32(w[c])*scales[c/block]) * float64(x[c])
		dot += p
		abs += math.Abs(p)
	}
	if SIMD() {
		for b := 0; b+32 <= len(x); b += 32 {
			var amax, wsum float64
			for c := b; c < b+32; c++ {
				amax = max(amax, math.Abs(float64(x[c])))
				wsum += math.Abs(float64(float32(w[c]) * scales[c/block]))
			}
			act += wsum * amax / 32767
		}
	}
	return dot, dotTol(len(x), abs) + act*1.01
}

func TestQuantizeQ8(t *testing.T) {
	tests := []struct {
		name string
		cols int
		w    []float32
	}{
		{"zeros", 3, []float32{0, 0, 0}},
		{"per-row", 3, []float32{1, -2, 0.5, 0, 0, 4}},
		{"max-is-negative", 2, []float32{-3, 1}},
		{"block32", 32, func() []float32 {
			s := make([]float32, 64)
			for i := range s {
				s[i] = float32(i-20) / 3
			}
			return s
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			block := Q8BlockSize(tc.cols)
			q := make([]int8, len(tc.w))
			s := make([]float32, len(tc.w)/block)
			QuantizeQ8(q, s, tc.w, tc.cols)
			for i, v := range tc.w {
				sc := s[i/block]
				if q[i] < -127 {
					t.Fatalf("q[%d] = %d < -127", i, q[i])
				}
				if d := math.Abs(float64(v) - float64(q[i])*float64(sc)); d > float64(sc)/2*1.0001+1e-30 {
					t.Fatalf("w[%d] = %v: q %d * scale %v is off by %g", i, v, q[i], sc, d)
				}
			}
			for b, sc := range s { // the block maximum maps to ±127
				var amax float32
				for _, v := range tc.w[b*block : (b+1)*block] {
					amax = max(amax, float32(math.Abs(float64(v))))
				}
				if sc != amax/127 {
					t.Fatalf("scale[%d] = %v, want %v", b, sc, amax/127)
				}
			}
		})
	}
}

func TestQ8BlockSize(t *testing.T) {
	for _, tc := range []struct{ cols, want int }{{32, 32}, {64, 32}, {4096, 32}, {33, 33}, {100, 100}, {1, 1}} {
		if got := Q8BlockSize(tc.cols); got != tc.want {
			t.Errorf("Q8BlockSize(%d) = %d, want %d", tc.cols, got, tc.want)
		}
	}
}

var q8Cols = []int{1, 3, 4, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 100, 128, 160, 300}

func TestMatVecQ8(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for rows := 1; rows <= 9; rows++ {
			for _, cols := range q8Cols {
				testMatVecQ8(t, r, rows, cols)
			}
		}
		for range 30 {
			testMatVecQ8(t, r, 1+r.IntN(40), 1+r.IntN(300))
			testMatVecQ8(t, r, 1+r.IntN(40), 32*(1+r.IntN(10)))
		}
	})
}

func testMatVecQ8(t *testing.T, r *rand.Rand, rows, cols int) {
	t.Helper()
	q, s := randQ8(r, rows, cols)
	x := newGuarded(randSlice(r, cols), inGuard)
	dst := newGuarded(make([]float32, rows), outGuard)
	MatVecQ8(dst.s(), q, s, x.s())
	block := Q8BlockSize(cols)
	nb := cols / block
	for i, got := range dst.s() {
		want, tol := refDotQ8(q[i*cols:(i+1)*cols], s[i*nb:(i+1)*nb], x.s(), block)
		if d := math.Abs(float64(got) - want); !(d <= tol) {
			t.Fatalf("MatVecQ8 %dx%d row %d: got %v, want %v (diff %g > %g)", rows, cols, i, got, want, d, tol)
		}
	}
	dst.check(t, fmt.Sprintf("MatVecQ8 %dx%d dst", rows, cols))
	x.check(t, "MatVecQ8 x")
}

func TestMatMulQ8(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, n := range []int{1, 2, 3, 4, 5, 7, 8} {
			for _, rows := range []int{1, 3, 4, 5, 8, 9} {
				for _, cols := range q8Cols {
					testMatMulQ8(t, r, n, rows, cols)
				}
			}
		}
		for range 20 {
			testMatMulQ8(t, r, 1+r.IntN(12), 1+r.IntN(40), 1+r.IntN(300))
		}
		// several ~256 KiB panels of quantized activations
		testMatMulQ8(t, r, 130, 5, 1024)
		testMatMulQ8(t, r, 131, 4, 1000)
	})
}

func testMatMulQ8(t *testing.T, r *rand.Rand, n, rows, cols int) {
	t.Helper()
	q, s := randQ8(r, rows, cols)
	x := newGuarded(randSlice(r, n*cols), inGuard)
	dst := newGuarded(make([]float32, n*rows), outGuard)
	MatMulQ8(dst.s(), x.s(), q, s, n)
	block := Q8BlockSize(cols)
	nb := cols / block
	for i := 0; i < n; i++ {
		for j := 0; j < rows; j++ {
			got := dst.s()[i*rows+j]
			want, tol := refDotQ8(q[j*cols:(j+1)*cols], s[j*nb:(j+1)*nb], x.s()[i*cols:(i+1)*cols], block)
			if d := math.Abs(float64(got) - want); !(d <= tol) {
				t.Fatalf("MatMulQ8 n=%d rows=%d cols=%d at (%d,%d): got %v, want %v", n, rows, cols, i, j, got, want)
			}
		}
	}
	dst.check(t, fmt.Sprintf("MatMulQ8 n=%d rows=%d cols=%d dst", n, rows, cols))
	x.check(t, "MatMulQ8 x")
}

// A NaN or Inf activation must reach the output on every path (the int16
// rounding of the SIMD path must not swallow it).
func TestQ8NonFinite(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for _, cols := range []int{32, 64, 40} {
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
				q, s := randQ8(r, 5, cols)
				x := randSlice(r, cols)
				x[cols/2] = bad
				dst := make([]float32, 5)
				MatVecQ8(dst, q, s, x)
				for i, v := range dst {
					if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
						t.Fatalf("cols=%d x has %v: dst[%d] = %v, want non-finite", cols, bad, i, v)
					}
				}
			}
		}
	})
}
