package main

import (
	"bytes"
	"encoding/json"
)

// sseEvent frames one server-sent event carrying a JSON document:
// "data: <json>\n\n". json.Marshal never emits raw newlines (they are
// escaped inside strings), so a single data line is always enough.
func sseEvent(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(data) + 8)
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return b.Bytes(), nil
}

// sseDone is the OpenAI end-of-stream event.
var sseDone = []byte("data: [DONE]\n\n")

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
