package tokenizer

import (
	"bytes"
	"encoding/json"
	"testing"
)

// tokenNameRef is what configTokenName must agree with: encoding/json, as findBOSEOS read it
// before.
func tokenNameRef(raw []byte) (string, bool) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		var o struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return "", false
		}
		name = o.Content
	}
	return name, true
}

var configJSONCases = []string{
	`{"bos_token":"<s>","eos_token":{"content":"</s>","lstrip":false}}`,
	`{"bos_token":null,"eos_token":{"Content":"a","content":"b"}}`,
	`{"bos_token":1,"eos_token":[1]}`,
	`{"bos_token":{"content":1},"eos_token":{"content":null}}`,
	`{"bos_token":{"CONTENT":"x","content":null},"eos_token":{}}`,
	`{"bos_token":"a","bos_token":"b"}`,
	`{"bos_token":"\u00e9\ud800"}`,
	`null`, `[]`, `"x"`, `{`, `{"a":}`, ` { "bos_token" : "x" } `,
}

func checkConfigJSON(t *testing.T, b []byte) {
	t.Helper()
	got, err := configMembers(b)
	var want map[string]json.RawMessage
	werr := json.Unmarshal(b, &want)
	if (err != nil) != (werr != nil) || len(got) != len(want) {
		t.Fatalf("%q: configMembers %d keys, %v; encoding/json %d keys, %v", b, len(got), err, len(want), werr)
	}
	if err != nil {
		return
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g, w) {
			t.Fatalf("%q: key %q: %q, want %q", b, k, g, w)
		}
		name, ok := configTokenName(w)
		wname, wok := tokenNameRef(w)
		if name != wname || ok != wok {
			t.Fatalf("%q: key %q: configTokenName = %q, %v; encoding/json %q, %v", b, k, name, ok, wname, wok)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	for _, c := range configJSONCases {
		checkConfigJSON(t, []byte(c))
	}
}

func FuzzConfigJSON(f *testing.F) {
	for _, c := range configJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkConfigJSON(t, b) })
}
