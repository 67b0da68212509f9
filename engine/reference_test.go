package engine

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReferenceLogits loads every engine/testdata/<family>-*/ fixture (HF
// layout, written by tools/reference) with LoadDir and checks the logits at
// every position against reference.json, produced by an independent
// float64 numpy forward: max abs difference ≤ 1e-3.
func TestReferenceLogits(t *testing.T) {
	dirs := fixtureDirs()
	var n int
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "reference.json")); err != nil {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "reference.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Fixture string      `json:"fixture"`
				IDs     []int       `json:"ids"`
				Logits  [][]float64 `json:"logits"`
				DType   string      `json:"dtype"`
			}
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			if len(ref.IDs) == 0 || len(ref.Logits) != len(ref.IDs) {
				t.Fatalf("reference has %d ids and %d logit rows", len(ref.IDs), len(ref.Logits))
			}
			m, err := LoadDir(dir, LoadOptions{ContextLength: max(len(ref.IDs), 8)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.NewSession().PrefillAll(context.Background(), ref.IDs)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for p := range ref.IDs {
				if len(ref.Logits[p]) != m.cfg.VocabSize {
					t.Fatalf("position %d: %d reference logits, vocab %d", p, len(ref.Logits[p]), m.cfg.VocabSize)
				}
				worst = max(worst, maxAbsDiff(got[p], ref.Logits[p]))
			}
			t.Logf("%s (%s, %d positions): max abs logit diff %.2e", ref.Fixture, ref.DType, len(ref.IDs), worst)
			if worst > 1e-3 {
				t.Errorf("max abs logit diff %.3g > 1e-3", worst)
			}
		})
	}
	if n == 0 {
		if os.Getenv("ALIBI_FULL") == "1" {
			t.Fatal("no engine/testdata/bloom-*/reference.json fixtures (run tools/reference)")
		}
		t.Skip("no engine/testdata/bloom-*/reference.json fixtures yet (tools/reference writes them)")
	}
}

// TestGreedyReference checks greedy generation against llama.cpp (through
// wllama) on the fixtures that have a greedy.json: the same 32 tokens, and
// log-softmax of the last prompt position within 2e-2 (llama.cpp uses a
// table GELU).
func TestGreedyReference(t *testing.T) {
	dirs := fixtureDirs()
	var n int
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "greedy.json"))
		if err != nil {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var g struct {
				Prompt     []int     `json:"prompt"`
				Tokens     []int     `json:"tokens"`
				LogitsLast []float64 `json:"logits_last"`
				Source     string    `json:"source"`
			}
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			m, err := LoadDir(dir, LoadOptions{ContextLength: len(g.Prompt) + len(g.Tokens)})
			if err != nil {
				t.Fatal(err)
			}
			s := m.NewSession()
			logits, err := s.Prefill(context.Background(), g.Prompt)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.LogitsLast) > 0 {
				if len(g.LogitsLast) != len(logits) {
					t.Fatalf("logits_last has %d entries, vocab %d", len(g.LogitsLast), len(logits))
				}
				ls := logSoftmax(logits)
				var worst float64
				for i := range ls {
					worst = max(worst, math.Abs(ls[i]-g.LogitsLast[i]))
				}
				t.Logf("log-softmax vs %s: max abs diff %.2e", g.Source, worst)
				if worst > 2e-2 {
					t.Errorf("log-softmax differs from %s by %.3g > 2e-2", g.Source, worst)
				}
			}
			var got []int
			err = s.Generate(context.Background(), g.Prompt, GenerateOptions{MaxTokens: len(g.Tokens)}, func(id int) error {
				got = append(got, id)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, g.Tokens) {
				t.Errorf("greedy tokens\n got %v\nwant %v (%s)", got, g.Tokens, g.Source)
			}
		})
	}
	if n == 0 {
		if os.Getenv("ALIBI_FULL") == "1" {
			t.Fatal("no engine/testdata/bloom-*/greedy.json goldens")
		}
		t.Skip("no engine/testdata/bloom-*/greedy.json goldens yet")
	}
}

// fixtureDirs lists the model fixtures of every family under testdata
// (bloom-*, mpt-*, falcon-*, jais-*, btlm-*, baichuan-*).
func fixtureDirs() []string {
	var dirs []string
	for _, fam := range SupportedArchitectures() {
		d, _ := filepath.Glob(filepath.Join("testdata", fam+"-*"))
		dirs = append(dirs, d...)
	}
	return dirs
}

func logSoftmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - mx - math.Log(sum)
	}
	return out
}

// TestInt8Fixtures measures int8 against f32 logits on the fixtures (and on
// the bundled models/brown-bloom when it has weights): every position, max
// abs error, logged and bounded relative to the logit range.
func TestInt8Fixtures(t *testing.T) {
	dirs := fixtureDirs()
	if _, err := os.Stat(filepath.Join("..", "models", "brown-bloom", "config.json")); err == nil {
		dirs = append(dirs, filepath.Join("..", "models", "brown-bloom"))
	}
	var n int
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
			continue
		}
		if strings.HasSuffix(dir, "-l40") {
			// A random 40-layer network (the Baichuan fixture llama.cpp needs)
			// amplifies any weight error chaotically; int8 accuracy is measured
			// on the 1-3 layer fixtures of every family and on brown-bloom.
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ids := randomIDs(64, 200, 1)
			var logits [2][][]float32
			var bytes [2]int64
			for i, q := range []Quant{QuantNone, QuantInt8} {
				m, err := LoadDir(dir, LoadOptions{Quant: q, ContextLength: len(ids)})
				if err != nil {
					t.Fatal(err)
				}
				for j := range ids {
					ids[j] %= m.cfg.VocabSize
				}
				if logits[i], err = m.NewSession().PrefillAll(context.Background(), ids); err != nil {
					t.Fatal(err)
				}
				bytes[i] = m.Info().WeightBytes
			}
			var maxErr, maxLogit float64
			agree := 0
			for p := range ids {
				for j := range logits[0][p] {
					maxErr = max(maxErr, math.Abs(float64(logits[1][p][j]-logits[0][p][j])))
					maxLogit = max(maxLogit, math.Abs(float64(logits[0][p][j])))
				}
				if argmax(logits[0][p]) == argmax(logits[1][p]) {
					agree++
				}
			}
			t.Logf("int8 vs f32: max abs logit error %.4f (max |logit| %.2f), argmax agrees at %d/%d positions, weights %d -> %d bytes",
				maxErr, maxLogit, agree, len(ids), bytes[0], bytes[1])
			if maxErr > 0.05*maxLogit+0.05 {
				t.Errorf("int8 max abs logit error %.4f > %.4f", maxErr, 0.05*maxLogit+0.05)
			}
		})
	}
	if n == 0 {
		t.Skip("no fixtures")
	}
}
