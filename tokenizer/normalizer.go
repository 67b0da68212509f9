package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites the text of one piece (between added tokens) before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

type normSequence []normalizer

func (q normSequence) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

type unicodeForm struct{ f norm.Form }

func (u unicodeForm) normalize(s string) string { return u.f.String(s) }

type lowercase struct{}

func (lowercase) normalize(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 0x130 { // the one unconditional multi-char lowercase mapping (SpecialCasing)
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

type strip struct{ left, right bool }

func (n strip) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, isWhiteSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, isWhiteSpace)
	}
	return s
}

type stripAccents struct{}

func (stripAccents) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsMark(r) {
			return -1
		}
		return r
	}, s)
}

type replace struct {
	m       matcher
	content string
}

func (n replace) normalize(s string) string { return replaceAll(s, n.m, n.content) }

func replaceAll(s string, m matcher, content string) string {
	if l, ok := m.(literal); ok {
		if l == "" {
			return s
		}
		return strings.ReplaceAll(s, string(l), content)
	}
	var b strings.Builder
	last := 0
	m.findAll(s, func(start, end int) {
		b.WriteString(s[last:start])
		b.WriteString(content)
		last = end
	})
	if last == 0 && b.Len() == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

type prepend string

func (p prepend) normalize(s string) string {
	if s == "" {
		return s
	}
	return string(p) + s
}

type byteLevelNorm struct{}

func (byteLevelNorm) normalize(s string) string { return byteLevelEncode(s) }

// bertNormalizer is BERT's BasicTokenizer cleanup.
type bertNormalizer struct {
	cleanText, chineseChars, stripAccents, lowercase bool
}

func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	// tokenizers uses unicode_categories' is_other(); its unassigned (Cn) table does not cover
	// noncharacters such as U+10FFFF, which the reference keeps.
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

func (n bertNormalizer) normalize(s string) string {
	var b strings.Builder
	if n.cleanText {
		for _, r := range s {
			switch {
			case r == 0 || r == 0xFFFD || isBertControl(r):
			case isWhiteSpace(r):
				b.WriteByte(' ')
			default:
				b.WriteRune(r)
			}
		}
		s = b.String()
		b.Reset()
	}
	if n.chineseChars {
		for _, r := range s {
			if isChineseChar(r) {
				b.WriteByte(' ')
				b.WriteRune(r)
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	if n.stripAccents {
		// BERT strips non-spacing marks (Mn) only, unlike the StripAccents normalizer.
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(s))
	}
	if n.lowercase {
		s = lowercase{}.normalize(s)
	}
	return s
}

func parseNormalizer(o obj) (normalizer, error) {
	t, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch t {
	case "Sequence":
		list, err := o.list("normalizers")
		if err != nil {
			return nil, err
		}
		var seq normSequence
		for i, v := range list {
			if v.kind != jObj {
				return nil, fmt.Errorf("tokenizer: %s: expected an object", elemPath(o.at("normalizers"), i))
			}
			n, err := parseNormalizer(obj{v: v, path: elemPath(o.at("normalizers"), i)})
			if err != nil {
				return nil, err
			}
			seq = append(seq, n)
		}
		return seq, nil
	case "NFC":
		return unicodeForm{norm.NFC}, nil
	case "NFD":
		return unicodeForm{norm.NFD}, nil
	case "NFKC":
		return unicodeForm{norm.NFKC}, nil
	case "NFKD":
		return unicodeForm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "Strip":
		l, err := o.boolean("strip_left", true)
		if err != nil {
			return nil, err
		}
		r, err := o.boolean("strip_right", true)
		if err != nil {
			return nil, err
		}
		return strip{l, r}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Replace":
		m, content, err := replaceArgs(o)
		if err != nil {
			return nil, err
		}
		return replace{m, content}, nil
	case "Prepend":
		p, err := o.str("prepend", "")
		if err != nil {
			return nil, err
		}
		return prepend(p), nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	case "BertNormalizer":
		var n bertNormalizer
		if n.cleanText, err = o.boolean("clean_text", true); err != nil {
			return nil, err
		}
		if n.chineseChars, err = o.boolean("handle_chinese_chars", true); err != nil {
			return nil, err
		}
		if n.lowercase, err = o.boolean("lowercase", true); err != nil {
			return nil, err
		}
		if n.stripAccents, err = o.boolean("strip_accents", n.lowercase); err != nil {
			return nil, err
		}
		return n, nil
	case "Precompiled", "Nmt":
		return nil, o.errf("type", "normalizer %q is not supported", t)
	}
	return nil, o.unknown(t)
}

// patternMatcher builds the matcher of a {"String"} or {"Regex"} pattern.
// replaceArgs reads the pattern and content of a Replace normalizer or
// decoder (the two have the same fields).
func replaceArgs(o obj) (matcher, string, error) {
	pat, isRe, err := o.pattern("pattern")
	if err != nil {
		return nil, "", err
	}
	content, err := o.str("content", "")
	if err != nil {
		return nil, "", err
	}
	m, err := patternMatcher(pat, isRe)
	if err != nil {
		return nil, "", o.errf("pattern", "%v", err)
	}
	return m, content, nil
}

func patternMatcher(pat string, isRegex bool) (matcher, error) {
	if !isRegex {
		return literal(pat), nil
	}
	return compilePattern(pat)
}
