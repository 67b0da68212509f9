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
		if iter%10 == 1 {
			cols = 64 // an attention head (matvec_t's one-pass path)
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

// TestSIMDMatVecLarge checks the SIMD matvec (four row quarters read in
// parallel) against the pure-Go loop on large shapes, the size of a model's
// weight matrices: row counts with every remainder mod 4 and 8, odd column
// counts, and a sentinel after dst that must survive.
func TestSIMDMatVecLarge(t *testing.T) {
	requireSIMD(t)
	prev := SetSIMD(true)
	defer SetSIMD(prev)
	r := rand.New(rand.NewPCG(23, 24))
	shapes := [][2]int{{2053, 1027}, {2048, 1024}, {263, 8001}, {8195, 257}, {8, 262144}, {9, 233017}, {15, 139810}, {2062, 1021}, {1027, 2049}, {1029, 2048}}
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		w, x := randSlice(r, rows*cols), randSlice(r, cols)
		var got [2][]float32
		for pi, simd := range []bool{false, true} {
			dst := make([]float32, rows+3)
			for i := rows; i < len(dst); i++ {
				dst[i] = 1234.5
			}
			SetSIMD(simd)
			MatVec(dst[:rows], w, x)
			for i := rows; i < len(dst); i++ {
				if dst[i] != 1234.5 {
					t.Fatalf("simd=%v %dx%d: wrote past dst at %d", simd, rows, cols, i)
				}
			}
			got[pi] = dst[:rows]
		}
		for i := 0; i < rows; i++ {
			_, abs := refDot(w[i*cols:(i+1)*cols], x)
			if d := math.Abs(float64(got[0][i]) - float64(got[1][i])); !(d <= 2*dotTol(cols, abs)) {
				t.Fatalf("MatVec %dx%d row %d: go %v, simd %v (diff %g)", rows, cols, i, got[0][i], got[1][i], d)
			}
		}
	}
}

// TestSIMDMatVecQ8MatchesMatMulQ8: on the SIMD path, decoding a token
// (MatVecQ8, four row quarters per pass) and prefilling it (MatMulQ8,
// consecutive rows) give the same logits bit for bit: both run the same
// per-row arithmetic.
func TestSIMDMatVecQ8MatchesMatMulQ8(t *testing.T) {
	requireSIMD(t)
	prev := SetSIMD(true)
	defer SetSIMD(prev)
	r := rand.New(rand.NewPCG(25, 26))
	shapes := [][2]int{{1, 64}, {3, 100}, {4, 32}, {7, 96}, {13, 250}, {37, 320}, {1027, 256}, {1030, 1024}, {515, 1000}}
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		q, s := randQ8(r, rows, cols)
		n := 3
		x := randSlice(r, n*cols)
		mm := make([]float32, n*rows)
		MatMulQ8(mm, x, q, s, n)
		mv := make([]float32, rows+1)
		for i := 0; i < n; i++ {
			mv[rows] = 1234.5
			MatVecQ8(mv[:rows], q, s, x[i*cols:(i+1)*cols])
			if mv[rows] != 1234.5 {
				t.Fatalf("MatVecQ8 %dx%d wrote past dst", rows, cols)
			}
			for j := 0; j < rows; j++ {
				if math.Float32bits(mv[j]) != math.Float32bits(mm[i*rows+j]) {
					t.Fatalf("%dx%d row %d of X, W row %d: MatVecQ8 %v, MatMulQ8 %v", rows, cols, i, j, mv[j], mm[i*rows+j])
				}
			}
		}
	}
}
