package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/c9e48c40/alibi/tokenizer"
)

// The committed BLOOM-layout fixture and a template-processing one (adds <s> ... </s>).
const (
	bloomTokenizer   = "../../tokenizer/testdata/fixtures/bloom/tokenizer.json"
	unigramTokenizer = "../../tokenizer/testdata/fixtures/unigram/tokenizer.json"
)

func runCLI(t *testing.T, fn func([]string, *bytes.Buffer, *bytes.Buffer) error, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := fn(args, &out, &errb)
	return out.String(), err
}

func tokenizeCmd(args []string, out, errb *bytes.Buffer) error { return runTokenize(args, out, errb) }
func detokenizeCmd(args []string, out, errb *bytes.Buffer) error {
	return runDetokenize(args, out, errb)
}

func TestTokenizeText(t *testing.T) {
	tk, err := openTokenizer(unigramTokenizer)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text    string
		special bool
	}{{"Hello world", true}, {"Hello world", false}, {"", true}, {"日本語 😀 café", true}} {
		args := []string{"--tokenizer", unigramTokenizer, "--text", tc.text}
		if !tc.special {
			args = append(args, "--no-special")
		}
		out, err := runCLI(t, tokenizeCmd, args...)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ IDs []int }
		if err := json.Unmarshal([]byte(out), &got); err != nil || !strings.HasPrefix(out, `{"ids":[`) {
			t.Fatalf("output %q: %v", out, err)
		}
		want, _ := tk.Encode(tc.text, tc.special)
		if !slices.Equal(got.IDs, want) && !(len(want) == 0 && len(got.IDs) == 0) {
			t.Errorf("%q special=%v: got %v want %v", tc.text, tc.special, got.IDs, want)
		}
	}
	// --no-special really drops the template's <s> ... </s>.
	a, _ := runCLI(t, tokenizeCmd, "--tokenizer", unigramTokenizer, "--text", "hi")
	b, _ := runCLI(t, tokenizeCmd, "--tokenizer", unigramTokenizer, "--text", "hi", "--no-special")
	if a == b {
		t.Errorf("--no-special made no difference: %s", a)
	}
}

func TestTokenizeJSONL(t *testing.T) {
	tk, err := tokenizer.LoadDir("../../tokenizer/testdata/fixtures/bloom")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("word and more words, ", 20000) // a 420 kB line
	texts := []string{"Hello world", "", "line\nbreak\ttab", long, "😀 <s> </s>"}
	var in bytes.Buffer
	for i, s := range texts {
		b, _ := json.Marshal(s)
		in.Write(b)
		if i < len(texts)-1 {
			in.WriteByte('\n') // the last line has no newline
		}
	}
	stdin = &in
	defer func() { stdin = nil }()
	out, err := runCLI(t, tokenizeCmd, "--tokenizer", bloomTokenizer, "--jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("got %d lines, want %d", len(lines), len(texts))
	}
	for i, l := range lines {
		var ids []int
		if err := json.Unmarshal([]byte(l), &ids); err != nil || ids == nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		want, _ := tk.Encode(texts[i], true)
		if !slices.Equal(ids, want) && len(want)+len(ids) > 0 {
			t.Errorf("line %d: got %d ids, want %d", i, len(ids), len(want))
		}
	}
	stdin = strings.NewReader("\"ok\"\nnot json\n")
	if _, err := runCLI(t, tokenizeCmd, "--tokenizer", bloomTokenizer, "--jsonl"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: err = %v", err)
	}
}

func TestDetokenize(t *testing.T) {
	tk, err := openTokenizer(unigramTokenizer)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := tk.Encode("Hello, world! café", true)
	list := strings.Trim(strings.ReplaceAll(fmt.Sprint(ids), " ", ","), "[]")
	for _, skip := range []bool{false, true} {
		want, _ := tk.Decode(ids, skip)
		args := []string{"--tokenizer", unigramTokenizer, "--ids", list}
		if skip {
			args = append(args, "--skip-special")
		}
		out, err := runCLI(t, detokenizeCmd, args...)
		if err != nil || out != want {
			t.Errorf("skip=%v: got %q, %v; want %q", skip, out, err, want)
		}
		out, err = runCLI(t, detokenizeCmd, append(args, "--json")...)
		var got struct{ Text string }
		if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.Text != want {
			t.Errorf("--json skip=%v: got %q, %v", skip, out, err)
		}
	}
	if !strings.Contains(mustDecode(t, tk, ids, true), "Hello") {
		t.Errorf("decode lost the text")
	}
}

func mustDecode(t *testing.T, tk *tokenizer.Tokenizer, ids []int, skip bool) string {
	s, err := tk.Decode(ids, skip)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenizeErrors(t *testing.T) {
	for _, tc := range []struct {
		fn   func([]string, *bytes.Buffer, *bytes.Buffer) error
		args []string
		want string
	}{
		{tokenizeCmd, []string{"--text", "x"}, "--tokenizer is required"},
		{tokenizeCmd, []string{"--tokenizer", bloomTokenizer}, "exactly one of"},
		{tokenizeCmd, []string{"--tokenizer", bloomTokenizer, "--text", "x", "--jsonl"}, "exactly one of"},
		{tokenizeCmd, []string{"--tokenizer", "/nonexistent/tokenizer.json", "--text", "x"}, "no such file"},
		{tokenizeCmd, []string{"--tokenizer", "../../go.mod", "--text", "x"}, "malformed JSON"},
		{detokenizeCmd, []string{"--tokenizer", bloomTokenizer, "--ids", "1,x"}, "not a token id"},
		{detokenizeCmd, []string{"--tokenizer", bloomTokenizer, "--ids", "99999999"}, "out of range"},
		{detokenizeCmd, []string{"--ids", "1"}, "--tokenizer is required"},
	} {
		_, err := runCLI(t, tc.fn, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
