package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/c9e48c40/alibi/tokenizer"
)

func init() {
	register("tokenize", "text to token ids with a tokenizer.json", runTokenize)
}

// stdin is where --jsonl reads; tests replace it.
var stdin io.Reader = os.Stdin

// runTokenize: alibi tokenize --tokenizer FILE [--no-special] (--text TEXT | --jsonl)
// prints {"ids": [...]}; with --jsonl it reads one JSON string per stdin line and writes one
// JSON array of ids per line.
func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr)
	path := fs.String("tokenizer", "", "tokenizer.json file, or a directory holding one")
	noSpecial := fs.Bool("no-special", false, "do not add the post-processor's special tokens (e.g. BOS)")
	text := fs.String("text", "", "text to tokenize")
	jsonl := fs.Bool("jsonl", false, "read one JSON string per line on stdin, write one JSON array of ids per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	textSet := false
	fs.Visit(func(f *flag.Flag) { textSet = textSet || f.Name == "text" })
	if *path == "" {
		return errors.New("--tokenizer is required")
	}
	if textSet == *jsonl {
		return errors.New("give exactly one of --text or --jsonl")
	}
	tk, err := openTokenizer(*path)
	if err != nil {
		return err
	}
	if !*jsonl {
		ids, err := tk.Encode(*text, !*noSpecial)
		if err != nil {
			return err
		}
		return writeJSON(stdout, struct {
			IDs []int `json:"ids"`
		}{nonNil(ids)})
	}
	r := bufio.NewReaderSize(stdin, 1<<16)
	w := bufio.NewWriter(stdout)
	for line := 1; ; line++ {
		b, readErr := r.ReadBytes('\n') // any line length
		if readErr != nil && readErr != io.EOF {
			return fmt.Errorf("stdin: %w", readErr)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				return fmt.Errorf("stdin line %d: expected a JSON string: %v", line, err)
			}
			ids, err := tk.Encode(s, !*noSpecial)
			if err != nil {
				return fmt.Errorf("stdin line %d: %w", line, err)
			}
			out, err := json.Marshal(nonNil(ids))
			if err != nil {
				return err
			}
			w.Write(out)
			if err := w.WriteByte('\n'); err != nil {
				return err
			}
		}
		if readErr == io.EOF {
			break
		}
	}
	return w.Flush()
}

func nonNil(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}

// openTokenizer loads a tokenizer.json file (with a tokenizer_config.json beside it when
// present) or a directory holding one.
func openTokenizer(path string) (*tokenizer.Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return tokenizer.LoadDir(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(filepath.Join(filepath.Dir(path), "tokenizer_config.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return tokenizer.LoadWithConfig(data, cfg)
}
