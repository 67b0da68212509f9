// Command wasm is the browser side of alibi: built with GOOS=js GOARCH=wasm
// it runs inside the runtime's Web Worker (web/worker.js) and exposes the
// engine and the tokenizer to JavaScript on one namespace object.
//
// This file holds the logic, in portable Go tested natively: a Runtime owns
// loads in progress (bytes arriving file by file into engine.Loader
// writers), loaded models and generations. main.go (js && wasm) only
// marshals JavaScript values to these methods and back and turns every call
// into a Promise.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/engine/kernels"
	"github.com/c9e48c40/alibi/internal/jsonscan"
	"github.com/c9e48c40/alibi/tokenizer"
)

// ProtocolVersion is checked by web/worker.js against its own constant: a
// worker and a wasm binary from different builds refuse to talk.
const ProtocolVersion = 1

// DefaultMemoryLimit is the memory a model may need before a load is refused
// up front: the wasm32 address space is 4 GiB and a Go heap of about
// 3.8 GB is usable (shared/reference/toolchain.md §6).
const DefaultMemoryLimit = 3_800_000_000

// Error types seen by JavaScript (DESIGN.md §6).
const (
	TypeDownload    = "download"
	TypeIntegrity   = "integrity"
	TypeFormat      = "format"
	TypeUnsupported = "unsupported"
	TypeMemory      = "memory"
	TypeContext     = "context"
	TypeAborted     = "aborted"
)

// ErrIntegrity: bytes did not match their published SHA-256.
var ErrIntegrity = errors.New("integrity")

// errNotFound: a handle that does not exist (disposed model, finished load).
// (Not fmt.Errorf: package initialization would run fmt's code, the costliest
// to run the first time in a new WebAssembly instance, on every start.)
var errNotFound error = wrapped{"wasm: no such handle: " + engine.ErrFormat.Error(), engine.ErrFormat}

// wrapped is an error with a fixed message that wraps err.
type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.err }

// ErrorType maps an error to one of the JavaScript error types. Errors the
// engine does not classify are reported as "format": they come from the
// data or the arguments a caller passed.
func ErrorType(err error) string {
	if errors.Is(err, ErrIntegrity) {
		return TypeIntegrity
	}
	if k := engine.Kind(err); k != "" {
		return k
	}
	return TypeFormat
}

// LoadRequest holds the options of a load, decoded from the JS call.
type LoadRequest struct {
	Quant         string // "none" (default) or "int8"
	ContextLength int    // 0: the model's default
	MemoryLimit   int64  // 0: DefaultMemoryLimit
}

// parseLoadRequest reads beginLoad's options, a JSON object (or ""):
// quant, contextLength, memoryLimit; other keys are ignored, null counts as
// absent. Read without encoding/json, whose reflection a new page's engine
// would compile on first use in every load (see internal/jsonscan).
func parseLoadRequest(s string) (LoadRequest, error) {
	var o LoadRequest
	if s == "" {
		return o, nil
	}
	bad := func(err error) (LoadRequest, error) {
		return LoadRequest{}, fmt.Errorf("wasm: load options: %w: %w", err, engine.ErrFormat)
	}
	ms, err := jsonscan.Members([]byte(s))
	if err != nil {
		return bad(err)
	}
	for _, m := range ms {
		if jsonscan.KindOf(m.Raw) == jsonscan.KindNull {
			continue
		}
		switch m.Key {
		case "quant":
			if o.Quant, err = jsonscan.String(m.Raw); err != nil {
				return bad(fmt.Errorf("quant: %w", err))
			}
		case "contextLength":
			n, err := jsonscan.Int(m.Raw)
			if err != nil || n != int64(int(n)) {
				return bad(fmt.Errorf("contextLength %s: not an integer", m.Raw))
			}
			o.ContextLength = int(n)
		case "memoryLimit":
			if o.MemoryLimit, err = jsonscan.Int(m.Raw); err != nil {
				return bad(fmt.Errorf("memoryLimit: %w", err))
			}
		}
	}
	return o, nil
}

// beginLoadJSON is beginLoad's answer: {load, estimate, limit, architecture}.
func beginLoadJSON(id int, est Estimate) []byte {
	b := []byte(`{"load":`)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"estimate":`...)
	b = strconv.AppendInt(b, est.Bytes, 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, est.Limit, 10)
	b = append(b, `,"architecture":`...)
	b = jsonscan.AppendString(b, est.Architecture)
	return append(b, '}')
}

// finishJSON is finish's answer, {model, info}, with the fields and names
// encoding/json gives engine.Info (a test holds it to them).
func finishJSON(model int, in engine.Info) []byte {
	b := []byte(`{"model":`)
	b = strconv.AppendInt(b, int64(model), 10)
	b = append(b, `,"info":{"architecture":`...)
	b = jsonscan.AppendString(b, in.Architecture)
	b = append(b, `,"quant":`...)
	b = jsonscan.AppendString(b, string(in.Quant))
	for _, f := range [...]struct {
		k string
		v int64
	}{
		{"parameters", in.Parameters}, {"contextLength", int64(in.ContextLength)},
		{"trainingContext", int64(in.TrainingContext)}, {"layers", int64(in.Layers)}, {"heads", int64(in.Heads)},
		{"hidden", int64(in.Hidden)}, {"vocab", int64(in.Vocab)}, {"weightBytes", in.WeightBytes},
		{"bos", int64(in.BOS)}, {"eos", int64(in.EOS)},
	} {
		b = append(b, ',', '"')
		b = append(b, f.k...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, f.v, 10)
	}
	return append(b, '}', '}')
}

// Estimate is what a load will need, known before any weight byte arrives.
type Estimate struct {
	Architecture string
	Bytes        int64 // weights + KV cache + scratch
	Limit        int64
}

// Runtime owns every handle given to JavaScript. All methods are safe for
// concurrent use; a model runs one operation at a time.
type Runtime struct {
	mu     sync.Mutex
	next   int
	loads  map[int]*load
	files  map[int]*fileWriter
	models map[int]*model
	gens   map[int]*generation
	buf    []byte // scratch for JS -> Go copies (see main.go)
}

// gcPause keeps the garbage collector waiting while loads are open. What a
// load allocates is the model, live until Dispose, so a collection during
// it finds almost nothing to free, yet the heap growing from a few MB to
// the model's size starts one cycle after another (in the browser, 50-80 ms
// of a 0.3 s load of an 8 MB model from the cache went to collections and
// their assists). A soft memory limit (what the runtime held before, plus
// 1.5 times the loads' estimates, plus loadGCSlack) still lets the
// collector run should a load make much more garbage than expected (the f32
// staging of transposed matrices), without making it collect over and over
// should an estimate be low. SetTokenizer collects once after a large
// tokenizer.json, before the weights are allocated.
//
// After a finished load the collector stays off until the program has
// allocated loadGCSlack more (a soft memory limit) or collects for another
// reason; the settings come back after that first collection. Restored at
// once, the GC percentage would measure from the heap marked before the
// load, a few MB, and start a cycle over the whole new model at the next
// allocation: Finish answering (17-30 ms of a returning visitor's 0.35 s
// load of the bundled model in Chromium, run by V8's baseline compiler).
// An aborted or failed load restores them at once: its memory is garbage.
type gcPause struct {
	mu          sync.Mutex
	n           int   // open loads (of every Runtime: the settings are the process's)
	bytes       int64 // their estimates
	base        int64 // memory the runtime held when the first one began
	prevPercent int
	prevLimit   int64
	deferred    bool // a finished load left the collector off until its next cycle
	gen         int  // counts deferrals, so a stale notice of a cycle does nothing
}

// loadGCSlack is the garbage a load may leave before the collector runs.
const loadGCSlack = 64 << 20

var loadGC gcPause

// held is the memory the Go runtime holds from the host.
func held() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys - ms.HeapReleased)
}

// pause is called when a load begins.
func (g *gcPause) pause(est int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		g.base = held()
		if g.deferred {
			// The settings from before the last load are still the ones to
			// restore: the collector is off already.
			g.deferred = false
		} else {
			g.prevPercent = debug.SetGCPercent(-1)
			g.prevLimit = debug.SetMemoryLimit(-1)
		}
	}
	g.n++
	g.bytes += est
	g.setLimit()
}

func (g *gcPause) setLimit() {
	debug.SetMemoryLimit(min(g.prevLimit, g.base+g.bytes+g.bytes/2+loadGCSlack))
}

// resume is called when a load ends: finished (the model stays) or not.
func (g *gcPause) resume(est int64, finished bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		return
	}
	g.n--
	g.bytes -= est
	if g.n > 0 {
		g.setLimit()
		return
	}
	if !finished {
		g.restore()
		return
	}
	g.deferred = true
	g.gen++
	debug.SetMemoryLimit(min(g.prevLimit, held()+loadGCSlack))
	// The sentinel becomes unreachable now; its cleanup runs after the next
	// collection. It holds a pointer so it is not batched into a tiny block
	// (whose cleanups may never run).
	s := &gcSentinel{}
	runtime.AddCleanup(s, g.collected, g.gen)
}

type gcSentinel struct {
	_ *int
	_ [16]byte
}

// collected runs after the first collection that follows a finished load.
func (g *gcPause) collected(gen int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deferred && g.gen == gen && g.n == 0 {
		g.restore()
	}
}

func (g *gcPause) restore() {
	g.deferred = false
	debug.SetMemoryLimit(g.prevLimit)
	debug.SetGCPercent(g.prevPercent)
}

type load struct {
	est    int64 // estimated bytes (see gcPause)
	cfg    *engine.Config
	opts   engine.LoadOptions
	loader *engine.Loader
	tok    *tokenizer.Tokenizer
	files  map[int]bool
}

type fileWriter struct {
	load int
	name string
	w    io.WriteCloser
	h    hash.Hash
	n    int64
}

type model struct {
	op   sync.Mutex // held by the operation using sess
	m    *engine.Model
	tok  *tokenizer.Tokenizer
	sess *engine.Session
	info engine.Info
	gen  *generation // active generation, if any
}

// NewRuntime returns an empty runtime.
func NewRuntime() *Runtime {
	return &Runtime{
		loads:  map[int]*load{},
		files:  map[int]*fileWriter{},
		models: map[int]*model{},
		gens:   map[int]*generation{},
	}
}

func (r *Runtime) newID() int {
	r.next++
	return r.next
}

// BeginLoad parses config.json, estimates the memory the model needs and
// refuses early when it exceeds the limit; otherwise it prepares a loader
// and returns its handle.
func (r *Runtime) BeginLoad(configJSON []byte, req LoadRequest) (int, Estimate, error) {
	cfg, err := engine.ParseConfig(configJSON)
	if err != nil {
		return 0, Estimate{}, fmt.Errorf("wasm: config.json: %w", err)
	}
	q := engine.Quant(req.Quant)
	switch q {
	case "":
		q = "none"
	case "none", "int8":
	default:
		return 0, Estimate{}, fmt.Errorf("wasm: quant %q: want none or int8: %w", req.Quant, engine.ErrUnsupported)
	}
	opts := engine.LoadOptions{Quant: q, ContextLength: req.ContextLength}
	est := Estimate{Architecture: cfg.Architecture, Bytes: engine.EstimateMemory(cfg, opts), Limit: req.MemoryLimit}
	if est.Limit <= 0 {
		est.Limit = DefaultMemoryLimit
	}
	if est.Bytes > est.Limit {
		return 0, est, fmt.Errorf("wasm: the model needs about %d MB (quant %s), more than the %d MB a wasm32 instance can use; try quant int8 or a shorter context: %w",
			est.Bytes>>20, q, est.Limit>>20, engine.ErrMemory)
	}
	ld, err := engine.NewLoader(cfg, opts)
	if err != nil {
		return 0, est, fmt.Errorf("wasm: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.newID()
	r.loads[id] = &load{est: est.Bytes, cfg: cfg, opts: opts, loader: ld, files: map[int]bool{}}
	loadGC.pause(est.Bytes)
	return id, est, nil
}

func (r *Runtime) getLoad(id int) (*load, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.loads[id]
	if !ok {
		return nil, fmt.Errorf("wasm: load %d: %w", id, errNotFound)
	}
	return l, nil
}

// SetTokenizer parses tokenizer.json for a load. With compact, it also
// returns the tokenizer's compact form (tokenizer.Compact; nil for a
// tokenizer that has none), which the host may keep next to tokenizer.json
// and pass to SetTokenizerCompact on a later load of the same file with
// this build of the engine.
func (r *Runtime) SetTokenizer(id int, tokenizerJSON []byte, compact bool) ([]byte, error) {
	l, err := r.getLoad(id)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(tokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("wasm: tokenizer.json: %w", wrapFormat(err))
	}
	var c []byte
	if compact {
		if c, err = tok.Compact(tokenizerJSON); errors.Is(err, tokenizer.ErrNotCompactable) {
			c = nil
		} else if err != nil {
			return nil, fmt.Errorf("wasm: tokenizer.json: %w", err)
		}
	}
	l.tok = tok
	collectAfterTokenizer(len(tokenizerJSON))
	return c, nil
}

// SetTokenizerCompact sets a load's tokenizer from the compact form
// SetTokenizer returned for its tokenizer.json. A malformed compact form is
// a format error, and the load is as before (the host then passes
// tokenizer.json).
func (r *Runtime) SetTokenizerCompact(id int, compact []byte) error {
	l, err := r.getLoad(id)
	if err != nil {
		return err
	}
	tok, err := tokenizer.LoadCompact(compact, nil)
	if err != nil {
		return fmt.Errorf("wasm: compact tokenizer: %w", wrapFormat(err))
	}
	l.tok = tok
	collectAfterTokenizer(len(compact))
	return nil
}

// collectAfterTokenizer runs one collection after a large tokenizer, while
// the heap is small: the JSON text (14 MB for bloom's tokenizer.json) and
// the parser's garbage are reused for the weights instead of staying in the
// wasm memory, which never shrinks, while the collector is paused for the
// rest of the load (gcPause). A small tokenizer's garbage is not worth it:
// the collection costs 10-18 ms of a returning visitor's 0.3 s load of the
// bundled model (153 KB of JSON), run by V8's baseline compiler before
// anything is optimized.
func collectAfterTokenizer(n int) {
	if n >= tokenizerGCBytes {
		runtime.GC()
	}
}

// tokenizerGCBytes is the size of tokenizer.json from which SetTokenizer
// collects the parser's garbage before the weights are allocated.
const tokenizerGCBytes = 2 << 20

// SetIndex passes model.safetensors.index.json to the loader.
func (r *Runtime) SetIndex(id int, indexJSON []byte) error {
	l, err := r.getLoad(id)
	if err != nil {
		return err
	}
	if err := l.loader.SetIndex(indexJSON); err != nil {
		return fmt.Errorf("wasm: model.safetensors.index.json: %w", err)
	}
	return nil
}

// OpenFile opens the loader's writer for one safetensors file of size
// bytes (-1: unknown). With hash, bytes are hashed on the way so CloseFile
// can check the file's SHA-256 (SHA-256 in Go wasm runs at about 100 MB/s:
// ask for it only when no chunk hash already covers the bytes).
func (r *Runtime) OpenFile(id int, name string, size int64, hash bool) (int, error) {
	l, err := r.getLoad(id)
	if err != nil {
		return 0, err
	}
	if size < 0 {
		size = -1
	}
	w, err := l.loader.OpenFileSize(name, size)
	if err != nil {
		return 0, fmt.Errorf("wasm: open %s: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fid := r.newID()
	f := &fileWriter{load: id, name: name, w: w}
	if hash {
		f.h = sha256.New()
	}
	r.files[fid] = f
	l.files[fid] = true
	return fid, nil
}

// Write appends p to an open file.
func (r *Runtime) Write(fid int, p []byte) error {
	r.mu.Lock()
	f, ok := r.files[fid]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("wasm: file %d: %w", fid, errNotFound)
	}
	if _, err := f.w.Write(p); err != nil {
		return fmt.Errorf("wasm: %s at byte %d: %w", f.name, f.n, wrapFormat(err))
	}
	if f.h != nil {
		f.h.Write(p)
	}
	f.n += int64(len(p))
	return nil
}

// CloseFile closes a file's writer (the loader checks it is complete) and,
// when the file was opened with hash and wantSHA256 is not empty, checks the
// SHA-256 of the bytes written. It returns the hex SHA-256 of the file, or
// "" when it was not hashed.
func (r *Runtime) CloseFile(fid int, wantSHA256 string) (string, error) {
	r.mu.Lock()
	f, ok := r.files[fid]
	if ok {
		delete(r.files, fid)
		if l := r.loads[f.load]; l != nil {
			delete(l.files, fid)
		}
	}
	r.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("wasm: file %d: %w", fid, errNotFound)
	}
	if err := f.w.Close(); err != nil {
		return "", fmt.Errorf("wasm: %s (%d bytes): %w", f.name, f.n, wrapFormat(err))
	}
	if f.h == nil {
		return "", nil
	}
	sum := hex.EncodeToString(f.h.Sum(nil))
	if wantSHA256 != "" && !strings.EqualFold(sum, wantSHA256) {
		return sum, fmt.Errorf("wasm: %s: sha256 %s, want %s: %w", f.name, sum, wantSHA256, ErrIntegrity)
	}
	return sum, nil
}

// Finish builds the model of a load and returns the model's handle.
func (r *Runtime) Finish(id int) (int, engine.Info, error) {
	// Taken out under the lock: of two Finish calls, one gets the load.
	r.mu.Lock()
	l, ok := r.loads[id]
	delete(r.loads, id)
	r.mu.Unlock()
	if !ok {
		return 0, engine.Info{}, fmt.Errorf("wasm: load %d: %w", id, errNotFound)
	}
	finished := false
	defer func() { loadGC.resume(l.est, finished) }()
	if l.tok == nil {
		return 0, engine.Info{}, fmt.Errorf("wasm: load %d: no tokenizer.json: %w", id, engine.ErrFormat)
	}
	m, err := l.loader.Finish()
	if err != nil {
		return 0, engine.Info{}, fmt.Errorf("wasm: %w", err)
	}
	md := &model{m: m, tok: l.tok, info: m.Info()}
	r.mu.Lock()
	defer r.mu.Unlock()
	mid := r.newID()
	r.models[mid] = md
	finished = true
	return mid, md.info, nil
}

// AbortLoad drops a load and its open files; their memory is released.
func (r *Runtime) AbortLoad(id int) {
	r.mu.Lock()
	l, ok := r.loads[id]
	delete(r.loads, id)
	var open []*fileWriter
	if ok {
		loadGC.resume(l.est, false)
		for fid := range l.files {
			open = append(open, r.files[fid])
			delete(r.files, fid)
		}
	}
	r.mu.Unlock()
	if ok {
		l.loader.Abort(fmt.Errorf("wasm: load %d aborted: %w", id, context.Canceled))
	}
	for _, f := range open {
		if f != nil {
			f.w.Close() // error expected: the load was aborted
		}
	}
	runtime.GC()
}

func (r *Runtime) getModel(id int) (*model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.models[id]
	if !ok {
		return nil, fmt.Errorf("wasm: model %d: %w", id, errNotFound)
	}
	return m, nil
}

// Info returns a loaded model's facts.
func (r *Runtime) Info(id int) (engine.Info, error) {
	m, err := r.getModel(id)
	if err != nil {
		return engine.Info{}, err
	}
	return m.info, nil
}

// Slopes returns the model's ALiBi slopes.
func (r *Runtime) Slopes(id int) ([]float32, error) {
	m, err := r.getModel(id)
	if err != nil {
		return nil, err
	}
	return m.m.Slopes(), nil
}

// Tokenize encodes text.
func (r *Runtime) Tokenize(id int, text string, addSpecial bool) ([]int, error) {
	m, err := r.getModel(id)
	if err != nil {
		return nil, err
	}
	ids, err := m.tok.Encode(text, addSpecial)
	if err != nil {
		return nil, fmt.Errorf("wasm: tokenize: %w", wrapFormat(err))
	}
	return ids, nil
}

// Detokenize decodes ids.
func (r *Runtime) Detokenize(id int, ids []int, skipSpecial bool) (string, error) {
	m, err := r.getModel(id)
	if err != nil {
		return "", err
	}
	if err := m.checkIDs(ids); err != nil {
		return "", err
	}
	s, err := m.tok.Decode(ids, skipSpecial)
	if err != nil {
		return "", fmt.Errorf("wasm: detokenize: %w", wrapFormat(err))
	}
	return s, nil
}

// TokenBytes returns the raw bytes of each id (the demo's tokens view).
func (r *Runtime) TokenBytes(id int, ids []int) ([][]byte, error) {
	m, err := r.getModel(id)
	if err != nil {
		return nil, err
	}
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, t := range ids {
		out[i] = m.tok.TokenBytes(t)
	}
	return out, nil
}

func (m *model) checkIDs(ids []int) error {
	for i, t := range ids {
		if t < 0 || t >= m.info.Vocab {
			return fmt.Errorf("wasm: id %d at %d outside the vocabulary of %d: %w", t, i, m.info.Vocab, engine.ErrFormat)
		}
	}
	return nil
}

// acquire takes the model for one operation, ending any active generation
// first (a model has one session; a new request supersedes the old one).
func (m *model) acquire() {
	m.op.Lock()
	if g := m.gen; g != nil {
		g.finish("superseded", context.Canceled)
		m.gen = nil
	}
	if m.sess == nil {
		m.sess = m.m.NewSession()
	}
}

// Logits returns the logits of the last position of ids (a fresh context),
// or of every position with all.
func (r *Runtime) Logits(ctx context.Context, id int, ids []int, all bool) ([][]float32, error) {
	m, err := r.getModel(id)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("wasm: logits: no ids: %w", engine.ErrFormat)
	}
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	m.acquire()
	defer m.op.Unlock()
	m.sess.Reset()
	defer m.sess.Reset()
	if all {
		out, err := m.sess.PrefillAll(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("wasm: logits: %w", err)
		}
		return out, nil
	}
	l, err := m.sess.Prefill(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("wasm: logits: %w", err)
	}
	return [][]float32{append([]float32(nil), l...)}, nil
}

// GenerateRequest holds the options of a generation.
type GenerateRequest struct {
	engine.SampleOptions
	MaxTokens   int
	StopIDs     []int
	StopStrings []string
	NoEOSStop   bool // keep generating past the end-of-sequence id
	SkipSpecial bool // streaming text leaves special tokens out
	// Attention, when set, attaches to each token the attention
	// probabilities of the newest query in layer AttentionLayer
	// (heads × context), for the demo's heatmap. Off, it costs nothing.
	Attention      bool
	AttentionLayer int
}

// Token is one step of a generation. Done reports the end (no new id);
// Reason is "length", "stop", "eos" or "superseded", and Text holds what the
// streaming decoder still held back (an incomplete UTF-8 sequence), if any.
type Token struct {
	ID        int
	Text      string
	Done      bool
	Reason    string
	Attention [][]float32 // heads × context, with GenerateRequest.Attention
}

type generation struct {
	id      int
	model   *model
	ctx     context.Context
	cancel  context.CancelFunc
	req     GenerateRequest
	prompt  []int
	history []int // prompt + generated ids (repetition penalty)
	stopIDs map[int]bool
	sampler *engine.Sampler
	dec     *tokenizer.StreamDecoder
	tail    string // recent text, for stop strings across tokens
	made    int
	last    int
	done    bool
	reason  string
	err     error
	attn    [][]float32 // the hook's last probabilities (copied)
}

// finish marks g done; called with the model's op lock held.
func (g *generation) finish(reason string, err error) {
	if !g.done {
		g.done, g.reason, g.err = true, reason, err
		g.cancel()
		if g.req.Attention && g.model.sess != nil {
			g.model.sess.SetAttentionHook(-1, nil)
		}
	}
}

// StartGenerate starts a generation from prompt ids; tokens come one per
// Next call, so the JavaScript event loop runs between tokens.
func (r *Runtime) StartGenerate(id int, prompt []int, req GenerateRequest) (int, error) {
	m, err := r.getModel(id)
	if err != nil {
		return 0, err
	}
	if len(prompt) == 0 {
		if m.info.BOS < 0 {
			return 0, fmt.Errorf("wasm: generate: empty prompt and the model has no BOS id: %w", engine.ErrFormat)
		}
		prompt = []int{m.info.BOS}
	}
	if err := m.checkIDs(prompt); err != nil {
		return 0, err
	}
	if req.MaxTokens < 0 {
		return 0, fmt.Errorf("wasm: generate: maxTokens %d: %w", req.MaxTokens, engine.ErrFormat)
	}
	if req.Attention && (req.AttentionLayer < 0 || req.AttentionLayer >= m.info.Layers) {
		return 0, fmt.Errorf("wasm: generate: attention layer %d: the model has layers 0..%d: %w", req.AttentionLayer, m.info.Layers-1, engine.ErrFormat)
	}
	stop := map[int]bool{}
	for _, s := range req.StopIDs {
		stop[s] = true
	}
	if !req.NoEOSStop && m.info.EOS >= 0 {
		stop[m.info.EOS] = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &generation{
		model: m, ctx: ctx, cancel: cancel, req: req,
		prompt:  append([]int(nil), prompt...),
		history: append(make([]int, 0, len(prompt)+req.MaxTokens), prompt...),
		stopIDs: stop,
		sampler: engine.NewSampler(req.SampleOptions),
		dec:     m.tok.NewDecoder(req.SkipSpecial),
	}
	m.acquire()
	m.gen = g
	if req.Attention {
		m.sess.SetAttentionHook(req.AttentionLayer, func(_ int, probs [][]float32) {
			if len(g.attn) != len(probs) {
				g.attn = make([][]float32, len(probs))
			}
			for h, p := range probs {
				g.attn[h] = append(g.attn[h][:0], p...)
			}
		})
	}
	m.op.Unlock()
	r.mu.Lock()
	g.id = r.newID()
	r.gens[g.id] = g
	r.mu.Unlock()
	return g.id, nil
}

// Next computes the next token of a generation (the prompt's prefill on
// the first call). After the generation ended it returns Done; after
// Cancel it returns an "aborted" error.
func (r *Runtime) Next(gid int) (Token, error) {
	r.mu.Lock()
	g, ok := r.gens[gid]
	r.mu.Unlock()
	if !ok {
		return Token{}, fmt.Errorf("wasm: generation %d: %w", gid, errNotFound)
	}
	m := g.model
	m.op.Lock()
	defer m.op.Unlock()
	t, err := g.step()
	if t.Done || err != nil {
		if m.gen == g {
			m.gen = nil
		}
		r.mu.Lock()
		delete(r.gens, gid)
		r.mu.Unlock()
	}
	return t, err
}

func (g *generation) step() (Token, error) {
	if g.done {
		if g.err != nil {
			return Token{}, fmt.Errorf("wasm: generate: %s: %w", g.reason, g.err)
		}
		return Token{Done: true, Reason: g.reason}, nil
	}
	if err := g.ctx.Err(); err != nil {
		g.finish("aborted", err)
		return Token{}, fmt.Errorf("wasm: generate: %w", err)
	}
	if g.req.MaxTokens > 0 && g.made >= g.req.MaxTokens {
		g.finish("length", nil)
		return Token{Done: true, Reason: "length"}, nil
	}
	sess := g.model.sess
	var logits []float32
	var err error
	if g.made == 0 {
		sess.Reset()
		logits, err = sess.Prefill(g.ctx, g.prompt)
	} else {
		logits, err = sess.Step(g.ctx, g.last)
	}
	if err != nil {
		g.finish("error", err)
		return Token{}, fmt.Errorf("wasm: generate: %w", err)
	}
	id := g.sampler.Sample(logits, g.history)
	if g.stopIDs[id] {
		reason := "stop"
		if id == g.model.info.EOS {
			reason = "eos"
		}
		g.finish(reason, nil)
		tail, _ := g.dec.Flush()
		return Token{Done: true, Reason: reason, Text: tail}, nil
	}
	g.history = append(g.history, id)
	g.last = id
	g.made++
	text, err := g.dec.Next(id)
	if err != nil {
		g.finish("error", err)
		return Token{}, fmt.Errorf("wasm: generate: decode id %d: %w", id, wrapFormat(err))
	}
	if len(g.req.StopStrings) > 0 {
		if cut, ok := g.stopString(text); ok {
			attn := g.attention()
			g.finish("stop", nil)
			return Token{ID: id, Text: cut, Attention: attn}, nil
		}
	}
	if g.req.MaxTokens > 0 && g.made >= g.req.MaxTokens {
		// The last token: bytes the decoder held back (an incomplete UTF-8
		// sequence) come out now, as Decode would show them.
		tail, err := g.dec.Flush()
		if err != nil {
			g.finish("error", err)
			return Token{}, fmt.Errorf("wasm: generate: decode: %w", wrapFormat(err))
		}
		text += tail
	}
	return Token{ID: id, Text: text, Attention: g.attention()}, nil
}

// attention returns a copy of the attention rows of the step just taken.
func (g *generation) attention() [][]float32 {
	if !g.req.Attention || g.attn == nil {
		return nil
	}
	out := make([][]float32, len(g.attn))
	for h, p := range g.attn {
		out[h] = append([]float32(nil), p...)
	}
	return out
}

// stopString looks for a stop string ending in the newly decoded text; it
// returns the part of text before the stop string.
func (g *generation) stopString(text string) (string, bool) {
	prev := g.tail
	all := prev + text
	best := -1
	longest := 0
	for _, s := range g.req.StopStrings {
		if s == "" {
			continue
		}
		if len(s) > longest {
			longest = len(s)
		}
		if i := strings.Index(all, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best >= 0 {
		if best < len(prev) {
			return "", true
		}
		return all[len(prev):best], true
	}
	// Keep just enough text to find a stop string split across tokens.
	if keep := longest - 1; len(all) > keep {
		all = all[len(all)-keep:]
	}
	g.tail = all
	return "", false
}

// Cancel aborts a generation: the next Next returns "aborted".
func (r *Runtime) Cancel(gid int) {
	r.mu.Lock()
	g, ok := r.gens[gid]
	r.mu.Unlock()
	if ok {
		g.cancel() // without the op lock: a running step sees ctx
	}
}

// Dispose releases a model.
func (r *Runtime) Dispose(id int) error {
	r.mu.Lock()
	m, ok := r.models[id]
	delete(r.models, id)
	for gid, g := range r.gens {
		if g.model == m {
			g.cancel()
			delete(r.gens, gid)
		}
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("wasm: model %d: %w", id, errNotFound)
	}
	m.op.Lock()
	m.sess, m.m, m.gen = nil, nil, nil
	m.op.Unlock()
	runtime.GC()
	return nil
}

// MemStats reports the Go heap (the JavaScript side adds the size of the
// wasm memory, which never shrinks).
type MemStats struct {
	HeapAlloc, HeapSys, Sys, TotalAlloc uint64
	SIMD                                bool
}

// Memory returns the runtime's memory statistics.
func (r *Runtime) Memory() MemStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return MemStats{HeapAlloc: ms.HeapAlloc, HeapSys: ms.HeapSys, Sys: ms.Sys, TotalAlloc: ms.TotalAlloc, SIMD: kernels.SIMD()}
}

// wrapFormat classifies an unclassified error as a format error.
func wrapFormat(err error) error {
	if engine.Kind(err) != "" || errors.Is(err, ErrIntegrity) {
		return err
	}
	return fmt.Errorf("%w: %w", err, engine.ErrFormat)
}

// MatVecBench is the result of BenchMatVec.
type MatVecBench struct {
	Rows, Cols, Iters int
	NsPerOp           float64
	GFLOPS            float64
	SIMD              bool
	Cold              bool // the matrices came from main memory, not the caches
}

// coldBytes is how much matrix data a cold BenchMatVec cycles through: far
// more than any CPU cache, as the weights of a decode step.
const coldBytes = 256 << 20

// BenchMatVec times kernels.MatVec on a rows x cols matrix (the kernel the
// decode step spends its time in) for at least minDur, after a warm-up
// that lets the JavaScript engine tier the code up. The kernel path is the
// one this instance selected: SIMD128 when the host bound the kernel
// module, pure Go otherwise. With cold, each call takes the next of enough
// distinct matrices to fill 256 MiB, so W streams from main memory as in a
// decode step; otherwise the one matrix stays in the caches.
func BenchMatVec(rows, cols int, minDur time.Duration, cold bool) (MatVecBench, error) {
	if rows <= 0 || cols <= 0 || rows*cols > 1<<26 {
		return MatVecBench{}, fmt.Errorf("wasm: bench: bad shape %dx%d: %w", rows, cols, engine.ErrFormat)
	}
	n := 1
	if cold {
		n = max(2, coldBytes/(4*rows*cols))
	}
	ws := make([][]float32, n)
	for k := range ws {
		w := make([]float32, rows*cols)
		for i := range w {
			w[i] = float32((i+k)%17-8) * 0.01
		}
		ws[k] = w
	}
	x := make([]float32, cols)
	dst := make([]float32, rows)
	for i := range x {
		x[i] = float32(i%5) * 0.1
	}
	// Warm up for as long as the timed run: V8 compiles wasm with a baseline
	// compiler first and tiers hot functions up in the background.
	k := 0
	warm := time.Now()
	for ; time.Since(warm) < minDur; k++ {
		kernels.MatVec(dst, ws[k%n], x)
	}
	// Read the clock once per batch of ~100µs of calls: on js/wasm each
	// time.Now is a call out to JavaScript (~0.2µs, 6% of a 256x256 SIMD
	// matvec), which is not the kernel's time.
	batch := max(1, int(int64(k)*int64(100*time.Microsecond)/max(1, int64(time.Since(warm)))))
	iters := 0
	start := time.Now()
	for time.Since(start) < minDur || iters < 10 {
		for range batch {
			kernels.MatVec(dst, ws[(k+iters)%n], x)
			iters++
		}
	}
	el := time.Since(start)
	ns := float64(el.Nanoseconds()) / float64(iters)
	return MatVecBench{Rows: rows, Cols: cols, Iters: iters, NsPerOp: ns, GFLOPS: 2 * float64(rows*cols) / ns, SIMD: kernels.SIMD(), Cold: cold}, nil
}
