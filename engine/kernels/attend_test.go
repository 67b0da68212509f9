package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttendHeads checks the fused decode attention against the per-head
// sequence it stands for (ALiBiScores, ExpShift, MatVecTAdd, Scale), bit for
// bit, on each kernel path; under ALIBI_THREADS=2 the larger cases are split
// by heads across the kernel threads and must still match exactly.
func TestAttendHeads(t *testing.T) {
	paths := []bool{false}
	if haveSIMDKernels() {
		paths = append(paths, true)
	}
	prev := SetSIMD(false)
	defer SetSIMD(prev)
	r := rand.New(rand.NewPCG(31, 32))
	cases := []struct{ nh, d, npos int }{
		{1, 64, 1}, {3, 64, 17}, {16, 64, 300}, {8, 32, 257}, {5, 37, 40}, {2, 8, 3}, {12, 64, 129},
	}
	for it := 0; it < 12; it++ {
		cases = append(cases, struct{ nh, d, npos int }{1 + r.IntN(16), 1 + r.IntN(96), 1 + r.IntN(400)})
	}
	for _, simd := range paths {
		SetSIMD(simd)
		for _, c := range cases {
			hstride := c.npos*c.d + r.IntN(3)*c.d // a context longer than npos, or exactly npos
			k := randSlice(r, (c.nh-1)*hstride+c.npos*c.d)
			v := randSlice(r, len(k))
			q := randSlice(r, c.nh*c.d)
			slopes := make([]float32, c.nh)
			for h := range slopes {
				slopes[h] = float32(math.Exp2(-float64(h+1) / 2))
			}
			scale := float32(1 / math.Sqrt(float64(c.d)))
			got := make([]float32, c.nh*c.d)
			AttendHeads(got, q, k, v, make([]float32, 4*c.npos), slopes, c.nh, c.d, c.npos, hstride, scale)

			want := make([]float32, c.nh*c.d)
			sc := make([]float32, c.npos)
			for h := 0; h < c.nh; h++ {
				kh, vh := k[h*hstride:h*hstride+c.npos*c.d], v[h*hstride:h*hstride+c.npos*c.d]
				out := want[h*c.d : (h+1)*c.d]
				mx := ALiBiScores(sc, kh, q[h*c.d:(h+1)*c.d], scale, slopes[h], 1-c.npos)
				sum := ExpShift(sc, mx)
				MatVecTAdd(out, vh, sc)
				Scale(out, 1/sum)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("simd=%v nh=%d d=%d npos=%d: out[%d] = %v, want %v (per-head kernels)", simd, c.nh, c.d, c.npos, i, got[i], want[i])
				}
			}
		}
	}
}

func TestAttendHeadsChecksLengths(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("AttendHeads with too little scratch did not panic")
		}
	}()
	AttendHeads(make([]float32, 64), make([]float32, 64), make([]float32, 640), make([]float32, 640), make([]float32, 9), []float32{1}, 1, 64, 10, 640, 0.125)
}
