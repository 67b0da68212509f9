package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// rewrite writes a parsed file back with the Writer (same KVs in order, same
// tensors and data). ok is false when the file holds something the writer
// refuses by design (a metadata string that is not UTF-8).
func rewrite(t *testing.T, f *File) (out []byte, ok bool) {
	w := NewWriter()
	for _, kv := range f.KV {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			if errors.Is(err, ErrInvalid) {
				return nil, false
			}
			t.Fatalf("AddKV(%q): %v", kv.Key, err)
		}
	}
	for _, ti := range f.Tensors {
		if err := w.AddTensor(ti.Name, ti.Type, ti.Shape(), ti.Data); err != nil {
			t.Fatalf("AddTensor(%q) of a parsed file: %v", ti.Name, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), true
}

// FuzzParse: Parse never panics, fails only with the package's error kinds,
// and whatever it accepts survives write -> parse -> write byte for byte.
func FuzzParse(f *testing.F) {
	good, _ := buildFile(f, 0)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error of unexpected kind: %v", err)
			}
			return
		}
		once, ok := rewrite(t, file)
		if !ok {
			return
		}
		f2, err := Parse(once)
		if err != nil {
			t.Fatalf("re-parsing a written file: %v", err)
		}
		twice, _ := rewrite(t, f2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("write(parse(write(parse(x)))) differs from write(parse(x))")
		}
		if len(f2.Tensors) != len(file.Tensors) || len(f2.KV) != len(file.KV) {
			t.Fatalf("counts changed: %d/%d tensors, %d/%d kvs", len(f2.Tensors), len(file.Tensors), len(f2.KV), len(file.KV))
		}
		for i := range file.Tensors {
			if !bytes.Equal(file.Tensors[i].Data, f2.Tensors[i].Data) {
				t.Fatalf("tensor %q data changed", file.Tensors[i].Name)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzParse when GGUF_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("GGUF_WRITE_SEEDS") != "1" {
		t.Skip("set GGUF_WRITE_SEEDS=1 to regenerate the checked-in fuzz seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	all, _ := buildFile(t, 0)
	al64, _ := buildFile(t, 64)
	empty := NewWriter()
	_ = empty.AddKV("general.architecture", "bloom")
	var eb bytes.Buffer
	_, _ = empty.WriteTo(&eb)
	seeds := map[string][]byte{
		"all-types":      all,
		"alignment-64":   al64,
		"no-tensors":     eb.Bytes(),
		"truncated":      all[:len(all)/2],
		"bad-offset":     tensorInfo(start(1, 0), "t", []uint64{4}, F32, 4).Bytes(),
		"nested-arrays":  start(0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1).u32(uint32(TypeUint8)).u64(2).Bytes(),
		"two-tensors-q8": tensorInfo(tensorInfo(start(2, 0), "a", []uint64{32}, Q8_0, 0), "b", []uint64{2}, F16, 64).Bytes(),
	}
	for name, b := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
