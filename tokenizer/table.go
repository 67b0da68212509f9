package tokenizer

import "unsafe"

// vocabTable maps token strings to ids. Tokens live in one byte arena and the open-addressing
// slots hold hash, offset, length and id, so loading a 250k-token vocab makes no per-token
// allocation and a lookup touches one slot and the token bytes (Go maps cost several times more
// under js/wasm, where loading time matters most).
type vocabTable struct {
	arena []byte
	slots []vslot
	n     int
}

type vslot struct {
	hash uint32
	off  uint32
	n    uint32
	id1  int32 // id + 1; 0: empty slot (so a fresh zeroed slice needs no initialisation)
}

func newVocabTable(hint int) *vocabTable {
	t := &vocabTable{arena: make([]byte, 0, 8*hint)}
	t.alloc(max(16, hint))
	return t
}

func (t *vocabTable) alloc(count int) {
	size := 16
	for size < 2*count {
		size <<= 1
	}
	t.slots = make([]vslot, size)
}

func hashBytes[T string | []byte](b T) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(b); i++ {
		h ^= uint32(b[i])
		h *= 16777619
	}
	return h
}

func (t *vocabTable) key(s vslot) string {
	if s.n == 0 {
		return ""
	}
	return unsafe.String(&t.arena[s.off], int(s.n))
}

// put sets tok -> id (a later duplicate key wins, as with a JSON object read into a map).
func (t *vocabTable) put(tok []byte, id int) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	h := hashBytes(tok)
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.id1 == 0 {
			*s = vslot{hash: h, off: uint32(len(t.arena)), n: uint32(len(tok)), id1: int32(id) + 1}
			t.arena = append(t.arena, tok...)
			t.n++
			return
		}
		if s.hash == h && t.key(*s) == string(tok) {
			s.id1 = int32(id) + 1
			return
		}
	}
}

func (t *vocabTable) grow() {
	old := t.slots
	t.alloc(2 * max(t.n, 8))
	mask := uint32(len(t.slots) - 1)
	for _, s := range old {
		if s.id1 == 0 {
			continue
		}
		i := s.hash & mask
		for t.slots[i].id1 != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

func lookup[T string | []byte](t *vocabTable, tok T) (int, bool) {
	return lookupHashed(t, tok, hashBytes(tok))
}

func lookupHashed[T string | []byte](t *vocabTable, tok T, h uint32) (int, bool) {
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.id1 == 0 {
			return 0, false
		}
		if s.hash == h && int(s.n) == len(tok) && t.key(*s) == string(tok) {
			return int(s.id1) - 1, true
		}
	}
}

func (t *vocabTable) get(tok string) (int, bool)      { return lookup(t, tok) }
func (t *vocabTable) getBytes(tok []byte) (int, bool) { return lookup(t, tok) }

// each calls fn for every entry; tok points into the arena (valid as long as the table).
func (t *vocabTable) each(fn func(tok string, id int)) {
	for _, s := range t.slots {
		if s.id1 != 0 {
			fn(t.key(s), int(s.id1)-1)
		}
	}
}

func (t *vocabTable) size() int { return t.n }

// maxID returns the largest id in the table, or -1 when it is empty.
//
// maxID and fillTokens are loops of their own rather than each with a closure inlined into a large
// caller: see compactVocab.
//
//go:noinline
func (t *vocabTable) maxID() int {
	m := -1
	for _, s := range t.slots {
		m = max(m, int(s.id1)-1)
	}
	return m
}

// fillTokens sets tokens[id] and valid[id] for every entry; among several tokens with one id, the
// least wins (a deterministic choice).
//
//go:noinline
func (t *vocabTable) fillTokens(tokens []string, valid []bool) {
	for _, s := range t.slots {
		if s.id1 == 0 {
			continue
		}
		id, tok := int(s.id1)-1, t.key(s)
		if !valid[id] || tok < tokens[id] {
			tokens[id], valid[id] = tok, true
		}
	}
}

// pairTable maps a merge pair (two ids) to rank<<32 | merged id, with linear probing.
type pairTable struct {
	slots []pslot
	n     int
}

type pslot struct{ k, v uint64 } // k = pair | usedBit; 0: unused

const usedBit = 1 << 63 // ids are below 2^24, so a pair key never has it

func newPairTable(hint int) *pairTable {
	size := 16
	for size < 2*hint {
		size <<= 1
	}
	return &pairTable{slots: make([]pslot, size)}
}

func pairSlot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> 32 }

func (t *pairTable) put(k, v uint64) {
	k |= usedBit
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		*t = *newPairTable(2 * max(t.n, 8))
		for _, s := range old {
			if s.k != 0 {
				t.put(s.k&^usedBit, s.v)
			}
		}
	}
	mask := uint64(len(t.slots) - 1)
	for i := pairSlot(k) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.k == 0 {
			*s = pslot{k, v}
			t.n++
			return
		}
		if s.k == k {
			s.v = v
			return
		}
	}
}

func (t *pairTable) get(k uint64) (uint64, bool) {
	k |= usedBit
	mask := uint64(len(t.slots) - 1)
	for i := pairSlot(k) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.k == k {
			return s.v, true
		}
		if s.k == 0 {
			return 0, false
		}
	}
}
