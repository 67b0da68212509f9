//go:build js && wasm

package kernels

import "unsafe"

// The SIMD128 kernels of simd/kernels.wat, reached through the host's
// alibi_simd import object (simd/host.mjs). Pointers are byte addresses in
// Go's linear memory, which the kernel module imports; the calls are
// synchronous, so the Go values they point into stay put and alive.

//go:wasmimport alibi_simd available
func simdAvailable() int32

//go:wasmimport alibi_simd version
func simdVersion() int32

//go:wasmimport alibi_simd dot
func simdDot(a, b unsafe.Pointer, n int32) float32

//go:wasmimport alibi_simd matvec
func simdMatVec(dst, w, x unsafe.Pointer, rows, cols int32)

//go:wasmimport alibi_simd matmul
func simdMatMul(dst, x, w unsafe.Pointer, n, rows, cols int32)

//go:wasmimport alibi_simd axpy
func simdAxpy(dst unsafe.Pointer, a float32, x unsafe.Pointer, n int32)

//go:wasmimport alibi_simd matvec_t
func simdMatVecT(dst, w, x unsafe.Pointer, rows, cols int32)

//go:wasmimport alibi_simd gelu_tanh
func simdGELUTanh(x unsafe.Pointer, n int32)

//go:wasmimport alibi_simd exp_shift
func simdExpShift(x unsafe.Pointer, n int32, m float32) float32

//go:wasmimport alibi_simd alibi_scores
func simdALiBiScores(dst, k, q unsafe.Pointer, rows, cols int32, scale, slope float32, off int32) float32

//go:wasmimport alibi_simd attend_heads
func simdAttendHeads(out, q, k, v, sc unsafe.Pointer, nh, d, npos, hstride int32, scale float32, slopes unsafe.Pointer, sclen int32)

//go:wasmimport alibi_simd matvec_q8
func simdMatVecQ8(dst, w, scales, x unsafe.Pointer, rows, cols, block int32, scratch unsafe.Pointer)

//go:wasmimport alibi_simd matmul_q8
func simdMatMulQ8(dst, x, w, scales unsafe.Pointer, n, rows, cols, block int32, scratch unsafe.Pointer)

//go:wasmimport alibi_simd quantize_q8
func simdQuantizeQ8(q, scales, w unsafe.Pointer, nb int32)

//go:wasmimport alibi_simd f16_to_f32
func simdF16ToF32(dst, src unsafe.Pointer, n int32)

//go:wasmimport alibi_simd quantize_q8_f16
func simdQuantizeQ8F16(q, scales, src unsafe.Pointer, nb int32)

// abiVersion must equal kernels.wat's version() and host.mjs's ABI_VERSION.
const abiVersion = 4

// haveSIMD is decided once, while the package's variables initialize (before
// any init function of an importing package can run a kernel).
var haveSIMD = simdAvailable() == 1 && simdVersion() == abiVersion

var useSIMD = haveSIMD

// SIMD reports whether the SIMD128 kernel module is in use: the host supplied
// it and SetSIMD has not turned it off.
func SIMD() bool { return useSIMD }

// SetSIMD turns the SIMD128 kernels on or off and returns the previous state.
// Turning them on has no effect when the host did not supply the module.
// Tests and benchmarks use it to compare the SIMD and pure-Go paths.
func SetSIMD(on bool) bool {
	prev := useSIMD
	useSIMD = on && haveSIMD
	return prev
}

func ptr[T any](s []T) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

func dot(a, b []float32) float32 {
	if !useSIMD || len(a) == 0 {
		return dotGo(a, b)
	}
	return simdDot(ptr(a), ptr(b), int32(len(a)))
}

func matVec(dst, w, x []float32) {
	if !useSIMD || len(dst) == 0 || len(x) == 0 {
		matVecGo(dst, w, x)
		return
	}
	simdMatVec(ptr(dst), ptr(w), ptr(x), int32(len(dst)), int32(len(x)))
}

func matVecTAdd(dst, w, x []float32) {
	if !useSIMD || len(dst) == 0 || len(x) == 0 {
		matVecTAddGo(dst, w, x)
		return
	}
	simdMatVecT(ptr(dst), ptr(w), ptr(x), int32(len(x)), int32(len(dst)))
}

func axpy(dst []float32, a float32, x []float32) {
	if !useSIMD || len(dst) == 0 {
		axpyGo(dst, a, x)
		return
	}
	simdAxpy(ptr(dst), a, ptr(x), int32(len(dst)))
}

func matMul(dst, x, w []float32, n, rows, cols int) {
	if !useSIMD || rows == 0 || cols == 0 {
		matMulGo(dst, x, w, n, rows, cols)
		return
	}
	simdMatMul(ptr(dst), ptr(x), ptr(w), int32(n), int32(rows), int32(cols))
}

// scratch is the kernels' work area in Go memory (the int16 activations
// and their scales for matvec_q8 and matmul_q8). One buffer is
// enough: js/wasm runs one goroutine at a time and each kernel call uses and
// finishes with it before returning.
var scratch []float32

// q8ScratchFloats is the scratch the int8 kernels need for n activation
// rows of cols: 32 int16 values (16 floats) + 1 f32 scale per full 32-block.
func q8ScratchFloats(n, cols int) int { return n*17*(cols/32) + 1 }

func scratchFloats(n int) unsafe.Pointer {
	if cap(scratch) < n {
		scratch = make([]float32, n+n/4)
	}
	return ptr(scratch[:n])
}

func matVecQ8(dst []float32, w []int8, scales []float32, x []float32, block int) {
	if !useSIMD || len(dst) == 0 || len(x) == 0 {
		matVecQ8Go(dst, w, scales, x, block)
		return
	}
	cols := len(x)
	scr := scratchFloats(q8ScratchFloats(1, cols))
	simdMatVecQ8(ptr(dst), ptr(w), ptr(scales), ptr(x), int32(len(dst)), int32(cols), int32(block), scr)
}

func matMulQ8(dst []float32, x []float32, w []int8, scales []float32, n, rows, cols, block int) {
	if !useSIMD || rows == 0 || cols == 0 {
		matMulQ8Go(dst, x, w, scales, n, rows, cols, block)
		return
	}
	scr := scratchFloats(q8ScratchFloats(n, cols))
	simdMatMulQ8(ptr(dst), ptr(x), ptr(w), ptr(scales), int32(n), int32(rows), int32(cols), int32(block), scr)
}

func geluTanh(x []float32) {
	if !useSIMD || len(x) == 0 {
		geluTanhGo(x)
		return
	}
	simdGELUTanh(ptr(x), int32(len(x)))
}

func attendHeads(out, q, k, v, sc, slopes []float32, nh, d, npos, hstride int, scale float32) {
	if !useSIMD || d == 0 {
		attendHeadsGo(out, q, k, v, sc, slopes, nh, d, npos, hstride, scale)
		return
	}
	simdAttendHeads(ptr(out), ptr(q), ptr(k), ptr(v), ptr(sc), int32(nh), int32(d), int32(npos), int32(hstride), scale, ptr(slopes), int32(len(sc)))
}

func expShift(x []float32, m float32) float32 {
	if !useSIMD || len(x) == 0 {
		return expShiftGo(x, m)
	}
	return simdExpShift(ptr(x), int32(len(x)), m)
}

func alibiScores(dst, k, q []float32, scale, slope float32, off int) float32 {
	if !useSIMD || len(dst) == 0 || len(q) == 0 {
		return alibiScoresGo(dst, k, q, scale, slope, off)
	}
	return simdALiBiScores(ptr(dst), ptr(k), ptr(q), int32(len(dst)), int32(len(q)), scale, slope, int32(off))
}

func quantizeQ8(q []int8, scales []float32, w []float32, block int) {
	if !useSIMD || block != 32 || len(scales) == 0 {
		quantizeQ8Go(q, scales, w, block)
		return
	}
	simdQuantizeQ8(ptr(q), ptr(scales), ptr(w), int32(len(scales)))
}

func f16ToF32(dst []float32, src []byte) {
	if !useSIMD || len(dst) == 0 {
		f16ToF32Go(dst, src)
		return
	}
	simdF16ToF32(ptr(dst), ptr(src), int32(len(dst)))
}

func quantizeQ8F16(q []int8, scales []float32, src []byte, block int) {
	if !useSIMD || block != 32 || len(scales) == 0 {
		quantizeQ8F16Go(q, scales, src, block)
		return
	}
	simdQuantizeQ8F16(ptr(q), ptr(scales), ptr(src), int32(len(scales)))
}
