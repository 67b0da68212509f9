package gguf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// convertFixture converts an engine/testdata fixture with ConvertDir and parses the result.
func convertFixture(t *testing.T, name string, ft FileType) *File {
	t.Helper()
	var buf bytes.Buffer
	if err := ConvertDir(&buf, filepath.Join("..", "testdata", name), ConvertOptions{FileType: ft, Name: name}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func TestConvertMPT(t *testing.T) {
	tests := []struct {
		fixture string
		clamp   float64 // 0: no clamp_kqv key
		maxBias float64
		extra   []string // tensors that must exist
		absent  []string
	}{
		{"mpt-f32-h4-l2", 0, 8, nil, []string{"blk.0.attn_qkv.bias", "blk.0.attn_q_norm.weight", "output.weight"}},
		{"mpt-f16-h6-clip", 1.5, 8, nil, []string{"blk.1.attn_norm.bias"}},
		{"mpt-f16-h6-qkln", 1.5, 8, []string{"blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight"}, []string{"blk.0.attn_q_norm.bias"}},
		{"mpt-bf16-h12-bias", 0, 16, []string{"blk.0.attn_qkv.bias", "blk.1.ffn_down.bias", "output_norm.bias", "blk.0.attn_norm.bias"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join("..", "testdata", tc.fixture)); err != nil {
				t.Skip("fixture missing")
			}
			f := convertFixture(t, tc.fixture, FileTypeF32)
			if a, _ := f.String(KeyArchitecture); a != "mpt" {
				t.Fatalf("architecture %q", a)
			}
			if p, _ := f.String(KeyTokenizerPre); p != "mpt" {
				t.Errorf("pre-tokenizer %q", p)
			}
			if v, ok := f.Float("mpt.attention.max_alibi_bias"); !ok || v != tc.maxBias {
				t.Errorf("max_alibi_bias %v %v, want %v", v, ok, tc.maxBias)
			}
			v, ok := f.Float("mpt.attention.clamp_kqv")
			if (tc.clamp == 0) == ok || (ok && v != tc.clamp) {
				t.Errorf("clamp_kqv %v %v, want %v", v, ok, tc.clamp)
			}
			h, _ := f.Uint("mpt.embedding_length")
			if ff, _ := f.Uint("mpt.feed_forward_length"); ff != 4*h {
				t.Errorf("feed_forward_length %d for embedding %d", ff, h)
			}
			var names []string
			for _, ti := range f.Tensors {
				names = append(names, ti.Name)
			}
			for _, want := range append([]string{"token_embd.weight", "output_norm.weight", "blk.1.attn_qkv.weight",
				"blk.1.attn_output.weight", "blk.1.ffn_up.weight", "blk.1.ffn_down.weight", "blk.1.ffn_norm.weight"}, tc.extra...) {
				if !slices.Contains(names, want) {
					t.Errorf("missing tensor %s", want)
				}
			}
			for _, no := range tc.absent {
				if slices.Contains(names, no) {
					t.Errorf("unexpected tensor %s", no)
				}
			}
			qkv, _ := f.Tensor("blk.0.attn_qkv.weight")
			if s := qkv.Shape(); len(s) != 2 || s[0] != 3*int(h) || s[1] != int(h) {
				t.Errorf("attn_qkv shape %v", s)
			}
		})
	}
}

func TestConvertRefusesWhatLlamaCannotRun(t *testing.T) {
	dir := filepath.Join("..", "testdata", "mpt-f32-h4-l2")
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Skip("fixture missing")
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	st, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	tensors, err := SafetensorsTensors(st)
	if err != nil {
		t.Fatal(err)
	}
	s := string(cfg)
	for _, tc := range []struct{ name, from, to string }{
		{"logit_scale", `"logit_scale": null`, `"logit_scale": "inv_sqrt_d_model"`},
		{"softmax_scale", `"softmax_scale": null`, `"softmax_scale": 0.25`},
		{"expansion_ratio", `"expansion_ratio": 4`, `"expansion_ratio": 2`},
		{"no alibi", `"alibi": true`, `"alibi": false`},
		{"gqa", `"attn_type": "multihead_attention"`, `"attn_type": "grouped_query_attention"`},
	} {
		if !strings.Contains(s, tc.from) {
			t.Fatalf("%s: fixture config lacks %s", tc.name, tc.from)
		}
		err := ConvertMPT(&bytes.Buffer{}, []byte(strings.Replace(s, tc.from, tc.to, 1)), tensors, tok, ConvertOptions{})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err %v, want ErrUnsupported", tc.name, err)
		}
	}
	// a missing tensor is invalid input
	err = ConvertMPT(&bytes.Buffer{}, cfg, tensors[1:], tok, ConvertOptions{})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("missing tensor: err %v, want ErrInvalid", err)
	}
}

func TestConvertJais(t *testing.T) {
	for _, tc := range []struct {
		fixture    string
		emb, width float32
		heads      int
	}{
		{"jais-f32-h4-l2", 1.5, 2.0, 4},
		{"jais-f32-h5-buffers", 1.0, 2.0, 5},
		{"jais-f16-h6-newkeys", 2.0, 1.5, 6},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", tc.fixture)
			st, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Skip("fixture missing")
			}
			src, err := SafetensorsTensors(st)
			if err != nil {
				t.Fatal(err)
			}
			by := map[string]SourceTensor{}
			for _, s := range src {
				by[s.Name] = s
			}
			f := convertFixture(t, tc.fixture, FileTypeF32)
			if a, _ := f.String(KeyArchitecture); a != "jais" {
				t.Fatalf("architecture %q", a)
			}
			if b, _ := f.Float("jais.attention.max_alibi_bias"); b != 8 {
				t.Errorf("max_alibi_bias %v", b)
			}
			for _, ti := range f.Tensors {
				if strings.Contains(ti.Name, "attn.bias") || strings.Contains(ti.Name, "masked") || strings.Contains(ti.Name, "slopes") {
					t.Errorf("unexpected tensor %s", ti.Name)
				}
			}
			wte := by["transformer.wte.weight"]
			wv := toFloat32(wte.DType, wte.Data)
			emb, _ := f.Tensor("token_embd.weight")
			ev, err := emb.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			out, hasOut := f.Tensor("output.weight")
			if hasOut != (tc.emb != tc.width) {
				t.Errorf("output.weight present %v with scales %v, %v", hasOut, tc.emb, tc.width)
			}
			var ov []float32
			if hasOut {
				ov, _ = out.Float32s()
			}
			for i := 0; i < len(wv); i += 97 {
				if ev[i] != wv[i]*tc.emb {
					t.Fatalf("token_embd[%d] = %v, want %v·%v", i, ev[i], wv[i], tc.emb)
				}
				if hasOut && ov[i] != wv[i]*tc.width {
					t.Fatalf("output[%d] = %v, want %v·%v", i, ov[i], wv[i], tc.width)
				}
			}
			// Conv1D (in, out) is written transposed: qkv[o][i] = c_attn[i][o].
			ca := by["transformer.h.1.attn.c_attn.weight"]
			cv := toFloat32(ca.DType, ca.Data)
			in, outDim := ca.Shape[0], ca.Shape[1]
			q, _ := f.Tensor("blk.1.attn_qkv.weight")
			if s := q.Shape(); s[0] != outDim || s[1] != in {
				t.Fatalf("attn_qkv shape %v for c_attn %v", s, ca.Shape)
			}
			qv, _ := q.Float32s()
			for o := 0; o < outDim; o += 7 {
				for i := 0; i < in; i += 5 {
					if qv[o*in+i] != cv[i*outDim+o] {
						t.Fatalf("attn_qkv[%d][%d] = %v, c_attn[%d][%d] = %v", o, i, qv[o*in+i], i, o, cv[i*outDim+o])
					}
				}
			}
			if _, ok := f.Tensor("blk.0.ffn_gate.weight"); !ok {
				t.Error("missing ffn_gate (c_fc2)")
			}
		})
	}
}

func TestConvertBaichuan(t *testing.T) {
	name := "baichuan-f32-h4-l2"
	dir := filepath.Join("..", "testdata", name)
	st, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Skip("fixture missing")
	}
	src, err := SafetensorsTensors(st)
	if err != nil {
		t.Fatal(err)
	}
	var pack SourceTensor
	for _, s := range src {
		if s.Name == "model.layers.1.self_attn.W_pack.weight" {
			pack = s
		}
	}
	pv := toFloat32(pack.DType, pack.Data)
	f := convertFixture(t, name, FileTypeF32)
	if a, _ := f.String(KeyArchitecture); a != "baichuan" {
		t.Fatalf("architecture %q", a)
	}
	if m, _ := f.String(KeyTokenizerModel); m != "llama" {
		t.Errorf("tokenizer model %q", m)
	}
	h, H := 32, 4
	d := h / H
	for part, tn := range []string{"attn_q", "attn_k", "attn_v"} {
		ti, ok := f.Tensor("blk.1." + tn + ".weight")
		if !ok {
			t.Fatalf("missing %s", tn)
		}
		v, _ := ti.Float32s()
		for r := 0; r < h; r++ {
			src := r // V is not permuted
			if part < 2 {
				// row head·d + 2i + j comes from head·d + j·d/2 + i
				head, i, j := r/d, (r%d)/2, r%2
				src = head*d + j*(d/2) + i
			}
			for c := 0; c < h; c += 3 {
				if v[r*h+c] != pv[(part*h+src)*h+c] {
					t.Fatalf("%s[%d][%d] = %v, W_pack row %d = %v", tn, r, c, v[r*h+c], part*h+src, pv[(part*h+src)*h+c])
				}
			}
		}
	}
	tok, _ := f.Get(KeyTokens)
	types, _ := f.Get(KeyTokenType)
	scores, _ := f.Get("tokenizer.ggml.scores")
	if tl, ok := tok.([]string); !ok || len(tl) != 400 || tl[0] != "<unk>" || tl[1] != "<s>" {
		t.Errorf("tokens %T", tok)
	}
	if tt, ok := types.([]int32); !ok || tt[0] != TokenUnknown || tt[1] != TokenControl || tt[3] != TokenByte {
		t.Errorf("token types %v", types)
	}
	if sc, ok := scores.([]float32); !ok || len(sc) != 400 {
		t.Errorf("scores %T", scores)
	}
	if _, ok := f.Tensor("output.weight"); !ok {
		t.Error("missing output.weight (untied lm_head)")
	}
	if _, err := ReadSentencePiecePieces([]byte{0x0a, 0x05, 0x0a}); err == nil {
		t.Error("truncated tokenizer.model accepted")
	}
}
