// Package onig matches the regular expressions of tokenizer.json files, which
// Hugging Face tokenizers compiles with Oniguruma (Ruby syntax), with a small
// backtracking engine: leftmost-first alternation; greedy, lazy and
// possessive quantifiers; nested character classes; Unicode categories and
// common scripts; case-insensitive groups; lookahead, lookbehind and atomic
// groups; line and text anchors. Backreferences, conditionals and callouts
// are refused with an error that names them.
//
// It replaces a general regex library in the engine's WebAssembly build: the
// common tokenizer patterns run on hand-written matchers (package
// tokenizer), and the library's code and Unicode tables cost every browser
// tab that starts the engine about a fifth of its module size and its
// start-up time for the rare pattern that needs it.
package onig

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type nodeKind uint8

const (
	nEmpty  nodeKind = iota
	nRune            // r (fold: any case variant)
	nClass           // cls
	nAny             // '.': any rune but '\n'
	nConcat          // subs in order
	nAlt             // subs, the first that leads to a match wins
	nRepeat          // subs[0] min..max times (max < 0: no limit)
	nAssert          // at
	nLook            // subs[0] ahead (or behind), negated when neg
	nAtomic          // subs[0], its first match only
)

type repeatKind uint8

const (
	greedy repeatKind = iota
	lazy
	possessive
)

type assertKind uint8

const (
	aLineStart   assertKind = iota // ^
	aLineEnd                       // $
	aTextStart                     // \A
	aTextEnd                       // \z
	aTextEndNL                     // \Z: end, or before a final '\n'
	aWordB                         // \b
	aNotWordB                      // \B
	aSearchStart                   // \G
)

type node struct {
	kind     nodeKind
	r        rune
	fold     bool
	cls      *class
	subs     []*node
	min, max int
	rep      repeatKind
	at       assertKind
	behind   bool
	neg      bool
}

// maxRepeat bounds a counted repetition ({n,m}); the program repeats its body.
const maxRepeat = 1000

// maxDepth bounds the nesting of groups and classes.
const maxDepth = 200

type parser struct {
	pat   string
	i     int
	depth int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("regex %q at offset %d: %s", p.pat, p.i, fmt.Sprintf(format, args...))
}

func parse(pat string) (*node, error) {
	if !utf8.ValidString(pat) {
		return nil, fmt.Errorf("regex %q: not valid UTF-8", pat)
	}
	p := &parser{pat: pat}
	n, err := p.alt(false)
	if err != nil {
		return nil, err
	}
	if p.i < len(pat) {
		return nil, p.errorf("unmatched ')'")
	}
	return n, nil
}

// alt parses alternatives up to a ')' (not consumed) or the end.
func (p *parser) alt(fold bool) (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf("groups nested too deep")
	}
	var alts []*node
	for {
		seq, f, err := p.concat(fold)
		if err != nil {
			return nil, err
		}
		fold = f // (?i) reaches the later alternatives of its group
		alts = append(alts, seq)
		if p.i < len(p.pat) && p.pat[p.i] == '|' {
			p.i++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: nAlt, subs: alts}, nil
}

// concat parses a sequence up to '|', ')' or the end. It returns the fold
// setting in force at its end (an inline (?i) changes it).
func (p *parser) concat(fold bool) (*node, bool, error) {
	var seq []*node
	for p.i < len(p.pat) {
		c := p.pat[p.i]
		if c == '|' || c == ')' {
			break
		}
		if c == '(' && strings.HasPrefix(p.pat[p.i:], "(?") {
			if f, ok := p.inlineFlags(fold); ok {
				fold = f
				continue
			}
		}
		atom, err := p.atom(fold)
		if err != nil {
			return nil, fold, err
		}
		if atom == nil {
			continue // a comment
		}
		atom, err = p.quantifiers(atom)
		if err != nil {
			return nil, fold, err
		}
		seq = append(seq, atom)
	}
	switch len(seq) {
	case 0:
		return &node{kind: nEmpty}, fold, nil
	case 1:
		return seq[0], fold, nil
	}
	return &node{kind: nConcat, subs: seq}, fold, nil
}

// flagRun reads the option letters after the "(?" at p.i ('i' turns case
// folding on, after a '-' off) and returns the setting and the offset from
// p.i of the byte that ended the run.
func (p *parser) flagRun(fold bool) (bool, int) {
	on := true
	j := p.i + 2
	for ; j < len(p.pat); j++ {
		switch p.pat[j] {
		case 'i':
			fold = on
		case '-':
			on = false
		default:
			return fold, j - p.i
		}
	}
	return fold, j - p.i
}

// inlineFlags reads "(?i)", "(?-i)" or "(?i-i)" (flags up to the end of the
// enclosing group); ok is false when the group is something else.
func (p *parser) inlineFlags(fold bool) (bool, bool) {
	f, j := p.flagRun(fold)
	if j > 2 && p.i+j < len(p.pat) && p.pat[p.i+j] == ')' {
		p.i += j + 1
		return f, true
	}
	return fold, false
}

func (p *parser) atom(fold bool) (*node, error) {
	c := p.pat[p.i]
	switch c {
	case '(':
		return p.group(fold)
	case '[':
		cls, err := p.class(fold)
		if err != nil {
			return nil, err
		}
		return &node{kind: nClass, cls: cls}, nil
	case '.':
		p.i++
		return &node{kind: nAny}, nil
	case '^':
		p.i++
		return &node{kind: nAssert, at: aLineStart}, nil
	case '$':
		p.i++
		return &node{kind: nAssert, at: aLineEnd}, nil
	case '\\':
		return p.escape(fold)
	case '*', '+', '?':
		return nil, p.errorf("quantifier %q follows nothing", c)
	}
	if c == '{' {
		if _, _, n := interval(p.pat[p.i:]); n > 0 {
			return nil, p.errorf("quantifier follows nothing")
		}
	}
	r, n := utf8.DecodeRuneInString(p.pat[p.i:])
	p.i += n
	return runeNode(r, fold), nil
}

func runeNode(r rune, fold bool) *node {
	return &node{kind: nRune, r: r, fold: fold && hasFold(r)}
}

func hasFold(r rune) bool { return unicode.SimpleFold(r) != r }

func (p *parser) group(fold bool) (*node, error) {
	rest := p.pat[p.i:]
	var kind nodeKind = nConcat
	var look node
	switch {
	case strings.HasPrefix(rest, "(?#"):
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return nil, p.errorf("unterminated comment")
		}
		p.i += end + 1
		return nil, nil
	case strings.HasPrefix(rest, "(?:"):
		p.i += 3
	case strings.HasPrefix(rest, "(?="):
		p.i += 3
		kind, look = nLook, node{}
	case strings.HasPrefix(rest, "(?!"):
		p.i += 3
		kind, look = nLook, node{neg: true}
	case strings.HasPrefix(rest, "(?<="):
		p.i += 4
		kind, look = nLook, node{behind: true}
	case strings.HasPrefix(rest, "(?<!"):
		p.i += 4
		kind, look = nLook, node{behind: true, neg: true}
	case strings.HasPrefix(rest, "(?>"):
		p.i += 3
		kind = nAtomic
	case strings.HasPrefix(rest, "(?<") || strings.HasPrefix(rest, "(?'"):
		// A named group: captures play no part here.
		close := byte('>')
		if rest[2] == '\'' {
			close = '\''
		}
		end := strings.IndexByte(rest[3:], close)
		if end <= 0 {
			return nil, p.errorf("bad group name")
		}
		p.i += 3 + end + 1
	case strings.HasPrefix(rest, "(?"):
		// Scoped flags: (?i:...), (?-i:...), (?i-i:...). Other options (Ruby's
		// m and x change how the rest reads) and group kinds are refused.
		f, j := p.flagRun(fold)
		if j >= len(rest) {
			return nil, p.errorf("group (? is not supported")
		}
		if j == 2 || rest[j] != ':' {
			return nil, p.errorf("group (?%c is not supported", rest[j])
		}
		p.i += j + 1
		fold = f
	default:
		p.i++
	}
	sub, err := p.alt(fold)
	if err != nil {
		return nil, err
	}
	if p.i >= len(p.pat) || p.pat[p.i] != ')' {
		return nil, p.errorf("missing ')'")
	}
	p.i++
	switch kind {
	case nLook:
		look.kind = nLook
		look.subs = []*node{sub}
		return &look, nil
	case nAtomic:
		return &node{kind: nAtomic, subs: []*node{sub}}, nil
	}
	return sub, nil
}

// interval reads "{n}", "{n,}", "{n,m}" or "{,m}" at the start of s; n is 0
// when it is not one (and '{' is then a literal).
func interval(s string) (min, max, n int) {
	end := strings.IndexByte(s, '}')
	if len(s) < 3 || s[0] != '{' || end < 2 {
		return 0, 0, 0
	}
	lo, hi, comma := strings.Cut(s[1:end], ",")
	if !comma {
		hi = lo
	}
	if lo == "" && hi == "" {
		return 0, 0, 0
	}
	// num reads a count; an empty one is the open end (0 below, none above).
	num := func(t string, empty int) (int, bool) {
		if t == "" {
			return empty, true
		}
		if len(t) > 7 {
			return 0, false
		}
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return 0, false
			}
		}
		v, err := strconv.Atoi(t)
		return v, err == nil
	}
	a, ok1 := num(lo, 0)
	b, ok2 := num(hi, -1)
	if !ok1 || !ok2 {
		return 0, 0, 0
	}
	return a, b, end + 1
}

func (p *parser) quantifiers(atom *node) (*node, error) {
	for p.i < len(p.pat) {
		min, max := 0, -1
		counted := false
		switch c := p.pat[p.i]; c {
		case '*':
			p.i++
		case '+':
			min = 1
			p.i++
		case '?':
			max = 1
			p.i++
		case '{':
			a, b, n := interval(p.pat[p.i:])
			if n == 0 {
				return atom, nil
			}
			if b >= 0 && a > b {
				return nil, p.errorf("repeat range {%d,%d} is out of order", a, b)
			}
			if a > maxRepeat || b > maxRepeat {
				return nil, p.errorf("repeat count above %d", maxRepeat)
			}
			min, max, counted = a, b, true
			p.i += n
		default:
			return atom, nil
		}
		if atom.kind == nAssert || atom.kind == nLook {
			return nil, p.errorf("quantifier after an assertion")
		}
		rep := greedy
		if p.i < len(p.pat) {
			switch p.pat[p.i] {
			case '?':
				rep = lazy
				p.i++
			case '+':
				if !counted { // Ruby syntax: {n,m}+ repeats again, x*+ is possessive
					rep = possessive
					p.i++
				}
			}
		}
		atom = reduce(&node{kind: nRepeat, subs: []*node{atom}, min: min, max: max, rep: rep})
	}
	return atom, nil
}

// reduce folds a greedy ?, * or + applied to another (x**, (?:x+)*, x?+ ...)
// into one quantifier, as Oniguruma does: the same matches, without the
// exponential backtracking of nested loops.
func reduce(n *node) *node {
	in := n.subs[0]
	simple := func(r *node) bool { return r.rep == greedy && r.min <= 1 && (r.max == 1 || r.max < 0) }
	if in.kind != nRepeat || !simple(n) || !simple(in) {
		return n
	}
	min := 0
	if n.min == 1 && in.min == 1 {
		min = 1 // x++ (when not possessive): x+
	}
	max := -1
	if n.max == 1 && in.max == 1 {
		max = 1 // (?:x?)? is x?
	}
	return &node{kind: nRepeat, subs: in.subs, min: min, max: max, rep: greedy}
}

// escape reads a backslash sequence outside a class.
func (p *parser) escape(fold bool) (*node, error) {
	if p.i+1 >= len(p.pat) {
		return nil, p.errorf("trailing backslash")
	}
	c := p.pat[p.i+1]
	switch c {
	case 'A':
		p.i += 2
		return &node{kind: nAssert, at: aTextStart}, nil
	case 'z':
		p.i += 2
		return &node{kind: nAssert, at: aTextEnd}, nil
	case 'Z':
		p.i += 2
		return &node{kind: nAssert, at: aTextEndNL}, nil
	case 'b':
		p.i += 2
		return &node{kind: nAssert, at: aWordB}, nil
	case 'B':
		p.i += 2
		return &node{kind: nAssert, at: aNotWordB}, nil
	case 'G':
		p.i += 2
		return &node{kind: nAssert, at: aSearchStart}, nil
	}
	if cls, err := p.classEscape(); err != nil {
		return nil, err
	} else if cls != nil {
		cls.fold = fold
		cls.finish()
		return &node{kind: nClass, cls: cls}, nil
	}
	r, err := p.runeEscape()
	if err != nil {
		return nil, err
	}
	return runeNode(r, fold), nil
}

// runeEscape reads an escape that stands for one rune.
func (p *parser) runeEscape() (rune, error) {
	c := p.pat[p.i+1]
	switch c {
	case 't':
		p.i += 2
		return '\t', nil
	case 'n':
		p.i += 2
		return '\n', nil
	case 'r':
		p.i += 2
		return '\r', nil
	case 'f':
		p.i += 2
		return '\f', nil
	case 'v':
		p.i += 2
		return '\v', nil
	case 'a':
		p.i += 2
		return 7, nil
	case 'e':
		p.i += 2
		return 0x1b, nil
	case 'x':
		if p.i+2 < len(p.pat) && p.pat[p.i+2] == '{' {
			end := strings.IndexByte(p.pat[p.i:], '}')
			if end < 0 {
				return 0, p.errorf("unterminated \\x{")
			}
			return p.hexRune(p.pat[p.i+3:p.i+end], end+1)
		}
		n := 2
		for n < 4 && p.i+n < len(p.pat) && isHex(p.pat[p.i+n]) {
			n++
		}
		return p.hexRune(p.pat[p.i+2:p.i+n], n)
	case 'u':
		if p.i+6 > len(p.pat) {
			return 0, p.errorf("short \\u escape")
		}
		return p.hexRune(p.pat[p.i+2:p.i+6], 6)
	case '0':
		n := 2
		for n < 4 && p.i+n < len(p.pat) && p.pat[p.i+n] >= '0' && p.pat[p.i+n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint("0"+p.pat[p.i+2:p.i+n], 8, 32)
		p.i += n
		return rune(v), nil
	}
	if c >= '1' && c <= '9' {
		return 0, p.errorf("backreference \\%c is not supported", c)
	}
	if c == 'k' || c == 'g' {
		return 0, p.errorf("\\%c (backreference or subexpression call) is not supported", c)
	}
	if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return 0, p.errorf("unknown escape \\%c", c)
	}
	r, n := utf8.DecodeRuneInString(p.pat[p.i+1:])
	p.i += 1 + n
	return r, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (p *parser) hexRune(h string, n int) (rune, error) {
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil || h == "" || v > unicode.MaxRune {
		return 0, p.errorf("bad hex escape")
	}
	p.i += n
	return rune(v), nil
}

// classEscape reads \s \S \d \D \w \W \h \H \p{..} \P{..} (nil, nil when the
// escape is something else).
func (p *parser) classEscape() (*class, error) {
	c := p.pat[p.i+1]
	var cls *class
	switch c {
	case 's', 'S':
		cls = &class{tables: []*unicode.RangeTable{unicode.White_Space}}
	case 'd', 'D':
		cls = &class{tables: []*unicode.RangeTable{unicode.Nd}}
	case 'w', 'W':
		cls = wordClass()
	case 'h', 'H':
		cls = &class{ranges: []rng{{'0', '9'}, {'a', 'f'}, {'A', 'F'}}}
	case 'p', 'P':
		rest := p.pat[p.i+2:]
		if !strings.HasPrefix(rest, "{") {
			return nil, p.errorf("\\%c needs {name}", c)
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, p.errorf("unterminated \\%c{", c)
		}
		name := rest[1:end]
		neg := c == 'P'
		if strings.HasPrefix(name, "^") {
			name, neg = name[1:], !neg
		}
		t := property(name)
		if t == nil {
			return nil, p.errorf("unknown property \\p{%s}", name)
		}
		p.i += 2 + end + 1
		cl := &class{tables: t}
		cl.neg = neg
		return cl, nil
	default:
		return nil, nil
	}
	cls.neg = c >= 'A' && c <= 'Z'
	p.i += 2
	return cls, nil
}

// wordClass is \w as the tokenizers' reference engines read it: letters,
// non-spacing marks, decimal digits, connector punctuation and the joiners
// U+200C and U+200D.
func wordClass() *class {
	return &class{tables: []*unicode.RangeTable{unicode.L, unicode.Mn, unicode.Nd, unicode.Pc, unicode.Join_Control}}
}

// class reads a bracket class; nested classes are unions, as in Oniguruma.
func (p *parser) class(fold bool) (*class, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf("classes nested too deep")
	}
	p.i++ // '['
	cls := &class{fold: fold}
	if p.i < len(p.pat) && p.pat[p.i] == '^' {
		cls.neg = true
		p.i++
	}
	first := true
	for p.i < len(p.pat) {
		c := p.pat[p.i]
		if c == ']' && !first {
			p.i++
			cls.finish()
			return cls, nil
		}
		first = false
		switch {
		case c == '[' && strings.HasPrefix(p.pat[p.i:], "[:"):
			sub, err := p.posix()
			if err != nil {
				return nil, err
			}
			cls.subs = append(cls.subs, sub)
			continue
		case c == '[':
			sub, err := p.class(fold)
			if err != nil {
				return nil, err
			}
			cls.subs = append(cls.subs, sub)
			continue
		case c == '&' && strings.HasPrefix(p.pat[p.i:], "&&"):
			return nil, p.errorf("class intersection (&&) is not supported")
		case c == '\\':
			if p.i+1 >= len(p.pat) {
				return nil, p.errorf("trailing backslash")
			}
			sub, err := p.classEscape()
			if err != nil {
				return nil, err
			}
			if sub != nil {
				sub.finish()
				cls.subs = append(cls.subs, sub)
				continue
			}
			if p.pat[p.i+1] == 'b' { // backspace inside a class
				p.i += 2
				if err := p.rangeFrom(cls, 8); err != nil {
					return nil, err
				}
				continue
			}
			r, err := p.runeEscape()
			if err != nil {
				return nil, err
			}
			if err := p.rangeFrom(cls, r); err != nil {
				return nil, err
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(p.pat[p.i:])
		p.i += n
		if err := p.rangeFrom(cls, r); err != nil {
			return nil, err
		}
	}
	return nil, p.errorf("unterminated character class")
}

// rangeFrom adds lo, or the range lo-hi when a '-' and a rune follow.
func (p *parser) rangeFrom(cls *class, lo rune) error {
	if p.i+1 < len(p.pat) && p.pat[p.i] == '-' && p.pat[p.i+1] != ']' && p.pat[p.i+1] != '[' {
		p.i++
		var hi rune
		if p.pat[p.i] == '\\' {
			if p.i+1 >= len(p.pat) {
				return p.errorf("trailing backslash")
			}
			var err error
			if hi, err = p.runeEscape(); err != nil {
				return err
			}
		} else {
			var n int
			hi, n = utf8.DecodeRuneInString(p.pat[p.i:])
			p.i += n
		}
		if hi < lo {
			return p.errorf("class range %q-%q is out of order", lo, hi)
		}
		cls.ranges = append(cls.ranges, rng{lo, hi})
		return nil
	}
	cls.ranges = append(cls.ranges, rng{lo, lo})
	return nil
}

// posix reads [:name:] or [:^name:].
func (p *parser) posix() (*class, error) {
	end := strings.Index(p.pat[p.i+2:], ":]")
	if end < 0 {
		return nil, p.errorf("unterminated POSIX bracket")
	}
	end += 2
	name := p.pat[p.i+2 : p.i+end]
	neg := strings.HasPrefix(name, "^")
	if neg {
		name = name[1:]
	}
	t := property(name)
	if t == nil {
		return nil, p.errorf("unknown POSIX bracket [:%s:]", name)
	}
	p.i += end + 2
	cls := &class{tables: t, neg: neg}
	cls.finish()
	return cls, nil
}
