package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestF16Exhaustive checks every binary16 value against its definition and
// the round trip through F32ToF16.
func TestF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToF32(h)
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		e, m := int(h>>10)&0x1f, float64(h&0x3ff)
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(int(sign))
		case e == 0x1f:
			if !math.IsNaN(float64(f)) {
				t.Fatalf("%#04x: %v, want NaN", h, f)
			}
			continue
		case e == 0:
			want = sign * m * math.Pow(2, -24)
		default:
			want = sign * (1 + m/1024) * math.Pow(2, float64(e-15))
		}
		if float64(f) != want || math.Signbit(float64(f)) != (sign < 0) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, f, want)
		}
		if back := F32ToF16(f); back != h {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

// TestDecodeF16Table checks the lookup path of DecodeFloat32 bit for bit.
func TestDecodeF16Table(t *testing.T) {
	src := make([]byte, 2<<16)
	for i := 0; i < 1<<16; i++ {
		binary.LittleEndian.PutUint16(src[2*i:], uint16(i))
	}
	dst := make([]float32, 1<<16)
	if err := DecodeFloat32(dst, src, F16); err != nil {
		t.Fatal(err)
	}
	for i, f := range dst {
		if math.Float32bits(f) != math.Float32bits(F16ToF32(uint16(i))) {
			t.Fatalf("%#04x: table %#08x, direct %#08x", i, math.Float32bits(f), math.Float32bits(F16ToF32(uint16(i))))
		}
	}
}

// TestDecodeF32Bits checks the copy path of DecodeFloat32 bit for bit
// (NaN payloads, signed zeros, subnormals) against little-endian decoding,
// at lengths around the vector and word sizes.
func TestDecodeF32Bits(t *testing.T) {
	pats := []uint32{0, 0x80000000, 1, 0x807fffff, 0x7f800000, 0xff800001, 0x7fc00001, 0x3f800000, 0xdeadbeef}
	for _, n := range []int{0, 1, 3, 4, 7, 33} {
		src := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(src[4*i:], pats[i%len(pats)]^uint32(i<<8))
		}
		dst := make([]float32, n)
		if err := DecodeFloat32(dst, src, F32); err != nil {
			t.Fatal(err)
		}
		for i, f := range dst {
			if got, want := math.Float32bits(f), binary.LittleEndian.Uint32(src[4*i:]); got != want {
				t.Fatalf("n=%d, element %d: %#08x, want %#08x", n, i, got, want)
			}
		}
	}
}

// TestF32ToF16Rounding checks round-to-nearest-even at halfway points,
// overflow and underflow.
func TestF32ToF16Rounding(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00},
		{1 + 1.0/2048, 0x3c00},             // halfway between 1 and next: even (down)
		{1 + 3.0/2048, 0x3c02},             // halfway, odd below: up
		{1 + 1.0/2048 + 1.0/65536, 0x3c01}, // above halfway
		{65504, 0x7bff},
		{65520, 0x7c00}, // rounds to Inf
		{1e10, 0x7c00},
		{-1e10, 0xfc00},
		{float32(math.Pow(2, -24)), 0x0001},
		{float32(math.Pow(2, -25)), 0x0000},                  // halfway to the smallest subnormal: even
		{float32(math.Pow(2, -25) * 1.5), 0x0001},            // above halfway
		{float32(math.Pow(2, -14) * (1 - 1.0/2048)), 0x0400}, // rounds up into the normals
		{float32(math.Inf(1)), 0x7c00},
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if h := F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN -> %#04x", h)
	}
}

func TestBF16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToF32(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BF16ToF32(%#04x) bits %#08x", h, math.Float32bits(f))
		}
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := F32ToBF16(f); back != h {
			t.Fatalf("F32ToBF16(BF16ToF32(%#04x)) = %#04x", h, back)
		}
	}
	cases := []struct {
		bits uint32
		want uint16
	}{
		{0x3f808000, 0x3f80}, // halfway, even below: down
		{0x3f818000, 0x3f82}, // halfway, odd below: up
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf
	}
	for _, c := range cases {
		if got := F32ToBF16(math.Float32frombits(c.bits)); got != c.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", c.bits, got, c.want)
		}
	}
}

func sample() ([]Tensor, []byte) {
	a, _ := EncodeFloat32([]float32{1, 2, 3, 4, 5, 6}, F32)
	b, _ := EncodeFloat32([]float32{-1, 0.5}, F16)
	c, _ := EncodeFloat32([]float32{7}, BF16)
	ts := []Tensor{
		{Name: "a", DType: F32, Shape: []int{2, 3}, Data: a},
		{Name: "b", DType: F16, Shape: []int{2}, Data: b},
		{Name: "scalar", DType: BF16, Shape: nil, Data: c},
		{Name: "empty", DType: F32, Shape: []int{0, 4}, Data: nil},
	}
	var buf bytes.Buffer
	if err := Write(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}
	return ts, buf.Bytes()
}

func TestWriteParse(t *testing.T) {
	ts, file := sample()
	n := binary.LittleEndian.Uint64(file)
	if n%8 != 0 {
		t.Errorf("header length %d not 8-aligned", n)
	}
	h, err := ParseHeader(file, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata["format"] != "pt" || len(h.Tensors) != 4 || h.FileSize() != int64(len(file)) {
		t.Fatalf("header %+v", h)
	}
	for _, want := range ts {
		got := h.Lookup(want.Name)
		if got == nil {
			t.Fatalf("tensor %s missing", want.Name)
		}
		data := file[h.DataOffset+got.Begin : h.DataOffset+got.End]
		if got.DType != want.DType || !bytes.Equal(data, want.Data) || got.Elements() != int64(len(want.Data)*8/want.DType.Bits()) {
			t.Errorf("tensor %s: %+v", want.Name, got)
		}
	}
	if h.Lookup("scalar").Elements() != 1 || h.Lookup("empty").Size() != 0 || h.Lookup("nope") != nil {
		t.Error("Elements/Size/Lookup")
	}
	h2, err := ReadHeader(bytes.NewReader(file), int64(len(file)))
	if err != nil || !reflect.DeepEqual(h, h2) {
		t.Errorf("ReadHeader: %v", err)
	}
	// Write rejects inconsistent input.
	bad := []Tensor{{Name: "x", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}}
	if err := Write(&bytes.Buffer{}, bad, nil); err == nil {
		t.Error("Write accepted a size mismatch")
	}
	if err := Write(&bytes.Buffer{}, []Tensor{ts[0], ts[0]}, nil); err == nil {
		t.Error("Write accepted a duplicate name")
	}
	if err := Write(&bytes.Buffer{}, []Tensor{{Name: "x", DType: "F7", Data: nil}}, nil); err == nil {
		t.Error("Write accepted an unknown dtype")
	}
}

// header builds a file from raw header JSON and a data buffer.
func header(js string, data int) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	return append(append(out, js...), make([]byte, data)...)
}

func TestParseHeaderBad(t *testing.T) {
	_, good := sample()
	cases := []struct {
		name     string
		data     []byte
		size     int64
		contains string
	}{
		{"short", []byte{1, 2, 3}, -1, "too short"},
		{"absurd length", binary.LittleEndian.AppendUint64(nil, 1<<40), -1, "exceeds the limit"},
		{"just over the cap", binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), -1, "exceeds the limit"},
		{"length beyond file", binary.LittleEndian.AppendUint64(nil, 1000), 500, "exceeds the file size 500"},
		{"length beyond data", binary.LittleEndian.AppendUint64(nil, 1000), -1, "only 0 bytes follow"},
		{"not an object", header(`["a"]`, 0), -1, "does not start with '{'"},
		{"leading space", header(` {}`, 0), -1, "does not start with '{'"},
		{"invalid JSON", header(`{"a":}`, 0), -1, "not valid"},
		{"trailing garbage", header(`{}x`, 0), -1, "not valid"},
		{"invalid UTF-8", header("{\"\xff\":1}", 0), -1, "UTF-8"},
		{"unknown dtype", header(`{"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}`, 4), -1, `unknown dtype "F12"`},
		{"missing field", header(`{"a":{"dtype":"F32","shape":[1]}}`, 4), -1, "needs dtype, shape and data_offsets"},
		{"negative dim", header(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), -1, "out of range"},
		{"fractional dim", header(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), -1, "tensor \"a\""},
		{"size mismatch", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), -1, "needs 8"},
		{"huge shape", header(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}`, 4), -1, "too large"},
		{"offsets reversed", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), -1, "out of order"},
		{"three offsets", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4), -1, "has 3 entries"},
		{"overlap", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), -1, "overlap"},
		{"hole", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), -1, "hole"},
		{"not starting at 0", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), -1, "hole"},
		{"duplicate", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), -1, `duplicate key "a"`},
		{"metadata not strings", header(`{"__metadata__":{"x":[1]}}`, 0), -1, "__metadata__"},
		{"sub-byte misaligned", header(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2), -1, "byte boundary"},
		{"file too short", good[:len(good)-1], int64(len(good) - 1), "truncated"},
		{"file too long", append(append([]byte(nil), good...), 0), int64(len(good) + 1), "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader(tc.data, tc.size)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %q, want ErrInvalid containing %q", err, tc.contains)
			}
		})
	}
	// Valid edge cases: empty header object, padding, F4 on a byte boundary.
	for _, js := range []string{`{}`, `{}      `, `{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}`} {
		if _, err := ParseHeader(header(js, 0+2*strings.Count(js, "F4")), -1); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
}

type recorder struct {
	h    *Header
	data map[int][]byte
	err  error // returned from Data once set
}

func (r *recorder) Header(h *Header) error { r.h = h; r.data = map[int][]byte{}; return nil }
func (r *recorder) Data(i int, off int64, p []byte) error {
	if r.err != nil {
		return r.err
	}
	if int64(len(r.data[i])) != off {
		return fmt.Errorf("tensor %d: offset %d after %d bytes", i, off, len(r.data[i]))
	}
	r.data[i] = append(r.data[i], p...)
	return nil
}

// TestStreamSplits feeds a file in every split size and checks the tensors.
func TestStreamSplits(t *testing.T) {
	ts, file := sample()
	for split := 1; split <= len(file)+1; split++ {
		r := &recorder{}
		s := NewStream(-1, r)
		for i := 0; i < len(file); i += split {
			if _, err := s.Write(file[i:min(i+split, len(file))]); err != nil {
				t.Fatalf("split %d: %v", split, err)
			}
		}
		if err := s.Close(); err != nil || !s.Done() {
			t.Fatalf("split %d: close %v", split, err)
		}
		for _, want := range ts {
			i := -1
			for j := range r.h.Tensors {
				if r.h.Tensors[j].Name == want.Name {
					i = j
				}
			}
			if !bytes.Equal(r.data[i], want.Data) {
				t.Fatalf("split %d: tensor %s: %v, want %v", split, want.Name, r.data[i], want.Data)
			}
		}
	}
}

func TestStreamErrors(t *testing.T) {
	_, file := sample()
	// Truncated at each region.
	for _, n := range []int{0, 4, 8, 20, len(file) - 1} {
		s := NewStream(-1, &recorder{})
		s.Write(file[:n])
		err := s.Close()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("truncated at %d: %v", n, err)
		}
	}
	// Extra bytes.
	s := NewStream(-1, &recorder{})
	if _, err := s.Write(append(append([]byte(nil), file...), 1)); err == nil || !strings.Contains(err.Error(), "after the end") {
		t.Errorf("extra byte: %v", err)
	}
	// Errors are sticky; handler errors come back unchanged.
	boom := errors.New("boom")
	s = NewStream(int64(len(file)), &recorder{err: boom})
	if _, err := s.Write(file); err != boom {
		t.Errorf("handler error: %v", err)
	}
	if _, err := s.Write(file); err != boom || s.Close() != boom {
		t.Error("error not sticky")
	}
	// Known size: a bad header length fails on the first 8 bytes.
	s = NewStream(10, &recorder{})
	if _, err := s.Write(file[:8]); err == nil {
		t.Error("header length beyond a known size accepted")
	}
	// Write after Close.
	s = NewStream(-1, &recorder{})
	s.Write(file)
	s.Close()
	if _, err := s.Write([]byte{1}); err == nil {
		t.Error("write after close accepted")
	}
}

func TestDecodeEncode(t *testing.T) {
	v := []float32{0, -0.5, 1.5, 65504, 3.14159}
	for _, dt := range []DType{F32, F16, BF16} {
		b, err := EncodeFloat32(v, dt)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(v))
		if err := DecodeFloat32(out, b, dt); err != nil {
			t.Fatal(err)
		}
		for i := range v {
			if math.Abs(float64(out[i]-v[i])) > math.Abs(float64(v[i]))/128 {
				t.Errorf("%s: %v -> %v", dt, v[i], out[i])
			}
		}
		if err := DecodeFloat32(out, b[:len(b)-1], dt); err == nil {
			t.Errorf("%s: short input accepted", dt)
		}
	}
	if _, err := EncodeFloat32(v, I8); err == nil {
		t.Error("encode I8 accepted")
	}
	if err := DecodeFloat32(make([]float32, 1), []byte{1}, I8); err == nil {
		t.Error("decode I8 accepted")
	}
}

// TestParseHeaderJSONForms: JSON forms the header reader must read as
// encoding/json reads them into the header's types (it did before jsonscan).
func TestParseHeaderJSONForms(t *testing.T) {
	for _, c := range []struct {
		name, js string
		data     int
		md       map[string]string
		ok       bool
	}{
		{"null metadata", `{"__metadata__":null,"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4, map[string]string{}, true},
		{"null metadata value", `{"__metadata__":{"a":null,"b":"x"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4, map[string]string{"a": "", "b": "x"}, true},
		{"unknown and null keys", `{"w":{"x":{"y":[1]},"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"z":null}}  `, 16, nil, true},
		{"last of duplicate keys", `{"w":{"dtype":"F32","shape":[9],"shape":[1],"data_offsets":[0,4]}}`, 4, nil, true},
		{"escaped name", `{"\u0077":{"dtype":"F\u0033\u0032","shape":[1],"data_offsets":[0,4]}}`, 4, nil, true},
		{"a later null clears", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"dtype":null}}`, 4, nil, false},
		{"fractional shape", `{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, 4, nil, false},
	} {
		h, err := ParseHeader(header(c.js, c.data), int64(8+len(c.js)+c.data))
		if !c.ok {
			if err == nil {
				t.Errorf("%s: accepted", c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if w := h.Lookup("w"); w == nil || w.DType != F32 || w.Size() != int64(c.data) {
			t.Errorf("%s: tensor w %+v", c.name, w)
		}
		if c.md != nil && !reflect.DeepEqual(h.Metadata, c.md) {
			t.Errorf("%s: metadata %v, want %v", c.name, h.Metadata, c.md)
		}
	}
}
