package onig

//go:generate go run gen_scripts.go

import (
	"strings"
	"unicode"
)

type rng struct{ lo, hi rune }

// class is a set of runes: the union of ranges, tables and nested classes,
// complemented when neg. With fold, a rune is in it when any of its case
// variants is.
type class struct {
	neg    bool
	fold   bool
	ranges []rng
	tables []*unicode.RangeTable
	subs   []*class
	ascii  [2]uint64 // membership of runes below 128, set by finish
}

// finish fills the ASCII bitmap (after the class and its subs are complete).
func (c *class) finish() {
	c.ascii = [2]uint64{}
	for r := rune(0); r < 128; r++ {
		if c.slow(r) {
			c.ascii[r>>6] |= 1 << (r & 63)
		}
	}
}

func (c *class) has(r rune) bool {
	if r < 128 {
		return c.ascii[r>>6]&(1<<(r&63)) != 0
	}
	return c.slow(r)
}

func (c *class) slow(r rune) bool {
	in := c.member(r)
	if !in && c.fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if c.member(f) {
				in = true
				break
			}
		}
	}
	return in != c.neg
}

// member reports whether r is in the union (before neg and folding).
func (c *class) member(r rune) bool {
	for _, x := range c.ranges {
		if r >= x.lo && r <= x.hi {
			return true
		}
	}
	for _, t := range c.tables {
		if unicode.Is(t, r) {
			return true
		}
	}
	for _, s := range c.subs {
		if s.slow(r) {
			return true
		}
	}
	return false
}

// property returns the tables of a Unicode property or POSIX bracket name
// (compared as Oniguruma does: case, spaces, '_' and '-' ignored), or nil.
// The general categories, the POSIX classes and every script of the unicode
// package are known (scripts.go, generated: the unicode package's name maps
// would put their initialisers into every build).
func property(name string) []*unicode.RangeTable {
	key := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-':
			return -1
		}
		return unicode.ToLower(r)
	}, name)
	t := func(ts ...*unicode.RangeTable) []*unicode.RangeTable { return ts }
	switch key {
	case "l", "letter":
		return t(unicode.L)
	case "lu", "uppercaseletter":
		return t(unicode.Lu)
	case "ll", "lowercaseletter":
		return t(unicode.Ll)
	case "lt", "titlecaseletter":
		return t(unicode.Lt)
	case "lm", "modifierletter":
		return t(unicode.Lm)
	case "lo", "otherletter":
		return t(unicode.Lo)
	case "lc", "casedletter":
		return t(unicode.LC)
	case "m", "mark", "combiningmark":
		return t(unicode.M)
	case "mn", "nonspacingmark":
		return t(unicode.Mn)
	case "mc", "spacingmark":
		return t(unicode.Mc)
	case "me", "enclosingmark":
		return t(unicode.Me)
	case "n", "number":
		return t(unicode.N)
	case "nd", "decimalnumber", "digit":
		return t(unicode.Nd)
	case "nl", "letternumber":
		return t(unicode.Nl)
	case "no", "othernumber":
		return t(unicode.No)
	case "p", "punctuation":
		return t(unicode.P)
	case "pc", "connectorpunctuation":
		return t(unicode.Pc)
	case "pd", "dashpunctuation":
		return t(unicode.Pd)
	case "ps", "openpunctuation":
		return t(unicode.Ps)
	case "pe", "closepunctuation":
		return t(unicode.Pe)
	case "pi", "initialpunctuation":
		return t(unicode.Pi)
	case "pf", "finalpunctuation":
		return t(unicode.Pf)
	case "po", "otherpunctuation":
		return t(unicode.Po)
	case "s", "symbol":
		return t(unicode.S)
	case "sm", "mathsymbol":
		return t(unicode.Sm)
	case "sc", "currencysymbol":
		return t(unicode.Sc)
	case "sk", "modifiersymbol":
		return t(unicode.Sk)
	case "so", "othersymbol":
		return t(unicode.So)
	case "z", "separator":
		return t(unicode.Z)
	case "zs", "spaceseparator":
		return t(unicode.Zs)
	case "zl", "lineseparator":
		return t(unicode.Zl)
	case "zp", "paragraphseparator":
		return t(unicode.Zp)
	case "c", "other":
		return t(unicode.C)
	case "cc", "control", "cntrl":
		return t(unicode.Cc)
	case "cf", "format":
		return t(unicode.Cf)
	case "co", "privateuse":
		return t(unicode.Co)
	case "cs", "surrogate":
		return t(unicode.Cs)
	case "cn", "unassigned":
		return t(unicode.Cn)
	case "alpha", "alphabetic":
		return t(unicode.L, unicode.M, unicode.Nl, unicode.Other_Alphabetic)
	case "alnum":
		return t(unicode.L, unicode.M, unicode.Nl, unicode.Other_Alphabetic, unicode.Nd)
	case "upper", "uppercase":
		return t(unicode.Lu, unicode.Other_Uppercase)
	case "lower", "lowercase":
		return t(unicode.Ll, unicode.Other_Lowercase)
	case "space", "whitespace":
		return t(unicode.White_Space)
	case "blank":
		return t(unicode.Zs, &unicode.RangeTable{R16: []unicode.Range16{{Lo: '\t', Hi: '\t', Stride: 1}}})
	case "punct":
		return t(unicode.P)
	case "xdigit", "asciihexdigit":
		return t(&unicode.RangeTable{R16: []unicode.Range16{{Lo: '0', Hi: '9', Stride: 1}, {Lo: 'A', Hi: 'F', Stride: 1}, {Lo: 'a', Hi: 'f', Stride: 1}}, LatinOffset: 3})
	case "word":
		return wordClass().tables
	case "ascii":
		return t(&unicode.RangeTable{R16: []unicode.Range16{{Lo: 0, Hi: 0x7f, Stride: 1}}, LatinOffset: 1})
	case "any":
		return t(&unicode.RangeTable{R16: []unicode.Range16{{Lo: 0, Hi: 0xffff, Stride: 1}}, R32: []unicode.Range32{{Lo: 0x10000, Hi: unicode.MaxRune, Stride: 1}}})
	}
	if sc := script(key); sc != nil {
		return t(sc)
	}
	return nil
}
