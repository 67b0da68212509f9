package engine

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestSamplerGreedy(t *testing.T) {
	logits := []float32{0.1, 2, -1, 2, 0.5}
	for _, o := range []SampleOptions{{}, {Temperature: -1}, {Temperature: 1, TopK: 1}} {
		if got := NewSampler(o).Sample(logits, nil); got != 1 {
			t.Errorf("%+v: %d, want 1 (first of the tied maxima)", o, got)
		}
	}
	nan := []float32{float32(math.NaN()), 1, 3}
	if got := NewSampler(SampleOptions{}).Sample(nan, nil); got != 2 {
		t.Errorf("NaN logits: %d", got)
	}
	if got := NewSampler(SampleOptions{Temperature: 1, TopP: 0.5}).Sample(nan, nil); got != 2 && got != 1 {
		t.Errorf("NaN logits with sampling: %d", got)
	}
	if got := NewSampler(SampleOptions{Temperature: 1}).Sample(nil, nil); got != 0 {
		t.Errorf("empty logits: %d", got)
	}
}

// frequencies samples n times and returns the share of each id.
func frequencies(o SampleOptions, logits []float32, history []int, n int) []float64 {
	sp := NewSampler(o)
	f := make([]float64, len(logits))
	for i := 0; i < n; i++ {
		f[sp.Sample(logits, history)]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

func softmax64(logits []float32, temp float64) []float64 {
	p := make([]float64, len(logits))
	var s float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) / temp)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func TestSamplerDistribution(t *testing.T) {
	logits := []float32{1, 2, 0, 1.5, -1}
	const n = 40000
	check := func(name string, got, want []float64) {
		t.Helper()
		for i := range want {
			// 4.5 standard deviations of a binomial share.
			tol := 4.5*math.Sqrt(want[i]*(1-want[i])/n) + 1e-9
			if math.Abs(got[i]-want[i]) > tol {
				t.Errorf("%s: id %d share %.4f, want %.4f ± %.4f", name, i, got[i], want[i], tol)
			}
		}
	}
	for _, temp := range []float64{1, 0.5, 2} {
		check("temperature", frequencies(SampleOptions{Temperature: float32(temp), Seed: 1}, logits, nil, n), softmax64(logits, temp))
	}
	// Top-k 2 keeps ids 1 and 3.
	p := softmax64([]float32{2, 1.5}, 1)
	check("top-k", frequencies(SampleOptions{Temperature: 1, TopK: 2, Seed: 2}, logits, nil, n), []float64{0, p[0], 0, p[1], 0})
	// Top-p: sorted probabilities of ids 1, 3, 0 (, 2, 4). P = 0.6 keeps 1 and 3.
	full := softmax64(logits, 1)
	if full[1] >= 0.6 || full[1]+full[3] < 0.6 {
		t.Fatalf("fixture: %v", full)
	}
	check("top-p", frequencies(SampleOptions{Temperature: 1, TopP: 0.6, Seed: 3}, logits, nil, n), []float64{0, p[0], 0, p[1], 0})
	// Min-p 0.5: keep p ≥ 0.5·p(1): ids 1 (1), 3 (e^-0.5 = 0.61), 0 (e^-1 = 0.37 dropped).
	check("min-p", frequencies(SampleOptions{Temperature: 1, MinP: 0.5, Seed: 4}, logits, nil, n), []float64{0, p[0], 0, p[1], 0})
	// Repetition penalty 2 on ids 1 (positive: halved) and 4 (negative: doubled).
	pen := []float32{1, 1, 0, 1.5, -2}
	check("repetition", frequencies(SampleOptions{Temperature: 1, RepetitionPenalty: 2, Seed: 5}, logits, []int{1, 4, 1}, n), softmax64(pen, 1))
	if got := NewSampler(SampleOptions{RepetitionPenalty: 2}).Sample(logits, []int{1, 99, -3}); got != 3 {
		t.Errorf("greedy with repetition penalty: %d, want 3", got)
	}
	// Top-k over a large vocabulary (heap path), combined with top-p.
	big := make([]float32, 1000)
	for i := range big {
		big[i] = float32(i%97) / 10
	}
	f := frequencies(SampleOptions{Temperature: 1, TopK: 20, TopP: 0.9, Seed: 6}, big, nil, 2000)
	for i, v := range f {
		if v > 0 && i%97 < 90 {
			t.Fatalf("top-k 20 sampled id %d (logit %v)", i, big[i])
		}
	}
}

func TestSamplerSeeded(t *testing.T) {
	logits := make([]float32, 300)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	run := func(seed uint64) []int {
		sp := NewSampler(SampleOptions{Temperature: 0.8, TopK: 50, TopP: 0.95, MinP: 0.01, Seed: seed})
		var out []int
		for i := 0; i < 50; i++ {
			out = append(out, sp.Sample(logits, out))
		}
		return out
	}
	if a, b := run(7), run(7); !slices.Equal(a, b) {
		t.Error("same seed, different samples")
	}
	if a, b := run(7), run(8); slices.Equal(a, b) {
		t.Error("different seeds, same samples")
	}
	sp := NewSampler(SampleOptions{Temperature: 1, TopP: 0.9, Seed: 1})
	sp.Sample(logits, nil)
	if a := testing.AllocsPerRun(20, func() { sp.Sample(logits, nil) }); a != 0 {
		t.Errorf("Sample allocates %v times after the first call", a)
	}
}

func TestGenerate(t *testing.T) {
	tb := newTinyBloom(t, tinyOpts{hidden: 16, heads: 4, layers: 2, vocab: 50, seed: 12})
	m := tb.load(t, LoadOptions{ContextLength: 30})
	ctx := context.Background()
	collect := func(s *Session, prompt []int, o GenerateOptions) ([]int, error) {
		var out []int
		err := s.Generate(ctx, prompt, o, func(id int) error { out = append(out, id); return nil })
		return out, err
	}
	prompt := []int{3, 7, 11, 13}
	s := m.NewSession()
	greedy, err := collect(s, prompt, GenerateOptions{MaxTokens: 10})
	if err != nil || len(greedy) != 10 {
		t.Fatalf("%v %v", greedy, err)
	}
	// Greedy generation equals argmax of a fresh full prefill at each step.
	seq := append([]int(nil), prompt...)
	for _, id := range greedy {
		all, err := m.NewSession().PrefillAll(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if want := argmax(all[len(all)-1]); id != want {
			t.Fatalf("greedy token %d, full prefill argmax %d", id, want)
		}
		seq = append(seq, id)
	}
	// Continuing with prompt + generated ids reuses the cache: only the last
	// generated id (never run) is prefilled, and the result matches a fresh run.
	if s.Len() != len(prompt)+9 {
		t.Errorf("Len after generate = %d", s.Len())
	}
	more, err := collect(s, seq, GenerateOptions{MaxTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := collect(m.NewSession(), seq, GenerateOptions{MaxTokens: 3})
	if !slices.Equal(more, fresh) {
		t.Errorf("continued %v, fresh %v", more, fresh)
	}
	// A prompt that is a prefix of the context, or diverges from it,
	// rewinds and gives what a fresh session gives.
	again, _ := collect(s, prompt, GenerateOptions{MaxTokens: 10})
	if !slices.Equal(again, greedy) {
		t.Errorf("after rewind %v, want %v", again, greedy)
	}
	diverge := append(append([]int(nil), seq[:6]...), 1, 2)
	got, err := collect(s, diverge, GenerateOptions{MaxTokens: 4})
	want, _ := collect(m.NewSession(), diverge, GenerateOptions{MaxTokens: 4})
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("diverging prompt: %v (%v), fresh %v", got, err, want)
	}
	// An empty prompt continues from the context; the same prompt again
	// reuses the logits of its last position.
	s2 := m.NewSession()
	first, _ := collect(s2, prompt, GenerateOptions{MaxTokens: 1})
	same, _ := collect(s2, prompt, GenerateOptions{MaxTokens: 1})
	if len(first) != 1 || !slices.Equal(first, same) || first[0] != greedy[0] || s2.Len() != len(prompt) {
		t.Errorf("same prompt twice: %v %v (Len %d)", first, same, s2.Len())
	}
	cont, err := collect(s2, nil, GenerateOptions{MaxTokens: 1})
	if err != nil || !slices.Equal(cont, greedy[:1]) {
		t.Errorf("empty prompt continues: %v %v", cont, err)
	}
	// Stop ids end generation without being yielded.
	stopped, err := collect(m.NewSession(), prompt, GenerateOptions{MaxTokens: 10, StopIDs: []int{greedy[3]}})
	if err != nil || !slices.Equal(stopped, greedy[:slices.Index(greedy, greedy[3])]) {
		t.Errorf("stop: %v %v", stopped, err)
	}
	// Seeded sampling is reproducible.
	o := GenerateOptions{SampleOptions: SampleOptions{Temperature: 1, TopK: 10, Seed: 42}, MaxTokens: 8}
	a, _ := collect(m.NewSession(), prompt, o)
	b, _ := collect(m.NewSession(), prompt, o)
	if !slices.Equal(a, b) {
		t.Errorf("seeded generate differs: %v %v", a, b)
	}
	// MaxTokens ≤ 0 fills the context and stops cleanly; MaxTokens beyond it fails.
	full, err := collect(m.NewSession(), prompt, GenerateOptions{})
	if err != nil || len(full) != 30-len(prompt)+1 {
		t.Errorf("until full: %d tokens, %v", len(full), err)
	}
	_, err = collect(m.NewSession(), prompt, GenerateOptions{MaxTokens: 40})
	if !errors.Is(err, ErrContext) {
		t.Errorf("overflow: %v", err)
	}
	// Cancellation between tokens, and yield errors, are returned.
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	err = m.NewSession().Generate(cctx, prompt, GenerateOptions{MaxTokens: 10}, func(int) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Errorf("cancel: n=%d err=%v", n, err)
	}
	boom := errors.New("boom")
	if err := m.NewSession().Generate(ctx, prompt, GenerateOptions{MaxTokens: 5}, func(int) error { return boom }); err != boom {
		t.Errorf("yield error: %v", err)
	}
	if err := m.NewSession().Generate(ctx, nil, GenerateOptions{MaxTokens: 5}, func(int) error { return nil }); err == nil {
		t.Error("empty prompt on an empty session: no error")
	}
}
