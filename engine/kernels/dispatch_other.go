//go:build !(js && wasm)

package kernels

// SIMD reports whether the SIMD128 kernel module is in use. Outside js/wasm
// it is always false: the pure-Go loops run.
func SIMD() bool { return false }

// SetSIMD turns the SIMD128 kernels on or off (when the host supplied them)
// and returns the previous state; tests and benchmarks use it to compare the
// two paths. Outside js/wasm there are no SIMD kernels: it returns false and
// changes nothing.
func SetSIMD(on bool) bool { return false }

func dot(a, b []float32) float32              { return dotGo(a, b) }
func matVec(dst, w, x []float32)              { matVecGo(dst, w, x) }
func matVecTAdd(dst, w, x []float32)          { matVecTAddGo(dst, w, x) }
func geluTanh(x []float32)                    { geluTanhGo(x) }
func expShift(x []float32, m float32) float32 { return expShiftGo(x, m) }
func alibiScores(dst, k, q []float32, scale, slope float32, off int) float32 {
	return alibiScoresGo(dst, k, q, scale, slope, off)
}
func axpy(dst []float32, a float32, x []float32) { axpyGo(dst, a, x) }
func attendHeads(out, q, k, v, sc, slopes []float32, nh, d, npos, hstride int, scale float32) {
	attendHeadsGo(out, q, k, v, sc, slopes, nh, d, npos, hstride, scale)
}
func matMul(dst, x, w []float32, n, rows, cols int) {
	matMulGo(dst, x, w, n, rows, cols)
}
func matVecQ8(dst []float32, w []int8, scales []float32, x []float32, block int) {
	matVecQ8Go(dst, w, scales, x, block)
}
func matMulQ8(dst []float32, x []float32, w []int8, scales []float32, n, rows, cols, block int) {
	matMulQ8Go(dst, x, w, scales, n, rows, cols, block)
}
func quantizeQ8(q []int8, scales []float32, w []float32, block int) {
	quantizeQ8Go(q, scales, w, block)
}
func f16ToF32(dst []float32, src []byte) { f16ToF32Go(dst, src) }
func quantizeQ8F16(q []int8, scales []float32, src []byte, block int) {
	quantizeQ8F16Go(q, scales, src, block)
}
