package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// f16Ref converts binary16 bits by the definition (sign, exponent, fraction),
// independently of the kernels' bit tricks.
func f16Ref(h uint16) float32 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, f := int(h>>10)&0x1f, float64(h&0x3ff)
	switch {
	case e == 0x1f && f == 0:
		return float32(math.Inf(int(sign)))
	case e == 0x1f:
		// NaN: the payload moves to the top of the float32 fraction.
		return math.Float32frombits(uint32(h&0x8000)<<16 | 0x7f800000 | uint32(h&0x3ff)<<13)
	case e == 0:
		return float32(sign * math.Ldexp(f, -24))
	}
	return float32(sign * math.Ldexp(1+f/1024, e-15))
}

// paths runs f on the pure-Go path and, where available, on the SIMD path.
func paths(t *testing.T, f func(t *testing.T)) {
	prev := SetSIMD(false)
	defer SetSIMD(prev)
	t.Run("go", f)
	if haveSIMDKernels() {
		SetSIMD(true)
		t.Run("simd", f)
	}
}

// TestF16ToF32 checks every binary16 bit pattern, bit for bit, and tails of
// every length with guarded output.
func TestF16ToF32(t *testing.T) {
	src := make([]byte, 2<<16)
	for h := 0; h < 1<<16; h++ {
		src[2*h], src[2*h+1] = byte(h), byte(h>>8)
	}
	paths(t, func(t *testing.T) {
		dst := make([]float32, 1<<16)
		F16ToF32(dst, src)
		for h := range dst {
			if got, want := math.Float32bits(dst[h]), math.Float32bits(f16Ref(uint16(h))); got != want {
				t.Fatalf("h=%#04x: got %#08x, want %#08x", h, got, want)
			}
		}
		for n := 0; n <= 40; n++ {
			off := 2 * (12345 + n) // odd element offsets too
			buf := make([]float32, n+2)
			buf[0], buf[n+1] = 7, 7 // sentinels
			F16ToF32(buf[1:n+1], src[off:off+2*n])
			if buf[0] != 7 || buf[n+1] != 7 {
				t.Fatalf("n=%d: wrote outside dst", n)
			}
			for i := 0; i < n; i++ {
				if got, want := buf[1+i], f16Ref(uint16(off/2+i)); math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("n=%d i=%d: got %v, want %v", n, i, got, want)
				}
			}
		}
	})
}

// TestQuantizeQ8Paths checks that the SIMD quantizer gives the pure-Go
// loop's bytes and scales exactly, on random blocks, zero blocks, rounding
// ties (x.5 after scaling, which must go away from zero like math.Round),
// negative zeros and NaNs (ignored by the block maximum).
func TestQuantizeQ8Paths(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	type tc struct {
		name string
		w    []float32
		cols int
	}
	var cases []tc
	for i := 0; i < 20; i++ {
		rows, cols := 1+r.IntN(9), 32*(1+r.IntN(8))
		if i%5 == 4 {
			cols = 1 + r.IntN(100) // per-row scales: the Go loop on both paths
		}
		w := randSlice(r, rows*cols)
		for j := range w {
			w[j] *= float32(math.Ldexp(1, r.IntN(20)-10))
		}
		cases = append(cases, tc{fmt.Sprintf("random-%d", i), w, cols})
	}
	ties := make([]float32, 4*32)
	for i := range ties {
		// max 127 gives scale 1: every k + 0.5 is an exact tie.
		ties[i] = float32(r.IntN(254)-127) + 0.5
		if i%32 == 0 {
			ties[i] = 127
		}
		if i%32 == 1 {
			ties[i] = -127
		}
	}
	cases = append(cases, tc{"ties", ties, 64})
	zeros := make([]float32, 96)
	zeros[40] = float32(math.Copysign(0, -1))
	zeros[70] = 1e-3
	cases = append(cases, tc{"zeros", zeros, 32})
	nan := randSlice(r, 64)
	nan[5] = float32(math.NaN())
	cases = append(cases, tc{"nan", nan, 32})
	for _, c := range cases {
		block := Q8BlockSize(c.cols)
		wantQ, wantS := make([]int8, len(c.w)), make([]float32, len(c.w)/block)
		quantizeQ8Go(wantQ, wantS, c.w, block)
		paths(t, func(t *testing.T) {
			q := make([]int8, len(c.w)+2)
			s := make([]float32, len(c.w)/block+2)
			q[0], q[len(q)-1], s[0], s[len(s)-1] = 99, 99, 7, 7
			QuantizeQ8(q[1:len(q)-1], s[1:len(s)-1], c.w, c.cols)
			if q[0] != 99 || q[len(q)-1] != 99 || s[0] != 7 || s[len(s)-1] != 7 {
				t.Fatalf("%s: wrote outside q or scales", c.name)
			}
			for i, v := range wantS {
				if math.Float32bits(s[1+i]) != math.Float32bits(v) {
					t.Fatalf("%s: scale %d = %v, want %v", c.name, i, s[1+i], v)
				}
			}
			for i, v := range wantQ {
				if math.IsNaN(float64(c.w[i])) {
					continue // int8(NaN) is not defined in Go
				}
				if q[1+i] != v {
					t.Fatalf("%s: q[%d] = %d for %v, want %d", c.name, i, q[1+i], c.w[i], v)
				}
			}
		})
	}
	// The ties really round away from zero.
	q, s := make([]int8, 64), make([]float32, 2)
	QuantizeQ8(q, s, ties[:64], 64)
	for i, v := range ties[:64] {
		if want := int8(math.Round(float64(v))); q[i] != want || s[i/32] != 1 {
			t.Fatalf("tie %v: q = %d (scale %v), want %d", v, q[i], s[i/32], want)
		}
	}
}

func BenchmarkF16ToF32(b *testing.B) {
	src := make([]byte, 2<<20)
	for i := range src {
		src[i] = byte(i * 7919 >> 3)
	}
	dst := make([]float32, len(src)/2)
	benchPaths(b, func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for i := 0; i < b.N; i++ {
			F16ToF32(dst, src)
		}
	})
}

func BenchmarkQuantizeQ8(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	w := randSlice(r, 1<<20)
	q, s := make([]int8, len(w)), make([]float32, len(w)/32)
	benchPaths(b, func(b *testing.B) {
		b.SetBytes(int64(4 * len(w)))
		for i := 0; i < b.N; i++ {
			QuantizeQ8(q, s, w, 1024)
		}
	})
}
