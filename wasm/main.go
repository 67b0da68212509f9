//go:build js && wasm

package main

// JavaScript marshalling for the Runtime in api.go, through
// github.com/hack-pad/safejs (no raw syscall/js). The functions are set on
// one namespace object, globalThis.__alibi, which web/worker.js reads right
// after go.run() returns control. Conventions, kept deliberately small:
//   - every function returns a Promise and does its work in a goroutine;
//     arguments are read synchronously, before the call returns;
//   - numbers are handles or counts, strings are text or JSON documents,
//     byte payloads and id/float arrays travel as Uint8Array (little-endian
//     views of Int32Array / Float32Array on the JavaScript side);
//   - a rejection is an Error whose .type is one of DESIGN.md §6, and a
//     panic in the engine is recovered and turned into a rejection.

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/c9e48c40/alibi/engine"
	"github.com/hack-pad/safejs"
)

const namespace = "__alibi"

var (
	jsPromise    safejs.Value
	jsError      safejs.Value
	jsUint8Array safejs.Value
)

type handler func(args []safejs.Value) (func() (any, error), error)

func main() {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "alibi wasm:", err)
		os.Exit(1)
	}
	select {}
}

func setup() error {
	g := safejs.Global()
	var err error
	for name, dst := range map[string]*safejs.Value{"Promise": &jsPromise, "Error": &jsError, "Uint8Array": &jsUint8Array} {
		if *dst, err = g.Get(name); err != nil {
			return fmt.Errorf("global %s: %w", name, err)
		}
	}
	obj, err := g.Get("Object")
	if err != nil {
		return err
	}
	ns, err := obj.New()
	if err != nil {
		return err
	}
	if err := ns.Set("protocol", ProtocolVersion); err != nil {
		return err
	}
	rt := NewRuntime()
	for name, h := range handlers(rt) {
		f, err := safejs.FuncOf(wrap(name, h))
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		if err := ns.Set(name, f.Value()); err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
	}
	return g.Set(namespace, ns)
}

// wrap turns a handler into a JavaScript function returning a Promise.
func wrap(name string, h handler) func(safejs.Value, []safejs.Value) any {
	return func(_ safejs.Value, args []safejs.Value) (ret any) {
		var work func() (any, error)
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("wasm: %s: internal error: %v: %w", name, r, engine.ErrFormat)
				}
			}()
			work, err = h(args)
		}()
		if err != nil {
			work = func() (any, error) { return nil, err }
		}
		return newPromise(name, work)
	}
}

func newPromise(name string, work func() (any, error)) any {
	var resolve, reject safejs.Value
	exec, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		resolve, reject = args[0], args[1]
		return nil
	})
	if err != nil {
		return nil
	}
	defer exec.Release()
	p, err := jsPromise.New(exec.Value())
	if err != nil {
		return nil
	}
	go func() {
		growStack()
		var v any
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("wasm: %s: internal error: %v: %w", name, r, engine.ErrFormat)
				}
			}()
			v, err = work()
		}()
		if err != nil {
			e, jerr := jsError.New(err.Error())
			if jerr == nil {
				e.Set("type", ErrorType(err))
				e.Set("name", "AlibiError")
				reject.Invoke(e)
			} else {
				reject.Invoke(err.Error())
			}
			return
		}
		if _, err := resolve.Invoke(v); err != nil {
			reject.Invoke(err.Error())
		}
	}()
	return p
}

func argInt(args []safejs.Value, i int) (int, error) {
	if i >= len(args) {
		return 0, fmt.Errorf("wasm: missing argument %d: %w", i, engine.ErrFormat)
	}
	n, err := args[i].Int()
	if err != nil {
		return 0, fmt.Errorf("wasm: argument %d: %w: %w", i, err, engine.ErrFormat)
	}
	return n, nil
}

func argString(args []safejs.Value, i int) (string, error) {
	if i >= len(args) {
		return "", fmt.Errorf("wasm: missing argument %d: %w", i, engine.ErrFormat)
	}
	s, err := args[i].String()
	if err != nil {
		return "", fmt.Errorf("wasm: argument %d: %w: %w", i, err, engine.ErrFormat)
	}
	return s, nil
}

func argBool(args []safejs.Value, i int) bool {
	if i >= len(args) {
		return false
	}
	b, err := args[i].Truthy()
	return err == nil && b
}

// argReader decodes a handler's arguments: the first error sticks, and the
// handler checks err once before it returns its work.
type argReader struct {
	args []safejs.Value
	err  error
}

func (a *argReader) int(i int) int {
	if a.err != nil {
		return 0
	}
	n, err := argInt(a.args, i)
	a.err = err
	return n
}

func (a *argReader) str(i int) string {
	if a.err != nil {
		return ""
	}
	v, err := argString(a.args, i)
	a.err = err
	return v
}

func (a *argReader) ids(i int) []int {
	if a.err != nil {
		return nil
	}
	v, err := argIDs(a.args, i)
	a.err = err
	return v
}

func (a *argReader) bytes(i int) []byte {
	if a.err != nil {
		return nil
	}
	v, err := argBytes(a.args, i, nil)
	a.err = err
	return v
}

// argBytes copies a Uint8Array argument into dst (grown when too small).
func argBytes(args []safejs.Value, i int, dst []byte) ([]byte, error) {
	if i >= len(args) {
		return nil, fmt.Errorf("wasm: missing argument %d: %w", i, engine.ErrFormat)
	}
	lv, err := args[i].Get("byteLength")
	if err != nil {
		return nil, fmt.Errorf("wasm: argument %d: %w: %w", i, err, engine.ErrFormat)
	}
	n, err := lv.Int()
	if err != nil {
		return nil, fmt.Errorf("wasm: argument %d is not a Uint8Array: %w", i, engine.ErrFormat)
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if n == 0 {
		return dst, nil
	}
	if _, err := safejs.CopyBytesToGo(dst, args[i]); err != nil {
		return nil, fmt.Errorf("wasm: argument %d is not a Uint8Array: %w: %w", i, err, engine.ErrFormat)
	}
	return dst, nil
}

// writeWindow is the most bytes of a write copied into Go memory at once.
const writeWindow = 1 << 20

// argByteLength returns a Uint8Array argument and its length.
func argByteLength(args []safejs.Value, i int) (safejs.Value, int, error) {
	if i >= len(args) {
		return safejs.Value{}, 0, fmt.Errorf("wasm: missing argument %d: %w", i, engine.ErrFormat)
	}
	lv, err := args[i].Get("byteLength")
	if err != nil {
		return safejs.Value{}, 0, fmt.Errorf("wasm: argument %d: %w: %w", i, err, engine.ErrFormat)
	}
	n, err := lv.Int()
	if err != nil {
		return safejs.Value{}, 0, fmt.Errorf("wasm: argument %d is not a Uint8Array: %w", i, engine.ErrFormat)
	}
	return args[i], n, nil
}

// writeWindows copies the n bytes of the Uint8Array src into Go memory
// len(buf) bytes at a time and writes them to file fid.
func writeWindows(rt *Runtime, fid int, src safejs.Value, n int, buf []byte) error {
	if n == 0 {
		return rt.Write(fid, nil)
	}
	for off := 0; off < n; off += len(buf) {
		end := min(n, off+len(buf))
		win := src
		if off > 0 || end < n {
			var err error
			if win, err = src.Call("subarray", off, end); err != nil {
				return fmt.Errorf("wasm: write: %w: %w", err, engine.ErrFormat)
			}
		}
		k, err := safejs.CopyBytesToGo(buf[:end-off], win)
		if err != nil || k != end-off {
			return fmt.Errorf("wasm: write: the argument is not a Uint8Array: %w", engine.ErrFormat)
		}
		if err := rt.Write(fid, buf[:k]); err != nil {
			return err
		}
	}
	return nil
}

// argIDs reads a Uint8Array holding little-endian int32 ids.
func argIDs(args []safejs.Value, i int) ([]int, error) {
	b, err := argBytes(args, i, nil)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("wasm: argument %d: %d bytes is not a list of int32 ids: %w", i, len(b), engine.ErrFormat)
	}
	ids := make([]int, len(b)/4)
	for k := range ids {
		ids[k] = int(int32(binary.LittleEndian.Uint32(b[4*k:])))
	}
	return ids, nil
}

func argGenerateOptions(args []safejs.Value, i int) (jsGenerateOptions, error) {
	s, err := argString(args, i)
	if err != nil {
		return jsGenerateOptions{}, err
	}
	o, err := parseGenerateOptions(s)
	if err != nil {
		return o, fmt.Errorf("wasm: argument %d: %w: %w", i, err, engine.ErrFormat)
	}
	return o, nil
}

func toJSBytes(b []byte) (any, error) {
	u, err := jsUint8Array.New(len(b))
	if err != nil {
		return nil, fmt.Errorf("wasm: %w: %w", err, engine.ErrMemory)
	}
	if len(b) > 0 {
		if _, err := safejs.CopyBytesToJS(u, b); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func idsBytes(ids []int) []byte {
	b := make([]byte, 4*len(ids))
	for k, id := range ids {
		binary.LittleEndian.PutUint32(b[4*k:], uint32(int32(id)))
	}
	return b
}

func floatsBytes(rows [][]float32) []byte {
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	b := make([]byte, 0, 4*n)
	for _, r := range rows {
		for _, f := range r {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	return b
}

// setTokenizer's flags.
const (
	tokenizerCompact     = 1 // the bytes are a compact form
	tokenizerWantCompact = 2 // answer with the compact form
)

func handlers(rt *Runtime) map[string]handler {
	var scratch []byte // reused by write while scratchMu is held
	var scratchMu sync.Mutex
	return map[string]handler{
		// beginLoad(configJSON string, optionsJSON string) -> JSON {load, estimate, limit, architecture}
		"beginLoad": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			cfg := a.str(0)
			if a.err != nil {
				return nil, a.err
			}
			opts, err := argString(args, 1)
			if err != nil {
				return nil, err
			}
			o, err := parseLoadRequest(opts)
			if err != nil {
				return nil, err
			}
			return func() (any, error) {
				id, est, err := rt.BeginLoad([]byte(cfg), o)
				if err != nil {
					return nil, err
				}
				return string(beginLoadJSON(id, est)), nil
			}, nil
		},
		// setTokenizer(load, bytes Uint8Array, flags) -> Uint8Array or null:
		// bytes are tokenizer.json, or with flags&1 the compact form an
		// earlier call returned; with flags&2 (and tokenizer.json) the
		// answer is the compact form, null when the tokenizer has none.
		"setTokenizer": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			b := a.bytes(1)
			flags := 0
			if len(args) > 2 {
				flags = a.int(2)
			}
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) {
				if flags&tokenizerCompact != 0 {
					return nil, rt.SetTokenizerCompact(id, b)
				}
				c, err := rt.SetTokenizer(id, b, flags&tokenizerWantCompact != 0)
				if err != nil || c == nil {
					return nil, err
				}
				return toJSBytes(c)
			}, nil
		},
		// setIndex(load, indexJSON Uint8Array)
		"setIndex": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			b := a.bytes(1)
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) { return nil, rt.SetIndex(id, b) }, nil
		},
		// openFile(load, name, size or -1, hash) -> file handle
		"openFile": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			name := a.str(1)
			size := -1
			if len(args) > 2 && !args[2].IsUndefined() {
				size = a.int(2)
			}
			if a.err != nil {
				return nil, a.err
			}
			hash := argBool(args, 3)
			return func() (any, error) { return rt.OpenFile(id, name, int64(size), hash) }, nil
		},
		// write(file, bytes Uint8Array)
		"write": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			fid := a.int(0)
			if a.err != nil {
				return nil, a.err
			}
			// The bytes are copied into Go memory and written window by window,
			// so a piece of any size costs only writeWindow bytes of scratch
			// (the JavaScript side keeps the array untouched until the promise
			// settles). The worker awaits each write, so one scratch buffer
			// serves all of them; a caller that does not wait gets its own.
			src, n, err := argByteLength(args, 1)
			if err != nil {
				return nil, err
			}
			return func() (any, error) {
				var buf []byte
				if scratchMu.TryLock() {
					defer scratchMu.Unlock()
					if scratch == nil {
						scratch = make([]byte, writeWindow)
					}
					buf = scratch
				} else {
					buf = make([]byte, min(n, writeWindow))
				}
				return nil, writeWindows(rt, fid, src, n, buf)
			}, nil
		},
		// closeFile(file, wantSHA256 or "") -> hex sha256
		"closeFile": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			fid := a.int(0)
			want := ""
			if len(args) > 1 && !args[1].IsUndefined() && !args[1].IsNull() {
				want = a.str(1)
			}
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) { return rt.CloseFile(fid, want) }, nil
		},
		// finish(load) -> JSON {model, info}
		"finish": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) {
				mid, info, err := rt.Finish(id)
				if err != nil {
					return nil, err
				}
				return string(finishJSON(mid, info)), nil
			}, nil
		},
		// abortLoad(load)
		"abortLoad": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) { rt.AbortLoad(id); return nil, nil }, nil
		},
		// tokenize(model, text, addSpecial) -> Uint8Array of int32
		"tokenize": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			text := a.str(1)
			if a.err != nil {
				return nil, a.err
			}
			add := len(args) < 3 || args[2].IsUndefined() || argBool(args, 2)
			return func() (any, error) {
				ids, err := rt.Tokenize(id, text, add)
				if err != nil {
					return nil, err
				}
				return toJSBytes(idsBytes(ids))
			}, nil
		},
		// detokenize(model, ids Uint8Array, skipSpecial) -> string
		"detokenize": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			ids := a.ids(1)
			if a.err != nil {
				return nil, a.err
			}
			skip := argBool(args, 2)
			return func() (any, error) { return rt.Detokenize(id, ids, skip) }, nil
		},
		// tokenBytes(model, ids) -> JSON [[bytes...], ...]
		"tokenBytes": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			ids := a.ids(1)
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) {
				bs, err := rt.TokenBytes(id, ids)
				if err != nil {
					return nil, err
				}
				out := make([][]int, len(bs))
				for i, b := range bs {
					out[i] = make([]int, len(b))
					for k, c := range b {
						out[i][k] = int(c)
					}
				}
				return string(appendJSONInts(nil, out)), nil
			}, nil
		},
		// logits(model, ids, all) -> Uint8Array of float32 (vocab floats per position)
		"logits": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			ids := a.ids(1)
			if a.err != nil {
				return nil, a.err
			}
			all := argBool(args, 2)
			return func() (any, error) {
				rows, err := rt.Logits(context.Background(), id, ids, all)
				if err != nil {
					return nil, err
				}
				return toJSBytes(floatsBytes(rows))
			}, nil
		},
		// startGenerate(model, promptIDs, optionsJSON) -> generation handle
		"startGenerate": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			ids := a.ids(1)
			if a.err != nil {
				return nil, a.err
			}
			o, err := argGenerateOptions(args, 2)
			if err != nil {
				return nil, err
			}
			req := GenerateRequest{
				SampleOptions: engine.SampleOptions{TopK: o.TopK, TopP: o.TopP, MinP: o.MinP,
					RepetitionPenalty: o.RepetitionPenalty, Seed: o.Seed},
				MaxTokens: o.MaxTokens, StopIDs: o.StopIDs, StopStrings: o.StopStrings,
				NoEOSStop: o.IgnoreEOS, SkipSpecial: o.SkipSpecial == nil || *o.SkipSpecial,
			}
			if o.Temperature != nil {
				req.Temperature = *o.Temperature
			}
			if o.AttentionLayer != nil && *o.AttentionLayer >= 0 {
				req.Attention, req.AttentionLayer = true, *o.AttentionLayer
			}
			return func() (any, error) { return rt.StartGenerate(id, ids, req) }, nil
		},
		// next(generation) -> JSON {id, text, done, reason}
		"next": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			gid := a.int(0)
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) {
				t, err := rt.Next(gid)
				if err != nil {
					return nil, err
				}
				return tokenJSON(t), nil
			}, nil
		},
		// cancel(generation)
		"cancel": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			gid := a.int(0)
			if a.err != nil {
				return nil, a.err
			}
			rt.Cancel(gid) // synchronously: before any queued next runs
			return func() (any, error) { return nil, nil }, nil
		},
		// slopes(model) -> Uint8Array of float32
		"slopes": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) {
				s, err := rt.Slopes(id)
				if err != nil {
					return nil, err
				}
				return toJSBytes(floatsBytes([][]float32{s}))
			}, nil
		},
		// dispose(model)
		"dispose": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			id := a.int(0)
			if a.err != nil {
				return nil, a.err
			}
			return func() (any, error) { return nil, rt.Dispose(id) }, nil
		},
		// benchMatVec(rows, cols, ms, cold) -> JSON {rows, cols, iters, nsPerOp, gflops, simd, cold}
		"benchMatVec": func(args []safejs.Value) (func() (any, error), error) {
			a := argReader{args: args}
			rows := a.int(0)
			cols := a.int(1)
			ms := a.int(2)
			if a.err != nil {
				return nil, a.err
			}
			cold := argBool(args, 3)
			return func() (any, error) {
				b, err := BenchMatVec(rows, cols, time.Duration(ms)*time.Millisecond, cold)
				if err != nil {
					return nil, err
				}
				var o jsonObject
				o.Int("rows", int64(b.Rows))
				o.Int("cols", int64(b.Cols))
				o.Int("iters", int64(b.Iters))
				o.Float("nsPerOp", b.NsPerOp)
				o.Float("gflops", b.GFLOPS)
				o.Bool("simd", b.SIMD)
				o.Bool("cold", b.Cold)
				return o.Done(), nil
			}, nil
		},
		// memory() -> JSON {heapAlloc, heapSys, sys, totalAlloc, simd}
		"memory": func(args []safejs.Value) (func() (any, error), error) {
			return func() (any, error) {
				m := rt.Memory()
				return memoryJSON(m), nil
			}, nil
		},
	}
}

// growStack grows the calling goroutine's stack to callStack bytes in one
// step while it is shallow. A goroutine starts with 2 KB here; a call that
// parses JSON or loads a tokenizer doubles it several times, and every
// doubling copies the stack frame by frame (runtime.pcvalue per frame), code
// that otherwise runs hot enough during a load for V8 to compile it again
// with its optimizing compiler while the load runs.
//
//go:noinline
func growStack() {
	var frame [callStack]byte
	stackSink(frame[:])
}

const callStack = 32 << 10

//go:noinline
func stackSink(b []byte) {
	if len(b) == 1 { // never: keeps frame live
		println(b[0])
	}
}
