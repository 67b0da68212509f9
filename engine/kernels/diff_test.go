package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
)

// requireSIMD skips the test when no SIMD kernels are in use, except under
// js/wasm with ALIBI_FULL=1 and without ALIBI_SIMD=0, where the runner
// (tools/wasmexec) must have supplied them and their absence is a failure.
func requireSIMD(t *testing.T) {
	t.Helper()
	if haveSIMDKernels() {
		return
	}
	if runtime.GOOS != "js" {
		t.Skip("no SIMD128 kernels outside js/wasm")
	}
	if os.Getenv("ALIBI_SIMD") == "0" {
		t.Skip("ALIBI_SIMD=0: the host supplied the pure-Go stub")
	}
	msg := "the host supplied no SIMD kernel module (run through tools/wasmexec/go_js_wasm_exec)"
	if os.Getenv("ALIBI_FULL") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func haveSIMDKernels() bool {
	prev := SetSIMD(true)
	defer SetSIMD(prev)
	return SIMD()
}

// TestSIMDMatchesGo is the differential test: on random shapes (with tails,
// 1..300 columns) the SIMD and pure-Go paths agree within the f32 rounding
// bound (plus, for int8 weights, the SIMD path's activation rounding).
func TestSIMDMatchesGo(t *testing.T) {
	requireSIMD(t)
	prev := SetSIMD(true)
	defer SetSIMD(prev)
	run := func(simd bool, f func()) {
		SetSIMD(simd)
		f()
	}
	r := rand.New(rand.NewPCG(21, 22))
	for iter := 0; iter < 150; iter++ {
		rows, cols, n := 1+r.IntN(37), 1+r.IntN(300), 1+r.IntN(9)
		if iter%3 == 0 {
			cols = 32 * (1 + r.IntN(9)) // block-32 int8 scales
		}
		w, x, v := randSlice(r, rows*cols), randSlice(r, n*cols), randSlice(r, rows)
		q, sc := randQ8(r, rows, cols)
		block := Q8BlockSize(cols)
		nb := cols / block
		type out struct{ dot, mv, mm, mq, mmq, tv, sc []float32 }
		var res [2]out
		for pi, simd := range []bool{false, true} {
			o := out{dot: make([]float32, 1), mv: make([]float32, rows), mm: make([]float32, n*rows),
				mq: make([]float32, rows), mmq: make([]float32, n*rows), tv: make([]float32, cols),
				sc: make([]float32, rows+1)}
			run(simd, func() {
				o.dot[0] = Dot(w[:cols], x[:cols])
				MatVec(o.mv, w, x[:cols])
				MatMul(o.mm, x, w, n)
				MatVecQ8(o.mq, q, sc, x[:cols])
				MatMulQ8(o.mmq, x, q, sc, n)
				MatVecTAdd(o.tv, w, v)
				o.sc[rows] = ALiBiScores(o.sc[:rows], w, x[:cols], 0.3, 0.7, -rows)
			})
			res[pi] = o
		}
		g, s := res[0], res[1]
		cmp := func(name string, a, b float32, tol float64) {
			t.Helper()
			if d := math.Abs(float64(a) - float64(b)); !(d <= tol) {
				t.Fatalf("%s rows=%d cols=%d n=%d: go %v, simd %v (diff %g > %g)", name, rows, cols, n, a, b, d, tol)
			}
		}
		_, abs := refDot(w[:cols], x[:cols])
		cmp("Dot", g.dot[0], s.dot[0], 2*dotTol(cols, abs))
		for i := 0; i < rows; i++ {
			_, abs := refDot(w[i*cols:(i+1)*cols], x[:cols])
			cmp("MatVec", g.mv[i], s.mv[i], 2*dotTol(cols, abs))
			bias := math.Abs(float64(0.7 * float32(i-rows)))
			cmp("ALiBiScores", g.sc[i], s.sc[i], 0.3*2*dotTol(cols, abs)+4*eps32*(0.3*abs+bias))
			SetSIMD(true) // refDotQ8's bound includes the SIMD activation rounding
			_, tol := refDotQ8(q[i*cols:(i+1)*cols], sc[i*nb:(i+1)*nb], x[:cols], block)
			cmp("MatVecQ8", g.mq[i], s.mq[i], 2*tol)
		}
		for i := 0; i < n; i++ {
			for j := 0; j < rows; j++ {
				_, abs := refDot(x[i*cols:(i+1)*cols], w[j*cols:(j+1)*cols])
				cmp("MatMul", g.mm[i*rows+j], s.mm[i*rows+j], 2*dotTol(cols, abs))
				_, tol := refDotQ8(q[j*cols:(j+1)*cols], sc[j*nb:(j+1)*nb], x[i*cols:(i+1)*cols], block)
				cmp("MatMulQ8", g.mmq[i*rows+j], s.mmq[i*rows+j], 2*tol)
			}
		}
		if gm, sm := slices.Max(g.sc[:rows]), slices.Max(s.sc[:rows]); g.sc[rows] != gm || s.sc[rows] != sm {
			t.Fatalf("ALiBiScores max: go %v (of %v), simd %v (of %v)", g.sc[rows], gm, s.sc[rows], sm)
		}
		col := make([]float32, rows)
		for c := 0; c < cols; c++ {
			for i := range col {
				col[i] = w[i*cols+c]
			}
			_, abs := refDot(col, v)
			cmp("MatVecTAdd", g.tv[c], s.tv[c], 2*dotTol(rows, abs))
		}
	}
}
