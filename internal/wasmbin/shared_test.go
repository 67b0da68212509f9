package wasmbin

import (
	"bytes"
	"strings"
	"testing"
)

// module assembles a small module: (type (func)), an optional function
// import, a memory of minPages, and an export "mem" of memory 0.
func module(withImport bool, minPages byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 0, 5, 4, 'n', 'a', 'm', 'e') // a custom section first
	m = append(m, 1, 4, 1, 0x60, 0, 0)         // type section: one func type () -> ()
	if withImport {
		imp := []byte{1}
		imp = appendName(imp, "gojs")
		imp = appendName(imp, "f")
		imp = append(imp, 0x00, 0) // func of type 0
		m = append(m, 2, byte(len(imp)))
		m = append(m, imp...)
	}
	m = append(m, 5, 3, 1, 0, minPages) // memory section: 1 memory, no maximum
	exp := []byte{1}
	exp = appendName(exp, "mem")
	exp = append(exp, 0x02, 0) // memory 0
	m = append(m, 7, byte(len(exp)))
	return append(m, exp...)
}

func TestSharedMemory(t *testing.T) {
	for _, tc := range []struct {
		name       string
		withImport bool
		wantCount  byte
	}{{"with imports", true, 2}, {"no import section", false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			out, min, err := SharedMemory(module(tc.withImport, 17), "env", "memory", 1000)
			if err != nil {
				t.Fatal(err)
			}
			if min != 17 {
				t.Fatalf("min pages %d, want 17", min)
			}
			secs, err := sections(out)
			if err != nil {
				t.Fatal(err)
			}
			var ids []byte
			var imp []byte
			for _, s := range secs {
				ids = append(ids, s.id)
				if s.id == secImport {
					imp = s.body
				}
			}
			if !bytes.Equal(ids, []byte{0, 1, 2, 7, 0}) {
				t.Fatalf("section ids %v, want [0 1 2 7 0] (memory section gone, import section in order, limits at the end)", ids)
			}
			lim := secs[len(secs)-1].body
			wantLim := appendName(nil, LimitsSection)
			wantLim = append(wantLim, 17, 0, 0, 0, 0xe8, 3, 0, 0)
			if !bytes.Equal(lim, wantLim) {
				t.Fatalf("limits section % x, want % x", lim, wantLim)
			}
			if imp[0] != tc.wantCount {
				t.Fatalf("%d imports, want %d", imp[0], tc.wantCount)
			}
			want := appendName(nil, "env")
			want = appendName(want, "memory")
			want = append(want, 0x02, 0x03, 17, 0xe8, 0x07) // shared, min 17, max 1000
			if !bytes.HasSuffix(imp, want) {
				t.Fatalf("import section % x does not end with the shared memory import % x", imp, want)
			}
			// The export section is byte for byte the same.
			exp := module(tc.withImport, 17)
			if !bytes.Contains(out, exp[len(exp)-9:]) {
				t.Fatal("export section changed")
			}
		})
	}
}

func TestSharedMemoryErrors(t *testing.T) {
	good := module(true, 3)
	noMem := bytes.Replace(good, []byte{5, 3, 1, 0, 3}, nil, 1)
	shared, _, err := SharedMemory(good, "env", "memory", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mod  []byte
		max  uint64
		want string
	}{
		{"not wasm", []byte("hello world"), 100, "not a WebAssembly module"},
		{"version 2", append([]byte("\x00asm\x02\x00\x00\x00"), good[8:]...), 100, "version 2"},
		{"truncated", good[:len(good)-3], 100, "past the end"},
		{"no memory", noMem, 100, "defines no memory"},
		{"already shared", shared, 100, "already imports a memory"},
		{"two memories", append(append([]byte(nil), good...), 5, 3, 1, 0, 1), 100, "two memory sections"},
		{"too small a maximum", good, 2, "needs 3 pages"},
		{"maximum past 4 GiB", good, MaxPages + 1, "outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := SharedMemory(tc.mod, "env", "memory", tc.max)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// importer assembles a module that imports a function and a plain memory
// of minPages, as kernels.wasm imports the Go instance's memory.
func importer(minPages byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 1, 4, 1, 0x60, 0, 0)
	imp := []byte{2}
	imp = appendName(imp, "gojs")
	imp = appendName(imp, "f")
	imp = append(imp, 0x00, 0)
	imp = appendName(imp, "env")
	imp = appendName(imp, "mem")
	imp = append(imp, 0x02, 0x00, minPages)
	m = append(m, 2, byte(len(imp)))
	return append(m, imp...)
}

func TestShareImportedMemory(t *testing.T) {
	got, err := ShareImportedMemory(importer(5), 300)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(got, []byte{'m', 'e', 'm', 0x02, 0x03, 5, 0xac, 0x02}) {
		t.Fatalf("memory import not shared with min 5, max 300: % x", got)
	}
	if _, err := sections(got); err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  []byte
		max  uint64
		want string
	}{
		{"already shared", got, 300, "already shared"},
		{"no memory import", module(true, 5), 300, "imports no memory"},
		{"maximum too small", importer(5), 4, "needs 5 pages"},
		{"truncated import", importer(5)[:20], 300, "past the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ShareImportedMemory(tc.mod, tc.max); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzSharedMemory(f *testing.F) {
	f.Add(module(true, 1))
	f.Add(module(false, 40))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x80"))
	f.Add(importer(3))
	f.Fuzz(func(t *testing.T, mod []byte) {
		out, min, err := SharedMemory(mod, "env", "memory", MaxPages)
		if err != nil {
			return
		}
		if min > MaxPages {
			t.Fatalf("min %d past the maximum", min)
		}
		// The result is itself well formed and has no memory of its own.
		secs, err := sections(out)
		if err != nil {
			t.Fatalf("output does not parse: %v", err)
		}
		for _, s := range secs {
			if s.id == secMemory {
				t.Fatal("output still defines a memory")
			}
		}
		if _, _, err := SharedMemory(out, "env", "memory", MaxPages); err == nil {
			t.Fatal("a second rewrite succeeded")
		}
		// Its memory import can be checked and is already shared.
		if _, err := ShareImportedMemory(out, MaxPages); err == nil {
			t.Fatal("ShareImportedMemory accepted an already shared import")
		}
		ShareImportedMemory(mod, MaxPages) // never panics
	})
}
