package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixture = "../../engine/testdata/bloom-f32-h4-l2"

// cli runs one command line through the real dispatcher.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

type fixtureInfo struct {
	Prompt string `json:"prompt"`
	IDs    []int  `json:"ids"`
}

func readFixture(t *testing.T, dir string) fixtureInfo {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixtureInfo
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func idList(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}

// The llama.cpp goldens (greedy.json, made by wllama) fix the greedy tokens;
// `run --json` must reproduce them exactly, from ids and from prompt text.
func TestRunGreedyMatchesLlamaCpp(t *testing.T) {
	var golden struct {
		Prompt []int `json:"prompt"`
		Tokens []int `json:"tokens"`
	}
	data, err := os.ReadFile(filepath.Join(fixture, "greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	fx := readFixture(t, fixture)
	for _, args := range [][]string{
		{"--ids", idList(golden.Prompt)},
		{"--prompt", fx.Prompt},
	} {
		cmd := append([]string{"run", "--model", fixture, "--max-tokens", fmt.Sprint(len(golden.Tokens)), "--temperature", "0", "--json"}, args...)
		out, errOut, code := cli(t, cmd...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", cmd, code, errOut)
		}
		var got struct {
			IDs  []int  `json:"ids"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		if fmt.Sprint(got.IDs) != fmt.Sprint(golden.Tokens) {
			t.Errorf("%v:\n got %v\nwant %v", args[0], got.IDs, golden.Tokens)
		}
		if got.Text == "" {
			t.Errorf("%v: empty text", args[0])
		}
	}
}

func TestLogitsShapes(t *testing.T) {
	out, errOut, code := cli(t, "logits", "--model", fixture, "--ids", "5,6,7", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var last struct{ Logits []float32 }
	if err := json.Unmarshal([]byte(out), &last); err != nil || len(last.Logits) != 300 {
		t.Fatalf("last: %d logits, %v", len(last.Logits), err)
	}
	out, _, code = cli(t, "logits", "--model", fixture, "--ids", "5,6,7", "--all", "--json")
	var all struct{ Logits [][]float32 }
	if err := json.Unmarshal([]byte(out), &all); err != nil || code != 0 || len(all.Logits) != 3 {
		t.Fatalf("all: %d rows, %v (exit %d)", len(all.Logits), err, code)
	}
	for i, v := range all.Logits[2] {
		if math.Abs(float64(v-last.Logits[i])) > 1e-4 {
			t.Fatalf("--all last row differs from the last-position logits at %d: %v vs %v", i, v, last.Logits[i])
		}
	}
}

// serveModel serves a model directory over HTTP; handler may wrap it.
func serveModel(t *testing.T, dir string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = http.FileServer(http.Dir(dir))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestModelFromURL(t *testing.T) {
	for _, dir := range []string{fixture, "../../engine/testdata/bloom-f16-h4-sharded"} {
		url := serveModel(t, dir, nil)
		want, _, code := cli(t, "logits", "--model", dir, "--ids", "5,6,7,8")
		if code != 0 {
			t.Fatal("local load failed")
		}
		got, errOut, code := cli(t, "logits", "--model", url+"/", "--ids", "5,6,7,8")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", dir, code, errOut)
		}
		if got != want {
			t.Errorf("%s: logits over HTTP differ from the local load", dir)
		}
		if !strings.Contains(errOut, "model") || !strings.Contains(errOut, "MiB") {
			t.Errorf("%s: no progress bar on stderr: %q", dir, errOut)
		}
		out, errOut, code := cli(t, "inspect", "--model", url, "--json")
		if code != 0 || !strings.Contains(out, `"architecture":"bloom"`) {
			t.Errorf("inspect over HTTP: exit %d %s %s", code, out, errOut)
		}
	}
}

func TestModelURLErrors(t *testing.T) {
	// An HTTP error on the weights.
	url500 := serveModel(t, fixture, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".safetensors") {
				http.Error(w, "boom", http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	// A connection dropped halfway through the weights.
	weights, err := os.ReadFile(filepath.Join(fixture, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	urlDrop := serveModel(t, fixture, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, ".safetensors") {
				h.ServeHTTP(w, r)
				return
			}
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(weights))
			buf.Write(weights[:len(weights)/2])
			buf.Flush()
			conn.(*net.TCPConn).Close()
		})
	})
	for _, tc := range []struct {
		name, url, want string
	}{
		{"http 500", url500, "500"},
		{"dropped connection", urlDrop, "model.safetensors"},
		{"missing config", serveModel(t, t.TempDir(), nil), "config.json"},
	} {
		_, errOut, code := cli(t, "logits", "--model", tc.url, "--ids", "1,2")
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q (want it to mention %q)", tc.name, code, errOut, tc.want)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, "unknown command"},
		{[]string{"run", "--model", fixture}, "exactly one of --prompt and --ids"},
		{[]string{"run", "--model", fixture, "--ids", "1,x"}, `"x" is not a token id`},
		{[]string{"run", "--model", fixture, "--ids", "1,99999"}, "outside the vocabulary"},
		{[]string{"run", "--model", fixture, "--ids", "1,2,3", "--context", "4", "--max-tokens", "8"}, "context"},
		{[]string{"logits", "--model", fixture, "--ids", "1", "--quant", "int4"}, "--quant"},
		{[]string{"logits", "--model", "/does/not/exist", "--ids", "1"}, "/does/not/exist"},
		{[]string{"convert", "--model", fixture, "--out", "x", "--to", "onnx"}, "--to"},
		{[]string{"convert", "--model", fixture, "--out", "x", "--chunk-size", "12"}, "4 KiB minimum"},
		{[]string{"eval", "--model", fixture}, "--text-file"},
	} {
		_, errOut, code := cli(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errOut, tc.want)
		}
	}
}

// A long prompt must fail with the numbers, not be truncated.
func TestContextOverflow(t *testing.T) {
	ids := make([]int, 40)
	for i := range ids {
		ids[i] = 5 + i
	}
	_, errOut, code := cli(t, "logits", "--model", fixture, "--ids", idList(ids), "--context", "16")
	if code == 0 || !strings.Contains(errOut, "40") || !strings.Contains(errOut, "16") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestConvertGGUF(t *testing.T) {
	out := t.TempDir()
	_, errOut, code := cli(t, "convert", "--model", fixture, "--out", out, "--to", "gguf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(filepath.Join(out, "model-f32.gguf"))
	if err != nil || !bytes.HasPrefix(data, []byte("GGUF")) {
		t.Fatalf("no GGUF written: %v", err)
	}
	// A failed conversion leaves nothing behind.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type":"bloom","hidden_size":24,"n_head":4,"n_layer":1,"vocab_size":300}`), 0o644)
	out2 := t.TempDir()
	if _, _, code := cli(t, "convert", "--model", bad, "--out", out2, "--to", "gguf"); code == 0 {
		t.Fatal("conversion of a directory without weights succeeded")
	}
	if ents, _ := os.ReadDir(out2); len(ents) != 0 {
		t.Errorf("failed conversion left %d files behind", len(ents))
	}
}

func TestEval(t *testing.T) {
	text := filepath.Join(t.TempDir(), "t.txt")
	os.WriteFile(text, []byte(strings.Repeat("The small model reads the text, then looks back. ", 8)), 0o644)
	out, errOut, code := cli(t, "eval", "--model", fixture, "--text-file", text, "--context", "32", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r evalResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Tokens <= 0 || r.Loss <= 0 || math.Abs(r.Perplexity-math.Exp(r.Loss)) > 1e-6*r.Perplexity || r.BitsPerByte <= 0 {
		t.Errorf("implausible result %+v", r)
	}
	want := r.Loss * float64(r.Tokens) / math.Ln2 / float64(r.Bytes)
	if math.Abs(r.BitsPerByte-want) > 1e-9 {
		t.Errorf("bits per byte %v, want %v", r.BitsPerByte, want)
	}
}
