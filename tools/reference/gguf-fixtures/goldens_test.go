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
	dirs := llamaFamilyDirs()
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
		if noLlama(name) {
			if _, err := os.Stat(gpath); err == nil {
				t.Errorf("%s: llama.cpp cannot run this configuration, greedy.json should not exist", name)
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
	dirs := llamaFamilyDirs()
	var ok []string
	for _, d := range dirs {
		if !noLlama(filepath.Base(d)) {
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
		fam := strings.SplitN(filepath.Base(d), "-", 2)[0]
		if arch, _ := f.String("general.architecture"); arch != fam {
			t.Errorf("%s: architecture %q, want %q", d, arch, fam)
		}
	}
	// configurations llama.cpp cannot run are skipped, with no output file
	for _, name := range []string{"bloom-f32-h6-postln", "mpt-f32-h5-scales"} {
		var buf strings.Builder
		if err := run(&buf, out, "f32", []string{filepath.Join(testdata, name)}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(buf.String(), "skip ") {
			t.Errorf("%s: converted (output %q), want skipped", name, buf.String())
		}
		if _, err := os.Stat(filepath.Join(out, name+".gguf")); err == nil {
			t.Errorf("%s: a refused conversion left its output file behind", name)
		}
	}
}

// llamaFamilyDirs lists the fixtures of the families llama.cpp runs.
func llamaFamilyDirs() []string {
	var dirs []string
	for _, fam := range []string{"bloom", "mpt", "jais", "baichuan"} {
		d, _ := filepath.Glob(filepath.Join(testdata, fam+"-*"))
		dirs = append(dirs, d...)
	}
	return dirs
}

// noLlama reports fixtures llama.cpp cannot run: post-layernorm BLOOM (no
// such graph), MPT qk_ln (wllama 2.3.7's llama.cpp aborts on the Q/K
// reshape), MPT logit_scale/softmax_scale/expansion_ratio (refused by the
// converter: the mpt graph would compute something else) and Baichuan with
// other than 40 layers (llama.cpp picks ALiBi by the 13B layer count).
func noLlama(name string) bool {
	return strings.Contains(name, "postln") || strings.Contains(name, "qkln") || strings.Contains(name, "scales") ||
		(strings.HasPrefix(name, "baichuan-") && !strings.HasSuffix(name, "-l40"))
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
