// Command mkbloom writes a synthetic BLOOM checkpoint in the Hugging Face
// layout (config.json, tokenizer.json, model.safetensors) with random
// weights of any shape, for the browser tests and the browser benchmark:
//
//	go run ./e2e/lib/mkbloom -o DIR -hidden 1024 -layers 24 -heads 16 -vocab 250880 -dtype F16 -tokenizer models/brown-bloom/tokenizer.json
//
// The weights stream to disk tensor by tensor, so a bloom-560m-sized file
// (1.1 GB in F16) needs little memory. Values are small (std 0.02, layer
// norms at 1) so the forward pass stays finite.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

type tensor struct {
	name  string
	shape []int
	fill  string // "normal", "ones", "zeros"
}

func main() {
	out := flag.String("o", "", "output directory")
	hidden := flag.Int("hidden", 64, "hidden size")
	layers := flag.Int("layers", 2, "layers")
	heads := flag.Int("heads", 4, "attention heads")
	vocab := flag.Int("vocab", 300, "vocabulary size")
	dtype := flag.String("dtype", "F32", "F32, F16 or BF16")
	tok := flag.String("tokenizer", "", "tokenizer.json to copy (its vocabulary must fit -vocab)")
	seed := flag.Uint64("seed", 1, "random seed")
	arch := flag.String("model-type", "bloom", "model_type written to config.json (tests use an unknown one)")
	flag.Parse()
	if err := run(*out, *hidden, *layers, *heads, *vocab, strings.ToUpper(*dtype), *tok, *seed, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "mkbloom:", err)
		os.Exit(1)
	}
}

func run(out string, hidden, layers, heads, vocab int, dtype, tok string, seed uint64, arch string) error {
	if out == "" || tok == "" {
		return fmt.Errorf("-o and -tokenizer are required")
	}
	if hidden%heads != 0 {
		return fmt.Errorf("hidden %d is not a multiple of heads %d", hidden, heads)
	}
	esize := map[string]int{"F32": 4, "F16": 2, "BF16": 2}[dtype]
	if esize == 0 {
		return fmt.Errorf("dtype %q: want F32, F16 or BF16", dtype)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tb, err := os.ReadFile(tok)
	if err != nil {
		return err
	}
	if tb, err = padVocab(tb, vocab); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "tokenizer.json"), tb, 0o644); err != nil {
		return err
	}
	cfg := map[string]any{
		"architectures": []string{"BloomForCausalLM"}, "model_type": arch, "hidden_size": hidden, "n_layer": layers,
		"n_head": heads, "vocab_size": vocab, "layer_norm_epsilon": 1e-5, "bos_token_id": 1, "eos_token_id": 2,
		"pad_token_id": 3, "unk_token_id": 0, "apply_residual_connection_post_layernorm": false,
		"seq_length": 2048, "torch_dtype": map[string]string{"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
	}
	cb, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "config.json"), append(cb, '\n'), 0o644); err != nil {
		return err
	}
	var ts []tensor
	ts = append(ts, tensor{"word_embeddings.weight", []int{vocab, hidden}, "normal"},
		tensor{"word_embeddings_layernorm.weight", []int{hidden}, "ones"},
		tensor{"word_embeddings_layernorm.bias", []int{hidden}, "zeros"})
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("h.%d.", l)
		ts = append(ts,
			tensor{p + "input_layernorm.weight", []int{hidden}, "ones"},
			tensor{p + "input_layernorm.bias", []int{hidden}, "zeros"},
			tensor{p + "self_attention.query_key_value.weight", []int{3 * hidden, hidden}, "normal"},
			tensor{p + "self_attention.query_key_value.bias", []int{3 * hidden}, "zeros"},
			tensor{p + "self_attention.dense.weight", []int{hidden, hidden}, "normal"},
			tensor{p + "self_attention.dense.bias", []int{hidden}, "zeros"},
			tensor{p + "post_attention_layernorm.weight", []int{hidden}, "ones"},
			tensor{p + "post_attention_layernorm.bias", []int{hidden}, "zeros"},
			tensor{p + "mlp.dense_h_to_4h.weight", []int{4 * hidden, hidden}, "normal"},
			tensor{p + "mlp.dense_h_to_4h.bias", []int{4 * hidden}, "zeros"},
			tensor{p + "mlp.dense_4h_to_h.weight", []int{hidden, 4 * hidden}, "normal"},
			tensor{p + "mlp.dense_4h_to_h.bias", []int{hidden}, "zeros"})
	}
	ts = append(ts, tensor{"ln_f.weight", []int{hidden}, "ones"}, tensor{"ln_f.bias", []int{hidden}, "zeros"})

	// Header.
	hdr := map[string]any{"__metadata__": map[string]string{"format": "pt", "generator": "e2e/lib/mkbloom"}}
	var off int64
	for _, t := range ts {
		n := int64(esize)
		for _, d := range t.shape {
			n *= int64(d)
		}
		hdr[t.name] = map[string]any{"dtype": dtype, "shape": t.shape, "data_offsets": []int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	f, err := os.Create(filepath.Join(out, "model.safetensors"))
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(hj)))
	w.Write(lb[:])
	w.Write(hj)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var eb [4]byte
	for _, t := range ts {
		n := 1
		for _, d := range t.shape {
			n *= d
		}
		for i := 0; i < n; i++ {
			var v float32
			switch t.fill {
			case "normal":
				v = float32(rng.NormFloat64() * 0.02)
			case "ones":
				v = 1
			}
			switch dtype {
			case "F32":
				binary.LittleEndian.PutUint32(eb[:], math.Float32bits(v))
			case "F16":
				binary.LittleEndian.PutUint16(eb[:], f32ToF16(v))
			case "BF16":
				binary.LittleEndian.PutUint16(eb[:], uint16(math.Float32bits(v)>>16))
			}
			w.Write(eb[:esize])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// padVocab adds tokens "<extra_N>" to a tokenizer.json whose model
// vocabulary is smaller than vocab, so every id the random model can
// produce decodes (a bloom-560m-shaped model has 250880 ids).
func padVocab(tb []byte, vocab int) ([]byte, error) {
	var t map[string]any
	if err := json.Unmarshal(tb, &t); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	m, _ := t["model"].(map[string]any)
	v, _ := m["vocab"].(map[string]any)
	if v == nil {
		return tb, nil
	}
	n := len(v)
	if added, ok := t["added_tokens"].([]any); ok {
		for _, a := range added {
			if am, ok := a.(map[string]any); ok {
				if id, ok := am["id"].(float64); ok && int(id) >= n {
					n = int(id) + 1
				}
			}
		}
	}
	if n >= vocab {
		return tb, nil
	}
	for id := n; id < vocab; id++ {
		v[fmt.Sprintf("<extra_%d>", id)] = id
	}
	return json.Marshal(t)
}

// f32ToF16 converts with round-to-nearest-even; the values here are small
// and finite.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp >= 31:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		h := mant >> shift
		if rem := mant & (1<<shift - 1); rem > 1<<(shift-1) || (rem == 1<<(shift-1) && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
