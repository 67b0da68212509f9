package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// Writer assembles a GGUF v3 file: metadata in insertion order, then tensor
// infos and data in insertion order (as gguf-py's GGUFWriter does). Tensor data
// may be supplied lazily, so converting a large model needs only one tensor in
// memory at a time.
type Writer struct {
	kvs       []KV
	keys      map[string]bool
	tensors   []wtensor
	names     map[string]bool
	alignment int
}

type wtensor struct {
	name  string
	typ   GGMLType
	dims  []uint64 // ggml order
	size  int64
	data  []byte
	fill  func() ([]byte, error)
	write func(io.Writer) error
}

// NewWriter returns an empty writer with the default alignment (32).
func NewWriter() *Writer {
	return &Writer{keys: map[string]bool{}, names: map[string]bool{}, alignment: DefaultAlignment}
}

// SetAlignment sets the data alignment (a power of two) and records it as
// general.alignment. Call it before adding tensors.
func (w *Writer) SetAlignment(n int) error {
	if n <= 0 || n&(n-1) != 0 || n > 1<<20 {
		return invalid("alignment %d is not a power of two in 1..2^20", n)
	}
	if len(w.tensors) > 0 {
		return invalid("alignment must be set before tensors are added")
	}
	if err := w.AddKV(KeyAlignment, uint32(n)); err != nil {
		return err
	}
	w.alignment = n
	return nil
}

// AddKV appends a metadata entry. The value's Go type selects the GGUF type
// (see KV); keys must be unique, non-empty UTF-8.
func (w *Writer) AddKV(key string, value any) error {
	if key == "" || !utf8.ValidString(key) || len(key) > 65535 {
		return invalid("metadata key %q must be 1..65535 bytes of UTF-8", key)
	}
	if w.keys[key] {
		return invalid("duplicate metadata key %q", key)
	}
	if err := checkValue(value, 0); err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", key, err)
	}
	if key == KeyAlignment {
		a, ok := value.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return invalid("%s must be a power-of-two uint32, got %T %v", KeyAlignment, value, value)
		}
		w.alignment = int(a)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, KV{Key: key, Value: value})
	return nil
}

func checkValue(v any, depth int) error {
	t, elem, ok := typeOf(v)
	if !ok {
		return invalid("unsupported value type %T", v)
	}
	if t == TypeString && !utf8.ValidString(v.(string)) {
		return invalid("string value is not UTF-8")
	}
	if t == TypeArray && elem == TypeArray {
		if depth+1 >= MaxArrayDepth {
			return invalid("arrays nested deeper than %d", MaxArrayDepth)
		}
		for i, x := range v.([]any) {
			if xt, _, ok := typeOf(x); !ok || xt != TypeArray {
				return invalid("item %d of an array of arrays is %T, not an array", i, x)
			}
			if err := checkValue(x, depth+1); err != nil {
				return err
			}
		}
	}
	if t == TypeArray && elem == TypeString {
		for i, s := range v.([]string) {
			if !utf8.ValidString(s) {
				return invalid("string %d of the array is not UTF-8", i)
			}
		}
	}
	return nil
}

// AddTensor appends a tensor with its data. shape is in row-major
// (PyTorch/safetensors) order, outermost first; it is written reversed, in
// ggml order. len(data) must equal the type's size for that shape.
func (w *Writer) AddTensor(name string, typ GGMLType, shape []int, data []byte) error {
	return w.addTensor(name, typ, shape, data, nil)
}

// AddTensorFunc is AddTensor with the data produced by fill when the tensor is
// written (fill is called exactly once, in tensor order, during WriteTo).
func (w *Writer) AddTensorFunc(name string, typ GGMLType, shape []int, fill func() ([]byte, error)) error {
	if fill == nil {
		return invalid("tensor %q: nil fill function", name)
	}
	return w.addTensor(name, typ, shape, nil, fill)
}

// AddTensorStream is AddTensor with the data streamed by write when the tensor
// is written (called exactly once, in tensor order, during WriteTo); it must
// write exactly the tensor's size in bytes. Converters use it to keep only a
// slice of a large tensor in memory.
func (w *Writer) AddTensorStream(name string, typ GGMLType, shape []int, write func(io.Writer) error) error {
	if write == nil {
		return invalid("tensor %q: nil write function", name)
	}
	if err := w.addTensor(name, typ, shape, nil, func() ([]byte, error) { return nil, nil }); err != nil {
		return err
	}
	t := &w.tensors[len(w.tensors)-1]
	t.fill, t.write = nil, write
	return nil
}

func (w *Writer) addTensor(name string, typ GGMLType, shape []int, data []byte, fill func() ([]byte, error)) error {
	if name == "" || len(name) > MaxTensorNameLen {
		return invalid("tensor name %q must be 1..%d bytes", name, MaxTensorNameLen)
	}
	if w.names[name] {
		return invalid("duplicate tensor %q", name)
	}
	if len(shape) < 1 || len(shape) > MaxDims {
		return invalid("tensor %q has %d dims (want 1..%d)", name, len(shape), MaxDims)
	}
	dims := make([]uint64, len(shape))
	n := int64(1)
	for i, d := range shape {
		if d <= 0 {
			return invalid("tensor %q shape %v has a non-positive dim", name, shape)
		}
		if n > math.MaxInt64/8/int64(d) {
			return invalid("tensor %q shape %v is too large", name, shape)
		}
		n *= int64(d)
		dims[len(shape)-1-i] = uint64(d)
	}
	if bs := typ.BlockSize(); bs == 0 {
		return unsupported("tensor %q type %v", name, typ)
	} else if dims[0]%uint64(bs) != 0 {
		return invalid("tensor %q: row of %d elements is not a multiple of the %v block size %d", name, dims[0], typ, bs)
	}
	size, err := typ.RowSize(n)
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	if fill == nil && int64(len(data)) != size {
		return invalid("tensor %q: %d bytes of data for %v %v (want %d)", name, len(data), typ, shape, size)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, wtensor{name: name, typ: typ, dims: dims, size: size, data: data, fill: fill})
	return nil
}

func pad(n int64, a int) int64 { return (int64(a) - n%int64(a)) % int64(a) }

type ew struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (e *ew) bytes(p []byte) {
	if e.err != nil {
		return
	}
	k, err := e.w.Write(p)
	e.n += int64(k)
	e.err = err
}

func (e *ew) u32(v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	e.bytes(b[:])
}

func (e *ew) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	e.bytes(b[:])
}

func (e *ew) str(s string) {
	e.u64(uint64(len(s)))
	e.bytes([]byte(s))
}

func (e *ew) zeros(n int64) {
	var z [64]byte
	for n > 0 {
		k := min(n, int64(len(z)))
		e.bytes(z[:k])
		n -= k
	}
}

func (e *ew) value(v any) {
	t, elem, _ := typeOf(v)
	if t != TypeArray {
		e.scalar(v)
		return
	}
	e.u32(uint32(elem))
	switch a := v.(type) {
	case []uint8:
		e.u64(uint64(len(a)))
		e.bytes(a)
	case []int8:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []uint16:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []int16:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []uint32:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []int32:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []float32:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []bool:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []string:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.str(x)
		}
	case []uint64:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []int64:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []float64:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.scalar(x)
		}
	case []any:
		e.u64(uint64(len(a)))
		for _, x := range a {
			e.value(x) // inner arrays carry their own type header
		}
	}
}

func (e *ew) scalar(v any) {
	switch x := v.(type) {
	case uint8:
		e.bytes([]byte{x})
	case int8:
		e.bytes([]byte{byte(x)})
	case bool:
		if x {
			e.bytes([]byte{1})
		} else {
			e.bytes([]byte{0})
		}
	case uint16:
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], x)
		e.bytes(b[:])
	case int16:
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], uint16(x))
		e.bytes(b[:])
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	}
}

// WriteTo writes the file. Lazily supplied tensor data is produced and
// checked against its declared size as it is written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	e := &ew{w: bufio.NewWriterSize(out, 1<<16)}
	e.bytes([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		e.str(kv.Key)
		t, _, _ := typeOf(kv.Value)
		e.u32(uint32(t))
		e.value(kv.Value)
	}
	var off int64
	for _, t := range w.tensors {
		e.str(t.name)
		e.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			e.u64(d)
		}
		e.u32(uint32(t.typ))
		e.u64(uint64(off))
		off += t.size + pad(t.size, w.alignment)
	}
	e.zeros(pad(e.n, w.alignment))
	for i := range w.tensors {
		t := &w.tensors[i]
		if t.write != nil {
			cw := &countWriter{e: e}
			if err := t.write(cw); err != nil {
				return e.n, fmt.Errorf("gguf: producing tensor %q: %w", t.name, err)
			}
			if e.err == nil && cw.n != t.size {
				return e.n, invalid("tensor %q: write produced %d bytes (want %d)", t.name, cw.n, t.size)
			}
			e.zeros(pad(t.size, w.alignment))
			if e.err != nil {
				break
			}
			continue
		}
		data := t.data
		if t.fill != nil {
			var err error
			if data, err = t.fill(); err != nil {
				return e.n, fmt.Errorf("gguf: producing tensor %q: %w", t.name, err)
			}
			if int64(len(data)) != t.size {
				return e.n, invalid("tensor %q: fill returned %d bytes (want %d)", t.name, len(data), t.size)
			}
		}
		e.bytes(data)
		e.zeros(pad(t.size, w.alignment))
		if e.err != nil {
			break
		}
	}
	if e.err == nil {
		e.err = e.w.Flush()
	}
	if e.err != nil {
		return e.n, fmt.Errorf("gguf: writing: %w", e.err)
	}
	return e.n, nil
}

// countWriter forwards to the file writer and counts the bytes of one tensor.
type countWriter struct {
	e *ew
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.e.err != nil {
		return 0, c.e.err
	}
	c.e.bytes(p)
	c.n += int64(len(p))
	return len(p), c.e.err
}
