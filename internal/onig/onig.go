package onig

import (
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"
)

type opcode uint8

const (
	opRune   opcode = iota // r (fold)
	opClass                // cls
	opAny                  // any rune but '\n'
	opSplit                // go on at x; on failure at y
	opJmp                  // go on at x
	opMark                 // marks[x] = pos (the old value restored on backtracking)
	opCheck                // fail when pos == marks[x]: an iteration that matched nothing
	opAssert               // at
	opLook                 // sub at pos (ahead) or ending at pos (behind); neg inverts
	opAtomic               // sub's first match, then go on from its end
	opMatch
	opFail // a state tried before (memoization)
)

var failInst = inst{op: opFail}

type inst struct {
	op     opcode
	fold   bool
	neg    bool
	behind bool // opLook: the body must end at pos
	at     assertKind
	r      rune
	x, y   int
	cls    *class
	sub    *prog
	// lookbehind: the widths (in runes) the body can match; maxW < 0 when unbounded.
	minW, maxW int
}

type prog struct {
	insts []inst
}

// Regexp is a compiled pattern. It is safe for concurrent use.
type Regexp struct {
	prog  *prog
	marks int
	// memo: the outcome of the top-level program from (pc, pos) depends on
	// nothing else (no empty-iteration marks, no \G), so states that were
	// tried once need not be tried again.
	memo bool
}

// maxInsts bounds the compiled program (counted repetitions copy their body).
const maxInsts = 200000

// Compile parses an Oniguruma (Ruby syntax) pattern.
func Compile(pat string) (*Regexp, error) {
	n, err := parse(pat)
	if err != nil {
		return nil, err
	}
	c := &compiler{}
	pr, err := c.prog(n)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pat, err)
	}
	return &Regexp{prog: pr, marks: c.marks, memo: c.marks == 0 && !c.searchStart}, nil
}

type compiler struct {
	marks       int
	size        int
	searchStart bool // the pattern uses \G
}

func (c *compiler) prog(n *node) (*prog, error) {
	p := &prog{}
	if err := c.emit(p, n); err != nil {
		return nil, err
	}
	p.insts = append(p.insts, inst{op: opMatch})
	return p, nil
}

func (c *compiler) add(p *prog, in inst) (int, error) {
	c.size++
	if c.size > maxInsts {
		return 0, fmt.Errorf("pattern too large (over %d instructions)", maxInsts)
	}
	p.insts = append(p.insts, in)
	return len(p.insts) - 1, nil
}

func (c *compiler) emit(p *prog, n *node) error {
	switch n.kind {
	case nEmpty:
		return nil
	case nRune:
		_, err := c.add(p, inst{op: opRune, r: n.r, fold: n.fold})
		return err
	case nClass:
		_, err := c.add(p, inst{op: opClass, cls: n.cls})
		return err
	case nAny:
		_, err := c.add(p, inst{op: opAny})
		return err
	case nAssert:
		c.searchStart = c.searchStart || n.at == aSearchStart
		_, err := c.add(p, inst{op: opAssert, at: n.at})
		return err
	case nConcat:
		for _, s := range n.subs {
			if err := c.emit(p, s); err != nil {
				return err
			}
		}
		return nil
	case nAlt:
		// split L1, next; L1: a; jmp end; next: split L2, next2; ... last
		var jumps []int
		for i, s := range n.subs {
			if i == len(n.subs)-1 {
				if err := c.emit(p, s); err != nil {
					return err
				}
				break
			}
			sp, err := c.add(p, inst{op: opSplit})
			if err != nil {
				return err
			}
			p.insts[sp].x = len(p.insts)
			if err := c.emit(p, s); err != nil {
				return err
			}
			j, err := c.add(p, inst{op: opJmp})
			if err != nil {
				return err
			}
			jumps = append(jumps, j)
			p.insts[sp].y = len(p.insts)
		}
		for _, j := range jumps {
			p.insts[j].x = len(p.insts)
		}
		return nil
	case nLook:
		sub, err := c.prog(n.subs[0])
		if err != nil {
			return err
		}
		in := inst{op: opLook, neg: n.neg, sub: sub, behind: n.behind}
		if n.behind {
			in.minW, in.maxW = width(n.subs[0])
		}
		_, err = c.add(p, in)
		return err
	case nAtomic:
		sub, err := c.prog(n.subs[0])
		if err != nil {
			return err
		}
		_, err = c.add(p, inst{op: opAtomic, sub: sub})
		return err
	case nRepeat:
		if n.rep == possessive {
			inner := *n
			inner.rep = greedy
			return c.emit(p, &node{kind: nAtomic, subs: []*node{&inner}})
		}
		return c.repeat(p, n)
	}
	return fmt.Errorf("internal: node kind %d", n.kind)
}

func (c *compiler) repeat(p *prog, n *node) error {
	body := n.subs[0]
	for i := 0; i < n.min; i++ {
		if err := c.emit(p, body); err != nil {
			return err
		}
	}
	// A split tries x first: the body when greedy, the way out when lazy.
	prefer := func(sp, bodyAt, out int) {
		if n.rep == lazy {
			p.insts[sp].x, p.insts[sp].y = out, bodyAt
		} else {
			p.insts[sp].x, p.insts[sp].y = bodyAt, out
		}
	}
	if n.max < 0 {
		// L: split body, out; body (guarded against empty iterations); jmp L; out:
		least, _ := width(body)
		nullable := least == 0
		loop, err := c.add(p, inst{op: opSplit})
		if err != nil {
			return err
		}
		bodyAt := len(p.insts)
		mark := -1
		if nullable {
			mark = c.marks
			c.marks++
			if _, err := c.add(p, inst{op: opMark, x: mark}); err != nil {
				return err
			}
		}
		if err := c.emit(p, body); err != nil {
			return err
		}
		if nullable {
			if _, err := c.add(p, inst{op: opCheck, x: mark}); err != nil {
				return err
			}
		}
		if _, err := c.add(p, inst{op: opJmp, x: loop}); err != nil {
			return err
		}
		prefer(loop, bodyAt, len(p.insts))
		return nil
	}
	// Optional copies: split body, out; body; split body, out; body; ... out:
	var splits []int
	for i := n.min; i < n.max; i++ {
		sp, err := c.add(p, inst{op: opSplit})
		if err != nil {
			return err
		}
		splits = append(splits, sp)
		p.insts[sp].x = len(p.insts) // patched below
		if err := c.emit(p, body); err != nil {
			return err
		}
	}
	for _, sp := range splits {
		prefer(sp, sp+1, len(p.insts))
	}
	return nil
}

// width returns the least and most runes n can match (max < 0: no bound).
func width(n *node) (int, int) {
	switch n.kind {
	case nEmpty, nAssert, nLook:
		return 0, 0
	case nRune, nClass, nAny:
		return 1, 1
	case nConcat:
		lo, hi := 0, 0
		for _, s := range n.subs {
			a, b := width(s)
			lo += a
			if hi >= 0 {
				if b < 0 {
					hi = -1
				} else {
					hi += b
				}
			}
		}
		return lo, hi
	case nAlt:
		lo, hi := -1, 0
		for _, s := range n.subs {
			a, b := width(s)
			if lo < 0 || a < lo {
				lo = a
			}
			if hi >= 0 && (b < 0 || b > hi) {
				hi = b
			}
		}
		return lo, hi
	case nRepeat:
		a, b := width(n.subs[0])
		lo := a * n.min
		if n.max < 0 || b < 0 {
			if b == 0 {
				return lo, 0
			}
			return lo, -1
		}
		return lo, b * n.max
	case nAtomic:
		return width(n.subs[0])
	}
	return 0, -1
}

// frame is a backtracking entry: resume at pc with pos, or (pc < 0) put
// marks[-pc-1] back to pos.
type frame struct{ pc, pos int }

type machine struct {
	s     string
	start int // where the current search began (\G)
	stack []frame
	marks []int
	// Memoization of the top-level program, switched on when a search has
	// taken many steps (a pattern such as [^\s]+?\s tries the rest of the
	// text from every start): a bit per (pos, pc) tried, so that FindAll
	// takes time linear in the text times the program. hi is the furthest
	// position tried since the last match.
	steps   int
	visited []uint64
	hi      int
	// budget: steps left for the current match attempt (see maxAttemptSteps).
	budget int
}

// maxAttemptSteps bounds one match attempt (one start position), as
// Oniguruma's retry limit does: a pattern that backtracks exponentially on
// some text finds no match at that position instead of running for ever.
// A variable for the tests.
var maxAttemptSteps = 1 << 24

// run matches p at pos and returns the end of its first match (by the
// priorities of alternation and quantifiers), or -1. With end >= 0 only a
// match ending there counts.
func (m *machine) run(p *prog, pos, end int) int {
	return m.exec(p, pos, end, false)
}

func (m *machine) exec(p *prog, pos, end int, top bool) int {
	base := len(m.stack)
	s := m.s
	pc := 0
	np := len(p.insts)
	for {
		in := &p.insts[pc]
		ok := true
		if m.budget--; m.budget < 0 {
			m.unwind(base)
			return -1
		}
		if top {
			m.steps++
			if m.visited != nil {
				k := pos*np + pc
				if m.visited[k>>6]&(1<<(k&63)) != 0 {
					in = &failInst
				} else {
					m.visited[k>>6] |= 1 << (k & 63)
					m.hi = max(m.hi, pos)
				}
			}
		}
		switch in.op {
		case opRune, opClass, opAny:
			ok = false
			if pos < len(s) {
				r, n := rune(s[pos]), 1
				if r >= utf8.RuneSelf {
					r, n = utf8.DecodeRuneInString(s[pos:])
				}
				switch in.op {
				case opRune:
					ok = r == in.r || in.fold && foldEq(r, in.r)
				case opClass:
					ok = in.cls.has(r)
				default:
					ok = r != '\n'
				}
				if ok {
					pos += n
					pc++
				}
			}
		case opSplit:
			m.stack = append(m.stack, frame{in.y, pos})
			pc = in.x
		case opJmp:
			pc = in.x
		case opMark:
			m.stack = append(m.stack, frame{-in.x - 1, m.marks[in.x]})
			m.marks[in.x] = pos
			pc++
		case opCheck:
			if pos == m.marks[in.x] {
				ok = false
			} else {
				pc++
			}
		case opAssert:
			if m.assert(in.at, pos) {
				pc++
			} else {
				ok = false
			}
		case opLook:
			var hit bool
			if in.behind {
				hit = m.behind(in, pos)
			} else {
				hit = m.run(in.sub, pos, -1) >= 0
			}
			if hit != in.neg {
				pc++
			} else {
				ok = false
			}
		case opAtomic:
			if e := m.run(in.sub, pos, -1); e >= 0 {
				pos = e
				pc++
			} else {
				ok = false
			}
		case opFail:
			ok = false
		case opMatch:
			if end < 0 || pos == end {
				m.unwind(base)
				return pos
			}
			ok = false
		}
		if ok {
			continue
		}
		// Backtrack.
		for {
			if len(m.stack) == base {
				return -1
			}
			f := m.stack[len(m.stack)-1]
			m.stack = m.stack[:len(m.stack)-1]
			if f.pc < 0 {
				m.marks[-f.pc-1] = f.pos
				continue
			}
			pc, pos = f.pc, f.pos
			break
		}
	}
}

// unwind drops the frames above base, putting back the marks they saved.
func (m *machine) unwind(base int) {
	for i := len(m.stack) - 1; i >= base; i-- {
		if f := m.stack[i]; f.pc < 0 {
			m.marks[-f.pc-1] = f.pos
		}
	}
	m.stack = m.stack[:base]
}

// behind reports whether the lookbehind body matches some text ending at pos.
func (m *machine) behind(in *inst, pos int) bool {
	j := pos
	for k := 0; ; k++ {
		if k >= in.minW && m.run(in.sub, j, pos) >= 0 {
			return true
		}
		if j == 0 || in.maxW >= 0 && k >= in.maxW {
			return false
		}
		_, n := utf8.DecodeLastRuneInString(m.s[:j])
		j -= n
	}
}

func (m *machine) assert(at assertKind, pos int) bool {
	s := m.s
	switch at {
	case aLineStart:
		return pos == 0 || s[pos-1] == '\n'
	case aLineEnd:
		return pos == len(s) || s[pos] == '\n'
	case aTextStart:
		return pos == 0
	case aTextEnd:
		return pos == len(s)
	case aTextEndNL:
		return pos == len(s) || pos == len(s)-1 && s[pos] == '\n'
	case aWordB, aNotWordB:
		return (m.wordBefore(pos) != m.wordAt(pos)) == (at == aWordB)
	case aSearchStart:
		return pos == m.start
	}
	return false
}

// word is \w for \b and \B, built when a pattern first asks (not at every
// start of the program).
var word = sync.OnceValue(func() *class { c := wordClass(); c.finish(); return c })

func (m *machine) wordAt(pos int) bool {
	if pos >= len(m.s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(m.s[pos:])
	return word().has(r)
}

func (m *machine) wordBefore(pos int) bool {
	if pos == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(m.s[:pos])
	return word().has(r)
}

// foldEq reports whether a and b are case variants of each other.
func foldEq(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

func (re *Regexp) machine(s string) *machine {
	m := &machine{s: s}
	if re.marks > 0 {
		m.marks = make([]int, re.marks)
		for i := range m.marks {
			m.marks[i] = -1
		}
	}
	return m
}

// FindAll calls yield with the byte offsets of each successive match in s,
// as Oniguruma's iteration in Hugging Face tokenizers finds them: every
// search starts where the last match ended, leftmost first, and an empty
// match right where the previous match ended is skipped (the search moves
// on one rune).
func (re *Regexp) FindAll(s string, yield func(start, end int)) {
	m := re.machine(s)
	np := len(re.prog.insts)
	from, lastEnd := 0, -1
	for from <= len(s) {
		m.start = from
		st, e := -1, -1
		for i := from; i <= len(s); {
			if re.memo && m.visited == nil && m.steps > memoAfter+8*len(s) {
				if bits := (len(s) + 1) * np; bits <= memoMaxBits {
					m.visited = make([]uint64, (bits+63)/64)
				}
			}
			m.budget = maxAttemptSteps
			if e = m.exec(re.prog, i, -1, true); e >= 0 {
				st = i
				break
			}
			if i == len(s) {
				break
			}
			i = nextRune(s, i)
		}
		if st < 0 {
			return
		}
		if e == st && e == lastEnd {
			if from >= len(s) {
				return
			}
			from = nextRune(s, from)
			continue
		}
		if m.visited != nil {
			// States at positions from e on were tried on the way to this
			// match, some of them on its path: the next search may need them.
			for k := e * np; k < (m.hi+1)*np; k++ {
				m.visited[k>>6] &^= 1 << (k & 63)
			}
			m.hi = e
		}
		yield(st, e)
		from, lastEnd = e, e
	}
}

// Memoization starts after memoAfter+8*len(s) steps of one FindAll, when
// its table needs at most memoMaxBits bits (8 MiB). A variable for the tests.
var memoAfter = 1 << 12

const memoMaxBits = 1 << 26

// nextRune returns the offset of the rune after the one at i < len(s).
func nextRune(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return i + 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return i + n
}
