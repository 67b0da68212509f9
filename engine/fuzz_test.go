package engine

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/c9e48c40/alibi/engine/safetensors"
)

// FuzzParseConfig: arbitrary bytes never panic; errors carry a kind and the
// package prefix; an accepted config is internally consistent.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"architectures":["BloomForCausalLM"],"model_type":"bloom","vocab_size":250880,"hidden_size":1024,"n_layer":24,"n_head":16,"layer_norm_epsilon":1e-05,"seq_length":2048}`))
	f.Add([]byte(`{"model_type":"bloom","vocab_size":100,"n_embed":64,"num_hidden_layers":2,"num_attention_heads":8,"eos_token_id":[5]}`))
	f.Add([]byte(`{"model_type":"llama"}`))
	f.Add([]byte(`{"model_type":"bloom","hidden_size":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if k := Kind(err); k != "format" && k != "unsupported" {
				t.Fatalf("error of kind %q: %v", k, err)
			}
			if !strings.HasPrefix(err.Error(), "engine: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if familyOf(cfg.Architecture) == nil || cfg.ffWidth() < 1 || cfg.HiddenSize < 1 || cfg.NHead < 1 || cfg.HiddenSize%cfg.NHead != 0 ||
			cfg.NLayer < 1 || cfg.VocabSize < 1 || !(cfg.LayerNormEpsilon > 0) ||
			cfg.EOSTokenID >= cfg.VocabSize || cfg.BOSTokenID >= cfg.VocabSize || cfg.TrainingContext < 0 {
			t.Fatalf("inconsistent config accepted: %+v", cfg)
		}
	})
}

var fuzzModel struct {
	once  sync.Once
	tb    *tinyBloom
	files map[safetensors.DType][]byte
	whole map[string]*Model // by dtype/quant
}

func fuzzFixture(t testing.TB) {
	fuzzModel.once.Do(func() {
		fuzzModel.files = map[safetensors.DType][]byte{}
		fuzzModel.whole = map[string]*Model{}
		for _, dt := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
			tb := newTinyBloom(t, tinyOpts{hidden: 8, heads: 2, layers: 1, vocab: 12, dtype: dt, seed: 42})
			fuzzModel.tb = tb
			fuzzModel.files[dt] = tb.file("transformer.")
			for _, q := range []Quant{QuantNone, QuantInt8} {
				m, err := loadBytes(tb.cfg, LoadOptions{Quant: q, ContextLength: 8}, fuzzModel.files[dt], 0)
				if err != nil {
					panic(err)
				}
				fuzzModel.whole[string(dt)+string(q)] = m
			}
		}
	})
}

// FuzzLoaderSplits: the loader gives the same weights for any split of the
// bytes (each fuzz byte is the length of the next write, 1 to 256).
func FuzzLoaderSplits(f *testing.F) {
	f.Add([]byte{0}, uint8(0), false)
	f.Add([]byte{6}, uint8(1), true)
	f.Add([]byte{0, 1, 2, 255, 3, 17}, uint8(2), false)
	f.Add([]byte{15, 200, 1, 1, 63}, uint8(2), true)
	f.Fuzz(func(t *testing.T, splits []byte, dtype uint8, int8q bool) {
		fuzzFixture(t)
		dt := []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16}[int(dtype)%3]
		q := QuantNone
		if int8q {
			q = QuantInt8
		}
		data := fuzzModel.files[dt]
		if len(splits) == 0 {
			splits = []byte{0}
		}
		l, err := NewLoader(fuzzModel.tb.cfg, LoadOptions{Quant: q, ContextLength: 8})
		if err != nil {
			t.Fatal(err)
		}
		w, err := l.OpenFile("model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		for i, k := 0, 0; i < len(data); k++ {
			n := int(splits[k%len(splits)]) + 1
			if _, err := w.Write(data[i:min(i+n, len(data))]); err != nil {
				t.Fatal(err)
			}
			i += n
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		m, err := l.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.w, fuzzModel.whole[string(dt)+string(q)].w) {
			t.Fatalf("%s/%s: weights depend on the split %v", dt, q, splits)
		}
	})
}

// FuzzLoaderInput: arbitrary file bytes (a valid file with fuzzed bytes
// written over it, or cut short) never panic; failures are format errors
// and leave nothing loaded.
func FuzzLoaderInput(f *testing.F) {
	f.Add(uint32(0), []byte{}, uint32(0))
	f.Add(uint32(3), []byte{0xff, 0xff}, uint32(0))
	f.Add(uint32(40), []byte(`"F16"`), uint32(0))
	f.Add(uint32(100), []byte(`99`), uint32(0))
	f.Add(uint32(0), []byte{}, uint32(57))
	f.Fuzz(func(t *testing.T, at uint32, patch []byte, cut uint32) {
		fuzzFixture(t)
		data := append([]byte(nil), fuzzModel.files[safetensors.F16]...)
		if len(patch) > 0 {
			copy(data[int(at)%len(data):], patch)
		}
		if cut > 0 {
			data = data[:int(cut)%len(data)]
		}
		l, err := NewLoader(fuzzModel.tb.cfg, LoadOptions{ContextLength: 8})
		if err != nil {
			t.Fatal(err)
		}
		m, err := writeAll(l, "model.safetensors", data, 13)
		if err != nil {
			if Kind(err) != "format" {
				t.Fatalf("error of kind %q: %v", Kind(err), err)
			}
			if l.w != nil {
				t.Fatal("weights kept after an error")
			}
			return
		}
		// Accepted: the model must run.
		if _, err := m.NewSession().Prefill(t.Context(), []int{1, 2}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSample: any logits (NaN, ±Inf included) and options give an id in
// range, and equal seeds give equal ids.
func FuzzSample(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, float32(1), 0, float32(0.9), float32(0), float32(1.1), uint64(1))
	f.Add([]byte{0xff, 0xff, 0xc0, 0x7f, 0, 0, 0x80, 0x7f}, float32(0.5), 1, float32(0), float32(0.1), float32(0), uint64(2))
	f.Add([]byte{}, float32(0), 0, float32(0), float32(0), float32(0), uint64(3))
	f.Fuzz(func(t *testing.T, raw []byte, temp float32, topK int, topP, minP, rep float32, seed uint64) {
		logits := make([]float32, len(raw)/4)
		for i := range logits {
			logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		o := SampleOptions{Temperature: temp, TopK: topK, TopP: topP, MinP: minP, RepetitionPenalty: rep, Seed: seed}
		history := []int{0, len(logits) - 1, -5, 1 << 30}
		a := NewSampler(o).Sample(logits, history)
		b := NewSampler(o).Sample(logits, history)
		if a != b {
			t.Fatalf("same seed: %d then %d", a, b)
		}
		if len(logits) > 0 && (a < 0 || a >= len(logits)) || len(logits) == 0 && a != 0 {
			t.Fatalf("id %d out of range for %d logits", a, len(logits))
		}
	})
}
