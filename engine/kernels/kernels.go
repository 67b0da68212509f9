// Package kernels holds the numeric inner loops of the engine on flat
// []float32 (and int8) slices, destination first, in the style of gonum's
// internal/asm/f32. Each exported function documents the reference loop it
// computes. A pure-Go implementation is always available; on js/wasm, when
// the host supplies the SIMD128 kernel module, the hot kernels run there.
//
// Kernels panic on a length mismatch: that is a programmer error, never a
// user error. Loaders validate user data before it reaches a kernel.
package kernels

import (
	"fmt"
	"math"
)

// Q8Block is the number of weights that share one scale in a block-quantized
// int8 matrix when the row length allows it (like ggml's Q8_0).
const Q8Block = 32

func mustLen(name string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("kernels: %s: length %d, want %d", name, got, want))
	}
}

// Dot returns the dot product of a and b.
//
//	for i := range a { s += a[i] * b[i] }
func Dot(a, b []float32) float32 {
	mustLen("Dot", len(b), len(a))
	return dot(a, b)
}

// MatVec computes dst = W·x for a row-major W of shape (len(dst), len(x)).
//
//	for r := range dst { dst[r] = Dot(w[r*cols:(r+1)*cols], x) }
func MatVec(dst, w, x []float32) {
	mustLen("MatVec w", len(w), len(dst)*len(x))
	matVec(dst, w, x)
}

// MatMul computes dst = X·Wᵀ: X is (n, cols) row-major, W is (rows, cols)
// row-major (a PyTorch Linear weight), dst is (n, rows).
//
//	for i := 0; i < n; i++ { for r := 0; r < rows; r++ {
//		dst[i*rows+r] = Dot(x[i*cols:(i+1)*cols], w[r*cols:(r+1)*cols]) } }
func MatMul(dst, x, w []float32, n int) {
	if n <= 0 {
		return
	}
	cols := len(x) / n
	mustLen("MatMul x", len(x), n*cols)
	rows := len(dst) / n
	mustLen("MatMul dst", len(dst), n*rows)
	mustLen("MatMul w", len(w), rows*cols)
	matMul(dst, x, w, n, rows, cols)
}

// Q8BlockSize returns the block size used to quantize a row of cols weights:
// Q8Block when it divides cols, otherwise the whole row (per-row scales).
func Q8BlockSize(cols int) int {
	if cols%Q8Block == 0 {
		return Q8Block
	}
	return cols
}

// QuantizeQ8 quantizes a row-major (rows, cols) float32 matrix to int8 with
// one scale per block of Q8BlockSize(cols) weights: q = round(v / s) with
// s = max|v| / 127 over the block. q has rows*cols entries and scales
// rows*cols/block entries.
func QuantizeQ8(q []int8, scales []float32, w []float32, cols int) {
	block := Q8BlockSize(cols)
	mustLen("QuantizeQ8 q", len(q), len(w))
	mustLen("QuantizeQ8 scales", len(scales), len(w)/block)
	quantizeQ8(q, scales, w, block)
}

// QuantizeQ8F16 is QuantizeQ8 of the float32 images of little-endian IEEE
// binary16 values (2 bytes each, rows*cols of them in src): the same q and
// scales bits as F16ToF32 followed by QuantizeQ8, in one pass without the
// float32 copy (the loader's inner loop for F16 checkpoints loaded as int8).
func QuantizeQ8F16(q []int8, scales []float32, src []byte, cols int) {
	block := Q8BlockSize(cols)
	mustLen("QuantizeQ8F16 src", len(src), 2*len(q))
	mustLen("QuantizeQ8F16 scales", len(scales), len(q)/block)
	quantizeQ8F16(q, scales, src, block)
}

// F16ToF32 converts little-endian IEEE binary16 values (2 bytes each) to
// float32, exactly (every binary16 value, subnormals, infinities and NaN
// payloads included, has one float32 image): the loader's inner loop for
// F16 checkpoints.
func F16ToF32(dst []float32, src []byte) {
	mustLen("F16ToF32 src", len(src), 2*len(dst))
	f16ToF32(dst, src)
}

// MatVecQ8 computes dst = W·x for an int8 W of shape (len(dst), len(x)) with
// block scales as written by QuantizeQ8.
//
//	for r := range dst { for c := range x {
//		dst[r] += float32(w[r*cols+c]) * scales[(r*cols+c)/block] * x[c] } }
func MatVecQ8(dst []float32, w []int8, scales []float32, x []float32) {
	cols := len(x)
	mustLen("MatVecQ8 w", len(w), len(dst)*cols)
	block := Q8BlockSize(cols)
	mustLen("MatVecQ8 scales", len(scales), len(w)/block)
	matVecQ8(dst, w, scales, x, block)
}

// MatMulQ8 computes dst = X·Wᵀ for an int8 W (rows, cols) with block scales;
// X is (n, cols), dst is (n, rows).
func MatMulQ8(dst []float32, x []float32, w []int8, scales []float32, n int) {
	if n <= 0 {
		return
	}
	cols := len(x) / n
	mustLen("MatMulQ8 x", len(x), n*cols)
	rows := len(dst) / n
	mustLen("MatMulQ8 dst", len(dst), n*rows)
	mustLen("MatMulQ8 w", len(w), rows*cols)
	block := Q8BlockSize(cols)
	mustLen("MatMulQ8 scales", len(scales), len(w)/block)
	matMulQ8(dst, x, w, scales, n, rows, cols, block)
}

// MatVecTAdd computes dst += Wᵀ·x for a row-major W of shape (len(x),
// len(dst)): the x-weighted sum of W's rows, as attention's output
// Σ_j p_j·v_j over a block of cached value rows.
//
//	for r := range x { for c := range dst { dst[c] += w[r*cols+c] * x[r] } }
func MatVecTAdd(dst, w, x []float32) {
	mustLen("MatVecTAdd w", len(w), len(x)*len(dst))
	matVecTAdd(dst, w, x)
}

// ALiBiScores computes a block of ALiBi attention scores and returns their
// maximum (-Inf for no rows): for the rows k_r of k (len(dst) rows of
// len(q)),
//
//	dst[r] = scale*Dot(k_r, q) + slope*float32(r+off)
//
// With keys j0.. of a query at position p, off = j0-p gives the bias
// -slope*(p-j). The maximum is what ExpShift needs next; a NaN score makes
// it NaN.
func ALiBiScores(dst, k, q []float32, scale, slope float32, off int) float32 {
	mustLen("ALiBiScores k", len(k), len(dst)*len(q))
	return alibiScores(dst, k, q, scale, slope, off)
}

// AttendHeads runs one query's ALiBi attention (a decode step, or one row
// of a prefill chunk) for nh heads of width d over npos cached positions,
// the query's own position last. Head h has its query at
// q[h*d:(h+1)*d], its keys and values as npos rows of d at
// k[h*hstride:] and v[h*hstride:], and its slope at slopes[h]; its output
// goes to out[h*d:(h+1)*d]:
//
//	mx := ALiBiScores(sc[:npos], k_h, q_h, scale, slopes[h], 1-npos) // -Inf unless larger
//	sum := ExpShift(sc[:npos], mx)
//	clear(out_h); MatVecTAdd(out_h, v_h, sc[:npos]); Scale(out_h, 1/sum)
//
// bit for bit. sc is scratch of at least npos floats; with kernel threads
// each thread that takes heads uses its own npos floats of it, so more
// scratch lets more threads share the call.
func AttendHeads(out, q, k, v, sc, slopes []float32, nh, d, npos, hstride int, scale float32) {
	if nh <= 0 || npos <= 0 {
		return
	}
	mustLen("AttendHeads out", len(out), nh*d)
	mustLen("AttendHeads q", len(q), nh*d)
	mustLen("AttendHeads slopes", len(slopes), nh)
	if hstride < npos*d || len(k) < (nh-1)*hstride+npos*d || len(v) < (nh-1)*hstride+npos*d || len(sc) < npos {
		panic("kernels: AttendHeads: keys, values or scratch too short")
	}
	attendHeads(out, q, k, v, sc, slopes, nh, d, npos, hstride, scale)
}

func attendHeadsGo(out, q, k, v, sc, slopes []float32, nh, d, npos, hstride int, scale float32) {
	s := sc[:npos]
	for h := 0; h < nh; h++ {
		kh, vh := k[h*hstride:h*hstride+npos*d], v[h*hstride:h*hstride+npos*d]
		oh := out[h*d : (h+1)*d]
		mx := alibiScores(s, kh, q[h*d:(h+1)*d], scale, slopes[h], 1-npos)
		if !(mx > float32(math.Inf(-1))) {
			mx = float32(math.Inf(-1))
		}
		sum := expShift(s, mx)
		clear(oh)
		matVecTAdd(oh, vh, s)
		Scale(oh, 1/sum)
	}
}

// Axpy computes dst += a*x.
//
//	for i := range dst { dst[i] += a * x[i] }
func Axpy(dst []float32, a float32, x []float32) {
	mustLen("Axpy", len(x), len(dst))
	axpy(dst, a, x)
}

// Add computes dst += x.
func Add(dst, x []float32) {
	mustLen("Add", len(x), len(dst))
	for i, v := range x {
		dst[i] += v
	}
}

// Scale computes dst *= a.
func Scale(dst []float32, a float32) {
	for i := range dst {
		dst[i] *= a
	}
}

// LayerNorm computes dst = (x - mean(x)) / sqrt(var(x) + eps) * w + b, with
// mean and variance over x (biased variance, as torch.nn.LayerNorm). w and b
// may be nil (weight 1, bias 0). dst and x may be the same slice.
func LayerNorm(dst, x, w, b []float32, eps float32) {
	n := len(x)
	mustLen("LayerNorm dst", len(dst), n)
	if w != nil {
		mustLen("LayerNorm w", len(w), n)
	}
	if b != nil {
		mustLen("LayerNorm b", len(b), n)
	}
	// Four float64 partial sums per pass and four elements per step: Go's
	// wasm backend pays for every loop iteration (bounds checks, its branch
	// dispatcher), so this is about 3x the one-element loops there.
	x = x[:n]
	i := 0
	var m0, m1, m2, m3 float64
	for ; i+4 <= n; i += 4 {
		xx := x[i : i+4 : i+4]
		m0 += float64(xx[0])
		m1 += float64(xx[1])
		m2 += float64(xx[2])
		m3 += float64(xx[3])
	}
	for ; i < n; i++ {
		m0 += float64(x[i])
	}
	mean := ((m0 + m1) + (m2 + m3)) / float64(n)
	var v0, v1, v2, v3 float64
	i = 0
	for ; i+4 <= n; i += 4 {
		xx := x[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(xx[0])-mean, float64(xx[1])-mean, float64(xx[2])-mean, float64(xx[3])-mean
		v0 += d0 * d0
		v1 += d1 * d1
		v2 += d2 * d2
		v3 += d3 * d3
	}
	for ; i < n; i++ {
		d := float64(x[i]) - mean
		v0 += d * d
	}
	variance := ((v0 + v1) + (v2 + v3)) / float64(n)
	inv := float32(1 / math.Sqrt(variance+float64(eps)))
	m := float32(mean)
	dst = dst[:n]
	if w != nil && b != nil {
		w, b = w[:n], b[:n]
		i = 0
		for ; i+4 <= n; i += 4 {
			xx, ww, bb, dd := x[i:i+4:i+4], w[i:i+4:i+4], b[i:i+4:i+4], dst[i:i+4:i+4]
			dd[0] = (xx[0]-m)*inv*ww[0] + bb[0]
			dd[1] = (xx[1]-m)*inv*ww[1] + bb[1]
			dd[2] = (xx[2]-m)*inv*ww[2] + bb[2]
			dd[3] = (xx[3]-m)*inv*ww[3] + bb[3]
		}
		for ; i < n; i++ {
			dst[i] = (x[i]-m)*inv*w[i] + b[i]
		}
		return
	}
	for i, v := range x {
		y := (v - m) * inv
		if w != nil {
			y *= w[i]
		}
		if b != nil {
			y += b[i]
		}
		dst[i] = y
	}
}

// RMSNorm computes dst = x / sqrt(mean(x²) + eps) * w; w may be nil.
func RMSNorm(dst, x, w []float32, eps float32) {
	n := len(x)
	mustLen("RMSNorm dst", len(dst), n)
	if w != nil {
		mustLen("RMSNorm w", len(w), n)
	}
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
	for i, v := range x {
		y := v * inv
		if w != nil {
			y *= w[i]
		}
		dst[i] = y
	}
}

// GELUTanh applies the tanh approximation of GELU in place (BLOOM's
// bloom_gelu_forward): 0.5·x·(1 + tanh(0.79788456·x·(1 + 0.044715·x²))).
// Both paths evaluate it as x/(1 + e^(-2u)), the same function without the
// cancellation in 1 + tanh(u) for x < 0: the pure-Go path in float64, the
// SIMD path in float32 within a few ulp (relative error below about
// (2+|u|)·2^-22; results below 1e-37 may flush to -0).
func GELUTanh(x []float32) {
	geluTanh(x)
}

// ExpShift replaces x[i] with e^(x[i]-m) and returns the sum of the new
// values: the numerator and normaliser of a softmax whose maximum is m.
//
//	for i := range x { x[i] = exp(x[i] - m); sum += x[i] }
//
// The pure-Go path rounds float64 exp and sums in float64; the SIMD path
// uses a float32 exp within about 2 ulp that flushes results below 2^-126
// to 0. x[i] = -Inf gives 0.
func ExpShift(x []float32, m float32) float32 {
	return expShift(x, m)
}

// GELUErf applies the exact GELU in place: 0.5·x·(1 + erf(x/√2)).
func GELUErf(x []float32) {
	for i, v := range x {
		x[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
	}
}

// SiLU applies x·sigmoid(x) in place.
func SiLU(x []float32) {
	for i, v := range x {
		x[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
	}
}

// Mul computes dst *= x elementwise.
func Mul(dst, x []float32) {
	mustLen("Mul", len(x), len(dst))
	for i, v := range x {
		dst[i] *= v
	}
}

// Softmax replaces x with softmax(x), computed stably in float32 with a
// float64 sum. Entries equal to -Inf get probability 0; if every entry is
// -Inf the result is uniform (as HF's finfo.min masking gives).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		u := 1 / float32(len(x))
		for i := range x {
			x[i] = u
		}
		return
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}
