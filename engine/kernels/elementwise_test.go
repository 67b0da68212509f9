package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// geluRef is 0.5·v·(1 + tanh(u)) in float64, written as v/(1 + e^(-2u)):
// the same function without the cancellation in 1 + tanh(u) for v < 0
// (float64 tanh saturates to -1 beyond |u| ≈ 19 and would give -0).
func geluRef(v float64) (y, u float64) {
	u = 0.7978845608028654 * v * (1 + 0.044715*v*v)
	if math.IsInf(v, -1) {
		return math.NaN(), u // 0.5·(-Inf)·(1 + tanh(-Inf)) = -Inf·0
	}
	return v / (1 + math.Exp(-2*u)), u
}

func TestGELUTanh(t *testing.T) {
	var in []float32
	for v := -12.0; v <= 12; v += 0.0137 {
		in = append(in, float32(v))
	}
	r := rand.New(rand.NewPCG(41, 42))
	for range 500 {
		in = append(in, float32(r.NormFloat64()*3))
	}
	in = append(in, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-3, -1e-3, 30, -30, 1e4, -1e4, 3e38, -3e38)
	eachPath(t, func(t *testing.T) {
		// every length 0..9 for the tails, then the whole sweep
		for n := 0; n <= 9; n++ {
			testGELU(t, in[100:100+n])
		}
		testGELU(t, in)
	})
	eachPath(t, func(t *testing.T) {
		x := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1, 2}
		GELUTanh(x)
		if !math.IsNaN(float64(x[0])) || !math.IsInf(float64(x[1]), 1) || !math.IsNaN(float64(x[2])) {
			t.Fatalf("GELUTanh(NaN, +Inf, -Inf) = %v, want NaN, +Inf, NaN", x[:3])
		}
	})
}

func testGELU(t *testing.T, in []float32) {
	t.Helper()
	g := newGuarded(in, outGuard)
	GELUTanh(g.s())
	for i, got := range g.s() {
		want, u := geluRef(float64(in[i]))
		// the floor: results below ~1e-37 may flush to -0
		tol := (8+4*math.Abs(u))*eps32*math.Abs(want) + 1e-37
		if d := math.Abs(float64(got) - want); !(d <= tol) || math.Signbit(float64(got)) != math.Signbit(want) && want != 0 {
			t.Fatalf("GELUTanh(%v) = %v, want %v (diff %g > %g)", in[i], got, want, d, tol)
		}
	}
	g.check(t, "GELUTanh")
}

func TestExpShift(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	var in []float32
	for v := -110.0; v <= 10; v += 0.071 {
		in = append(in, float32(v))
	}
	for range 300 {
		in = append(in, float32(-r.ExpFloat64()*5))
	}
	in = append(in, float32(math.Inf(-1)), 0, -87.3, -87.4, 88.5, 88.7, 89, 1e3)
	eachPath(t, func(t *testing.T) {
		for _, m := range []float32{0, 3, -2.5} {
			for n := 0; n <= 9; n++ {
				testExpShift(t, in[1400:1400+n], m)
			}
			testExpShift(t, in, m)
		}
	})
}

func testExpShift(t *testing.T, in []float32, m float32) {
	t.Helper()
	g := newGuarded(in, outGuard)
	sum := ExpShift(g.s(), m)
	var wsum float64
	finite := true
	for i, got := range g.s() {
		arg := float64(in[i] - m)
		want := math.Exp(arg)
		switch {
		case math.IsInf(arg, -1):
			if got != 0 {
				t.Fatalf("ExpShift: exp(-Inf) = %v, want 0", got)
			}
		case want > math.MaxFloat32:
			finite = false
			if !math.IsInf(float64(got), 1) {
				t.Fatalf("ExpShift: exp(%v) = %v, want +Inf", arg, got)
			}
		case want < 0x1p-126: // may flush to zero
			if !(got == 0 || math.Abs(float64(got)-want) <= 0x1p-126) {
				t.Fatalf("ExpShift: exp(%v) = %v, want %v or 0", arg, got, want)
			}
		default:
			if d := math.Abs(float64(got) - want); !(d <= 4*eps32*want) {
				t.Fatalf("ExpShift: exp(%v) = %v, want %v (%.2f ulp)", arg, got, want, d/(2*eps32*want))
			}
		}
		wsum += want
	}
	if !finite {
		if !math.IsInf(float64(sum), 1) {
			t.Fatalf("ExpShift sum = %v, want +Inf", sum)
		}
	} else if d := math.Abs(float64(sum) - wsum); !(d <= dotTol(len(in), wsum)+4*eps32*wsum) {
		t.Fatalf("ExpShift n=%d m=%v sum = %v, want %v", len(in), m, sum, wsum)
	}
	g.check(t, "ExpShift")
}
