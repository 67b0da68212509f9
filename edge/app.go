package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/engine/kernels"
	"github.com/c9e48c40/alibi/internal/webserve"
)

// App is the Worker's request handler: the static site and the completions
// API.
type App struct {
	Source      webserve.Source // the site (and model files)
	ModelDir    string          // the bundled model's directory in Source
	Limits      Limits
	LoadOptions engine.LoadOptions
	// Yield, when set, runs after each generated token: the Worker uses it to
	// give the JS event loop a turn (stream delivery, cancellation).
	Yield func(ctx context.Context)
	Logf  func(format string, args ...any)
	// StatusExtra adds host facts to GET /v1/status.
	StatusExtra func() map[string]any

	static *webserve.Handler
	queue  queue
	once   sync.Once

	model     *loadedModel // guarded by the queue slot
	loadCount atomic.Int64
	started   time.Time
	stats     stats
}

type stats struct {
	completions atomic.Int64
	tokens      atomic.Int64
	canceled    atomic.Int64
	loadMs      atomic.Int64
	lastLoadErr atomic.Value // string
}

// DefaultContextLength is the context the Worker allocates: ALiBi lets a
// model run past its training length (the bundled model trains on 128), and
// prompt + max_tokens must fit (512 + 256).
const DefaultContextLength = 1024

// NewApp returns an App serving src with the bundled model at modelDir.
func NewApp(src webserve.Source, modelDir string) *App {
	return &App{Source: src, ModelDir: modelDir, Limits: DefaultLimits,
		LoadOptions: engine.LoadOptions{ContextLength: DefaultContextLength}}
}

func (a *App) init() {
	a.once.Do(func() {
		a.static = &webserve.Handler{Source: a.Source, Logf: a.logf}
		a.queue.slot = make(chan struct{}, 1)
		a.started = time.Now()
	})
}

func (a *App) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}

// ServeHTTP routes /v1/ to the API and everything else to the site.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.init()
	switch p := r.URL.Path; {
	case p == "/v1/completions":
		a.serveCompletions(w, r)
	case p == "/v1/models":
		a.serveModels(w, r)
	case p == "/v1/status":
		a.serveStatus(w, r)
	case strings.HasPrefix(p, "/v1/") || p == "/v1":
		setAPICORS(w.Header())
		writeAPIError(w, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "not_found", Message: "unknown API path " + p})
	default:
		a.static.ServeHTTP(w, r)
	}
}

func setAPICORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
}

// apiMethod answers OPTIONS (CORS preflight) and wrong methods; it reports
// whether the request should proceed.
func apiMethod(w http.ResponseWriter, r *http.Request, allowed string) bool {
	setAPICORS(w.Header())
	if r.Method == allowed || (allowed == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	allow := allowed + ", OPTIONS"
	if r.Method == http.MethodOptions {
		h := w.Header()
		h.Set("Allow", allow)
		h.Set("Access-Control-Allow-Methods", allow)
		h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	w.Header().Set("Allow", allow)
	writeAPIError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: "method_not_allowed",
		Message: fmt.Sprintf("method %s not allowed; use %s", r.Method, allowed)})
	return false
}

func (a *App) modelName() string { return path.Base(a.ModelDir) }

func (a *App) serveModels(w http.ResponseWriter, r *http.Request) {
	if !apiMethod(w, r, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
		map[string]any{"id": a.modelName(), "object": "model", "created": 0, "owned_by": "alibi"},
	}})
}

func (a *App) serveStatus(w http.ResponseWriter, r *http.Request) {
	if !apiMethod(w, r, http.MethodGet) {
		return
	}
	errText, _ := a.stats.lastLoadErr.Load().(string)
	st := map[string]any{
		"model":             a.modelName(),
		"model_loads":       a.loadCount.Load(),
		"model_load_ms":     a.stats.loadMs.Load(),
		"model_load_error":  errText,
		"completions":       a.stats.completions.Load(),
		"generated_tokens":  a.stats.tokens.Load(),
		"canceled":          a.stats.canceled.Load(),
		"queue_waiting":     a.queue.waitingNow(),
		"instance_uptime_s": int64(time.Since(a.started).Seconds()),
		"simd":              kernels.SIMD(),
	}
	if a.StatusExtra != nil {
		for k, v := range a.StatusExtra() {
			st[k] = v
		}
	}
	writeJSON(w, http.StatusOK, st)
}

// queue lets one generation run at a time; waiters are served in arrival
// order (Go queues blocked channel senders FIFO).
type queue struct {
	slot    chan struct{}
	mu      sync.Mutex
	waiting int
}

var errQueueFull = errors.New("edge: queue full")

func (q *queue) acquire(ctx context.Context, max int) (func(), error) {
	q.mu.Lock()
	if q.waiting >= max {
		q.mu.Unlock()
		return nil, errQueueFull
	}
	q.waiting++
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.waiting--
		q.mu.Unlock()
	}()
	select {
	case q.slot <- struct{}{}:
		return func() { <-q.slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (q *queue) waitingNow() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting
}

// loadedModelLocked returns the isolate's model, loading it on first use
// with the files read on behalf of the request (ctx). The caller holds the
// queue slot. A failed or abandoned load is retried by the next request.
func (a *App) loadedModelLocked(ctx context.Context) (*loadedModel, error) {
	if a.model != nil {
		return a.model, nil
	}
	a.loadCount.Add(1)
	m, err := loadModel(ctx, a.Source, a.ModelDir, a.LoadOptions)
	if err != nil {
		a.stats.lastLoadErr.Store(err.Error())
		return nil, err
	}
	a.stats.lastLoadErr.Store("")
	a.stats.loadMs.Store(m.loadDur.Milliseconds())
	a.model = m
	return m, nil
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return "cmpl-" + hex.EncodeToString(b[:])
}
