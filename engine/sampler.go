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
	probs []float64 // unnormalised probabilities of idx (top-p: of every id)
	pb    []float64 // top-p: probabilities of the sorted nucleus
}

// pbuf returns a scratch slice of n float64s.
func (sp *Sampler) pbuf(n int) []float64 {
	if cap(sp.pb) < n {
		sp.pb = make([]float64, n)
	}
	return sp.pb[:n]
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
	hasTopK := o.TopK > 0 && o.TopK < V

	// Candidates, most likely first when a filter needs the order.
	var idx []int
	var probs []float64
	var total float64
	switch {
	case hasTopK:
		idx = topK(sp.idx[:0], buf, o.TopK)
		slices.SortFunc(idx, func(a, b int) int { return better(buf, a, b) })
		probs = sp.probs[:len(idx)]
		for i, id := range idx {
			probs[i] = prob(id)
			total += probs[i]
		}
	case topP:
		// Every probability once (the normaliser needs them all), then
		// quickselect the nucleus instead of sorting the vocabulary, and
		// sort only the nucleus.
		all := sp.probs[:V]
		for id := range buf {
			all[id] = prob(id)
			total += all[id]
		}
		idx = nucleus(sp.idx[:V], buf, all, float64(o.TopP)*total)
		slices.SortFunc(idx, func(a, b int) int { return better(buf, a, b) })
		probs = sp.pbuf(len(idx))
		for i, id := range idx {
			probs[i] = all[id]
		}
	case o.MinP > 0:
		// Only tokens with p ≥ MinP survive: skip, without an exp, the
		// logits certainly below the cut (a margin covers rounding), and
		// test the rest exactly.
		cut := math.Log(float64(o.MinP)) - 1e-3
		idx = sp.idx[:0]
		probs = sp.probs[:0]
		for id, v := range buf {
			if float64(v-mx)*invT < cut {
				continue
			}
			idx = append(idx, id)
			probs = append(probs, prob(id))
		}
	default:
		idx = sp.idx[:V]
		probs = sp.probs[:V]
		for i := range idx {
			idx[i] = i
			probs[i] = prob(i)
		}
	}
	if topP {
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

// nucleus returns, in idx (resliced from the given buffer of len(buf)), the
// ids ranked by better that top-p keeps: the best-ranked ones whose
// probabilities (probs, by id) sum to need, plus a little slack, unordered.
// It partitions around pivots as quickselect does (O(V) on average)
// instead of sorting the vocabulary; the caller sorts the result and cuts
// it exactly. When rounding leaves no pivot that reaches need, it returns
// every id.
func nucleus(idx []int, buf []float32, probs []float64, need float64) []int {
	for i := range idx {
		idx[i] = i
	}
	need *= 1 + 1e-9 // the exact cut, summed in rank order, lies inside
	lo, hi := 0, len(idx)
	var acc float64 // mass of idx[:lo], all ranked above idx[lo:hi]
	for hi-lo > 32 {
		// Median of three as the pivot, moved to idx[hi-1].
		a, b, c := lo, lo+(hi-lo)/2, hi-1
		if better(buf, idx[b], idx[a]) < 0 {
			idx[a], idx[b] = idx[b], idx[a]
		}
		if better(buf, idx[c], idx[b]) < 0 {
			idx[b], idx[c] = idx[c], idx[b]
			if better(buf, idx[b], idx[a]) < 0 {
				idx[a], idx[b] = idx[b], idx[a]
			}
		}
		idx[b], idx[hi-1] = idx[hi-1], idx[b]
		pv := idx[hi-1]
		// idx[lo:m] rank above the pivot.
		m := lo
		var mass float64
		for i := lo; i < hi-1; i++ {
			if id := idx[i]; better(buf, id, pv) < 0 {
				idx[i], idx[m] = idx[m], id
				mass += probs[id]
				m++
			}
		}
		idx[m], idx[hi-1] = idx[hi-1], idx[m]
		switch {
		case acc+mass >= need:
			hi = m
		case acc+mass+probs[pv] >= need:
			return idx[:m+1]
		default:
			acc += mass + probs[pv]
			lo = m + 1
		}
	}
	// A short range: rank it and take what is needed.
	tail := idx[lo:hi]
	slices.SortFunc(tail, func(a, b int) int { return better(buf, a, b) })
	for i, id := range tail {
		acc += probs[id]
		if acc >= need {
			return idx[:lo+i+1]
		}
	}
	return idx
}
