package engine

import (
	"context"

	"github.com/c9e48c40/alibi/engine/kernels"
)

// forward runs ids (already validated) at positions Len().. through the
// model, chunk by chunk, appending their keys and values to the cache.
// It leaves the last position's logits in s.logits and, when all is not
// nil, every position's logits in all (len(ids), V). It allocates nothing.
//
// BLOOM, after modeling_bloom.py:
//
//	x = LN_emb(E[ids])
//	for each block:
//	    a = LN1(x); q, k, v = split(a·Wqkvᵀ + b)
//	    x = r1 + attention(q, k, v)·Woᵀ + bo        r1 = a if post-LN residual, else x
//	    m = LN2(x)
//	    x = r2 + gelu_tanh(m·Wupᵀ + bup)·Wdownᵀ + bdown   r2 = m if post-LN residual, else x
//	logits = LN_f(x)·Eᵀ
func (s *Session) forward(ctx context.Context, ids []int, all []float32) error {
	m := s.m
	c := &m.cfg
	w := &m.w
	h, V := c.HiddenSize, c.VocabSize
	eps := float32(c.LayerNormEpsilon)
	postLN := c.ApplyResidualConnectionPostLayernorm
	start := s.n

	for c0 := 0; c0 < len(ids); c0 += s.rows {
		if err := ctx.Err(); err != nil {
			s.n = start // drop the partial prompt: the cache past start is garbage
			s.logitsValid = false
			return err
		}
		chunk := ids[c0:min(c0+s.rows, len(ids))]
		n := len(chunk)
		pos0 := s.n
		x := s.x[:n*h]       // (n, h)
		xn := s.xn[:n*h]     // (n, h)
		qkv := s.qkv[:n*3*h] // (n, 3h) [Q | K | V]
		att := s.att[:n*h]   // (n, h) attention output, written by s.attention
		ff := s.ff[:n*4*h]   // (n, 4h)
		proj := s.proj[:n*h] // (n, h)

		// 1. Embeddings, then the embedding layernorm.
		for i, id := range chunk {
			xi := x[i*h : (i+1)*h]
			w.embed.row(xi, id)
			kernels.LayerNorm(xi, xi, w.embNormW.f, w.embNormB.f, eps)
		}
		s.trace("embed_norm", -1, pos0, x)

		for li := range w.layers {
			l := &w.layers[li]
			// 2. Attention: a = LN1(x); qkv = a·Wqkvᵀ + b.
			layerNormRows(xn, x, l.attnNormW.f, l.attnNormB.f, eps, h)
			s.trace("attn_norm", li, pos0, xn)
			l.qkv.mul(qkv, xn, n)
			addRows(qkv, l.qkvB.f)
			s.trace("qkv", li, pos0, qkv)
			s.storeKV(li, pos0, n)
			hooked := s.hook != nil && li == s.hookLayer && c0+n == len(ids)
			s.attention(li, pos0, n, hooked)
			s.trace("attn", li, pos0, att)
			// o = ctx·Woᵀ + bo, then the residual.
			l.attnOut.mul(proj, att, n)
			addRows(proj, l.attnOutB.f)
			if postLN {
				copy(x, xn)
			}
			kernels.Add(x, proj)
			s.trace("attn_res", li, pos0, x)

			// 3. MLP: m = LN2(x); x = r + gelu(m·Wupᵀ + bup)·Wdownᵀ + bdown.
			layerNormRows(xn, x, l.mlpNormW.f, l.mlpNormB.f, eps, h)
			s.trace("ffn_norm", li, pos0, xn)
			l.up.mul(ff, xn, n)
			addRows(ff, l.upB.f)
			kernels.GELUTanh(ff)
			s.trace("ffn_act", li, pos0, ff)
			l.down.mul(proj, ff, n)
			addRows(proj, l.downB.f)
			if postLN {
				copy(x, xn)
			}
			kernels.Add(x, proj)
			s.trace("block_out", li, pos0, x)
		}
		for i, id := range chunk {
			s.tokens[pos0+i] = id
		}
		s.n = pos0 + n

		// 4. Final layernorm and the tied output head.
		if all != nil {
			layerNormRows(xn, x, w.outNormW.f, w.outNormB.f, eps, h)
			s.trace("out_norm", -1, pos0, xn)
			m.outHead.mul(all[(pos0-start)*V:(pos0-start+n)*V], xn, n)
		}
		if c0+n == len(ids) {
			last := xn[(n-1)*h : n*h]
			if all != nil {
				copy(s.logits, all[(pos0-start+n-1)*V:])
			} else {
				kernels.LayerNorm(last, x[(n-1)*h:n*h], w.outNormW.f, w.outNormB.f, eps)
				s.trace("out_norm", -1, pos0+n-1, last)
				m.outHead.mul(s.logits, last, 1)
			}
		}
	}
	s.logitsValid = true
	if s.hook != nil {
		s.callHook()
	}
	return nil
}

// trace hands a named intermediate to the trace hook, if any.
func (s *Session) trace(name string, layer, pos int, x []float32) {
	if s.tracer != nil {
		s.tracer(name, layer, pos, x)
	}
}

// layerNormRows applies LayerNorm to each h-wide row of src into dst.
func layerNormRows(dst, src, w, b []float32, eps float32, h int) {
	for i := 0; i < len(src); i += h {
		kernels.LayerNorm(dst[i:i+h], src[i:i+h], w, b, eps)
	}
}

// addRows adds the bias b to each row of x.
func addRows(x, b []float32) {
	for i := 0; i < len(x); i += len(b) {
		kernels.Add(x[i:i+len(b)], b)
	}
}
