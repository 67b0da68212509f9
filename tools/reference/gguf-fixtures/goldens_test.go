package main

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c9e48c40/alibi/engine/gguf"
)

const testdata = "../../../engine/testdata"

type reference struct {
	Fixture string      `json:"fixture"`
	IDs     []int       `json:"ids"`
	Logits  [][]float64 `json:"logits"`
	DType   string      `json:"dtype"`
	Greedy  struct {
		Tokens    []int   `json:"tokens"`
		MinMargin float64 `json:"min_margin"`
	} `json:"greedy"`
}

type greedy struct {
	Prompt     []int      `json:"prompt"`
	Tokens     []int      `json:"tokens"`
	Source     string     `json:"source"`
	LogitsLast []*float64 `json:"logits_last"`
}

func logSoftmax(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	var s float64
	for _, v := range x {
		s += math.Exp(v - m)
	}
	l := m + math.Log(s)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v - l
	}
	return out
}

// TestGoldensAgree checks the committed goldens against each other: the numpy reference
// (reference.json) and llama.cpp (greedy.json) must give the same 32 greedy tokens and
// log-probabilities at the last prompt position within 2e-2, and every fixture but the
// post-layernorm one (which llama.cpp cannot run) must have a greedy.json.
func TestGoldensAgree(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testdata, "bloom-*"))
	if len(dirs) == 0 {
		t.Fatal("no fixtures under engine/testdata (run tools/reference/regen.sh)")
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		var ref reference
		readJSON(t, filepath.Join(dir, "reference.json"), &ref)
		if ref.Fixture != name || len(ref.Logits) != len(ref.IDs) || len(ref.Greedy.Tokens) != 32 {
			t.Errorf("%s: malformed reference.json", name)
			continue
		}
		gpath := filepath.Join(dir, "greedy.json")
		if strings.Contains(name, "postln") {
			if _, err := os.Stat(gpath); err == nil {
				t.Errorf("%s: llama.cpp cannot run post-layernorm BLOOM, greedy.json should not exist", name)
			}
			continue
		}
		var g greedy
		readJSON(t, gpath, &g)
		if !equal(g.Prompt, ref.IDs) {
			t.Errorf("%s: greedy.json prompt differs from reference.json ids", name)
		}
		if !equal(g.Tokens, ref.Greedy.Tokens) {
			t.Errorf("%s: llama.cpp greedy %v != numpy greedy %v", name, g.Tokens, ref.Greedy.Tokens)
		}
		want := logSoftmax(ref.Logits[len(ref.Logits)-1])
		if len(g.LogitsLast) != len(want) {
			t.Fatalf("%s: %d llama.cpp log-probs for vocab %d", name, len(g.LogitsLast), len(want))
		}
		worst := 0.0
		for i, p := range g.LogitsLast {
			if p == nil || *p < math.Log(1e-30) {
				continue
			}
			worst = math.Max(worst, math.Abs(*p-want[i]))
		}
		if worst > 2e-2 {
			t.Errorf("%s: llama.cpp vs numpy log-softmax max diff %.3g > 2e-2", name, worst)
		}
		t.Logf("%s: llama.cpp vs numpy last-position max |Δ log p| = %.2e, greedy 32/32", name, worst)
	}
}

// TestRunConverts converts every runnable fixture with the tool and reads the GGUFs back.
func TestRunConverts(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testdata, "bloom-*"))
	var ok []string
	for _, d := range dirs {
		if !strings.Contains(d, "postln") {
			ok = append(ok, d)
		}
	}
	out := t.TempDir()
	if err := run(io.Discard, out, "q8_0", ok); err != nil {
		t.Fatal(err)
	}
	for _, d := range ok {
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(d)+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if arch, _ := f.String("general.architecture"); arch != "bloom" {
			t.Errorf("%s: architecture %q", d, arch)
		}
	}
	if err := run(io.Discard, out, "f32", []string{filepath.Join(testdata, "bloom-f32-h6-postln")}); err == nil {
		t.Error("post-layernorm fixture converted without error")
	}
	if _, err := os.Stat(filepath.Join(out, "bloom-f32-h6-postln.gguf")); err == nil {
		t.Error("a failed conversion left its output file behind")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
