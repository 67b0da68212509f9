package tokenizer

import (
	"fmt"
	"strings"

	"github.com/c9e48c40/alibi/internal/jsonscan"
)

// findBOSEOS sets bos/eos from tokenizer_config.json, else from the post-processor's template,
// else from well-known token names.
func (t *Tokenizer) findBOSEOS(cfg []byte) error {
	explicit := map[string]bool{} // keys tokenizer_config.json sets (null included: "none")
	if len(cfg) > 0 {
		c, err := configMembers(cfg)
		if err != nil {
			return fmt.Errorf("tokenizer: tokenizer_config.json: %w", err)
		}
		for key, dst := range map[string]*int{"bos_token": &t.bos, "eos_token": &t.eos} {
			raw, ok := c[key]
			if !ok {
				continue
			}
			explicit[key] = true
			name, ok := configTokenName(raw)
			if !ok {
				continue // an unexpected shape: fall back below
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

// configMembers reads tokenizer_config.json's top-level members as
// encoding/json reads an object into a map[string]json.RawMessage: the last
// of duplicate keys wins, and null is an empty map.
func configMembers(cfg []byte) (map[string][]byte, error) {
	ms, err := jsonscan.MembersOrNull(cfg)
	if err != nil {
		return nil, err
	}
	c := make(map[string][]byte, len(ms))
	for _, m := range ms {
		c[m.Key] = m.Raw
	}
	return c, nil
}

// configTokenName reads a bos_token or eos_token value: a string, null (""),
// or an AddedToken object whose "content" (any case, the last one) is a
// string or null. ok is false for any other shape, as encoding/json fails to
// read it into a string or into struct{ Content string }.
func configTokenName(raw []byte) (name string, ok bool) {
	switch jsonscan.KindOf(raw) {
	case jsonscan.KindString:
		s, err := jsonscan.String(raw)
		return s, err == nil
	case jsonscan.KindNull:
		return "", true
	case jsonscan.KindObject:
		ms, err := jsonscan.Members(raw)
		if err != nil {
			return "", false
		}
		ok = true
		for _, m := range ms {
			if !strings.EqualFold(m.Key, "content") {
				continue
			}
			switch jsonscan.KindOf(m.Raw) {
			case jsonscan.KindString:
				name, _ = jsonscan.String(m.Raw)
			case jsonscan.KindNull:
			default:
				ok = false // encoding/json reads on, then fails
			}
		}
		return name, ok
	}
	return "", false
}
