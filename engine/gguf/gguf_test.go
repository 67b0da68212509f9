package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/c9e48c40/alibi/engine/safetensors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func allKVs() []KV {
	return []KV{
		{"general.architecture", "bloom"},
		{"t.u8", uint8(200)},
		{"t.i8", int8(-100)},
		{"t.u16", uint16(60000)},
		{"t.i16", int16(-30000)},
		{"t.u32", uint32(4000000000)},
		{"t.i32", int32(-2000000000)},
		{"t.f32", float32(1.5e-5)},
		{"t.bool", true},
		{"t.str", "héllo ✓"},
		{"t.u64", uint64(1) << 60},
		{"t.i64", int64(-1) << 60},
		{"t.f64", math.Pi},
		{"t.au8", []uint8{1, 2, 255}},
		{"t.ai8", []int8{-1, 0, 1}},
		{"t.au16", []uint16{1, 65535}},
		{"t.ai16", []int16{-2, 2}},
		{"t.au32", []uint32{7, 8, 9}},
		{"t.ai32", []int32{1, 3, 5, -6}},
		{"t.af32", []float32{0.5, -2}},
		{"t.abool", []bool{true, false, true}},
		{"t.astr", []string{"a b", "Ġthe", ""}},
		{"t.au64", []uint64{1 << 40}},
		{"t.ai64", []int64{-1 << 40}},
		{"t.af64", []float64{1e-300}},
		{"t.empty", []string{}},
		{"t.nested", []any{[]int32{1, 2}, []string{"x"}, []any{[]uint8{9}}}},
	}
}

func buildFile(t testing.TB, align int) ([]byte, [][]float32) {
	t.Helper()
	w := NewWriter()
	if align != 0 {
		if err := w.SetAlignment(align); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range allKVs() {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	vals := [][]float32{make([]float32, 3*5), make([]float32, 64*2), make([]float32, 7)}
	for i := range vals {
		for j := range vals[i] {
			vals[i][j] = float32(math.Sin(float64(i*100+j))) * 3
		}
	}
	f32, _ := EncodeFloat32s(F32, vals[0])
	q8, _ := EncodeFloat32s(Q8_0, vals[1])
	f16, _ := EncodeFloat32s(F16, vals[2])
	if err := w.AddTensor("a.weight", F32, []int{3, 5}, f32); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("b.weight", Q8_0, []int{2, 64}, q8); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensorFunc("c.bias", F16, []int{7}, func() ([]byte, error) { return f16, nil }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d", n, buf.Len())
	}
	return buf.Bytes(), vals
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []int{0, 8, 64} {
		b, vals := buildFile(t, align)
		f, err := Parse(b)
		if err != nil {
			t.Fatalf("align %d: %v", align, err)
		}
		want := allKVs()
		if align != 0 {
			want = append([]KV{{KeyAlignment, uint32(align)}}, want...)
		}
		if !reflect.DeepEqual(f.KV, want) {
			t.Errorf("align %d: KVs differ:\n got %#v\nwant %#v", align, f.KV, want)
		}
		wantAlign := align
		if align == 0 {
			wantAlign = DefaultAlignment
		}
		if f.Alignment != wantAlign || f.DataOffset%int64(wantAlign) != 0 {
			t.Errorf("alignment %d data offset %d, want alignment %d", f.Alignment, f.DataOffset, wantAlign)
		}
		a, _ := f.Tensor("a.weight")
		if !reflect.DeepEqual(a.Dims, []uint64{5, 3}) || !reflect.DeepEqual(a.Shape(), []int{3, 5}) {
			t.Errorf("dims %v shape %v: want ggml order [5 3]", a.Dims, a.Shape())
		}
		for i, name := range []string{"a.weight", "b.weight", "c.bias"} {
			ti, ok := f.Tensor(name)
			if !ok {
				t.Fatalf("missing %s", name)
			}
			if ti.Offset%uint64(wantAlign) != 0 {
				t.Errorf("%s offset %d not aligned", name, ti.Offset)
			}
			got, err := ti.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			tol := []float64{0, 3.0 / 127, 2e-3}[i] // exact, half a Q8 step of max|x|=3, f16
			for j := range got {
				if d := math.Abs(float64(got[j] - vals[i][j])); d > tol {
					t.Fatalf("%s[%d] = %v, want %v (tol %g)", name, j, got[j], vals[i][j], tol)
				}
			}
		}
		if s, _ := f.String("general.architecture"); s != "bloom" {
			t.Errorf("String = %q", s)
		}
		if u, ok := f.Uint("t.u32"); !ok || u != 4000000000 {
			t.Errorf("Uint = %d %v", u, ok)
		}
		if x, ok := f.Float("t.f64"); !ok || x != math.Pi {
			t.Errorf("Float = %v %v", x, ok)
		}
		if _, ok := f.Uint("t.i8"); ok {
			t.Error("Uint accepted a negative value")
		}
	}
}

func TestHeaderBytes(t *testing.T) {
	w := NewWriter()
	if err := w.AddKV("k", uint32(7)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("x", F32, []int{2, 1}, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	le := binary.LittleEndian
	want.WriteString("GGUF")
	_ = binary.Write(&want, le, uint32(3))
	_ = binary.Write(&want, le, uint64(1)) // tensors
	_ = binary.Write(&want, le, uint64(1)) // kvs
	_ = binary.Write(&want, le, uint64(1))
	want.WriteString("k")
	_ = binary.Write(&want, le, uint32(TypeUint32))
	_ = binary.Write(&want, le, uint32(7))
	_ = binary.Write(&want, le, uint64(1))
	want.WriteString("x")
	_ = binary.Write(&want, le, uint32(2))
	_ = binary.Write(&want, le, []uint64{1, 2}) // reversed
	_ = binary.Write(&want, le, uint32(F32))
	_ = binary.Write(&want, le, uint64(0))
	for want.Len()%32 != 0 {
		want.WriteByte(0)
	}
	want.Write(make([]byte, 32)) // 8 data bytes + padding to 32
	if !bytes.Equal(buf.Bytes(), want.Bytes()) {
		t.Fatalf("bytes differ:\n got %x\nwant %x", buf.Bytes(), want.Bytes())
	}
}

func TestF16(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff},
		{65520, 0x7c00}, // rounds up to Inf
		{float32(math.Inf(1)), 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{5.960464477539063e-08, 0x0001}, // smallest subnormal
		{2.9802322387695312e-08, 0},     // half of it: ties to even -> 0
		{4.470348358154297e-08, 0x0001}, // 0.75 ulp -> 1
		{6.097555160522461e-05, 0x03ff}, // largest subnormal
		{6.103515625e-05, 0x0400},       // smallest normal
		{1.0009765625, 0x3c01},
		{1.00048828125, 0x3c00}, // tie -> even
		{1.00146484375, 0x3c02}, // tie -> even (up)
		{0.333251953125, 0x3555},
	}
	for _, c := range cases {
		if got := safetensors.F32ToF16(c.f); got != c.h {
			t.Errorf("safetensors.F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if h := safetensors.F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN -> %#04x", h)
	}
	// every finite half round-trips exactly
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 {
			continue
		}
		f := safetensors.F16ToF32(uint16(h))
		if back := safetensors.F32ToF16(f); back != uint16(h) {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, back)
		}
	}
}

func TestQ8_0(t *testing.T) {
	src := make([]float32, 64)
	for i := range src {
		src[i] = float32(i-20) * 0.25
	}
	src[40] = 0
	b := QuantizeQ8_0(nil, src)
	if len(b) != 2*34 {
		t.Fatalf("len %d", len(b))
	}
	// block 0: max |x| = 5 (i=0), d = 5/127
	d := safetensors.F16ToF32(binary.LittleEndian.Uint16(b))
	if want := safetensors.F16ToF32(safetensors.F32ToF16(5.0 / 127)); d != want {
		t.Fatalf("d = %v, want %v", d, want)
	}
	if q := int8(b[2]); q != -127 {
		t.Errorf("q[0] = %d, want -127", q)
	}
	// x = -4.75 -> -4.75*127/5 = -120.65 -> -121
	if q := int8(b[2+1]); q != -121 {
		t.Errorf("q[1] = %d, want -121", q)
	}
	out := make([]float32, 64)
	DequantizeQ8_0(out, b)
	for i := range out {
		if math.Abs(float64(out[i]-src[i])) > 10.75/127/2*1.01 {
			t.Fatalf("out[%d] = %v, src %v", i, out[i], src[i])
		}
	}
	// all-zero block: d = 0, q = 0
	z := QuantizeQ8_0(nil, make([]float32, 32))
	if !bytes.Equal(z, make([]byte, 34)) {
		t.Errorf("zero block = %x", z)
	}
	// half-way rounds away from zero: max 127 -> d = 1, 2.5 -> 3, -2.5 -> -3
	h := make([]float32, 32)
	h[0], h[1], h[2] = 127, 2.5, -2.5
	hb := QuantizeQ8_0(nil, h)
	if int8(hb[3]) != 3 || int8(hb[4]) != -3 {
		t.Errorf("round half away: got %d %d", int8(hb[3]), int8(hb[4]))
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter()
	cases := []struct {
		name string
		err  error
	}{
		{"dup key", func() error { _ = w.AddKV("a", uint8(1)); return w.AddKV("a", uint8(2)) }()},
		{"empty key", w.AddKV("", uint8(1))},
		{"bad type", w.AddKV("b", 3)},
		{"bad utf8", w.AddKV("c", "\xff")},
		{"nested non-array", w.AddKV("d", []any{uint8(1)})},
		{"bad alignment kv", w.AddKV(KeyAlignment, uint32(3))},
		{"bad alignment", w.SetAlignment(12)},
		{"long name", w.AddTensor(strings.Repeat("n", 64), F32, []int{1}, make([]byte, 4))},
		{"no dims", w.AddTensor("x", F32, nil, nil)},
		{"5 dims", w.AddTensor("x", F32, []int{1, 1, 1, 1, 1}, make([]byte, 4))},
		{"zero dim", w.AddTensor("x", F32, []int{0}, nil)},
		{"size", w.AddTensor("x", F32, []int{2}, make([]byte, 4))},
		{"q8 row", w.AddTensor("x", Q8_0, []int{2, 16}, make([]byte, 34))},
		{"unknown type", w.AddTensor("x", GGMLType(99), []int{1}, make([]byte, 4))},
		{"dup tensor", func() error {
			_ = w.AddTensor("y", F32, []int{1}, make([]byte, 4))
			return w.AddTensor("y", F32, []int{1}, make([]byte, 4))
		}()},
	}
	for _, c := range cases {
		if c.err == nil || !strings.HasPrefix(c.err.Error(), "gguf: ") {
			t.Errorf("%s: err = %v", c.name, c.err)
		}
	}
	w2 := NewWriter()
	_ = w2.AddTensorFunc("z", F32, []int{2}, func() ([]byte, error) { return make([]byte, 4), nil })
	if _, err := w2.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("short fill accepted")
	}
}

// header builds raw GGUF bytes for reader error tests.
type header struct{ bytes.Buffer }

func (h *header) u32(v uint32) *header { _ = binary.Write(h, binary.LittleEndian, v); return h }
func (h *header) u64(v uint64) *header { _ = binary.Write(h, binary.LittleEndian, v); return h }
func (h *header) str(s string) *header { h.u64(uint64(len(s))); h.WriteString(s); return h }
func start(nt, nkv uint64) *header {
	h := &header{}
	h.WriteString("GGUF")
	return h.u32(3).u64(nt).u64(nkv)
}

func tensorInfo(h *header, name string, dims []uint64, typ GGMLType, off uint64) *header {
	h.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		h.u64(d)
	}
	return h.u32(uint32(typ)).u64(off)
}

func TestReaderErrors(t *testing.T) {
	good, _ := buildFile(t, 0)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"magic", append([]byte("GGUX"), good[4:]...), "bad magic"},
		{"version 1", start(0, 0).Bytes()[:4], "truncated"},
		{"v1", func() []byte { h := &header{}; h.WriteString("GGUF"); return h.u32(1).u64(0).u64(0).Bytes() }(), "version 1"},
		{"big endian", func() []byte { h := &header{}; h.WriteString("GGUF"); return h.u32(3 << 24).u64(0).u64(0).Bytes() }(), "byte-swapped"},
		{"huge counts", start(1<<40, 0).Bytes(), "exceed"},
		{"dup key", start(0, 2).str("a").u32(uint32(TypeUint8)).u64(0).Bytes()[:0], "truncated"},
		{"dup key2", func() []byte {
			h := start(0, 2).str("a").u32(uint32(TypeUint8))
			h.WriteByte(1)
			h.str("a").u32(uint32(TypeUint8))
			h.WriteByte(2)
			return h.Bytes()
		}(), "duplicate metadata key"},
		{"bad value type", start(0, 1).str("a").u32(13).Bytes(), "unknown value type"},
		{"bad bool", func() []byte { h := start(0, 1).str("a").u32(uint32(TypeBool)); h.WriteByte(2); return h.Bytes() }(), "bool value"},
		{"huge string", start(0, 1).str("a").u32(uint32(TypeString)).u64(1 << 40).Bytes(), "exceeds the limit"},
		{"short string", start(0, 1).str("a").u32(uint32(TypeString)).u64(100).Bytes(), "truncated"},
		{"huge array", start(0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeUint8)).u64(1 << 40).Bytes(), "exceeds the limit"},
		{"short array", start(0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeUint64)).u64(1000).Bytes(), "truncated"},
		{"deep array", func() []byte {
			h := start(0, 1).str("a").u32(uint32(TypeArray))
			for i := 0; i < 10; i++ {
				h.u32(uint32(TypeArray)).u64(1)
			}
			return h.Bytes()
		}(), "nested deeper"},
		{"alignment type", start(0, 1).str(KeyAlignment).u32(uint32(TypeUint64)).u64(32).Bytes(), "power-of-two"},
		{"alignment value", start(0, 1).str(KeyAlignment).u32(uint32(TypeUint32)).u32(48).Bytes(), "power-of-two"},
		{"0 dims", tensorInfo(start(1, 0), "t", nil, F32, 0).Bytes(), "dims"},
		{"5 dims", tensorInfo(start(1, 0), "t", []uint64{1, 1, 1, 1, 1}, F32, 0).Bytes(), "dims"},
		{"zero dim", tensorInfo(start(1, 0), "t", []uint64{0}, F32, 0).Bytes(), "dim 0 = 0"},
		{"overflow", tensorInfo(start(1, 0), "t", []uint64{1 << 40, 1 << 40}, F32, 0).Bytes(), "too many elements"},
		{"unknown type", tensorInfo(start(1, 0), "t", []uint64{4}, GGMLType(99), 0).Bytes(), "unknown type"},
		{"q8 row", tensorInfo(start(1, 0), "t", []uint64{16}, Q8_0, 0).Bytes(), "block size"},
		{"unaligned", tensorInfo(start(1, 0), "t", []uint64{4}, F32, 4).Bytes(), "alignment"},
		{"empty name", tensorInfo(start(1, 0), "", []uint64{4}, F32, 0).Bytes(), "length must be"},
		{"long name", tensorInfo(start(1, 0), strings.Repeat("x", 64), []uint64{4}, F32, 0).Bytes(), "length must be"},
		{"dup tensor", tensorInfo(tensorInfo(start(2, 0), "t", []uint64{4}, F32, 0), "t", []uint64{4}, F32, 32).Bytes(), "duplicate tensor"},
		{"overlap", tensorInfo(tensorInfo(start(2, 0), "t", []uint64{16}, F32, 0), "u", []uint64{4}, F32, 32).Bytes(), "overlaps"},
		{"data past end", func() []byte {
			h := tensorInfo(start(1, 0), "t", []uint64{16}, F32, 0)
			for h.Len()%32 != 0 {
				h.WriteByte(0)
			}
			h.Write(make([]byte, 63))
			return h.Bytes()
		}(), "truncated file"},
	}
	for _, c := range cases {
		_, err := Parse(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "gguf: ") {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v wraps neither ErrInvalid nor ErrUnsupported", c.name, err)
		}
	}
	// every strict prefix of a valid file is rejected
	for n := 0; n < len(good); n++ {
		if _, err := Parse(good[:n]); err == nil {
			t.Fatalf("prefix of %d/%d bytes accepted", n, len(good))
		}
	}
}
