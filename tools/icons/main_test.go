package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// The committed icons must be exactly what this program draws, so a change
// to the drawing is never forgotten in web/icons.
func TestCommittedIconsAreCurrent(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		maskable bool
	}{
		{"icon-192.png", 192, false},
		{"icon-512.png", 512, false},
		{"maskable-512.png", 512, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := draw(tc.size, tc.maskable)
			if b := img.Bounds(); b.Dx() != tc.size || b.Dy() != tc.size {
				t.Fatalf("bounds %v, want %dx%d", b, tc.size, tc.size)
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(filepath.Join("..", "..", "web", "icons", tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), committed) {
				t.Errorf("web/icons/%s is stale: run go run ./tools/icons -o web/icons", tc.name)
			}
		})
	}
}

// Maskable icons fill the square (no transparent corners); the others are
// rounded (transparent corners).
func TestCorners(t *testing.T) {
	if a := draw(192, false).NRGBAAt(0, 0).A; a != 0 {
		t.Errorf("icon corner alpha %d, want 0", a)
	}
	if a := draw(192, true).NRGBAAt(0, 0).A; a != 255 {
		t.Errorf("maskable corner alpha %d, want 255", a)
	}
}
