package webserve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrIsDir is returned by Source.Stat for a directory; the handler redirects
// "/dir" to "/dir/" (which serves dir/index.html).
var ErrIsDir = errors.New("webserve: is a directory")

// Entry is what the handler needs to know about a file before reading it.
type Entry struct {
	Size    int64
	ETag    string    // strong entity tag, quoted (see ETagFromDigest)
	ModTime time.Time // zero when unknown
}

// Source provides the served files by name (io/fs form, as returned by
// ResolvePath). Stat returns an error wrapping fs.ErrNotExist for a missing
// file and ErrIsDir for a directory. Open returns exactly the n bytes at
// offset off.
type Source interface {
	Stat(ctx context.Context, name string) (Entry, error)
	Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
}

// Handler serves files from a Source with the policy headers.
type Handler struct {
	Source Source
	Policy Policy
	// Logf, when set, receives internal errors (their details never reach
	// the client).
	Logf func(format string, args ...any)
	// Gzip compresses compressible files (wasm, JavaScript, JSON, HTML, CSS,
	// SVG) larger than 512 bytes for clients that accept it, never for Range
	// requests; the compressed bodies are cached by ETag (at most 64 MiB).
	// The native server turns it on; behind a CDN that compresses (the
	// Worker) it stays off.
	Gzip bool

	gz gzipCache
}

// New returns a Handler with the default policy.
func New(src Source) *Handler { return &Handler{Source: src} }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, err := ResolvePath(r.URL.Path)
	if err != nil {
		textError(w, http.StatusBadRequest, "bad path")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		if h.Policy.cors(name) && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			SetPreflight(w.Header(), corsMethods, corsAllowed)
		}
		w.Header().Set("Allow", corsMethods)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", corsMethods)
		textError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	ent, err := h.Source.Stat(r.Context(), name)
	switch {
	case errors.Is(err, ErrIsDir):
		target := r.URL.Path + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		textError(w, http.StatusMovedPermanently, "moved")
		return
	case errors.Is(err, fs.ErrNotExist):
		textError(w, http.StatusNotFound, "not found")
		return
	case err != nil:
		h.logf("webserve: stat %s: %v", name, err)
		textError(w, http.StatusInternalServerError, "internal error")
		return
	}
	h.serveEntry(w, r, name, ent, func(off, n int64) (io.ReadCloser, error) {
		return h.Source.Open(r.Context(), name, off, n)
	})
}

func (h *Handler) logf(format string, args ...any) {
	if h.Logf != nil {
		h.Logf(format, args...)
	}
}

// serveEntry answers a GET or HEAD for one file whose metadata is known:
// policy headers, ETag, conditional requests (304), a single Range
// (206/416), optional gzip, and the body from open.
func (h *Handler) serveEntry(w http.ResponseWriter, r *http.Request, name string, ent Entry, open func(off, n int64) (io.ReadCloser, error)) {
	logf := h.logf
	hdr := w.Header()
	h.Policy.SetFileHeaders(hdr, name, r.URL.Query())
	if compressible(name) {
		hdr.Add("Vary", "Accept-Encoding")
		if h.Gzip && ent.Size > 512 && r.Header.Get("Range") == "" && acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, err := h.gz.get(gzKey(name, ent.ETag), ent.Size, open)
			if err != nil {
				logf("webserve: gzip %s: %v", name, err)
				textError(w, http.StatusInternalServerError, "internal error")
				return
			}
			if ent.ETag != "" {
				ent.ETag = strings.TrimSuffix(ent.ETag, `"`) + `-gz"`
			}
			ent.Size = int64(len(body))
			hdr.Set("Content-Encoding", "gzip")
			open = func(off, n int64) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(body[off : off+n])), nil
			}
		}
	}
	hdr.Set("Accept-Ranges", "bytes")
	if ent.ETag != "" {
		hdr.Set("ETag", ent.ETag)
	}
	if !ent.ModTime.IsZero() {
		hdr.Set("Last-Modified", ent.ModTime.UTC().Format(http.TimeFormat))
	}
	if notModified(r, ent) {
		hdr.Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	start, length, status := int64(0), ent.Size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && (r.Header.Get("If-Range") == "" || IfRangeMatches(r.Header.Get("If-Range"), ent.ETag)) {
		s, n, ok, err := ParseRange(rh, ent.Size)
		if errors.Is(err, ErrUnsatisfiable) {
			hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(ent.Size, 10))
			textError(w, http.StatusRequestedRangeNotSatisfiable, "range not satisfiable")
			return
		}
		if ok {
			start, length, status = s, n, http.StatusPartialContent
			hdr.Set("Content-Range", ContentRange(start, length, ent.Size))
		}
	}
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead || length == 0 {
		w.WriteHeader(status)
		return
	}
	body, err := open(start, length)
	if err != nil {
		logf("webserve: open %s: %v", name, err)
		hdr.Del("Content-Length")
		hdr.Del("Content-Range")
		textError(w, http.StatusInternalServerError, "internal error")
		return
	}
	defer body.Close()
	w.WriteHeader(status)
	if _, err := io.Copy(w, body); err != nil {
		logf("webserve: send %s: %v", name, err)
	}
}

// notModified evaluates If-None-Match (and, without it, If-Modified-Since).
func notModified(r *http.Request, ent Entry) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return NoneMatch(inm, ent.ETag)
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !ent.ModTime.IsZero() {
		t, err := http.ParseTime(ims)
		return err == nil && !ent.ModTime.Truncate(time.Second).After(t)
	}
	return false
}

func textError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Cache-Control")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(msg)+1))
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}
