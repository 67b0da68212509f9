package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// littleEndian reports whether float32 values are stored little-endian in
// memory (wasm, amd64, arm64), so F32 bytes decode with one copy.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// f16Table maps every binary16 bit pattern to its float32 value (256 KiB,
// built on first use): a lookup is faster than the bit twiddling.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = F16ToF32(uint16(i))
	}
	return &t
})

// DType is a safetensors element type as spelled in the header ("F32", "BF16", ...).
type DType string

// The element types of the safetensors format (safetensors/src/tensor.rs, enum Dtype).
const (
	BOOL        DType = "BOOL"
	U8          DType = "U8"
	I8          DType = "I8"
	I16         DType = "I16"
	U16         DType = "U16"
	F16         DType = "F16"
	BF16        DType = "BF16"
	I32         DType = "I32"
	U32         DType = "U32"
	F32         DType = "F32"
	F64         DType = "F64"
	I64         DType = "I64"
	U64         DType = "U64"
	F8E5M2      DType = "F8_E5M2"
	F8E4M3      DType = "F8_E4M3"
	F8E8M0      DType = "F8_E8M0"
	F8E4M3FNUZ  DType = "F8_E4M3FNUZ"
	F8E5M2FNUZ  DType = "F8_E5M2FNUZ"
	F4          DType = "F4"
	F6E2M3      DType = "F6_E2M3"
	F6E3M2      DType = "F6_E3M2"
	C64         DType = "C64"
	unknownBits       = 0
)

var dtypeBits = map[DType]int{
	BOOL: 8, U8: 8, I8: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32,
	F64: 64, I64: 64, U64: 64, F8E5M2: 8, F8E4M3: 8, F8E8M0: 8, F8E4M3FNUZ: 8, F8E5M2FNUZ: 8,
	F4: 4, F6E2M3: 6, F6E3M2: 6, C64: 64,
}

// Bits returns the size of one element in bits, or 0 for an unknown dtype.
func (d DType) Bits() int { return dtypeBits[d] }

// Valid reports whether d is a dtype of the safetensors format.
func (d DType) Valid() bool { return d.Bits() != unknownBits }

// F16ToF32 converts an IEEE 754 binary16 value to float32 exactly
// (subnormals, infinities and NaN payloads included).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: shift the mantissa up until its leading one is the implicit bit.
	e := uint32(113)
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
}

// F32ToF16 converts a float32 to binary16, rounding to nearest even;
// values too large become ±Inf, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13) // quiet NaN, keep payload bits
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): value = man' * 2^-24.
		if e < -10 {
			return sign
		}
		m := man | 0x800000 // explicit leading one
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(half)
}

// BF16ToF32 converts a bfloat16 value to float32 exactly: bits << 16.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts a float32 to bfloat16, rounding to nearest even; NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// DecodeFloat32 converts len(dst) little-endian elements of dtype dt from src
// into dst. src must hold exactly len(dst) elements of F32, F16 or BF16.
func DecodeFloat32(dst []float32, src []byte, dt DType) error {
	switch dt {
	case F32:
		if len(src) != 4*len(dst) {
			return fmt.Errorf("safetensors: decode F32: %d bytes for %d elements", len(src), len(dst))
		}
		if littleEndian && len(dst) > 0 {
			// A memmove: the per-element loop runs at ~14 ns an element in
			// wasm before V8 optimizes it (a cold load of an f32 model).
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(src)), src)
			break
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		if len(src) != 2*len(dst) {
			return fmt.Errorf("safetensors: decode F16: %d bytes for %d elements", len(src), len(dst))
		}
		table := f16Table()
		for i := range dst {
			dst[i] = table[binary.LittleEndian.Uint16(src[2*i:])]
		}
	case BF16:
		if len(src) != 2*len(dst) {
			return fmt.Errorf("safetensors: decode BF16: %d bytes for %d elements", len(src), len(dst))
		}
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	default:
		return fmt.Errorf("safetensors: decode: dtype %s is not F32, F16 or BF16: %w", dt, ErrInvalid)
	}
	return nil
}

// EncodeFloat32 encodes v as little-endian F32, F16 or BF16 bytes (rounding
// to nearest even for the 16-bit types).
func EncodeFloat32(v []float32, dt DType) ([]byte, error) {
	switch dt {
	case F32:
		out := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
		}
		return out, nil
	case F16:
		out := make([]byte, 2*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(f))
		}
		return out, nil
	case BF16:
		out := make([]byte, 2*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToBF16(f))
		}
		return out, nil
	}
	return nil, fmt.Errorf("safetensors: encode: dtype %s is not F32, F16 or BF16: %w", dt, ErrInvalid)
}
