package safetensors

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParseHeader: arbitrary bytes never panic, errors wrap ErrInvalid, and
// an accepted header satisfies the format's invariants and parses the same
// through Stream.
func FuzzParseHeader(f *testing.F) {
	_, good := sample()
	f.Add(good)
	f.Add(header(`{}`, 0))
	f.Add(header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(header(`{"__metadata__":{"k":"v"},"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[0,4]}}`, 4))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int64{-1, int64(len(data))} {
			h, err := ParseHeader(data, size)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error without ErrInvalid: %v", err)
				}
				continue
			}
			var end int64
			for _, ti := range h.Tensors {
				if ti.Begin != end || ti.End < ti.Begin || !ti.DType.Valid() {
					t.Fatalf("bad tensor %+v after offset %d", ti, end)
				}
				if ti.Elements()*int64(ti.DType.Bits()) != 8*ti.Size() {
					t.Fatalf("tensor %+v: size does not match shape", ti)
				}
				end = ti.End
			}
			if end != h.DataSize {
				t.Fatalf("data size %d, tensors end at %d", h.DataSize, end)
			}
			if size < 0 {
				continue
			}
			// The whole file is here: the stream must agree, in two pieces.
			r := &recorder{}
			s := NewStream(size, r)
			mid := len(data) / 2
			if _, err := s.Write(data[:mid]); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if _, err := s.Write(data[mid:]); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("stream close: %v", err)
			}
			if !reflect.DeepEqual(r.h, h) {
				t.Fatalf("stream header differs")
			}
			for i, ti := range h.Tensors {
				if !bytes.Equal(r.data[i], data[h.DataOffset+ti.Begin:h.DataOffset+ti.End]) {
					t.Fatalf("tensor %s bytes differ", ti.Name)
				}
			}
		}
	})
}

// FuzzStream: arbitrary bytes in arbitrary splits never panic, and the
// result does not depend on the split.
func FuzzStream(f *testing.F) {
	_, good := sample()
	f.Add(good, uint8(1))
	f.Add(good, uint8(7))
	f.Add(good[:30], uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		run := func(split int) (*recorder, error) {
			r := &recorder{}
			s := NewStream(-1, r)
			for i := 0; i < len(data); i += split {
				if _, err := s.Write(data[i:min(i+split, len(data))]); err != nil {
					return r, err
				}
			}
			return r, s.Close()
		}
		a, errA := run(int(split) + 1)
		b, errB := run(len(data) + 1)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("split %d: %v; whole: %v", split, errA, errB)
		}
		if errA == nil && !reflect.DeepEqual(a, b) {
			t.Fatalf("split %d changes the result", split)
		}
	})
}
