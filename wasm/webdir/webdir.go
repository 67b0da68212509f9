// Package webdir writes the web directory format of DESIGN.md §3: a
// manifest.json, the model's small files, and its safetensors files cut into
// chunk files with a SHA-256 each, so any static host can serve a model to
// the browser runtime (web/alibi.js) with immutable caching. It is shared by
// `alibi convert --to web` and cmd/build-wasm, and uses only the standard
// library.
package webdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Format and Version identify a manifest.
const (
	Format  = "alibi-web"
	Version = 1
	// DefaultChunkSize is 16 MiB.
	DefaultChunkSize = 16 << 20
	// ManifestName is the manifest's file name.
	ManifestName = "manifest.json"
)

// Manifest is manifest.json.
type Manifest struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Model   Model  `json:"model"`
	Files   []File `json:"files"`
}

// Model names the model's small files.
type Model struct {
	Architecture string `json:"architecture"`
	Config       string `json:"config"`
	Tokenizer    string `json:"tokenizer"`
	Index        string `json:"index,omitempty"`
}

// File is one safetensors file cut into chunks.
type File struct {
	Name   string  `json:"name"`
	Size   int64   `json:"size"`
	SHA256 string  `json:"sha256"`
	Chunks []Chunk `json:"chunks"`
}

// Chunk is one chunk file: bytes [Offset, Offset+Size) of its File.
type Chunk struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// optionalFiles are copied when the model directory has them.
var optionalFiles = []string{"tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "README.md", "LICENSE"}

// Convert writes the web directory of the HF-style model directory
// modelDir (config.json, tokenizer.json, model.safetensors or
// model.safetensors.index.json + shards) into outDir. chunkSize <= 0 means
// DefaultChunkSize. Progress lines go to log (may be nil).
func Convert(modelDir, outDir string, chunkSize int64, log io.Writer) error {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	if log == nil {
		log = io.Discard
	}
	absIn, err := filepath.Abs(modelDir)
	if err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	if absIn == absOut {
		return fmt.Errorf("webdir: output directory %s is the model directory", outDir)
	}
	cfg, err := os.ReadFile(filepath.Join(modelDir, "config.json"))
	if err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	arch, err := architecture(cfg)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(modelDir, "tokenizer.json")); err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	names, index, err := weightFiles(modelDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	small := []string{"config.json", "tokenizer.json"}
	if index != "" {
		small = append(small, index)
	}
	for _, n := range optionalFiles {
		if _, err := os.Stat(filepath.Join(modelDir, n)); err == nil {
			small = append(small, n)
		}
	}
	for _, n := range small {
		if err := copyFile(filepath.Join(modelDir, n), filepath.Join(outDir, n)); err != nil {
			return err
		}
	}
	m := Manifest{Format: Format, Version: Version, Model: Model{Architecture: arch, Config: "config.json", Tokenizer: "tokenizer.json", Index: index}}
	for _, n := range names {
		f, err := chunkFile(filepath.Join(modelDir, n), n, outDir, chunkSize)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "webdir: %s: %d bytes in %d chunks\n", n, f.Size, len(f.Chunks))
		m.Files = append(m.Files, f)
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	return writeAtomic(filepath.Join(outDir, ManifestName), append(b, '\n'))
}

// architecture reads the model family from config.json: model_type, or the
// first of "architectures" ("BloomForCausalLM" -> "bloom").
func architecture(cfg []byte) (string, error) {
	var c struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return "", fmt.Errorf("webdir: config.json: %w", err)
	}
	if c.ModelType != "" {
		return strings.ToLower(c.ModelType), nil
	}
	if len(c.Architectures) > 0 {
		a := c.Architectures[0]
		for _, suf := range []string{"ForCausalLM", "LMHeadModel", "Model"} {
			a = strings.TrimSuffix(a, suf)
		}
		return strings.ToLower(a), nil
	}
	return "", fmt.Errorf("webdir: config.json: no model_type or architectures")
}

// weightFiles lists the safetensors files: the shards of the index when
// there is one, else model.safetensors.
func weightFiles(dir string) ([]string, string, error) {
	const indexName = "model.safetensors.index.json"
	b, err := os.ReadFile(filepath.Join(dir, indexName))
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
			return nil, "", fmt.Errorf("webdir: no model.safetensors or %s in %s", indexName, dir)
		}
		return []string{"model.safetensors"}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("webdir: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, "", fmt.Errorf("webdir: %s: %w", indexName, err)
	}
	seen := map[string]bool{}
	var names []string
	for _, f := range idx.WeightMap {
		if !seen[f] {
			if f != filepath.Base(f) || strings.HasPrefix(f, ".") {
				return nil, "", fmt.Errorf("webdir: %s: shard name %q is not a plain file name", indexName, f)
			}
			seen[f] = true
			names = append(names, f)
		}
	}
	if len(names) == 0 {
		return nil, "", fmt.Errorf("webdir: %s: empty weight_map", indexName)
	}
	sort.Strings(names)
	return names, indexName, nil
}

// CheckSafetensors checks that r (of size bytes) starts with a sane
// safetensors header whose tensors all lie inside the file.
func CheckSafetensors(r io.ReaderAt, size int64, name string) error {
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return fmt.Errorf("webdir: %s: reading header length: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > 100<<20 || int64(n)+8 > size {
		return fmt.Errorf("webdir: %s: header length %d does not fit a %d-byte file", name, n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return fmt.Errorf("webdir: %s: reading header: %w", name, err)
	}
	var tensors map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimRight(hdr, " "), &tensors); err != nil {
		return fmt.Errorf("webdir: %s: header: %w", name, err)
	}
	data := size - 8 - int64(n)
	for tn, raw := range tensors {
		if tn == "__metadata__" {
			continue
		}
		var t struct {
			DataOffsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &t); err != nil || len(t.DataOffsets) != 2 {
			return fmt.Errorf("webdir: %s: tensor %q: bad data_offsets", name, tn)
		}
		if t.DataOffsets[0] < 0 || t.DataOffsets[1] < t.DataOffsets[0] || t.DataOffsets[1] > data {
			return fmt.Errorf("webdir: %s: tensor %q: data_offsets %v outside the %d data bytes (truncated file?)", name, tn, t.DataOffsets, data)
		}
	}
	return nil
}

func chunkFile(src, name, outDir string, chunkSize int64) (File, error) {
	in, err := os.Open(src)
	if err != nil {
		return File{}, fmt.Errorf("webdir: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return File{}, fmt.Errorf("webdir: %w", err)
	}
	if err := CheckSafetensors(in, st.Size(), name); err != nil {
		return File{}, err
	}
	f := File{Name: name, Size: st.Size()}
	whole := sha256.New()
	buf := make([]byte, 1<<20)
	nChunks := (st.Size() + chunkSize - 1) / chunkSize
	width := max(3, len(fmt.Sprint(nChunks-1)))
	for k, off := int64(0), int64(0); off < st.Size(); k++ {
		size := min(chunkSize, st.Size()-off)
		// The chunk's name ends with the start of its SHA-256, so a CDN (and
		// internal/webserve) may cache it as immutable: new contents, new name.
		stem := fmt.Sprintf("%s.%0*d", name, width, k)
		h := sha256.New()
		tmp := filepath.Join(outDir, stem+".tmp")
		out, err := os.Create(tmp)
		if err != nil {
			return File{}, fmt.Errorf("webdir: %w", err)
		}
		_, err = io.CopyBuffer(io.MultiWriter(out, h, whole), io.NewSectionReader(in, off, size), buf)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		sum := hex.EncodeToString(h.Sum(nil))
		path := stem + "." + sum[:12]
		if err == nil {
			err = os.Rename(tmp, filepath.Join(outDir, path))
		}
		if err != nil {
			os.Remove(tmp)
			return File{}, fmt.Errorf("webdir: %s: %w", path, err)
		}
		f.Chunks = append(f.Chunks, Chunk{Path: path, Offset: off, Size: size, SHA256: sum})
		off += size
	}
	f.SHA256 = hex.EncodeToString(whole.Sum(nil))
	return f, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	return writeAtomic(dst, b)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("webdir: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("webdir: %w", err)
	}
	return nil
}

// Read parses and checks a manifest.json.
func Read(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("webdir: manifest.json: %w", err)
	}
	if m.Format != Format || m.Version != Version {
		return nil, fmt.Errorf("webdir: manifest.json: format %q version %d, want %q %d", m.Format, m.Version, Format, Version)
	}
	for _, f := range m.Files {
		var off int64
		for _, c := range f.Chunks {
			if c.Offset != off || c.Size <= 0 {
				return nil, fmt.Errorf("webdir: manifest.json: %s: chunk %s at %d, want %d", f.Name, c.Path, c.Offset, off)
			}
			off += c.Size
		}
		if off != f.Size {
			return nil, fmt.Errorf("webdir: manifest.json: %s: chunks cover %d of %d bytes", f.Name, off, f.Size)
		}
	}
	return &m, nil
}
