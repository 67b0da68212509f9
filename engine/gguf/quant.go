package gguf

import (
	"encoding/binary"
	"github.com/c9e48c40/alibi/engine/safetensors"
	"math"
)

// roundAway rounds half away from zero (C roundf; gguf-py np_roundf).
func roundAway(x float32) float32 {
	return float32(math.Round(float64(x)))
}

// QuantizeQ8_0 encodes src (a multiple of 32 values) as Q8_0 blocks: per block
// of 32, d = max|x|/127 stored as f16, q = round(x/d) as int8 (round half away
// from zero), exactly like ggml's quantize_row_q8_0_ref and gguf-py's quants.Q8_0.
func QuantizeQ8_0(dst []byte, src []float32) []byte {
	for b := 0; b+Q8Block <= len(src); b += Q8Block {
		blk := src[b : b+Q8Block]
		var amax float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		dst = binary.LittleEndian.AppendUint16(dst, safetensors.F32ToF16(d))
		for _, v := range blk {
			dst = append(dst, byte(int8(roundAway(v*id))))
		}
	}
	return dst
}

// DequantizeQ8_0 decodes Q8_0 blocks into dst (len(dst) values, a multiple of 32).
func DequantizeQ8_0(dst []float32, src []byte) {
	for b := 0; b*Q8Block < len(dst); b++ {
		blk := src[b*34 : b*34+34]
		d := safetensors.F16ToF32(binary.LittleEndian.Uint16(blk))
		for i := 0; i < Q8Block; i++ {
			dst[b*Q8Block+i] = float32(int8(blk[2+i])) * d
		}
	}
}

// Float32s decodes the data of a tensor of type t holding n elements (F32, F16,
// BF16 or Q8_0) into float32 values.
func Float32s(t GGMLType, data []byte, n int64) ([]float32, error) {
	size, err := t.RowSize(n)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != size {
		return nil, invalid("%v data of %d bytes for %d elements (want %d)", t, len(data), n, size)
	}
	out := make([]float32, n)
	switch t {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = safetensors.F16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = safetensors.BF16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case Q8_0:
		DequantizeQ8_0(out, data)
	default:
		return nil, unsupported("decoding %v tensors", t)
	}
	return out, nil
}

// EncodeFloat32s encodes values as tensor data of type t (F32, F16 or Q8_0).
func EncodeFloat32s(t GGMLType, v []float32) ([]byte, error) {
	switch t {
	case F32:
		out := make([]byte, 0, 4*len(v))
		for _, x := range v {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
		}
		return out, nil
	case F16:
		out := make([]byte, 0, 2*len(v))
		for _, x := range v {
			out = binary.LittleEndian.AppendUint16(out, safetensors.F32ToF16(x))
		}
		return out, nil
	case Q8_0:
		if len(v)%Q8Block != 0 {
			return nil, invalid("%d values are not a multiple of the Q8_0 block size %d", len(v), Q8Block)
		}
		return QuantizeQ8_0(make([]byte, 0, len(v)/Q8Block*34), v), nil
	}
	return nil, unsupported("encoding %v tensors", t)
}
