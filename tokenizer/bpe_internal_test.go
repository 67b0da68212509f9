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
