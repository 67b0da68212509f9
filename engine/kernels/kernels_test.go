package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestDot(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; n <= 70; n++ {
			testDot(t, r, n)
		}
		for _, n := range []int{127, 128, 129, 255, 256, 257, 1000, 1023, 4099} {
			testDot(t, r, n)
		}
	})
}

func testDot(t *testing.T, r *rand.Rand, n int) {
	t.Helper()
	a, b := newGuarded(randSlice(r, n), inGuard), newGuarded(randSlice(r, n), inGuard)
	got := Dot(a.s(), b.s())
	want, abs := refDot(a.s(), b.s())
	if d := math.Abs(float64(got) - want); !(d <= dotTol(n, abs)) {
		t.Fatalf("Dot n=%d: got %v, want %v (diff %g)", n, got, want, d)
	}
	a.check(t, "Dot a")
	b.check(t, "Dot b")
}

func TestMatVec(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for rows := 1; rows <= 9; rows++ {
			for cols := 1; cols <= 40; cols++ {
				testMatVec(t, r, rows, cols)
			}
		}
		for range 40 {
			testMatVec(t, r, 1+r.IntN(40), 1+r.IntN(300))
		}
	})
}

func testMatVec(t *testing.T, r *rand.Rand, rows, cols int) {
	t.Helper()
	w, x := newGuarded(randSlice(r, rows*cols), inGuard), newGuarded(randSlice(r, cols), inGuard)
	dst := newGuarded(make([]float32, rows), outGuard)
	MatVec(dst.s(), w.s(), x.s())
	for i, got := range dst.s() {
		want, abs := refDot(w.s()[i*cols:(i+1)*cols], x.s())
		if d := math.Abs(float64(got) - want); !(d <= dotTol(cols, abs)) {
			t.Fatalf("MatVec %dx%d row %d: got %v, want %v", rows, cols, i, got, want)
		}
	}
	dst.check(t, fmt.Sprintf("MatVec %dx%d dst", rows, cols))
	w.check(t, "MatVec w")
	x.check(t, "MatVec x")
}

func TestAxpy(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for n := 0; n <= 300; n++ {
			a := r.Float32()*4 - 2
			x := newGuarded(randSlice(r, n), inGuard)
			d0 := randSlice(r, n)
			dst := newGuarded(d0, outGuard)
			Axpy(dst.s(), a, x.s())
			for i, got := range dst.s() {
				// float32() forbids fusing into an FMA, which some ports (and
				// the kernel itself, natively) may do: allow one rounding.
				want := d0[i] + float32(a*x.s()[i])
				if d := math.Abs(float64(got - want)); d > 2*eps32*(math.Abs(float64(d0[i]))+math.Abs(float64(a*x.s()[i]))) {
					t.Fatalf("Axpy n=%d i=%d: got %v, want %v", n, i, got, want)
				}
			}
			dst.check(t, "Axpy dst")
		}
	})
}

func TestMatMul(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for n := 1; n <= 6; n++ {
			for rows := 1; rows <= 9; rows++ {
				for _, cols := range []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 33} {
					testMatMul(t, r, n, rows, cols)
				}
			}
		}
		for range 30 {
			testMatMul(t, r, 1+r.IntN(9), 1+r.IntN(40), 1+r.IntN(300))
		}
		// Enough rows of X to span several of the SIMD kernel's ~256 KiB
		// panels (odd last panel, leftover rows of W).
		testMatMul(t, r, 131, 5, 1000)
		testMatMul(t, r, 440, 8, 300)
	})
}

func testMatMul(t *testing.T, r *rand.Rand, n, rows, cols int) {
	t.Helper()
	x, w := newGuarded(randSlice(r, n*cols), inGuard), newGuarded(randSlice(r, rows*cols), inGuard)
	dst := newGuarded(make([]float32, n*rows), outGuard)
	MatMul(dst.s(), x.s(), w.s(), n)
	for i := 0; i < n; i++ {
		for j := 0; j < rows; j++ {
			got := dst.s()[i*rows+j]
			want, abs := refDot(x.s()[i*cols:(i+1)*cols], w.s()[j*cols:(j+1)*cols])
			if d := math.Abs(float64(got) - want); !(d <= dotTol(cols, abs)) {
				t.Fatalf("MatMul n=%d rows=%d cols=%d at (%d,%d): got %v, want %v", n, rows, cols, i, j, got, want)
			}
		}
	}
	dst.check(t, fmt.Sprintf("MatMul n=%d rows=%d cols=%d dst", n, rows, cols))
	x.check(t, "MatMul x")
	w.check(t, "MatMul w")
}

func TestMatVecTAdd(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(15, 16))
		for rows := 0; rows <= 9; rows++ {
			for _, cols := range []int{1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 36, 63, 64, 65, 100} {
				testMatVecTAdd(t, r, rows, cols)
			}
		}
		for range 30 {
			testMatVecTAdd(t, r, 1+r.IntN(300), 1+r.IntN(300))
		}
	})
}

func testMatVecTAdd(t *testing.T, r *rand.Rand, rows, cols int) {
	t.Helper()
	w, x := newGuarded(randSlice(r, rows*cols), inGuard), newGuarded(randSlice(r, rows), inGuard)
	d0 := randSlice(r, cols)
	dst := newGuarded(d0, outGuard)
	MatVecTAdd(dst.s(), w.s(), x.s())
	col := make([]float32, rows)
	for c, got := range dst.s() {
		for i := range col {
			col[i] = w.s()[i*cols+c]
		}
		want, abs := refDot(col, x.s())
		want += float64(d0[c])
		abs += math.Abs(float64(d0[c]))
		if d := math.Abs(float64(got) - want); !(d <= dotTol(rows+1, abs)) {
			t.Fatalf("MatVecTAdd %dx%d col %d: got %v, want %v", rows, cols, c, got, want)
		}
	}
	dst.check(t, fmt.Sprintf("MatVecTAdd %dx%d dst", rows, cols))
	w.check(t, "MatVecTAdd w")
	x.check(t, "MatVecTAdd x")
}

func TestALiBiScores(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(17, 18))
		for rows := 0; rows <= 11; rows++ {
			for _, cols := range []int{1, 3, 4, 8, 13, 64} {
				testALiBiScores(t, r, rows, cols, -rows-r.IntN(50))
			}
		}
		for range 20 {
			testALiBiScores(t, r, 1+r.IntN(300), 1+r.IntN(130), r.IntN(600)-500)
		}
	})
}

func testALiBiScores(t *testing.T, r *rand.Rand, rows, cols, off int) {
	t.Helper()
	k, q := newGuarded(randSlice(r, rows*cols), inGuard), newGuarded(randSlice(r, cols), inGuard)
	dst := newGuarded(make([]float32, rows), outGuard)
	scale, slope := 1/float32(math.Sqrt(float64(cols))), r.Float32()
	mx := ALiBiScores(dst.s(), k.s(), q.s(), scale, slope, off)
	wantMax := math.Inf(-1)
	for i, got := range dst.s() {
		d, abs := refDot(k.s()[i*cols:(i+1)*cols], q.s())
		bias := float64(slope * float32(i+off))
		want := d*float64(scale) + bias
		tol := dotTol(cols, abs)*float64(scale) + 2*eps32*(abs*float64(scale)+math.Abs(bias))
		if e := math.Abs(float64(got) - want); !(e <= tol) {
			t.Fatalf("ALiBiScores %dx%d off=%d row %d: got %v, want %v", rows, cols, off, i, got, want)
		}
		wantMax = max(wantMax, float64(got))
	}
	if float64(mx) != wantMax {
		t.Fatalf("ALiBiScores %dx%d: max %v, want %v (the largest score written)", rows, cols, mx, wantMax)
	}
	dst.check(t, "ALiBiScores dst")
	k.check(t, "ALiBiScores k")
}
