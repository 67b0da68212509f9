package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// span is a piece of normalized text on its way to the model. first is true when the piece
// starts at offset 0 of the original input (Metaspace prepend_scheme "first").
type span struct {
	s     string
	first bool
}

// preTokenizer splits one span and passes each non-empty piece to emit, in order. Pieces stream
// to the model instead of being collected: a 1 MB text has 200k of them.
type preTokenizer interface {
	split(in span, emit func(span))
}

type behavior uint8

const (
	removed behavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

func parseBehavior(o obj, key string, def behavior) (behavior, error) {
	s, ok, err := o.optStr(key)
	if err != nil || !ok {
		return def, err
	}
	switch s {
	case "Removed":
		return removed, nil
	case "Isolated":
		return isolated, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, o.errf(key, "unknown %q", s)
}

type match struct {
	start, end int
	isMatch    bool
}

// splitSpan splits in.s at the matches of m with the given behaviour (tokenizers'
// NormalizedString::split), passing non-empty pieces to out.
func splitSpan(in span, m matcher, b behavior, invert bool, out func(span)) {
	s := in.s
	if s == "" {
		return
	}
	emit := func(start, end int) {
		if end > start {
			out(span{s: s[start:end], first: in.first && start == 0})
		}
	}
	if b == isolated && !invert {
		// Fast path: every match and every gap is a piece.
		prev := 0
		m.findAll(s, func(start, end int) {
			emit(prev, start)
			emit(start, end)
			prev = end
		})
		emit(prev, len(s))
		return
	}
	var ms []match
	prev := 0
	m.findAll(s, func(start, end int) {
		if prev != start {
			ms = append(ms, match{prev, start, invert})
		}
		ms = append(ms, match{start, end, !invert})
		prev = end
	})
	if prev != len(s) {
		ms = append(ms, match{prev, len(s), invert})
	}
	switch b {
	case isolated:
		for _, x := range ms {
			emit(x.start, x.end)
		}
	case removed:
		for _, x := range ms {
			if !x.isMatch {
				emit(x.start, x.end)
			}
		}
	case mergedWithPrevious:
		var merged []match
		prevMatch := false
		for _, x := range ms {
			if x.isMatch && !prevMatch && len(merged) > 0 {
				merged[len(merged)-1].end = x.end
			} else {
				merged = append(merged, x)
			}
			prevMatch = x.isMatch
		}
		for _, x := range merged {
			emit(x.start, x.end)
		}
	case mergedWithNext:
		var merged []match
		prevMatch := false
		for i := len(ms) - 1; i >= 0; i-- {
			x := ms[i]
			if x.isMatch && !prevMatch && len(merged) > 0 {
				merged[len(merged)-1].start = x.start
			} else {
				merged = append(merged, x)
			}
			prevMatch = x.isMatch
		}
		for i := len(merged) - 1; i >= 0; i-- {
			emit(merged[i].start, merged[i].end)
		}
	case contiguous:
		var merged []match
		prevMatch := false
		for _, x := range ms {
			if x.isMatch == prevMatch && len(merged) > 0 {
				merged[len(merged)-1].end = x.end
			} else {
				merged = append(merged, x)
			}
			prevMatch = x.isMatch
		}
		for _, x := range merged {
			emit(x.start, x.end)
		}
	}
}

// charMatcher matches every char satisfying f, one match per char.
type charMatcher func(rune) bool

func (f charMatcher) findAll(s string, yield func(start, end int)) {
	for i, r := range s {
		if f(r) {
			yield(i, i+utf8.RuneLen(r))
		}
	}
}

// ---- pre-tokenizers ----

type preSequence []preTokenizer

func (q preSequence) split(in span, emit func(span)) {
	var stage func(i int, sp span)
	stage = func(i int, sp span) {
		if i == len(q) {
			emit(sp)
			return
		}
		q[i].split(sp, func(x span) { stage(i+1, x) })
	}
	stage(0, in)
}

type splitPre struct {
	m      matcher
	b      behavior
	invert bool
}

func (p splitPre) split(in span, emit func(span)) { splitSpan(in, p.m, p.b, p.invert, emit) }

// byteLevelPre is the GPT-2 pre-tokenizer. When raw is set, the byte-to-char mapping is left to
// the BPE model, which works on bytes directly (same ids, no string rewriting).
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
	raw            bool
}

var gpt2Matcher = anchored(matchGPT2)

func (p *byteLevelPre) split(in span, emit func(span)) {
	// (tokenizers' NormalizedString::prepend does nothing on an empty string)
	if p.addPrefixSpace && in.s != "" && !strings.HasPrefix(in.s, " ") {
		in.s = " " + in.s
	}
	out := emit
	if !p.raw {
		out = func(sp span) {
			sp.s = byteLevelEncode(sp.s)
			emit(sp)
		}
	}
	if p.useRegex {
		splitSpan(in, gpt2Matcher, isolated, false, out)
	} else if in.s != "" {
		out(in)
	}
}

type prependScheme uint8

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

type metaspacePre struct {
	replacement rune
	rep         string
	scheme      prependScheme
	doSplit     bool
}

func (p metaspacePre) split(in span, emit func(span)) {
	s := strings.ReplaceAll(in.s, " ", p.rep)
	if s != "" && !strings.HasPrefix(s, p.rep) && (p.scheme == prependAlways || p.scheme == prependFirst && in.first) {
		s = p.rep + s
	}
	if !p.doSplit {
		if s != "" {
			emit(span{s, in.first})
		}
		return
	}
	splitSpan(span{s, in.first}, literal(p.rep), mergedWithNext, false, emit)
}

// whitespacePre keeps the matches of `\w+|[^\w\s]+`.
type whitespacePre struct{}

func matchWhitespace(s string, i int) int {
	r, n := utf8.DecodeRuneInString(s[i:])
	if isWordChar(r) {
		j := i + n
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !isWordChar(r) {
				break
			}
			j += n
		}
		return j
	}
	if isWhiteSpace(r) {
		return -1
	}
	j := i + n
	for j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		if isWordChar(r) || isWhiteSpace(r) {
			break
		}
		j += n
	}
	return j
}

func (whitespacePre) split(in span, emit func(span)) {
	splitSpan(in, anchored(matchWhitespace), removed, true, emit)
}

type charSplitPre struct {
	f charMatcher
	b behavior
}

func (p charSplitPre) split(in span, emit func(span)) { splitSpan(in, p.f, p.b, false, emit) }

type bertPre struct{}

func (bertPre) split(in span, emit func(span)) {
	splitSpan(in, charMatcher(isWhiteSpace), removed, false, func(sp span) {
		splitSpan(sp, charMatcher(isPunctuation), isolated, false, emit)
	})
}

func parsePreTokenizer(o obj) (preTokenizer, error) {
	t, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch t {
	case "Sequence":
		list, err := o.list("pretokenizers")
		if err != nil {
			return nil, err
		}
		var seq preSequence
		for i, v := range list {
			path := elemPath(o.at("pretokenizers"), i)
			if v.kind != jObj {
				return nil, fmt.Errorf("tokenizer: %s: expected an object", path)
			}
			p, err := parsePreTokenizer(obj{v: v, path: path})
			if err != nil {
				return nil, err
			}
			seq = append(seq, p)
		}
		return seq, nil
	case "ByteLevel":
		aps, err := o.boolean("add_prefix_space", true)
		if err != nil {
			return nil, err
		}
		re, err := o.boolean("use_regex", true)
		if err != nil {
			return nil, err
		}
		if _, err := o.boolean("trim_offsets", true); err != nil {
			return nil, err
		}
		return &byteLevelPre{addPrefixSpace: aps, useRegex: re}, nil
	case "Split":
		pat, isRe, err := o.pattern("pattern")
		if err != nil {
			return nil, err
		}
		m, err := patternMatcher(pat, isRe)
		if err != nil {
			return nil, o.errf("pattern", "%v", err)
		}
		b, err := parseBehavior(o, "behavior", removed)
		if err != nil {
			return nil, err
		}
		if !o.has("behavior") {
			return nil, o.errf("behavior", "missing")
		}
		inv, err := o.boolean("invert", false)
		if err != nil {
			return nil, err
		}
		return splitPre{m, b, inv}, nil
	case "Metaspace":
		rep, err := o.str("replacement", "▁")
		if err != nil {
			return nil, err
		}
		r, n := utf8.DecodeRuneInString(rep)
		if rep == "" || n != len(rep) {
			return nil, o.errf("replacement", "expected one character, got %q", rep)
		}
		p := metaspacePre{replacement: r, rep: rep, scheme: prependAlways, doSplit: true}
		if aps, ok := o.v.get("add_prefix_space"), o.has("add_prefix_space"); ok && aps.kind == jBool && !aps.b {
			p.scheme = prependNever
		}
		if s, ok, err := o.optStr("prepend_scheme"); err != nil {
			return nil, err
		} else if ok {
			switch s {
			case "always":
				p.scheme = prependAlways
			case "first":
				p.scheme = prependFirst
			case "never":
				p.scheme = prependNever
			default:
				return nil, o.errf("prepend_scheme", "unknown %q", s)
			}
		}
		if p.doSplit, err = o.boolean("split", true); err != nil {
			return nil, err
		}
		return p, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return charSplitPre{charMatcher(isWhiteSpace), removed}, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Punctuation":
		b, err := parseBehavior(o, "behavior", isolated)
		if err != nil {
			return nil, err
		}
		return charSplitPre{charMatcher(isPunctuation), b}, nil
	case "Digits":
		ind, err := o.boolean("individual_digits", false)
		if err != nil {
			return nil, err
		}
		b := contiguous
		if ind {
			b = isolated
		}
		return charSplitPre{charMatcher(unicode.IsNumber), b}, nil
	case "CharDelimiterSplit":
		d, err := o.str("delimiter", "")
		if err != nil {
			return nil, err
		}
		r, n := utf8.DecodeRuneInString(d)
		if d == "" || n != len(d) {
			return nil, o.errf("delimiter", "expected one character, got %q", d)
		}
		return charSplitPre{charMatcher(func(x rune) bool { return x == r }), removed}, nil
	case "UnicodeScripts", "FixedLength":
		return nil, o.errf("type", "pre-tokenizer %q is not supported", t)
	}
	return nil, o.unknown(t)
}
