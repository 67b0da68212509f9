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
	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
	"github.com/syumai/workers/cloudflare/r2"
)

func main() {
	b, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
	// syumai/workers registers binding.handleRequest; Ready tells the glue
	// this instance can take requests. It then serves for the life of the
	// isolate: workers.Serve would wait for workers.Done, which the library
	// closes after the first response it pipes (see bridge_js.go).
	workers.ServeNonBlock(b)
	workers.Ready()
	select {}
}

// setup builds the App from the glue's host object (the site index) and the
// Worker's environment (syumai/workers' cloudflare package: the R2 binding
// MODELS and the ALIBI_MODEL_DIR variable).
func setup() (*bridge, error) {
	global := safejs.Global()
	host, err := global.Get("__alibiEdge")
	if err != nil || host.IsUndefined() {
		return nil, fmt.Errorf("globalThis.__alibiEdge is missing: use edge/glue/worker.mjs")
	}
	indexJSON, err := getString(host, "index")
	if err != nil {
		return nil, err
	}
	idx, err := parseIndex([]byte(indexJSON))
	if err != nil {
		return nil, err
	}
	modelDir := cloudflare.Getenv("ALIBI_MODEL_DIR")
	if modelDir == "" {
		modelDir = "models/brown-bloom"
	}
	b := &bridge{host: host, reqs: map[string]context.CancelFunc{}}
	if v, err := host.Get("hasDigest"); err == nil {
		b.hasDigest, _ = v.Bool()
	}
	src := &indexedSource{idx: idx, assets: jsStore{b: b, store: "assets"}}
	if !cloudflare.GetBinding("MODELS").IsUndefined() {
		bucket, err := r2.NewBucket("MODELS")
		if err != nil {
			return nil, fmt.Errorf("R2 binding MODELS: %w", err)
		}
		src.models = jsStore{b: b, store: "r2"}
		src.r2stat = func(ctx context.Context, name string) (webserve.Entry, error) { return r2stat(bucket, name) }
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
		return nil, err
	}
	abort, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) == 1 {
			if id, err := args[0].String(); err == nil {
				b.abort(id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	api.Set("abort", abort.Value())
	if _, err := host.Call("register", api); err != nil {
		return nil, err
	}
	return b, nil
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
func r2stat(bucket *r2.Bucket, name string) (webserve.Entry, error) {
	o, err := bucket.Head(name)
	if err != nil {
		return webserve.Entry{}, fmt.Errorf("edge: r2 head %s: %w", name, err)
	}
	if o == nil {
		return webserve.Entry{}, fmt.Errorf("edge: %s: %w", name, fs.ErrNotExist)
	}
	return webserve.Entry{Size: int64(o.Size), ETag: o.HTTPETag}, nil
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
