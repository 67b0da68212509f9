package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// q8F16TwoStep is the loader's former path for an F16 row loaded as int8:
// F16ToF32, then QuantizeQ8 (on the current path).
func q8F16TwoStep(src []byte, cols int) ([]int8, []float32) {
	f := make([]float32, len(src)/2)
	F16ToF32(f, src)
	q, s := make([]int8, len(f)), make([]float32, len(f)/Q8BlockSize(cols))
	QuantizeQ8(q, s, f, cols)
	return q, s
}

// q8F16Fused runs QuantizeQ8F16 into guarded buffers and fails if it writes
// outside q or scales.
func q8F16Fused(t *testing.T, name string, src []byte, cols int) ([]int8, []float32) {
	t.Helper()
	n := len(src) / 2
	q, s := make([]int8, n+2), make([]float32, n/Q8BlockSize(cols)+2)
	q[0], q[len(q)-1], s[0], s[len(s)-1] = 99, 99, 7, 7
	QuantizeQ8F16(q[1:len(q)-1], s[1:len(s)-1], src, cols)
	if q[0] != 99 || q[len(q)-1] != 99 || s[0] != 7 || s[len(s)-1] != 7 {
		t.Fatalf("%s: wrote outside q or scales", name)
	}
	return q[1 : len(q)-1], s[1 : len(s)-1]
}

// sameQ8 fails unless the two quantizations have the same bytes and the
// same scale bits. With finiteOnly, elements that are NaN and blocks whose
// scale is not finite are skipped (Go's int8(NaN) is not defined, so only
// the same path is compared there).
func sameQ8(t *testing.T, name string, src []byte, cols int, q []int8, s []float32, wq []int8, ws []float32, finiteOnly bool) {
	t.Helper()
	block := Q8BlockSize(cols)
	for i := range ws {
		if math.Float32bits(s[i]) != math.Float32bits(ws[i]) {
			t.Fatalf("%s cols=%d: scale %d = %v, want %v", name, cols, i, s[i], ws[i])
		}
	}
	for i := range wq {
		if finiteOnly {
			sc := float64(ws[i/block])
			if math.IsNaN(float64(f16Ref(binary.LittleEndian.Uint16(src[2*i:])))) || math.IsInf(sc, 0) || math.IsNaN(sc) {
				continue
			}
		}
		if q[i] != wq[i] {
			t.Fatalf("%s cols=%d: q[%d] = %d for half %#04x, want %d", name, cols, i, q[i],
				binary.LittleEndian.Uint16(src[2*i:]), wq[i])
		}
	}
}

// TestQuantizeQ8F16 is the differential test of the fused F16 -> int8
// quantizer: on each path it must give exactly the bytes and scale bits of
// F16ToF32 followed by QuantizeQ8 (so loading is unchanged), and the SIMD
// and pure-Go fused paths must agree wherever the value is a number. Inputs:
// every binary16 bit pattern (in order and shuffled, so NaN, Inf, subnormal
// and zero blocks mix), random finite rows of many widths (32-blocks and
// per-row scales), rounding ties and all-zero blocks.
func TestQuantizeQ8F16(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	type tc struct {
		name string
		src  []byte
		cols int
	}
	var cases []tc
	all := make([]byte, 2<<16)
	for h := 0; h < 1<<16; h++ {
		binary.LittleEndian.PutUint16(all[2*h:], uint16(h))
	}
	cases = append(cases, tc{"all-halves", all, 1024})
	shuf := make([]byte, len(all))
	for i, j := range r.Perm(1 << 16) {
		copy(shuf[2*i:2*i+2], all[2*j:2*j+2])
	}
	cases = append(cases, tc{"all-halves-shuffled", shuf, 256})
	cases = append(cases, tc{"all-halves-per-row", shuf[:2*97*60], 97})
	for i := 0; i < 40; i++ {
		rows, cols := 1+r.IntN(7), 32*(1+r.IntN(40))
		if i%5 == 4 {
			cols = 1 + r.IntN(200) // per-row scales (pure-Go loop on both paths)
		}
		src := make([]byte, 2*rows*cols)
		for j := 0; j < rows*cols; j++ {
			// finite halves: exponent field 0..30, random sign and fraction
			h := uint16(r.IntN(31))<<10 | uint16(r.IntN(1024)) | uint16(r.IntN(2))<<15
			if r.IntN(8) == 0 {
				h &= 0x83ff // some subnormals and zeros
			}
			binary.LittleEndian.PutUint16(src[2*j:], h)
		}
		cases = append(cases, tc{fmt.Sprintf("random-%d", i), src, cols})
	}
	// max 127 gives scale 1: every k + 0.5 (exact in binary16) is a tie.
	ties := make([]byte, 2*4*32)
	for i := 0; i < 4*32; i++ {
		v := float32(r.IntN(254)-127) + 0.5
		switch i % 32 {
		case 0:
			v = 127
		case 1:
			v = -127
		}
		binary.LittleEndian.PutUint16(ties[2*i:], f32ToF16(v))
	}
	cases = append(cases, tc{"ties", ties, 64})
	zeros := make([]byte, 2*96)
	binary.LittleEndian.PutUint16(zeros[2*40:], 0x8000) // -0
	binary.LittleEndian.PutUint16(zeros[2*70:], 0x0001) // smallest subnormal
	cases = append(cases, tc{"zeros", zeros, 32})

	goQ := make([][]int8, len(cases))
	goS := make([][]float32, len(cases))
	paths(t, func(t *testing.T) {
		for i, c := range cases {
			wq, ws := q8F16TwoStep(c.src, c.cols)
			q, s := q8F16Fused(t, c.name, c.src, c.cols)
			sameQ8(t, c.name+" vs two-step", c.src, c.cols, q, s, wq, ws, false)
			if !SIMD() {
				goQ[i], goS[i] = q, s
			} else {
				sameQ8(t, c.name+" simd vs go", c.src, c.cols, q, s, goQ[i], goS[i], true)
			}
		}
	})
	// The ties really round away from zero.
	q, s := make([]int8, 64), make([]float32, 2)
	QuantizeQ8F16(q, s, ties[:128], 64)
	for i := 0; i < 64; i++ {
		v := f16Ref(binary.LittleEndian.Uint16(ties[2*i:]))
		if want := int8(math.Round(float64(v))); q[i] != want || s[i/32] != 1 {
			t.Fatalf("tie %v: q = %d (scale %v), want %d", v, q[i], s[i/32], want)
		}
	}
}

// f32ToF16 returns the binary16 bits of v, which must be exactly
// representable (a normal half or zero).
func f32ToF16(v float32) uint16 {
	b := math.Float32bits(v)
	sign := uint16(b>>16) & 0x8000
	if b&0x7fffffff == 0 {
		return sign
	}
	e := int(b>>23&0xff) - 127 + 15
	return sign | uint16(e)<<10 | uint16(b>>13&0x3ff)
}

// FuzzQuantizeQ8F16 checks the fused quantizer against F16ToF32 +
// QuantizeQ8 on halves and widths chosen by the fuzzer, on every path.
func FuzzQuantizeQ8F16(f *testing.F) {
	f.Add(uint16(32), []byte{0, 0x3c, 0, 0xbc, 0xff, 0x7b, 1, 0})
	f.Add(uint16(64), []byte{0x00, 0x7c, 0x01, 0x7e, 0x00, 0x38, 0x55, 0x15})
	f.Add(uint16(45), []byte("binary16 bytes of a row"))
	f.Fuzz(func(t *testing.T, cols uint16, data []byte) {
		if len(data) < 2 {
			return
		}
		c := 1 + int(cols%512)
		rows := 1 + len(data)%3
		src := make([]byte, 2*rows*c)
		for i := range src {
			src[i] = data[i%len(data)] ^ byte(i/len(data))
		}
		prev := SetSIMD(false)
		defer SetSIMD(prev)
		for _, simd := range []bool{false, true} {
			if SetSIMD(simd); SIMD() != simd {
				continue
			}
			wq, ws := q8F16TwoStep(src, c)
			q, s := q8F16Fused(t, "fuzz", src, c)
			sameQ8(t, fmt.Sprintf("fuzz simd=%v", simd), src, c, q, s, wq, ws, false)
		}
	})
}

func BenchmarkQuantizeQ8F16(b *testing.B) {
	src := make([]byte, 2<<20)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < len(src); i += 2 {
		binary.LittleEndian.PutUint16(src[i:], uint16(r.IntN(31))<<10|uint16(r.IntN(1024))|uint16(r.IntN(2))<<15)
	}
	q, s := make([]int8, len(src)/2), make([]float32, len(src)/64)
	f := make([]float32, len(src)/2)
	b.Run("fused", func(b *testing.B) {
		benchPaths(b, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				QuantizeQ8F16(q, s, src, 1024)
			}
		})
	})
	b.Run("two-step", func(b *testing.B) {
		benchPaths(b, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				F16ToF32(f, src)
				QuantizeQ8(q, s, f, 1024)
			}
		})
	})
}
