// Package safetensors reads and writes the safetensors format
// (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
// of JSON describing each tensor's dtype, shape and byte range, then the byte
// buffer. Parsing validates everything the reference implementation does
// (safetensors/src/tensor.rs Metadata::validate): a size cap on the header,
// known dtypes, shapes that match byte ranges, and a buffer covered exactly,
// without holes or overlaps.
//
// Stream parses a file that arrives as a byte stream split anywhere, which
// lets a loader convert weights while they download.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"

	"github.com/c9e48c40/alibi/internal/jsonscan"
)

// MaxHeaderSize caps the JSON header length, as the reference implementation does.
const MaxHeaderSize = 100_000_000

// ErrInvalid is wrapped by every error about malformed safetensors data.
var ErrInvalid = errors.New("invalid safetensors data")

// TensorInfo describes one tensor of a file. Begin and End are byte offsets
// relative to the start of the data buffer; End is exclusive.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	Begin int64
	End   int64
}

// Elements returns the number of elements (the product of the shape; 1 for a scalar).
func (t *TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// Size returns the tensor's byte length.
func (t *TensorInfo) Size() int64 { return t.End - t.Begin }

// Header is a parsed and validated safetensors header.
type Header struct {
	// Tensors sorted by Begin offset (ties by End, then name).
	Tensors []TensorInfo
	// Metadata is the optional "__metadata__" string map (nil when absent).
	Metadata map[string]string
	// DataOffset is the file offset of the data buffer: 8 + header length.
	DataOffset int64
	// DataSize is the byte length of the data buffer.
	DataSize int64
}

// FileSize returns the size a file with this header must have.
func (h *Header) FileSize() int64 { return h.DataOffset + h.DataSize }

// Lookup returns the tensor with the given name, or nil.
func (h *Header) Lookup(name string) *TensorInfo {
	for i := range h.Tensors {
		if h.Tensors[i].Name == name {
			return &h.Tensors[i]
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("safetensors: "+format+": %w", append(args, ErrInvalid)...)
}

// headerLen decodes and checks the 8-byte length prefix. fileSize < 0 means unknown.
func headerLen(prefix []byte, fileSize int64) (int64, error) {
	n := binary.LittleEndian.Uint64(prefix)
	if n > MaxHeaderSize {
		return 0, invalid("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n < 2 {
		return 0, invalid("header length %d is too small for a JSON object", n)
	}
	if fileSize >= 0 && int64(n) > fileSize-8 {
		return 0, invalid("header length %d exceeds the file size %d", n, fileSize)
	}
	return int64(n), nil
}

// ParseHeader parses the header at the start of data, which must hold at
// least the 8-byte length and the JSON header (it may hold more of the file).
// fileSize is the size of the whole file, or -1 when unknown; when known, the
// file must be exactly as long as the header says.
func ParseHeader(data []byte, fileSize int64) (*Header, error) {
	if len(data) < 8 {
		return nil, invalid("file of %d bytes is too short for the 8-byte header length", len(data))
	}
	n, err := headerLen(data[:8], fileSize)
	if err != nil {
		return nil, err
	}
	if int64(len(data)-8) < n {
		return nil, invalid("header length %d but only %d bytes follow", n, len(data)-8)
	}
	return parseJSON(data[8:8+n], fileSize)
}

// ReadHeader reads and parses the header from the start of r, leaving r
// positioned at the data buffer. fileSize is the file's size or -1.
func ReadHeader(r io.Reader, fileSize int64) (*Header, error) {
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, invalid("reading header length: %v", err)
	}
	n, err := headerLen(prefix[:], fileSize)
	if err != nil {
		return nil, err
	}
	// Grow as bytes arrive rather than trusting n for one allocation.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, n); err != nil {
		return nil, invalid("reading header of %d bytes: %v", n, err)
	}
	return parseJSON(buf.Bytes(), fileSize)
}

// rawTensor is a tensor's entry as read (nil: absent or null).
type rawTensor struct {
	DType       *string
	Shape       *[]int64
	DataOffsets *[]int64
}

// stringMap reads a JSON object of strings (null reads as an empty map).
func stringMap(raw []byte) (map[string]string, error) {
	md := map[string]string{}
	if jsonscan.KindOf(raw) == jsonscan.KindNull {
		return md, nil
	}
	ms, err := jsonscan.Members(raw)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if jsonscan.KindOf(m.Raw) == jsonscan.KindNull {
			md[m.Key] = "" // as encoding/json reads it
			continue
		}
		v, err := jsonscan.String(m.Raw)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", m.Key, err)
		}
		md[m.Key] = v
	}
	return md, nil
}

// readTensor reads a tensor's entry: dtype, shape and data_offsets (others
// are ignored; null counts as absent).
func readTensor(raw []byte) (rawTensor, error) {
	var rt rawTensor
	ms, err := jsonscan.Members(raw)
	if err != nil {
		return rt, err
	}
	for _, m := range ms {
		if jsonscan.KindOf(m.Raw) == jsonscan.KindNull {
			switch m.Key {
			case "dtype":
				rt.DType = nil
			case "shape":
				rt.Shape = nil
			case "data_offsets":
				rt.DataOffsets = nil
			}
			continue
		}
		switch m.Key {
		case "dtype":
			s, err := jsonscan.String(m.Raw)
			if err != nil {
				return rt, fmt.Errorf("dtype: %w", err)
			}
			rt.DType = &s
		case "shape":
			v, err := ints(m.Raw)
			if err != nil {
				return rt, fmt.Errorf("shape: %w", err)
			}
			rt.Shape = &v
		case "data_offsets":
			v, err := ints(m.Raw)
			if err != nil {
				return rt, fmt.Errorf("data_offsets: %w", err)
			}
			rt.DataOffsets = &v
		}
	}
	return rt, nil
}

// ints reads a JSON array of integers.
func ints(raw []byte) ([]int64, error) {
	els, err := jsonscan.Elements(raw)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(els))
	for i, e := range els {
		if jsonscan.KindOf(e) == jsonscan.KindNull {
			continue // 0, as encoding/json reads it
		}
		if out[i], err = jsonscan.Int(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseJSON parses and validates the JSON header js (N bytes).
func parseJSON(js []byte, fileSize int64) (*Header, error) {
	if !utf8.Valid(js) {
		return nil, invalid("header is not valid UTF-8")
	}
	if len(js) == 0 || js[0] != '{' {
		return nil, invalid("header does not start with '{'")
	}
	trimmed := bytes.TrimRight(js, " ")
	ms, err := jsonscan.Members(trimmed)
	if err != nil {
		if errors.Is(err, jsonscan.ErrType) {
			return nil, invalid("header JSON: %v", err)
		}
		return nil, invalid("header JSON is not valid: %v", err)
	}
	h := &Header{DataOffset: 8 + int64(len(js))}
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		name := m.Key
		if seen[name] {
			return nil, invalid("duplicate key %q in header", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			md, err := stringMap(m.Raw)
			if err != nil {
				return nil, invalid("__metadata__ must map strings to strings: %v", err)
			}
			h.Metadata = md
			continue
		}
		rt, err := readTensor(m.Raw)
		if err != nil {
			return nil, invalid("tensor %q: %v", name, err)
		}
		t, err := checkTensor(name, &rt)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	slices.SortFunc(h.Tensors, func(a, b TensorInfo) int {
		switch {
		case a.Begin != b.Begin:
			return cmpInt64(a.Begin, b.Begin)
		case a.End != b.End:
			return cmpInt64(a.End, b.End)
		}
		return cmpString(a.Name, b.Name)
	})
	var end int64
	for i := range h.Tensors {
		t := &h.Tensors[i]
		if t.Begin != end {
			if t.Begin < end {
				return nil, invalid("tensor %q: data_offsets [%d, %d] overlap the previous tensor ending at %d", t.Name, t.Begin, t.End, end)
			}
			return nil, invalid("tensor %q: data_offsets [%d, %d] leave a hole after offset %d", t.Name, t.Begin, t.End, end)
		}
		end = t.End
	}
	h.DataSize = end
	if fileSize >= 0 && h.FileSize() != fileSize {
		if fileSize < h.FileSize() {
			return nil, invalid("file of %d bytes is truncated: header says %d", fileSize, h.FileSize())
		}
		return nil, invalid("file of %d bytes is longer than the %d bytes its header describes", fileSize, h.FileSize())
	}
	return h, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkTensor validates one tensor entry.
func checkTensor(name string, rt *rawTensor) (TensorInfo, error) {
	if rt.DType == nil || rt.Shape == nil || rt.DataOffsets == nil {
		return TensorInfo{}, invalid("tensor %q: needs dtype, shape and data_offsets", name)
	}
	dt := DType(*rt.DType)
	if !dt.Valid() {
		return TensorInfo{}, invalid("tensor %q: unknown dtype %q", name, *rt.DType)
	}
	offs := *rt.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, invalid("tensor %q: data_offsets has %d entries, want 2", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < begin {
		return TensorInfo{}, invalid("tensor %q: data_offsets [%d, %d] are out of order", name, begin, end)
	}
	// Number of bits, with overflow checks: the product must fit well within int64.
	nbits := uint64(dt.Bits())
	shape := make([]int, len(*rt.Shape))
	for i, d := range *rt.Shape {
		if d < 0 || d > math.MaxInt32 {
			return TensorInfo{}, invalid("tensor %q: shape dimension %d is out of range", name, d)
		}
		shape[i] = int(d)
		hi, lo := bits.Mul64(nbits, uint64(d))
		if hi != 0 || lo > math.MaxInt64/2 {
			return TensorInfo{}, invalid("tensor %q: shape %v is too large", name, *rt.Shape)
		}
		nbits = lo
	}
	if nbits%8 != 0 {
		return TensorInfo{}, invalid("tensor %q: %d bits of %s do not end on a byte boundary", name, nbits, dt)
	}
	if want := int64(nbits / 8); end-begin != want {
		return TensorInfo{}, invalid("tensor %q: data_offsets [%d, %d] hold %d bytes, but %s%v needs %d", name, begin, end, end-begin, dt, shape, want)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Begin: begin, End: end}, nil
}
