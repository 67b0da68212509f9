package engine

import (
	"context"
	"fmt"
)

// Session is one sequence being processed: the KV cache of every layer,
// preallocated for the model's context length, and all scratch buffers.
// A Session is not safe for concurrent use; use one per goroutine.
type Session struct {
	m      *Model
	ctxLen int   // KV cache capacity in tokens
	n      int   // tokens in the cache
	tokens []int // (ctxLen) ids in the cache, tokens[:n] valid

	// KV cache per layer, each (H, ctxLen, d): one contiguous run of keys
	// (values) per head, so attention streams through memory.
	k, v [][]float32

	// Scratch for a chunk of up to rows positions.
	rows   int
	x      []float32 // (rows, h) residual stream
	xn     []float32 // (rows, h) layernormed stream
	qkv    []float32 // (rows, 3h) [Q | K | V], each head-major
	att    []float32 // (rows, h) attention output, heads merged
	ff     []float32 // (rows, ff) MLP hidden (ff = Config.ffWidth)
	ffGate []float32 // (rows, ff) SwiGLU gate; nil for other activations
	proj   []float32 // (rows, h) projection output
	scores []float32 // (attendParts*scoresLen) score blocks: attendHead uses the first

	logits      []float32 // (V) logits of the last position
	logitsValid bool      // logits hold the last position's logits
	one         [1]int    // Step's id, without allocating
	sampler     *Sampler  // Generate's, kept for its buffers

	tracer func(name string, layer, pos int, x []float32)

	hook      func(layer int, probs [][]float32)
	hookLayer int
	hookBuf   []float32   // (H, ctxLen)
	hookProbs [][]float32 // (H) slices of hookBuf, resliced to Len()
}

// NewSession returns a session with its KV cache and scratch allocated.
func (m *Model) NewSession() *Session {
	c := &m.cfg
	h, H := c.HiddenSize, c.NHead
	rows := min(chunkRows, m.ctxLen)
	s := &Session{
		m:      m,
		ctxLen: m.ctxLen,
		tokens: make([]int, m.ctxLen),
		k:      make([][]float32, c.NLayer),
		v:      make([][]float32, c.NLayer),
		rows:   rows,
		x:      make([]float32, rows*h),
		xn:     make([]float32, rows*h),
		qkv:    make([]float32, rows*3*h),
		att:    make([]float32, rows*h),
		ff:     make([]float32, rows*c.ffWidth()),
		proj:   make([]float32, rows*h),
		scores: make([]float32, attendParts*scoresLen(m.ctxLen)),
		logits: make([]float32, c.VocabSize),
	}
	if c.Activation == actSwiGLU {
		s.ffGate = make([]float32, rows*c.ffWidth())
	}
	for i := range s.k {
		s.k[i] = make([]float32, H*m.ctxLen*(h/H))
		s.v[i] = make([]float32, H*m.ctxLen*(h/H))
	}
	return s
}

// Len returns the number of tokens in the context.
func (s *Session) Len() int { return s.n }

// Tokens returns a copy of the ids in the context.
func (s *Session) Tokens() []int { return append([]int(nil), s.tokens[:s.n]...) }

// Reset empties the context (the KV cache is kept allocated).
func (s *Session) Reset() {
	s.n = 0
	s.logitsValid = false
}

// SetAttentionHook makes the session call fn after each Step and after the
// last position of each Prefill with the attention probabilities of the
// last query in the given layer: probs[head][key], heads × Len(). probs is
// only valid during the call. fn == nil turns the hook off; off, it costs
// nothing.
func (s *Session) SetAttentionHook(layer int, fn func(layer int, probs [][]float32)) {
	if fn == nil || layer < 0 || layer >= s.m.cfg.NLayer {
		s.hook, s.hookBuf, s.hookProbs = nil, nil, nil
		return
	}
	H := s.m.cfg.NHead
	s.hook, s.hookLayer = fn, layer
	s.hookBuf = make([]float32, H*s.ctxLen)
	s.hookProbs = make([][]float32, H)
}

// SetTraceHook makes the session call fn with the named intermediate values
// of every forward pass, to bisect numerics against a reference (llama.cpp's
// named tensors). x holds consecutive rows starting at position pos, each
// as wide as the value; it is only valid during the call. In order, per
// chunk of positions:
//
//	"embed_norm" (h)              layer -1
//	"attn_norm" (h), "qkv" (3h, engine order [Q | K | V]), "attn" (h),
//	"attn_res" (h), "ffn_norm" (h), "ffn_act" (4h), "block_out" (h)   per layer
//	"out_norm" (h)                layer -1, the rows whose logits are computed
//
// fn == nil turns tracing off. Tracing does not allocate.
func (s *Session) SetTraceHook(fn func(name string, layer, pos int, x []float32)) {
	s.tracer = fn
}

// checkIDs validates token ids and the context room for them.
func (s *Session) checkIDs(ids []int, what string) error {
	if len(ids) == 0 {
		return fmt.Errorf("engine: empty %s", what)
	}
	if s.n+len(ids) > s.ctxLen {
		if what == "token" {
			return fmt.Errorf("engine: 1 new token + %d already in context exceeds context length %d: %w",
				s.n, s.ctxLen, ErrContext)
		}
		return fmt.Errorf("engine: %s of %d tokens + %d already in context exceeds context length %d: %w",
			what, len(ids), s.n, s.ctxLen, ErrContext)
	}
	v := s.m.cfg.VocabSize
	for i, id := range ids {
		if id < 0 || id >= v {
			return fmt.Errorf("engine: %s: token %d at index %d is out of range [0, %d)", what, id, i, v)
		}
	}
	return nil
}

// Prefill runs the ids through the model as a batch after what is already in
// the context and returns the logits of the last position. The slice is
// owned by the session and valid until its next call. A prompt that does not
// fit returns an ErrContext error and leaves the context unchanged.
func (s *Session) Prefill(ctx context.Context, ids []int) ([]float32, error) {
	if err := s.checkIDs(ids, "prompt"); err != nil {
		return nil, err
	}
	if err := s.forward(ctx, ids, nil); err != nil {
		return nil, err
	}
	return s.logits, nil
}

// PrefillAll is Prefill returning the logits of every position (copies).
func (s *Session) PrefillAll(ctx context.Context, ids []int) ([][]float32, error) {
	if err := s.checkIDs(ids, "prompt"); err != nil {
		return nil, err
	}
	v := s.m.cfg.VocabSize
	flat := make([]float32, len(ids)*v)
	if err := s.forward(ctx, ids, flat); err != nil {
		return nil, err
	}
	out := make([][]float32, len(ids))
	for i := range out {
		out[i] = flat[i*v : (i+1)*v : (i+1)*v]
	}
	return out, nil
}

// Step runs one token and returns the logits of its position (owned by the
// session, valid until its next call). It allocates nothing.
func (s *Session) Step(ctx context.Context, id int) ([]float32, error) {
	s.one[0] = id
	if err := s.checkIDs(s.one[:], "token"); err != nil {
		return nil, err
	}
	if err := s.forward(ctx, s.one[:], nil); err != nil {
		return nil, err
	}
	return s.logits, nil
}

// GenerateOptions configure Generate.
type GenerateOptions struct {
	SampleOptions
	// MaxTokens is the most tokens to generate; ≤ 0 means until the context is full.
	MaxTokens int
	// StopIDs end generation when sampled (they are not yielded).
	StopIDs []int
}

// Generate continues the context with prompt and calls yield with each new
// token id until MaxTokens, a stop id (not yielded), cancellation of ctx
// (returns ctx.Err()), or yield returning an error (returned as is).
//
// The KV cache is reused as far as it agrees with prompt: a prompt that
// extends the context (for instance the previous prompt and its generated
// tokens) prefills only the new tokens; one that diverges rewinds the
// context to the common prefix first. An empty prompt continues from the
// context as it is. With MaxTokens > 0, running out of context is an
// ErrContext error; with MaxTokens ≤ 0 generation stops there.
func (s *Session) Generate(ctx context.Context, prompt []int, opts GenerateOptions, yield func(id int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(prompt) > 0 {
		common := 0
		for common < min(len(prompt), s.n) && prompt[common] == s.tokens[common] {
			common++
		}
		if common == len(prompt) && (common < s.n || !s.logitsValid) {
			common-- // the last prompt token must run again for its logits
		}
		if common < s.n {
			s.n, s.logitsValid = common, false // rewind: the cache before common stays valid
		}
		if rest := prompt[common:]; len(rest) > 0 {
			if _, err := s.Prefill(ctx, rest); err != nil {
				return err
			}
		}
	}
	if !s.logitsValid {
		return fmt.Errorf("engine: generate: empty prompt and no logits in the context")
	}
	logits := s.logits
	if s.sampler == nil {
		s.sampler = NewSampler(opts.SampleOptions)
	} else {
		s.sampler.reset(opts.SampleOptions)
	}
	sp := s.sampler
	for i := 0; opts.MaxTokens <= 0 || i < opts.MaxTokens; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := sp.Sample(logits, s.tokens[:s.n])
		for _, stop := range opts.StopIDs {
			if id == stop {
				return nil
			}
		}
		if err := yield(id); err != nil {
			return err
		}
		if opts.MaxTokens > 0 && i == opts.MaxTokens-1 {
			return nil // the last token is not run: no need, and no context needed
		}
		if opts.MaxTokens <= 0 && s.n == s.ctxLen {
			return nil
		}
		if _, err := s.Step(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
