//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall/js" // only to name the type in syumai/workers' WriteRawJSBody; values go through safejs

	"github.com/hack-pad/safejs"
)

// The bridge between github.com/syumai/workers and the App.
//
// syumai/workers turns each JS Request into an *http.Request and the
// handler's answer into a JS Response (workers.ServeNonBlock, the
// binding.handleRequest it registers, workers.Ready). Its stock glue starts
// a new Go instance for every request; edge/glue/worker.mjs instantiates Go
// once per isolate instead and calls binding.handleRequest for every request
// on that instance, so the model is loaded once. Two details make a kept
// instance work with the library as it is (v0.32.0):
//
//   - When a body it pipes out of Go reaches its end, the library closes a
//     package-level channel (workers.Done); a second such body in the same
//     instance would close it again and panic. So every response here has a
//     raw JS body (its ResponseWriter's WriteRawJSBody): bytes as a
//     Uint8Array, store files as the store's own ReadableStream (never
//     copied through Go memory), streamed completions as a ReadableStream
//     that pulls chunks from Go.
//   - The library answers once the handler returns, so a streamed
//     completion generates on its own goroutine after the head is sent,
//     paced by the stream's pulls.
//
// The glue supplies, on globalThis.__alibiEdge, what the library does not:
// open(store, key, offset, length) -> Promise<reader> (ranged reads of the
// assets or R2, with the runtime's SHA-256), body(store, key, offset,
// length) -> Promise<ReadableStream|null>, stream(pull, cancel) ->
// ReadableStream, finished(id), yield() -> Promise, log(text). Go registers
// {abort(id)} through register(api): the glue calls it when a client goes
// away. The glue tags each request with its id in the requestIDHeader
// header (and drops any such header the client sent).

const requestIDHeader = "X-Alibi-Edge-Request"

// rawBodyWriter is the part of syumai/workers' ResponseWriter used here.
type rawBodyWriter interface {
	WriteRawJSBody(body js.Value)
}

type bridge struct {
	host      safejs.Value
	app       *App
	hasDigest bool // the host computes SHA-256 of store reads (crypto.DigestStream)

	mu   sync.Mutex
	reqs map[string]context.CancelFunc
}

func (b *bridge) logf(format string, args ...any) {
	b.host.Call("log", fmt.Sprintf(format, args...))
}

func (b *bridge) track(id string, cancel context.CancelFunc) {
	if id == "" {
		return
	}
	b.mu.Lock()
	b.reqs[id] = cancel
	b.mu.Unlock()
}

func (b *bridge) untrack(id string) {
	b.mu.Lock()
	delete(b.reqs, id)
	b.mu.Unlock()
}

// abort cancels a request whose client went away.
func (b *bridge) abort(id string) {
	b.mu.Lock()
	cancel := b.reqs[id]
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// ServeHTTP is the handler syumai/workers calls, on its own goroutine, for
// every request.
func (b *bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, ok := w.(rawBodyWriter)
	if !ok {
		http.Error(w, "edge: the ResponseWriter is not syumai/workers'", http.StatusInternalServerError)
		return
	}
	// syumai/workers splits every header value at commas (Range: bytes=0-1,5-6
	// would become two ranges' worth of values); joining them again gives
	// back the value the JS Headers object held.
	for k, vs := range r.Header {
		if len(vs) > 1 {
			r.Header[k] = []string{strings.Join(vs, ",")}
		}
	}
	id := r.Header.Get(requestIDHeader)
	r.Header.Del(requestIDHeader)
	if r.RequestURI == "" {
		r.RequestURI = r.URL.RequestURI()
	}
	ctx, cancel := context.WithCancel(r.Context())
	b.track(id, cancel)
	jw := &jsResponse{header: http.Header{}, ctx: ctx, cancel: cancel,
		chunks: make(chan []byte, 4), head: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				b.logf("edge: panic serving %s: %v", r.URL.Path, p)
				jw.fail()
			}
			jw.finish()
			b.untrack(id)
			if id != "" {
				b.host.Call("finished", id)
			}
		}()
		b.app.ServeHTTP(jw, r.WithContext(ctx))
	}()
	<-jw.head

	status := jw.sentStatus
	body, err := b.rawBody(ctx, jw)
	if err != nil {
		b.logf("edge: %s: %v", r.URL.Path, err)
		cancel()
		jw.sentHeader = http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
		status = http.StatusBadGateway
		body, _ = newUint8Array([]byte(`{"error":{"message":"the file could not be read from its store","type":"server_error","param":null,"code":"store_error"}}` + "\n"))
	}
	h := w.Header()
	for k, vs := range jw.sentHeader {
		h[k] = vs
	}
	raw.WriteRawJSBody(safejs.Unsafe(body))
	w.WriteHeader(status)
}

// rawBody is the JS body of a response whose head is known.
func (b *bridge) rawBody(ctx context.Context, jw *jsResponse) (safejs.Value, error) {
	switch {
	case jw.streaming:
		return b.pullStream(jw)
	case jw.ref != nil:
		p, err := b.host.Call("body", jw.ref.store, jw.ref.key, float64(jw.ref.offset), float64(jw.ref.length))
		if err != nil {
			return safejs.Value{}, err
		}
		v, err := await(ctx, p)
		if err != nil {
			return safejs.Value{}, err
		}
		if v.IsNull() || v.IsUndefined() {
			return safejs.Value{}, fmt.Errorf("%s: missing from store %s", jw.ref.key, jw.ref.store)
		}
		return v, nil
	default:
		// Always a JS body, even an empty one: see the package comment.
		return newUint8Array(jw.buf.Bytes())
	}
}

// pullStream makes the ReadableStream of a streamed response: each pull
// takes the next chunk the handler wrote (null at the end); a cancel (the
// client went away) cancels the handler's context.
func (b *bridge) pullStream(jw *jsResponse) (safejs.Value, error) {
	var pull, cancel safejs.Func
	release := releaseOnce(&pull, &cancel)
	pull, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) != 1 {
			return nil
		}
		deliver := args[0]
		go func() {
			select {
			case chunk, ok := <-jw.chunks:
				if ok {
					if arr, err := newUint8Array(chunk); err == nil {
						deliver.Invoke(arr)
						return
					}
				}
			case <-jw.ctx.Done():
			}
			deliver.Invoke(safejs.Null())
			release()
		}()
		return nil
	})
	if err != nil {
		return safejs.Value{}, err
	}
	cancel, err = safejs.FuncOf(func(_ safejs.Value, _ []safejs.Value) any {
		jw.cancel()
		go release()
		return nil
	})
	if err != nil {
		pull.Release()
		return safejs.Value{}, err
	}
	s, err := b.host.Call("stream", pull.Value(), cancel.Value())
	if err != nil {
		release()
		return safejs.Value{}, err
	}
	return s, nil
}

// bodyRef is a range of a file in one of the Worker's stores.
type bodyRef struct {
	store, key     string
	offset, length int64
}

// jsResponse is the App's http.ResponseWriter for one request. It buffers
// until the handler returns or flushes; a flush switches to streaming,
// where each write becomes a chunk the response stream pulls. head is
// closed once the status and headers are final (sentStatus, sentHeader).
type jsResponse struct {
	header http.Header
	status int
	buf    bytes.Buffer
	ref    *bodyRef
	ctx    context.Context
	cancel context.CancelFunc

	streaming  bool
	chunks     chan []byte
	head       chan struct{}
	headSent   bool
	sentStatus int
	sentHeader http.Header
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
		if w.ref != nil {
			return 0, errors.New("edge: write after a store body")
		}
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

// ReadFrom lets a store-backed body (jsBody) pass through as a reference:
// the response streams it from the store, not through Go memory.
func (w *jsResponse) ReadFrom(r io.Reader) (int64, error) {
	if jb, ok := r.(*jsBody); ok && !w.streaming && w.buf.Len() == 0 && w.ref == nil && jb.reader.IsUndefined() {
		w.ref = &bodyRef{store: jb.store, key: jb.key, offset: jb.off, length: jb.n}
		jb.passed = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
		return jb.n, nil
	}
	return io.Copy(struct{ io.Writer }{w}, r)
}

// Flush switches to streaming: the head goes to the client now and the
// body follows as the handler writes.
func (w *jsResponse) Flush() {
	if w.streaming || w.headSent || w.ref != nil {
		return
	}
	w.streaming = true
	if w.buf.Len() > 0 {
		w.chunks <- append([]byte(nil), w.buf.Bytes()...)
		w.buf.Reset()
	}
	w.sendHead()
}

func (w *jsResponse) sendHead() {
	if w.headSent {
		return
	}
	w.headSent = true
	w.sentStatus = w.status
	if w.sentStatus == 0 {
		w.sentStatus = http.StatusOK
	}
	w.sentHeader = w.header.Clone()
	if !w.streaming && w.ref == nil && w.sentHeader.Get("Content-Length") == "" && w.buf.Len() > 0 {
		w.sentHeader.Set("Content-Length", strconv.Itoa(w.buf.Len()))
	}
	close(w.head)
}

// fail replaces an unsent answer with a 500 (the handler panicked).
func (w *jsResponse) fail() {
	if w.headSent {
		return
	}
	w.status, w.header, w.ref = http.StatusInternalServerError, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, nil
	w.buf.Reset()
	w.buf.WriteString("internal error\n")
}

// finish runs when the handler returns.
func (w *jsResponse) finish() {
	if w.streaming {
		close(w.chunks) // the stream's next pull sees the end
		return
	}
	w.sendHead()
}

// releaseOnce returns a function that releases the funcs (set later) once.
func releaseOnce(funcs ...*safejs.Func) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, f := range funcs {
				f.Release()
			}
		})
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
	release := releaseOnce(&then, &catch)
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
