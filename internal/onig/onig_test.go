package onig

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

func all(re *Regexp, s string) [][2]int {
	out := [][2]int{}
	re.FindAll(s, func(a, b int) { out = append(out, [2]int{a, b}) })
	return out
}

func texts(re *Regexp, s string) []string {
	out := []string{}
	re.FindAll(s, func(a, b int) { out = append(out, s[a:b]) })
	return out
}

func TestFindAll(t *testing.T) {
	t.Run("plain", findAllCases)
	t.Run("memoized", func(t *testing.T) {
		defer func(v int) { memoAfter = v }(memoAfter)
		memoAfter = -1 << 30
		findAllCases(t)
	})
}

func findAllCases(t *testing.T) {
	for _, tc := range []struct {
		pat, in string
		want    []string
	}{
		{`\d+`, "a12b345", []string{"12", "345"}},
		{`[a-z]+|[^a-z]+`, "abC9de", []string{"ab", "C9", "de"}},
		{` {2,}`, "a  b c   d", []string{"  ", "   "}},
		{`\p{P}`, "a,b.!", []string{",", ".", "!"}},
		{`\s+`, "a \t\nb\u3000c", []string{" \t\n", "\u3000"}},
		{`[一-龥\x{3040}-ゟ゠-ヿ]+`, "ab漢字かなカナx", []string{"漢字かなカナ"}},
		// Nested classes are unions (Oniguruma), as in BLOOM's pattern.
		{` ?[^(\s|[.,!?…。，、।۔،])]+`, "Hi, you there!", []string{"Hi", " you", " there"}},
		{`[[:alpha:]]+`, "ab1cd", []string{"ab", "cd"}},
		{`[\p{L}&&]`, "", nil}, // error case handled below: skipped here
		// Leftmost-first alternation, not longest.
		{`a|ab`, "ab", []string{"a"}},
		{`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, "I'm  fine 42!", []string{"I", "'m", " ", " fine", " 42", "!"}},
		// Case-insensitive groups and inline flags.
		{`(?i:'s|'t)`, "IT'S it'S", []string{"'S", "'S"}},
		{`(?i)ab`, "AB aB ab", []string{"AB", "aB", "ab"}},
		{`a(?i)b|c`, "aB C", []string{"aB", "C"}},
		{`(?i:k)`, "K k \u212a", []string{"K", "k", "\u212a"}}, // Kelvin sign folds to k
		// Quantifiers: counted, lazy, possessive.
		{`\p{N}{1,3}`, "1234567", []string{"123", "456", "7"}},
		{`a{2}`, "aaaaa", []string{"aa", "aa"}},
		{`a{,2}b`, "aaab", []string{"aab"}},
		{`a+?`, "aaa", []string{"a", "a", "a"}},
		{`<.+?>`, "<a><b>", []string{"<a>", "<b>"}},
		{`a*+a`, "aaaa", []string{}},
		{`a++b`, "aaab", []string{"aaab"}},
		{`x{`, "x{", []string{"x{"}}, // '{' not starting an interval is literal
		{`x{,}y{a}`, "x{,}y{a}", []string{"x{,}y{a}"}},
		// Lookaround and atomic groups.
		{`\s+(?!\S)`, "a   b  ", []string{"  ", "  "}},
		{`(?<=a)b`, "ab cb", []string{"b"}},
		{`(?<!a)b`, "ab cb", []string{"b"}},
		{`(?<=ab|c)d`, "abd cd xd", []string{"d", "d"}},
		{`(?>a+)b`, "aab", []string{"aab"}},
		{`(?>a|ab)c`, "abc ac", []string{"ac"}},
		// Anchors (Ruby syntax: ^ and $ are line anchors).
		{`^a`, "ab\nab", []string{"a", "a"}},
		{`b$`, "ab\nab", []string{"b", "b"}},
		{`\Aa`, "ab\nab", []string{"a"}},
		{`b\z`, "ab\nab", []string{"b"}},
		{`\bx\b`, "x xx x", []string{"x", "x"}},
		// Empty matches: one per position, none right after a match.
		{`a*`, "baab", []string{"", "aa", ""}},
		{`x*`, "ab", []string{"", "", ""}},
		{`(a|)*b`, "aab", []string{"aab"}},
		{`(a*)*b`, "aab", []string{"aab"}},
		// The empty match at 2 comes first there (and is skipped): no "c".
		{`(?:ab)*|c`, "abc", []string{"ab", ""}},
		{`(?:ab)*|c`, "abcab", []string{"ab", "ab"}},
		// Escapes and dot.
		{`\x41\x{42}\u0043`, "ABC", []string{"ABC"}},
		{`.+`, "ab\ncd", []string{"ab", "cd"}},
		{`[\t\n]`, "a\tb\n", []string{"\t", "\n"}},
		{`\h+`, "0xBeEf!", []string{"0", "BeEf"}},
		{`(?#comment)a`, "a", []string{"a"}},
		{`(?<name>a)b`, "ab", []string{"ab"}},
	} {
		re, err := Compile(tc.pat)
		if err != nil {
			if tc.want == nil {
				continue
			}
			t.Errorf("Compile(%q): %v", tc.pat, err)
			continue
		}
		if tc.want == nil {
			t.Errorf("Compile(%q) succeeded, want an error", tc.pat)
			continue
		}
		if got := texts(re, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%q on %q: got %q, want %q", tc.pat, tc.in, got, tc.want)
		}
	}
}

// Nested quantifiers are folded (as Oniguruma does); a pattern that still
// backtracks exponentially gives up at a position after maxAttemptSteps.
func TestBacktrackingBounded(t *testing.T) {
	text := strings.Repeat("a", 60) + "c"
	for _, pat := range []string{`(?:a*)*b`, `(?:a+)+b`, `[^0]**s`, `(?:a?)+?b`} {
		re := mustCompile(t, pat)
		if got := all(re, text); len(got) != 0 {
			t.Errorf("%q: %v", pat, got)
		}
	}
	defer func(v int) { maxAttemptSteps = v }(maxAttemptSteps)
	maxAttemptSteps = 100000
	re := mustCompile(t, `(?:a|a?)+b`) // nullable body: not memoized, not folded
	if got := all(re, text); len(got) != 0 {
		t.Errorf("got %v", got)
	}
	if got := texts(re, "aab"); !slices.Equal(got, []string{"aab"}) {
		t.Errorf("got %q", got)
	}
}

func TestEmptyMatchOffsets(t *testing.T) {
	re, err := Compile(`a*`)
	if err != nil {
		t.Fatal(err)
	}
	// Oniguruma's find_iter: (0,0) (1,3), the empty match at 3 right after
	// a match is skipped, then (4,4).
	if got, want := all(re, "baab"), [][2]int{{0, 0}, {1, 3}, {4, 4}}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Every category and script the unicode package names is a property.
func TestPropertyNames(t *testing.T) {
	for _, m := range []map[string]*unicode.RangeTable{unicode.Categories, unicode.Scripts} {
		for name, want := range m {
			got := property(name)
			if len(got) != 1 || got[0] != want {
				t.Errorf("property(%q) = %v", name, got)
			}
		}
	}
	for _, name := range []string{"Old Italic", "old-italic", "OLD_ITALIC", "Letter", "decimal_number", "alpha", "^"} {
		if name != "^" && property(name) == nil {
			t.Errorf("property(%q) = nil", name)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ pat, msg string }{
		{`(unclosed`, "missing ')'"},
		{`a)`, "unmatched ')'"},
		{`[abc`, "unterminated character class"},
		{`*a`, "follows nothing"},
		{`(a)\1`, "backreference"},
		{`\k<x>`, "backreference"},
		{`[a&&b]`, "intersection"},
		{`\p{Klingon}`, "unknown property"},
		{`a{5,2}`, "out of order"},
		{`a{1001}`, "repeat count"},
		{`[z-a]`, "out of order"},
		{`\q`, "unknown escape"},
		{`(?x)a`, "not supported"},
		{`(?P<n>a)`, "not supported"},
		{`a\`, "trailing backslash"},
		{`(?=a)*`, "quantifier after an assertion"},
		{strings.Repeat("(", 300) + strings.Repeat(")", 300), "nested too deep"},
		{`(a{1000}){1000}`, "too large"},
		{"\xff", "UTF-8"},
	} {
		_, err := Compile(tc.pat)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Compile(%q) = %v, want an error containing %q", tc.pat, err, tc.msg)
		}
	}
}

// Patterns that cannot match the empty string, where regexp2 (a .NET-style
// engine, also leftmost-first backtracking) finds the same matches. Empty
// matches are left out: the engines resume differently after them.
var diffPatterns = []string{
	`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + "`" + `{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	`[a-z]+|[^a-z]+`, ` {2,}`, `\d+`, `\p{N}{1,3}`, `\p{P}`, `\s+`, `\w+|\W`, `[^\s]+?\s`,
	`(?<=\s)\S+`, `(?<!\p{L})\p{N}+`, `(?>\p{L}+)\p{N}?`, `\p{L}++|.`, `\b\w+\b`,
	`(?i:[a-c]+|ß|k)`, `[\p{Han}\p{Hiragana}\p{Katakana}]+`, `[^\p{Lu}\s]{2,4}|.`,
	`(?:ab|a)(?:bc|c)?`, `(x|xy)(z|yz)`, `\S+(?=\s|\z)`, `[\u00c0-\u00ff]+|[\x{1F600}-\x{1F64F}]`,
}

var interesting = []rune("aZé ßİſK'sStTrReEvVlLmMdD\t\n\r \u00a0\u3000\u2028\u0085 0129٣①½.,!?…。，、।۔،()|-/#😀👍🏽\u200d\u0301\u20dd\u0903中かカ한ǅʰ_$<>\"\\\ufffdxyzbc\u212a")

func randomText(rng *rand.Rand, maxLen int) string {
	var b strings.Builder
	for k, n := 0, rng.IntN(maxLen); k < n; k++ {
		b.WriteRune(interesting[rng.IntN(len(interesting))])
	}
	return b.String()
}

func againstRegexp2(t *testing.T, pat string, re *Regexp, ref *regexp2.Regexp, s string) {
	t.Helper()
	idx, err := ref.FindAllStringIndex(s, -1)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int{}
	for _, p := range idx {
		want = append(want, [2]int{p[0], p[1]})
	}
	if got := all(re, s); !slices.Equal(got, want) {
		t.Fatalf("%q on %q:\nonig    %v\nregexp2 %v", pat, s, got, want)
	}
}

func TestAgainstRegexp2(t *testing.T) {
	t.Run("plain", func(t *testing.T) { againstRegexp2All(t, 14) })
	t.Run("memoized", func(t *testing.T) {
		defer func(v int) { memoAfter = v }(memoAfter)
		memoAfter = -1 << 30 // from the first step
		againstRegexp2All(t, 14)
		againstRegexp2All(t, 300)
	})
}

func againstRegexp2All(t *testing.T, maxLen int) {
	rng := rand.New(rand.NewPCG(3, uint64(maxLen)))
	for _, pat := range diffPatterns {
		re, err := Compile(pat)
		if err != nil {
			t.Fatalf("Compile(%q): %v", pat, err)
		}
		ref := regexp2.MustCompile(pat, regexp2.None)
		for _, s := range []string{"", "Hello world, it's 2024!", "I'M  fine\n\n  x", "日本語のテキストです。", "a\u0301b 123456 ½ ①"} {
			againstRegexp2(t, pat, re, ref, s)
		}
		for i := 0; i < 2000*14/maxLen; i++ {
			againstRegexp2(t, pat, re, ref, randomText(rng, maxLen))
		}
	}
}

func FuzzAgainstRegexp2(f *testing.F) {
	for _, s := range []string{"Hello world", "it's  \n\n x", "a\u0301b", "  123456 ", "(x)|y", "Ǆa'S"} {
		f.Add(s)
	}
	res := make([]*Regexp, len(diffPatterns))
	refs := make([]*regexp2.Regexp, len(diffPatterns))
	for i, pat := range diffPatterns {
		res[i] = mustCompile(f, pat)
		refs[i] = regexp2.MustCompile(pat, regexp2.None)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 1000 {
			return // tokenizers only match valid UTF-8 (Rust strings)
		}
		for i, pat := range diffPatterns {
			againstRegexp2(t, pat, res[i], refs[i], s)
		}
	})
}

func mustCompile(tb testing.TB, pat string) *Regexp {
	tb.Helper()
	re, err := Compile(pat)
	if err != nil {
		tb.Fatal(err)
	}
	return re
}

// FuzzCompile: any pattern either compiles or fails with an error, and a
// compiled one matches any text without panicking, with matches in order
// and inside the text.
func FuzzCompile(f *testing.F) {
	for _, p := range append(diffPatterns, `(a|)*`, `(?<=a+)b`, `[[:^alpha:]\d]`, `(?i)\p{Lu}`, `a{2,}?`, `\Z|\G`) {
		f.Add(p, "aAb1 ,\n")
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 200 || len(s) > 200 {
			return
		}
		re, err := Compile(pat)
		if err != nil {
			return
		}
		last := 0
		re.FindAll(s, func(a, b int) {
			if a < last || b < a || b > len(s) {
				t.Fatalf("%q on %q: match (%d,%d) after %d", pat, s, a, b, last)
			}
			last = b
		})
	})
}

func BenchmarkFindAll(b *testing.B) {
	text := strings.Repeat("The quick brown fox, it's 42 years old!\n  Jumps over 日本語 lazy dogs. ", 200)
	for _, pat := range []string{diffPatterns[0], `[a-z]+|[^a-z]+`, `\s+`} {
		re := mustCompile(b, pat)
		ref := regexp2.MustCompile(pat, regexp2.None)
		b.Run(fmt.Sprintf("onig/%.12s", pat), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				re.FindAll(text, func(int, int) {})
			}
		})
		b.Run(fmt.Sprintf("regexp2/%.12s", pat), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				if _, err := ref.FindAllStringIndex(text, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
