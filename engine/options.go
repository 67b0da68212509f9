package engine

import "fmt"

// Quant selects how weight matrices are stored.
type Quant string

const (
	// QuantNone keeps f32 weights (F16/BF16 checkpoints are widened).
	QuantNone Quant = "none"
	// QuantInt8 stores weight matrices as int8 with one f32 scale per block
	// of 32 weights of a row (per row when 32 does not divide the row).
	QuantInt8 Quant = "int8"
)

// DefaultContextLength is the KV cache length when neither the options nor
// the config give one.
const DefaultContextLength = 2048

// MaxContextLength bounds LoadOptions.ContextLength.
const MaxContextLength = 1 << 20

// LoadOptions configure a Loader.
type LoadOptions struct {
	// Quant: "" or "none" for f32, "int8" for int8 weight matrices.
	Quant Quant
	// ContextLength is the KV cache length of every session (tokens). 0 means
	// the larger of the config's training length and DefaultContextLength:
	// ALiBi models run beyond their training length.
	ContextLength int
	// MemoryLimit, when > 0, makes NewLoader fail with ErrMemory if
	// EstimateMemory exceeds it. Without it the limit is 256 GiB natively;
	// on js/wasm 4 GiB (the 32-bit address space) always applies.
	MemoryLimit int64
}

// resolve validates opts against cfg and fills in defaults.
func (o LoadOptions) resolve(cfg *Config) (LoadOptions, error) {
	switch o.Quant {
	case "", QuantNone:
		o.Quant = QuantNone
	case QuantInt8:
	default:
		return o, fmt.Errorf("engine: quantization %q is not supported; use %q or %q: %w", o.Quant, QuantNone, QuantInt8, ErrUnsupported)
	}
	switch {
	case o.ContextLength < 0 || o.ContextLength > MaxContextLength:
		return o, fmt.Errorf("engine: context length %d is out of range [0, %d]: %w", o.ContextLength, MaxContextLength, ErrContext)
	case o.ContextLength == 0:
		// ALiBi extrapolates past the training length ("train short, test
		// long"), so a model trained on short windows still gets a useful
		// default context.
		o.ContextLength = min(max(cfg.TrainingContext, DefaultContextLength), MaxContextLength)
	}
	return o, nil
}

// chunkRows is how many prompt positions a prefill processes at once: it
// bounds the scratch memory of a session.
const chunkRows = 64

// attnBlock is the number of keys scored at once by the online softmax.
// A decode step's keys and values stream from memory (bloom-560m's cache is
// 68 MB at 350 positions), so one head's keys are better scored in one
// long pass than in blocks of 64 (each a new short stream, three kernel
// calls and a rescale): attention per token 6.6 -> 5.4 ms there.
const attnBlock = 1024

// scoresLen is the length of a session's score block.
func scoresLen(ctxLen int) int { return min(attnBlock, ctxLen) }

// attendParts is how many kernel threads can share a decode step's
// attention (kernels.AttendHeads): each scores into its own block.
const attendParts = 4

// EstimateMemory returns the bytes a model with cfg needs when loaded with
// opts: weights, one session's KV cache and scratch, and the loader's
// staging. Call it before downloading anything.
func EstimateMemory(cfg *Config, opts LoadOptions) int64 {
	fam := familyOf(cfg.Architecture)
	if fam == nil {
		return 0
	}
	o, err := opts.resolve(cfg)
	if err != nil {
		o = LoadOptions{Quant: QuantNone, ContextLength: DefaultContextLength}
	}
	n := weightBytes(fam, cfg, o.Quant) + sessionBytes(cfg, o.ContextLength) + loaderBytes(cfg)
	if o.Quant == QuantInt8 {
		n += transposeStaging(fam, cfg) // Conv1D weights quantized after a transpose (Jais, BTLM)
	}
	return n
}

// parameterCount returns the parameters of a checkpoint with cfg (a tied
// head counted once).
func parameterCount(fam *family, cfg *Config) int64 {
	var n int64
	for _, sp := range fam.tensors(cfg) {
		n += sp.elements()
	}
	return n
}

func weightBytes(fam *family, cfg *Config, q Quant) int64 {
	var n int64
	specs := fam.tensors(cfg)
	for i := range specs {
		n += tensorBytes(&specs[i], q == QuantInt8)
	}
	return n
}

// sessionBytes is the memory of one session: KV cache, chunk scratch, logits.
func sessionBytes(cfg *Config, ctxLen int) int64 {
	h, L, v := int64(cfg.HiddenSize), int64(cfg.NLayer), int64(cfg.VocabSize)
	kv := 2 * L * int64(ctxLen) * h * 4
	rows := int64(min(chunkRows, ctxLen))
	ff := int64(cfg.ffWidth())
	if cfg.Activation == actSwiGLU {
		ff *= 2 // the gate branch
	}
	scratch := rows * (h + h + 3*h + h + ff + h) * 4 // chunk activations
	return kv + scratch + v*4 + int64(attendParts*scoresLen(ctxLen))*4 + int64(ctxLen)*8
}

// loaderBytes is the loader's staging: a conversion buffer and one row per
// matrix being quantized (a few in flight).
func loaderBytes(cfg *Config) int64 {
	return convElems*4 + 4*4*int64(cfg.HiddenSize)*4
}
