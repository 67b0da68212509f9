package engine

import "math"

// AlibiSlopes returns the ALiBi slope of each of n heads (Press et al., 2022,
// and get_slopes in ofirpress/attention_with_linear_biases): with c the
// largest power of two ≤ n, the first c slopes are 2^(-8h/c) for h = 1..c;
// when n is not a power of two the remaining n-c slopes are the odd powers
// 1, 3, 5, ... of 2^(-4/c) (the even-indexed slopes of 2c heads), which
// interleave between the first ones. BLOOM, MPT, Baichuan and Jais agree.
func AlibiSlopes(n int) []float32 {
	if n <= 0 {
		return nil
	}
	c := 1
	for c*2 <= n {
		c *= 2
	}
	slopes := make([]float32, n)
	for h := 0; h < c; h++ {
		slopes[h] = float32(math.Exp2(-8 * float64(h+1) / float64(c)))
	}
	for k := 0; k < n-c; k++ {
		slopes[c+k] = float32(math.Exp2(-4 * float64(2*k+1) / float64(c)))
	}
	return slopes
}
