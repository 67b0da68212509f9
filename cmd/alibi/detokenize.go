package main

import (
	"errors"
	"fmt"
	"io"
)

func init() {
	register("detokenize", "token ids to text with a tokenizer.json", runDetokenize)
}

// runDetokenize: alibi detokenize --tokenizer FILE --ids 1,2,3 [--skip-special] [--json]
// prints the text exactly (no newline added), or {"text": "..."} with --json.
func runDetokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("detokenize", stderr)
	path := fs.String("tokenizer", "", "tokenizer.json file, or a directory holding one")
	idList := fs.String("ids", "", "comma-separated token ids, e.g. 1,2,3")
	skip := fs.Bool("skip-special", false, "drop special tokens")
	asJSON := fs.Bool("json", false, `print {"text": "..."}`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *path == "" {
		return errors.New("--tokenizer is required")
	}
	ids, err := parseIDs(*idList)
	if err != nil {
		return err
	}
	tk, err := openTokenizer(*path)
	if err != nil {
		return err
	}
	text, err := tk.Decode(ids, *skip)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, struct {
			Text string `json:"text"`
		}{text})
	}
	_, err = io.WriteString(stdout, text)
	return err
}
