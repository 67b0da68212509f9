//go:build js && wasm

package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/c9e48c40/alibi/internal/webserve"
	"github.com/hack-pad/safejs"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
	select {} // serve for the life of the isolate
}

func run() error {
	global := safejs.Global()
	host, err := global.Get("__alibiEdge")
	if err != nil || host.IsUndefined() {
		return fmt.Errorf("globalThis.__alibiEdge is missing: use edge/glue/worker.mjs")
	}
	indexJSON, err := getString(host, "index")
	if err != nil {
		return err
	}
	idx, err := parseIndex([]byte(indexJSON))
	if err != nil {
		return err
	}
	modelDir, err := getString(host, "modelDir")
	if err != nil {
		return err
	}
	hasR2 := false
	if v, err := host.Get("hasR2"); err == nil {
		hasR2, _ = v.Bool()
	}
	b := &bridge{host: host, reqs: map[int]*jsResponse{}}
	if v, err := host.Get("hasDigest"); err == nil {
		b.hasDigest, _ = v.Bool()
	}
	src := &indexedSource{idx: idx, assets: jsStore{b: b, store: "assets"}}
	if hasR2 {
		src.models = jsStore{b: b, store: "r2"}
		src.r2stat = b.r2stat
	}
	b.app = NewApp(src, modelDir)
	b.app.Logf = b.logf
	b.app.Yield = b.yield
	b.app.StatusExtra = func() map[string]any {
		out := map[string]any{}
		if st, err := host.Get("stats"); err == nil && !st.IsUndefined() {
			for _, k := range []string{"instances", "startMs"} {
				if v, err := st.Get(k); err == nil {
					if f, err := v.Float(); err == nil {
						out["go_"+k] = f
					}
				}
			}
		}
		return out
	}

	api, err := safejs.ValueOf(map[string]any{})
	if err != nil {
		return err
	}
	handle, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) != 4 {
			return nil
		}
		id, _ := args[0].Int()
		reqJSON, _ := args[1].String()
		var body []byte
		if !args[2].IsNull() && !args[2].IsUndefined() {
			n, _ := args[2].Length()
			body = make([]byte, n)
			safejs.CopyBytesToGo(body, args[2])
		}
		go b.handle(id, reqJSON, body, args[3])
		return nil
	})
	if err != nil {
		return err
	}
	pull, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) != 2 {
			return nil
		}
		id, _ := args[0].Int()
		go b.pull(id, args[1])
		return nil
	})
	if err != nil {
		return err
	}
	abort, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) != 1 {
			return nil
		}
		id, _ := args[0].Int()
		b.abort(id)
		return nil
	})
	if err != nil {
		return err
	}
	api.Set("handle", handle.Value())
	api.Set("pull", pull.Value())
	api.Set("abort", abort.Value())
	_, err = host.Call("register", api)
	return err
}

func getString(v safejs.Value, key string) (string, error) {
	x, err := v.Get(key)
	if err != nil {
		return "", err
	}
	s, err := x.String()
	if err != nil {
		return "", fmt.Errorf("host.%s: %w", key, err)
	}
	return s, nil
}

// yield gives the JS event loop a macrotask turn.
func (b *bridge) yield(ctx context.Context) {
	p, err := b.host.Call("yield")
	if err == nil {
		await(ctx, p)
	}
}

// r2stat looks a model file up in the R2 bucket (files the index lacks).
func (b *bridge) r2stat(ctx context.Context, name string) (webserve.Entry, error) {
	p, err := b.host.Call("r2head", name)
	if err != nil {
		return webserve.Entry{}, err
	}
	v, err := await(ctx, p)
	if err != nil {
		return webserve.Entry{}, fmt.Errorf("edge: r2 head %s: %w", name, err)
	}
	if v.IsNull() || v.IsUndefined() {
		return webserve.Entry{}, fmt.Errorf("edge: %s: %w", name, fs.ErrNotExist)
	}
	sz, err := v.Get("size")
	if err != nil {
		return webserve.Entry{}, err
	}
	size, err := sz.Float()
	if err != nil {
		return webserve.Entry{}, err
	}
	etag, _ := getString(v, "etag")
	return webserve.Entry{Size: int64(size), ETag: etag}, nil
}

// jsStore opens byte ranges of the Worker's stores ("assets" or "r2").
type jsStore struct {
	b     *bridge
	store string
}

func (s jsStore) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	return &jsBody{ctx: ctx, b: s.b, store: s.store, key: name, off: off, n: n, reader: safejs.Undefined()}, nil
}

// jsBody is a range of a stored file. Copied to a jsResponse it becomes a
// reference the glue streams itself; read from Go (model loading) it
// streams the bytes through a ReadableStream reader.
type jsBody struct {
	ctx     context.Context
	b       *bridge
	store   string
	key     string
	off, n  int64
	reader  safejs.Value
	pending []byte
	eof     bool
	passed  bool
}

func (j *jsBody) Read(p []byte) (int, error) {
	if j.passed {
		return 0, io.EOF
	}
	if j.reader.IsUndefined() {
		pr, err := j.b.host.Call("open", j.store, j.key, float64(j.off), float64(j.n))
		if err != nil {
			return 0, fmt.Errorf("edge: open %s: %w", j.key, err)
		}
		r, err := await(j.ctx, pr)
		if err != nil {
			return 0, fmt.Errorf("edge: open %s: %w", j.key, err)
		}
		if r.IsNull() || r.IsUndefined() {
			return 0, fmt.Errorf("edge: open %s: %w", j.key, fs.ErrNotExist)
		}
		j.reader = r
	}
	for len(j.pending) == 0 {
		if j.eof {
			return 0, io.EOF
		}
		pr, err := j.reader.Call("read")
		if err != nil {
			return 0, fmt.Errorf("edge: read %s: %w", j.key, err)
		}
		res, err := await(j.ctx, pr)
		if err != nil {
			return 0, fmt.Errorf("edge: read %s: %w", j.key, err)
		}
		done, _ := res.Get("done")
		if d, _ := done.Bool(); d {
			j.eof = true
			continue
		}
		val, err := res.Get("value")
		if err != nil {
			return 0, err
		}
		ln, err := val.Length()
		if err != nil {
			return 0, err
		}
		buf := make([]byte, ln)
		if _, err := safejs.CopyBytesToGo(buf, val); err != nil {
			return 0, err
		}
		j.pending = buf
	}
	n := copy(p, j.pending)
	j.pending = j.pending[n:]
	return n, nil
}

// SHA256 implements digester: the hex SHA-256 of everything read, computed
// by the JS runtime (crypto.DigestStream) as the bytes went by.
func (j *jsBody) SHA256() (string, bool, error) {
	if !j.b.hasDigest || j.reader.IsUndefined() || !j.eof {
		return "", false, nil
	}
	p, err := j.reader.Call("sha256")
	if err != nil {
		return "", false, err
	}
	v, err := await(j.ctx, p)
	if err != nil {
		return "", false, err
	}
	if v.IsNull() || v.IsUndefined() {
		return "", false, nil
	}
	s, err := v.String()
	return s, err == nil, err
}

// CanDigest reports whether SHA256 will be available after reading.
func (j *jsBody) CanDigest() bool { return j.b.hasDigest }

func (j *jsBody) Close() error {
	if !j.reader.IsUndefined() && !j.eof {
		j.reader.Call("cancel")
	}
	return nil
}
