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
//	score(i, j) = q_i·k_j / √d − slope_hh·(i − j)
//	out_i = Σ_j softmax_j(score(i, ·)) v_j
//
// The softmax is online (FlashAttention): keys are scored in blocks and the
// running maximum, normaliser and output are rescaled when the maximum
// grows, so no n×n matrix is ever formed. One query (a decode step) uses
// attendHead; a prefill chunk uses attendBlock, which turns the work into
// matrix products over (queries × key block) tiles.
func (s *Session) attention(li, pos0, n int, hooked bool) {
	h, H := s.m.cfg.HiddenSize, s.m.cfg.NHead
	d := h / H
	scale := s.m.attnScale
	kc, vc := s.k[li], s.v[li]
	last := pos0 + n - 1
	for hh := 0; hh < H; hh++ {
		slope := s.m.slopes[hh]
		k := kc[hh*s.ctxLen*d : (hh*s.ctxLen+last+1)*d] // (last+1, d) keys of this head
		v := vc[hh*s.ctxLen*d : (hh*s.ctxLen+last+1)*d] // (last+1, d) values
		var mx, sum float32
		if n == 1 {
			q := s.qkv[hh*d : (hh+1)*d] // (d)
			mx, sum = attendHead(s.att[hh*d:(hh+1)*d], q, k, v, slope, scale, s.scores)
		} else {
			mx, sum = s.attendBlock(hh, pos0, n, k, v, slope, scale)
		}
		if hooked {
			q := s.qkv[(n-1)*3*h+hh*d : (n-1)*3*h+(hh+1)*d]
			probs := s.hookBuf[hh*s.ctxLen : hh*s.ctxLen+last+1]
			attentionProbs(probs, q, k, slope, scale, mx, sum)
		}
	}
}

// attendBlock computes head hh's attention output for the n queries at
// positions pos0.. (n > 1) over keys k and values v (pos0+n, d) with the
// online softmax, one tile of queries × attnBlock keys at a time:
//
//	S = Q·K_blockᵀ (MatMul), P = exp(S·scale + bias − m) masked causally,
//	O = O·c + P·V_block (MatMul against the transposed value block).
//
// It returns the final maximum and normaliser of the last query.
func (s *Session) attendBlock(hh, pos0, n int, k, v []float32, slope, scale float32) (float32, float32) {
	h := s.m.cfg.HiddenSize
	d := h / s.m.cfg.NHead
	B := len(s.scores)
	q := s.tq[:n*d]   // (n, d) this head's queries
	o := s.to[:n*d]   // (n, d) running output
	tmp := s.tt[:n*d] // (n, d) P·V of one block
	mx := s.tm[:n]    // (n) running maximum
	sum := s.tl[:n]   // (n) running normaliser
	for i := 0; i < n; i++ {
		copy(q[i*d:(i+1)*d], s.qkv[i*3*h+hh*d:i*3*h+(hh+1)*d])
		mx[i] = float32(math.Inf(-1))
		sum[i] = 0
	}
	clear(o)
	last := pos0 + n - 1
	for j0 := 0; j0 <= last; j0 += B {
		j1 := min(j0+B, last+1)
		nk := j1 - j0
		sc := s.ts[:n*nk] // (n, nk) scores, then probabilities
		kernels.MatMul(sc, q, k[j0*d:j1*d], n)
		for i := 0; i < n; i++ {
			p := pos0 + i
			row := sc[i*nk : (i+1)*nk]
			if p < j0 { // the whole block is in this query's future
				clear(row)
				continue
			}
			bmx := float32(math.Inf(-1))
			for j := range row {
				if j0+j > p {
					row[j] = float32(math.Inf(-1))
					continue
				}
				x := row[j]*scale - slope*float32(p-j0-j)
				row[j] = x
				bmx = max(bmx, x)
			}
			if bmx > mx[i] {
				if sum[i] != 0 {
					c := float32(math.Exp(float64(mx[i] - bmx)))
					sum[i] *= c
					kernels.Scale(o[i*d:(i+1)*d], c)
				}
				mx[i] = bmx
			}
			for j, x := range row {
				e := float32(math.Exp(float64(x - mx[i]))) // exp(-Inf) = 0 for future keys
				row[j] = e
				sum[i] += e
			}
		}
		// O += P·V: MatMul computes X·Wᵀ, so W is the value block transposed.
		vt := s.tv[:d*nk] // (d, nk)
		for j := 0; j < nk; j++ {
			for e := 0; e < d; e++ {
				vt[e*nk+j] = v[(j0+j)*d+e]
			}
		}
		kernels.MatMul(tmp, sc, vt, n)
		kernels.Add(o, tmp)
	}
	for i := 0; i < n; i++ {
		out := s.att[i*h+hh*d : i*h+(hh+1)*d]
		copy(out, o[i*d:(i+1)*d])
		kernels.Scale(out, 1/sum[i])
	}
	return mx[n-1], sum[n-1]
}

// attendHead computes one head's output for the query q at position
// len(k)/d-1 over keys k and values v, both (p+1, d), with the online
// softmax. It returns the final maximum score and normaliser.
func attendHead(out, q, k, v []float32, slope, scale float32, scores []float32) (mx, sum float32) {
	d := len(q)
	p := len(k)/d - 1
	clear(out)
	mx = float32(math.Inf(-1))
	for j0 := 0; j0 <= p; j0 += len(scores) {
		j1 := min(j0+len(scores), p+1)
		sc := scores[:j1-j0]
		kernels.MatVec(sc, k[j0*d:j1*d], q) // q·k_j for the block, one call
		bmx := float32(math.Inf(-1))
		for j := j0; j < j1; j++ {
			x := sc[j-j0]*scale - slope*float32(p-j)
			sc[j-j0] = x
			if x > bmx {
				bmx = x
			}
		}
		if bmx > mx {
			// Rescale what was accumulated under the old maximum.
			if sum != 0 {
				c := float32(math.Exp(float64(mx - bmx)))
				sum *= c
				kernels.Scale(out, c)
			}
			mx = bmx
		}
		for j := j0; j < j1; j++ {
			e := float32(math.Exp(float64(sc[j-j0] - mx)))
			sum += e
			kernels.Axpy(out, e, v[j*d:(j+1)*d])
		}
	}
	kernels.Scale(out, 1/sum)
	return mx, sum
}

// attentionProbs writes softmax probabilities of the query q over keys k
// into probs, given the maximum and normaliser found by attendHead.
func attentionProbs(probs, q, k []float32, slope, scale, mx, sum float32) {
	p := len(probs) - 1
	kernels.MatVec(probs, k, q)
	for j, dot := range probs {
		x := dot*scale - slope*float32(p-j)
		probs[j] = float32(math.Exp(float64(x-mx))) / sum
	}
}

// callHook hands the last query's probabilities of the hooked layer to the hook.
func (s *Session) callHook() {
	for hh := range s.hookProbs {
		s.hookProbs[hh] = s.hookBuf[hh*s.ctxLen : hh*s.ctxLen+s.n]
	}
	s.hook(s.hookLayer, s.hookProbs)
}
