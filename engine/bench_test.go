package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/c9e48c40/alibi/engine/safetensors"
)

// newRandomModel builds a model with random weights (seeded) straight into
// the loader's sinks, without a safetensors file: the benchmarks' way to
// get bloom-560m's shapes in seconds. Matrices are uniform with standard
// deviation 1/√cols, norms near 1, biases small.
func newRandomModel(cfg *Config, opts LoadOptions, seed uint64) (*Model, error) {
	l, err := NewLoader(cfg, opts)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	vals := l.conv
	for _, sp := range l.fam.tensors(cfg) {
		s := l.newSink(&sp, safetensors.F32)
		var scale, offset float32 = 0.05, 0 // biases
		switch {
		case sp.matrix():
			scale = float32(math.Sqrt(3 / float64(sp.shape[1])))
		case sp.role == roleEmbNormW || sp.role == roleAttnNormW || sp.role == roleMLPNormW || sp.role == roleOutNormW:
			scale, offset = 0.1, 1
		}
		for left := int(sp.elements()); left > 0; {
			k := min(left, len(vals))
			for i := 0; i < k; i += 2 {
				r := rng.Uint64()
				// Two uniforms in [-1, 1) from one draw.
				vals[i] = offset + scale*(float32(int32(r))/(1<<31))
				if i+1 < k {
					vals[i+1] = offset + scale*(float32(int32(r>>32))/(1<<31))
				}
			}
			s.emit(vals[:k])
			left -= k
		}
	}
	return newModel(cfg, l.fam, l.opts, l.w), nil
}

type benchSize struct {
	name                         string
	hidden, heads, layers, vocab int
	prompt, ctx                  int
}

var benchSizes = []benchSize{
	{"tiny", 64, 4, 2, 1000, 64, 256},
	{"small", 256, 8, 4, 8000, 64, 256},
	{"medium", 512, 8, 8, 32000, 64, 256},
	{"bloom-560m", 1024, 16, 24, 250880, 64, 256},
}

func benchConfig(s benchSize) *Config {
	cfg, err := ParseConfig(fmt.Appendf(nil, `{"model_type":"bloom","vocab_size":%d,"hidden_size":%d,"n_layer":%d,"n_head":%d}`,
		s.vocab, s.hidden, s.layers, s.heads))
	if err != nil {
		panic(err)
	}
	return cfg
}

// BenchmarkForward measures prefill (a prompt of 64 tokens as one batch) and
// decode (one Step at positions 64..256) on random models, from a tiny one
// to bloom-560m's shapes (hidden 1024, 16 heads, 24 layers, vocab 250880),
// in f32 and int8. Metrics: ns/token. bloom-560m is skipped with -short.
//
//	go test -run '^$' -bench 'Forward/bloom-560m' -benchtime 3x ./engine
func BenchmarkForward(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			if sz.name == "bloom-560m" && testing.Short() {
				b.Skip("bloom-560m shapes skipped in -short mode")
			}
			for _, q := range []Quant{QuantNone, QuantInt8} {
				b.Run(map[Quant]string{QuantNone: "f32", QuantInt8: "int8"}[q], func(b *testing.B) {
					m, err := newRandomModel(benchConfig(sz), LoadOptions{Quant: q, ContextLength: sz.ctx}, 1)
					if err != nil {
						b.Fatal(err)
					}
					defer runtime.GC()
					ids := randomIDs(sz.prompt, sz.vocab, 2)
					ctx := context.Background()
					b.Run("prefill", func(b *testing.B) {
						s := m.NewSession()
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							s.Reset()
							if _, err := s.Prefill(ctx, ids); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/token")
					})
					b.Run("decode", func(b *testing.B) {
						s := m.NewSession()
						if _, err := s.Prefill(ctx, ids); err != nil {
							b.Fatal(err)
						}
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							if s.Len() == sz.ctx {
								b.StopTimer()
								s.Reset()
								if _, err := s.Prefill(ctx, ids); err != nil {
									b.Fatal(err)
								}
								b.StartTimer()
							}
							if _, err := s.Step(ctx, ids[i%len(ids)]); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/token")
					})
				})
			}
		})
	}
}

// BenchmarkLoad measures streaming a safetensors file through the loader
// (F16 to f32 or int8), in 1 MiB writes.
func BenchmarkLoad(b *testing.B) {
	tb := newTinyBloom(b, tinyOpts{hidden: 256, heads: 8, layers: 4, vocab: 8000, dtype: safetensors.F16, seed: 1})
	data := tb.file("")
	for _, q := range []Quant{QuantNone, QuantInt8} {
		b.Run(string(q), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				if _, err := loadBytes(tb.cfg, LoadOptions{Quant: q, ContextLength: 16}, data, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSample measures the sampler on a bloom-sized vocabulary with
// LM-like logits: Zipf-shaped probabilities (p ∝ rank^-1.2) over shuffled ids.
func BenchmarkSample(b *testing.B) {
	logits := make([]float32, 250880)
	rng := rand.New(rand.NewPCG(1, 2))
	for i, r := range rng.Perm(len(logits)) {
		logits[i] = float32(-1.2 * math.Log(float64(r+1)))
	}
	for _, o := range []SampleOptions{{}, {Temperature: 0.8, TopK: 40}, {Temperature: 0.8, TopP: 0.95}, {Temperature: 0.8, MinP: 0.05}} {
		b.Run(fmt.Sprintf("T%v-K%d-P%v-minP%v", o.Temperature, o.TopK, o.TopP, o.MinP), func(b *testing.B) {
			sp := NewSampler(o)
			for i := 0; i < b.N; i++ {
				sp.Sample(logits, nil)
			}
		})
	}
}

// TestRandomModel checks the benchmarks' constructor: its weights load the
// same way as a file's, and the model runs.
func TestRandomModel(t *testing.T) {
	sz := benchSizes[0]
	for _, q := range []Quant{QuantNone, QuantInt8} {
		m, err := newRandomModel(benchConfig(sz), LoadOptions{Quant: q, ContextLength: 32}, 1)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := m.NewSession().Prefill(context.Background(), []int{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range logits {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite logit", q)
			}
		}
		if m.Info().Parameters == 0 || m.Info().WeightBytes == 0 {
			t.Errorf("info %+v", m.Info())
		}
	}
}

// BenchmarkPrefillLong measures a 1024-token prefill on the small model,
// where attention (blockwise, online softmax) is a visible share.
func BenchmarkPrefillLong(b *testing.B) {
	sz := benchSizes[1]
	m, err := newRandomModel(benchConfig(sz), LoadOptions{ContextLength: 1024}, 1)
	if err != nil {
		b.Fatal(err)
	}
	ids := randomIDs(1024, sz.vocab, 3)
	s := m.NewSession()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Reset()
		if _, err := s.Prefill(ctx, ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/token")
}

// BenchmarkDecodeLong measures one decode step late in a 1024-token context
// on the small model, where attention over the cache is a visible share.
func BenchmarkDecodeLong(b *testing.B) {
	sz := benchSizes[1]
	m, err := newRandomModel(benchConfig(sz), LoadOptions{ContextLength: 1024}, 1)
	if err != nil {
		b.Fatal(err)
	}
	ids := randomIDs(960, sz.vocab, 4)
	s := m.NewSession()
	ctx := context.Background()
	if _, err := s.Prefill(ctx, ids); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.Len() == 1024 {
			b.StopTimer()
			s.Reset()
			if _, err := s.Prefill(ctx, ids); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, err := s.Step(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/token")
}

// BenchmarkDecodeOps splits a decode step into its matrix products (per
// token, summed over the layers) and reports ms/token for each, with the
// GFLOP/s and GB/s of weights they reach: where decode time goes, per
// precision (time per op in wasm, where no CPU profiler runs).
//
//	GOOS=js GOARCH=wasm go test -exec=$PWD/tools/wasmexec/go_js_wasm_exec -run '^$' -bench DecodeOps/medium ./engine
func BenchmarkDecodeOps(b *testing.B) {
	for _, sz := range []benchSize{benchSizes[2], benchSizes[3]} {
		b.Run(sz.name, func(b *testing.B) {
			if sz.name == "bloom-560m" && testing.Short() {
				b.Skip("bloom-560m shapes skipped in -short mode")
			}
			for _, q := range []Quant{QuantNone, QuantInt8} {
				b.Run(map[Quant]string{QuantNone: "f32", QuantInt8: "int8"}[q], func(b *testing.B) {
					m, err := newRandomModel(benchConfig(sz), LoadOptions{Quant: q, ContextLength: 64}, 1)
					if err != nil {
						b.Fatal(err)
					}
					defer runtime.GC()
					h := sz.hidden
					x := make([]float32, 4*h)
					for i := range x {
						x[i] = float32(i%7)*0.1 - 0.3
					}
					dst := make([]float32, max(4*h, sz.vocab))
					ops := []struct {
						name string
						run  func(l *layer)
					}{
						{"qkv", func(l *layer) { l.qkv.mul(dst[:3*h], x[:h], 1) }},
						{"attn_out", func(l *layer) { l.attnOut.mul(dst[:h], x[:h], 1) }},
						{"up", func(l *layer) { l.up.mul(dst[:4*h], x[:h], 1) }},
						{"down", func(l *layer) { l.down.mul(dst[:h], x[:4*h], 1) }},
					}
					var total time.Duration
					for _, op := range ops {
						var el time.Duration
						var bytes int64
						for i := 0; i < b.N; i++ {
							for li := range m.w.layers {
								l := &m.w.layers[li]
								t0 := time.Now()
								op.run(l)
								el += time.Since(t0)
							}
						}
						for li := range m.w.layers {
							l := &m.w.layers[li]
							bytes += map[string]*tensor{"qkv": &l.qkv, "attn_out": &l.attnOut, "up": &l.up, "down": &l.down}[op.name].bytes()
						}
						per := el.Seconds() / float64(b.N)
						b.ReportMetric(per*1e3, op.name+"-ms/token")
						b.ReportMetric(float64(bytes)/per/1e9, op.name+"-GB/s")
						total += el
					}
					var el time.Duration
					for i := 0; i < b.N; i++ {
						t0 := time.Now()
						m.outHead.mul(dst[:sz.vocab], x[:h], 1)
						el += time.Since(t0)
					}
					per := el.Seconds() / float64(b.N)
					b.ReportMetric(per*1e3, "head-ms/token")
					b.ReportMetric(float64(m.outHead.bytes())/per/1e9, "head-GB/s")
					total += el
					b.ReportMetric(total.Seconds()/float64(b.N)*1e3, "matrices-ms/token")
				})
			}
		})
	}
}
