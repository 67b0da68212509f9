// Package wasmbin edits WebAssembly binaries at build time: it turns the
// memory a module defines into an imported shared memory, so that the Go
// engine's heap can be a SharedArrayBuffer that kernel threads (extra Web
// Workers running the SIMD128 kernels) read and write directly.
package wasmbin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxPages is the largest wasm32 memory, in 64 KiB pages (4 GiB).
const MaxPages = 65536

// LimitsSection names the custom section SharedMemory appends: the
// imported memory's minimum and maximum pages, two little-endian uint32.
const LimitsSection = "alibi.shared_memory"

// Section ids used here.
const (
	secCustom = 0
	secImport = 2
	secMemory = 5
)

type section struct {
	id   byte
	body []byte
}

func readULEB(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad LEB128 number")
}

func appendULEB(out []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}

func appendName(out []byte, s string) []byte {
	return append(appendULEB(out, uint64(len(s))), s...)
}

func sections(mod []byte) ([]section, error) {
	if len(mod) < 8 || !bytes.Equal(mod[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly module")
	}
	if v := binary.LittleEndian.Uint32(mod[4:8]); v != 1 {
		return nil, fmt.Errorf("WebAssembly version %d, want 1", v)
	}
	var out []section
	for p := 8; p < len(mod); {
		id := mod[p]
		n, k, err := readULEB(mod[p+1:])
		if err != nil {
			return nil, fmt.Errorf("section at byte %d: %w", p, err)
		}
		start := p + 1 + k
		if n > uint64(len(mod)-start) {
			return nil, fmt.Errorf("section %d at byte %d: %d bytes past the end", id, p, n)
		}
		out = append(out, section{id, mod[start : start+int(n)]})
		p = start + int(n)
	}
	return out, nil
}

// SharedMemory returns a copy of mod whose single defined memory becomes
// an import (module, name) of a shared memory with the same minimum and
// maxPages as its maximum. The memory keeps index 0, so its export (Go
// exports it as "mem") and every memory instruction are unchanged. It
// returns the minimum in pages: the host must create the memory with at
// least that many (new WebAssembly.Memory({initial, maximum, shared: true})).
func SharedMemory(mod []byte, module, name string, maxPages uint64) ([]byte, uint64, error) {
	secs, err := sections(mod)
	if err != nil {
		return nil, 0, err
	}
	if maxPages == 0 || maxPages > MaxPages {
		return nil, 0, fmt.Errorf("maximum of %d pages is outside 1..%d", maxPages, MaxPages)
	}
	memAt := -1
	var minPages uint64
	for i, s := range secs {
		if s.id == secImport {
			at, _, err := memoryImport(s.body)
			if err != nil {
				return nil, 0, err
			}
			if at >= 0 {
				return nil, 0, errors.New("the module already imports a memory")
			}
		}
		if s.id != secMemory {
			continue
		}
		if memAt >= 0 {
			return nil, 0, errors.New("two memory sections")
		}
		count, k, err := readULEB(s.body)
		if err != nil || count != 1 || k >= len(s.body) {
			return nil, 0, fmt.Errorf("memory section: want exactly one memory")
		}
		flags := s.body[k]
		if flags > 1 {
			return nil, 0, fmt.Errorf("memory section: limits flags %#x (already shared or 64-bit)", flags)
		}
		minPages, _, err = readULEB(s.body[k+1:])
		if err != nil {
			return nil, 0, fmt.Errorf("memory section: %w", err)
		}
		memAt = i
	}
	if memAt < 0 {
		return nil, 0, errors.New("the module defines no memory (already imported?)")
	}
	if minPages > maxPages {
		return nil, 0, fmt.Errorf("the module needs %d pages, more than the maximum %d", minPages, maxPages)
	}
	imp := appendName(nil, module)
	imp = appendName(imp, name)
	imp = append(imp, 0x02, 0x03) // memory; limits: has maximum, shared
	imp = appendULEB(imp, minPages)
	imp = appendULEB(imp, maxPages)

	out := append([]byte(nil), mod[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	imported := false
	for i, s := range secs {
		if i == memAt {
			continue
		}
		if !imported && s.id != secCustom && s.id > secImport {
			emit(secImport, append(appendULEB(nil, 1), imp...)) // the module had no imports
			imported = true
		}
		if s.id == secImport {
			count, k, err := readULEB(s.body)
			if err != nil {
				return nil, 0, fmt.Errorf("import section: %w", err)
			}
			body := appendULEB(nil, count+1)
			body = append(body, s.body[k:]...)
			emit(secImport, append(body, imp...))
			imported = true
			continue
		}
		emit(s.id, s.body)
	}
	if !imported {
		emit(secImport, append(appendULEB(nil, 1), imp...))
	}
	// The limits again, where a host can read them without parsing the
	// binary: WebAssembly.Module.customSections(m, LimitsSection).
	limits := appendName(nil, LimitsSection)
	limits = binary.LittleEndian.AppendUint32(limits, uint32(minPages))
	limits = binary.LittleEndian.AppendUint32(limits, uint32(maxPages))
	emit(secCustom, limits)
	return out, minPages, nil
}

// memoryImport walks an import section and returns the byte range of the
// limits of its memory import ([-1, -1] when there is none).
func memoryImport(body []byte) (int, int, error) {
	count, p, err := readULEB(body)
	if err != nil {
		return 0, 0, fmt.Errorf("import section: %w", err)
	}
	skip := func() error { // a LEB128 number
		_, k, err := readULEB(body[p:])
		p += k
		return err
	}
	name := func() error {
		n, k, err := readULEB(body[p:])
		if err != nil || n > uint64(len(body)-p-k) {
			return errors.New("bad name")
		}
		p += k + int(n)
		return nil
	}
	limits := func() error {
		if p >= len(body) {
			return errors.New("truncated limits")
		}
		flags := body[p]
		p++
		if err := skip(); err != nil {
			return err
		}
		if flags&1 != 0 {
			return skip()
		}
		return nil
	}
	memStart, memEnd := -1, -1
	for i := uint64(0); i < count; i++ {
		if err := name(); err != nil {
			return 0, 0, fmt.Errorf("import %d: %w", i, err)
		}
		if err := name(); err != nil {
			return 0, 0, fmt.Errorf("import %d: %w", i, err)
		}
		if p >= len(body) {
			return 0, 0, fmt.Errorf("import %d: truncated", i)
		}
		kind := body[p]
		p++
		switch kind {
		case 0x00: // function: type index
			err = skip()
		case 0x01: // table: reference type, limits
			p++
			if p > len(body) {
				return 0, 0, fmt.Errorf("import %d: truncated", i)
			}
			err = limits()
		case 0x02: // memory: limits
			if memStart >= 0 {
				return 0, 0, errors.New("more than one memory import")
			}
			memStart = p
			err = limits()
			memEnd = p
		case 0x03: // global: value type, mutability
			p += 2
		case 0x04: // tag: attribute, type index
			p++
			if p > len(body) {
				return 0, 0, fmt.Errorf("import %d: truncated", i)
			}
			err = skip()
		default:
			return 0, 0, fmt.Errorf("import %d: unknown kind %#x", i, kind)
		}
		if err != nil || p > len(body) {
			return 0, 0, fmt.Errorf("import %d: truncated", i)
		}
	}
	return memStart, memEnd, nil
}

// ShareImportedMemory returns a copy of mod whose memory import (the SIMD
// kernels import the Go instance's memory) is declared shared with
// maxPages as its maximum, so it can be instantiated against a shared
// WebAssembly.Memory in any thread.
func ShareImportedMemory(mod []byte, maxPages uint64) ([]byte, error) {
	secs, err := sections(mod)
	if err != nil {
		return nil, err
	}
	if maxPages == 0 || maxPages > MaxPages {
		return nil, fmt.Errorf("maximum of %d pages is outside 1..%d", maxPages, MaxPages)
	}
	out := append([]byte(nil), mod[:8]...)
	found := false
	for _, s := range secs {
		body := s.body
		if s.id == secImport {
			at, end, err := memoryImport(body)
			if err != nil {
				return nil, err
			}
			if at >= 0 {
				flags := body[at]
				if flags&^1 != 0 {
					return nil, fmt.Errorf("memory import: limits flags %#x (already shared or 64-bit)", flags)
				}
				minPages, _, err := readULEB(body[at+1:])
				if err != nil {
					return nil, err
				}
				if minPages > maxPages {
					return nil, fmt.Errorf("the memory import needs %d pages, more than the maximum %d", minPages, maxPages)
				}
				lim := appendULEB([]byte{0x03}, minPages)
				lim = appendULEB(lim, maxPages)
				nb := append(append(append([]byte(nil), body[:at]...), lim...), body[end:]...)
				body = nb
				found = true
			}
		}
		out = append(out, s.id)
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	if !found {
		return nil, errors.New("the module imports no memory")
	}
	return out, nil
}
