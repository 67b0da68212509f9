package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/c9e48c40/alibi/engine/safetensors"
)

// tinyBloom is a small random BLOOM checkpoint built in memory, in the real
// HF layout (fused QKV interleaved per head), for tests.
type tinyBloom struct {
	cfg     *Config
	cfgJSON []byte
	names   []string             // stored order
	shapes  map[string][]int     //
	values  map[string][]float32 // HF layout, rounded to dtype
	dtype   safetensors.DType
}

type tinyOpts struct {
	hidden, heads, layers, vocab int
	dtype                        safetensors.DType
	postLN                       bool
	seed                         uint64
	extraConfig                  map[string]any
}

func (o tinyOpts) withDefaults() tinyOpts {
	if o.hidden == 0 {
		o.hidden = 16
	}
	if o.heads == 0 {
		o.heads = 4
	}
	if o.layers == 0 {
		o.layers = 2
	}
	if o.vocab == 0 {
		o.vocab = 50
	}
	if o.dtype == "" {
		o.dtype = safetensors.F32
	}
	return o
}

func configJSON(o tinyOpts) []byte {
	m := map[string]any{
		"architectures":      []string{"BloomForCausalLM"},
		"model_type":         "bloom",
		"vocab_size":         o.vocab,
		"hidden_size":        o.hidden,
		"n_layer":            o.layers,
		"n_head":             o.heads,
		"layer_norm_epsilon": 1e-5,
		"apply_residual_connection_post_layernorm": o.postLN,
		"bos_token_id": 1,
		"eos_token_id": 2,
	}
	for k, v := range o.extraConfig {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// roundTo rounds v to what dtype dt stores.
func roundTo(v []float32, dt safetensors.DType) []float32 {
	b, err := safetensors.EncodeFloat32(v, dt)
	if err != nil {
		panic(err)
	}
	out := make([]float32, len(v))
	if err := safetensors.DecodeFloat32(out, b, dt); err != nil {
		panic(err)
	}
	return out
}

func newTinyBloom(t testing.TB, o tinyOpts) *tinyBloom {
	t.Helper()
	o = o.withDefaults()
	js := configJSON(o)
	cfg, err := ParseConfig(js)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(o.seed, 7))
	tb := &tinyBloom{cfg: cfg, cfgJSON: js, shapes: map[string][]int{}, values: map[string][]float32{}, dtype: o.dtype}
	for _, sp := range bloomTensors(cfg) {
		n := int(sp.elements())
		v := make([]float32, n)
		switch {
		case sp.role == roleEmbed:
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
		case len(sp.shape) == 2:
			sd := 1 / math.Sqrt(float64(sp.shape[1]))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * sd)
			}
		case sp.role == roleEmbNormW || sp.role == roleAttnNormW || sp.role == roleMLPNormW || sp.role == roleOutNormW:
			for i := range v {
				v[i] = float32(1 + 0.2*rng.NormFloat64())
			}
		default: // biases
			for i := range v {
				v[i] = float32(0.2 * rng.NormFloat64())
			}
		}
		tb.names = append(tb.names, sp.name)
		tb.shapes[sp.name] = sp.shape
		tb.values[sp.name] = roundTo(v, o.dtype)
	}
	return tb
}

// tensors returns the checkpoint's tensors with an optional name prefix.
func (tb *tinyBloom) tensors(prefix string) []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, name := range tb.names {
		data, err := safetensors.EncodeFloat32(tb.values[name], tb.dtype)
		if err != nil {
			panic(err)
		}
		ts = append(ts, safetensors.Tensor{Name: prefix + name, DType: tb.dtype, Shape: tb.shapes[name], Data: data})
	}
	return ts
}

// file returns a model.safetensors with all tensors.
func (tb *tinyBloom) file(prefix string) []byte {
	return writeST(tb.tensors(prefix), map[string]string{"format": "pt"})
}

func writeST(ts []safetensors.Tensor, md map[string]string) []byte {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, md); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// loadBytes loads one safetensors file written in pieces of size split
// (0 = all at once).
func loadBytes(cfg *Config, opts LoadOptions, data []byte, split int) (*Model, error) {
	l, err := NewLoader(cfg, opts)
	if err != nil {
		return nil, err
	}
	w, err := l.OpenFile("model.safetensors")
	if err != nil {
		return nil, err
	}
	if split <= 0 {
		split = len(data) + 1
	}
	for i := 0; i < len(data); i += split {
		if _, err := w.Write(data[i:min(i+split, len(data))]); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return l.Finish()
}

func (tb *tinyBloom) load(t testing.TB, opts LoadOptions) *Model {
	t.Helper()
	m, err := loadBytes(tb.cfg, opts, tb.file(""), 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refForward is an independent float64 BLOOM forward written from
// modeling_bloom.py: the fused QKV is split per head as [H][3][d], the
// ALiBi bias is +slope·pos_k (BLOOM's form; softmax-equivalent to the
// engine's −slope·(i−j)) and the softmax forms the full causal matrix.
// It returns the logits of every position.
func (tb *tinyBloom) refForward(ids []int) [][]float64 {
	c := tb.cfg
	h, H, V := c.HiddenSize, c.NHead, c.VocabSize
	d := h / H
	n := len(ids)
	get := func(name string) []float64 {
		v := tb.values[name]
		out := make([]float64, len(v))
		for i, f := range v {
			out[i] = float64(f)
		}
		return out
	}
	ln := func(x, w, b []float64) []float64 {
		var mean, vr float64
		for _, v := range x {
			mean += v
		}
		mean /= float64(len(x))
		for _, v := range x {
			vr += (v - mean) * (v - mean)
		}
		vr /= float64(len(x))
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = (v-mean)/math.Sqrt(vr+c.LayerNormEpsilon)*w[i] + b[i]
		}
		return out
	}
	linear := func(x, w, b []float64, out int) []float64 {
		in := len(x)
		y := make([]float64, out)
		for r := 0; r < out; r++ {
			s := 0.0
			if b != nil {
				s = b[r]
			}
			for k := 0; k < in; k++ {
				s += w[r*in+k] * x[k]
			}
			y[r] = s
		}
		return y
	}
	slopes := refSlopes(H)
	emb := get("word_embeddings.weight")
	x := make([][]float64, n)
	for i, id := range ids {
		x[i] = ln(emb[id*h:(id+1)*h], get("word_embeddings_layernorm.weight"), get("word_embeddings_layernorm.bias"))
	}
	for li := 0; li < c.NLayer; li++ {
		p := fmt.Sprintf("h.%d.", li)
		q := make([][]float64, n)
		k := make([][]float64, n)
		v := make([][]float64, n)
		a := make([][]float64, n)
		for i := range x {
			a[i] = ln(x[i], get(p+"input_layernorm.weight"), get(p+"input_layernorm.bias"))
			fused := linear(a[i], get(p+"self_attention.query_key_value.weight"), get(p+"self_attention.query_key_value.bias"), 3*h)
			q[i], k[i], v[i] = make([]float64, h), make([]float64, h), make([]float64, h)
			for hh := 0; hh < H; hh++ {
				for j := 0; j < d; j++ {
					q[i][hh*d+j] = fused[hh*3*d+j]
					k[i][hh*d+j] = fused[hh*3*d+d+j]
					v[i][hh*d+j] = fused[hh*3*d+2*d+j]
				}
			}
		}
		for i := range x {
			ctx := make([]float64, h)
			for hh := 0; hh < H; hh++ {
				scores := make([]float64, i+1)
				mx := math.Inf(-1)
				for j := 0; j <= i; j++ {
					s := 0.0
					for e := 0; e < d; e++ {
						s += q[i][hh*d+e] * k[j][hh*d+e]
					}
					scores[j] = s/math.Sqrt(float64(d)) + slopes[hh]*float64(j)
					mx = math.Max(mx, scores[j])
				}
				sum := 0.0
				for j := range scores {
					scores[j] = math.Exp(scores[j] - mx)
					sum += scores[j]
				}
				for j := range scores {
					for e := 0; e < d; e++ {
						ctx[hh*d+e] += scores[j] / sum * v[j][hh*d+e]
					}
				}
			}
			o := linear(ctx, get(p+"self_attention.dense.weight"), get(p+"self_attention.dense.bias"), h)
			res := x[i]
			if c.ApplyResidualConnectionPostLayernorm {
				res = a[i]
			}
			for e := range o {
				o[e] += res[e]
			}
			m := ln(o, get(p+"post_attention_layernorm.weight"), get(p+"post_attention_layernorm.bias"))
			up := linear(m, get(p+"mlp.dense_h_to_4h.weight"), get(p+"mlp.dense_h_to_4h.bias"), 4*h)
			for e, u := range up {
				up[e] = 0.5 * u * (1 + math.Tanh(0.79788456*u*(1+0.044715*u*u)))
			}
			down := linear(up, get(p+"mlp.dense_4h_to_h.weight"), get(p+"mlp.dense_4h_to_h.bias"), h)
			res = o
			if c.ApplyResidualConnectionPostLayernorm {
				res = m
			}
			for e := range down {
				down[e] += res[e]
			}
			x[i] = down
		}
	}
	out := make([][]float64, n)
	for i := range x {
		f := ln(x[i], get("ln_f.weight"), get("ln_f.bias"))
		out[i] = linear(f, emb, nil, V)
	}
	return out
}

// refSlopes is the paper's get_slopes, written recursively as in
// ofirpress/attention_with_linear_biases.
func refSlopes(n int) []float64 {
	pow2 := func(n int) []float64 {
		start := math.Pow(2, -math.Pow(2, -(math.Log2(float64(n))-3)))
		out := make([]float64, n)
		for i := range out {
			out[i] = start * math.Pow(start, float64(i))
		}
		return out
	}
	if l := math.Log2(float64(n)); l == math.Floor(l) {
		return pow2(n)
	}
	c := 1 << int(math.Floor(math.Log2(float64(n))))
	out := pow2(c)
	extra := refSlopes(2 * c)
	for i := 0; i < n-c; i++ {
		out = append(out, extra[2*i])
	}
	return out
}

func maxAbsDiff(a []float32, b []float64) float64 {
	var m float64
	for i := range a {
		if d := math.Abs(float64(a[i]) - b[i]); d > m || math.IsNaN(d) {
			m = d
			if math.IsNaN(d) {
				return math.Inf(1)
			}
		}
	}
	return m
}

func randomIDs(n, vocab int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 99))
	ids := make([]int, n)
	for i := range ids {
		ids[i] = rng.IntN(vocab)
	}
	return ids
}
