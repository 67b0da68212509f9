package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Naive reference loops in float64, straight from the doc comments, and the
// helpers the table, differential and fuzz tests share.

// eps32 is the unit roundoff of float32.
const eps32 = 1.0 / (1 << 24)

// refDot returns the float64 dot product and the sum of |a[i]*b[i]|, which
// bounds the float32 rounding error of any summation order:
// |err| <= (n+2)·eps32·Σ|a·b| (Higham, recursive summation, with slack).
func refDot(a, b []float32) (dot, abs float64) {
	for i := range a {
		p := float64(a[i]) * float64(b[i])
		dot += p
		abs += math.Abs(p)
	}
	return dot, abs
}

func dotTol(n int, abs float64) float64 { return float64(n+2)*2*eps32*abs + 1e-30 }

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// Guarded buffers, gonum style: the slice handed to a kernel is the middle of
// a larger buffer whose margins hold a sentinel; a kernel that writes outside
// its slice changes a sentinel, one that reads outside an input picks up NaN.
const guardLen = 19

var (
	outGuard = math.Float32frombits(0x7fc0dead) // a NaN with a payload: bit-compared
	inGuard  = float32(math.NaN())
)

type guarded struct {
	buf   []float32
	guard float32
}

func newGuarded(s []float32, guard float32) *guarded {
	buf := make([]float32, len(s)+2*guardLen)
	for i := range buf {
		buf[i] = guard
	}
	copy(buf[guardLen:], s)
	return &guarded{buf: buf, guard: guard}
}

// s returns the kernel's view: length and capacity exactly the payload.
func (g *guarded) s() []float32 {
	n := len(g.buf) - 2*guardLen
	return g.buf[guardLen : guardLen+n : guardLen+n]
}

func (g *guarded) check(t testing.TB, name string) {
	t.Helper()
	n := len(g.buf) - 2*guardLen
	gb := math.Float32bits(g.guard)
	for i := 0; i < guardLen; i++ {
		if math.Float32bits(g.buf[i]) != gb {
			t.Fatalf("%s: guard before the slice overwritten at -%d: %v", name, guardLen-i, g.buf[i])
		}
		if math.Float32bits(g.buf[guardLen+n+i]) != gb {
			t.Fatalf("%s: guard after the slice overwritten at +%d: %v", name, i, g.buf[guardLen+n+i])
		}
	}
}

// eachPath runs f once per available implementation: the pure-Go loops, and
// the SIMD128 kernels when the host supplied them.
func eachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	prev := SetSIMD(false)
	defer SetSIMD(prev)
	t.Run("go", f)
	if SetSIMD(true); SIMD() {
		t.Run("simd", f)
	}
}

func negInf() float64 { return math.Inf(-1) }
