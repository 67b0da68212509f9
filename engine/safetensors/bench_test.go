package safetensors

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkDecodeFloat32 measures widening 1 MiB of each dtype to f32.
func BenchmarkDecodeFloat32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 1<<18)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	for _, dt := range []DType{F32, F16, BF16} {
		src, _ := EncodeFloat32(v, dt)
		dst := make([]float32, len(v))
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				if err := DecodeFloat32(dst, src, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
