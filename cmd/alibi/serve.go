package main

// alibi serve --dir DIR [--addr 127.0.0.1:8080] [--log]: a static file
// server for the folder cmd/build-wasm writes (or any web directory of a
// model). It sets what the browser runtime needs and many static hosts get
// wrong: MIME types (application/wasm for instantiateStreaming), Range
// requests (206/416) for streaming safetensors, ETag + 304, gzip for wasm
// and JavaScript (never for Range responses), cross-origin isolation
// headers (COOP/COEP/CORP) and CORS, and no way out of DIR. The rules are
// internal/webserve's, shared with the edge Worker.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/c9e48c40/alibi/internal/webserve"
)

func init() {
	register("serve", "serve a directory over HTTP with the headers the browser runtime needs", runServe)
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fl := newFlags("serve", stderr)
	dir := fl.String("dir", "", "directory to serve (required)")
	addr := fl.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	logReq := fl.Bool("log", false, "log each request to stderr: method, path, status, body bytes")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fl.NArg() != 0 {
		fl.Usage()
		return errors.New("serve: --dir DIR is required")
	}
	var logw io.Writer
	if *logReq {
		logw = stderr
	}
	h, err := newStaticHandler(*dir, logw)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(stdout, "serving %s at http://%s/\n", *dir, ln.Addr())
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// newStaticHandler serves dir with internal/webserve (the same Range, ETag,
// gzip, MIME and path rules as the edge Worker) under a development
// policy: every response is both cross-origin isolated (COOP/COEP, so
// pages can use SharedArrayBuffer for kernel threads) and readable from any
// origin (CORS, CORP cross-origin: a page elsewhere may load the runtime
// with baseURL, or the weights); files other than the runtime's ?v= URLs are
// revalidated on every use (no-cache); ETags come from the size and modification time,
// so a multi-gigabyte checkpoint is not read to answer its first request.
// With log set, each request is logged as
// "serve: METHOD PATH STATUS BYTES "RANGE"" (the e2e tests parse it).
func newStaticHandler(dir string, log io.Writer) (http.Handler, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("serve: %s is not a directory", dir)
	}
	src, err := webserve.DirSource(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	src.FastETag = true
	all := func(string) bool { return true }
	h := webserve.New(src)
	h.Gzip = true
	// Only ?v=<build hash> URLs (the runtime's own files) are immutable: a
	// development server's files change under their names.
	versioned := func(_ string, q url.Values) bool { return q.Get("v") != "" }
	h.Policy = webserve.Policy{CORS: all, Isolate: all, Immutable: versioned, ShortCache: "no-cache"}
	if log != nil {
		h.Logf = func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	}
	// The app's files are gzipped in the background from the start, so the
	// first page load does not wait for alibi.wasm to be compressed.
	go func() { h.Precompress(context.Background(), appFiles(dir)) }() // the listing too: a large tree must not delay start-up
	return &loggingHandler{h: h, log: log}, nil
}

// appFiles lists the files under dir (slash-separated, relative), the wasm
// binaries first: they are the largest and the first a page waits for.
func appFiles(dir string) []string {
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if rel, err := filepath.Rel(dir, p); err == nil {
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.SliceStable(names, func(i, j int) bool {
		return strings.HasSuffix(names[i], ".wasm") && !strings.HasSuffix(names[j], ".wasm")
	})
	return names
}

type loggingHandler struct {
	h   http.Handler
	log io.Writer
}

func (l *loggingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.log == nil {
		l.h.ServeHTTP(w, r)
		return
	}
	cw := &countingWriter{ResponseWriter: w}
	l.h.ServeHTTP(cw, r)
	fmt.Fprintf(l.log, "serve: %s %s %d %d %q\n", r.Method, r.URL.Path, cw.status, cw.n, r.Header.Get("Range"))
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
	c.ResponseWriter.WriteHeader(s)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}
