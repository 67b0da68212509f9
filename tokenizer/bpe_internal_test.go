package tokenizer

import (
	"fmt"
	"testing"
)

func TestByteFallbackToken(t *testing.T) {
	for b := 0; b < 256; b++ {
		if got, want := byteFallbackToken(b), fmt.Sprintf("<0x%02X>", b); got != want {
			t.Fatalf("byteFallbackToken(%d) = %q, want %q", b, got, want)
		}
	}
}

func TestASCIIClass(t *testing.T) {
	for r := rune(0); r < 128; r++ {
		if got, want := asciiClass[r], slowClass(r); got != want {
			t.Errorf("asciiClass[%q] = %08b, slowClass gives %08b", r, got, want)
		}
	}
}

func TestByteLevelAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToChar[b]
		if r >= byteLevelChars || seen[r] {
			t.Fatalf("byte %d maps to %U: out of range or taken", b, r)
		}
		seen[r] = true
		if got, ok := byteLevelDecode(nil, string(r)); !ok || len(got) != 1 || got[0] != byte(b) {
			t.Fatalf("byteLevelDecode(%q) = %v, %v; want [%d]", string(r), got, ok, b)
		}
	}
	for _, r := range []rune{0x7F, ' ', byteLevelChars, 0x4E00, 0x10FFFF} {
		if seen[r] {
			continue
		}
		if _, ok := byteLevelDecode(nil, string(r)); ok {
			t.Errorf("byteLevelDecode(%U) accepted a char outside the alphabet", r)
		}
	}
}
