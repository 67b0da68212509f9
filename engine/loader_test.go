package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/c9e48c40/alibi/engine/safetensors"
)

// TestLoaderSplits loads the same file in 1-byte, 7-byte and whole writes,
// for each dtype and quantization, and requires identical weights.
func TestLoaderSplits(t *testing.T) {
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
		for _, q := range []Quant{QuantNone, QuantInt8} {
			tb := newTinyBloom(t, tinyOpts{hidden: 32, heads: 4, layers: 1, vocab: 20, dtype: dt, seed: 1})
			data := tb.file("transformer.")
			whole, err := loadBytes(tb.cfg, LoadOptions{Quant: q}, data, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, split := range []int{1, 7, 4096} {
				m, err := loadBytes(tb.cfg, LoadOptions{Quant: q}, data, split)
				if err != nil {
					t.Fatalf("%s %s split %d: %v", dt, q, split, err)
				}
				if !reflect.DeepEqual(m.w, whole.w) {
					t.Errorf("%s %s: split %d gives different weights", dt, q, split)
				}
			}
		}
	}
}

// TestLoaderLayout checks the loaded weights element by element: exact
// F16/BF16 widening, the QKV un-interleave and the tied head.
func TestLoaderLayout(t *testing.T) {
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
		tb := newTinyBloom(t, tinyOpts{hidden: 12, heads: 3, layers: 1, vocab: 7, dtype: dt, seed: 2})
		m := tb.load(t, LoadOptions{})
		// Widening is exact: the loaded values equal the decoded stored values.
		if !reflect.DeepEqual(m.w.embed.f, tb.values["word_embeddings.weight"]) {
			t.Errorf("%s: embeddings differ from the stored values", dt)
		}
		if m.outHead != &m.w.embed {
			t.Errorf("%s: output head is not tied to the embeddings", dt)
		}
		h, d := 12, 4
		src := tb.values["h.0.self_attention.query_key_value.weight"] // (3h, h) as [H][3][d]
		bias := tb.values["h.0.self_attention.query_key_value.bias"]
		for head := 0; head < 3; head++ {
			for part := 0; part < 3; part++ {
				for i := 0; i < d; i++ {
					sr := head*3*d + part*d + i
					dr := part*h + head*d + i
					if !reflect.DeepEqual(src[sr*h:(sr+1)*h], m.w.layers[0].qkv.f[dr*h:(dr+1)*h]) {
						t.Fatalf("%s: QKV row %d (head %d part %d) not at row %d", dt, sr, head, part, dr)
					}
					if bias[sr] != m.w.layers[0].qkvB.f[dr] {
						t.Fatalf("%s: QKV bias %d not at %d", dt, sr, dr)
					}
				}
			}
		}
	}
}

// TestLoaderNames accepts both name forms and an explicit tied lm_head.
func TestLoaderNames(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 3})
	ref := tb.load(t, LoadOptions{})
	ts := tb.tensors("transformer.")
	emb := ts[0]
	if emb.Name != "transformer.word_embeddings.weight" {
		t.Fatal(emb.Name)
	}
	ts = append(ts, safetensors.Tensor{Name: "lm_head.weight", DType: emb.DType, Shape: emb.Shape, Data: emb.Data})
	m, err := loadBytes(tb.cfg, LoadOptions{}, writeST(ts, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.w, ref.w) || m.Info().Parameters != ref.Info().Parameters {
		t.Error("prefixed names with lm_head load differently")
	}
	// Untied: lm_head is required and used.
	var cfg = *tb.cfg
	cfg.TieWordEmbeddings = false
	if _, err := loadBytes(&cfg, LoadOptions{}, tb.file(""), 0); err == nil || !strings.Contains(err.Error(), `missing tensor "lm_head.weight"`) {
		t.Errorf("untied without lm_head: %v", err)
	}
	m, err = loadBytes(&cfg, LoadOptions{}, writeST(ts, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.outHead != &m.w.head || !reflect.DeepEqual(m.w.head.f, m.w.embed.f) {
		t.Error("untied head not loaded")
	}
}

// TestLoaderBadInput is the bad-input table: each case is a clear error of
// the right kind, names the culprit, and leaves nothing loaded.
func TestLoaderBadInput(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 8, heads: 2, layers: 1, vocab: 10, seed: 4})
	good := tb.file("")
	hdrLen := int(binary.LittleEndian.Uint64(good))
	withHeader := func(js string) []byte {
		js += strings.Repeat(" ", (8-len(js)%8)%8)
		out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
		return append(append(out, js...), good[8+hdrLen:]...)
	}
	header := string(good[8 : 8+hdrLen])
	mutate := func(f func(ts []safetensors.Tensor) []safetensors.Tensor) []byte {
		return writeST(f(tb.tensors("")), nil)
	}
	set := func(name string, f func(*safetensors.Tensor)) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == name {
					f(&ts[i])
				}
			}
			return ts
		}
	}
	qkv := "h.0.self_attention.query_key_value.weight"
	cases := []struct {
		name     string
		data     []byte
		kind     string
		contains []string
	}{
		{"empty file", nil, "format", []string{"truncated", "header length"}},
		{"truncated in length", good[:5], "format", []string{"truncated after 5 bytes"}},
		{"truncated in header", good[:40], "format", []string{"truncated inside the header"}},
		{"truncated in data", good[:len(good)-3], "format", []string{"truncated", `"h.0.mlp.dense_4h_to_h.bias"`}},
		{"trailing bytes", append(append([]byte(nil), good...), 0, 0), "format", []string{"after the end of the data buffer"}},
		{"absurd header length", binary.LittleEndian.AppendUint64(nil, 1<<60), "format", []string{"exceeds the limit"}},
		{"header length too small", binary.LittleEndian.AppendUint64(nil, 1), "format", []string{"too small"}},
		{"invalid JSON", withHeader(`{"a": [1, 2}`), "format", []string{"header JSON is not valid"}},
		{"invalid JSON key", withHeader(`{"a" 1}`), "format", []string{"header JSON"}},
		{"not an object", withHeader(`[1,2,3]`), "format", []string{"does not start with '{'"}},
		{"unknown dtype", withHeader(strings.Replace(header, `"F32"`, `"F31"`, 1)), "format", []string{`unknown dtype "F31"`}},
		{"unsupported dtype", mutate(set("ln_f.bias", func(t *safetensors.Tensor) { t.DType = safetensors.I32 })), "format", []string{`"ln_f.bias" has dtype I32`}},
		{"shape mismatch", mutate(set(qkv, func(t *safetensors.Tensor) { t.Shape = []int{8, 24} })), "format", []string{qkv, "shape [8 24], want [24 8]"}},
		{"dtype size mismatch", withHeader(strings.Replace(header, `"F32"`, `"F16"`, 1)), "format", []string{"hold", "needs"}},
		{"missing tensor", mutate(func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[1:] }), "format", []string{`missing tensor "word_embeddings.weight"`}},
		{"duplicate tensor (prefix)", mutate(func(ts []safetensors.Tensor) []safetensors.Tensor {
			d := ts[1]
			d.Name = "transformer." + d.Name
			return append(ts, d)
		}), "format", []string{"duplicate tensor", "word_embeddings_layernorm.weight"}},
		{"duplicate key", withHeader(strings.Replace(header, `{`, `{"ln_f.bias":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},`, 1)), "format", []string{`duplicate key "ln_f.bias"`}},
		{"unexpected tensor", mutate(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "h.1.mlp.extra", DType: safetensors.F32, Shape: []int{1}, Data: make([]byte, 4)})
		}), "format", []string{`unexpected tensor "h.1.mlp.extra"`}},
		{"overlapping offsets", withHeader(strings.Replace(header, `"data_offsets":[0,`, `"data_offsets":[4,`, 1)), "format", []string{"data_offsets"}},
		{"offsets beyond buffer", withHeader(strings.Replace(header, `[3904,3936]`, `[3904,9936]`, 1)), "format", []string{"data_offsets"}},
		{"bad metadata", withHeader(strings.Replace(header, `"__metadata__":{"format":"pt"}`, `"__metadata__":{"format":1}`, 1)), "format", []string{"__metadata__"}},
	}
	if !strings.Contains(header, `[3904,3936]`) || !strings.Contains(header, `"__metadata__":{"format":"pt"}`) {
		t.Fatalf("fixture header changed; update the table: %s", header)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []int{0, 3} {
				l, err := NewLoader(tb.cfg, LoadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				m, err := writeAll(l, "model.safetensors", tc.data, split)
				if err == nil {
					t.Fatalf("split %d: loaded a model from bad input", split)
				}
				if m != nil {
					t.Error("a model came back with the error")
				}
				if Kind(err) != tc.kind {
					t.Errorf("kind %q, want %q: %v", Kind(err), tc.kind, err)
				}
				for _, s := range tc.contains {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if l.w != nil {
					t.Error("weights still referenced after the error")
				}
				if _, err2 := l.Finish(); err2 == nil {
					t.Error("Finish succeeds after an error")
				}
			}
		})
	}
}

// writeAll feeds data to a new file of l in pieces of split bytes, closes
// it and finishes the load.
func writeAll(l *Loader, name string, data []byte, split int) (*Model, error) {
	w, err := l.OpenFile(name)
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

// TestLoaderKnownSize rejects a header length beyond a known file size
// before any data arrives.
func TestLoaderKnownSize(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 5})
	good := tb.file("")
	l, _ := NewLoader(tb.cfg, LoadOptions{})
	w, err := l.OpenFileSize("model.safetensors", 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(good[:8]); err == nil || !strings.Contains(err.Error(), "exceeds the file size 100") {
		t.Errorf("err = %v", err)
	}
	l, _ = NewLoader(tb.cfg, LoadOptions{})
	w, _ = l.OpenFileSize("model.safetensors", int64(len(good)+1))
	if _, err := w.Write(good); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("err = %v", err)
	}
}

// sharded splits the checkpoint into files and an index.
func sharded(tb *tinyBloom, files int, prefix string) (map[string][]byte, []byte) {
	ts := tb.tensors(prefix)
	out := map[string][]byte{}
	wm := map[string]string{}
	per := (len(ts) + files - 1) / files
	for f := 0; f < files; f++ {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", f+1, files)
		part := ts[f*per : min((f+1)*per, len(ts))]
		for _, t := range part {
			wm[t.Name] = name
		}
		out[name] = writeST(part, nil)
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": wm})
	return out, idx
}

func TestLoaderSharded(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{layers: 3, seed: 6})
	ref := tb.load(t, LoadOptions{})
	files, idx := sharded(tb, 3, "transformer.")
	load := func(idx []byte, order []string, mutate func(name string, b []byte) []byte) (*Model, error) {
		l, err := NewLoader(tb.cfg, LoadOptions{})
		if err != nil {
			return nil, err
		}
		if err := l.SetIndex(idx); err != nil {
			return nil, err
		}
		for _, name := range order {
			w, err := l.OpenFile(name)
			if err != nil {
				return nil, err
			}
			b := files[name]
			if mutate != nil {
				b = mutate(name, b)
			}
			if _, err := w.Write(b); err != nil {
				return nil, err
			}
			if err := w.Close(); err != nil {
				return nil, err
			}
		}
		return l.Finish()
	}
	names := []string{"model-00003-of-00003.safetensors", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors"}
	m, err := load(idx, names, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.w, ref.w) {
		t.Error("sharded load differs from single-file load")
	}
	// Shards written concurrently, in pieces.
	l, err := NewLoader(tb.cfg, LoadOptions{Quant: QuantInt8})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetIndex(idx); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, len(names))
	for _, name := range names {
		w, err := l.OpenFile(name)
		if err != nil {
			t.Fatal(err)
		}
		go func(b []byte) {
			for i := 0; i < len(b); i += 5 {
				if _, err := w.Write(b[i:min(i+5, len(b))]); err != nil {
					errs <- err
					return
				}
			}
			errs <- w.Close()
		}(files[name])
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	mq, err := l.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if want := tb.load(t, LoadOptions{Quant: QuantInt8}); !reflect.DeepEqual(mq.w, want.w) {
		t.Error("concurrent sharded int8 load differs")
	}
	// LoadFS with an index.
	fsys := fstest.MapFS{"config.json": {Data: tb.cfgJSON}, "model.safetensors.index.json": {Data: idx}}
	for name, b := range files {
		fsys[name] = &fstest.MapFile{Data: b}
	}
	m, err = LoadFS(fsys, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.w, ref.w) {
		t.Error("LoadFS sharded differs")
	}

	var wm map[string]any
	json.Unmarshal(idx, &wm)
	reindex := func(f func(map[string]any)) []byte {
		var c map[string]any
		json.Unmarshal(idx, &c)
		f(c["weight_map"].(map[string]any))
		b, _ := json.Marshal(c)
		return b
	}
	errCases := []struct {
		name     string
		idx      []byte
		order    []string
		mutate   func(string, []byte) []byte
		contains string
	}{
		{"missing shard", idx, names[:2], nil, "model-00002-of-00003.safetensors listed in the index was never opened"},
		{"unlisted file", idx, []string{"other.safetensors"}, nil, "not listed in model.safetensors.index.json"},
		{"index misses a tensor", reindex(func(m map[string]any) { delete(m, "transformer.ln_f.bias") }), names, nil, `missing tensor "ln_f.bias"`},
		{"index has an unexpected tensor", reindex(func(m map[string]any) { m["foo"] = names[0] }), names, nil, `unexpected tensor "foo"`},
		{"index path traversal", reindex(func(m map[string]any) { m["transformer.ln_f.bias"] = "../x" }), names, nil, `bad file name "../x"`},
		{"tensor in the wrong shard", reindex(func(m map[string]any) { m["transformer.word_embeddings.weight"] = names[0] }), names, nil, `is listed in shard`},
		{"bad index JSON", []byte(`{"weight_map": 3}`), names, nil, "model.safetensors.index.json"},
		{"truncated shard", idx, names, func(n string, b []byte) []byte {
			if n == names[1] {
				return b[:len(b)-1]
			}
			return b
		}, "truncated"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.idx, tc.order, tc.mutate)
			if err == nil || Kind(err) != "format" || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %v, want a format error containing %q", err, tc.contains)
			}
		})
	}
}

// TestLoaderAbort releases everything on Abort (a dropped download).
func TestLoaderAbort(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 7})
	good := tb.file("")
	l, _ := NewLoader(tb.cfg, LoadOptions{})
	w, _ := l.OpenFile("model.safetensors")
	w.Write(good[:len(good)/2])
	l.Abort(fmt.Errorf("download: connection reset"))
	if _, err := w.Write(good[len(good)/2:]); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("Write after Abort: %v", err)
	}
	if _, err := l.Finish(); err == nil || l.w != nil {
		t.Errorf("Finish after Abort: %v (weights released: %v)", err, l.w == nil)
	}
}

// TestLoadDir loads a directory from disk.
func TestLoadDir(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 8})
	dir := t.TempDir()
	fsys := fstest.MapFS{"config.json": {Data: tb.cfgJSON}, "model.safetensors": {Data: tb.file("")}}
	for name, f := range fsys {
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := LoadDir(dir, LoadOptions{Quant: QuantInt8})
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if info.Architecture != "bloom" || info.Quant != QuantInt8 || info.Layers != 2 || info.BOS != 1 || info.EOS != 2 || info.ContextLength != DefaultContextLength {
		t.Errorf("info = %+v", info)
	}
	if _, err := LoadDir(t.TempDir(), LoadOptions{}); Kind(err) != "format" {
		t.Errorf("empty dir: %v", err)
	}
}

// TestLoaderMemory checks that loading allocates little beyond the final
// weights: no joined chunks, no buffer grown by copying, no f32 copy kept
// when quantizing.
func TestLoaderMemory(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 128, heads: 4, layers: 2, vocab: 2000, dtype: safetensors.F16, seed: 9})
	data := tb.file("")
	for _, q := range []Quant{QuantNone, QuantInt8} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := loadBytes(tb.cfg, LoadOptions{Quant: q}, data, 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		alloc := int64(after.TotalAlloc - before.TotalAlloc)
		wb := m.Info().WeightBytes
		overhead := alloc - wb
		t.Logf("%s: weights %d bytes, allocated %d while loading (overhead %d)", q, wb, alloc, overhead)
		if overhead > 128<<10 {
			t.Errorf("%s: loading allocated %d bytes beyond the %d bytes of weights", q, overhead, wb)
		}
	}
}

func TestEstimateMemory(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 64, heads: 4, layers: 2, vocab: 100, seed: 10})
	for _, q := range []Quant{QuantNone, QuantInt8} {
		opts := LoadOptions{Quant: q, ContextLength: 64}
		m := tb.load(t, opts)
		est := EstimateMemory(tb.cfg, opts)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := m.NewSession()
		runtime.ReadMemStats(&after)
		actual := m.Info().WeightBytes + int64(after.TotalAlloc-before.TotalAlloc)
		if est < actual || est > actual+actual/4+64<<10 {
			t.Errorf("%s: estimate %d, weights + session %d", q, est, actual)
		}
		_ = s
	}
	opts := LoadOptions{MemoryLimit: 1000}
	if _, err := NewLoader(tb.cfg, opts); Kind(err) != "memory" {
		t.Errorf("over the memory limit: %v", err)
	}
	huge, err := ParseConfig([]byte(`{"model_type":"bloom","vocab_size":16000000,"hidden_size":65536,"n_layer":1000,"n_head":64}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLoader(huge, LoadOptions{}); Kind(err) != "memory" || !strings.Contains(err.Error(), "MiB") {
		t.Errorf("absurd model: %v", err)
	}
	if _, err := NewLoader(tb.cfg, LoadOptions{Quant: "q4"}); Kind(err) != "unsupported" {
		t.Errorf("bad quant: %v", err)
	}
	if _, err := NewLoader(tb.cfg, LoadOptions{ContextLength: -1}); err == nil {
		t.Error("negative context accepted")
	}
}

// TestModelUse runs a whole model through Generate after a load from an fs.FS.
func TestModelUse(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{seed: 11})
	m, err := LoadFS(fstest.MapFS{"config.json": {Data: tb.cfgJSON}, "model.safetensors": {Data: tb.file("")}}, LoadOptions{ContextLength: 40})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Slopes(); len(got) != 4 || got[0] != 0.25 {
		t.Errorf("slopes %v", got)
	}
	if m.Config().HiddenSize != 16 {
		t.Error("config")
	}
	var out []int
	err = m.NewSession().Generate(context.Background(), []int{1, 2, 3}, GenerateOptions{MaxTokens: 5}, func(id int) error {
		out = append(out, id)
		return nil
	})
	if err != nil || len(out) != 5 {
		t.Errorf("generate: %v, %v", out, err)
	}
}
