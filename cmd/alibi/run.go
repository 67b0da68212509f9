package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/c9e48c40/alibi/engine"
	"github.com/c9e48c40/alibi/tokenizer"
)

func init() {
	register("run", "generate text from a prompt (--prompt) or token ids (--ids)", runRun)
}

// generationConfig holds the sampling defaults a model directory may ship in
// generation_config.json (Hugging Face keys).
type generationConfig struct {
	DoSample          *bool    `json:"do_sample"`
	Temperature       *float32 `json:"temperature"`
	TopK              *int     `json:"top_k"`
	TopP              *float32 `json:"top_p"`
	RepetitionPenalty *float32 `json:"repetition_penalty"`
	EOSTokenID        any      `json:"eos_token_id"`
}

func readGenerationConfig(ctx context.Context, model string, stderr io.Writer) (*generationConfig, error) {
	var data []byte
	var err error
	if isURL(model) {
		data, err = newModelSource(model, stderr).readSmall(ctx, "generation_config.json")
	} else {
		data, err = os.ReadFile(filepath.Join(model, "generation_config.json"))
		if errors.Is(err, os.ErrNotExist) {
			err = errNotFound
		}
	}
	if errors.Is(err, errNotFound) {
		return &generationConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	var g generationConfig
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("generation_config.json: %w", err)
	}
	return &g, nil
}

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	model := fs.String("model", "", "model directory or http(s) URL of one")
	prompt := fs.String("prompt", "", "prompt text (needs tokenizer.json)")
	idsFlag := fs.String("ids", "", "prompt as comma-separated token ids")
	maxTokens := fs.Int("max-tokens", 64, "number of tokens to generate")
	temperature := fs.Float64("temperature", -1, "sampling temperature; 0 is greedy (default: generation_config.json, else greedy)")
	topK := fs.Int("top-k", -1, "keep the k most likely tokens (0 = off)")
	topP := fs.Float64("top-p", -1, "nucleus sampling mass (1 = off)")
	minP := fs.Float64("min-p", 0, "drop tokens below min-p times the top probability (0 = off)")
	repPenalty := fs.Float64("repetition-penalty", -1, "penalty for tokens already in the context (1 = off)")
	seed := fs.Uint64("seed", 0, "sampler seed")
	quant := fs.String("quant", "none", "weights in memory: none (f32) or int8")
	ctxLen := fs.Int("context", 0, "context length in tokens (default: the training length, at least 2048: ALiBi extrapolates)")
	asJSON := fs.Bool("json", false, `print {"ids": [...], "text": "..."} instead of streaming text`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" {
		return errors.New("--model is required")
	}
	if (*prompt == "") == (*idsFlag == "") {
		return errors.New("give exactly one of --prompt and --ids")
	}
	if *maxTokens < 0 {
		return fmt.Errorf("--max-tokens %d: must not be negative", *maxTokens)
	}
	q, err := parseQuant(*quant)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	gen, err := readGenerationConfig(ctx, *model, stderr)
	if err != nil {
		return err
	}
	opts := engine.GenerateOptions{MaxTokens: *maxTokens}
	opts.Seed = *seed
	opts.MinP = float32(*minP)
	opts.TopP = 1
	opts.RepetitionPenalty = 1
	if gen.DoSample == nil || *gen.DoSample {
		if gen.Temperature != nil {
			opts.Temperature = *gen.Temperature
		}
		if gen.TopK != nil {
			opts.TopK = *gen.TopK
		}
		if gen.TopP != nil {
			opts.TopP = *gen.TopP
		}
	}
	if gen.RepetitionPenalty != nil {
		opts.RepetitionPenalty = *gen.RepetitionPenalty
	}
	if *temperature >= 0 {
		opts.Temperature = float32(*temperature)
	}
	if *topK >= 0 {
		opts.TopK = *topK
	}
	if *topP >= 0 {
		opts.TopP = float32(*topP)
	}
	if *repPenalty >= 0 {
		opts.RepetitionPenalty = float32(*repPenalty)
	}

	var tok *tokenizer.Tokenizer
	var ids []int
	if *prompt != "" {
		tok, err = loadTokenizer(ctx, *model, stderr)
		if err != nil {
			return err
		}
		ids, err = tok.Encode(*prompt, true)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return errors.New("--prompt encodes to no tokens")
		}
	} else {
		if ids, err = parseIDs(*idsFlag); err != nil {
			return err
		}
		// Text output needs a tokenizer; it is optional with --ids.
		tok, _ = loadTokenizer(ctx, *model, stderr)
	}

	m, err := loadModel(ctx, *model, engine.LoadOptions{Quant: q, ContextLength: *ctxLen}, stderr)
	if err != nil {
		return err
	}
	info := m.Info()
	for _, id := range ids {
		if id >= info.Vocab {
			return fmt.Errorf("token id %d is outside the vocabulary (%d rows)", id, info.Vocab)
		}
	}
	if info.EOS >= 0 {
		opts.StopIDs = append(opts.StopIDs, info.EOS)
	}
	if tok != nil {
		if eos, ok := tok.EOS(); ok && eos != info.EOS {
			opts.StopIDs = append(opts.StopIDs, eos)
		}
	}

	var dec *tokenizer.StreamDecoder
	if tok != nil {
		dec = tok.NewDecoder(true)
	}
	var out []int
	var text []byte
	sess := m.NewSession()
	err = sess.Generate(ctx, ids, opts, func(id int) error {
		out = append(out, id)
		if dec == nil {
			if !*asJSON {
				_, err := fmt.Fprintf(stdout, "%d ", id)
				return err
			}
			return nil
		}
		piece, err := dec.Next(id)
		if err != nil {
			return err
		}
		text = append(text, piece...)
		if !*asJSON {
			_, err = io.WriteString(stdout, piece)
		}
		return err
	})
	if err != nil {
		return err
	}
	if dec != nil {
		// Byte-fallback tokenizers hold back an unfinished UTF-8 sequence.
		tail, err := dec.Flush()
		if err != nil {
			return err
		}
		text = append(text, tail...)
		if !*asJSON {
			if _, err := io.WriteString(stdout, tail); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		if out == nil {
			out = []int{}
		}
		return writeJSON(stdout, struct {
			IDs  []int  `json:"ids"`
			Text string `json:"text"`
		}{out, string(text)})
	}
	_, err = fmt.Fprintln(stdout)
	return err
}
