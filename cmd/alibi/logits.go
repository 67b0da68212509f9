package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/c9e48c40/alibi/engine"
)

func init() {
	register("logits", "print the logits for token ids (last position, or --all)", runLogits)
}

func runLogits(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("logits", stderr)
	model := fs.String("model", "", "model directory or http(s) URL of one")
	idsFlag := fs.String("ids", "", "comma-separated token ids")
	all := fs.Bool("all", false, "print one logits array per position")
	quant := fs.String("quant", "none", "weights in memory: none (f32) or int8")
	ctxLen := fs.Int("context", 0, "context length in tokens (default: the training length, at least 2048)")
	fs.Bool("json", true, "print JSON (the only output form)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" {
		return errors.New("--model is required")
	}
	ids, err := parseIDs(*idsFlag)
	if err != nil {
		return err
	}
	q, err := parseQuant(*quant)
	if err != nil {
		return err
	}
	ctx := context.Background()
	m, err := loadModel(ctx, *model, engine.LoadOptions{Quant: q, ContextLength: *ctxLen}, stderr)
	if err != nil {
		return err
	}
	vocab := m.Info().Vocab
	for _, id := range ids {
		if id >= vocab {
			return fmt.Errorf("token id %d is outside the vocabulary (%d rows)", id, vocab)
		}
	}
	sess := m.NewSession()
	if *all {
		rows, err := sess.PrefillAll(ctx, ids)
		if err != nil {
			return err
		}
		return writeJSON(stdout, struct {
			Logits [][]float32 `json:"logits"`
		}{rows})
	}
	last, err := sess.Prefill(ctx, ids)
	if err != nil {
		return err
	}
	return writeJSON(stdout, struct {
		Logits []float32 `json:"logits"`
	}{last})
}
