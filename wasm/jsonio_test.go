package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

var generateOptionCases = []string{
	``, `null`, `{}`,
	`{"maxTokens":16,"temperature":0.7,"topK":40,"topP":0.9,"minP":0.05,"repetitionPenalty":1.1,"seed":18446744073709551615,"stopIds":[2,0],"stopStrings":["\n\n","é"],"ignoreEOS":true,"skipSpecial":false,"attentionLayer":3}`,
	`{"temperature":null,"skipSpecial":null,"attentionLayer":null,"stopIds":null,"stopStrings":null,"maxTokens":null}`,
	`{"MAXTOKENS":3,"maxtokens":4,"ſeed":5,"unknown":{"x":[1,2]}}`,
	`{"temperature":1,"temperature":null}`,
	`{"stopIds":[1,null,3],"stopStrings":["a",null]}`,
	`{"maxTokens":1.5}`, `{"maxTokens":"5"}`, `{"maxTokens":1e2}`, `{"maxTokens":9223372036854775808}`,
	`{"temperature":1e39}`, `{"temperature":1e-50}`, `{"seed":-1}`, `{"seed":1.0}`,
	`{"stopIds":{}}`, `{"stopStrings":[1]}`, `{"ignoreEOS":"true"}`, `{"skipSpecial":1}`,
	`[]`, `"x"`, `{`, `{"a":1}x`,
}

func checkGenerateOptions(t *testing.T, s string) {
	t.Helper()
	got, err := parseGenerateOptions(s)
	var want jsGenerateOptions
	var werr error
	if s != "" {
		werr = json.Unmarshal([]byte(s), &want)
	}
	if (err != nil) != (werr != nil) {
		t.Fatalf("%q: error %v; encoding/json %v", s, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %+v; encoding/json %+v", s, got, want)
	}
}

func TestParseGenerateOptions(t *testing.T) {
	for _, c := range generateOptionCases {
		checkGenerateOptions(t, c)
	}
}

func FuzzParseGenerateOptions(f *testing.F) {
	for _, c := range generateOptionCases {
		f.Add(c)
	}
	f.Fuzz(checkGenerateOptions)
}

// TestJSONWriters: what the answers write decodes to what encoding/json
// wrote for the same values, and float32s are written byte for byte alike.
func TestJSONWriters(t *testing.T) {
	same := func(what, got string, want any) {
		t.Helper()
		wb, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("%s: %q is not JSON: %v", what, got, err)
		}
		json.Unmarshal(wb, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %s, encoding/json %s", what, got, wb)
		}
	}
	att := [][]float32{{0, 1, 0.25, 1e-7, 3.4e38, -2.5e-8, 1.0 / 3}, {}}
	tok := Token{ID: 7, Text: "a \"b\"\n\u00e9\x01", Done: true, Reason: "eos", Attention: att}
	same("next", tokenJSON(tok), map[string]any{"id": 7, "text": tok.Text, "done": true, "reason": "eos", "attention": att})
	same("next without attention", tokenJSON(Token{ID: -1}), map[string]any{"id": -1, "text": "", "done": false, "reason": ""})
	m := MemStats{HeapAlloc: 1, HeapSys: 1 << 40, Sys: math.MaxUint64, TotalAlloc: 3, SIMD: true}
	same("memory", memoryJSON(m), map[string]any{"heapAlloc": m.HeapAlloc, "heapSys": m.HeapSys, "sys": m.Sys, "totalAlloc": m.TotalAlloc, "simd": true})
	rows := [][]int{{1, 255, 0}, {}, {-3}}
	same("tokenBytes", string(appendJSONInts(nil, rows)), rows)
	same("tokenBytes empty", string(appendJSONInts(nil, nil)), [][]int{})
	var o jsonObject
	o.Int("rows", 3)
	o.Float("nsPerOp", 1234.5678)
	o.Float("gflops", 1e-9)
	o.Bool("cold", false)
	same("benchMatVec", o.Done(), map[string]any{"rows": 3, "nsPerOp": 1234.5678, "gflops": 1e-9, "cold": false})

	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		v := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		wb, _ := json.Marshal([][]float32{{v}})
		if got := string(appendJSONFloat32s(nil, [][]float32{{v}})); got != string(wb) {
			t.Fatalf("float32 %g: %s, encoding/json %s", v, got, wb)
		}
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		wb, _ = json.Marshal(f)
		if got := string(appendJSONFloat(nil, f, 64)); got != string(wb) {
			t.Fatalf("float64 %g: %s, encoding/json %s", f, got, wb)
		}
	}
}
