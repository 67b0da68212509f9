package engine

import (
	"math"

	"github.com/c9e48c40/alibi/engine/kernels"
)

// storeKV copies the keys and values of n new positions from s.qkv into the
// cache of layer li at positions pos0.. .
func (s *Session) storeKV(li, pos0, n int) {
	h, H := s.m.cfg.HiddenSize, s.m.cfg.NHead
	d := h / H
	kc, vc := s.k[li], s.v[li] // (H, ctxLen, d)
	for i := 0; i < n; i++ {
		row := s.qkv[i*3*h : (i+1)*3*h] // [Q | K | V]
		p := pos0 + i
		for hh := 0; hh < H; hh++ {
			off := (hh*s.ctxLen + p) * d
			copy(kc[off:off+d], row[h+hh*d:h+(hh+1)*d])
			copy(vc[off:off+d], row[2*h+hh*d:2*h+(hh+1)*d])
		}
	}
}

// attention computes causal ALiBi attention for the n positions pos0.. of
// layer li, from the queries in s.qkv and the cache, into s.att (n, h),
// heads merged head-major. With hooked, the probabilities of the last
// query are kept for the attention hook.
//
// For query position i and key position j ≤ i in head hh:
//
//	score(i, j) = q_i·k_j·scale − slope_hh·(i − j)
//	out_i = Σ_j softmax_j(score(i, ·)) v_j
//
// The softmax is online (FlashAttention): keys are scored in blocks and the
// running maximum, normaliser and output are rescaled when the maximum
// grows, so no n×n matrix is ever formed. Each query (a decode step, or
// each row of a prefill chunk, over its own causal prefix of the cache)
// runs attendHead: three kernel calls per block of attnBlock keys. Queries
// within one block (no hook) make one kernels.AttendHeads call each for all
// heads instead, the same arithmetic, which kernel threads split by heads.
func (s *Session) attention(li, pos0, n int, hooked bool) {
	h, H := s.m.cfg.HiddenSize, s.m.cfg.NHead
	d := h / H
	scale := s.m.attnScale
	kc, vc := s.k[li], s.v[li]
	last := pos0 + n - 1
	sc := s.scores[:scoresLen(s.ctxLen)]
	if !hooked && last+1 <= len(sc) {
		// Every query within one score block (a decode step, or a prefill
		// chunk in the first attnBlock positions): all heads of a query in
		// one kernel call (which kernel threads split by heads), the same
		// arithmetic as attendHead's below, without its 3-4 calls per head.
		for i := 0; i < n; i++ {
			kernels.AttendHeads(s.att[i*h:(i+1)*h], s.qkv[i*3*h:i*3*h+h], kc, vc, s.scores, s.m.slopes, H, d, pos0+i+1, s.ctxLen*d, scale)
		}
		return
	}
	for hh := 0; hh < H; hh++ {
		slope := s.m.slopes[hh]
		base := hh * s.ctxLen * d
		var mx, sum float32
		for i := 0; i < n; i++ {
			p := pos0 + i
			k := kc[base : base+(p+1)*d] // (p+1, d) keys of this head up to p
			v := vc[base : base+(p+1)*d] // (p+1, d) values
			q := s.qkv[i*3*h+hh*d : i*3*h+(hh+1)*d]
			mx, sum = attendHead(s.att[i*h+hh*d:i*h+(hh+1)*d], q, k, v, slope, scale, sc)
		}
		if hooked {
			q := s.qkv[(n-1)*3*h+hh*d : (n-1)*3*h+(hh+1)*d]
			probs := s.hookBuf[hh*s.ctxLen : hh*s.ctxLen+last+1]
			attentionProbs(probs, q, kc[base:base+(last+1)*d], slope, scale, mx, sum)
		}
	}
}

// attendHead computes one head's output for the query q at position
// len(k)/d-1 over keys k and values v, both (p+1, d), with the online
// softmax over blocks of len(scores) keys. It returns the final maximum
// score and normaliser. Per block it makes three kernel calls (scores with
// the ALiBi bias and their maximum; exponentials and their sum; the
// probability-weighted sum of the value rows), never one per position:
// on js/wasm each call into the SIMD kernels costs about 18 ns.
func attendHead(out, q, k, v []float32, slope, scale float32, scores []float32) (mx, sum float32) {
	d := len(q)
	p := len(k)/d - 1
	clear(out)
	mx = float32(math.Inf(-1))
	for j0 := 0; j0 <= p; j0 += len(scores) {
		j1 := min(j0+len(scores), p+1)
		sc := scores[:j1-j0]
		// sc[j-j0] = q·k_j·scale − slope·(p−j)
		bmx := kernels.ALiBiScores(sc, k[j0*d:j1*d], q, scale, slope, j0-p)
		if bmx > mx {
			// Rescale what was accumulated under the old maximum.
			if sum != 0 {
				c := float32(math.Exp(float64(mx - bmx)))
				sum *= c
				kernels.Scale(out, c)
			}
			mx = bmx
		}
		sum += kernels.ExpShift(sc, mx)
		kernels.MatVecTAdd(out, v[j0*d:j1*d], sc)
	}
	kernels.Scale(out, 1/sum)
	return mx, sum
}

// attentionProbs writes softmax probabilities of the query q over keys k
// into probs, given the maximum and normaliser found by attendHead.
func attentionProbs(probs, q, k []float32, slope, scale, mx, sum float32) {
	p := len(probs) - 1
	kernels.ALiBiScores(probs, k, q, scale, slope, -p)
	kernels.ExpShift(probs, mx)
	kernels.Scale(probs, 1/sum)
}

// callHook hands the last query's probabilities of the hooked layer to the hook.
func (s *Session) callHook() {
	for hh := range s.hookProbs {
		s.hookProbs[hh] = s.hookBuf[hh*s.ctxLen : hh*s.ctxLen+s.n]
	}
	s.hook(s.hookLayer, s.hookProbs)
}
