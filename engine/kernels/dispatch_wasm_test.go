//go:build js && wasm

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The int8 kernels write their quantized activations into the package
// scratch buffer; they must stay inside the part they were given.
func TestQ8ScratchBounds(t *testing.T) {
	requireSIMD(t)
	prev := SetSIMD(true)
	defer SetSIMD(prev)
	defer func() { scratch = nil }()
	r := rand.New(rand.NewPCG(31, 32))
	for _, sh := range []struct{ n, rows, cols int }{{1, 5, 32}, {1, 4, 100}, {3, 7, 64}, {9, 5, 96}, {4, 9, 300}, {2, 3, 31}} {
		need := q8ScratchFloats(sh.n, sh.cols)
		buf := make([]float32, need+guardLen)
		for i := range buf {
			buf[i] = outGuard
		}
		q, s := randQ8(r, sh.rows, sh.cols)
		x := randSlice(r, sh.n*sh.cols)
		dst := make([]float32, sh.n*sh.rows)
		scratch = buf[: need : need+guardLen] // cap covers need: used as is
		if sh.n == 1 {
			MatVecQ8(dst, q, s, x)
		} else {
			MatMulQ8(dst, x, q, s, sh.n)
		}
		if &scratch[0] != &buf[0] {
			t.Fatalf("%+v: scratch was reallocated although it had %d floats", sh, cap(buf))
		}
		for i, v := range buf[need:] {
			if math.Float32bits(v) != math.Float32bits(outGuard) {
				t.Fatalf("%+v: scratch written past its %d floats at +%d", sh, need, i)
			}
		}
	}
}
