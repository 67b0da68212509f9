package tokenizer

import (
	"strings"
	"unicode/utf8"

	"github.com/c9e48c40/alibi/internal/onig"
)

// matcher finds all non-overlapping leftmost-first matches of a pattern, in order, as byte offsets.
type matcher interface {
	findAll(s string, yield func(start, end int))
}

// compilePattern returns a matcher for an Oniguruma pattern (as written in tokenizer.json).
// The patterns of the common byte-level tokenizers get hand-written matchers, proven identical
// to the regex engines by the conformance suite and by FuzzMatchers; anything else runs on
// internal/onig, a small backtracking engine for Oniguruma's syntax.
func compilePattern(pat string) (matcher, error) {
	if m, ok := handMatchers[pat]; ok {
		return m, nil
	}
	return compileOnig(pat)
}

// literal matches a fixed string (Split/Replace {"String": ...}).
type literal string

func (l literal) findAll(s string, yield func(start, end int)) {
	if l == "" {
		return
	}
	for i := 0; i <= len(s); {
		j := strings.Index(s[i:], string(l))
		if j < 0 {
			return
		}
		yield(i+j, i+j+len(l))
		i += j + len(l)
	}
}

// onigMatcher runs a pattern no hand-written matcher covers.
type onigMatcher struct{ re *onig.Regexp }

func compileOnig(pat string) (matcher, error) {
	re, err := onig.Compile(pat)
	if err != nil {
		return nil, err
	}
	return onigMatcher{re}, nil
}

func (m onigMatcher) findAll(s string, yield func(start, end int)) { m.re.FindAll(s, yield) }

// ---- hand-written matchers ----

// anchored is a pattern matched at a position: end of the match starting at i, or -1.
type anchored func(s string, i int) int

func (f anchored) findAll(s string, yield func(start, end int)) {
	for i := 0; i < len(s); {
		if e := f(s, i); e > i {
			yield(i, e)
			i = e
			continue
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		}
	}
}

const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	o200kPattern  = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	bloomPattern  = ` ?[^(\s|[.,!?…。，、।۔،])]+`
	digits3       = `\p{N}{1,3}`
)

var handMatchers = map[string]matcher{
	gpt2Pattern:   anchored(matchGPT2),
	llama3Pattern: anchored(func(s string, i int) int { return matchLlama3(s, i, 3) }),
	qwen2Pattern:  anchored(func(s string, i int) int { return matchLlama3(s, i, 1) }),
	o200kPattern:  anchored(matchO200k),
	bloomPattern:  anchored(matchBLOOM),
	digits3:       anchored(func(s string, i int) int { return runN(s, i, cNumber, 3) }),
}

// at decodes the rune at s[i] (i < len(s)) and its class.
func at(s string, i int) (rune, int, uint8) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1, asciiClass[c]
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return r, n, slowClass(r)
}

// run returns the end of the run of chars from i whose class intersects mask (want) or not (!want).
func run(s string, i int, mask uint8, want bool) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if (asciiClass[c]&mask != 0) != want {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (slowClass(r)&mask != 0) != want {
			return i
		}
		i += n
	}
	return i
}

// runN is run limited to max chars.
func runN(s string, i int, mask uint8, max int) int {
	for k := 0; k < max && i < len(s); k++ {
		_, n, c := at(s, i)
		if c&mask == 0 {
			break
		}
		i += n
	}
	return i
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at i (case-insensitively if fold), returning its end or -1.
func contraction(s string, i int, fold bool) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return -1
	}
	lower := func(j int) (rune, int) {
		if j >= len(s) {
			return 0, 0
		}
		r, n, _ := at(s, j)
		if fold {
			switch {
			case r >= 'A' && r <= 'Z':
				r += 'a' - 'A'
			case r == 'ſ': // U+017F folds to 's'
				r = 's'
			case r == 'K': // U+212A KELVIN SIGN folds to 'k'
				r = 'k'
			}
		}
		return r, n
	}
	r1, n1 := lower(i + 1)
	switch r1 {
	case 's', 't', 'm', 'd':
		return i + 1 + n1
	case 'r', 'v':
		if r2, n2 := lower(i + 1 + n1); r2 == 'e' {
			return i + 1 + n1 + n2
		}
	case 'l':
		if r2, n2 := lower(i + 1 + n1); r2 == 'l' {
			return i + 1 + n1 + n2
		}
	}
	return -1
}

// spaceTail implements `\s+(?!\S)|\s+` at i (s[i] is whitespace).
func spaceTail(s string, i int) int {
	j := run(s, i, cSpace, true)
	if j == len(s) {
		return j
	}
	// Give back the last whitespace char if at least one remains.
	_, n := utf8.DecodeLastRuneInString(s[:j])
	if j-n > i {
		return j - n
	}
	return j
}

// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
func matchGPT2(s string, i int) int {
	if e := contraction(s, i, false); e > 0 {
		return e
	}
	p := i
	if s[i] == ' ' && i+1 < len(s) {
		p = i + 1
	}
	_, _, c := at(s, p)
	switch {
	case c&cLetter != 0:
		return run(s, p, cLetter, true)
	case c&cNumber != 0:
		return run(s, p, cNumber, true)
	case c&cSpace == 0:
		return run(s, p, cLetter|cNumber|cSpace, false)
	}
	return spaceTail(s, i)
}

// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
func matchLlama3(s string, i int, maxDigits int) int {
	if e := contraction(s, i, true); e > 0 {
		return e
	}
	r, n, c := at(s, i)
	if c&cLetter != 0 {
		return run(s, i, cLetter, true)
	}
	if r != '\r' && r != '\n' && c&cNumber == 0 && i+n < len(s) {
		if e := run(s, i+n, cLetter, true); e > i+n {
			return e
		}
	}
	if c&cNumber != 0 {
		return runN(s, i, cNumber, maxDigits)
	}
	p := i
	if r == ' ' && i+1 < len(s) {
		p = i + 1
	}
	if e := run(s, p, cLetter|cNumber|cSpace, false); e > p {
		for e < len(s) && (s[e] == '\r' || s[e] == '\n') {
			e++
		}
		return e
	}
	if c&cSpace == 0 {
		return -1
	}
	j := run(s, i, cSpace, true)
	if k := strings.LastIndexAny(s[i:j], "\r\n"); k >= 0 {
		return i + k + 1
	}
	return spaceTail(s, i)
}

// o200k (gpt-4o, gpt-oss).
func matchO200k(s string, i int) int {
	r, n, c := at(s, i)
	optA := r != '\r' && r != '\n' && c&(cLetter|cNumber) == 0
	// Alternative 1: A? U* L+ C?
	alt1 := func(p int) int {
		u := run(s, p, cUpperish, true)
		l := run(s, u, cLowerish, true)
		end := l
		if l == u {
			end = -1
			for k := u; k > p; {
				r, n := utf8.DecodeLastRuneInString(s[:k])
				if charClass(r)&cLowerish != 0 {
					end = k
					break
				}
				k -= n
			}
			if end < 0 {
				return -1
			}
		}
		if e := contraction(s, end, true); e > 0 {
			return e
		}
		return end
	}
	// Alternative 2: A? U+ L* C?
	alt2 := func(p int) int {
		u := run(s, p, cUpperish, true)
		if u == p {
			return -1
		}
		end := run(s, u, cLowerish, true)
		if e := contraction(s, end, true); e > 0 {
			return e
		}
		return end
	}
	for _, alt := range [2]func(int) int{alt1, alt2} {
		if optA && i+n < len(s) {
			if e := alt(i + n); e > 0 {
				return e
			}
		}
		if e := alt(i); e > 0 {
			return e
		}
	}
	if c&cNumber != 0 {
		return runN(s, i, cNumber, 3)
	}
	p := i
	if r == ' ' && i+1 < len(s) {
		p = i + 1
	}
	if e := run(s, p, cLetter|cNumber|cSpace, false); e > p {
		for e < len(s) && (s[e] == '\r' || s[e] == '\n' || s[e] == '/') {
			e++
		}
		return e
	}
	if c&cSpace == 0 {
		return -1
	}
	j := run(s, i, cSpace, true)
	if k := strings.LastIndexAny(s[i:j], "\r\n"); k >= 0 {
		return i + k + 1
	}
	return spaceTail(s, i)
}

// BLOOM: ` ?[^(\s|[.,!?…。，、।۔،])]+` (one Oniguruma class excluding ( ) | whitespace and . , ! ? … 。 ， 、 । ۔ ،).
func bloomExcluded(r rune, c uint8) bool {
	switch r {
	case '(', ')', '|', '.', ',', '!', '?', '…', '。', '，', '、', '।', '۔', '،':
		return true
	}
	return c&cSpace != 0
}

func matchBLOOM(s string, i int) int {
	p := i
	if s[i] == ' ' {
		p = i + 1
	}
	e := p
	for e < len(s) {
		r, n, c := at(s, e)
		if bloomExcluded(r, c) {
			break
		}
		e += n
	}
	if e > p {
		return e
	}
	return -1
}
