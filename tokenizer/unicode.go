package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Character classes as Oniguruma (Unicode mode) and Rust's char methods define them.

const (
	cLetter   uint8 = 1 << iota // \p{L}
	cNumber                     // \p{N}
	cSpace                      // \s: Unicode White_Space
	cUpperish                   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	cLowerish                   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
	cMark                       // \p{M}
	cPunct                      // \p{P}
	cSymbol                     // \p{S}
)

// asciiClass[r] is slowClass(r) for the ASCII chars (TestASCIIClass),
// written out: computing it at start-up ran the unicode tables through the
// WebAssembly engine's first, unoptimized tier on every start.
var asciiClass = [128]uint8{
	0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 64, 64, 64, 128, 64, 64, 64, 64, 64, 64, 128, 64, 64, 64, 64,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 64, 64, 128, 128, 128, 64,
	64, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
	9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 64, 64, 64, 128, 64,
	128, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17,
	17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 64, 128, 64, 128, 0,
}

func slowClass(r rune) uint8 {
	var c uint8
	if unicode.IsLetter(r) {
		c |= cLetter
	}
	if unicode.IsNumber(r) {
		c |= cNumber
	}
	if isWhiteSpace(r) {
		c |= cSpace
	}
	if unicode.IsMark(r) {
		c |= cMark
	}
	if unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M) {
		c |= cUpperish
	}
	if unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M) {
		c |= cLowerish
	}
	if unicode.IsPunct(r) {
		c |= cPunct
	}
	if unicode.IsSymbol(r) {
		c |= cSymbol
	}
	return c
}

// charClass returns the class bits of r.
func charClass(r rune) uint8 {
	if r < 128 {
		return asciiClass[r]
	}
	return slowClass(r)
}

// isWhiteSpace is the Unicode White_Space property (Rust char::is_whitespace, Oniguruma \s).
func isWhiteSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// isAlphanumeric is Rust's char::is_alphanumeric (Alphabetic or Numeric).
func isAlphanumeric(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) || unicode.IsNumber(r)
}

// isWordChar is Oniguruma's Unicode \w: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
func isWordChar(r rune) bool {
	if r < 128 {
		return r == '_' || (r >= '0' && r <= '9') || (r|0x20 >= 'a' && r|0x20 <= 'z')
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

// isPunctuation is tokenizers' is_punc: ASCII punctuation or Unicode P*.
func isPunctuation(r rune) bool {
	if r < 128 {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// Byte-level (GPT-2) alphabet: every byte maps to a printable char.
var (
	byteToChar [256]rune
	// charToByte[r] is the byte whose char is r, or -1; the chars are below
	// byteLevelChars.
	charToByte [byteLevelChars]int16
	// byteToStr[b] is string(byteToChar[b]).
	byteToStr [256]string
)

// byteLevelChars bounds the byte-level alphabet: bytes map to themselves or
// to 256 + the count of remapped bytes before them (68 in all).
const byteLevelChars = 256 + 68

func init() {
	for i := range charToByte {
		charToByte[i] = -1
	}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToChar[b] = rune(b)
		} else {
			byteToChar[b] = rune(256 + n)
			n++
		}
		charToByte[byteToChar[b]] = int16(b)
		byteToStr[b] = string(byteToChar[b])
	}
}

// byteLevelEncode maps every byte of s to its byte-level char.
func byteLevelEncode(s string) string {
	out := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		out = utf8.AppendRune(out, byteToChar[s[i]])
	}
	return string(out)
}

// byteLevelDecode maps the chars of a token back to bytes; ok is false if some char is not in
// the byte-level alphabet.
func byteLevelDecode(dst []byte, tok string) ([]byte, bool) {
	n := len(dst)
	for _, r := range tok {
		if r < 0 || r >= byteLevelChars || charToByte[r] < 0 {
			return dst[:n], false
		}
		dst = append(dst, byte(charToByte[r]))
	}
	return dst, true
}

// lossyUTF8 converts b to a string the way Rust's String::from_utf8_lossy does: each maximal
// prefix of an ill-formed sequence becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			out = append(out, b[i:i+size]...)
			i += size
			continue
		}
		// Invalid: consume the maximal valid prefix of a sequence (at least one byte).
		n := 1
		var need int
		lo, hi := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			need = 2
		case c == 0xED:
			need, hi = 2, 0x9F
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		}
		for k := 0; k < need && i+n < len(b); k++ {
			x := b[i+n]
			if x < lo || x > hi {
				break
			}
			n++
			lo, hi = 0x80, 0xBF
		}
		out = append(out, "\uFFFD"...)
		i += n
	}
	return string(out)
}
