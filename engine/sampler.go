package engine

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SampleOptions configure a Sampler. Zero values turn each filter off.
type SampleOptions struct {
	// Temperature divides the logits; 0 (or less) picks the argmax (greedy).
	Temperature float32
	// TopK keeps the K most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches P (0 or ≥ 1: all).
	TopP float32
	// MinP keeps tokens whose probability is at least MinP times the most
	// likely token's (0: all).
	MinP float32
	// RepetitionPenalty (> 1 discourages) divides positive and multiplies
	// negative logits of tokens already in the history, as transformers'
	// RepetitionPenaltyLogitsProcessor does (0 or 1: off).
	RepetitionPenalty float32
	// Seed seeds the PCG generator: equal seeds give equal samples.
	Seed uint64
}

// Sampler picks the next token from logits. The filters run in the order
// of transformers' generation: repetition penalty, temperature, top-k,
// top-p, min-p. After its first call it allocates nothing for a vocabulary
// size it has seen.
type Sampler struct {
	opts  SampleOptions
	rng   *rand.Rand
	buf   []float32 // (V) logits after the repetition penalty
	idx   []int     // candidate ids
	probs []float64 // unnormalised probabilities of idx
}

// NewSampler returns a Sampler seeded with opts.Seed.
func NewSampler(opts SampleOptions) *Sampler {
	sp := &Sampler{}
	sp.reset(opts)
	return sp
}

// reset makes sp a fresh sampler for opts, keeping its buffers.
func (sp *Sampler) reset(opts SampleOptions) {
	sp.opts = opts
	sp.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
}

// Sample returns the next token id for logits, given the ids so far
// (history, used by the repetition penalty). Ties go to the lower id.
func (sp *Sampler) Sample(logits []float32, history []int) int {
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

// better orders ids by descending logit, then ascending id.
func better(buf []float32, a, b int) int {
	switch {
	case buf[a] > buf[b]:
		return -1
	case buf[a] < buf[b]:
		return 1
	}
	return a - b
}

// argmax returns the id of the largest logit (the lowest such id); NaNs lose.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] || math.IsNaN(float64(x[best])) && !math.IsNaN(float64(v)) {
			best = i
		}
	}
	return best
}

// topK appends to h the ids of the k largest logits (unordered), using a
// min-heap of size k ordered by better: O(V log k), no allocation.
func topK(h []int, buf []float32, k int) []int {
	worse := func(a, b int) bool { return better(buf, a, b) > 0 } // a ranks below b
	down := func(i int) {
		for {
			l, r, m := 2*i+1, 2*i+2, i
			if l < len(h) && worse(h[l], h[m]) {
				m = l
			}
			if r < len(h) && worse(h[r], h[m]) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for id := range buf {
		if len(h) < k {
			h = append(h, id)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !worse(h[i], h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
			continue
		}
		if worse(h[0], id) {
			h[0] = id
			down(0)
		}
	}
	return h
}
