package kernels

import (
	"math"
	"runtime"
	"sync"
)

// Pure-Go loops: the native build's kernels and the js/wasm fallback. They
// compute the doc-comment reference loops of kernels.go up to float
// reassociation (no FMA contraction is relied on, none is forbidden).
//
// They are unrolled by four and work on four rows of W at a time so that each
// load of x feeds four rows: Go's wasm backend sends every backward branch
// through a function-wide dispatcher and bounds-checks every slice access,
// so unrolling and sharing loads pays about 1.7-3x there (see
// reference/toolchain.md), and natively it lets the four row sums run as
// independent dependency chains (about 1.5x on amd64).

func dotGo(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		aa := a[i : i+4 : i+4]
		bb := b[i : i+4 : i+4]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot4Go returns the dot products of x with four rows of equal length.
func dot4Go(w0, w1, w2, w3, x []float32) (s0, s1, s2, s3 float32) {
	n := len(x)
	w0, w1, w2, w3 = w0[:n], w1[:n], w2[:n], w3[:n]
	k := 0
	for ; k+4 <= n; k += 4 {
		xx := x[k : k+4 : k+4]
		a := w0[k : k+4 : k+4]
		b := w1[k : k+4 : k+4]
		c := w2[k : k+4 : k+4]
		d := w3[k : k+4 : k+4]
		s0 += (a[0]*xx[0] + a[1]*xx[1]) + (a[2]*xx[2] + a[3]*xx[3])
		s1 += (b[0]*xx[0] + b[1]*xx[1]) + (b[2]*xx[2] + b[3]*xx[3])
		s2 += (c[0]*xx[0] + c[1]*xx[1]) + (c[2]*xx[2] + c[3]*xx[3])
		s3 += (d[0]*xx[0] + d[1]*xx[1]) + (d[2]*xx[2] + d[3]*xx[3])
	}
	for ; k < n; k++ {
		v := x[k]
		s0 += w0[k] * v
		s1 += w1[k] * v
		s2 += w2[k] * v
		s3 += w3[k] * v
	}
	return s0, s1, s2, s3
}

// matVecGo takes W in four row quarters of q = rows/4 rows and computes
// rows i, q+i, 2q+i and 3q+i together (sharing the x loads): each quarter is
// then read in order, four long sequential streams that the hardware
// prefetchers follow when W comes from DRAM (consecutive rows make four
// short streams per pass). Each row's arithmetic is that of dot4Go.
func matVecGo(dst, w, x []float32) {
	cols := len(x)
	q := len(dst) / 4
	qc := q * cols
	for r := 0; r < q; r++ {
		o := r * cols
		dst[r], dst[q+r], dst[2*q+r], dst[3*q+r] = dot4Go(w[o:o+cols], w[qc+o:qc+o+cols], w[2*qc+o:2*qc+o+cols], w[3*qc+o:3*qc+o+cols], x)
	}
	for r := 4 * q; r < len(dst); r++ {
		dst[r] = dotGo(w[r*cols:(r+1)*cols], x)
	}
}

func matMulGo(dst, x, w []float32, n, rows, cols int) {
	// Blocks of four rows of W stay in cache while every activation row
	// passes over them.
	r := 0
	for ; r+4 <= rows; r += 4 {
		o := r * cols
		w0, w1, w2, w3 := w[o:o+cols], w[o+cols:o+2*cols], w[o+2*cols:o+3*cols], w[o+3*cols:o+4*cols]
		for i := 0; i < n; i++ {
			d := dst[i*rows+r : i*rows+r+4 : i*rows+r+4]
			d[0], d[1], d[2], d[3] = dot4Go(w0, w1, w2, w3, x[i*cols:(i+1)*cols])
		}
	}
	for ; r < rows; r++ {
		wr := w[r*cols : (r+1)*cols]
		for i := 0; i < n; i++ {
			dst[i*rows+r] = dotGo(x[i*cols:(i+1)*cols], wr)
		}
	}
}

// dotQ8Go returns sum_c float32(w[c]) * scales[c/block] * x[c] for one row,
// summing each block in f32 and scaling the block sum.
func dotQ8Go(w []int8, scales []float32, x []float32, block int) float32 {
	var s float32
	for b, sc := range scales {
		wb := w[b*block : (b+1)*block : (b+1)*block]
		xb := x[b*block : (b+1)*block : (b+1)*block]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= block; i += 4 {
			ww := wb[i : i+4 : i+4]
			xx := xb[i : i+4 : i+4]
			s0 += float32(ww[0]) * xx[0]
			s1 += float32(ww[1]) * xx[1]
			s2 += float32(ww[2]) * xx[2]
			s3 += float32(ww[3]) * xx[3]
		}
		for ; i < block; i++ {
			s0 += float32(wb[i]) * xb[i]
		}
		s += sc * ((s0 + s1) + (s2 + s3))
	}
	return s
}

// i8f32 maps an int8 (as a byte) to its float32 value. Natively a table load
// beats the int-to-float conversion (about 1.45x on amd64); Go's wasm
// backend does better with the conversion, so convByTable picks per GOARCH.
var i8f32 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(int8(uint8(i)))
	}
	return t
}()

const convByTable = runtime.GOARCH != "wasm"

// dotQ8x4Go is dotQ8Go for four rows (weights w0..w3, scales s0..s3)
// sharing the loads of x.
func dotQ8x4Go(w0, w1, w2, w3 []int8, s0, s1, s2, s3 []float32, x []float32, block int) (r0, r1, r2, r3 float32) {
	tab := &i8f32
	for b := range s0 {
		lo, hi := b*block, (b+1)*block
		xb := x[lo:hi:hi]
		a, c, d, e := w0[lo:hi:hi], w1[lo:hi:hi], w2[lo:hi:hi], w3[lo:hi:hi]
		a, c, d, e = a[:len(xb)], c[:len(xb)], d[:len(xb)], e[:len(xb)]
		var t0, t1, t2, t3 float32
		i := 0
		if convByTable {
			for ; i+4 <= len(xb); i += 4 {
				xx := xb[i : i+4 : i+4]
				aa, cc, dd, ee := a[i:i+4:i+4], c[i:i+4:i+4], d[i:i+4:i+4], e[i:i+4:i+4]
				t0 += (tab[uint8(aa[0])]*xx[0] + tab[uint8(aa[1])]*xx[1]) + (tab[uint8(aa[2])]*xx[2] + tab[uint8(aa[3])]*xx[3])
				t1 += (tab[uint8(cc[0])]*xx[0] + tab[uint8(cc[1])]*xx[1]) + (tab[uint8(cc[2])]*xx[2] + tab[uint8(cc[3])]*xx[3])
				t2 += (tab[uint8(dd[0])]*xx[0] + tab[uint8(dd[1])]*xx[1]) + (tab[uint8(dd[2])]*xx[2] + tab[uint8(dd[3])]*xx[3])
				t3 += (tab[uint8(ee[0])]*xx[0] + tab[uint8(ee[1])]*xx[1]) + (tab[uint8(ee[2])]*xx[2] + tab[uint8(ee[3])]*xx[3])
			}
		} else {
			for ; i+4 <= len(xb); i += 4 {
				xx := xb[i : i+4 : i+4]
				aa, cc, dd, ee := a[i:i+4:i+4], c[i:i+4:i+4], d[i:i+4:i+4], e[i:i+4:i+4]
				t0 += (float32(aa[0])*xx[0] + float32(aa[1])*xx[1]) + (float32(aa[2])*xx[2] + float32(aa[3])*xx[3])
				t1 += (float32(cc[0])*xx[0] + float32(cc[1])*xx[1]) + (float32(cc[2])*xx[2] + float32(cc[3])*xx[3])
				t2 += (float32(dd[0])*xx[0] + float32(dd[1])*xx[1]) + (float32(dd[2])*xx[2] + float32(dd[3])*xx[3])
				t3 += (float32(ee[0])*xx[0] + float32(ee[1])*xx[1]) + (float32(ee[2])*xx[2] + float32(ee[3])*xx[3])
			}
		}
		for ; i < len(xb); i++ {
			v := xb[i]
			t0 += float32(a[i]) * v
			t1 += float32(c[i]) * v
			t2 += float32(d[i]) * v
			t3 += float32(e[i]) * v
		}
		r0 += s0[b] * t0
		r1 += s1[b] * t1
		r2 += s2[b] * t2
		r3 += s3[b] * t3
	}
	return r0, r1, r2, r3
}

func matVecQ8Go(dst []float32, w []int8, scales []float32, x []float32, block int) {
	cols := len(x)
	nb := cols / block
	r := 0
	for ; r+4 <= len(dst); r += 4 {
		o, so := r*cols, r*nb
		d := dst[r : r+4 : r+4]
		d[0], d[1], d[2], d[3] = dotQ8x4Go(w[o:o+cols], w[o+cols:o+2*cols], w[o+2*cols:o+3*cols], w[o+3*cols:o+4*cols],
			scales[so:so+nb], scales[so+nb:so+2*nb], scales[so+2*nb:so+3*nb], scales[so+3*nb:so+4*nb], x, block)
	}
	for ; r < len(dst); r++ {
		dst[r] = dotQ8Go(w[r*cols:(r+1)*cols], scales[r*nb:(r+1)*nb], x, block)
	}
}

func matMulQ8Go(dst []float32, x []float32, w []int8, scales []float32, n, rows, cols, block int) {
	if n < 2 {
		matVecQ8Go(dst[:rows], w, scales, x[:cols], block)
		return
	}
	// Each block of four rows of W is dequantized once (w·scale, the
	// reference loop's products) into a small f32 panel that stays in cache,
	// then every activation row meets it with the f32 dot: converting int8
	// per multiply-add for each of the n rows made this 2x slower than the
	// f32 MatMul.
	bufp := dq4Pool.Get().(*[]float32)
	if cap(*bufp) < 4*cols {
		*bufp = make([]float32, 4*cols)
	}
	buf := (*bufp)[:4*cols]
	nb := cols / block
	r := 0
	for ; r+4 <= rows; r += 4 {
		dequantQ8(buf, w[r*cols:(r+4)*cols], scales[r*nb:(r+4)*nb], block)
		w0, w1, w2, w3 := buf[:cols], buf[cols:2*cols], buf[2*cols:3*cols], buf[3*cols:]
		for i := 0; i < n; i++ {
			d := dst[i*rows+r : i*rows+r+4 : i*rows+r+4]
			d[0], d[1], d[2], d[3] = dot4Go(w0, w1, w2, w3, x[i*cols:(i+1)*cols])
		}
	}
	for ; r < rows; r++ {
		wr := buf[:cols]
		dequantQ8(wr, w[r*cols:(r+1)*cols], scales[r*nb:(r+1)*nb], block)
		for i := 0; i < n; i++ {
			dst[i*rows+r] = dotGo(x[i*cols:(i+1)*cols], wr)
		}
	}
	dq4Pool.Put(bufp)
}

// dq4Pool holds matMulQ8Go's dequantized panels (natively, kernels may run
// on several goroutines at once).
var dq4Pool = sync.Pool{New: func() any { return new([]float32) }}

// dequantQ8 writes dst[i] = float32(w[i]) * scales[i/block].
func dequantQ8(dst []float32, w []int8, scales []float32, block int) {
	dst = dst[:len(w)]
	for b, s := range scales {
		lo, hi := b*block, (b+1)*block
		d, q := dst[lo:hi:hi], w[lo:hi:hi]
		q = q[:len(d)]
		for i, v := range q {
			d[i] = float32(v) * s
		}
	}
}

func matVecTAddGo(dst, w, x []float32) {
	cols := len(dst)
	r := 0
	for ; r+4 <= len(x); r += 4 {
		o := r * cols
		w0, w1, w2, w3 := w[o:o+cols], w[o+cols:o+2*cols], w[o+2*cols:o+3*cols], w[o+3*cols:o+4*cols]
		w0, w1, w2, w3 = w0[:len(dst)], w1[:len(dst)], w2[:len(dst)], w3[:len(dst)]
		x0, x1, x2, x3 := x[r], x[r+1], x[r+2], x[r+3]
		for c := range dst {
			dst[c] += (w0[c]*x0 + w1[c]*x1) + (w2[c]*x2 + w3[c]*x3)
		}
	}
	for ; r < len(x); r++ {
		axpyGo(dst, x[r], w[r*cols:(r+1)*cols])
	}
}

func alibiScoresGo(dst, k, q []float32, scale, slope float32, off int) float32 {
	matVecGo(dst, k, q)
	mx := float32(math.Inf(-1))
	for r, v := range dst {
		v = v*scale + slope*float32(r+off)
		dst[r] = v
		mx = max(mx, v)
	}
	return mx
}

func axpyGo(dst []float32, a float32, x []float32) {
	n := len(dst)
	x = x[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		d := dst[i : i+4 : i+4]
		xx := x[i : i+4 : i+4]
		d[0] += a * xx[0]
		d[1] += a * xx[1]
		d[2] += a * xx[2]
		d[3] += a * xx[3]
	}
	for ; i < n; i++ {
		dst[i] += a * x[i]
	}
}

// geluTanhGo evaluates 0.5·x·(1 + tanh(u)) in float64 as x/(1 + e^(-2u)),
// the same function without the cancellation in 1 + tanh(u) for x < 0.
func geluTanhGo(x []float32) {
	for i, v := range x {
		f := float64(v)
		u := 0.7978845608028654 * f * (1 + 0.044715*f*f)
		if math.IsInf(f, -1) {
			x[i] = float32(math.NaN()) // -Inf·(1 + tanh(-Inf)) = -Inf·0
			continue
		}
		x[i] = float32(f / (1 + math.Exp(-2*u)))
	}
}

func expShiftGo(x []float32, m float32) float32 {
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		sum += float64(e)
	}
	return float32(sum)
}

func quantizeQ8Go(q []int8, scales []float32, w []float32, block int) {
	for b := range scales {
		blk := w[b*block : (b+1)*block]
		var amax float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax = a
			}
		}
		s := amax / 127
		scales[b] = s
		inv := float32(0)
		if s != 0 {
			inv = 1 / s
		}
		out := q[b*block : (b+1)*block]
		for i, v := range blk {
			out[i] = int8(math.Round(float64(v * inv)))
		}
	}
}

// quantizeQ8F16Go is quantizeQ8Go over f16ToF32Go's images of src, a few
// blocks at a time through a small buffer (the float32 row never exists).
func quantizeQ8F16Go(q []int8, scales []float32, src []byte, block int) {
	var stack [1024]float32
	buf := stack[:]
	if block > len(buf) {
		buf = make([]float32, block)
	}
	k := len(buf) / block // blocks per pass
	for b := 0; b < len(scales); b += k {
		e := min(b+k, len(scales))
		f := buf[:(e-b)*block]
		f16ToF32Go(f, src[2*b*block:2*e*block])
		quantizeQ8Go(q[b*block:e*block], scales[b:e], f, block)
	}
}

// f16Tab maps every binary16 bit pattern to its float32 (256 KiB, built on
// first use).
var f16Tab = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for h := range t {
		t[h] = math.Float32frombits(f16Bits(uint16(h)))
	}
	return t
})

// f16Bits returns the float32 bits of the binary16 h.
func f16Bits(h uint16) uint32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return sign | 0x7f800000 | man<<13
	case exp != 0:
		return sign | (exp+112)<<23 | man<<13
	case man == 0:
		return sign
	}
	e := uint32(113) // subnormal: normalise the mantissa
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return sign | e<<23 | (man&0x3ff)<<13
}

func f16ToF32Go(dst []float32, src []byte) {
	t := f16Tab()
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = t[uint16(src[2*i])|uint16(src[2*i+1])<<8]
	}
}
