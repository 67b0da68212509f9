package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/bits"
	"unicode/utf8"
)

// Reader limits. They bound what a malformed header can make the reader do;
// allocation additionally grows only as bytes actually arrive.
const (
	// MaxStringLen caps one string (a key, a tensor name, a metadata string).
	MaxStringLen = 1 << 26
	// MaxArrayLen caps the element count of one metadata array.
	MaxArrayLen = 1 << 26
	// MaxArrayDepth caps nesting of arrays of arrays.
	MaxArrayDepth = 4
	// MaxCount caps the tensor and metadata counts in the header.
	MaxCount = 1 << 24
)

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name string
	// Dims in ggml order: Dims[0] is the innermost (contiguous) dimension.
	Dims []uint64
	Type GGMLType
	// Offset of the data relative to the start of the tensor-data section.
	Offset uint64
	// Data is set by Parse (nil after ReadHeader).
	Data []byte
}

// Shape returns the dims in row-major (PyTorch/safetensors) order, outermost first.
func (t *TensorInfo) Shape() []int {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		s[len(s)-1-i] = int(d)
	}
	return s
}

// Elements returns the number of elements.
func (t *TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= int64(d)
	}
	return n
}

// Size returns the byte size of the tensor's data.
func (t *TensorInfo) Size() int64 {
	n, err := t.Type.RowSize(t.Elements())
	if err != nil {
		return 0
	}
	return n
}

// Float32s decodes the tensor's data (F32, F16, BF16 or Q8_0); Parse must have set Data.
func (t *TensorInfo) Float32s() ([]float32, error) {
	if t.Data == nil {
		return nil, invalid("tensor %q has no data loaded", t.Name)
	}
	return Float32s(t.Type, t.Data, t.Elements())
}

// File is a parsed GGUF file.
type File struct {
	Version   uint32
	KV        []KV // in file order
	Tensors   []TensorInfo
	Alignment int
	// DataOffset is the absolute file offset of the tensor-data section.
	DataOffset int64
	kvIndex    map[string]int
	tIndex     map[string]int
}

// Get returns the value of a metadata key.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// String returns a string metadata value.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns an integer metadata value of any unsigned or non-negative signed type.
func (f *File) Uint(key string) (uint64, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Float returns a float32 or float64 metadata value.
func (f *File) Float(key string) (float64, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// DataSize returns the length of the tensor-data section implied by the tensor infos:
// the end of the last tensor padded to the alignment, as ggml writes and reads it.
func (f *File) DataSize() int64 {
	var end int64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if e := int64(t.Offset) + t.Size(); e > end {
			end = e
		}
	}
	return end + pad(end, f.Alignment)
}

type reader struct {
	r   io.Reader
	n   int64 // bytes consumed
	buf [8]byte
}

func (r *reader) full(p []byte, what string) error {
	k, err := io.ReadFull(r.r, p)
	r.n += int64(k)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return invalid("truncated file: reading %s at offset %d", what, r.n)
		}
		return invalid("reading %s at offset %d: %v", what, r.n, err)
	}
	return nil
}

func (r *reader) u32(what string) (uint32, error) {
	if err := r.full(r.buf[:4], what); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(r.buf[:4]), nil
}

func (r *reader) u64(what string) (uint64, error) {
	if err := r.full(r.buf[:8], what); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(r.buf[:8]), nil
}

func (r *reader) str(what string, max uint64) (string, error) {
	n, err := r.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > max {
		return "", invalid("%s length %d exceeds the limit %d", what, n, max)
	}
	var b bytes.Buffer
	// grows with the data actually read, never trusting n for one big allocation
	k, err := io.CopyN(&b, r.r, int64(n))
	r.n += k
	if err != nil {
		return "", invalid("truncated file: reading %s of %d bytes at offset %d", what, n, r.n)
	}
	return b.String(), nil
}

// scalar reads one fixed-size value of type t.
func (r *reader) scalar(t ValueType) (any, error) {
	sz := t.size()
	if err := r.full(r.buf[:sz], "value of type "+t.String()); err != nil {
		return nil, err
	}
	b := r.buf[:sz]
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeUint16:
		return le.Uint16(b), nil
	case TypeInt16:
		return int16(le.Uint16(b)), nil
	case TypeUint32:
		return le.Uint32(b), nil
	case TypeInt32:
		return int32(le.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case TypeBool:
		if b[0] > 1 {
			return nil, invalid("bool value %d at offset %d", b[0], r.n-1)
		}
		return b[0] == 1, nil
	case TypeUint64:
		return le.Uint64(b), nil
	case TypeInt64:
		return int64(le.Uint64(b)), nil
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b)), nil
	}
	return nil, invalid("unknown value type %d", uint32(t))
}

func (r *reader) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeString:
		return r.str("string value", MaxStringLen)
	case TypeArray:
		return r.array(depth + 1)
	}
	if t.size() == 0 {
		return nil, invalid("unknown value type %d at offset %d", uint32(t), r.n-4)
	}
	return r.scalar(t)
}

// capHint bounds a preallocation by what a header could plausibly hold.
func capHint(n uint64) int {
	if n > 1024 {
		return 1024
	}
	return int(n)
}

func (r *reader) array(depth int) (any, error) {
	if depth > MaxArrayDepth {
		return nil, invalid("arrays nested deeper than %d", MaxArrayDepth)
	}
	et, err := r.u32("array element type")
	if err != nil {
		return nil, err
	}
	n, err := r.u64("array length")
	if err != nil {
		return nil, err
	}
	if n > MaxArrayLen {
		return nil, invalid("array length %d exceeds the limit %d", n, MaxArrayLen)
	}
	elem := ValueType(et)
	switch elem {
	case TypeString:
		out := make([]string, 0, capHint(n))
		for i := uint64(0); i < n; i++ {
			s, err := r.str("array string", MaxStringLen)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case TypeArray:
		out := make([]any, 0, capHint(n))
		for i := uint64(0); i < n; i++ {
			v, err := r.array(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	if elem.size() == 0 {
		return nil, invalid("unknown array element type %d", et)
	}
	return r.scalarArray(elem, n)
}

func (r *reader) scalarArray(t ValueType, n uint64) (any, error) {
	sz := uint64(t.size())
	var b bytes.Buffer
	k, err := io.CopyN(&b, r.r, int64(n*sz))
	r.n += k
	if err != nil {
		return nil, invalid("truncated file: reading array of %d %v at offset %d", n, t, r.n)
	}
	p := b.Bytes()
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), p...), nil
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(p[i])
		}
		return out, nil
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			if p[i] > 1 {
				return nil, invalid("bool array element %d has value %d", i, p[i])
			}
			out[i] = p[i] == 1
		}
		return out, nil
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(p[2*i:])
		}
		return out, nil
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(p[2*i:]))
		}
		return out, nil
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(p[4*i:])
		}
		return out, nil
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(p[4*i:]))
		}
		return out, nil
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(p[4*i:]))
		}
		return out, nil
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(p[8*i:])
		}
		return out, nil
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(p[8*i:]))
		}
		return out, nil
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(p[8*i:]))
		}
		return out, nil
	}
	return nil, invalid("unknown array element type %d", uint32(t))
}

// ReadHeader reads the header, metadata and tensor infos from r, and consumes
// the padding up to the tensor-data section (so r is left at the first tensor's
// data). It validates everything ggml's gguf.cpp does for the header: magic,
// version, key uniqueness, value types, tensor names (non-empty, unique, at most
// 63 bytes), dims (1..4, positive, no overflow), known types with block-aligned
// rows, and aligned, non-overlapping tensor offsets.
func ReadHeader(r io.Reader) (*File, error) {
	rd := &reader{r: r}
	var magic [4]byte
	if err := rd.full(magic[:], "magic"); err != nil {
		return nil, err
	}
	if string(magic[:]) != Magic {
		return nil, invalid("bad magic %q (want %q)", magic[:], Magic)
	}
	ver, err := rd.u32("version")
	if err != nil {
		return nil, err
	}
	if ver&0xffff == 0 && ver != 0 {
		return nil, unsupported("version %#x looks byte-swapped: big-endian files are not supported", ver)
	}
	if ver != 2 && ver != 3 {
		return nil, unsupported("version %d (want 2 or 3)", ver)
	}
	nt, err := rd.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nkv, err := rd.u64("metadata count")
	if err != nil {
		return nil, err
	}
	if nt > MaxCount || nkv > MaxCount {
		return nil, invalid("tensor count %d / metadata count %d exceed the limit %d", nt, nkv, MaxCount)
	}
	f := &File{Version: ver, Alignment: DefaultAlignment, kvIndex: map[string]int{}, tIndex: map[string]int{}}
	f.KV = make([]KV, 0, capHint(nkv))
	for i := uint64(0); i < nkv; i++ {
		key, err := rd.str("metadata key", 65535)
		if err != nil {
			return nil, err
		}
		if key == "" || !utf8.ValidString(key) {
			return nil, invalid("metadata key %d is empty or not UTF-8", i)
		}
		if _, dup := f.kvIndex[key]; dup {
			return nil, invalid("duplicate metadata key %q", key)
		}
		t, err := rd.u32("value type of " + key)
		if err != nil {
			return nil, err
		}
		v, err := rd.value(ValueType(t), 0)
		if err != nil {
			return nil, err
		}
		f.kvIndex[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	if v, ok := f.Get(KeyAlignment); ok {
		a, isU32 := v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 || a > 1<<20 {
			return nil, invalid("%s = %v: want a power-of-two u32", KeyAlignment, v)
		}
		f.Alignment = int(a)
	}
	f.Tensors = make([]TensorInfo, 0, capHint(nt))
	for i := uint64(0); i < nt; i++ {
		name, err := rd.str("tensor name", 65535)
		if err != nil {
			return nil, err
		}
		if name == "" || len(name) > MaxTensorNameLen {
			return nil, invalid("tensor %d name %q: length must be 1..%d", i, name, MaxTensorNameLen)
		}
		if _, dup := f.tIndex[name]; dup {
			return nil, invalid("duplicate tensor %q", name)
		}
		nd, err := rd.u32("dims of " + name)
		if err != nil {
			return nil, err
		}
		if nd < 1 || nd > MaxDims {
			return nil, invalid("tensor %q has %d dims (want 1..%d)", name, nd, MaxDims)
		}
		dims := make([]uint64, nd)
		elems := uint64(1)
		for j := range dims {
			if dims[j], err = rd.u64("dim of " + name); err != nil {
				return nil, err
			}
			if dims[j] == 0 || dims[j] > math.MaxInt64 {
				return nil, invalid("tensor %q dim %d = %d", name, j, dims[j])
			}
			hi, lo := bits.Mul64(elems, dims[j])
			if hi != 0 || lo > math.MaxInt64/8 {
				return nil, invalid("tensor %q has too many elements", name)
			}
			elems = lo
		}
		tt, err := rd.u32("type of " + name)
		if err != nil {
			return nil, err
		}
		typ := GGMLType(tt)
		bs := typ.BlockSize()
		if bs == 0 {
			return nil, unsupported("tensor %q has unknown type %d", name, tt)
		}
		if dims[0]%uint64(bs) != 0 {
			return nil, invalid("tensor %q: row of %d elements is not a multiple of the %v block size %d", name, dims[0], typ, bs)
		}
		off, err := rd.u64("offset of " + name)
		if err != nil {
			return nil, err
		}
		if off%uint64(f.Alignment) != 0 {
			return nil, invalid("tensor %q offset %d is not a multiple of the alignment %d", name, off, f.Alignment)
		}
		if off > math.MaxInt64/2 {
			return nil, invalid("tensor %q offset %d is out of range", name, off)
		}
		f.tIndex[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, TensorInfo{Name: name, Dims: dims, Type: typ, Offset: off})
	}
	// Tensors must not overlap (ggml requires them in order, each at the padded end of the previous).
	var end uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset < end {
			return nil, invalid("tensor %q at offset %d overlaps the previous tensor ending at %d", t.Name, t.Offset, end)
		}
		end = t.Offset + uint64(t.Size())
	}
	pad := (uint64(f.Alignment) - uint64(rd.n)%uint64(f.Alignment)) % uint64(f.Alignment)
	var zero [1]byte
	for i := uint64(0); i < pad; i++ {
		if err := rd.full(zero[:], "padding"); err != nil {
			if len(f.Tensors) == 0 {
				break // a file without tensors may end right after its header
			}
			return nil, err
		}
	}
	f.DataOffset = rd.n
	return f, nil
}

// Parse parses a whole GGUF file held in memory and points each tensor's Data
// into b (no copy). Every tensor must lie inside the file.
func Parse(b []byte) (*File, error) {
	br := bytes.NewReader(b)
	f, err := ReadHeader(br)
	if err != nil {
		return nil, err
	}
	avail := int64(len(b)) - f.DataOffset
	if need := f.DataSize(); avail < need {
		return nil, invalid("tensor data section needs %d bytes, the file has %d after the header (truncated file)", need, max(avail, 0))
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		end := int64(t.Offset) + t.Size()
		if end > avail {
			return nil, invalid("tensor %q data [%d, %d) extends past the end of the file (%d data bytes)", t.Name, t.Offset, end, avail)
		}
		t.Data = b[f.DataOffset+int64(t.Offset) : f.DataOffset+end : f.DataOffset+end]
	}
	return f, nil
}
