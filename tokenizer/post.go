package tokenizer

import "fmt"

// postProcessor adds special tokens around an encoded sequence.
type postProcessor interface {
	process(ids []int, addSpecial bool) []int
	// added returns the ids inserted before and after a single sequence.
	added() (before, after []int)
}

type postSequence []postProcessor

func (q postSequence) process(ids []int, addSpecial bool) []int {
	for _, p := range q {
		ids = p.process(ids, addSpecial)
	}
	return ids
}

func (q postSequence) added() (before, after []int) {
	for _, p := range q {
		b, a := p.added()
		before = append(append([]int(nil), b...), before...)
		after = append(after, a...)
	}
	return before, after
}

// template is TemplateProcessing's single template: ids before and after sequence A.
type template struct{ before, after []int }

func (p template) process(ids []int, addSpecial bool) []int {
	if !addSpecial || len(p.before)+len(p.after) == 0 {
		return ids
	}
	out := make([]int, 0, len(ids)+len(p.before)+len(p.after))
	out = append(out, p.before...)
	out = append(out, ids...)
	return append(out, p.after...)
}

func (p template) added() (before, after []int) { return p.before, p.after }

type noPost struct{}

func (noPost) process(ids []int, addSpecial bool) []int { return ids }
func (noPost) added() (before, after []int)             { return nil, nil }

func parsePostProcessor(o obj) (postProcessor, error) {
	t, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch t {
	case "Sequence":
		list, err := o.list("processors")
		if err != nil {
			return nil, err
		}
		var seq postSequence
		for i, v := range list {
			path := elemPath(o.at("processors"), i)
			if v.kind != jObj {
				return nil, fmt.Errorf("tokenizer: %s: expected an object", path)
			}
			p, err := parsePostProcessor(obj{v: v, path: path})
			if err != nil {
				return nil, err
			}
			seq = append(seq, p)
		}
		return seq, nil
	case "ByteLevel":
		return noPost{}, nil
	case "RobertaProcessing", "BertProcessing":
		cls, err := tokenPair(o, "cls")
		if err != nil {
			return nil, err
		}
		sep, err := tokenPair(o, "sep")
		if err != nil {
			return nil, err
		}
		return template{before: []int{cls}, after: []int{sep}}, nil
	case "TemplateProcessing":
		return parseTemplate(o)
	}
	return nil, o.unknown(t)
}

// tokenPair reads ["token", id].
func tokenPair(o obj, key string) (int, error) {
	v := o.v.get(key)
	if v == nil || v.kind != jArr || len(v.arr) != 2 || v.arr[0].kind != jStr || v.arr[1].kind != jNum {
		return 0, o.errf(key, "expected [token, id]")
	}
	id, err := parseInt(v.arr[1].s)
	if err != nil || id < 0 || id > maxTokenID {
		return 0, o.errf(key, "id %s out of range", v.arr[1].s)
	}
	return id, nil
}

func parseTemplate(o obj) (postProcessor, error) {
	special := map[string][]int{}
	if st := o.v.get("special_tokens"); st != nil && st.kind != jNull {
		if st.kind != jObj {
			return nil, o.errf("special_tokens", "expected an object")
		}
		for i, name := range st.keys {
			e := obj{v: st.vals[i], path: o.at("special_tokens") + "." + name}
			if e.v.kind != jObj {
				return nil, fmt.Errorf("tokenizer: %s: expected an object", e.path)
			}
			list, err := e.list("ids")
			if err != nil {
				return nil, err
			}
			var ids []int
			for k, x := range list {
				if x.kind != jNum {
					return nil, fmt.Errorf("tokenizer: %s: expected an id", elemPath(e.at("ids"), k))
				}
				id, err := parseInt(x.s)
				if err != nil || id < 0 || id > maxTokenID {
					return nil, fmt.Errorf("tokenizer: %s: id %s out of range", elemPath(e.at("ids"), k), x.s)
				}
				ids = append(ids, id)
			}
			special[name] = ids
		}
	}
	single, err := o.list("single")
	if err != nil {
		return nil, err
	}
	var p template
	seen := false
	for i, item := range single {
		path := elemPath(o.at("single"), i)
		it := obj{v: item, path: path}
		if item.kind != jObj {
			return nil, fmt.Errorf("tokenizer: %s: expected an object", path)
		}
		switch {
		case it.has("SpecialToken"):
			st, err := it.child("SpecialToken")
			if err != nil {
				return nil, err
			}
			name, err := st.str("id", "")
			if err != nil {
				return nil, err
			}
			ids, ok := special[name]
			if !ok {
				return nil, st.errf("id", "special token %q is not in special_tokens", name)
			}
			if seen {
				p.after = append(p.after, ids...)
			} else {
				p.before = append(p.before, ids...)
			}
		case it.has("Sequence"):
			seen = true
		default:
			return nil, fmt.Errorf("tokenizer: %s: expected SpecialToken or Sequence", path)
		}
	}
	return p, nil
}
