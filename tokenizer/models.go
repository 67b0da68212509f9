package tokenizer

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// model turns one pre-token into ids.
type model interface {
	tokenize(dst []int, word string) ([]int, error)
	vocabMap() *vocabTable
}

func (m *bpe) vocabMap() *vocabTable { return m.vocab }

// ---- Unigram ----

type unigram struct {
	vocab        *vocabTable
	scores       []float64
	unkID        int
	hasUnk       bool
	byteFallback bool
	fuseUnk      bool
	minScore     float64
	maxLen       int // longest piece in bytes
	fallbackIDs  [256]int32
}

func (m *unigram) vocabMap() *vocabTable { return m.vocab }

func parseUnigram(o obj) (*unigram, error) {
	m := &unigram{fuseUnk: true}
	var err error
	if m.byteFallback, err = o.boolean("byte_fallback", false); err != nil {
		return nil, err
	}
	v := o.v.get("vocab")
	if v == nil || v.kind != jRaw || v.raw[0] != '[' {
		return nil, o.errf("vocab", "expected an array of [piece, score]")
	}
	list, err := parseJSON(v.raw)
	if err != nil {
		return nil, o.errf("vocab", "%v", err)
	}
	m.vocab = newVocabTable(len(list.arr))
	m.minScore = math.Inf(1)
	for i, e := range list.arr {
		if e.kind != jArr || len(e.arr) != 2 || e.arr[0].kind != jStr || e.arr[1].kind != jNum {
			return nil, fmt.Errorf("tokenizer: %s: expected [piece, score]", elemPath(o.at("vocab"), i))
		}
		sc, err := serdeFloat(e.arr[1].s)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %v", elemPath(o.at("vocab"), i), err)
		}
		if _, dup := m.vocab.get(e.arr[0].s); !dup {
			m.vocab.put([]byte(e.arr[0].s), i)
		}
		m.scores = append(m.scores, sc)
		m.minScore = math.Min(m.minScore, sc)
		m.maxLen = max(m.maxLen, len(e.arr[0].s))
	}
	if o.has("unk_id") {
		if m.unkID, err = o.integer("unk_id", 0); err != nil {
			return nil, err
		}
		if m.unkID < 0 || m.unkID >= len(m.scores) {
			return nil, o.errf("unk_id", "id %d out of range (vocab has %d pieces)", m.unkID, len(m.scores))
		}
		m.hasUnk = true
	}
	for b := 0; b < 256; b++ {
		m.fallbackIDs[b] = -1
		if id, ok := m.vocab.get(fmt.Sprintf("<0x%02X>", b)); ok {
			m.fallbackIDs[b] = int32(id)
		}
	}
	return m, nil
}

// unkPenalty is subtracted from the lowest score to score unknown chars (sentencepiece kUnkPenalty).
const unkPenalty = 10.0

func (m *unigram) tokenize(dst []int, s string) ([]int, error) {
	if s == "" {
		return dst, nil
	}
	type node struct {
		id    int
		score float64
		start int // -1: unset
	}
	best := make([]node, len(s)+1)
	for i := range best {
		best[i].start = -1
	}
	unkScore := m.minScore - unkPenalty
	for i := 0; i < len(s); {
		_, mb := utf8.DecodeRuneInString(s[i:])
		base := best[i].score
		single := false
		for l := 1; l <= m.maxLen && i+l <= len(s); l++ {
			id, ok := m.vocab.get(s[i : i+l])
			if !ok {
				continue
			}
			cand := m.scores[id] + base
			if t := &best[i+l]; t.start < 0 || cand > t.score {
				*t = node{id, cand, i}
			}
			if l == mb {
				single = true
			}
		}
		if !single {
			if !m.hasUnk {
				return dst, fmt.Errorf("tokenizer: unigram model has no unk_id for %q", s[i:i+mb])
			}
			cand := unkScore + base
			if t := &best[i+mb]; t.start < 0 || cand > t.score {
				*t = node{m.unkID, cand, i}
			}
		}
		i += mb
	}
	// Backtrack, fusing consecutive unknowns.
	var pieces []string
	fused := ""
	for end := len(s); end > 0; {
		n := best[end]
		if m.fuseUnk && m.hasUnk && n.id == m.unkID {
			fused = s[n.start:end] + fused
		} else {
			if fused != "" {
				pieces = append(pieces, fused)
				fused = ""
			}
			pieces = append(pieces, s[n.start:end])
		}
		end = n.start
	}
	if fused != "" {
		pieces = append(pieces, fused)
	}
	for i := len(pieces) - 1; i >= 0; i-- {
		p := pieces[i]
		if id, ok := m.vocab.get(p); ok {
			dst = append(dst, id)
			continue
		}
		if m.byteFallback {
			all := true
			for k := 0; k < len(p); k++ {
				if m.fallbackIDs[p[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				for k := 0; k < len(p); k++ {
					dst = append(dst, int(m.fallbackIDs[p[k]]))
				}
				continue
			}
		}
		if !m.hasUnk {
			return dst, fmt.Errorf("tokenizer: unigram model has no unk_id for %q", p)
		}
		dst = append(dst, m.unkID)
	}
	return dst, nil
}

// ---- WordPiece ----

type wordPiece struct {
	vocab    *vocabTable
	unk      string
	prefix   string
	maxChars int
}

func (m *wordPiece) vocabMap() *vocabTable { return m.vocab }

func parseWordPiece(o obj) (*wordPiece, error) {
	m := &wordPiece{}
	var err error
	if m.unk, err = o.str("unk_token", "[UNK]"); err != nil {
		return nil, err
	}
	if m.prefix, err = o.str("continuing_subword_prefix", "##"); err != nil {
		return nil, err
	}
	if m.maxChars, err = o.integer("max_input_chars_per_word", 100); err != nil {
		return nil, err
	}
	v := o.v.get("vocab")
	if v == nil {
		return nil, o.errf("vocab", "missing")
	}
	if m.vocab, err = parseVocabMap(v, o.at("vocab")); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *wordPiece) unkID() (int, error) {
	id, ok := m.vocab.get(m.unk)
	if !ok {
		return 0, fmt.Errorf("tokenizer: unk_token %q is not in the vocab", m.unk)
	}
	return id, nil
}

func (m *wordPiece) tokenize(dst []int, s string) ([]int, error) {
	if utf8.RuneCountInString(s) > m.maxChars {
		id, err := m.unkID()
		return append(dst, id), err
	}
	n := len(dst)
	for start := 0; start < len(s); {
		end := len(s)
		found := -1
		for start < end {
			sub := s[start:end]
			if start > 0 {
				sub = m.prefix + sub
			}
			if id, ok := m.vocab.get(sub); ok {
				found = id
				break
			}
			_, sz := utf8.DecodeLastRuneInString(s[start:end])
			end -= sz
		}
		if found < 0 {
			id, err := m.unkID()
			return append(dst[:n], id), err
		}
		dst = append(dst, found)
		start = end
	}
	return dst, nil
}

// ---- WordLevel ----

type wordLevel struct {
	vocab *vocabTable
	unk   string
}

func (m *wordLevel) vocabMap() *vocabTable { return m.vocab }

func parseWordLevel(o obj) (*wordLevel, error) {
	m := &wordLevel{}
	var err error
	if m.unk, err = o.str("unk_token", "<unk>"); err != nil {
		return nil, err
	}
	v := o.v.get("vocab")
	if v == nil {
		return nil, o.errf("vocab", "missing")
	}
	if m.vocab, err = parseVocabMap(v, o.at("vocab")); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *wordLevel) tokenize(dst []int, s string) ([]int, error) {
	if id, ok := m.vocab.get(s); ok {
		return append(dst, id), nil
	}
	id, ok := m.vocab.get(m.unk)
	if !ok {
		return dst, fmt.Errorf("tokenizer: unk_token %q is not in the vocab", m.unk)
	}
	return append(dst, id), nil
}
