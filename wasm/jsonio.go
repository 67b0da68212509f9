package main

// The JSON the exported functions read (generate's options) and write (next's
// token, tokenBytes, benchMatVec, memory), without encoding/json: its
// reflection-driven code was about 0.2 MB of alibi.wasm's 3.3 MB of code,
// which every new tab validates before the engine can start.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/c9e48c40/alibi/internal/jsonscan"
)

// jsGenerateOptions is the JSON form of generate's options.
type jsGenerateOptions struct {
	MaxTokens         int      `json:"maxTokens"`
	Temperature       *float32 `json:"temperature"`
	TopK              int      `json:"topK"`
	TopP              float32  `json:"topP"`
	MinP              float32  `json:"minP"`
	RepetitionPenalty float32  `json:"repetitionPenalty"`
	Seed              uint64   `json:"seed"`
	StopIDs           []int    `json:"stopIds"`
	StopStrings       []string `json:"stopStrings"`
	IgnoreEOS         bool     `json:"ignoreEOS"`
	SkipSpecial       *bool    `json:"skipSpecial"`
	AttentionLayer    *int     `json:"attentionLayer"`
}

// parseGenerateOptions reads s as encoding/json reads it into a
// jsGenerateOptions: keys matched without regard to case, unknown keys
// ignored, null leaving a value as it is (and a pointer or slice nil), a
// value of the wrong type or out of its field's range an error.
func parseGenerateOptions(s string) (jsGenerateOptions, error) {
	var o jsGenerateOptions
	if s == "" {
		return o, nil
	}
	ms, err := jsonscan.MembersOrNull([]byte(s))
	if err != nil {
		return o, err
	}
	for _, m := range ms {
		null := jsonscan.KindOf(m.Raw) == jsonscan.KindNull
		var err error
		k := m.Key
		switch {
		case strings.EqualFold(k, "maxTokens"):
			err = jsonInt(m.Raw, &o.MaxTokens)
		case strings.EqualFold(k, "temperature"):
			o.Temperature = nil
			if !null {
				o.Temperature = new(float32)
				err = jsonFloat32(m.Raw, o.Temperature)
			}
		case strings.EqualFold(k, "topK"):
			err = jsonInt(m.Raw, &o.TopK)
		case strings.EqualFold(k, "topP"):
			err = jsonFloat32(m.Raw, &o.TopP)
		case strings.EqualFold(k, "minP"):
			err = jsonFloat32(m.Raw, &o.MinP)
		case strings.EqualFold(k, "repetitionPenalty"):
			err = jsonFloat32(m.Raw, &o.RepetitionPenalty)
		case strings.EqualFold(k, "seed"):
			if !null {
				if o.Seed, err = strconv.ParseUint(string(jsonNumber(m.Raw)), 10, 64); err != nil {
					err = fmt.Errorf("%s: not a uint64", m.Raw)
				}
			}
		case strings.EqualFold(k, "stopIds"):
			o.StopIDs, err = jsonSlice(m.Raw, func(raw []byte, v *int) error { return jsonInt(raw, v) })
		case strings.EqualFold(k, "stopStrings"):
			o.StopStrings, err = jsonSlice(m.Raw, func(raw []byte, v *string) error {
				if jsonscan.KindOf(raw) == jsonscan.KindNull {
					return nil
				}
				s, err := jsonscan.String(raw)
				*v = s
				return err
			})
		case strings.EqualFold(k, "ignoreEOS"):
			if !null {
				o.IgnoreEOS, err = jsonscan.Bool(m.Raw)
			}
		case strings.EqualFold(k, "skipSpecial"):
			o.SkipSpecial = nil
			if !null {
				b, berr := jsonscan.Bool(m.Raw)
				o.SkipSpecial, err = &b, berr
			}
		case strings.EqualFold(k, "attentionLayer"):
			o.AttentionLayer = nil
			if !null {
				o.AttentionLayer = new(int)
				err = jsonInt(m.Raw, o.AttentionLayer)
			}
		}
		if err != nil {
			return o, fmt.Errorf("%s: %w", m.Key, err)
		}
	}
	return o, nil
}

// jsonNumber returns raw when it is a number, else a text no parser takes.
func jsonNumber(raw []byte) []byte {
	if jsonscan.KindOf(raw) != jsonscan.KindNumber {
		return []byte("x")
	}
	return raw
}

// jsonInt reads an integer that fits an int; null leaves *v as it is.
func jsonInt(raw []byte, v *int) error {
	if jsonscan.KindOf(raw) == jsonscan.KindNull {
		return nil
	}
	n, err := strconv.ParseInt(string(jsonNumber(raw)), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("%s: not an int", raw)
	}
	*v = int(n)
	return nil
}

// jsonFloat32 reads a number in float32's range; null leaves *v as it is.
func jsonFloat32(raw []byte, v *float32) error {
	if jsonscan.KindOf(raw) == jsonscan.KindNull {
		return nil
	}
	f, err := strconv.ParseFloat(string(jsonNumber(raw)), 32)
	if err != nil {
		return fmt.Errorf("%s: not a float32", raw)
	}
	*v = float32(f)
	return nil
}

// jsonSlice reads an array with one reader per element; null is nil.
func jsonSlice[T any](raw []byte, read func([]byte, *T) error) ([]T, error) {
	if jsonscan.KindOf(raw) == jsonscan.KindNull {
		return nil, nil
	}
	es, err := jsonscan.Elements(raw)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(es))
	for i, e := range es {
		if err := read(e, &out[i]); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return out, nil
}

// jsonObject writes one JSON object, member by member.
type jsonObject struct{ b []byte }

func (o *jsonObject) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = jsonscan.AppendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) Int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) Uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *jsonObject) Float(k string, v float64) {
	o.key(k)
	o.b = appendJSONFloat(o.b, v, 64)
}

func (o *jsonObject) Bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *jsonObject) String(k, v string) {
	o.key(k)
	o.b = jsonscan.AppendString(o.b, v)
}

// Raw adds a value already written as JSON.
func (o *jsonObject) Raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

func (o *jsonObject) Done() string {
	if len(o.b) == 0 {
		return "{}"
	}
	return string(append(o.b, '}'))
}

// appendJSONFloat writes f as encoding/json does; NaN and ±Inf, which
// JSON cannot hold, as null.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' { // clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONRows writes [[a,b],[c]], each value by one.
func appendJSONRows[T any](b []byte, rows [][]T, one func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for k, v := range r {
			if k > 0 {
				b = append(b, ',')
			}
			b = one(b, v)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

func appendJSONInts(b []byte, rows [][]int) []byte {
	return appendJSONRows(b, rows, func(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) })
}

func appendJSONFloat32s(b []byte, rows [][]float32) []byte {
	return appendJSONRows(b, rows, func(b []byte, v float32) []byte { return appendJSONFloat(b, float64(v), 32) })
}

// tokenJSON is next's answer: {"id","text","done","reason"[,"attention"]}.
func tokenJSON(t Token) string {
	var o jsonObject
	o.Int("id", int64(t.ID))
	o.String("text", t.Text)
	o.Bool("done", t.Done)
	o.String("reason", t.Reason)
	if t.Attention != nil {
		o.Raw("attention", appendJSONFloat32s(nil, t.Attention))
	}
	return o.Done()
}

// memoryJSON is memory's answer.
func memoryJSON(m MemStats) string {
	var o jsonObject
	o.Uint("heapAlloc", m.HeapAlloc)
	o.Uint("heapSys", m.HeapSys)
	o.Uint("sys", m.Sys)
	o.Uint("totalAlloc", m.TotalAlloc)
	o.Bool("simd", m.SIMD)
	return o.Done()
}
