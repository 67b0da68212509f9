// Package gguf reads and writes GGUF v3 files, the container format of
// llama.cpp / ggml (ggml docs/gguf.md, src/gguf.cpp), and converts BLOOM
// checkpoints to it the way llama.cpp's convert_hf_to_gguf.py does.
//
// Layout of a file (all little-endian):
//
//	"GGUF" u32 version(3) u64 n_tensors u64 n_kv
//	n_kv × (string key, u32 value type, value)
//	n_tensors × (string name, u32 n_dims, n_dims × u64 dims, u32 ggml type, u64 offset)
//	zero padding to the alignment (general.alignment, default 32)
//	tensor data, each tensor starting at a multiple of the alignment
//
// Strings are a u64 byte length followed by UTF-8 bytes. Tensor dims are in
// ggml order, innermost (fastest-varying) first, i.e. the reverse of a
// PyTorch/safetensors shape; the bytes themselves are the row-major data.
//
// API:
//
//	Parse(b) / ReadHeader(r)            read a file (metadata, tensor infos, data slices)
//	NewWriter, AddKV, AddTensor[Func|Stream], WriteTo   write one (insertion order, alignment 32)
//	ConvertBLOOM(w, configJSON, tensors, tokenizerJSON, opts)   HF BLOOM -> GGUF as llama.cpp does
//	ConvertBLOOMDir(w, dir, opts)       same from a directory (single file or index + shards),
//	                                    reading one tensor at a time; used by `alibi convert --to gguf`
//	SafetensorsTensors(b), SafetensorsFileTensors(r, size)   safetensors -> []SourceTensor
//	ConvertOptions{FileType: FileTypeF32 | FileTypeF16 | FileTypeQ8_0, Name, TokenizerConfig}
//	ParseFileType("f32"|"f16"|"q8_0")
//
// Errors wrap ErrInvalid (malformed input) or ErrUnsupported (valid input this
// package or llama.cpp cannot handle, e.g. a post-layernorm BLOOM).
//
// The package is portable: it uses no syscall/js and no network.
package gguf

import (
	"errors"
	"fmt"
	"strings"
)

// Magic is the first four bytes of a GGUF file.
const Magic = "GGUF"

// Version is the GGUF version written by this package. The reader accepts 2 and 3.
const Version = 3

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that overrides the alignment.
const KeyAlignment = "general.alignment"

// MaxDims is the largest number of tensor dimensions ggml supports.
const MaxDims = 4

// MaxTensorNameLen is GGML_MAX_NAME - 1: the longest tensor name llama.cpp accepts.
const MaxTensorNameLen = 63

// ErrInvalid is wrapped by every error about malformed GGUF data or arguments.
var ErrInvalid = errors.New("invalid gguf data")

// ErrUnsupported is wrapped by errors about valid input this package cannot handle
// (an unknown tensor type, a model feature llama.cpp cannot run).
var ErrUnsupported = errors.New("unsupported")

func invalid(format string, args ...any) error {
	return fmt.Errorf("gguf: "+format+": %w", append(args, ErrInvalid)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("gguf: "+format+": %w", append(args, ErrUnsupported)...)
}

// ValueType is the type code of a metadata value.
type ValueType uint32

// Metadata value types (gguf.md, enum gguf_metadata_value_type).
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size of a fixed-size scalar, 0 for string/array/unknown.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// KV is one metadata entry. Value is one of: uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64, a slice of
// any of those ([]uint8 ... []string), or []Array for arrays of arrays.
type KV struct {
	Key   string
	Value any
}

// typeOf returns the GGUF type of a Go value (and the element type for arrays).
func typeOf(v any) (t, elem ValueType, ok bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, 0, true
	case int8:
		return TypeInt8, 0, true
	case uint16:
		return TypeUint16, 0, true
	case int16:
		return TypeInt16, 0, true
	case uint32:
		return TypeUint32, 0, true
	case int32:
		return TypeInt32, 0, true
	case float32:
		return TypeFloat32, 0, true
	case bool:
		return TypeBool, 0, true
	case string:
		return TypeString, 0, true
	case uint64:
		return TypeUint64, 0, true
	case int64:
		return TypeInt64, 0, true
	case float64:
		return TypeFloat64, 0, true
	case []uint8:
		return TypeArray, TypeUint8, true
	case []int8:
		return TypeArray, TypeInt8, true
	case []uint16:
		return TypeArray, TypeUint16, true
	case []int16:
		return TypeArray, TypeInt16, true
	case []uint32:
		return TypeArray, TypeUint32, true
	case []int32:
		return TypeArray, TypeInt32, true
	case []float32:
		return TypeArray, TypeFloat32, true
	case []bool:
		return TypeArray, TypeBool, true
	case []string:
		return TypeArray, TypeString, true
	case []uint64:
		return TypeArray, TypeUint64, true
	case []int64:
		return TypeArray, TypeInt64, true
	case []float64:
		return TypeArray, TypeFloat64, true
	case []any:
		return TypeArray, TypeArray, true
	}
	return 0, 0, false
}

// GGMLType is a tensor element type (enum ggml_type).
type GGMLType uint32

// Tensor types this package can write and decode. Other ggml types are read
// (their infos parsed) when their block geometry is known, see typeTraits.
const (
	F32  GGMLType = 0
	F16  GGMLType = 1
	Q4_0 GGMLType = 2
	Q4_1 GGMLType = 3
	Q5_0 GGMLType = 6
	Q5_1 GGMLType = 7
	Q8_0 GGMLType = 8
	Q8_1 GGMLType = 9
	I8   GGMLType = 24
	I16  GGMLType = 25
	I32  GGMLType = 26
	I64  GGMLType = 27
	F64  GGMLType = 28
	BF16 GGMLType = 30
)

// Q8Block is the number of values in one Q8_0 block (QK8_0).
const Q8Block = 32

type traits struct {
	name      string
	blockSize int // elements per block
	typeSize  int // bytes per block
}

// Block geometry of the ggml types (ggml.c type_traits).
var typeTraits = map[GGMLType]traits{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	Q4_0: {"Q4_0", 32, 18},
	Q4_1: {"Q4_1", 32, 20},
	Q5_0: {"Q5_0", 32, 22},
	Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34},
	Q8_1: {"Q8_1", 32, 36},
	10:   {"Q2_K", 256, 84},
	11:   {"Q3_K", 256, 110},
	12:   {"Q4_K", 256, 144},
	13:   {"Q5_K", 256, 176},
	14:   {"Q6_K", 256, 210},
	15:   {"Q8_K", 256, 292},
	I8:   {"I8", 1, 1},
	I16:  {"I16", 1, 2},
	I32:  {"I32", 1, 4},
	I64:  {"I64", 1, 8},
	F64:  {"F64", 1, 8},
	BF16: {"BF16", 1, 2},
}

func (t GGMLType) String() string {
	if tr, ok := typeTraits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("ggml_type(%d)", uint32(t))
}

// BlockSize returns the number of elements per block (1 for plain types), 0 if unknown.
func (t GGMLType) BlockSize() int { return typeTraits[t].blockSize }

// RowSize returns the byte size of n elements of type t; n must be a multiple
// of the block size.
func (t GGMLType) RowSize(n int64) (int64, error) {
	tr, ok := typeTraits[t]
	if !ok {
		return 0, unsupported("tensor type %v", t)
	}
	if n%int64(tr.blockSize) != 0 {
		return 0, invalid("%d elements of %v are not a multiple of its block size %d", n, t, tr.blockSize)
	}
	return n / int64(tr.blockSize) * int64(tr.typeSize), nil
}

// FileType is general.file_type (enum llama_ftype): the type of most tensors.
type FileType uint32

// File types this package writes (llama.h LLAMA_FTYPE_*).
const (
	FileTypeF32  FileType = 0 // LLAMA_FTYPE_ALL_F32
	FileTypeF16  FileType = 1 // LLAMA_FTYPE_MOSTLY_F16
	FileTypeQ8_0 FileType = 7 // LLAMA_FTYPE_MOSTLY_Q8_0
)

func (f FileType) String() string {
	switch f {
	case FileTypeF32:
		return "F32"
	case FileTypeF16:
		return "F16"
	case FileTypeQ8_0:
		return "Q8_0"
	}
	return fmt.Sprintf("file_type(%d)", uint32(f))
}

// ParseFileType accepts "f32", "f16" and "q8_0" (any case).
func ParseFileType(s string) (FileType, error) {
	switch strings.ToLower(s) {
	case "f32":
		return FileTypeF32, nil
	case "f16":
		return FileTypeF16, nil
	case "q8_0":
		return FileTypeQ8_0, nil
	}
	return 0, unsupported("file type %q (want f32, f16 or q8_0)", s)
}

// TensorType returns the tensor type used for 2-D weights in a file of type f.
func (f FileType) TensorType() GGMLType {
	switch f {
	case FileTypeF16:
		return F16
	case FileTypeQ8_0:
		return Q8_0
	}
	return F32
}
