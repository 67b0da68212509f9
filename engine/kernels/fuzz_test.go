package kernels

import (
	"math"
	"slices"
	"testing"
)

// FuzzKernels checks every matrix kernel against the naive float64 loops on
// shapes and values chosen by the fuzzer, on each available path (under
// js/wasm with the kernels supplied: SIMD and pure Go; natively: pure Go).
// Values are small multiples of 1/32 from the data bytes, with tails, odd
// row counts and shapes that are not multiples of the vector width.
func FuzzKernels(f *testing.F) {
	f.Add(uint32(0), []byte{1})
	f.Add(uint32(37*31+5), []byte{0x80, 0x7f, 1, 2, 3, 250})
	f.Add(uint32(11100*3+37*63+8), []byte("some activation bytes"))
	f.Add(uint32(11100*8+37*299+36), []byte{255, 0, 17, 34, 51, 68, 85, 102, 119, 136, 153})
	f.Fuzz(func(t *testing.T, shape uint32, data []byte) {
		if len(data) == 0 {
			return
		}
		rows := 1 + int(shape%37)
		cols := 1 + int(shape/37%300)
		n := 1 + int(shape/11100%9)
		k := 0
		next := func() float32 {
			v := float32(int8(data[k%len(data)])) / 32
			k++
			if k%len(data) == 0 { // vary the cycle so long slices are not periodic
				k += int(data[0]%7) + 1
			}
			return v
		}
		fill := func(m int) []float32 {
			s := make([]float32, m)
			for i := range s {
				s[i] = next()
			}
			return s
		}
		w, x, v := fill(rows*cols), fill(n*cols), fill(rows)
		q := make([]int8, len(w))
		sc := make([]float32, len(w)/Q8BlockSize(cols))
		QuantizeQ8(q, sc, w, cols)
		block := Q8BlockSize(cols)
		nb := cols / block

		prev := SetSIMD(false)
		defer SetSIMD(prev)
		for _, simd := range []bool{false, true} {
			if SetSIMD(simd); SIMD() != simd {
				continue
			}
			path := map[bool]string{false: "go", true: "simd"}[simd]
			check := func(name string, got, want, tol float64) {
				t.Helper()
				if d := math.Abs(got - want); !(d <= tol) {
					t.Fatalf("%s %s rows=%d cols=%d n=%d: got %v, want %v", path, name, rows, cols, n, got, want)
				}
			}
			d, abs := refDot(w[:cols], x[:cols])
			check("Dot", float64(Dot(w[:cols], x[:cols])), d, dotTol(cols, abs))

			mv := make([]float32, rows)
			MatVec(mv, w, x[:cols])
			al := make([]float32, rows)
			mx := ALiBiScores(al, w, x[:cols], 0.5, 0.25, 1-rows)
			if want := slices.Max(al); mx != want {
				t.Fatalf("%s ALiBiScores: max %v, want %v", path, mx, want)
			}
			mq := make([]float32, rows)
			MatVecQ8(mq, q, sc, x[:cols])
			for r := 0; r < rows; r++ {
				d, abs := refDot(w[r*cols:(r+1)*cols], x[:cols])
				check("MatVec", float64(mv[r]), d, dotTol(cols, abs))
				bias := float64(0.25 * float32(r+1-rows))
				check("ALiBiScores", float64(al[r]), 0.5*d+bias, 0.5*dotTol(cols, abs)+2*eps32*(0.5*abs+math.Abs(bias)))
				d, tol := refDotQ8(q[r*cols:(r+1)*cols], sc[r*nb:(r+1)*nb], x[:cols], block)
				check("MatVecQ8", float64(mq[r]), d, tol)
			}

			mm := make([]float32, n*rows)
			MatMul(mm, x, w, n)
			mmq := make([]float32, n*rows)
			MatMulQ8(mmq, x, q, sc, n)
			for i := 0; i < n; i++ {
				for r := 0; r < rows; r++ {
					d, abs := refDot(x[i*cols:(i+1)*cols], w[r*cols:(r+1)*cols])
					check("MatMul", float64(mm[i*rows+r]), d, dotTol(cols, abs))
					d, tol := refDotQ8(q[r*cols:(r+1)*cols], sc[r*nb:(r+1)*nb], x[i*cols:(i+1)*cols], block)
					check("MatMulQ8", float64(mmq[i*rows+r]), d, tol)
				}
			}

			tv := make([]float32, cols)
			MatVecTAdd(tv, w, v)
			col := make([]float32, rows)
			for c := range tv {
				for r := range col {
					col[r] = w[r*cols+c]
				}
				d, abs := refDot(col, v)
				check("MatVecTAdd", float64(tv[c]), d, dotTol(rows, abs))
			}
		}
	})
}
