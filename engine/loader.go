package engine

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/c9e48c40/alibi/engine/kernels"
	"github.com/c9e48c40/alibi/engine/safetensors"
	"github.com/c9e48c40/alibi/internal/jsonscan"
)

// convElems is the size of the loader's conversion buffer in elements.
const convElems = 4096

// Loader builds a Model from the bytes of one or more safetensors files,
// which may arrive in any split and (for sharded checkpoints) in any file
// order. Each tensor is checked against the architecture table, converted to
// f32 (and int8 if asked) as its bytes arrive, and written straight into its
// final buffer, allocated once from the header: peak memory is the model
// plus a few small buffers.
//
// The first error is sticky and releases everything loaded so far.
// A Loader is safe for concurrent writers (one per file).
type Loader struct {
	mu    sync.Mutex
	cfg   Config
	fam   *family
	opts  LoadOptions
	specs map[string]*tensorSpec // stored name without prefix -> spec
	// index maps tensor names to shard files when SetIndex was called.
	index map[string]string
	files map[string]*fileWriter // opened files
	owner map[string]string      // tensor name -> file that holds it
	w     *weights
	conv  []float32 // (convElems) conversion scratch, shared under mu
	err   error
	done  bool
}

// NewLoader returns a Loader for a model with cfg (from ParseConfig).
func NewLoader(cfg *Config, opts LoadOptions) (*Loader, error) {
	if cfg == nil {
		return nil, fmt.Errorf("engine: nil config: %w", ErrFormat)
	}
	fam := familyOf(cfg.Architecture)
	if fam == nil {
		return nil, fmt.Errorf("engine: architecture %q is not supported; supported: %s: %w", cfg.Architecture, supportedList(), ErrUnsupported)
	}
	o, err := opts.resolve(cfg)
	if err != nil {
		return nil, err
	}
	need := EstimateMemory(cfg, o)
	if limit := memoryLimit(o.MemoryLimit); limit > 0 && need > limit {
		return nil, fmt.Errorf("engine: the model needs about %d MiB (quant %s, context %d) but the limit is %d MiB: %w",
			need>>20, o.Quant, o.ContextLength, limit>>20, ErrMemory)
	}
	l := &Loader{
		cfg:   *cfg,
		fam:   fam,
		opts:  o,
		specs: map[string]*tensorSpec{},
		files: map[string]*fileWriter{},
		owner: map[string]string{},
		w:     &weights{layers: make([]layer, cfg.NLayer)},
		conv:  make([]float32, convElems),
	}
	all := append(fam.tensors(cfg), fam.optional(cfg)...)
	for i := range all {
		l.specs[all[i].name] = &all[i]
	}
	return l, nil
}

// canonical strips the family's optional prefixes from a stored tensor name.
func (l *Loader) canonical(name string) string {
	for _, p := range l.fam.prefixes {
		if s, ok := strings.CutPrefix(name, p); ok {
			return s
		}
	}
	return name
}

// fail records the first error and releases all loaded weights.
func (l *Loader) fail(err error) error {
	if l.err == nil {
		l.err = err
		l.w = nil
		l.conv = nil
		for _, f := range l.files {
			f.sinks = nil
		}
	}
	return l.err
}

// Abort stops the load: everything loaded so far is released and every
// later call returns err (for instance a dropped download). A nil err
// aborts with a generic error.
func (l *Loader) Abort(err error) {
	if err == nil {
		err = fmt.Errorf("engine: load aborted")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail(err)
}

// SetIndex reads a model.safetensors.index.json. Call it before opening the
// shards: it checks that the weight map names exactly the tensors of the
// architecture, and OpenFile then accepts only the files it lists.
func (l *Loader) SetIndex(indexJSON []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if len(l.files) > 0 || l.index != nil {
		return l.fail(fmt.Errorf("engine: SetIndex must be called once, before OpenFile: %w", ErrFormat))
	}
	weightMap, err := readWeightMap(indexJSON)
	if err != nil {
		return l.fail(fmt.Errorf("engine: model.safetensors.index.json: %v: %w", err, ErrFormat))
	}
	if len(weightMap) == 0 {
		return l.fail(fmt.Errorf("engine: model.safetensors.index.json: empty or missing \"weight_map\": %w", ErrFormat))
	}
	index := map[string]string{}
	names := slices.Sorted(mapKeys(weightMap))
	for _, stored := range names {
		file := weightMap[stored]
		if file == "" || strings.ContainsAny(file, "/\\") || file == "." || file == ".." {
			return l.fail(fmt.Errorf("engine: model.safetensors.index.json: tensor %q: bad file name %q: %w", stored, file, ErrFormat))
		}
		name := l.canonical(stored)
		if l.specs[name] == nil {
			return l.fail(fmt.Errorf("engine: model.safetensors.index.json: unexpected tensor %q (not part of a %s checkpoint): %w", stored, l.fam.name, ErrFormat))
		}
		if _, dup := index[name]; dup {
			return l.fail(fmt.Errorf("engine: model.safetensors.index.json: duplicate tensor %q: %w", name, ErrFormat))
		}
		index[name] = file
	}
	for _, name := range l.required() {
		if _, ok := index[name]; !ok {
			return l.fail(fmt.Errorf("engine: model.safetensors.index.json: missing tensor %q: %w", name, ErrFormat))
		}
	}
	l.index = index
	return nil
}

// readWeightMap reads the "weight_map" of a model.safetensors.index.json
// (tensor name -> shard file) as encoding/json reads it into a
// map[string]string field tagged weight_map: keys matched without regard to
// case, objects merged in order, a null weight_map resetting the map and a
// null file name reading as "".
func readWeightMap(indexJSON []byte) (map[string]string, error) {
	top, err := jsonscan.MembersOrNull(indexJSON)
	if err != nil {
		return nil, err
	}
	var out map[string]string
	for _, m := range top {
		if !strings.EqualFold(m.Key, "weight_map") {
			continue
		}
		if jsonscan.KindOf(m.Raw) == jsonscan.KindNull {
			out = nil
			continue
		}
		ms, err := jsonscan.Members(m.Raw)
		if err != nil {
			return nil, fmt.Errorf("weight_map: %w", err)
		}
		if out == nil {
			out = make(map[string]string, len(ms))
		}
		for _, e := range ms {
			f := ""
			if jsonscan.KindOf(e.Raw) != jsonscan.KindNull {
				if f, err = jsonscan.String(e.Raw); err != nil {
					return nil, fmt.Errorf("weight_map[%q]: %w", e.Key, err)
				}
			}
			out[e.Key] = f
		}
	}
	return out, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// required lists the names of all tensors the model needs, in table order.
func (l *Loader) required() []string {
	var out []string
	for _, sp := range l.fam.tensors(&l.cfg) {
		out = append(out, sp.name)
	}
	return out
}

// Files returns the shard files named by the index (sorted), or
// ["model.safetensors"] when SetIndex was not called.
func (l *Loader) Files() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.index == nil {
		return []string{"model.safetensors"}
	}
	set := map[string]bool{}
	for _, f := range l.index {
		set[f] = true
	}
	return slices.Sorted(mapKeys(set))
}

// OpenFile returns the writer for one safetensors file. Write its bytes in
// order, in any split, then Close it, which checks the file is complete.
func (l *Loader) OpenFile(name string) (io.WriteCloser, error) {
	return l.OpenFileSize(name, -1)
}

// OpenFileSize is OpenFile for a file whose total size is known, which lets
// the header checks reject a bad length before any data arrives.
func (l *Loader) OpenFileSize(name string, size int64) (io.WriteCloser, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	if l.done {
		return nil, fmt.Errorf("engine: OpenFile %s after Finish", name)
	}
	if _, dup := l.files[name]; dup {
		return nil, l.fail(fmt.Errorf("engine: file %s opened twice: %w", name, ErrFormat))
	}
	if l.index != nil && !slices.Contains(slices.Collect(mapValues(l.index)), name) {
		return nil, l.fail(fmt.Errorf("engine: file %s is not listed in model.safetensors.index.json: %w", name, ErrFormat))
	}
	f := &fileWriter{l: l, name: name}
	f.stream = safetensors.NewStream(size, f)
	l.files[name] = f
	return f, nil
}

func mapValues[V any](m map[string]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// Finish checks that every tensor arrived complete and returns the Model.
// On failure nothing stays loaded.
func (l *Loader) Finish() (*Model, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	if l.done {
		return nil, fmt.Errorf("engine: Finish called twice")
	}
	names := slices.Sorted(mapKeys(l.files))
	for _, name := range names {
		if !l.files[name].closed {
			return nil, l.fail(fmt.Errorf("engine: file %s was not closed (incomplete): %w", name, ErrFormat))
		}
	}
	if l.index != nil {
		for _, file := range slices.Sorted(mapValues(l.index)) {
			if l.files[file] == nil {
				return nil, l.fail(fmt.Errorf("engine: shard %s listed in the index was never opened: %w", file, ErrFormat))
			}
		}
	}
	if len(l.files) == 0 {
		return nil, l.fail(fmt.Errorf("engine: no safetensors file was loaded: %w", ErrFormat))
	}
	for _, name := range l.required() {
		if _, ok := l.owner[name]; !ok {
			return nil, l.fail(fmt.Errorf("engine: missing tensor %q: %w", name, ErrFormat))
		}
	}
	l.done = true
	m := newModel(&l.cfg, l.fam, l.opts, l.w)
	l.w, l.conv, l.files = nil, nil, nil
	return m, nil
}

// newModel wraps complete weights.
func newModel(cfg *Config, fam *family, opts LoadOptions, w *weights) *Model {
	m := &Model{
		cfg:    *cfg,
		fam:    fam,
		quant:  opts.Quant,
		ctxLen: opts.ContextLength,
		w:      *w,
		slopes: cfg.AlibiSlopes(),
		// 1/√d unless the config says otherwise (MPT softmax_scale, muP 1/d).
		attnScale: float32(1 / math.Sqrt(float64(cfg.HiddenSize/cfg.NHead))),
	}
	if cfg.AttnScale > 0 {
		m.attnScale = float32(cfg.AttnScale)
	}
	m.embScale, m.logitScale = 1, 1
	if cfg.EmbeddingScale != 0 {
		m.embScale = float32(cfg.EmbeddingScale)
	}
	if cfg.LogitScale != 0 {
		m.logitScale = float32(cfg.LogitScale)
	}
	if fam.setup != nil {
		fam.setup(m)
	}
	m.outHead = &m.w.embed
	if !cfg.TieWordEmbeddings {
		m.outHead = &m.w.head
	}
	m.params = parameterCount(fam, cfg)
	for _, sp := range fam.tensors(cfg) {
		m.wBytes += m.w.slot(&sp).bytes()
	}
	return m
}

// fileWriter is the io.WriteCloser of one safetensors file.
type fileWriter struct {
	l      *Loader
	name   string
	stream *safetensors.Stream
	sinks  []*sink // per header tensor, in header (offset) order
	closed bool
}

func (f *fileWriter) Write(p []byte) (int, error) {
	l := f.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	if f.closed {
		return 0, l.fail(fmt.Errorf("engine: %s: write after Close: %w", f.name, ErrFormat))
	}
	if _, err := f.stream.Write(p); err != nil {
		return 0, l.fail(f.wrap(err))
	}
	return len(p), nil
}

func (f *fileWriter) Close() error {
	l := f.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if f.closed {
		return nil
	}
	if err := f.stream.Close(); err != nil {
		return l.fail(f.wrap(err))
	}
	f.closed = true
	return nil
}

// wrap gives safetensors errors the file name and the format kind.
func (f *fileWriter) wrap(err error) error {
	if Kind(err) != "" {
		return err
	}
	return fmt.Errorf("engine: %s: %w: %w", f.name, err, ErrFormat)
}

// Header is called by the stream once the header is parsed: check every
// tensor against the table, then allocate the destinations.
func (f *fileWriter) Header(h *safetensors.Header) error {
	l := f.l
	specs := make([]*tensorSpec, len(h.Tensors))
	for i := range h.Tensors {
		t := &h.Tensors[i]
		name := l.canonical(t.Name)
		sp := l.specs[name]
		if sp == nil {
			return fmt.Errorf("engine: %s: unexpected tensor %q (not part of a %s checkpoint): %w", f.name, t.Name, l.fam.name, ErrFormat)
		}
		if prev, dup := l.owner[name]; dup {
			return fmt.Errorf("engine: %s: duplicate tensor %q (also in %s): %w", f.name, t.Name, prev, ErrFormat)
		}
		if l.index != nil && l.index[name] != f.name {
			return fmt.Errorf("engine: %s: tensor %q is listed in shard %s by the index: %w", f.name, t.Name, l.index[name], ErrFormat)
		}
		if sp.anyShape {
			l.owner[name] = f.name
			specs[i] = sp
			continue
		}
		switch t.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16:
		default:
			return fmt.Errorf("engine: %s: tensor %q has dtype %s, want F32, F16 or BF16: %w", f.name, t.Name, t.DType, ErrFormat)
		}
		if !slices.Equal(t.Shape, sp.shape) {
			return fmt.Errorf("engine: %s: tensor %q has shape %v, want %v for hidden_size %d, n_head %d, vocab_size %d: %w",
				f.name, t.Name, t.Shape, sp.shape, l.cfg.HiddenSize, l.cfg.NHead, l.cfg.VocabSize, ErrFormat)
		}
		l.owner[name] = f.name
		specs[i] = sp
	}
	f.sinks = make([]*sink, len(h.Tensors))
	for i, sp := range specs {
		f.sinks[i] = l.newSink(sp, h.Tensors[i].DType)
	}
	return nil
}

// Data routes tensor bytes to their sink.
func (f *fileWriter) Data(i int, off int64, p []byte) error {
	return f.sinks[i].write(p, f.l.conv)
}

// sink converts one tensor's bytes, in order, into its final buffer.
type sink struct {
	dst        *tensor // nil: the tensor is checked but not kept
	dt         safetensors.DType
	esize      int // bytes per stored element
	rows, cols int // stored layout, for the row permutation
	headDim    int // fused QKV: stored rows (bias elements) [H][3][headDim] go to [3][H][headDim]; 0: in order
	hidden     int // with headDim: H·headDim
	quant      bool
	transposed bool      // stored (rows, cols) is the engine's (cols, rows)
	stage      []float32 // whole transposed matrix in f32 when quantizing
	rowBuf     []float32 // (cols) staging of the current row when quantizing
	n          int       // elements received
	carry      [4]byte   // bytes of an element split across writes
	nc         int
}

// newSink allocates the destination of a tensor and returns its sink.
func (l *Loader) newSink(sp *tensorSpec, dt safetensors.DType) *sink {
	s := &sink{dt: dt, esize: max(dt.Bits()/8, 1)}
	if sp.role == roleSkip {
		return s
	}
	rows, cols := sp.engineShape()
	t := l.w.slot(sp)
	*t = tensor{rows: rows, cols: cols}
	s.dst, s.rows, s.cols = t, rows, cols
	s.quant = l.opts.Quant == QuantInt8 && sp.matrix()
	if sp.layout == layoutTransposed && sp.matrix() {
		// Stored (in, out) = (cols, rows): element (r, c) of the stored
		// matrix is (c, r) of the engine's. Transposed rows only complete
		// at the end, so a quantized matrix is staged in f32 first.
		s.rows, s.cols = cols, rows
		s.transposed = true
		if s.quant {
			// s.stage is allocated when the first bytes arrive (emitTransposed).
			t.q = make([]int8, rows*cols)
			t.s = make([]float32, rows*cols/kernels.Q8BlockSize(cols))
		} else {
			t.f = make([]float32, rows*cols)
		}
		return s
	}
	if s.quant {
		t.q = make([]int8, rows*cols)
		t.s = make([]float32, rows*cols/kernels.Q8BlockSize(cols))
		s.rowBuf = make([]float32, cols)
	} else {
		t.f = make([]float32, rows*cols)
	}
	if sp.layout == layoutHeadsQKV {
		// View the stored rows (3h) or bias elements (3h) as [H][3][d].
		n := sp.shape[0]
		if !sp.matrix() {
			s.rows, s.cols = n, 1
		}
		s.headDim, s.hidden = l.cfg.HiddenSize/l.cfg.NHead, l.cfg.HiddenSize
	}
	return s
}

// write consumes the next bytes of the tensor.
func (s *sink) write(p []byte, conv []float32) error {
	if s.dst == nil {
		return nil // checked, not kept: the bytes need no decoding
	}
	// Finish an element split across writes.
	if s.nc > 0 {
		k := copy(s.carry[s.nc:s.esize], p)
		s.nc += k
		p = p[k:]
		if s.nc < s.esize {
			return nil
		}
		if err := decode(conv[:1], s.carry[:s.esize], s.dt); err != nil {
			return err
		}
		s.emit(conv[:1])
		s.nc = 0
	}
	if s.transposed {
		for len(p) >= s.esize {
			k := min(len(p)/s.esize, len(conv))
			if err := decode(conv[:k], p[:k*s.esize], s.dt); err != nil {
				return err
			}
			s.emit(conv[:k])
			p = p[k*s.esize:]
		}
	} else {
		// Decode straight into the destination rows (f32) or the row buffer
		// (int8), one row segment at a time: no pass through conv. Whole
		// rows that land in consecutive destination rows go in one kernel
		// call (a piece holds thousands of rows of a small model).
		for len(p) >= s.esize {
			r, c := s.n/s.cols, s.n%s.cols
			k := min(len(p)/s.esize, s.cols-c)
			dr := s.destRow(r)
			if c == 0 && k == s.cols {
				n := min(len(p)/(s.esize*k), s.contiguous(r))
				if !s.quant {
					if err := decode(s.dst.f[dr*k:(dr+n)*k], p[:s.esize*k*n], s.dt); err != nil {
						return err
					}
					s.n += k * n
					p = p[s.esize*k*n:]
					continue
				}
				if s.dt == safetensors.F16 && k%kernels.Q8Block == 0 {
					// Whole F16 rows: quantize their 32-blocks in one pass
					// (the same bytes as decoding into rowBuf and
					// quantizeRow). Per-row scales keep the two-step path.
					t, nb := s.dst, k/kernels.Q8Block
					kernels.QuantizeQ8F16(t.q[dr*k:(dr+n)*k], t.s[dr*nb:(dr+n)*nb], p[:2*k*n], k)
					s.n += k * n
					p = p[2*k*n:]
					continue
				}
			}
			var dst []float32
			if s.quant {
				dst = s.rowBuf[c : c+k]
			} else {
				dst = s.dst.f[dr*s.cols+c : dr*s.cols+c+k]
			}
			if err := decode(dst, p[:k*s.esize], s.dt); err != nil {
				return err
			}
			if s.quant && c+k == s.cols {
				s.quantizeRow(dr)
			}
			s.n += k
			p = p[k*s.esize:]
		}
		if s.quant && s.n == s.rows*s.cols {
			s.rowBuf = nil
		}
	}
	s.nc = copy(s.carry[:], p)
	return nil
}

// destRow returns the destination row of stored row r.
func (s *sink) destRow(r int) int {
	d := s.headDim
	if d == 0 {
		return r
	}
	head, part, i := r/(3*d), (r/d)%3, r%d
	return part*s.hidden + head*d + i
}

// contiguous returns how many stored rows from row r on land in consecutive
// destination rows.
func (s *sink) contiguous(r int) int {
	n := s.rows - r
	if d := s.headDim; d > 0 {
		n = min(n, d-r%d)
	}
	return n
}

// quantizeRow quantizes the complete row in s.rowBuf into row dr of the
// destination.
func (s *sink) quantizeRow(dr int) {
	t, cols := s.dst, s.cols
	nb := cols / kernels.Q8BlockSize(cols)
	kernels.QuantizeQ8(t.q[dr*cols:(dr+1)*cols], t.s[dr*nb:(dr+1)*nb], s.rowBuf, cols)
}

// decode widens little-endian elements of dt to float32; F16, the common
// checkpoint dtype, goes through the kernels (SIMD on js/wasm).
func decode(dst []float32, src []byte, dt safetensors.DType) error {
	if dt == safetensors.F16 && len(src) == 2*len(dst) {
		kernels.F16ToF32(dst, src)
		return nil
	}
	return safetensors.DecodeFloat32(dst, src, dt)
}

// emit stores converted elements at the current position.
func (s *sink) emit(vals []float32) {
	if s.dst == nil {
		s.n += len(vals)
		return
	}
	t := s.dst
	if s.transposed {
		s.emitTransposed(vals)
		return
	}
	for len(vals) > 0 {
		r, c := s.n/s.cols, s.n%s.cols
		k := min(len(vals), s.cols-c)
		dr := s.destRow(r)
		if !s.quant {
			copy(t.f[dr*s.cols+c:], vals[:k])
		} else {
			copy(s.rowBuf[c:], vals[:k])
			if c+k == s.cols {
				s.quantizeRow(dr) // the row is complete: quantize it into place
			}
		}
		s.n += k
		vals = vals[k:]
	}
	if s.quant && s.n == s.rows*s.cols {
		s.rowBuf = nil
	}
}

// emitTransposed stores elements of a Conv1D weight stored (in, out) =
// (s.rows, s.cols) at their transposed place in the engine's (out, in)
// matrix; a quantized matrix is quantized row by row once complete.
//
// Quantized, int8 blocks run along the engine's rows, i.e. down the stored
// columns: when the block is smaller than the row (Q8BlockSize), a band of
// block stored rows is staged and quantized as soon as it is complete;
// otherwise (per-row scales) the whole matrix is staged (transposeStaging).
func (s *sink) emitTransposed(vals []float32) {
	t := s.dst
	in, out := s.rows, s.cols
	if !s.quant {
		for _, v := range vals {
			r, c := s.n/out, s.n%out
			t.f[c*in+r] = v
			s.n++
		}
		return
	}
	block := kernels.Q8BlockSize(in)
	if s.stage == nil {
		s.stage = make([]float32, block*out)
		s.rowBuf = make([]float32, block)
	}
	nb := in / block
	for _, v := range vals {
		r, c := s.n/out, s.n%out
		s.stage[(r%block)*out+c] = v
		s.n++
		if c == out-1 && r%block == block-1 {
			// stored rows r0..r form one int8 block of every engine row
			r0 := r + 1 - block
			for o := 0; o < out; o++ {
				for k := 0; k < block; k++ {
					s.rowBuf[k] = s.stage[k*out+o]
				}
				kernels.QuantizeQ8(t.q[o*in+r0:o*in+r0+block], t.s[o*nb+r0/block:o*nb+r0/block+1], s.rowBuf, block)
			}
		}
	}
	if s.n == in*out {
		s.stage, s.rowBuf = nil, nil
	}
}

// transposeStaging is the loader's largest staging buffer for a quantized
// Conv1D weight (emitTransposed): a band of 32 stored rows, or the whole
// matrix when 32 does not divide its input width.
func transposeStaging(fam *family, cfg *Config) int64 {
	var most int64
	for _, sp := range fam.tensors(cfg) {
		if sp.layout != layoutTransposed || !sp.matrix() {
			continue
		}
		in, out := int64(sp.shape[0]), int64(sp.shape[1])
		most = max(most, int64(kernels.Q8BlockSize(int(in)))*out*4)
	}
	return most
}
