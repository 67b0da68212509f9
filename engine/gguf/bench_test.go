package gguf

import (
	"bytes"
	"io"
	"math"
	"os"
	"testing"
)

func benchValues(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)))
	}
	return v
}

func BenchmarkQuantizeQ8_0(b *testing.B) {
	v := benchValues(1 << 16)
	dst := make([]byte, 0, len(v)/32*34)
	b.SetBytes(int64(4 * len(v)))
	for b.Loop() {
		dst = QuantizeQ8_0(dst[:0], v)
	}
}

func BenchmarkF32ToF16(b *testing.B) {
	v := benchValues(1 << 16)
	b.SetBytes(int64(4 * len(v)))
	for b.Loop() {
		if _, err := EncodeFloat32s(F16, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConvertBLOOMFixture(b *testing.B) {
	cfg, _ := os.ReadFile("../testdata/bloom-f16-h6-l2/config.json")
	tok, _ := os.ReadFile("../testdata/bloom-f16-h6-l2/tokenizer.json")
	st, err := os.ReadFile("../testdata/bloom-f16-h6-l2/model.safetensors")
	if err != nil {
		b.Skip("fixture missing")
	}
	ts, err := SafetensorsTensors(st)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(st)))
	for b.Loop() {
		if err := ConvertBLOOM(io.Discard, cfg, ts, tok, ConvertOptions{FileType: FileTypeQ8_0}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := ConvertBLOOMDir(&buf, "../testdata/bloom-f16-h6-l2", ConvertOptions{}); err != nil {
		b.Skip("fixture missing")
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Parse(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
