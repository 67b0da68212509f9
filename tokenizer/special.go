package tokenizer

import (
	"encoding/json"
	"fmt"
)

// findBOSEOS sets bos/eos from tokenizer_config.json, else from the post-processor's template,
// else from well-known token names.
func (t *Tokenizer) findBOSEOS(cfg []byte) error {
	explicit := map[string]bool{} // keys tokenizer_config.json sets (null included: "none")
	if len(cfg) > 0 {
		var c map[string]json.RawMessage
		if err := json.Unmarshal(cfg, &c); err != nil {
			return fmt.Errorf("tokenizer: tokenizer_config.json: %w", err)
		}
		for key, dst := range map[string]*int{"bos_token": &t.bos, "eos_token": &t.eos} {
			raw, ok := c[key]
			if !ok {
				continue
			}
			explicit[key] = true
			var name string
			if err := json.Unmarshal(raw, &name); err != nil {
				var o struct {
					Content string `json:"content"`
				}
				if err := json.Unmarshal(raw, &o); err != nil {
					continue // null or an unexpected shape: fall back below
				}
				name = o.Content
			}
			if id, ok := t.TokenID(name); ok && name != "" {
				*dst = id
			}
		}
	}
	before, after := t.post.added()
	if t.bos < 0 && len(before) > 0 {
		t.bos = before[0]
	}
	if t.eos < 0 && len(after) > 0 {
		t.eos = after[len(after)-1]
	}
	if t.bos < 0 && !explicit["bos_token"] {
		t.bos = t.firstKnown("<s>", "<bos>", "<|begin_of_text|>", "<|startoftext|>", "[CLS]", "<|endoftext|>")
	}
	if t.eos < 0 && !explicit["eos_token"] {
		t.eos = t.firstKnown("</s>", "<eos>", "<|end_of_text|>", "<|endoftext|>", "[SEP]", "<|im_end|>")
	}
	return nil
}

func (t *Tokenizer) firstKnown(names ...string) int {
	for _, n := range names {
		if id, ok := t.TokenID(n); ok {
			return id
		}
	}
	return -1
}
