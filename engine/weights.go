package engine

import (
	"github.com/c9e48c40/alibi/engine/kernels"
)

// role is what a checkpoint tensor is to the engine.
type role int

const (
	roleSkip      role = iota // validated, then ignored (e.g. a tied lm_head copy)
	roleEmbed                 // token embeddings (V, h); also the tied output head
	roleEmbNormW              // layernorm after the embeddings (h)
	roleEmbNormB              //
	roleAttnNormW             // layernorm before attention (h)
	roleAttnNormB             //
	roleQKV                   // fused query/key/value projection (3h, h)
	roleQKVB                  // (3h)
	roleAttnOut               // attention output projection (h, h)
	roleAttnOutB              // (h)
	roleMLPNormW              // layernorm before the MLP (h)
	roleMLPNormB              //
	roleUp                    // MLP up projection (4h, h)
	roleUpB                   // (4h)
	roleDown                  // MLP down projection (h, 4h)
	roleDownB                 // (h)
	roleOutNormW              // final layernorm (h)
	roleOutNormB              //
	roleHead                  // untied output head (V, h)
	roleGate                  // SwiGLU gate projection (ff, h): silu(x·Wgateᵀ)
	roleGateB                 // (ff)
	roleQNormW                // layernorm over all query heads (h) (MPT qk_ln)
	roleQNormB                //
	roleKNormW                // layernorm over all key heads (h)
	roleKNormB                //
	roleSlopes                // ALiBi slopes stored in the checkpoint (H) (Jais, BTLM)
)

// layout says how a checkpoint tensor's rows map to the engine's layout.
type layout int

const (
	layoutPlain layout = iota
	// layoutHeadsQKV: stored rows are [H][Q,K,V][d] (BLOOM, Falcon-RW); the
	// engine stores [Q | K | V], each (H, d). Applies to weights and biases.
	layoutHeadsQKV
	// layoutTransposed: a GPT-2 Conv1D weight stored (in, out); the engine
	// stores (out, in) like every other matrix (Jais, BTLM).
	layoutTransposed
)

// tensorSpec is one entry of an architecture table.
type tensorSpec struct {
	name   string // stored name without prefix, e.g. "h.0.mlp.dense_h_to_4h.weight"
	role   role
	layer  int   // block index, -1 for model-wide tensors
	shape  []int // expected shape as stored
	layout layout
	// anyShape: a roleSkip tensor of any dtype and shape (GPT-2's causal-mask
	// buffers in Jais/BTLM checkpoints).
	anyShape bool
}

func (sp *tensorSpec) elements() int64 {
	n := int64(1)
	for _, d := range sp.shape {
		n *= int64(d)
	}
	return n
}

// matrix reports whether the tensor is a 2-D weight matrix (quantizable);
// Jais' (H, 1) slopes are a vector.
func (sp *tensorSpec) matrix() bool { return len(sp.shape) == 2 && sp.role != roleSlopes }

// tensor is a weight in its final layout: a row-major (rows, cols) matrix,
// or a vector (rows = 1), in f32 or int8 with block scales.
type tensor struct {
	rows, cols int
	f          []float32 // (rows, cols) f32 values; nil when quantized
	q          []int8    // (rows, cols) int8 values when quantized
	s          []float32 // (rows·cols / Q8BlockSize(cols)) scales when quantized
}

// mul computes dst = x·tᵀ for x (n, cols) and dst (n, rows).
func (t *tensor) mul(dst, x []float32, n int) {
	switch {
	case t.q != nil && n == 1:
		kernels.MatVecQ8(dst, t.q, t.s, x)
	case t.q != nil:
		kernels.MatMulQ8(dst, x, t.q, t.s, n)
	case n == 1:
		kernels.MatVec(dst, t.f, x)
	default:
		kernels.MatMul(dst, x, t.f, n)
	}
}

// row writes row r of t, dequantized if needed, to dst (cols).
func (t *tensor) row(dst []float32, r int) {
	c := t.cols
	if t.q == nil {
		copy(dst, t.f[r*c:(r+1)*c])
		return
	}
	block := kernels.Q8BlockSize(c)
	q := t.q[r*c : (r+1)*c]
	s := t.s[r*c/block : (r+1)*c/block]
	for i, v := range q {
		dst[i] = float32(v) * s[i/block]
	}
}

// bytes returns the memory the tensor holds.
func (t *tensor) bytes() int64 {
	return int64(len(t.f))*4 + int64(len(t.q)) + int64(len(t.s))*4
}

// engineShape returns the (rows, cols) of the tensor in the engine: the
// stored shape, transposed for Conv1D weights; vectors are one row.
func (sp *tensorSpec) engineShape() (rows, cols int) {
	if !sp.matrix() {
		return 1, int(sp.elements())
	}
	if sp.layout == layoutTransposed {
		return sp.shape[1], sp.shape[0]
	}
	return sp.shape[0], sp.shape[1]
}

// tensorBytes returns the memory a tensor of the spec takes in the engine.
func tensorBytes(sp *tensorSpec, quant bool) int64 {
	n := sp.elements()
	if quant && sp.matrix() {
		_, cols := sp.engineShape()
		return n + 4*n/int64(kernels.Q8BlockSize(cols))
	}
	return 4 * n
}

// layer holds one transformer block's weights.
type layer struct {
	attnNormW, attnNormB tensor // (h) input_layernorm
	qkv                  tensor // (3h, h) rows [Q | K | V], each head-major (H, d)
	qkvB                 tensor // (3h) same order
	attnOut              tensor // (h, h) self_attention.dense
	attnOutB             tensor // (h)
	mlpNormW, mlpNormB   tensor // (h) post_attention_layernorm
	up                   tensor // (ff, h) mlp.dense_h_to_4h; SwiGLU's linear branch
	upB                  tensor // (ff)
	gate                 tensor // (ff, h) SwiGLU's gated branch; empty otherwise
	gateB                tensor // (ff)
	down                 tensor // (h, ff) mlp.dense_4h_to_h
	downB                tensor // (h)
	qNormW, qNormB       tensor // (h) MPT qk_ln q_ln; empty otherwise
	kNormW, kNormB       tensor // (h) MPT qk_ln k_ln
}

// weights holds the whole model in its final layout.
type weights struct {
	embed              tensor // (V, h) word_embeddings; the output head when tied
	embNormW, embNormB tensor // (h) word_embeddings_layernorm
	layers             []layer
	outNormW, outNormB tensor // (h) ln_f
	head               tensor // (V, h) untied lm_head; empty when tied
	slopes             tensor // (H) ALiBi slopes from the checkpoint; empty when computed
}

// slot returns where the tensor of a spec lives, or nil for roleSkip.
func (w *weights) slot(sp *tensorSpec) *tensor {
	var l *layer
	if sp.layer >= 0 {
		l = &w.layers[sp.layer]
	}
	switch sp.role {
	case roleEmbed:
		return &w.embed
	case roleEmbNormW:
		return &w.embNormW
	case roleEmbNormB:
		return &w.embNormB
	case roleOutNormW:
		return &w.outNormW
	case roleOutNormB:
		return &w.outNormB
	case roleHead:
		return &w.head
	case roleAttnNormW:
		return &l.attnNormW
	case roleAttnNormB:
		return &l.attnNormB
	case roleQKV:
		return &l.qkv
	case roleQKVB:
		return &l.qkvB
	case roleAttnOut:
		return &l.attnOut
	case roleAttnOutB:
		return &l.attnOutB
	case roleMLPNormW:
		return &l.mlpNormW
	case roleMLPNormB:
		return &l.mlpNormB
	case roleUp:
		return &l.up
	case roleUpB:
		return &l.upB
	case roleDown:
		return &l.down
	case roleDownB:
		return &l.downB
	case roleGate:
		return &l.gate
	case roleGateB:
		return &l.gateB
	case roleQNormW:
		return &l.qNormW
	case roleQNormB:
		return &l.qNormB
	case roleKNormW:
		return &l.kNormW
	case roleKNormB:
		return &l.kNormB
	case roleSlopes:
		return &w.slopes
	}
	return nil
}

// Model is a loaded model, ready for sessions. It is immutable and safe for
// concurrent use by several sessions.
type Model struct {
	cfg    Config
	fam    *family
	quant  Quant
	ctxLen int       // KV cache length of each session
	w      weights   //
	slopes []float32 // (H) ALiBi slope per head, as the family applies it (after the score scale)
	// attnScale multiplies q·k before the ALiBi bias is added: 1/√d for
	// BLOOM. A family that scales differently (muP's 1/d, or Falcon-RW's
	// bias inside the scale) sets it, and folds any bias scaling into slopes.
	attnScale float32
	// keyBias, when set, replaces the relative ALiBi bias: the score of key
	// position j in head h gets keyBias(h, j) added after the scale
	// (Falcon-RW's bf16 key-position bias, falcon.go).
	keyBias func(h, j int) float32
	// embScale and logitScale multiply the embeddings and the logits (1
	// unless the family scales them: muP, MPT logit_scale).
	embScale, logitScale float32
	params               int64   // parameters of the checkpoint (tied head counted once)
	wBytes               int64   // bytes of weights in memory
	outHead              *tensor // (V, h) the output head: &w.embed or w.head
}

// Info describes a loaded model.
type Info struct {
	Architecture    string `json:"architecture"`
	Parameters      int64  `json:"parameters"`
	ContextLength   int    `json:"contextLength"`
	TrainingContext int    `json:"trainingContext"`
	Layers          int    `json:"layers"`
	Heads           int    `json:"heads"`
	Hidden          int    `json:"hidden"`
	Vocab           int    `json:"vocab"`
	Quant           Quant  `json:"quant"`
	WeightBytes     int64  `json:"weightBytes"`
	BOS             int    `json:"bos"`
	EOS             int    `json:"eos"`
}

// Info returns a description of the model.
func (m *Model) Info() Info {
	return Info{
		Architecture:    m.cfg.Architecture,
		Parameters:      m.params,
		ContextLength:   m.ctxLen,
		TrainingContext: m.cfg.TrainingContext,
		Layers:          m.cfg.NLayer,
		Heads:           m.cfg.NHead,
		Hidden:          m.cfg.HiddenSize,
		Vocab:           m.cfg.VocabSize,
		Quant:           m.quant,
		WeightBytes:     m.wBytes,
		BOS:             m.cfg.BOSTokenID,
		EOS:             m.cfg.EOSTokenID,
	}
}

// Config returns a copy of the model's configuration.
func (m *Model) Config() *Config {
	c := m.cfg
	c.Architectures = append([]string(nil), m.cfg.Architectures...)
	return &c
}

// Slopes returns the ALiBi slope of each head as the forward pass uses them.
func (m *Model) Slopes() []float32 { return append([]float32(nil), m.slopes...) }
