//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/hack-pad/safejs"
)

// The bridge between the glue (edge/glue/worker.mjs) and the App. The glue
// keeps this Go instance alive for the isolate's life and calls, through
// the object Go registers:
//
//	handle(id, reqJSON, body Uint8Array|null, respond)  respond(metaJSON, bytes|null)
//	pull(id, deliver)                                  deliver(Uint8Array|null)  (null: end)
//	abort(id)                                          client gone: cancel the request
//
// reqJSON is {"method", "url", "headers": [[k, v], ...]}; metaJSON is
// {"status", "headers": [[k, v], ...], "body": "none"|"bytes"|"ref"|"stream",
// "ref": {"store", "key", "offset", "length"}}. A "ref" body is streamed by
// the glue straight from the store (no copy through Go memory); a "stream"
// body is pulled chunk by chunk (server-sent events).
//
// Go calls back into the host object the glue put on globalThis.__alibiEdge:
// open(store, key, offset, length) -> Promise<ReadableStreamDefaultReader>,
// r2head(key) -> Promise<{size, etag}|null>, yield() -> Promise (a
// macrotask), log(text).

type bridge struct {
	host      safejs.Value
	app       *App
	hasDigest bool // the host computes SHA-256 of store reads (crypto.DigestStream)

	mu   sync.Mutex
	reqs map[int]*jsResponse
}

type reqMeta struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
}

type respMeta struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
	Ref     *bodyRef    `json:"ref,omitempty"`
}

type bodyRef struct {
	Store  string `json:"store"`
	Key    string `json:"key"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

func (b *bridge) logf(format string, args ...any) {
	b.host.Call("log", fmt.Sprintf(format, args...))
}

// handle runs one request on its own goroutine.
func (b *bridge) handle(id int, reqJSON string, body []byte, respond safejs.Value) {
	var m reqMeta
	if err := json.Unmarshal([]byte(reqJSON), &m); err != nil {
		b.respondError(respond, err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, m.Method, m.URL, bytes.NewReader(body))
	if err != nil {
		cancel()
		b.respondError(respond, err)
		return
	}
	for _, kv := range m.Headers {
		req.Header.Add(kv[0], kv[1])
	}
	req.ContentLength = int64(len(body))
	req.RequestURI = req.URL.RequestURI()
	w := &jsResponse{b: b, id: id, header: http.Header{}, respond: respond, ctx: ctx, cancel: cancel,
		chunks: make(chan []byte, 4)}
	b.mu.Lock()
	b.reqs[id] = w
	b.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			b.logf("edge: panic serving %s: %v", m.URL, p)
			if !w.resolved {
				w.status, w.header = 500, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
				w.buf.Reset()
				w.buf.WriteString("internal error\n")
			}
		}
		w.finish()
	}()
	b.app.ServeHTTP(w, req)
}

func (b *bridge) respondError(respond safejs.Value, err error) {
	meta, _ := json.Marshal(respMeta{Status: 500, Headers: [][2]string{{"Content-Type", "text/plain; charset=utf-8"}}, Body: "none"})
	b.logf("edge: bad request from glue: %v", err)
	respond.Invoke(string(meta), safejs.Null())
}

func (b *bridge) lookup(id int) *jsResponse {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reqs[id]
}

func (b *bridge) forget(id int) {
	b.mu.Lock()
	delete(b.reqs, id)
	b.mu.Unlock()
}

// jsResponse is the http.ResponseWriter of one request. It buffers until
// the handler returns or flushes; a flush switches to streaming, where each
// write becomes a chunk the glue pulls.
type jsResponse struct {
	b       *bridge
	id      int
	header  http.Header
	status  int
	buf     bytes.Buffer
	ref     *bodyRef
	respond safejs.Value
	ctx     context.Context
	cancel  context.CancelFunc

	resolved  bool // respond was called (under b.mu for streaming state)
	streaming bool
	chunks    chan []byte
}

func (w *jsResponse) Header() http.Header { return w.header }

func (w *jsResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *jsResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.streaming {
		return w.buf.Write(p)
	}
	chunk := append([]byte(nil), p...)
	select {
	case w.chunks <- chunk:
		return len(p), nil
	case <-w.ctx.Done():
		return 0, w.ctx.Err()
	}
}

// ReadFrom lets a store-backed body (jsBody) pass through as a reference
// that the glue streams itself.
func (w *jsResponse) ReadFrom(r io.Reader) (int64, error) {
	if jb, ok := r.(*jsBody); ok && !w.streaming && w.buf.Len() == 0 && w.ref == nil && jb.reader.IsUndefined() {
		w.ref = &bodyRef{Store: jb.store, Key: jb.key, Offset: jb.off, Length: jb.n}
		jb.passed = true
		return jb.n, nil
	}
	return io.Copy(struct{ io.Writer }{w}, r)
}

// Flush switches to streaming: the response (headers and a pull-based body)
// goes to the client now.
func (w *jsResponse) Flush() {
	if w.streaming {
		return
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.streaming = true
	if w.buf.Len() > 0 {
		w.chunks <- append([]byte(nil), w.buf.Bytes()...)
		w.buf.Reset()
	}
	w.resolve("stream", nil)
}

func (w *jsResponse) resolve(kind string, body []byte) {
	if w.resolved {
		return
	}
	w.resolved = true
	meta := respMeta{Status: w.status, Body: kind, Ref: w.ref}
	if meta.Status == 0 {
		meta.Status = http.StatusOK
	}
	for k, vs := range w.header {
		for _, v := range vs {
			meta.Headers = append(meta.Headers, [2]string{k, v})
		}
	}
	data, _ := json.Marshal(meta)
	var jsBytes any = safejs.Null()
	if body != nil {
		arr, err := newUint8Array(body)
		if err == nil {
			jsBytes = arr
		}
	}
	if _, err := w.respond.Invoke(string(data), jsBytes); err != nil {
		w.b.logf("edge: respond: %v", err)
	}
}

// finish runs when the handler returns.
func (w *jsResponse) finish() {
	if w.streaming {
		close(w.chunks) // the glue's pull sees the end; forget happens there
		return
	}
	defer w.b.forget(w.id)
	defer w.cancel()
	switch {
	case w.ref != nil:
		w.resolve("ref", nil)
	case w.buf.Len() > 0:
		w.resolve("bytes", w.buf.Bytes())
	default:
		w.resolve("none", nil)
	}
}

// pull delivers the next chunk of a streaming response (null at the end).
func (b *bridge) pull(id int, deliver safejs.Value) {
	w := b.lookup(id)
	if w == nil {
		deliver.Invoke(safejs.Null())
		return
	}
	select {
	case chunk, ok := <-w.chunks:
		if !ok {
			b.forget(id)
			w.cancel()
			deliver.Invoke(safejs.Null())
			return
		}
		arr, err := newUint8Array(chunk)
		if err != nil {
			deliver.Invoke(safejs.Null())
			return
		}
		deliver.Invoke(arr)
	case <-w.ctx.Done():
		b.forget(id)
		deliver.Invoke(safejs.Null())
	}
}

// abort cancels a request whose client went away.
func (b *bridge) abort(id int) {
	if w := b.lookup(id); w != nil {
		w.cancel()
	}
}

func newUint8Array(p []byte) (safejs.Value, error) {
	ctor, err := safejs.Global().Get("Uint8Array")
	if err != nil {
		return safejs.Value{}, err
	}
	arr, err := ctor.New(len(p))
	if err != nil {
		return safejs.Value{}, err
	}
	if _, err := safejs.CopyBytesToJS(arr, p); err != nil {
		return safejs.Value{}, err
	}
	return arr, nil
}

// await blocks the calling goroutine (never a callback) until p settles or
// ctx is done. In a Worker, a promise tied to a request whose client went
// away may never settle, so every wait must also watch ctx. The callbacks
// release themselves when called; an abandoned wait leaks two small funcs.
func await(ctx context.Context, p safejs.Value) (safejs.Value, error) {
	type result struct {
		v   safejs.Value
		err error
	}
	ch := make(chan result, 1)
	var then, catch safejs.Func
	var once sync.Once
	release := func() {
		once.Do(func() {
			then.Release()
			catch.Release()
		})
	}
	then, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		v := safejs.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		release()
		return nil
	})
	if err != nil {
		return safejs.Value{}, err
	}
	catch, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		msg := "promise rejected"
		if len(args) > 0 {
			if s, err := args[0].Call("toString"); err == nil {
				msg, _ = s.String()
			}
		}
		ch <- result{err: errors.New(msg)}
		release()
		return nil
	})
	if err != nil {
		then.Release()
		return safejs.Value{}, err
	}
	if _, err := p.Call("then", then.Value(), catch.Value()); err != nil {
		release()
		return safejs.Value{}, err
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return safejs.Value{}, ctx.Err()
	}
}
