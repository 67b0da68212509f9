package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/c9e48c40/alibi/engine"
)

func init() {
	register("eval", "mean loss, perplexity and bits per byte of a model over a text", runEval)
}

// evalResult is the JSON form of `alibi eval --json`.
type evalResult struct {
	Tokens      int     `json:"tokens"`
	Loss        float64 `json:"loss"`
	Perplexity  float64 `json:"perplexity"`
	BitsPerByte float64 `json:"bits_per_byte"`
	Context     int     `json:"context"`
	Windows     int     `json:"windows"`
	Bytes       int     `json:"bytes"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	model := fs.String("model", "", "model directory or http(s) URL of one")
	textFile := fs.String("text-file", "", "UTF-8 text to score")
	window := fs.Int("context", 0, "window length in tokens (default: the training length from config.json)")
	quant := fs.String("quant", "none", "weights in memory: none (f32) or int8")
	asJSON := fs.Bool("json", false, "print one JSON document")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *textFile == "" {
		return errors.New("--model and --text-file are required")
	}
	q, err := parseQuant(*quant)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(*textFile)
	if err != nil {
		return err
	}
	ctx := context.Background()
	tok, err := loadTokenizer(ctx, *model, stderr)
	if err != nil {
		return err
	}
	ids, err := tok.Encode(string(text), false)
	if err != nil {
		return err
	}
	if *window < 0 {
		return fmt.Errorf("--context %d: must be positive", *window)
	}
	n := *window
	if n == 0 {
		if n, err = trainingContext(ctx, *model, stderr); err != nil {
			return err
		}
	}
	m, err := loadModel(ctx, *model, engine.LoadOptions{Quant: q, ContextLength: n}, stderr)
	if err != nil {
		return err
	}
	res, err := evaluate(ctx, m, ids, n)
	if err != nil {
		return err
	}
	res.Bytes = len(text)
	res.BitsPerByte = res.Loss * float64(res.Tokens) / math.Ln2 / float64(len(text))
	if *asJSON {
		return writeJSON(stdout, res)
	}
	_, err = fmt.Fprintf(stdout, "tokens %d  windows %d x %d  loss %.4f nats/token  perplexity %.3f  bits/byte %.4f\n",
		res.Tokens, res.Windows, n, res.Loss, res.Perplexity, res.BitsPerByte)
	return err
}

// trainingContext returns the model's training length from config.json, or
// engine.DefaultContextLength when the config names none.
func trainingContext(ctx context.Context, model string, stderr io.Writer) (int, error) {
	data, err := newModelSource(model, stderr).readSmall(ctx, "config.json")
	if err != nil {
		return 0, err
	}
	cfg, err := engine.ParseConfig(data)
	if err != nil {
		return 0, err
	}
	if cfg.TrainingContext > 0 {
		return cfg.TrainingContext, nil
	}
	return engine.DefaultContextLength, nil
}

// evaluate scores ids in non-overlapping windows of n tokens, each evaluated
// from a fresh context; within a window every token after the first is
// predicted from the tokens before it in that window (tools/train/EVAL.md
// defines the same measure for the training program). Loss is the mean
// negative log-likelihood in nats over the predicted tokens.
func evaluate(ctx context.Context, m *engine.Model, ids []int, n int) (evalResult, error) {
	if n < 2 {
		return evalResult{}, fmt.Errorf("eval: window of %d tokens predicts nothing", n)
	}
	if len(ids) < 2 {
		return evalResult{}, errors.New("eval: the text has fewer than two tokens")
	}
	sess := m.NewSession()
	var nll float64
	var count, windows int
	for start := 0; start < len(ids)-1; start += n {
		w := ids[start:min(start+n, len(ids))]
		if len(w) < 2 {
			break
		}
		sess.Reset()
		rows, err := sess.PrefillAll(ctx, w)
		if err != nil {
			return evalResult{}, err
		}
		for t := 0; t+1 < len(w); t++ {
			nll -= logSoftmaxAt(rows[t], w[t+1])
			count++
		}
		windows++
	}
	loss := nll / float64(count)
	return evalResult{Tokens: count, Loss: loss, Perplexity: math.Exp(loss), Context: n, Windows: windows}, nil
}

// logSoftmaxAt returns log softmax(logits)[i], computed in float64.
func logSoftmaxAt(logits []float32, i int) float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(float64(v) - m)
	}
	return float64(logits[i]) - m - math.Log(s)
}
