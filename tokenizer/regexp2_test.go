package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// regexp2 is the reference the hand-written matchers and internal/onig are
// checked against (tests only: the engine's builds do not carry it).

type regexp2Matcher struct{ re *regexp2.Regexp }

func compileRegexp2(pat string) (matcher, error) {
	tr, err := translateOniguruma(pat)
	if err != nil {
		return nil, err
	}
	re, err := regexp2.Compile(tr, regexp2.None, regexp2.OptionMaxBacktrackingStackSize(-1))
	if err != nil {
		return nil, fmt.Errorf("regex %q: %v", pat, err)
	}
	return regexp2Matcher{re}, nil
}

func (m regexp2Matcher) findAll(s string, yield func(start, end int)) {
	idx, err := m.re.FindAllStringIndex(s, -1)
	if err != nil {
		// Only a match timeout can fail; none is set.
		return
	}
	for _, p := range idx {
		yield(p[0], p[1])
	}
}

// translateOniguruma rewrites the Oniguruma constructs regexp2 reads differently: nested
// character classes (`[^(\s|[.,!?])]`, BLOOM) are flattened into one class.
func translateOniguruma(pat string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(pat); {
		c := pat[i]
		if c == '\\' {
			if i+1 >= len(pat) {
				return "", fmt.Errorf("regex %q: trailing backslash", pat)
			}
			_, n := utf8.DecodeRuneInString(pat[i+1:])
			b.WriteString(pat[i : i+1+n])
			i += 1 + n
			continue
		}
		if c != '[' {
			b.WriteByte(c)
			i++
			continue
		}
		cls, n, err := flattenClass(pat, i, 0)
		if err != nil {
			return "", fmt.Errorf("regex %q: %v", pat, err)
		}
		b.WriteString(cls)
		i += n
	}
	return b.String(), nil
}

// flattenClass reads the class starting at pat[i] == '[' and returns it with nested (non-negated)
// classes merged into it, and its length in pat.
func flattenClass(pat string, i, depth int) (string, int, error) {
	if depth > 16 {
		return "", 0, fmt.Errorf("character classes nested too deep")
	}
	start := i
	var b strings.Builder
	b.WriteByte('[')
	i++
	if i < len(pat) && pat[i] == '^' {
		if depth > 0 {
			return "", 0, fmt.Errorf("negated nested character class is not supported")
		}
		b.WriteByte('^')
		i++
	}
	first := true
	for i < len(pat) {
		c := pat[i]
		switch {
		case c == ']' && !first:
			b.WriteByte(']')
			return b.String(), i + 1 - start, nil
		case c == '\\':
			if i+1 >= len(pat) {
				return "", 0, fmt.Errorf("trailing backslash")
			}
			_, n := utf8.DecodeRuneInString(pat[i+1:])
			b.WriteString(pat[i : i+1+n])
			i += 1 + n
		case c == '[' && i+1 < len(pat) && pat[i+1] == ':':
			// POSIX bracket [:alpha:] stays as it is.
			end := strings.Index(pat[i:], ":]")
			if end < 0 {
				return "", 0, fmt.Errorf("unterminated POSIX bracket")
			}
			b.WriteString(pat[i : i+end+2])
			i += end + 2
		case c == '[':
			inner, n, err := flattenClass(pat, i, depth+1)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(inner[1 : len(inner)-1])
			i += n
		case c == '&' && i+1 < len(pat) && pat[i+1] == '&':
			return "", 0, fmt.Errorf("character class intersection (&&) is not supported")
		case c == '-' && !first && i+1 < len(pat) && pat[i+1] != ']':
			// Keep ranges; regexp2 (.NET) would read "x-[" as subtraction, so escape '-' before '['.
			if pat[i+1] == '[' {
				b.WriteString(`\-`)
			} else {
				b.WriteByte('-')
			}
			i++
		default:
			_, n := utf8.DecodeRuneInString(pat[i:])
			b.WriteString(pat[i : i+n])
			i += n
		}
		first = false
	}
	return "", 0, fmt.Errorf("unterminated character class")
}
