package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/c9e48c40/alibi/engine"
)

// completionChoice and completionResponse are OpenAI's text_completion
// objects; token_ids is an extension (the generated ids of the choice, or
// of the chunk when streaming).
type completionChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
	TokenIDs     []int   `json:"token_ids"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage,omitempty"`
}

func (a *App) serveCompletions(w http.ResponseWriter, r *http.Request) {
	if !apiMethod(w, r, http.MethodPost) {
		return
	}
	body, aerr := readBody(r, a.Limits.MaxBodyBytes)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	p, aerr := parseCompletion(body, a.Limits)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if p.Model != "" && p.Model != a.modelName() {
		writeAPIError(w, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("model %q does not exist; this endpoint serves %q", p.Model, a.modelName())})
		return
	}
	ctx := r.Context()
	release, err := a.queue.acquire(ctx, a.Limits.MaxQueue)
	if errors.Is(err, errQueueFull) {
		w.Header().Set("Retry-After", "5")
		writeAPIError(w, &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded", Message: "too many requests are waiting; retry later"})
		return
	}
	if err != nil {
		a.stats.canceled.Add(1)
		return // the client is gone
	}
	defer release()
	lm, err := a.loadedModelLocked(ctx)
	if err != nil {
		if ctx.Err() != nil {
			a.stats.canceled.Add(1)
			return
		}
		a.logf("edge: loading model: %v", err)
		writeAPIError(w, &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "model_unavailable", Message: "the model could not be loaded"})
		return
	}
	ids := p.IDs
	if ids == nil {
		ids, err = lm.tok.Encode(p.Text, true)
		if err != nil {
			writeAPIError(w, badRequest("prompt", "invalid_value", "prompt cannot be tokenized: %v", err))
			return
		}
		if len(ids) == 0 {
			writeAPIError(w, badRequest("prompt", "missing_prompt", "prompt encodes to no tokens"))
			return
		}
		if len(ids) > a.Limits.MaxPromptTokens {
			writeAPIError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "prompt_too_long", Param: "prompt",
				Message: fmt.Sprintf("prompt has %d tokens; the limit is %d", len(ids), a.Limits.MaxPromptTokens)})
			return
		}
	}
	for _, id := range ids {
		if id >= lm.info.Vocab {
			writeAPIError(w, badRequest("prompt", "invalid_value", "token id %d is outside the vocabulary (%d)", id, lm.info.Vocab))
			return
		}
	}
	maxTokens := p.MaxTokens
	if room := lm.info.ContextLength - len(ids); maxTokens > room {
		maxTokens = room
	}
	if maxTokens < 1 {
		writeAPIError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "context_length_exceeded", Param: "prompt",
			Message: fmt.Sprintf("prompt has %d tokens; the context holds %d", len(ids), lm.info.ContextLength)})
		return
	}
	opts := lm.sampleOptions(p)
	opts.MaxTokens = maxTokens

	id, created := newID(), time.Now().Unix()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if p.Stream {
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("X-Accel-Buffering", "no")
	} else {
		h.Set("Content-Type", "application/json")
	}
	// Headers go out now: the client sees the answer start, and in the
	// Worker a disconnect from here on cancels ctx through the body stream.
	w.WriteHeader(http.StatusOK)
	flush(w)

	chunk := func(text string, tokenIDs []int, finish *string) completionResponse {
		return completionResponse{ID: id, Object: "text_completion", Created: created, Model: lm.name,
			Choices: []completionChoice{{Text: text, Index: 0, FinishReason: finish, TokenIDs: tokenIDs}}}
	}
	dec := lm.tok.NewDecoder(true)
	var out []int
	var text []byte
	a.stats.completions.Add(1)
	lm.sess.Reset()
	genErr := lm.sess.Generate(ctx, ids, opts, func(tid int) error {
		out = append(out, tid)
		a.stats.tokens.Add(1)
		piece, err := dec.Next(tid)
		if err != nil {
			return err
		}
		text = append(text, piece...)
		if p.Stream {
			ev, err := sseEvent(chunk(piece, []int{tid}, nil))
			if err != nil {
				return err
			}
			if _, err := w.Write(ev); err != nil {
				return fmt.Errorf("edge: client gone: %w", context.Canceled)
			}
			flush(w)
		}
		if a.Yield != nil {
			a.Yield(ctx)
		}
		return ctx.Err()
	})
	if out == nil {
		out = []int{}
	}
	if genErr != nil {
		if engine.Kind(genErr) == "aborted" {
			a.stats.canceled.Add(1)
			return
		}
		a.logf("edge: generate: %v", genErr)
		errBody := map[string]any{"error": map[string]any{"message": "generation failed", "type": "server_error", "param": nil, "code": engine.Kind(genErr)}}
		if p.Stream {
			ev, _ := sseEvent(errBody)
			w.Write(ev)
			w.Write(sseDone)
		} else {
			writeBody(w, errBody)
		}
		return
	}
	finish := "stop"
	if len(out) >= maxTokens {
		finish = "length"
	}
	u := &usage{PromptTokens: len(ids), CompletionTokens: len(out), TotalTokens: len(ids) + len(out)}
	if p.Stream {
		last := chunk("", []int{}, &finish)
		if p.IncludeUsage {
			last.Usage = u
		}
		ev, _ := sseEvent(last)
		w.Write(ev)
		w.Write(sseDone)
		flush(w)
		return
	}
	resp := chunk(string(text), out, &finish)
	resp.Usage = u
	writeBody(w, resp)
}

// sampleOptions merges the request with generation_config.json the way
// `alibi run` does: the request's temperature/top_p win; otherwise the
// model's defaults (when do_sample is not false); otherwise OpenAI's
// (temperature 1, top_p 1). The repetition penalty always comes from the
// model, so greedy output equals `alibi run --temperature 0`.
func (lm *loadedModel) sampleOptions(p *parsedRequest) engine.GenerateOptions {
	var o engine.GenerateOptions
	o.Temperature, o.TopP, o.RepetitionPenalty = 1, 1, 1
	g := lm.gen
	if g.DoSample == nil || *g.DoSample {
		if g.Temperature != nil {
			o.Temperature = *g.Temperature
		}
		if g.TopK != nil {
			o.TopK = *g.TopK
		}
		if g.TopP != nil {
			o.TopP = *g.TopP
		}
	}
	if g.RepetitionPenalty != nil {
		o.RepetitionPenalty = *g.RepetitionPenalty
	}
	if p.Temperature != nil {
		o.Temperature = *p.Temperature
	}
	if p.TopP != nil {
		o.TopP = *p.TopP
	}
	o.Seed = p.Seed
	o.StopIDs = lm.stopIDs
	return o
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func writeBody(w http.ResponseWriter, v any) {
	data, err := jsonMarshal(v)
	if err != nil {
		return
	}
	w.Write(append(data, '\n'))
}
