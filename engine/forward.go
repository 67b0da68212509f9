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
// BLOOM, after modeling_bloom.py (the other families differ only in the
// parts marked, all set from the config and architecture table: no
// embedding layernorm, embedding and logit scales, norms without bias or
// RMSNorm, linear layers without bias, clip_qkv and qk_ln on the fused
// QKV, exact-erf GELU or SwiGLU, untied head, the ALiBi slopes and score
// scale, and Falcon-RW's key-position bias):
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
	ffw := c.ffWidth()
	eps := float32(c.LayerNormEpsilon)
	postLN := c.ApplyResidualConnectionPostLayernorm
	clip := float32(c.ClipQKV)
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
		ff := s.ff[:n*ffw]   // (n, ff)
		proj := s.proj[:n*h] // (n, h)

		// 1. Embeddings (times the muP embedding scale), then the embedding
		// layernorm (BLOOM only).
		for i, id := range chunk {
			xi := x[i*h : (i+1)*h]
			w.embed.row(xi, id)
			if m.embScale != 1 {
				kernels.Scale(xi, m.embScale)
			}
			if w.embNormW.f != nil {
				kernels.LayerNorm(xi, xi, w.embNormW.f, w.embNormB.f, eps)
			}
		}
		s.trace("embed_norm", -1, pos0, x)

		for li := range w.layers {
			l := &w.layers[li]
			// 2. Attention: a = LN1(x); qkv = a·Wqkvᵀ + b.
			m.normRows(xn, x, &l.attnNormW, &l.attnNormB)
			s.trace("attn_norm", li, pos0, xn)
			l.qkv.mul(qkv, xn, n)
			addRows(qkv, l.qkvB.f)
			if clip > 0 {
				clampAll(qkv, clip)
			}
			if l.qNormW.f != nil {
				// MPT qk_ln: layernorm over all heads of Q and of K.
				for i := 0; i < n; i++ {
					q := qkv[i*3*h : i*3*h+h]
					k := qkv[i*3*h+h : i*3*h+2*h]
					kernels.LayerNorm(q, q, l.qNormW.f, l.qNormB.f, eps)
					kernels.LayerNorm(k, k, l.kNormW.f, l.kNormB.f, eps)
				}
			}
			s.trace("qkv", li, pos0, qkv)
			s.storeKV(li, pos0, n)
			hooked := s.hook != nil && li == s.hookLayer && c0+n == len(ids)
			if m.keyBias != nil {
				s.attentionKeyBias(li, pos0, n, hooked)
			} else {
				s.attention(li, pos0, n, hooked)
			}
			s.trace("attn", li, pos0, att)
			// o = ctx·Woᵀ + bo, then the residual.
			l.attnOut.mul(proj, att, n)
			addRows(proj, l.attnOutB.f)
			if postLN {
				copy(x, xn)
			}
			kernels.Axpy(x, 1, proj) // = Add (1·v is exact), on the SIMD axpy kernel
			s.trace("attn_res", li, pos0, x)

			// 3. MLP: m = LN2(x); x = r + act(m·Wupᵀ + bup)·Wdownᵀ + bdown,
			// or with SwiGLU x = r + ((m·Wupᵀ + bup) ⊙ silu(m·Wgateᵀ + bgate))·Wdownᵀ + bdown.
			m.normRows(xn, x, &l.mlpNormW, &l.mlpNormB)
			s.trace("ffn_norm", li, pos0, xn)
			l.up.mul(ff, xn, n)
			addRows(ff, l.upB.f)
			switch c.Activation {
			case actSwiGLU:
				g := s.ffGate[:n*ffw]
				l.gate.mul(g, xn, n)
				addRows(g, l.gateB.f)
				kernels.SiLU(g)
				kernels.Mul(ff, g)
			case actGELU:
				kernels.GELUErf(ff)
			default:
				kernels.GELUTanh(ff)
			}
			s.trace("ffn_act", li, pos0, ff)
			l.down.mul(proj, ff, n)
			addRows(proj, l.downB.f)
			if postLN {
				copy(x, xn)
			}
			kernels.Axpy(x, 1, proj)
			s.trace("block_out", li, pos0, x)
		}
		for i, id := range chunk {
			s.tokens[pos0+i] = id
		}
		s.n = pos0 + n

		// 4. Final norm and the output head (times the logit scale).
		if all != nil {
			m.normRows(xn, x, &w.outNormW, &w.outNormB)
			s.trace("out_norm", -1, pos0, xn)
			out := all[(pos0-start)*V : (pos0-start+n)*V]
			m.outHead.mul(out, xn, n)
			if m.logitScale != 1 {
				kernels.Scale(out, m.logitScale)
			}
		}
		if c0+n == len(ids) {
			last := xn[(n-1)*h : n*h]
			if all != nil {
				copy(s.logits, all[(pos0-start+n-1)*V:])
			} else {
				m.normRows(last, x[(n-1)*h:n*h], &w.outNormW, &w.outNormB)
				s.trace("out_norm", -1, pos0+n-1, last)
				m.outHead.mul(s.logits, last, 1)
				if m.logitScale != 1 {
					kernels.Scale(s.logits, m.logitScale)
				}
			}
		}
	}
	s.logitsValid = true
	if s.hook != nil {
		s.callHook()
	}
	return nil
}

// MLP activations (Config.Activation).
const (
	actGELUTanh = "gelu_tanh"
	actGELU     = "gelu"
	actSwiGLU   = "swiglu"
)

// normRows applies the model's norm (LayerNorm, or RMSNorm for Baichuan)
// with weight w and bias b (either may be empty) to each h-wide row.
func (m *Model) normRows(dst, src []float32, w, b *tensor) {
	h := m.cfg.HiddenSize
	eps := float32(m.cfg.LayerNormEpsilon)
	for i := 0; i < len(src); i += h {
		if m.cfg.Norm == normRMS {
			kernels.RMSNorm(dst[i:i+h], src[i:i+h], w.f, eps)
		} else {
			kernels.LayerNorm(dst[i:i+h], src[i:i+h], w.f, b.f, eps)
		}
	}
}

// Norm kinds (Config.Norm).
const (
	normLayer = "layernorm"
	normRMS   = "rmsnorm"
)

// clampAll clamps every element of x to [-c, c] (MPT clip_qkv, torch.clamp).
func clampAll(x []float32, c float32) {
	for i, v := range x {
		x[i] = min(max(v, -c), c)
	}
}

// trace hands a named intermediate to the trace hook, if any.
func (s *Session) trace(name string, layer, pos int, x []float32) {
	if s.tracer != nil {
		s.tracer(name, layer, pos, x)
	}
}

// addRows adds the bias b to each row of x; an empty b adds nothing.
// Axpy with a = 1 adds exactly as Add does (1·v is exact) but runs the SIMD
// axpy kernel on js/wasm (Add is a Go loop: 4% of a small model's prefill).
func addRows(x, b []float32) {
	if len(b) == 0 {
		return
	}
	for i := 0; i < len(x); i += len(b) {
		kernels.Axpy(x[i:i+len(b)], 1, b)
	}
}
