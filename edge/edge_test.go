package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/tokenizer"
)

const fixture = "../engine/testdata/bloom-f32-h4-l2"

// makeSite writes a site folder with an index.html and the fixture model
// under models/brown-bloom, as an HF directory or (web=true) as a web
// directory: manifest.json plus chunk files.
func makeSite(t testing.TB, web bool) string {
	t.Helper()
	site := t.TempDir()
	dir := filepath.Join(site, "models", "brown-bloom")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site, "index.html"), []byte("<!doctype html><title>t</title>"), 0o644)
	for _, f := range []string{"config.json", "tokenizer.json"} {
		data, err := os.ReadFile(filepath.Join(fixture, f))
		if err != nil {
			t.Skipf("fixture %s missing: %v", fixture, err)
		}
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	weights, err := os.ReadFile(filepath.Join(fixture, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !web {
		os.WriteFile(filepath.Join(dir, "model.safetensors"), weights, 0o644)
		return site
	}
	type chunk struct {
		Path   string `json:"path"`
		Offset int64  `json:"offset"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	var chunks []chunk
	const size = 40000
	for off := 0; off < len(weights); off += size {
		end := min(off+size, len(weights))
		sum := sha256.Sum256(weights[off:end])
		name := fmt.Sprintf("model.safetensors.%03d", len(chunks))
		os.WriteFile(filepath.Join(dir, name), weights[off:end], 0o644)
		chunks = append(chunks, chunk{name, int64(off), int64(end - off), hex.EncodeToString(sum[:])})
	}
	sum := sha256.Sum256(weights)
	manifest, _ := json.Marshal(map[string]any{"format": "alibi-web", "version": 1,
		"model": map[string]any{"architecture": "bloom", "config": "config.json", "tokenizer": "tokenizer.json"},
		"files": []any{map[string]any{"name": "model.safetensors", "size": len(weights), "sha256": hex.EncodeToString(sum[:]), "chunks": chunks}}})
	os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o644)
	return site
}

func newTestApp(t testing.TB, web bool) (*App, string) {
	t.Helper()
	site := makeSite(t, web)
	src, err := newDirSource(site)
	if err != nil {
		t.Fatal(err)
	}
	return NewApp(src, "models/brown-bloom"), site
}

// referenceGreedy runs the engine directly the way `alibi run --temperature 0` does.
func referenceGreedy(t testing.TB, prompt string, maxTokens int) []int {
	t.Helper()
	m, err := engine.LoadDir(fixture, engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(fixture)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode(prompt, true)
	if err != nil {
		t.Fatal(err)
	}
	opts := engine.GenerateOptions{MaxTokens: maxTokens}
	opts.TopP, opts.RepetitionPenalty = 1, 1
	if eos := m.Info().EOS; eos >= 0 {
		opts.StopIDs = append(opts.StopIDs, eos)
	}
	if eos, ok := tok.EOS(); ok && eos != m.Info().EOS {
		opts.StopIDs = append(opts.StopIDs, eos)
	}
	out := []int{}
	if err := m.NewSession().Generate(context.Background(), ids, opts, func(id int) error { out = append(out, id); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func post(t testing.TB, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/completions", strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeCompletion(t testing.TB, body []byte) completionResponse {
	t.Helper()
	var r completionResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	if len(r.Choices) != 1 {
		t.Fatalf("choices: %+v", r)
	}
	return r
}

func TestCompletionsGreedyMatchesEngine(t *testing.T) {
	for _, web := range []bool{false, true} {
		t.Run(fmt.Sprintf("web=%v", web), func(t *testing.T) {
			app, _ := newTestApp(t, web)
			for _, prompt := range []string{"the", "hello world, this is a test"} {
				want := referenceGreedy(t, prompt, 12)
				rec := post(t, app, fmt.Sprintf(`{"prompt": %q, "max_tokens": 12, "temperature": 0}`, prompt))
				if rec.Code != 200 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				r := decodeCompletion(t, rec.Body.Bytes())
				if fmt.Sprint(r.Choices[0].TokenIDs) != fmt.Sprint(want) {
					t.Errorf("%q: ids %v, want %v", prompt, r.Choices[0].TokenIDs, want)
				}
				if r.Object != "text_completion" || !strings.HasPrefix(r.ID, "cmpl-") || r.Model != "brown-bloom" || r.Usage == nil ||
					r.Usage.CompletionTokens != len(want) || r.Usage.TotalTokens != r.Usage.PromptTokens+len(want) {
					t.Errorf("response shape: %+v", r)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			}
			if app.loadCount.Load() != 1 {
				t.Errorf("model loaded %d times, want 1", app.loadCount.Load())
			}
		})
	}
}

// parseSSE checks the framing and returns the JSON payloads (without [DONE]).
func parseSSE(t testing.TB, body []byte) []completionResponse {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
		t.Fatalf("stream does not end with [DONE]: %q", body)
	}
	var out []completionResponse
	frames := strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n")
	for i, f := range frames {
		if !strings.HasPrefix(f, "data: ") || strings.Contains(f, "\n") {
			t.Fatalf("frame %d badly framed: %q", i, f)
		}
		payload := strings.TrimPrefix(f, "data: ")
		if payload == "[DONE]" {
			if i != len(frames)-1 {
				t.Fatalf("[DONE] before the end")
			}
			continue
		}
		out = append(out, decodeCompletion(t, []byte(payload)))
	}
	return out
}

func TestCompletionsStream(t *testing.T) {
	app, _ := newTestApp(t, true)
	want := referenceGreedy(t, "the", 10)
	rec := post(t, app, `{"prompt": "the", "max_tokens": 10, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}`)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	events := parseSSE(t, rec.Body.Bytes())
	var ids []int
	for i, ev := range events[:len(events)-1] {
		if len(ev.Choices[0].TokenIDs) != 1 || ev.Choices[0].FinishReason != nil {
			t.Errorf("event %d: %+v", i, ev.Choices[0])
		}
		ids = append(ids, ev.Choices[0].TokenIDs...)
	}
	last := events[len(events)-1]
	if last.Choices[0].FinishReason == nil || last.Usage == nil || last.Usage.CompletionTokens != len(want) {
		t.Errorf("last event: %+v", last)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("streamed ids %v, want %v", ids, want)
	}
}

func TestCompletionsLimits(t *testing.T) {
	app, _ := newTestApp(t, false)
	app.Limits.MaxTokens = 5
	app.Limits.MaxPromptTokens = 20
	app.Limits.MaxPromptBytes = 100
	app.Limits.MaxBodyBytes = 1000
	longIDs := strings.TrimSuffix(strings.Repeat("5,", 21), ",")
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"get", "GET", "/v1/completions", "", 405, "method_not_allowed"},
		{"put", "PUT", "/v1/completions", "{}", 405, "method_not_allowed"},
		{"bad json", "POST", "/v1/completions", `{"prompt": "x"`, 400, "invalid_json"},
		{"empty", "POST", "/v1/completions", ``, 400, "invalid_json"},
		{"not object", "POST", "/v1/completions", `["x"]`, 400, "invalid_type"},
		{"trailing", "POST", "/v1/completions", `{"prompt": "x"} {}`, 400, "invalid_json"},
		{"no prompt", "POST", "/v1/completions", `{"max_tokens": 3}`, 400, "missing_prompt"},
		{"empty prompt", "POST", "/v1/completions", `{"prompt": ""}`, 400, "missing_prompt"},
		{"prompt type", "POST", "/v1/completions", `{"prompt": {"a": 1}}`, 400, "invalid_type"},
		{"two prompts", "POST", "/v1/completions", `{"prompt": ["a", "b"]}`, 400, "unsupported"},
		{"max_tokens type", "POST", "/v1/completions", `{"prompt": "a", "max_tokens": "9"}`, 400, "invalid_type"},
		{"max_tokens 0", "POST", "/v1/completions", `{"prompt": "a", "max_tokens": 0}`, 400, "invalid_value"},
		{"temperature", "POST", "/v1/completions", `{"prompt": "a", "temperature": 3}`, 400, "invalid_value"},
		{"top_p", "POST", "/v1/completions", `{"prompt": "a", "top_p": 0}`, 400, "invalid_value"},
		{"n", "POST", "/v1/completions", `{"prompt": "a", "n": 2}`, 400, "unsupported"},
		{"negative id", "POST", "/v1/completions", `{"prompt": [1, -2]}`, 400, "invalid_value"},
		{"id outside vocab", "POST", "/v1/completions", `{"prompt": [1, 100000]}`, 400, "invalid_value"},
		{"model", "POST", "/v1/completions", `{"prompt": "a", "model": "gpt-9"}`, 404, "model_not_found"},
		{"body too large", "POST", "/v1/completions", `{"prompt": "` + strings.Repeat("a", 2000) + `"}`, 413, "body_too_large"},
		{"prompt bytes", "POST", "/v1/completions", `{"prompt": "` + strings.Repeat("a ", 60) + `"}`, 413, "prompt_too_long"},
		{"prompt ids", "POST", "/v1/completions", `{"prompt": [` + longIDs + `]}`, 413, "prompt_too_long"},
		{"prompt tokens", "POST", "/v1/completions", `{"prompt": "` + strings.Repeat("a b ", 24) + `"}`, 413, "prompt_too_long"},
		{"unknown api", "GET", "/v1/chat", "", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var e struct {
				Error struct {
					Message, Type, Code string
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != tt.code || e.Error.Message == "" || e.Error.Type == "" {
				t.Errorf("error body %s (%v), want code %s", rec.Body, err, tt.code)
			}
			if rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
			if tt.status == 405 && rec.Header().Get("Allow") != "POST, OPTIONS" {
				t.Errorf("Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
	// max_tokens above the cap is capped, not refused.
	rec := post(t, app, `{"prompt": [1, 2, 3], "max_tokens": 100, "temperature": 0}`)
	if rec.Code != 200 {
		t.Fatalf("capped request: %d %s", rec.Code, rec.Body)
	}
	if r := decodeCompletion(t, rec.Body.Bytes()); r.Usage.CompletionTokens > 5 || len(r.Choices[0].TokenIDs) > 5 {
		t.Errorf("max_tokens not capped: %+v", r.Usage)
	}
	// Preflight.
	req := httptest.NewRequest("OPTIONS", "/v1/completions", nil)
	req.Header.Set("Origin", "https://x.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	pre := httptest.NewRecorder()
	app.ServeHTTP(pre, req)
	if pre.Code != 204 || pre.Header().Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight %d %v", pre.Code, pre.Header())
	}
}

func TestCompletionsCancelStopsGeneration(t *testing.T) {
	app, _ := newTestApp(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	app.Yield = func(context.Context) {
		if n++; n == 3 {
			cancel()
		}
	}
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/completions", strings.NewReader(`{"prompt": "the", "max_tokens": 50, "temperature": 0, "stream": true}`))
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	if got := app.stats.tokens.Load(); got != 3 {
		t.Errorf("generated %d tokens after cancel at 3", got)
	}
	if app.stats.canceled.Load() != 1 || bytes.Contains(rec.Body.Bytes(), []byte("[DONE]")) {
		t.Errorf("canceled=%d body %q", app.stats.canceled.Load(), rec.Body)
	}
	// The slot was released: the next request runs.
	app.Yield = nil
	if rec := post(t, app, `{"prompt": "the", "max_tokens": 2}`); rec.Code != 200 {
		t.Errorf("after cancel: %d", rec.Code)
	}
}

func TestConcurrentCompletions(t *testing.T) {
	app, _ := newTestApp(t, true)
	srv := httptest.NewServer(app)
	defer srv.Close()
	want := fmt.Sprint(referenceGreedy(t, "the", 8))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := `{"prompt": "the", "max_tokens": 8, "temperature": 0` + map[bool]string{true: `, "stream": true}`, false: `}`}[i%2 == 0]
			resp, err := http.Post(srv.URL+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("request %d: status %d %s", i, resp.StatusCode, data)
				return
			}
			var ids []int
			if i%2 == 0 {
				for _, ev := range parseSSE(t, data) {
					ids = append(ids, ev.Choices[0].TokenIDs...)
				}
			} else {
				ids = decodeCompletion(t, data).Choices[0].TokenIDs
			}
			if fmt.Sprint(ids) != want {
				errs <- fmt.Errorf("request %d: ids %v, want %s", i, ids, want)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if app.loadCount.Load() != 1 || app.stats.completions.Load() != 20 {
		t.Errorf("loads %d completions %d", app.loadCount.Load(), app.stats.completions.Load())
	}
}

func TestQueueFull(t *testing.T) {
	app, _ := newTestApp(t, false)
	app.Limits.MaxQueue = 1
	app.init()
	app.queue.slot <- struct{}{} // a generation is running
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan int)
	go func() {
		req := httptest.NewRequestWithContext(ctx, "POST", "/v1/completions", strings.NewReader(`{"prompt": "a"}`))
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		waiting <- rec.Code
	}()
	for app.queue.waitingNow() != 1 {
		runtime.Gosched()
	}
	rec := post(t, app, `{"prompt": "a"}`)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("queue full: %d %s", rec.Code, rec.Body)
	}
	cancel() // the waiter leaves the queue
	<-waiting
	if app.queue.waitingNow() != 0 || app.stats.canceled.Load() != 1 {
		t.Errorf("waiting %d canceled %d", app.queue.waitingNow(), app.stats.canceled.Load())
	}
}

func TestModelLoadFailure(t *testing.T) {
	app, site := newTestApp(t, true)
	// Corrupt one chunk: the SHA-256 check must refuse the model.
	p := filepath.Join(site, "models/brown-bloom/model.safetensors.001")
	data, _ := os.ReadFile(p)
	data[10] ^= 0xff
	os.WriteFile(p, data, 0o644)
	rec := post(t, app, `{"prompt": "a"}`)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "model_unavailable") || strings.Contains(rec.Body.String(), "sha256") {
		t.Errorf("corrupt model: %d %s", rec.Code, rec.Body)
	}
	errText, _ := app.stats.lastLoadErr.Load().(string)
	if !strings.Contains(errText, "sha256") {
		t.Errorf("load error %q", errText)
	}
}

func TestModelsAndStatus(t *testing.T) {
	app, _ := newTestApp(t, false)
	for _, path := range []string{"/v1/models", "/v1/status"} {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "brown-bloom") {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestStaticThroughIndex(t *testing.T) {
	app, site := newTestApp(t, true)
	chunk, _ := os.ReadFile(filepath.Join(site, "models/brown-bloom/model.safetensors.001"))
	req := httptest.NewRequest("GET", "/models/brown-bloom/model.safetensors.001", nil)
	req.Header.Set("Range", "bytes=10-29")
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	if rec.Code != 206 || !bytes.Equal(rec.Body.Bytes(), chunk[10:30]) || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("range: %d %v", rec.Code, rec.Header())
	}
	sum := sha256.Sum256(chunk)
	if want := `"` + hex.EncodeToString(sum[:16]) + `"`; rec.Header().Get("ETag") != want {
		t.Errorf("ETag %s, want %s", rec.Header().Get("ETag"), want)
	}
	for path, status := range map[string]int{"/models": 301, "/models/brown-bloom/nope": 404, "/../x": 400, "/": 200} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = path
		app.ServeHTTP(rec, r)
		if rec.Code != status {
			t.Errorf("%s: %d, want %d", path, rec.Code, status)
		}
	}
}

func TestIndex(t *testing.T) {
	site := makeSite(t, true)
	out := filepath.Join(t.TempDir(), "index.json")
	os.WriteFile(filepath.Join(site, ".hidden"), []byte("x"), 0o644)
	if err := writeIndex(site, out); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	idx, err := parseIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := idx.Files[".hidden"]; ok {
		t.Error("hidden file indexed")
	}
	if e := idx.Files["index.html"]; e.Size != 31 || len(e.SHA256) != 64 {
		t.Errorf("index.html entry %+v", e)
	}
	for _, bad := range []string{
		`{}`, `{"version": 2, "files": {}}`, `{"version": 1, "files": {"../x": {"size": 1, "sha256": "` + strings.Repeat("0", 64) + `"}}}`,
		`{"version": 1, "files": {"a": {"size": 1, "sha256": "00"}}}`, `not json`,
	} {
		if _, err := parseIndex([]byte(bad)); err == nil {
			t.Errorf("parseIndex(%s) accepted", bad)
		}
	}
}

func TestSSEEvent(t *testing.T) {
	ev, err := sseEvent(map[string]string{"text": "a\nb\r\n\nc"})
	if err != nil {
		t.Fatal(err)
	}
	if string(ev) != "data: {\"text\":\"a\\nb\\r\\n\\nc\"}\n\n" {
		t.Errorf("event %q", ev)
	}
}

func TestParseCompletion(t *testing.T) {
	lim := DefaultLimits
	tests := []struct {
		body    string
		ok      bool
		check   func(p *parsedRequest) bool
		comment string
	}{
		{`{"prompt": "hi"}`, true, func(p *parsedRequest) bool {
			return p.Text == "hi" && p.MaxTokens == lim.DefaultMaxTokens && p.Temperature == nil
		}, "defaults"},
		{`{"prompt": ["hi"]}`, true, func(p *parsedRequest) bool { return p.Text == "hi" }, "array of one string"},
		{`{"prompt": [1, 2]}`, true, func(p *parsedRequest) bool { return len(p.IDs) == 2 && p.Text == "" }, "token ids"},
		{`{"prompt": "hi", "max_tokens": 100000}`, true, func(p *parsedRequest) bool { return p.MaxTokens == lim.MaxTokens }, "capped"},
		{`{"prompt": "hi", "temperature": 0, "top_p": 0.5, "seed": 7, "stream": true}`, true, func(p *parsedRequest) bool {
			return *p.Temperature == 0 && *p.TopP == 0.5 && p.Seed == 7 && p.Stream
		}, "sampling"},
		{`{"prompt": "hi", "unknown": [1, {"x": 2}]}`, true, nil, "unknown fields ignored"},
		{`{"prompt": "hi", "n": 1}`, true, nil, "n=1"},
		{`{"prompt": "hi", "seed": 1.5}`, false, nil, "fractional seed"},
		{`{"prompt": "hi", "stream": "yes"}`, false, nil, "stream type"},
		{`{"prompt": [[1, 2]]}`, false, nil, "nested ids"},
		{`{"prompt": []}`, false, nil, "empty array"},
		{`{"prompt": null}`, false, nil, "null prompt"},
		{`null`, false, nil, "null body"},
		{`"x"`, false, nil, "string body"},
		{`{"prompt": "\ud800"}`, true, nil, "lone surrogate becomes U+FFFD"},
	}
	for _, tt := range tests {
		p, err := parseCompletion([]byte(tt.body), lim)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %s: err %v", tt.comment, tt.body, err)
			continue
		}
		if err == nil && tt.check != nil && !tt.check(p) {
			t.Errorf("%s: %s: parsed %+v", tt.comment, tt.body, p)
		}
		if err != nil && (err.Status < 400 || err.Status > 499 || err.Message == "") {
			t.Errorf("%s: bad error %+v", tt.comment, err)
		}
	}
}

func FuzzParseCompletion(f *testing.F) {
	for _, s := range []string{`{"prompt": "hi"}`, `{"prompt": [1,2], "max_tokens": 3}`, `{"prompt": ["a"], "temperature": 1.5, "top_p": 0.9, "stream": true}`, `{`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		lim := DefaultLimits
		p, err := parseCompletion(body, lim)
		if err != nil {
			if err.Status != 400 && err.Status != 413 {
				t.Fatalf("status %d", err.Status)
			}
			return
		}
		if p.MaxTokens < 1 || p.MaxTokens > lim.MaxTokens {
			t.Fatalf("max tokens %d", p.MaxTokens)
		}
		if (p.Text == "") == (p.IDs == nil) {
			t.Fatalf("prompt text %q ids %v", p.Text, p.IDs)
		}
		if len(p.Text) > lim.MaxPromptBytes || len(p.IDs) > lim.MaxPromptTokens {
			t.Fatalf("prompt over the limits")
		}
		if p.Temperature != nil && (*p.Temperature < 0 || *p.Temperature > 2) {
			t.Fatalf("temperature %v", *p.Temperature)
		}
	})
}

func BenchmarkParseCompletion(b *testing.B) {
	body := []byte(`{"model": "brown-bloom", "prompt": "It was a cold morning and the committee", "max_tokens": 64, "temperature": 0.7, "top_p": 0.9, "seed": 7, "stream": true}`)
	for b.Loop() {
		if _, err := parseCompletion(body, DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSSEEvent(b *testing.B) {
	fin := "length"
	ev := completionResponse{ID: "cmpl-0123456789abcdef01234567", Object: "text_completion", Created: 1796420000, Model: "brown-bloom",
		Choices: []completionChoice{{Text: " the", TokenIDs: []int{262}, FinishReason: &fin}}}
	for b.Loop() {
		if _, err := sseEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// digestStore's readers hash what they read (as the Worker's host does with
// crypto.DigestStream); lie flips the digest.
type digestStore struct {
	inner Store
	lie   bool
	used  *int
}

type digestReader struct {
	io.ReadCloser
	h    hash.Hash
	lie  bool
	used *int
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	d.h.Write(p[:n])
	return n, err
}
func (d *digestReader) CanDigest() bool { return true }
func (d *digestReader) SHA256() (string, bool, error) {
	*d.used++
	sum := d.h.Sum(nil)
	if d.lie {
		sum[0] ^= 1
	}
	return hex.EncodeToString(sum), true, nil
}

func (s digestStore) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	rc, err := s.inner.Open(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	return &digestReader{ReadCloser: rc, h: sha256.New(), lie: s.lie, used: s.used}, nil
}

func TestModelLoadUsesStoreDigest(t *testing.T) {
	for _, lie := range []bool{false, true} {
		site := makeSite(t, true)
		src, err := newDirSource(site)
		if err != nil {
			t.Fatal(err)
		}
		used := 0
		src.assets = digestStore{inner: src.assets, lie: lie, used: &used}
		app := NewApp(src, "models/brown-bloom")
		rec := post(t, app, `{"prompt": "the", "max_tokens": 2}`)
		if want := map[bool]int{false: 200, true: 503}[lie]; rec.Code != want {
			t.Errorf("lie=%v: status %d, want %d: %s", lie, rec.Code, want, rec.Body)
		}
		if used == 0 {
			t.Errorf("lie=%v: the store's digest was not used", lie)
		}
	}
}
