package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// The compact form of a tokenizer.json holds the file with its BPE model's vocab and merges taken
// out, and those two as binary tables: token bytes and ids, and merges as id pairs with their rank
// and merged id. LoadCompact reads it without the JSON decoding, unescaping and per-merge token
// lookups that make most of Load's time (in a browser tab, where that code runs for the first time
// in V8's baseline compiler, 30-50 ms of a 150 KB tokenizer.json). A runtime keeps the compact form
// next to the tokenizer.json it came from (keyed by that file's hash and the engine's build) and
// loads it on later visits. It is an engine-internal format: nothing promises one build reads
// another's.
//
// Layout, little-endian:
//
//	"alibitok" | u32 version
//	u32 n | n bytes: tokenizer.json with model.vocab = {} and model.merges = [], without the
//	        whitespace between tokens
//	u32 n | n bytes: continuing_subword_prefix the merges were resolved with
//	u32 n | n × (u32 id, u32 len) | the n tokens' bytes, in that order
//	u32 n | n × (u32 a, u32 b, u32 rank, u32 merged id), by rank
const (
	compactMagic   = "alibitok"
	compactVersion = 1
)

// ErrNotCompactable is returned by Compact for a tokenizer it cannot write in compact form (a
// model other than BPE, or a file whose vocab and merges the reader did not take in its main pass).
var ErrNotCompactable = errors.New("tokenizer: no compact form for this tokenizer")

// compactSource records where the BPE vocab and merges were in the tokenizer.json a Tokenizer was
// loaded from, for Compact.
type compactSource struct {
	size          int    // bytes of the file
	vocab, merges [2]int // spans of the two values
	prefix        string // continuing_subword_prefix the merges were resolved with
}

// Compact returns the compact form of t, which must have been loaded (Load, LoadWithConfig) from
// src. LoadCompact(Compact(src)) is the same tokenizer as Load(src).
func (t *Tokenizer) Compact(src []byte) ([]byte, error) {
	cs := t.compactSrc
	m, ok := t.model.(*bpe)
	if cs == nil || !ok {
		return nil, ErrNotCompactable
	}
	if len(src) != cs.size || src[cs.vocab[0]] != '{' || src[cs.merges[0]] != '[' {
		return nil, fmt.Errorf("tokenizer: Compact: src is not the tokenizer.json this tokenizer was loaded from")
	}
	first, second := cs.vocab, cs.merges
	fill1, fill2 := "{}", "[]"
	if second[0] < first[0] {
		first, second = second, first
		fill1, fill2 = fill2, fill1
	}
	type merge struct{ a, b, rank, id uint32 }
	merges := make([]merge, 0, m.merges.n)
	for _, s := range m.merges.slots {
		if s.k != 0 {
			k := s.k &^ usedBit
			merges = append(merges, merge{uint32(k >> 32), uint32(k), uint32(s.v >> 32), uint32(s.v)})
		}
	}
	slices.SortFunc(merges, func(x, y merge) int { return int(x.rank) - int(y.rank) })

	// The rest of the file without its insignificant whitespace: LoadCompact's parser runs in a
	// browser tab's baseline-compiled code, where every skipped indentation byte counts.
	js := make([]byte, 0, len(src)-(first[1]-first[0])-(second[1]-second[0])+4)
	js = appendMinified(js, src[:first[0]])
	js = append(js, fill1...)
	js = appendMinified(js, src[first[1]:second[0]])
	js = append(js, fill2...)
	js = appendMinified(js, src[second[1]:])
	out := make([]byte, 0, 12+4+len(js)+4+len(cs.prefix)+4+8*m.vocab.n+len(m.vocab.arena)+4+16*len(merges))
	out = append(out, compactMagic...)
	out = binary.LittleEndian.AppendUint32(out, compactVersion)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(js)))
	out = append(out, js...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(cs.prefix)))
	out = append(out, cs.prefix...)
	out = binary.LittleEndian.AppendUint32(out, uint32(m.vocab.n))
	m.vocab.each(func(tok string, id int) {
		out = binary.LittleEndian.AppendUint32(out, uint32(id))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(tok)))
	})
	m.vocab.each(func(tok string, _ int) { out = append(out, tok...) })
	out = binary.LittleEndian.AppendUint32(out, uint32(len(merges)))
	for _, e := range merges {
		out = binary.LittleEndian.AppendUint32(out, e.a)
		out = binary.LittleEndian.AppendUint32(out, e.b)
		out = binary.LittleEndian.AppendUint32(out, e.rank)
		out = binary.LittleEndian.AppendUint32(out, e.id)
	}
	return out, nil
}

// LoadCompact loads a tokenizer from the compact form Compact wrote, with the contents of
// tokenizer_config.json (may be nil) as LoadWithConfig takes them. A malformed or truncated
// compact form is an error naming the problem.
func LoadCompact(compact, configJSON []byte) (*Tokenizer, error) {
	r := compactReader{b: compact}
	if len(compact) < len(compactMagic)+4 || string(compact[:len(compactMagic)]) != compactMagic {
		return nil, fmt.Errorf("tokenizer: compact form: bad magic")
	}
	r.pos = len(compactMagic)
	if v := r.u32(); v != compactVersion {
		return nil, fmt.Errorf("tokenizer: compact form: version %d, want %d", v, compactVersion)
	}
	src := r.bytes(int(r.u32()))
	prefix := string(r.bytes(int(r.u32())))
	nv := r.count(8)
	ents := r.bytes(8 * nv)
	arena := compactArena(ents, len(r.b)-r.pos)
	if arena < 0 {
		r.fail("vocab tokens")
	}
	toks := r.bytes(arena)
	nm := r.count(16)
	ms := r.bytes(16 * nm)
	if r.err == nil && r.pos != len(r.b) {
		r.err = fmt.Errorf("tokenizer: compact form: %d bytes of trailing data", len(r.b)-r.pos)
	}
	if r.err != nil {
		return nil, r.err
	}
	vocab, known, err := compactVocab(ents, toks, nv)
	if err != nil {
		return nil, err
	}
	merges, err := compactMerges(ms, nm, known)
	if err != nil {
		return nil, err
	}
	root, err := parsePlain(src)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: compact form: %w", err)
	}
	mo := root.get("model")
	vi, mi := mo.index("vocab"), mo.index("merges")
	if vi < 0 || mi < 0 {
		return nil, fmt.Errorf("tokenizer: compact form: no model with vocab and merges")
	}
	mo.vals[vi] = &jval{kind: jVocab, vocab: vocab, raw: []byte("{}")}
	mo.vals[mi] = &jval{kind: jMerges, merges: merges, prefix: prefix, raw: []byte("[]")}
	t, err := build(root, configJSON)
	if err != nil {
		return nil, err
	}
	if m, ok := t.model.(*bpe); !ok || m.merges != merges {
		return nil, fmt.Errorf("tokenizer: compact form: the model does not take its tables (not BPE, or a continuing_subword_prefix other than the one the merges were resolved with)")
	}
	return t, nil
}

// The loops over the tables are functions of their own (go:noinline), not part of LoadCompact. V8
// charges a wasm function's tier-up budget at every backward jump with the size of its code up to
// there, and Go's wasm code jumps back to the top of the function for every loop iteration: a loop
// of thousands of iterations inside a function as large as LoadCompact had V8 compile all of it
// with its optimizing compiler (70 ms of CPU in a new tab, on the cores the load itself runs on)
// before the first call was over. A small function's loop costs little per iteration, and its
// optimized compile little.

// compactArena returns the total length of the tokens the entries name, or -1 when that exceeds
// avail.
//
//go:noinline
func compactArena(ents []byte, avail int) int {
	n := 0
	for i := 0; i+8 <= len(ents); i += 8 {
		n += int(binary.LittleEndian.Uint32(ents[i+4:]))
		if n > avail {
			return -1
		}
	}
	return n
}

// compactVocab builds the vocab table from the entries and token bytes, and reports which ids it
// holds.
//
//go:noinline
func compactVocab(ents, toks []byte, nv int) (*vocabTable, []bool, error) {
	vocab := &vocabTable{arena: make([]byte, 0, len(toks))}
	vocab.alloc(max(16, nv))
	var known []bool // ids of the vocab: merges name no others
	for i, off := 0, 0; i < len(ents); i += 8 {
		id, n := binary.LittleEndian.Uint32(ents[i:]), int(binary.LittleEndian.Uint32(ents[i+4:]))
		if id > maxTokenID {
			return nil, nil, fmt.Errorf("tokenizer: compact form: vocab id %d out of range", id)
		}
		vocab.put(toks[off:off+n], int(id))
		off += n
		if int(id) >= len(known) {
			known = slices.Grow(known, int(id)+1-len(known))[:id+1]
		}
		known[id] = true
	}
	return vocab, known, nil
}

// compactMerges builds the merge table; every id a merge names must be in known.
//
//go:noinline
func compactMerges(ms []byte, nm int, known []bool) (*pairTable, error) {
	isKnown := func(id uint32) bool { return int64(id) < int64(len(known)) && known[id] }
	merges := newPairTable(max(nm, 16))
	for i := 0; i < len(ms); i += 16 {
		a, b := binary.LittleEndian.Uint32(ms[i:]), binary.LittleEndian.Uint32(ms[i+4:])
		rank, id := binary.LittleEndian.Uint32(ms[i+8:]), binary.LittleEndian.Uint32(ms[i+12:])
		if !isKnown(a) || !isKnown(b) || !isKnown(id) {
			return nil, fmt.Errorf("tokenizer: compact form: merge %d names a token not in the vocab", i/16)
		}
		if rank > 1<<31-1 {
			return nil, fmt.Errorf("tokenizer: compact form: merge %d: rank %d out of range", i/16, rank)
		}
		merges.put(pairKey(int32(a), int32(b)), uint64(rank)<<32|uint64(id))
	}
	return merges, nil
}

// appendMinified appends JSON text to dst without the whitespace between tokens. src must begin
// outside a string (it is a well-formed file cut at value boundaries).
func appendMinified(dst, src []byte) []byte {
	in, esc := false, false
	for _, c := range src {
		switch {
		case in:
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				in = false
			}
		case c == '"':
			in = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// compactReader reads the compact form's fields; the first problem sticks in err.
type compactReader struct {
	b   []byte
	pos int
	err error
}

func (r *compactReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("tokenizer: compact form: truncated in %s at byte %d", what, r.pos)
	}
}

func (r *compactReader) u32() uint32 {
	if r.err != nil || len(r.b)-r.pos < 4 {
		r.fail("a length")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.pos:])
	r.pos += 4
	return v
}

// count reads an element count whose elements take at least size bytes each.
func (r *compactReader) count(size int) int {
	n := int(r.u32())
	if r.err == nil && n > (len(r.b)-r.pos)/size {
		r.fail("a table")
	}
	return n
}

func (r *compactReader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.pos {
		r.fail("a section")
		return nil
	}
	s := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return s
}
