package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refSampler is the sampler before the partial-selection rewrite (it
// sorted the vocabulary for top-p and took every exp for min-p): the
// rewrite must pick exactly the same ids for the same seeds.
type refSampler struct {
	opts  SampleOptions
	rng   *rand.Rand
	buf   []float32
	idx   []int
	probs []float64
}

func newRefSampler(opts SampleOptions) *refSampler {
	return &refSampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
}

func (sp *refSampler) Sample(logits []float32, history []int) int {
	V := len(logits)
	if V == 0 {
		return 0
	}
	o := &sp.opts
	if cap(sp.buf) < V {
		sp.buf = make([]float32, V)
		sp.idx = make([]int, V)
		sp.probs = make([]float64, V)
	}
	buf := sp.buf[:V]
	copy(buf, logits)
	if rp := o.RepetitionPenalty; rp > 0 && rp != 1 {
		for _, id := range history {
			if id >= 0 && id < V {
				if v := logits[id]; v > 0 {
					buf[id] = v / rp
				} else {
					buf[id] = v * rp
				}
			}
		}
	}
	if o.Temperature <= 0 || o.TopK == 1 {
		return argmax(buf)
	}

	// Probabilities with temperature are exp((l - max)/T): the most likely
	// token has p = 1 and the others are relative to it.
	mx := float32(math.Inf(-1))
	for _, v := range buf {
		if v > mx { // NaN never wins
			mx = v
		}
	}
	invT := 1 / float64(o.Temperature)
	prob := func(id int) float64 {
		p := math.Exp(float64(buf[id]-mx) * invT)
		if math.IsNaN(p) {
			return 0
		}
		return p
	}
	topP := o.TopP > 0 && o.TopP < 1

	// Candidates, most likely first when a filter needs the order.
	var idx []int
	switch {
	case o.TopK > 0 && o.TopK < V:
		idx = topK(sp.idx[:0], buf, o.TopK)
		slices.SortFunc(idx, func(a, b int) int { return better(buf, a, b) })
	case topP:
		// The nucleus is usually small: select the top k for growing k
		// until it holds the mass P, instead of sorting the vocabulary.
		var total float64
		for id := range buf {
			total += prob(id)
		}
		for k := 64; ; k *= 8 {
			if k >= V/8 { // a flat distribution: sort everything
				idx = sp.idx[:V]
				for i := range idx {
					idx[i] = i
				}
				slices.SortFunc(idx, func(a, b int) int { return better(buf, a, b) })
				break
			}
			idx = topK(sp.idx[:0], buf, k)
			slices.SortFunc(idx, func(a, b int) int { return better(buf, a, b) })
			var mass float64
			for _, id := range idx {
				mass += prob(id)
			}
			if mass >= float64(o.TopP)*total {
				break
			}
		}
	default:
		idx = sp.idx[:V]
		for i := range idx {
			idx[i] = i
		}
	}
	probs := sp.probs[:len(idx)]
	var total float64
	for i, id := range idx {
		probs[i] = prob(id)
		total += probs[i]
	}
	if topP {
		// With all tokens as candidates, the mass beyond idx counts too.
		if !(o.TopK > 0 && o.TopK < V) {
			total = 0
			for id := range buf {
				total += prob(id)
			}
		}
		var cum float64
		for i, p := range probs {
			cum += p
			if cum >= float64(o.TopP)*total {
				idx, probs = idx[:i+1], probs[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		// The most likely token has p = 1.
		j := 0
		for i, p := range probs {
			if p >= float64(o.MinP) {
				idx[j], probs[j] = idx[i], p
				j++
			}
		}
		idx, probs = idx[:j], probs[:j]
	}
	total = 0
	for _, p := range probs {
		total += p
	}
	if len(idx) == 0 || !(total > 0) || math.IsInf(total, 0) {
		return argmax(buf)
	}
	r := sp.rng.Float64() * total
	for i, p := range probs {
		r -= p
		if r < 0 {
			return idx[i]
		}
	}
	return idx[len(idx)-1]
}

// TestSamplerMatchesReference runs the sampler and the reference side by
// side on LM-like (Zipf), flat, peaked and tied logits with every filter
// combination and checks they draw the same ids.
func TestSamplerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	shapes := map[string]func(V int) []float32{
		"zipf": func(V int) []float32 {
			l := make([]float32, V)
			for i, r := range rng.Perm(V) {
				l[i] = float32(-1.2 * math.Log(float64(r+1)))
			}
			return l
		},
		"flat": func(V int) []float32 {
			l := make([]float32, V)
			for i := range l {
				l[i] = float32(rng.NormFloat64() * 0.01)
			}
			return l
		},
		"peaked": func(V int) []float32 {
			l := make([]float32, V)
			for i := range l {
				l[i] = float32(rng.NormFloat64() * 4)
			}
			return l
		},
		"ties": func(V int) []float32 {
			l := make([]float32, V)
			for i := range l {
				l[i] = float32(rng.IntN(5))
			}
			return l
		},
	}
	opts := []SampleOptions{
		{Temperature: 1, TopP: 0.9}, {Temperature: 0.7, TopP: 0.5}, {Temperature: 1.3, TopP: 0.99},
		{Temperature: 1, TopP: 0.95, MinP: 0.05}, {Temperature: 0.8, TopK: 40, TopP: 0.9},
		{Temperature: 1, MinP: 0.1}, {Temperature: 2, MinP: 0.001}, {Temperature: 1},
		{Temperature: 0.9, TopK: 7}, {Temperature: 1, TopP: 0.9, RepetitionPenalty: 1.3},
		{Temperature: 1, TopP: 1e-9},
	}
	for name, gen := range shapes {
		for _, V := range []int{1, 2, 33, 1000, 8000} {
			logits := gen(V)
			hist := []int{0, V / 2, V - 1}
			for _, o := range opts {
				o.Seed = rng.Uint64()
				sp, ref := NewSampler(o), newRefSampler(o)
				for i := 0; i < 10; i++ {
					if got, want := sp.Sample(logits, hist), ref.Sample(logits, hist); got != want {
						t.Fatalf("%s V=%d %+v draw %d: got %d, reference %d", name, V, o, i, got, want)
					}
				}
			}
		}
	}
}
