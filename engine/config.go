package engine

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/c9e48c40/alibi/internal/jsonscan"
)

// Config holds the hyperparameters of a model, read from a Hugging Face
// config.json. Field names follow the HF keys; aliases accepted on input are
// noted per field.
type Config struct {
	// Architecture is the family the engine runs the model as: "bloom",
	// "mpt", "falcon", "jais", "btlm" or "baichuan".
	Architecture string `json:"-"`
	// Architectures and ModelType are the raw HF identification keys.
	Architectures []string `json:"architectures,omitempty"`
	ModelType     string   `json:"model_type,omitempty"`

	VocabSize  int `json:"vocab_size"`  // rows of the embedding matrix
	HiddenSize int `json:"hidden_size"` // also "n_embed"
	NLayer     int `json:"n_layer"`     // also "num_hidden_layers"
	NHead      int `json:"n_head"`      // also "num_attention_heads"

	LayerNormEpsilon float64 `json:"layer_norm_epsilon"`
	// ApplyResidualConnectionPostLayernorm makes each residual branch start
	// from the layernormed input instead of the input (false in public BLOOMs).
	ApplyResidualConnectionPostLayernorm bool `json:"apply_residual_connection_post_layernorm"`
	// TieWordEmbeddings: the output head is the embedding matrix (default true).
	TieWordEmbeddings bool `json:"tie_word_embeddings"`

	BOSTokenID int `json:"bos_token_id"` // -1 when unknown
	EOSTokenID int `json:"eos_token_id"` // -1 when unknown; first entry when a list

	// TrainingContext is the sequence length the model was trained with, from
	// "seq_length", "n_positions" or "max_position_embeddings"; 0 when absent.
	// ALiBi models run beyond it.
	TrainingContext int `json:"seq_length,omitempty"`

	// Family-specific settings, filled by each family's parse function. Zero
	// values mean BLOOM's behaviour.

	// Norm is "layernorm" (default) or "rmsnorm" (Baichuan).
	Norm string `json:"-"`
	// Activation of the MLP: "gelu_tanh" (BLOOM, default), "gelu" (exact erf
	// GELU: MPT, Falcon) or "swiglu" (up ⊙ silu(gate): Jais, BTLM, Baichuan).
	Activation string `json:"-"`
	// Intermediate is the MLP width; 0 means 4·hidden_size.
	Intermediate int `json:"-"`
	// ClipQKV clamps the fused QKV projection to [-ClipQKV, ClipQKV] when > 0 (MPT clip_qkv).
	ClipQKV float64 `json:"-"`
	// QKLayerNorm applies a layernorm over all heads to Q and to K (MPT qk_ln).
	QKLayerNorm bool `json:"-"`
	// AlibiBiasMax is the B of the slopes 2^(-B·h/n) (MPT alibi_bias_max); 0 means 8.
	AlibiBiasMax float64 `json:"-"`
	// AttnScale multiplies q·k; 0 means 1/√d (MPT softmax_scale, muP 1/d).
	AttnScale float64 `json:"-"`
	// EmbeddingScale multiplies the embeddings; 0 means 1 (muP).
	EmbeddingScale float64 `json:"-"`
	// LogitScale multiplies the output logits; 0 means 1 (MPT logit_scale, muP output scale).
	LogitScale float64 `json:"-"`
	// NoBias: the linear layers have no biases (MPT no_bias, Falcon bias=false, Baichuan).
	NoBias bool `json:"-"`
	// NormNoBias: the layernorms have no biases (MPT no_bias).
	NormNoBias bool `json:"-"`
	// AlibiScaling divides the slopes (Jais alibi_scaling linear factor); 0 means none.
	AlibiScaling float64 `json:"-"`
}

// ffWidth returns the MLP hidden width.
func (c *Config) ffWidth() int {
	if c.Intermediate > 0 {
		return c.Intermediate
	}
	return 4 * c.HiddenSize
}

// AlibiSlopes returns the ALiBi slope of each head as the family computes
// them from the config (before any family-specific folding into the
// attention scale; Jais/BTLM checkpoints may store their own, which the
// loaded Model's Slopes report).
func (c *Config) AlibiSlopes() []float32 {
	if c.AlibiBiasMax > 0 && c.AlibiBiasMax != 8 {
		return alibiSlopesMax(c.NHead, c.AlibiBiasMax)
	}
	return AlibiSlopes(c.NHead)
}

// family describes one supported architecture: how to recognise it, read its
// config keys and name its tensors. Each family lives in its own file.
type family struct {
	name          string
	architectures []string // HF "architectures" entries
	modelTypes    []string // HF "model_type" values
	prefixes      []string // stripped from stored tensor names
	// parse fills the family's fields of cfg from the config keys.
	parse func(cfg *Config, r *configReader) error
	// tensors lists every tensor a checkpoint must hold, with expected shapes.
	tensors func(cfg *Config) []tensorSpec
	// optional lists tensors a checkpoint may hold but the engine ignores
	// or uses only under some settings.
	optional func(cfg *Config) []tensorSpec
	// setup, when set, adjusts a new Model after loading: slopes, score
	// scale, key bias (family-specific ALiBi forms).
	setup func(m *Model)
}

var families = []*family{bloomFamily, mptFamily, falconFamily, jaisFamily, btlmFamily, baichuanFamily}

// SupportedArchitectures returns the model families the engine runs.
func SupportedArchitectures() []string {
	var out []string
	for _, f := range families {
		out = append(out, f.name)
	}
	return out
}

func supportedList() string {
	var parts []string
	for _, f := range families {
		parts = append(parts, fmt.Sprintf("%s (%s)", f.name, strings.Join(f.architectures, ", ")))
	}
	return strings.Join(parts, "; ")
}

func familyOf(name string) *family {
	for _, f := range families {
		if f.name == name {
			return f
		}
	}
	return nil
}

// ParseConfig parses and validates a config.json. Errors name the key and
// the bad value and wrap ErrFormat; an unknown architecture wraps
// ErrUnsupported and lists the supported ones.
func ParseConfig(data []byte) (*Config, error) {
	r, err := newConfigReader(data)
	if err != nil {
		return nil, err
	}
	cfg := &Config{BOSTokenID: -1, EOSTokenID: -1}
	if err := r.strings("architectures", &cfg.Architectures); err != nil {
		return nil, err
	}
	if err := r.string("model_type", &cfg.ModelType); err != nil {
		return nil, err
	}
	fam, err := detectFamily(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Architecture = fam.name
	if err := fam.parse(cfg, r); err != nil {
		return nil, err
	}
	// A family's default BOS/EOS id (an id given in the config is checked
	// against vocab_size) that a tiny vocabulary lacks is unknown.
	if cfg.BOSTokenID >= cfg.VocabSize {
		cfg.BOSTokenID = -1
	}
	if cfg.EOSTokenID >= cfg.VocabSize {
		cfg.EOSTokenID = -1
	}
	return cfg, nil
}

func detectFamily(cfg *Config) (*family, error) {
	for _, a := range cfg.Architectures {
		for _, f := range families {
			if slices.Contains(f.architectures, a) {
				return f, nil
			}
		}
	}
	for _, f := range families {
		if slices.Contains(f.modelTypes, cfg.ModelType) {
			return f, nil
		}
	}
	if len(cfg.Architectures) == 0 && cfg.ModelType == "" {
		return nil, fmt.Errorf("engine: config.json: missing \"architectures\" and \"model_type\"; supported: %s: %w", supportedList(), ErrFormat)
	}
	return nil, fmt.Errorf("engine: config.json: architecture %q (model_type %q) is not supported; supported: %s: %w",
		strings.Join(cfg.Architectures, ","), cfg.ModelType, supportedList(), ErrUnsupported)
}

// configReader reads typed values from a config.json object, with aliases.
// A key whose value is null counts as absent. The values are raw JSON text,
// read with jsonscan (no reflection: see internal/jsonscan).
type configReader struct {
	m map[string][]byte
}

// readerOf reads an object's members into a configReader (the last of
// duplicate keys wins, as with encoding/json).
func readerOf(ms []jsonscan.Member) *configReader {
	m := make(map[string][]byte, len(ms))
	for _, x := range ms {
		m[x.Key] = x.Raw
	}
	return &configReader{m: m}
}

func newConfigReader(data []byte) (*configReader, error) {
	v, kind, err := jsonscan.Trim(data)
	se, _ := err.(*jsonscan.SyntaxError) // Trim's errors are not wrapped
	switch {
	case se != nil && se.Trailing:
		return nil, fmt.Errorf("engine: config.json: trailing data after the JSON object: %w", ErrFormat)
	case err != nil:
		return nil, fmt.Errorf("engine: config.json: invalid JSON: %v: %w", err, ErrFormat)
	case kind == jsonscan.KindNull:
		return nil, fmt.Errorf("engine: config.json: not a JSON object: %w", ErrFormat)
	}
	ms, err := jsonscan.Members(v)
	if err != nil {
		return nil, fmt.Errorf("engine: config.json: invalid JSON: %v: %w", err, ErrFormat)
	}
	return readerOf(ms), nil
}

// lookup returns the first key present (not null) among keys, checking that
// all aliases present agree.
func (r *configReader) lookup(keys ...string) (key string, raw []byte, err error) {
	for _, k := range keys {
		v, ok := r.m[k]
		if !ok || string(v) == "null" {
			continue
		}
		if raw == nil {
			key, raw = k, v
			continue
		}
		if !jsonEqual(raw, v) {
			return "", nil, fmt.Errorf("engine: config.json: %q = %s but %q = %s: %w", key, raw, k, v, ErrFormat)
		}
	}
	return key, raw, nil
}

func jsonEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	x, errX := jsonscan.Decode(a)
	y, errY := jsonscan.Decode(b)
	return errX == nil && errY == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

func badValue(key string, raw []byte, want string) error {
	s := string(raw)
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Errorf("engine: config.json: %q = %s: want %s: %w", key, s, want, ErrFormat)
}

func missing(keys []string) error {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return fmt.Errorf("engine: config.json: missing %s: %w", strings.Join(q, " (or "), ErrFormat)
}

// int reads an integer in [lo, hi] under one of keys into dst. When absent,
// dst keeps its value unless required.
func (r *configReader) int(dst *int, required bool, lo, hi int, keys ...string) error {
	key, raw, err := r.lookup(keys...)
	if err != nil {
		return err
	}
	if raw == nil {
		if required {
			return missing(keys)
		}
		return nil
	}
	f, err := jsonscan.Float(raw)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return badValue(key, raw, fmt.Sprintf("an integer in [%d, %d]", lo, hi))
	}
	*dst = int(f)
	return nil
}

// tokenID reads a token id that may be given as an integer or a list of
// integers (the first one is used).
func (r *configReader) tokenID(dst *int, vocab int, key string) error {
	_, raw, _ := r.lookup(key)
	if raw == nil {
		return nil
	}
	// Only an array is tried as a list: asked of a number, Elements would
	// build an error with fmt, start-up work in a browser tab.
	if jsonscan.KindOf(raw) == jsonscan.KindArray {
		if els, err := jsonscan.Elements(raw); err == nil && numberList(els) {
			if len(els) == 0 {
				return nil
			}
			raw = els[0]
			if jsonscan.KindOf(raw) == jsonscan.KindNull {
				raw = []byte("0") // as encoding/json reads null into a []float64
			}
		}
	}
	tmp := configReader{m: map[string][]byte{key: raw}}
	return tmp.int(dst, false, 0, vocab-1, key)
}

// numberList reports whether els is what encoding/json reads into a
// []float64: numbers in range, or nulls.
func numberList(els [][]byte) bool {
	for _, e := range els {
		if jsonscan.KindOf(e) == jsonscan.KindNull {
			continue
		}
		if _, err := jsonscan.Float(e); err != nil {
			return false
		}
	}
	return true
}

// float reads a finite number in (lo, hi].
func (r *configReader) float(dst *float64, lo, hi float64, keys ...string) error {
	key, raw, err := r.lookup(keys...)
	if err != nil || raw == nil {
		return err
	}
	f, err := jsonscan.Float(raw)
	if err != nil || !(f > lo && f <= hi) {
		return badValue(key, raw, fmt.Sprintf("a number in (%g, %g]", lo, hi))
	}
	*dst = f
	return nil
}

func (r *configReader) bool(dst *bool, keys ...string) error {
	key, raw, err := r.lookup(keys...)
	if err != nil || raw == nil {
		return err
	}
	b, err := jsonscan.Bool(raw)
	if err != nil {
		return badValue(key, raw, "true or false")
	}
	*dst = b
	return nil
}

func (r *configReader) string(key string, dst *string) error {
	_, raw, _ := r.lookup(key)
	if raw == nil {
		return nil
	}
	str, err := jsonscan.String(raw)
	if err != nil {
		return badValue(key, raw, "a string")
	}
	*dst = str
	return nil
}

func (r *configReader) strings(key string, dst *[]string) error {
	_, raw, _ := r.lookup(key)
	if raw == nil {
		return nil
	}
	els, err := jsonscan.Elements(raw)
	if err != nil {
		return badValue(key, raw, "a list of strings")
	}
	list := make([]string, len(els))
	for i, e := range els {
		if jsonscan.KindOf(e) == jsonscan.KindNull {
			continue // "" as encoding/json reads it
		}
		if list[i], err = jsonscan.String(e); err != nil {
			return badValue(key, raw, "a list of strings")
		}
	}
	*dst = list
	return nil
}
