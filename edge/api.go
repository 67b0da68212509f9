package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Limits bound what one request may ask for.
type Limits struct {
	MaxBodyBytes     int64 // request body; larger is 413
	MaxPromptBytes   int   // prompt text (UTF-8 bytes); larger is 413
	MaxPromptTokens  int   // prompt after tokenizing; more is 413
	MaxTokens        int   // max_tokens above this is capped to it
	DefaultMaxTokens int   // when max_tokens is absent (OpenAI: 16)
	MaxQueue         int   // requests waiting for the model; more is 503
}

// DefaultLimits are the limits of the Worker.
var DefaultLimits = Limits{
	MaxBodyBytes:     64 << 10,
	MaxPromptBytes:   8 << 10,
	MaxPromptTokens:  512,
	MaxTokens:        256,
	DefaultMaxTokens: 16,
	MaxQueue:         64,
}

// apiError is an error answered as OpenAI-shaped JSON:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
}

func (e *apiError) Error() string { return "edge: " + e.Message }

func badRequest(param, code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	var param any
	if e.Param != "" {
		param = e.Param
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": e.Message, "type": e.Type, "param": param, "code": e.Code,
	}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(e.Status)
	w.Write(append(body, '\n'))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeAPIError(w, &apiError{Status: 500, Type: "server_error", Code: "internal", Message: "internal error"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// completionRequest is the accepted subset of OpenAI's /v1/completions body.
// Unknown fields are ignored, as OpenAI clients send many.
type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	MaxTokens     *int            `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	Seed          *int64          `json:"seed"`
	Stream        bool            `json:"stream"`
	N             *int            `json:"n"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// parsedRequest is a validated completion request.
type parsedRequest struct {
	Model        string
	Text         string // prompt text, or "" with IDs
	IDs          []int  // prompt token ids given directly
	MaxTokens    int
	Temperature  *float32
	TopP         *float32
	Seed         uint64
	Stream       bool
	IncludeUsage bool
}

// readBody reads at most limit bytes of the body; more is a 413.
func readBody(r *http.Request, limit int64) ([]byte, *apiError) {
	tooLarge := &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "body_too_large",
		Message: fmt.Sprintf("request body larger than %d bytes", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badRequest("", "bad_body", "reading the request body: %v", err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge
	}
	return data, nil
}

// parseCompletion validates a request body against the limits.
func parseCompletion(body []byte, lim Limits) (*parsedRequest, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("", "invalid_json", "request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var req completionRequest
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, badRequest(te.Field, "invalid_type", "field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return nil, badRequest("", "invalid_json", "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, badRequest("", "invalid_json", "request body has data after the JSON object")
	}
	if body = bytes.TrimSpace(body); body[0] != '{' {
		return nil, badRequest("", "invalid_json", "request body must be a JSON object")
	}
	p := &parsedRequest{Model: req.Model, Stream: req.Stream, MaxTokens: lim.DefaultMaxTokens}
	if req.StreamOptions != nil {
		p.IncludeUsage = req.StreamOptions.IncludeUsage
	}
	if req.N != nil && *req.N != 1 {
		return nil, badRequest("n", "unsupported", "n must be 1")
	}
	if err := parsePrompt(req.Prompt, p, lim); err != nil {
		return nil, err
	}
	if req.MaxTokens != nil {
		switch {
		case *req.MaxTokens < 1:
			return nil, badRequest("max_tokens", "invalid_value", "max_tokens must be at least 1, got %d", *req.MaxTokens)
		case *req.MaxTokens > lim.MaxTokens:
			p.MaxTokens = lim.MaxTokens
		default:
			p.MaxTokens = *req.MaxTokens
		}
	}
	if p.MaxTokens > lim.MaxTokens {
		p.MaxTokens = lim.MaxTokens
	}
	if req.Temperature != nil {
		t := *req.Temperature
		if math.IsNaN(t) || t < 0 || t > 2 {
			return nil, badRequest("temperature", "invalid_value", "temperature must be between 0 and 2, got %v", t)
		}
		f := float32(t)
		p.Temperature = &f
	}
	if req.TopP != nil {
		tp := *req.TopP
		if math.IsNaN(tp) || tp <= 0 || tp > 1 {
			return nil, badRequest("top_p", "invalid_value", "top_p must be in (0, 1], got %v", tp)
		}
		f := float32(tp)
		p.TopP = &f
	}
	if req.Seed != nil {
		p.Seed = uint64(*req.Seed)
	}
	return p, nil
}

func parsePrompt(raw json.RawMessage, p *parsedRequest, lim Limits) *apiError {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return badRequest("prompt", "missing_prompt", "prompt is required")
	}
	tooLong := func(what string) *apiError {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "prompt_too_long", Param: "prompt", Message: what}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		p.Text = s
	} else {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return badRequest("prompt", "invalid_type", "prompt must be a string, an array of one string, or an array of token ids")
		}
		if len(list) == 0 {
			return badRequest("prompt", "missing_prompt", "prompt is empty")
		}
		var ids []int
		if json.Unmarshal(list[0], &s) == nil {
			if len(list) != 1 {
				return badRequest("prompt", "unsupported", "only one prompt per request")
			}
			p.Text = s
		} else if err := json.Unmarshal(raw, &ids); err == nil {
			for _, id := range ids {
				if id < 0 {
					return badRequest("prompt", "invalid_value", "token id %d is negative", id)
				}
			}
			if len(ids) > lim.MaxPromptTokens {
				return tooLong(fmt.Sprintf("prompt has %d tokens; the limit is %d", len(ids), lim.MaxPromptTokens))
			}
			p.IDs = ids
			return nil
		} else {
			return badRequest("prompt", "invalid_type", "prompt must be a string, an array of one string, or an array of token ids")
		}
	}
	if p.Text == "" {
		return badRequest("prompt", "missing_prompt", "prompt is empty")
	}
	if !utf8.ValidString(p.Text) {
		return badRequest("prompt", "invalid_value", "prompt is not valid UTF-8")
	}
	if len(p.Text) > lim.MaxPromptBytes {
		return tooLong(fmt.Sprintf("prompt is %d bytes; the limit is %d", len(p.Text), lim.MaxPromptBytes))
	}
	return nil
}
