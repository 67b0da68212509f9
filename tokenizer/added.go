package tokenizer

import (
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens.
type addedToken struct {
	id         int
	content    string
	special    bool
	singleWord bool
	lstrip     bool
	rstrip     bool
	normalized bool
}

// addedSet finds added tokens with leftmost-longest semantics (tokenizers builds an Aho-Corasick
// automaton with MatchKind::LeftmostLongest; a byte trie walked from each start gives the same
// matches).
type addedSet struct {
	tokens []*addedToken
	first  [256]bool
	edges  map[uint64]int32 // node<<8 | byte -> child
	term   []int32          // node -> index in tokens, -1
}

func newAddedSet(tokens []*addedToken, content func(*addedToken) string) *addedSet {
	a := &addedSet{edges: map[uint64]int32{}, term: []int32{-1}}
	for i, t := range tokens {
		c := content(t)
		if c == "" {
			continue
		}
		a.first[c[0]] = true
		node := int32(0)
		for k := 0; k < len(c); k++ {
			key := uint64(node)<<8 | uint64(c[k])
			child, ok := a.edges[key]
			if !ok {
				child = int32(len(a.term))
				a.term = append(a.term, -1)
				a.edges[key] = child
			}
			node = child
		}
		if a.term[node] < 0 { // first occurrence of a content wins
			a.term[node] = int32(i)
		}
	}
	a.tokens = tokens
	return a
}

func (a *addedSet) empty() bool { return a == nil || len(a.term) == 1 }

// longest returns the longest token matching at s[i:], or (-1, 0).
func (a *addedSet) longest(s string, i int) (int, int) {
	node, best, bestEnd := int32(0), int32(-1), 0
	for k := i; k < len(s); k++ {
		child, ok := a.edges[uint64(node)<<8|uint64(s[k])]
		if !ok {
			break
		}
		node = child
		if t := a.term[node]; t >= 0 {
			best, bestEnd = t, k+1
		}
	}
	return int(best), bestEnd
}

// segment is a piece of input: an added token (id >= 0) or text still to tokenize.
type segment struct {
	s     string
	id    int
	first bool
}

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isAlphanumeric(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isAlphanumeric(r)
}

// split appends the segments of s (tokenizers AddedVocabulary::find_matches).
func (a *addedSet) split(dst []segment, s string, first bool) []segment {
	if a.empty() {
		return append(dst, segment{s, -1, first})
	}
	startOffset := 0
	for i := 0; i < len(s); {
		if !a.first[s[i]] {
			i++
			continue
		}
		ti, stop := a.longest(s, i)
		if ti < 0 {
			i++
			continue
		}
		start := i
		i = stop
		t := a.tokens[ti]
		if t.singleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.lstrip {
			ns := start
			for ns > 0 {
				r, n := utf8.DecodeLastRuneInString(s[:ns])
				if !isWhiteSpace(r) {
					break
				}
				ns -= n
			}
			start = max(ns, startOffset)
		}
		if t.rstrip {
			for stop < len(s) {
				r, n := utf8.DecodeRuneInString(s[stop:])
				if !isWhiteSpace(r) {
					break
				}
				stop += n
			}
		}
		if startOffset < start {
			dst = append(dst, segment{s[startOffset:start], -1, first && startOffset == 0})
		}
		dst = append(dst, segment{"", t.id, false})
		startOffset = stop
		i = max(i, stop)
	}
	if startOffset < len(s) || len(s) == 0 {
		dst = append(dst, segment{s[startOffset:], -1, first && startOffset == 0})
	}
	return dst
}
