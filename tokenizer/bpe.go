package tokenizer

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// bpe is the BPE model (tokenizers models/bpe): per pre-token, split into chars (or bytes, for
// byte-level tokenizers), then repeatedly apply the adjacent merge of lowest rank, leftmost first.
type bpe struct {
	vocab        *vocabTable
	merges       *pairTable // pair(a, b) -> rank<<32 | new id
	unk          string
	hasUnk       bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	fallbackIDs  [256]int32 // id of "<0xHH>", -1 when absent

	// raw: the pre-tokenizer hands over raw bytes instead of byte-level chars; byteIDs[b] is the id
	// of the token for byte b's char.
	raw     bool
	byteIDs [256]int32

	// Long words (a whole SentencePiece-style text, where spaces became "▁") are cut before
	// each "▁" that no merge can cross: no vocab token contains c+"▁" for the char c before it.
	// Pieces are then merged separately (and cached), with the same result.
	splitMark  bool
	noCross    map[rune]bool // chars c for which some token contains c+"▁"
	fallbackOK bool          // a byte-fallback or unk symbol before "▁" cannot be merged across

	mu    sync.RWMutex
	cache map[string][]int32
}

const (
	metaspace       = "▁"
	splitWordLength = 128
)

// setSplitMark decides whether long words may be cut before "▁" (see bpe.splitMark).
func (m *bpe) setSplitMark() {
	if m.ignoreMerges || m.prefix != "" || m.suffix != "" || m.raw {
		return
	}
	if _, ok := m.vocab.get(metaspace); !ok {
		return
	}
	m.noCross = map[rune]bool{}
	m.vocab.each(func(tok string, _ int) {
		for i := strings.Index(tok, metaspace); i > 0; {
			r, _ := utf8.DecodeLastRuneInString(tok[:i])
			if r != '▁' {
				m.noCross[r] = true
			}
			j := strings.Index(tok[i+len(metaspace):], metaspace)
			if j < 0 {
				break
			}
			i += len(metaspace) + j
		}
	})
	m.fallbackOK = !m.noCross['>']
	if m.hasUnk && m.unk != "" {
		r, _ := utf8.DecodeLastRuneInString(m.unk)
		m.fallbackOK = m.fallbackOK && !m.noCross[r]
	}
	m.splitMark = true
}

// splitLong tokenizes a long word piece by piece (see bpe.splitMark).
func (m *bpe) splitLong(dst []int, word string) ([]int, error) {
	start := 0
	var err error
	for i := 1; i < len(word); {
		j := strings.Index(word[i:], metaspace)
		if j < 0 {
			break
		}
		i += j
		r, n := utf8.DecodeLastRuneInString(word[:i])
		if r != '▁' && !m.noCross[r] {
			_, known := m.vocab.get(word[i-n : i])
			if known || m.fallbackOK {
				if dst, err = m.tokenize(dst, word[start:i]); err != nil {
					return dst, err
				}
				start = i
			}
		}
		i += len(metaspace)
	}
	return m.tokenizeWord(dst, word[start:])
}

const (
	bpeCacheEntries = 1 << 15
	bpeCacheMaxWord = 256
)

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func parseBPE(o obj) (*bpe, error) {
	m := &bpe{cache: map[string][]int32{}}
	var err error
	if o.has("dropout") {
		d, err := o.float("dropout", 0)
		if err != nil {
			return nil, err
		}
		if d != 0 {
			return nil, o.errf("dropout", "BPE dropout %v is training-only and not supported (set it to null)", d)
		}
	}
	if m.unk, m.hasUnk, err = o.optStr("unk_token"); err != nil {
		return nil, err
	}
	if m.prefix, err = o.str("continuing_subword_prefix", ""); err != nil {
		return nil, err
	}
	if m.suffix, err = o.str("end_of_word_suffix", ""); err != nil {
		return nil, err
	}
	if m.fuseUnk, err = o.boolean("fuse_unk", false); err != nil {
		return nil, err
	}
	if m.byteFallback, err = o.boolean("byte_fallback", false); err != nil {
		return nil, err
	}
	if m.ignoreMerges, err = o.boolean("ignore_merges", false); err != nil {
		return nil, err
	}
	vocab := o.v.get("vocab")
	if vocab == nil || vocab.kind == jNull {
		return nil, o.errf("vocab", "missing")
	}
	if m.vocab, err = parseVocabMap(vocab, o.at("vocab")); err != nil {
		return nil, err
	}
	merges := o.v.get("merges")
	if merges == nil || merges.kind == jNull {
		return nil, o.errf("merges", "missing")
	}
	if err := m.parseMerges(merges, o.at("merges")); err != nil {
		return nil, err
	}
	for b := 0; b < 256; b++ {
		m.fallbackIDs[b] = -1
		if id, ok := m.vocab.get(byteFallbackToken(b)); ok {
			m.fallbackIDs[b] = int32(id)
		}
	}
	m.setSplitMark()
	return m, nil
}

// parseVocabMap reads a {"token": id} object kept as a raw span by the JSON reader.
func parseVocabMap(v *jval, path string) (*vocabTable, error) {
	if v.kind == jVocab {
		return v.vocab, nil
	}
	if v.kind != jRaw || len(v.raw) == 0 || v.raw[0] != '{' {
		return nil, fmt.Errorf("tokenizer: %s: expected an object", path)
	}
	p := &jparser{data: v.raw}
	vocab, err := p.parseVocabAt(v.n, path)
	if err != nil {
		return nil, err
	}
	return vocab, p.end(path)
}

// parseVocabAt reads a {"token": id} object at p.pos.
func (p *jparser) parseVocabAt(hint int, path string) (*vocabTable, error) {
	if err := p.expect('{'); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %v", path, err)
	}
	vocab := newVocabTable(max(hint, 16))
	if p.peek() == '}' {
		p.pos++
		return vocab, nil
	}
	for {
		if p.peek() != '"' {
			return nil, fmt.Errorf("tokenizer: %s: %v", path, p.errf("expected a string key"))
		}
		k, err := p.rawStr()
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %v", path, err)
		}
		if err := p.expect(':'); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %v", path, err)
		}
		p.ws()
		id, lit, err := p.intVal()
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s[%q]: expected an integer id", path, k)
		}
		if id < 0 || id > maxTokenID {
			return nil, fmt.Errorf("tokenizer: %s[%q]: id %s out of range", path, k, lit)
		}
		vocab.put(k, id)
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return vocab, nil
		default:
			return nil, fmt.Errorf("tokenizer: %s: %v", path, p.errf("expected ',' or '}'"))
		}
	}
}

// maxTokenID bounds ids so a hostile file cannot make the id tables huge.
const maxTokenID = 1<<24 - 1

func (m *bpe) parseMerges(v *jval, path string) error {
	if v.kind == jMerges && v.prefix == m.prefix {
		m.merges = v.merges
		return nil
	}
	if v.kind == jMerges {
		v = &jval{kind: jRaw, raw: v.raw}
	}
	if v.kind != jRaw || len(v.raw) == 0 || v.raw[0] != '[' {
		return fmt.Errorf("tokenizer: %s: expected an array", path)
	}
	p := &jparser{data: v.raw}
	merges, err := p.parseMergesAt(m.vocab, m.prefix, v.n, path)
	if err != nil {
		return err
	}
	m.merges = merges
	return p.end(path)
}

// parseMergesAt reads the merges array at p.pos: "a b" strings or ["a", "b"] pairs. The merged
// token is a + b without b's first len(prefix) bytes (continuing_subword_prefix).
//
// Merges are parsed in batches and their three vocab lookups (a, b, merged) done per batch, a
// pass that first touches every slot: the memory accesses of a 250k-token table then overlap
// instead of waiting one by one, which is most of the load time of a large tokenizer.json.
func (p *jparser) parseMergesAt(vocab *vocabTable, prefix string, hint int, path string) (*pairTable, error) {
	if err := p.expect('['); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %v", path, err)
	}
	r := &mergeReader{vocab: vocab, merges: newPairTable(max(hint, 16)), prefix: prefix, path: path}
	if p.peek() == ']' {
		p.pos++
		return r.merges, nil
	}
	rank := 0
	for {
		switch p.peek() {
		case '"':
			s, err := p.rawStr()
			if err != nil {
				return nil, fmt.Errorf("tokenizer: %s[%d]: %v", path, rank, err)
			}
			sp := bytes.IndexByte(s, ' ')
			if sp < 0 || bytes.IndexByte(s[sp+1:], ' ') >= 0 {
				return nil, fmt.Errorf("tokenizer: %s[%d]: merge %q is not two tokens separated by one space", path, rank, s)
			}
			if err := r.add(s[:sp], s[sp+1:], rank); err != nil {
				return nil, err
			}
		case '[':
			p.pos++
			if p.peek() != '"' {
				return nil, fmt.Errorf("tokenizer: %s[%d]: expected a pair of strings", path, rank)
			}
			s, err := p.rawStr()
			if err != nil {
				return nil, fmt.Errorf("tokenizer: %s[%d]: %v", path, rank, err)
			}
			r.pending = append(r.pending[:0], s...) // rawStr reuses its buffer
			if err := p.expect(','); err != nil || p.peek() != '"' {
				return nil, fmt.Errorf("tokenizer: %s[%d]: expected a pair of strings", path, rank)
			}
			if s, err = p.rawStr(); err != nil {
				return nil, fmt.Errorf("tokenizer: %s[%d]: %v", path, rank, err)
			}
			if err := p.expect(']'); err != nil {
				return nil, fmt.Errorf("tokenizer: %s[%d]: expected a pair of strings", path, rank)
			}
			if err := r.add(r.pending, s, rank); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("tokenizer: %s[%d]: expected a string or a pair of strings", path, rank)
		}
		rank++
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			if err := r.flush(); err != nil {
				return nil, err
			}
			return r.merges, nil
		default:
			return nil, fmt.Errorf("tokenizer: %s: %v", path, p.errf("expected ',' or ']'"))
		}
	}
}

// mergeReader resolves merges in batches (see parseMergesAt).
type mergeReader struct {
	vocab   *vocabTable
	merges  *pairTable
	prefix  string
	path    string
	pending []byte

	buf   []byte       // bytes of the batch's tokens
	batch []mergeEntry // merges of the batch
	hash  []uint32     // 3 per entry: a, b, merged
	slot  []uint32     // first probe position of each hash
}

type mergeEntry struct {
	rank       int
	a, b, j    [2]int32 // offset, length in buf
	aID, bID   int32
	joinedHash uint32
}

const mergeBatch = 1024

func (r *mergeReader) add(a, b []byte, rank int) error {
	if len(b) < len(r.prefix) {
		return fmt.Errorf("tokenizer: %s[%d]: merge token shorter than continuing_subword_prefix", r.path, rank)
	}
	e := mergeEntry{rank: rank}
	e.a = [2]int32{int32(len(r.buf)), int32(len(a))}
	r.buf = append(r.buf, a...)
	e.b = [2]int32{int32(len(r.buf)), int32(len(b))}
	r.buf = append(r.buf, b...)
	e.j = [2]int32{int32(len(r.buf)), int32(len(a) + len(b) - len(r.prefix))}
	r.buf = append(r.buf, a...)
	r.buf = append(r.buf, b[len(r.prefix):]...)
	r.batch = append(r.batch, e)
	if len(r.batch) == mergeBatch {
		return r.flush()
	}
	return nil
}

func (r *mergeReader) tok(x [2]int32) []byte { return r.buf[x[0] : x[0]+x[1]] }

func (r *mergeReader) flush() error {
	t := r.vocab
	mask := uint32(len(t.slots) - 1)
	r.hash = r.hash[:0]
	for _, e := range r.batch {
		r.hash = append(r.hash, hashBytes(r.tok(e.a)), hashBytes(r.tok(e.b)), hashBytes(r.tok(e.j)))
	}
	// Touch every first slot (independent loads that the CPU overlaps), then resolve.
	var sink uint32
	for _, h := range r.hash {
		sink += t.slots[h&mask].hash
	}
	_ = sink
	for i := range r.batch {
		e := &r.batch[i]
		for k, x := range [3][2]int32{e.a, e.b, e.j} {
			id, ok := lookupHashed(t, r.tok(x), r.hash[3*i+k])
			if !ok {
				if k == 2 {
					return fmt.Errorf("tokenizer: %s[%d]: merged token %q is not in the vocab", r.path, e.rank, r.tok(x))
				}
				return fmt.Errorf("tokenizer: %s[%d]: merge refers to unknown token %q", r.path, e.rank, r.tok(x))
			}
			switch k {
			case 0:
				e.aID = int32(id)
			case 1:
				e.bID = int32(id)
			case 2:
				r.merges.put(pairKey(e.aID, e.bID), uint64(e.rank)<<32|uint64(uint32(id)))
			}
		}
	}
	r.batch, r.buf = r.batch[:0], r.buf[:0]
	return nil
}

// setRaw switches the model to raw-byte input (byte-level pre-tokenizer as the last step).
func (m *bpe) setRaw() bool {
	if m.prefix != "" || m.suffix != "" {
		return false
	}
	for b := 0; b < 256; b++ {
		id, ok := m.vocab.get(byteToStr[b])
		if !ok {
			return false
		}
		m.byteIDs[b] = int32(id)
	}
	m.raw = true
	m.splitMark = false
	return true
}

func (m *bpe) tokenize(dst []int, word string) ([]int, error) {
	if word == "" {
		return dst, nil
	}
	if m.splitMark && len(word) > splitWordLength {
		return m.splitLong(dst, word)
	}
	return m.tokenizeWord(dst, word)
}

func (m *bpe) tokenizeWord(dst []int, word string) ([]int, error) {
	cacheable := len(word) < bpeCacheMaxWord
	if cacheable {
		m.mu.RLock()
		ids, ok := m.cache[word]
		m.mu.RUnlock()
		if ok {
			for _, id := range ids {
				dst = append(dst, int(id))
			}
			return dst, nil
		}
	}
	var ids []int32
	if m.ignoreMerges {
		key := word
		if m.raw {
			key = byteLevelEncode(word)
		}
		if id, ok := m.vocab.get(key); ok {
			ids = []int32{int32(id)}
		}
	}
	if ids == nil {
		var err error
		if ids, err = m.mergeWord(word); err != nil {
			return dst, err
		}
	}
	if cacheable {
		m.mu.Lock()
		if len(m.cache) < bpeCacheEntries {
			m.cache[word] = ids
		}
		m.mu.Unlock()
	}
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst, nil
}

func (m *bpe) mergeWord(word string) ([]int32, error) {
	syms := make([]int32, 0, len(word))
	if m.raw {
		for i := 0; i < len(word); i++ {
			syms = append(syms, m.byteIDs[word[i]])
		}
		return m.mergeAll(syms), nil
	}
	unkID := int32(-1)
	var sb []byte
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		sb = sb[:0]
		if i > 0 {
			sb = append(sb, m.prefix...)
		}
		sb = append(sb, word[i:i+n]...)
		if i+n == len(word) {
			sb = append(sb, m.suffix...)
		}
		i += n
		if id, ok := m.vocab.getBytes(sb); ok {
			if unkID >= 0 {
				syms = append(syms, unkID)
				unkID = -1
			}
			syms = append(syms, int32(id))
			continue
		}
		if m.byteFallback {
			all := true
			for _, c := range sb {
				if m.fallbackIDs[c] < 0 {
					all = false
					break
				}
			}
			if all {
				// A pending unknown stays pending across byte-fallback tokens (as in tokenizers).
				for _, c := range sb {
					syms = append(syms, m.fallbackIDs[c])
				}
				continue
			}
		}
		if m.hasUnk {
			id, ok := m.vocab.get(m.unk)
			if !ok {
				return nil, fmt.Errorf("tokenizer: unk_token %q is not in the vocab", m.unk)
			}
			if unkID >= 0 && !m.fuseUnk {
				syms = append(syms, unkID)
			}
			unkID = int32(id)
		}
	}
	if unkID >= 0 {
		syms = append(syms, unkID)
	}
	return m.mergeAll(syms), nil
}

// mergeScratch holds mergeAll's working arrays, reused across words.
type mergeScratch struct {
	prev, next []int32
	alive      []bool
	heap       []mergeCand
}

var mergeScratchPool = sync.Pool{New: func() any { return new(mergeScratch) }}

type mergeCand struct {
	rank  uint32
	pos   int32
	newID int32
}

func (a mergeCand) less(b mergeCand) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// mergeAll applies merges to the symbol ids exactly like tokenizers' Word::merge_all: a priority
// queue of (rank, position), stale entries skipped when the pair no longer yields the same id.
func (m *bpe) mergeAll(ids []int32) []int32 {
	n := len(ids)
	if n < 2 {
		return ids
	}
	sc := mergeScratchPool.Get().(*mergeScratch)
	defer mergeScratchPool.Put(sc)
	if cap(sc.prev) < n {
		sc.prev, sc.next, sc.alive = make([]int32, n), make([]int32, n), make([]bool, n)
	}
	prev, next, alive := sc.prev[:n], sc.next[:n], sc.alive[:n]
	heap := sc.heap[:0]
	defer func() { sc.heap = heap[:0] }()
	push := func(c mergeCand) {
		heap = append(heap, c)
		i := len(heap) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !heap[i].less(heap[p]) {
				break
			}
			heap[i], heap[p] = heap[p], heap[i]
			i = p
		}
	}
	pop := func() mergeCand {
		top := heap[0]
		last := len(heap) - 1
		heap[0] = heap[last]
		heap = heap[:last]
		i := 0
		for {
			l, r, s := 2*i+1, 2*i+2, i
			if l < last && heap[l].less(heap[s]) {
				s = l
			}
			if r < last && heap[r].less(heap[s]) {
				s = r
			}
			if s == i {
				break
			}
			heap[i], heap[s] = heap[s], heap[i]
			i = s
		}
		return top
	}
	for i := 0; i < n; i++ {
		prev[i] = int32(i - 1)
		next[i] = int32(i + 1)
		alive[i] = true
		if i+1 < n {
			if v, ok := m.merges.get(pairKey(ids[i], ids[i+1])); ok {
				push(mergeCand{uint32(v >> 32), int32(i), int32(uint32(v))})
			}
		}
	}
	next[n-1] = -1
	for len(heap) > 0 {
		top := pop()
		pos := top.pos
		if !alive[pos] || next[pos] < 0 {
			continue
		}
		right := next[pos]
		v, ok := m.merges.get(pairKey(ids[pos], ids[right]))
		if !ok || int32(uint32(v)) != top.newID {
			continue
		}
		ids[pos] = top.newID
		alive[right] = false
		next[pos] = next[right]
		if nr := next[right]; nr >= 0 {
			prev[nr] = pos
		}
		if p := prev[pos]; p >= 0 {
			if v, ok := m.merges.get(pairKey(ids[p], ids[pos])); ok {
				push(mergeCand{uint32(v >> 32), p, int32(uint32(v))})
			}
		}
		if nx := next[pos]; nx >= 0 {
			if v, ok := m.merges.get(pairKey(ids[pos], ids[nx])); ok {
				push(mergeCand{uint32(v >> 32), pos, int32(uint32(v))})
			}
		}
	}
	out := ids[:0]
	for i := 0; i < n; i++ {
		if alive[i] {
			out = append(out, ids[i])
		}
	}
	return out
}

// byteFallbackToken is the vocabulary entry of byte b in a byte-fallback
// model: "<0x%02X>" (written out: this runs 256 times per load, and fmt is
// the costliest code to run the first time in a new WebAssembly instance).
func byteFallbackToken(b int) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'<', '0', 'x', hex[b>>4&15], hex[b&15], '>'})
}
