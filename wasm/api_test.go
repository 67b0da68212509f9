package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/tokenizer"
)

const fixture = "../engine/testdata/bloom-f32-h4-l2"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture, name))
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	return b
}

// loadSplit loads the fixture through the Runtime, writing the weights in
// pieces of split bytes, and returns the runtime and the model handle.
func loadSplit(t *testing.T, split int, req LoadRequest) (*Runtime, int) {
	t.Helper()
	return loadWith(t, split, req, func(rt *Runtime, id int) error {
		_, err := rt.SetTokenizer(id, readFixture(t, "tokenizer.json"), false)
		return err
	})
}

// loadWith is loadSplit with setTok giving the load its tokenizer.
func loadWith(t *testing.T, split int, req LoadRequest, setTok func(rt *Runtime, id int) error) (*Runtime, int) {
	t.Helper()
	rt := NewRuntime()
	id, est, err := rt.BeginLoad(readFixture(t, "config.json"), req)
	if err != nil {
		t.Fatalf("BeginLoad: %v", err)
	}
	if est.Bytes <= 0 || est.Architecture != "bloom" {
		t.Fatalf("estimate %+v", est)
	}
	if err := setTok(rt, id); err != nil {
		t.Fatal(err)
	}
	st := readFixture(t, "model.safetensors")
	fid, err := rt.OpenFile(id, "model.safetensors", int64(len(st)), true)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(st); off += split {
		if err := rt.Write(fid, st[off:min(len(st), off+split)]); err != nil {
			t.Fatalf("Write at %d: %v", off, err)
		}
	}
	sum := sha256.Sum256(st)
	got, err := rt.CloseFile(fid, hex.EncodeToString(sum[:]))
	if err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("CloseFile: %q %v", got, err)
	}
	mid, info, err := rt.Finish(id)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if info.Vocab != 300 || info.Architecture != "bloom" {
		t.Fatalf("info %+v", info)
	}
	return rt, mid
}

func nativeModel(t *testing.T) (*engine.Model, *tokenizer.Tokenizer) {
	t.Helper()
	m, err := engine.LoadDir(fixture, engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(readFixture(t, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

var prompt = []int{88, 261, 36, 119, 113, 101, 112, 112}

func TestLoadAnySplitMatchesLoadDir(t *testing.T) {
	m, _ := nativeModel(t)
	want, err := m.NewSession().Prefill(context.Background(), prompt)
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []int{1 << 20, 4096, 1000, 7} {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			rt, mid := loadSplit(t, split, LoadRequest{})
			got, err := rt.Logits(context.Background(), mid, prompt, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || len(got[0]) != len(want) {
				t.Fatalf("shape %d x %d", len(got), len(got[0]))
			}
			for i := range want {
				if got[0][i] != want[i] {
					t.Fatalf("logit %d: %v, want %v", i, got[0][i], want[i])
				}
			}
			all, err := rt.Logits(context.Background(), mid, prompt, true)
			if err != nil || len(all) != len(prompt) {
				t.Fatalf("all: %d rows, %v", len(all), err)
			}
			if d := math.Abs(float64(all[len(all)-1][5] - want[5])); d > 1e-4 {
				t.Fatalf("all-positions last row differs by %v", d)
			}
		})
	}
}

// TestTokenizerCompact: the compact form SetTokenizer returns gives a load
// the same tokenizer as tokenizer.json; a malformed one is a format error
// that leaves the load waiting for its tokenizer.
func TestTokenizerCompact(t *testing.T) {
	tj := readFixture(t, "tokenizer.json")
	var compact []byte
	rtJ, midJ := loadWith(t, 1<<20, LoadRequest{}, func(rt *Runtime, id int) (err error) {
		compact, err = rt.SetTokenizer(id, tj, true)
		return err
	})
	if len(compact) == 0 {
		t.Fatal("no compact form for the fixture's BPE tokenizer")
	}
	rtC, midC := loadWith(t, 1<<20, LoadRequest{}, func(rt *Runtime, id int) error {
		// A truncated compact form first: refused, then the real one.
		err := rt.SetTokenizerCompact(id, compact[:len(compact)-3])
		if ErrorType(err) != TypeFormat {
			t.Fatalf("truncated compact form: %v, want a format error", err)
		}
		return rt.SetTokenizerCompact(id, compact)
	})
	for _, text := range []string{"The quick brown fox", "Hello, world! 123", "héhé ☃ 日本"} {
		want, err1 := rtJ.Tokenize(midJ, text, true)
		got, err2 := rtC.Tokenize(midC, text, true)
		if err1 != nil || err2 != nil || !slices.Equal(got, want) {
			t.Fatalf("%q: %v %v, want %v %v", text, got, err2, want, err1)
		}
	}
	// A tokenizer.json without a compact form answers nil.
	rt := NewRuntime()
	defer abortAll(rt)
	id, _, err := rt.BeginLoad(readFixture(t, "config.json"), LoadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	uni := []byte(`{"model":{"type":"WordLevel","vocab":{"a":0,"b":1},"unk_token":"a"}}`)
	if c, err := rt.SetTokenizer(id, uni, true); err != nil || c != nil {
		t.Fatalf("WordLevel: %d bytes, %v; want none", len(c), err)
	}
}

func TestGenerateMatchesSession(t *testing.T) {
	m, tok := nativeModel(t)
	var want []int
	opts := engine.GenerateOptions{MaxTokens: 12}
	if err := m.NewSession().Generate(context.Background(), prompt, opts, func(id int) error {
		want = append(want, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rt, mid := loadSplit(t, 1<<20, LoadRequest{})
	gid, err := rt.StartGenerate(mid, prompt, GenerateRequest{MaxTokens: 12, NoEOSStop: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	text := ""
	for {
		tk, err := rt.Next(gid)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Done {
			if tk.Reason != "length" {
				t.Fatalf("reason %q", tk.Reason)
			}
			break
		}
		got = append(got, tk.ID)
		text += tk.Text
	}
	if fmt.Sprint(got) != fmt.Sprint(want[:len(got)]) || len(got) != 12 {
		t.Fatalf("tokens %v, want %v", got, want)
	}
	wantText, err := tok.Decode(got, true)
	if err != nil {
		t.Fatal(err)
	}
	if text != wantText {
		t.Fatalf("streamed text %q, want %q", text, wantText)
	}
	if _, err := rt.Next(gid); err == nil {
		t.Fatal("Next after the end: want an error for the finished handle")
	}
}

func TestGenerateCancelAndSupersede(t *testing.T) {
	rt, mid := loadSplit(t, 1<<20, LoadRequest{})
	gid, err := rt.StartGenerate(mid, prompt, GenerateRequest{MaxTokens: 100, NoEOSStop: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Next(gid); err != nil {
		t.Fatal(err)
	}
	rt.Cancel(gid)
	if _, err := rt.Next(gid); ErrorType(err) != TypeAborted {
		t.Fatalf("after Cancel: %v (type %q), want aborted", err, ErrorType(err))
	}
	// A logits call ends an active generation; the model keeps working.
	g2, err := rt.StartGenerate(mid, prompt, GenerateRequest{MaxTokens: 100, NoEOSStop: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Next(g2); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Logits(context.Background(), mid, prompt, false); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Next(g2); ErrorType(err) != TypeAborted {
		t.Fatalf("superseded generation: %v, want aborted", err)
	}
}

func TestGenerateOptionsErrors(t *testing.T) {
	rt, mid := loadSplit(t, 1<<20, LoadRequest{})
	if _, err := rt.StartGenerate(mid, []int{5000}, GenerateRequest{}); ErrorType(err) != TypeFormat {
		t.Fatalf("id outside vocab: %v", err)
	}
	if _, err := rt.StartGenerate(mid+100, prompt, GenerateRequest{}); err == nil {
		t.Fatal("unknown model: want error")
	}
	info, _ := rt.Info(mid)
	long := make([]int, info.ContextLength+1)
	for i := range long {
		long[i] = 5
	}
	gid, err := rt.StartGenerate(mid, long, GenerateRequest{MaxTokens: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Next(gid); ErrorType(err) != TypeContext {
		t.Fatalf("prompt over the context: %v (type %q), want context", err, ErrorType(err))
	}
	if err := rt.Dispose(mid); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Tokenize(mid, "x", true); err == nil {
		t.Fatal("tokenize after Dispose: want error")
	}
}

func TestLoadErrors(t *testing.T) {
	cfg := readFixture(t, "config.json")
	st := readFixture(t, "model.safetensors")
	tests := []struct {
		name string
		run  func(rt *Runtime) error
		want string
	}{
		{"memory limit", func(rt *Runtime) error {
			_, _, err := rt.BeginLoad(cfg, LoadRequest{MemoryLimit: 1000})
			return err
		}, TypeMemory},
		{"bad quant", func(rt *Runtime) error {
			_, _, err := rt.BeginLoad(cfg, LoadRequest{Quant: "int3"})
			return err
		}, TypeUnsupported},
		{"unknown architecture", func(rt *Runtime) error {
			_, _, err := rt.BeginLoad([]byte(`{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_embd":8}`), LoadRequest{})
			return err
		}, TypeUnsupported},
		{"config not json", func(rt *Runtime) error {
			_, _, err := rt.BeginLoad([]byte(`{`), LoadRequest{})
			return err
		}, TypeFormat},
		{"truncated file", func(rt *Runtime) error {
			id, _, err := rt.BeginLoad(cfg, LoadRequest{})
			if err != nil {
				return err
			}
			fid, err := rt.OpenFile(id, "model.safetensors", -1, false)
			if err != nil {
				return err
			}
			if err := rt.Write(fid, st[:len(st)/2]); err != nil {
				return err
			}
			_, err = rt.CloseFile(fid, "")
			return err
		}, TypeFormat},
		{"wrong file hash", func(rt *Runtime) error {
			id, _, err := rt.BeginLoad(cfg, LoadRequest{})
			if err != nil {
				return err
			}
			fid, err := rt.OpenFile(id, "model.safetensors", int64(len(st)), true)
			if err != nil {
				return err
			}
			if err := rt.Write(fid, st); err != nil {
				return err
			}
			_, err = rt.CloseFile(fid, "00"+hex.EncodeToString(make([]byte, 31)))
			return err
		}, TypeIntegrity},
		{"finish without tokenizer", func(rt *Runtime) error {
			id, _, err := rt.BeginLoad(cfg, LoadRequest{})
			if err != nil {
				return err
			}
			_, _, err = rt.Finish(id)
			return err
		}, TypeFormat},
		{"write after abort", func(rt *Runtime) error {
			id, _, err := rt.BeginLoad(cfg, LoadRequest{})
			if err != nil {
				return err
			}
			fid, err := rt.OpenFile(id, "model.safetensors", int64(len(st)), true)
			if err != nil {
				return err
			}
			if err := rt.Write(fid, st[:100]); err != nil {
				return err
			}
			rt.AbortLoad(id)
			return rt.Write(fid, st[100:200])
		}, TypeFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := NewRuntime()
			defer abortAll(rt)
			err := tc.run(rt)
			if err == nil {
				t.Fatal("want an error")
			}
			if got := ErrorType(err); got != tc.want {
				t.Fatalf("type %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestErrorType(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", engine.ErrFormat), TypeFormat},
		{fmt.Errorf("x: %w", engine.ErrUnsupported), TypeUnsupported},
		{fmt.Errorf("x: %w", engine.ErrMemory), TypeMemory},
		{fmt.Errorf("x: %w", engine.ErrContext), TypeContext},
		{fmt.Errorf("x: %w", context.Canceled), TypeAborted},
		{fmt.Errorf("x: %w", ErrIntegrity), TypeIntegrity},
		{errors.New("plain"), TypeFormat},
	}
	for _, tc := range tests {
		if got := ErrorType(tc.err); got != tc.want {
			t.Errorf("ErrorType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestStopString(t *testing.T) {
	tests := []struct {
		stops  []string
		pieces []string
		want   []string // text returned per piece until the stop
		stopAt int      // index of the piece that stops, -1 none
	}{
		{[]string{"\n\n"}, []string{"a", "b\n", "\nc"}, []string{"", "", ""}, 2},
		{[]string{"END"}, []string{"xx E", "N", "Dyy"}, []string{"", "", ""}, 2},
		{[]string{"stop"}, []string{"hello ", "world"}, nil, -1},
		{[]string{"lo"}, []string{"hel", "lo"}, nil, 1},
		{[]string{"b"}, []string{"aab"}, []string{"aa"}, 0},
	}
	for i, tc := range tests {
		g := &generation{req: GenerateRequest{StopStrings: tc.stops}}
		stopped := -1
		for k, p := range tc.pieces {
			cut, ok := g.stopString(p)
			if ok {
				stopped = k
				if tc.want != nil && cut != tc.want[k] {
					t.Errorf("case %d piece %d: cut %q, want %q", i, k, cut, tc.want[k])
				}
				break
			}
		}
		if stopped != tc.stopAt {
			t.Errorf("case %d: stopped at %d, want %d", i, stopped, tc.stopAt)
		}
	}
}

func TestBenchMatVec(t *testing.T) {
	for _, cold := range []bool{false, true} {
		b, err := BenchMatVec(64, 128, time.Millisecond, cold)
		if err != nil {
			t.Fatal(err)
		}
		if b.Iters < 10 || b.NsPerOp <= 0 || b.GFLOPS <= 0 || b.Cold != cold {
			t.Fatalf("%+v", b)
		}
	}
	if _, err := BenchMatVec(0, 10, time.Millisecond, false); err == nil {
		t.Fatal("bad shape: want error")
	}
}

func TestGenerateAttention(t *testing.T) {
	rt, mid := loadSplit(t, 1<<20, LoadRequest{})
	info, _ := rt.Info(mid)
	if _, err := rt.StartGenerate(mid, prompt, GenerateRequest{MaxTokens: 3, Attention: true, AttentionLayer: info.Layers}); ErrorType(err) != TypeFormat {
		t.Fatalf("layer out of range: %v", err)
	}
	gid, err := rt.StartGenerate(mid, prompt, GenerateRequest{MaxTokens: 3, NoEOSStop: true, Attention: true, AttentionLayer: 1})
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 3; k++ {
		tk, err := rt.Next(gid)
		if err != nil || tk.Done {
			t.Fatalf("step %d: %+v %v", k, tk, err)
		}
		if len(tk.Attention) != info.Heads {
			t.Fatalf("step %d: %d attention rows, want %d heads", k, len(tk.Attention), info.Heads)
		}
		for h, row := range tk.Attention {
			if len(row) != len(prompt)+k {
				t.Fatalf("step %d head %d: %d positions, want %d", k, h, len(row), len(prompt)+k)
			}
			var sum float64
			for _, p := range row {
				sum += float64(p)
			}
			if math.Abs(sum-1) > 1e-3 {
				t.Fatalf("step %d head %d: probabilities sum to %v", k, h, sum)
			}
		}
	}
	// Without the option, tokens carry no attention and the hook is off again.
	gid, err = rt.StartGenerate(mid, prompt, GenerateRequest{MaxTokens: 1, NoEOSStop: true})
	if err != nil {
		t.Fatal(err)
	}
	if tk, err := rt.Next(gid); err != nil || tk.Attention != nil {
		t.Fatalf("attention without the option: %v %v", tk.Attention != nil, err)
	}
}

// abortAll aborts the loads a test left open.
func abortAll(rt *Runtime) {
	rt.mu.Lock()
	var ids []int
	for id := range rt.loads {
		ids = append(ids, id)
	}
	rt.mu.Unlock()
	for _, id := range ids {
		rt.AbortLoad(id)
	}
}

// gcPercent reads the GC percentage without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// settleGC runs the collection an earlier test's finished load waits for.
func settleGC(t *testing.T) {
	t.Helper()
	for i := 0; i < 200; i++ {
		loadGC.mu.Lock()
		waiting := loadGC.deferred
		loadGC.mu.Unlock()
		if !waiting {
			return
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the collector stays off after a collection")
}

func TestLoadPausesGC(t *testing.T) {
	settleGC(t)
	before, limit := gcPercent(), debug.SetMemoryLimit(-1)
	rt := NewRuntime()
	cfg := readFixture(t, "config.json")
	a, est, err := rt.BeginLoad(cfg, LoadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if p := gcPercent(); p != -1 {
		t.Fatalf("GC percent %d while a load is open, want -1 (off)", p)
	}
	// A soft limit still bounds what an open load can leave uncollected.
	if l := debug.SetMemoryLimit(-1); l >= limit || l < est.Bytes {
		t.Fatalf("memory limit %d during a load of %d bytes (was %d)", l, est.Bytes, limit)
	}
	b, _, err := rt.BeginLoad(cfg, LoadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rt.AbortLoad(a)
	if p := gcPercent(); p != -1 {
		t.Fatalf("GC percent %d with one load still open", p)
	}
	// The second load finishes (it fails: no tokenizer): the settings are back.
	if _, _, err := rt.Finish(b); err == nil {
		t.Fatal("Finish without a tokenizer succeeded")
	}
	if p, l := gcPercent(), debug.SetMemoryLimit(-1); p != before || l != limit {
		t.Fatalf("after the loads: GC percent %d, limit %d; want %d, %d", p, l, before, limit)
	}
	// A finished load leaves the collector off until its next cycle, which
	// the soft limit starts once loadGCSlack more is held: none at Finish.
	rt2, _ := loadSplit(t, 1<<20, LoadRequest{})
	_ = rt2
	if p := gcPercent(); p != -1 {
		t.Fatalf("after a finished load: GC percent %d, want -1", p)
	}
	if l := debug.SetMemoryLimit(-1); l >= limit {
		t.Fatalf("after a finished load: memory limit %d, want a limit below %d", l, limit)
	}
	// Finishing an unknown or finished load changes nothing.
	if _, _, err := rt.Finish(b); err == nil {
		t.Fatal("Finish of a finished load succeeded")
	}
	if p := gcPercent(); p != -1 {
		t.Fatalf("after a second Finish: GC percent %d, want -1", p)
	}
	// The first collection after it (here an explicit one; in use, the
	// soft limit starts it once loadGCSlack more is held) brings the
	// settings back.
	runtime.GC()
	waitRestored(t, before, limit)
	// A load that begins while the collector waits, and is aborted, restores
	// the settings of before the first load.
	rt3, _ := loadSplit(t, 1<<20, LoadRequest{})
	_ = rt3
	if p := gcPercent(); p != -1 {
		t.Fatalf("after a finished load: GC percent %d, want -1", p)
	}
	c, _, err := rt.BeginLoad(cfg, LoadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rt.AbortLoad(c)
	if p, l := gcPercent(), debug.SetMemoryLimit(-1); p != before || l != limit {
		t.Fatalf("after an aborted load: GC percent %d, limit %d; want %d, %d", p, l, before, limit)
	}
}

// waitRestored waits for the cleanup that runs after the first collection
// following a finished load (cleanups run in their own goroutine).
func waitRestored(t *testing.T, percent int, limit int64) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if p, l := gcPercent(), debug.SetMemoryLimit(-1); p == percent && l == limit {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("GC percent %d, limit %d after a collection; want %d, %d", gcPercent(), debug.SetMemoryLimit(-1), percent, limit)
}

func TestParseLoadRequest(t *testing.T) {
	for _, c := range []struct {
		in   string
		want LoadRequest
		err  string
	}{
		{"", LoadRequest{}, ""},
		{`{}`, LoadRequest{}, ""},
		{`{"quant":"int8","contextLength":512,"memoryLimit":4000000000}`, LoadRequest{"int8", 512, 4e9}, ""},
		{` {"quant":null,"contextLength":0,"other":[1,{"x":2}]} `, LoadRequest{}, ""},
		{`{"contextLength":512.5}`, LoadRequest{}, "contextLength"},
		{`{"contextLength":"512"}`, LoadRequest{}, "contextLength"},
		{`{"quant":8}`, LoadRequest{}, "quant"},
		{`{"memoryLimit":1e3}`, LoadRequest{}, "memoryLimit"},
		{`{"quant":"int8"`, LoadRequest{}, "end of JSON"},
		{`[1]`, LoadRequest{}, "not a JSON object"},
	} {
		got, err := parseLoadRequest(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, engine.ErrFormat) {
				t.Errorf("parseLoadRequest(%q) = %v, want a format error naming %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseLoadRequest(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestBeginLoadJSON(t *testing.T) {
	b := beginLoadJSON(3, Estimate{Architecture: "bl\"oom\n", Bytes: 1 << 40, Limit: 3_800_000_000})
	var got struct {
		Load         int
		Estimate     int64
		Limit        int64
		Architecture string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.Load != 3 || got.Estimate != 1<<40 || got.Limit != 3_800_000_000 || got.Architecture != "bl\"oom\n" {
		t.Fatalf("%s read back as %+v", b, got)
	}
}

// finishJSON must say what encoding/json says of the same values: a field
// added to engine.Info and not to finishJSON fails here.
func TestFinishJSON(t *testing.T) {
	in := engine.Info{Architecture: "bloom", Parameters: 1 << 33, ContextLength: 2048, TrainingContext: 4096, Layers: 24,
		Heads: 16, Hidden: 1024, Vocab: 250880, Quant: engine.Quant("int8"), WeightBytes: 1 << 31, BOS: 1, EOS: -1}
	want, err := json.Marshal(struct {
		Model int         `json:"model"`
		Info  engine.Info `json:"info"`
	}{7, in})
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	got := finishJSON(7, in)
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("finishJSON:\n%s\nencoding/json:\n%s", got, want)
	}
}
