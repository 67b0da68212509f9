package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Tensor is one tensor to write: its little-endian bytes in row-major order.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Write writes a safetensors file holding tensors in the given order (their
// byte ranges follow that order) and the optional metadata. The header is
// padded with spaces to a multiple of 8 bytes, as the reference writer does.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
	}
	if metadata != nil {
		md, err := json.Marshal(metadata)
		if err != nil {
			return fmt.Errorf("safetensors: write metadata: %w", err)
		}
		sep()
		hdr.WriteString(`"__metadata__":`)
		hdr.Write(md)
	}
	seen := map[string]bool{}
	var off int64
	for _, t := range tensors {
		if t.Name == "__metadata__" || seen[t.Name] {
			return fmt.Errorf("safetensors: write: duplicate or reserved tensor name %q", t.Name)
		}
		seen[t.Name] = true
		info := TensorInfo{Name: t.Name, DType: t.DType, Shape: t.Shape}
		if !t.DType.Valid() {
			return fmt.Errorf("safetensors: write: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		nbits := int64(t.DType.Bits()) * info.Elements()
		if nbits%8 != 0 || nbits/8 != int64(len(t.Data)) {
			return fmt.Errorf("safetensors: write: tensor %q: %d bytes of data for %s%v", t.Name, len(t.Data), t.DType, t.Shape)
		}
		name, _ := json.Marshal(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sh, _ := json.Marshal(shape)
		sep()
		fmt.Fprintf(&hdr, `%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, sh, off, off+int64(len(t.Data)))
		off += int64(len(t.Data))
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(hdr.Len()))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: write tensor %q: %w", t.Name, err)
		}
	}
	return nil
}
