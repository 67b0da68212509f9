package main

// alibi serve --dir DIR [--addr 127.0.0.1:8080] [--log]: a static file
// server for the folder cmd/build-wasm writes (or any web directory of a
// model). It sets what the browser runtime needs and many static hosts get
// wrong: MIME types (application/wasm for instantiateStreaming), Range
// requests (206/416) for streaming safetensors, ETag + 304, gzip for wasm
// and JavaScript (never for Range responses), cross-origin isolation
// headers (COOP/COEP/CORP) and CORS, and no way out of DIR.

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
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

// serveTypes fixes the MIME types the runtime depends on, whatever the
// system's mime tables say.
var serveTypes = map[string]string{
	".wasm":        "application/wasm",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".ts":          "text/plain; charset=utf-8",
	".safetensors": "application/octet-stream",
	".gguf":        "application/octet-stream",
}

// compressible are the types worth gzipping.
var compressible = map[string]bool{".wasm": true, ".js": true, ".mjs": true, ".json": true, ".html": true, ".css": true, ".svg": true, ".webmanifest": true, ".ts": true}

type staticHandler struct {
	root *os.Root
	log  io.Writer
	mu   sync.Mutex
	gz   map[string][]byte // etag -> gzipped body
	gzN  int64
}

func newStaticHandler(dir string, log io.Writer) (*staticHandler, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("serve: %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return &staticHandler{root: root, log: log, gz: map[string][]byte{}}, nil
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := serveTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
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

func (h *staticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &countingWriter{ResponseWriter: w}
	h.serve(cw, r)
	if h.log != nil {
		fmt.Fprintf(h.log, "serve: %s %s %d %d %q\n", r.Method, r.URL.Path, cw.status, cw.n, r.Header.Get("Range"))
	}
}

func (h *staticHandler) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Embedder-Policy", "require-corp")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges, ETag, Content-Encoding")
	hd.Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		hd.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
		hd.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hd.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := cleanPath(r.URL.Path)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	f, st, err := h.open(name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	if st.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		f.Close()
		name = path.Join(name, "index.html")
		if f, st, err = h.open(name); err != nil || st.IsDir() {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		defer f.Close()
	}
	etag := fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano())
	hd.Set("Content-Type", contentType(name))
	hd.Set("Accept-Ranges", "bytes")
	if r.URL.Query().Has("v") {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	ext := strings.ToLower(path.Ext(name))
	if compressible[ext] && r.Header.Get("Range") == "" && acceptsGzip(r.Header.Get("Accept-Encoding")) && st.Size() > 512 {
		hd.Add("Vary", "Accept-Encoding")
		gzTag := strings.TrimSuffix(etag, `"`) + `-gz"`
		body, err := h.gzipped(f, gzTag)
		if err != nil {
			http.Error(w, "read error", http.StatusInternalServerError)
			return
		}
		hd.Set("ETag", gzTag)
		hd.Set("Content-Encoding", "gzip")
		http.ServeContent(w, r, "", st.ModTime(), bytes.NewReader(body))
		return
	}
	if compressible[ext] {
		hd.Add("Vary", "Accept-Encoding")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// open opens name inside the root (os.Root refuses paths and symlinks
// that leave it) and refuses hidden files.
func (h *staticHandler) open(name string) (*os.File, fs.FileInfo, error) {
	f, err := h.root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// cleanPath maps a URL path to a name inside the root: "." for the root,
// no "..", no hidden segments, no backslashes or NULs.
func cleanPath(p string) (string, bool) {
	if strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || (strings.HasPrefix(seg, ".") && seg != ".") {
			return "", false
		}
	}
	c := path.Clean("/" + p)
	name := strings.TrimPrefix(c, "/")
	if name == "" {
		name = "."
	}
	return name, true
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		if strings.TrimSpace(fields[0]) != "gzip" {
			continue
		}
		for _, p := range fields[1:] {
			p = strings.TrimSpace(p)
			if q, ok := strings.CutPrefix(p, "q="); ok {
				if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// gzipped returns the gzip of f, cached by ETag (the cache holds at most
// 64 MiB; beyond that the oldest entries are dropped wholesale).
func (h *staticHandler) gzipped(f io.Reader, tag string) ([]byte, error) {
	h.mu.Lock()
	if b, ok := h.gz[tag]; ok {
		h.mu.Unlock()
		return b, nil
	}
	h.mu.Unlock()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, f); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	h.mu.Lock()
	if h.gzN+int64(len(b)) > 64<<20 {
		h.gz, h.gzN = map[string][]byte{}, 0
	}
	h.gz[tag] = b
	h.gzN += int64(len(b))
	h.mu.Unlock()
	return b, nil
}
