package gguf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/c9e48c40/alibi/engine/safetensors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../testdata"

type fixtureCfg struct {
	Hidden, Heads, Layers, Vocab int
	Eps                          float64
	SeqLength                    int
}

func readFixture(t *testing.T, name string) (cfg []byte, fc fixtureCfg, tensors map[string]SourceTensor, tok []byte) {
	t.Helper()
	dir := filepath.Join(fixtures, name)
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatalf("fixture %s missing (run tools/reference/regen.sh): %v", name, err)
	}
	tok, err = os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(cfg, &m); err != nil {
		t.Fatal(err)
	}
	num := func(keys ...string) int {
		for _, k := range keys {
			if v, ok := m[k].(float64); ok {
				return int(v)
			}
		}
		return 0
	}
	fc = fixtureCfg{Hidden: num("hidden_size", "n_embed"), Heads: num("n_head", "num_attention_heads"),
		Layers: num("n_layer", "num_hidden_layers"), Vocab: num("vocab_size"), Eps: m["layer_norm_epsilon"].(float64),
		SeqLength: num("seq_length")}
	tensors = map[string]SourceTensor{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := SafetensorsTensors(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			tensors[strings.TrimPrefix(x.Name, "transformer.")] = x
		}
	}
	return cfg, fc, tensors, tok
}

func list(m map[string]SourceTensor) []SourceTensor {
	var out []SourceTensor
	for _, t := range m {
		out = append(out, t)
	}
	return out
}

// values decodes a source tensor independently of the converter.
func values(t SourceTensor) []float64 {
	es := map[string]int{"F32": 4, "F16": 2, "BF16": 2}[t.DType]
	out := make([]float64, len(t.Data)/es)
	for i := range out {
		switch t.DType {
		case "F32":
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:])))
		case "F16":
			out[i] = float64(safetensors.F16ToF32(binary.LittleEndian.Uint16(t.Data[2*i:])))
		case "BF16":
			out[i] = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(t.Data[2*i:])) << 16))
		}
	}
	return out
}

// TestConvertBLOOMFixtures converts every fixture in every file type, reads the
// GGUF back and checks metadata, names, ggml dims, tensor types, values, the QKV
// reorder (recomputed here from the HF layout) and the token list.
func TestConvertBLOOMFixtures(t *testing.T) {
	names := []string{"bloom-f32-h4-l2", "bloom-f16-h6-l2", "bloom-bf16-h12-l2", "bloom-f32-h12-alias", "bloom-f32-h6-prefix", "bloom-f16-h4-sharded"}
	for _, name := range names {
		for _, ft := range []FileType{FileTypeF32, FileTypeF16, FileTypeQ8_0} {
			t.Run(fmt.Sprintf("%s/%v", name, ft), func(t *testing.T) {
				cfg, fc, src, tok := readFixture(t, name)
				var buf bytes.Buffer
				if err := ConvertBLOOM(&buf, cfg, list(src), tok, ConvertOptions{FileType: ft, Name: name}); err != nil {
					t.Fatal(err)
				}
				f, err := Parse(buf.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				checkMeta(t, f, fc, ft, name)
				checkVocab(t, f, fc, tok)
				checkTensors(t, f, fc, src, ft)
			})
		}
	}
}

func checkMeta(t *testing.T, f *File, fc fixtureCfg, ft FileType, name string) {
	ctx := fc.SeqLength
	if ctx == 0 {
		ctx = fc.Hidden // llama.cpp: seq_length, else n_embed
	}
	wantU := map[string]uint64{
		"bloom.context_length": uint64(ctx), "bloom.embedding_length": uint64(fc.Hidden),
		"bloom.feed_forward_length": uint64(4 * fc.Hidden), "bloom.block_count": uint64(fc.Layers),
		"bloom.attention.head_count": uint64(fc.Heads), "bloom.attention.head_count_kv": uint64(fc.Heads),
		"general.file_type": uint64(ft), "general.quantization_version": 2,
		"tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2,
		"tokenizer.ggml.unknown_token_id": 0, "tokenizer.ggml.padding_token_id": 3,
	}
	for k, want := range wantU {
		v, _ := f.Get(k)
		if got, ok := v.(uint32); !ok || uint64(got) != want {
			t.Errorf("%s = %#v, want uint32 %d", k, v, want)
		}
	}
	wantS := map[string]string{"general.architecture": "bloom", "general.name": name, "general.type": "model",
		"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "bloom"}
	for k, want := range wantS {
		if got, _ := f.String(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	v, _ := f.Get("bloom.attention.layer_norm_epsilon")
	if eps, ok := v.(float32); !ok || eps != float32(fc.Eps) {
		t.Errorf("layer_norm_epsilon = %#v, want float32 %g", v, fc.Eps)
	}
	if _, ok := f.Get("bloom.attention.max_alibi_bias"); ok {
		t.Error("bloom must not carry max_alibi_bias (llama.cpp hard-codes 8)")
	}
	if f.Alignment != 32 {
		t.Errorf("alignment %d", f.Alignment)
	}
}

func checkVocab(t *testing.T, f *File, fc fixtureCfg, tokJSON []byte) {
	var tj struct {
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges []string       `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(tokJSON, &tj); err != nil {
		t.Fatal(err)
	}
	v, _ := f.Get("tokenizer.ggml.tokens")
	toks, _ := v.([]string)
	v, _ = f.Get("tokenizer.ggml.token_type")
	types, _ := v.([]int32)
	if len(toks) != fc.Vocab || len(types) != fc.Vocab {
		t.Fatalf("%d tokens, %d types, want vocab_size %d", len(toks), len(types), fc.Vocab)
	}
	for s, id := range tj.Model.Vocab {
		want := TokenNormal
		if id <= 3 {
			want = TokenControl
		}
		if toks[id] != s || types[id] != want {
			t.Errorf("token %d = %q type %d, want %q type %d", id, toks[id], types[id], s, want)
		}
	}
	for i := len(tj.Model.Vocab); i < fc.Vocab; i++ {
		if toks[i] != fmt.Sprintf("[PAD%d]", i) || types[i] != TokenUnused {
			t.Errorf("padding token %d = %q type %d", i, toks[i], types[i])
		}
	}
	v, _ = f.Get("tokenizer.ggml.merges")
	if m, _ := v.([]string); fmt.Sprint(m) != fmt.Sprint(tj.Model.Merges) || len(m) == 0 {
		t.Errorf("merges differ: %d vs %d", len(m), len(tj.Model.Merges))
	}
}

func checkTensors(t *testing.T, f *File, fc fixtureCfg, src map[string]SourceTensor, ft FileType) {
	h, H := fc.Hidden, fc.Heads
	d := h / H
	type exp struct {
		hf    string
		shape []int
	}
	want := map[string]exp{
		"token_embd.weight":      {"word_embeddings.weight", []int{fc.Vocab, h}},
		"token_embd_norm.weight": {"word_embeddings_layernorm.weight", []int{h}},
		"token_embd_norm.bias":   {"word_embeddings_layernorm.bias", []int{h}},
		"output_norm.weight":     {"ln_f.weight", []int{h}},
		"output_norm.bias":       {"ln_f.bias", []int{h}},
	}
	for l := 0; l < fc.Layers; l++ {
		for g, e := range map[string]exp{
			"attn_norm.weight": {"input_layernorm.weight", []int{h}}, "attn_norm.bias": {"input_layernorm.bias", []int{h}},
			"attn_qkv.weight": {"self_attention.query_key_value.weight", []int{3 * h, h}}, "attn_qkv.bias": {"self_attention.query_key_value.bias", []int{3 * h}},
			"attn_output.weight": {"self_attention.dense.weight", []int{h, h}}, "attn_output.bias": {"self_attention.dense.bias", []int{h}},
			"ffn_norm.weight": {"post_attention_layernorm.weight", []int{h}}, "ffn_norm.bias": {"post_attention_layernorm.bias", []int{h}},
			"ffn_up.weight": {"mlp.dense_h_to_4h.weight", []int{4 * h, h}}, "ffn_up.bias": {"mlp.dense_h_to_4h.bias", []int{4 * h}},
			"ffn_down.weight": {"mlp.dense_4h_to_h.weight", []int{h, 4 * h}}, "ffn_down.bias": {"mlp.dense_4h_to_h.bias", []int{h}},
		} {
			want[fmt.Sprintf("blk.%d.%s", l, g)] = exp{fmt.Sprintf("h.%d.%s", l, e.hf), e.shape}
		}
	}
	if len(f.Tensors) != len(want) {
		t.Errorf("%d tensors, want %d (no output.weight: tied)", len(f.Tensors), len(want))
	}
	for g, e := range want {
		ti, ok := f.Tensor(g)
		if !ok {
			t.Errorf("missing %s", g)
			continue
		}
		// ggml dims are the reversed HF shape
		if fmt.Sprint(ti.Shape()) != fmt.Sprint(e.shape) || ti.Dims[0] != uint64(e.shape[len(e.shape)-1]) {
			t.Errorf("%s dims %v, want reversed %v", g, ti.Dims, e.shape)
		}
		wantType := F32
		if len(e.shape) == 2 {
			switch ft {
			case FileTypeF16:
				wantType = F16
			case FileTypeQ8_0:
				wantType = Q8_0
				if e.shape[1]%32 != 0 {
					wantType = F16
				}
			}
		}
		if ti.Type != wantType {
			t.Errorf("%s type %v, want %v", g, ti.Type, wantType)
		}
		got, err := ti.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		hf := values(src[e.hf])
		// expected values in GGUF order: QKV rows moved from [H][3][d] to [3][H][d]
		exp := make([]float64, len(hf))
		if strings.Contains(g, "attn_qkv") {
			cols := 1
			if len(e.shape) == 2 {
				cols = h
			}
			for hd := 0; hd < H; hd++ {
				for p := 0; p < 3; p++ {
					for j := 0; j < d; j++ {
						from, to := (hd*3*d+p*d+j)*cols, (p*h+hd*d+j)*cols
						copy(exp[to:to+cols], hf[from:from+cols])
					}
				}
			}
		} else {
			copy(exp, hf)
		}
		for i := range got {
			diff := math.Abs(float64(got[i]) - exp[i])
			var tol float64
			switch ti.Type {
			case F16:
				tol = math.Abs(exp[i])*math.Pow(2, -11) + 6e-8
			case Q8_0:
				blk := i / 32 * 32
				amax := 0.0
				for _, x := range exp[blk : blk+32] {
					amax = math.Max(amax, math.Abs(x))
				}
				tol = amax/127*0.5*1.01 + amax*1e-3 // half a step, plus the f16 rounding of d
			}
			if diff > tol {
				t.Fatalf("%s[%d] = %v, want %v (type %v, tol %g)", g, i, got[i], exp[i], ti.Type, tol)
			}
		}
	}
}

// TestQKVOrder pins the reorder on a hand-made example: 2 heads, head dim 1.
func TestQKVOrder(t *testing.T) {
	// HF rows: h0q h0k h0v h1q h1k h1v -> GGUF: h0q h1q h0k h1k h0v h1v
	src := []byte{'a', 'b', 'c', 'd', 'e', 'f'}
	if got := string(ReorderQKV(src, 2, 1, 1)); got != "adbecf" {
		t.Fatalf("ReorderQKV = %q, want adbecf", got)
	}
	// head dim 2, rows of 2 bytes
	src2 := []byte("q0q1k0k1v0v1Q0Q1K0K1V0V1")
	if got := string(ReorderQKV(src2, 2, 2, 2)); got != "q0q1Q0Q1k0k1K0K1v0v1V0V1" {
		t.Fatalf("ReorderQKV = %q", got)
	}
}

func TestConvertBLOOMDir(t *testing.T) {
	for _, name := range []string{"bloom-f16-h4-sharded", "bloom-f32-h6-prefix"} {
		cfg, _, src, tok := readFixture(t, name)
		var a, b bytes.Buffer
		if err := ConvertBLOOMDir(&a, filepath.Join(fixtures, name), ConvertOptions{FileType: FileTypeF16}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := ConvertBLOOM(&b, cfg, list(src), tok, ConvertOptions{FileType: FileTypeF16}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: ConvertBLOOMDir and ConvertBLOOM differ", name)
		}
	}
	if err := ConvertBLOOMDir(&bytes.Buffer{}, filepath.Join(fixtures, "does-not-exist"), ConvertOptions{}); err == nil {
		t.Error("missing dir accepted")
	}
}

func TestConvertBLOOMErrors(t *testing.T) {
	cfg, _, src, tok := readFixture(t, "bloom-f32-h4-l2")
	post, _, psrc, _ := readFixture(t, "bloom-f32-h6-postln")
	without := func(name string) []SourceTensor {
		m := map[string]SourceTensor{}
		for k, v := range src {
			if k != name {
				m[k] = v
			}
		}
		return list(m)
	}
	with := func(extra SourceTensor) []SourceTensor { return append(list(src), extra) }
	reshaped := func(name string, shape []int) []SourceTensor {
		m := map[string]SourceTensor{}
		for k, v := range src {
			if k == name {
				v.Shape = shape
			}
			m[k] = v
		}
		return list(m)
	}
	emb := src["word_embeddings.weight"]
	bad := emb
	bad.Name = "transformer.word_embeddings.weight"
	f16 := src["ln_f.bias"]
	f16.DType = "F8_E4M3"
	cases := []struct {
		name    string
		cfg     []byte
		tensors []SourceTensor
		tok     []byte
		ft      FileType
		want    string
		kind    error
	}{
		{"missing", cfg, without("h.1.mlp.dense_4h_to_h.bias"), tok, 0, "missing tensors", ErrInvalid},
		{"missing embeddings", cfg, without("word_embeddings.weight"), tok, 0, "missing tensor word_embeddings", ErrInvalid},
		{"unexpected", cfg, with(SourceTensor{Name: "h.0.attn.rotary.weight", DType: "F32", Shape: []int{1}, Data: make([]byte, 4)}), tok, 0, "cannot map", ErrInvalid},
		{"block out of range", cfg, with(SourceTensor{Name: "h.7.input_layernorm.bias", DType: "F32", Shape: []int{24}, Data: make([]byte, 96)}), tok, 0, "block 7", ErrInvalid},
		{"duplicate via prefix", cfg, with(bad), tok, 0, "both map to token_embd.weight", ErrInvalid},
		{"shape", cfg, reshaped("h.0.self_attention.dense.weight", []int{24, 12}), tok, 0, "has shape", ErrInvalid},
		{"dtype", cfg, append(without("ln_f.bias"), f16), tok, 0, "source dtype", ErrUnsupported},
		{"post-ln", post, list(psrc), tok, 0, "apply_residual_connection_post_layernorm", ErrUnsupported},
		{"config json", []byte("{"), list(src), tok, 0, "config.json", ErrInvalid},
		{"config heads", []byte(`{"hidden_size": 24, "n_head": 5, "n_layer": 2}`), list(src), tok, 0, "not a multiple", ErrInvalid},
		{"config missing", []byte(`{"hidden_size": 24, "n_layer": 2}`), list(src), tok, 0, "n_head", ErrInvalid},
		{"tokenizer", cfg, list(src), []byte(`{"model": {"type": "Unigram"}}`), 0, "model type", ErrUnsupported},
		{"tokenizer ids", cfg, list(src), []byte(`{"model": {"type": "BPE", "vocab": {"a": 5000}}}`), 0, "vocab_size", ErrInvalid},
		{"file type", cfg, list(src), tok, FileType(2), "file type", ErrUnsupported},
	}
	for _, c := range cases {
		err := ConvertBLOOM(&bytes.Buffer{}, c.cfg, c.tensors, c.tok, ConvertOptions{FileType: c.ft})
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.kind) || !strings.HasPrefix(err.Error(), "gguf: ") {
			t.Errorf("%s: err = %v, want %q (%v)", c.name, err, c.want, c.kind)
		}
	}
}

func TestBuildBLOOMVocab(t *testing.T) {
	tok := []byte(`{"added_tokens": [{"id": 0, "content": "<unk>", "special": true},
		{"id": 5, "content": "<|im|>", "special": false}, {"id": 6, "content": "hey", "special": false}],
		"model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3}, "merges": [["a", "b"], ["a b", "c"]]}}`)
	tc := []byte(`{"bos_token": {"content": "<unk>"}, "eos_token": "hey", "add_bos_token": false}`)
	v, err := BuildBLOOMVocab(tok, 8, map[string]int{"bos": 1, "pad": 7, "unk": 99}, tc)
	if err != nil {
		t.Fatal(err)
	}
	wantTok := []string{"<unk>", "a", "b", "ab", "[PAD4]", "<|im|>", "hey", "[PAD7]"}
	wantTyp := []int32{3, 1, 1, 1, 5, 3, 4, 5}
	if fmt.Sprint(v.Tokens) != fmt.Sprint(wantTok) || fmt.Sprint(v.Types) != fmt.Sprint(wantTyp) {
		t.Errorf("tokens %q types %v", v.Tokens, v.Types)
	}
	if fmt.Sprint(v.Merges) != fmt.Sprint([]string{"a b", "a\u0120b c"}) {
		t.Errorf("merges %q", v.Merges)
	}
	// tokenizer_config first (bos=<unk>=0, eos=hey=6), then config.json fills pad; unk 99 is out of range
	if fmt.Sprint(v.SpecialID) != fmt.Sprint(map[string]int{"bos": 0, "eos": 6, "pad": 7}) {
		t.Errorf("special ids %v", v.SpecialID)
	}
	if v.AddBOS == nil || *v.AddBOS || v.AddEOS != nil {
		t.Errorf("add_bos %v add_eos %v", v.AddBOS, v.AddEOS)
	}
}

// synthetic builds an in-memory BLOOM checkpoint (BF16) with a vocab large enough that the
// embedding spans several conversion slices.
func synthetic(vocab, hidden, heads, layers int) ([]byte, []SourceTensor, []byte) {
	cfg := []byte(fmt.Sprintf(`{"hidden_size": %d, "n_head": %d, "n_layer": %d, "vocab_size": %d, "layer_norm_epsilon": 1e-5}`, hidden, heads, layers, vocab))
	h := hidden
	shapes := map[string][]int{"word_embeddings.weight": {vocab, h}, "word_embeddings_layernorm.weight": {h},
		"word_embeddings_layernorm.bias": {h}, "ln_f.weight": {h}, "ln_f.bias": {h}}
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("h.%d.", l)
		for k, s := range map[string][]int{"input_layernorm.weight": {h}, "input_layernorm.bias": {h},
			"self_attention.query_key_value.weight": {3 * h, h}, "self_attention.query_key_value.bias": {3 * h},
			"self_attention.dense.weight": {h, h}, "self_attention.dense.bias": {h},
			"post_attention_layernorm.weight": {h}, "post_attention_layernorm.bias": {h},
			"mlp.dense_h_to_4h.weight": {4 * h, h}, "mlp.dense_h_to_4h.bias": {4 * h},
			"mlp.dense_4h_to_h.weight": {h, 4 * h}, "mlp.dense_4h_to_h.bias": {h}} {
			shapes[p+k] = s
		}
	}
	var ts []SourceTensor
	seed := uint32(1)
	for name, s := range shapes {
		n := numel(s)
		b := make([]byte, 2*n)
		for i := 0; i < n; i++ {
			seed = seed*1664525 + 1013904223
			v := float32(int32(seed>>8)%2000-1000) / 300
			binary.LittleEndian.PutUint16(b[2*i:], uint16(math.Float32bits(v)>>16))
		}
		ts = append(ts, SourceTensor{Name: name, DType: "BF16", Shape: s, Data: b})
	}
	tok := []byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}}`)
	return cfg, ts, tok
}

func TestConvertLargeTensorSlices(t *testing.T) {
	cfg, ts, tok := synthetic(5000, 32, 4, 1) // embedding: 160000 values, 3 slices
	var emb SourceTensor
	for _, x := range ts {
		if x.Name == "word_embeddings.weight" {
			emb = x
		}
	}
	want := values(emb)
	for _, ft := range []FileType{FileTypeF32, FileTypeF16, FileTypeQ8_0} {
		var buf bytes.Buffer
		if err := ConvertBLOOM(&buf, cfg, ts, tok, ConvertOptions{FileType: ft}); err != nil {
			t.Fatal(err)
		}
		f, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		te, _ := f.Tensor("token_embd.weight")
		got, err := te.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			tol := map[FileType]float64{FileTypeF32: 0, FileTypeF16: math.Abs(want[i]) * math.Pow(2, -11), FileTypeQ8_0: 3.34/127*0.5 + 3.34e-3}[ft]
			if d := math.Abs(float64(got[i]) - want[i]); d > tol {
				t.Fatalf("%v: token_embd[%d] = %v, want %v", ft, i, got[i], want[i])
			}
		}
		v, _ := f.Get("tokenizer.ggml.tokens")
		if toks := v.([]string); len(toks) != 5000 || toks[4999] != "[PAD4999]" {
			t.Fatalf("%v: %d tokens", ft, len(toks))
		}
	}
}

func TestAddTensorStream(t *testing.T) {
	w := NewWriter()
	if err := w.AddTensorStream("a", F32, []int{2}, func(o io.Writer) error { _, err := o.Write(make([]byte, 4)); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "produced 4 bytes") {
		t.Errorf("short stream: %v", err)
	}
	w = NewWriter()
	boom := errors.New("boom")
	_ = w.AddTensorStream("a", F32, []int{2}, func(io.Writer) error { return boom })
	if _, err := w.WriteTo(&bytes.Buffer{}); !errors.Is(err, boom) {
		t.Errorf("stream error not propagated: %v", err)
	}
	if err := NewWriter().AddTensorStream("a", F32, []int{2}, nil); err == nil {
		t.Error("nil write accepted")
	}
}
