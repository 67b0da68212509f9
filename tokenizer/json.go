package tokenizer

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader. tokenizer.json files reach 35 MB (gemma3), most of it the model's vocab
// and merges; encoding/json into maps is slow under js/wasm, so the document is parsed into a light
// tree while the two big arrays are kept as raw spans and decoded by dedicated loops.

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNum
	jStr
	jArr
	jObj
	jRaw    // unparsed span (model.vocab, model.merges)
	jVocab  // model.vocab read straight into a vocabTable
	jMerges // model.merges read straight into a pairTable (assuming prefix)
)

func (k jkind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object", "value", "object", "array"}[k]
}

type jval struct {
	kind jkind
	b    bool
	s    string // string value or number literal
	arr  []*jval
	keys []string
	vals []*jval
	raw  []byte
	n    int // jRaw: number of top-level elements
	at   int // jVocab, jMerges: offset of raw in the parsed document

	vocab  *vocabTable // jVocab
	merges *pairTable  // jMerges (raw keeps the span)
	prefix string      // jMerges: continuing_subword_prefix assumed while reading
}

func (v *jval) get(key string) *jval {
	if i := v.index(key); i >= 0 {
		return v.vals[i]
	}
	return nil
}

// index returns the position of the first member named key of an object, or -1.
func (v *jval) index(key string) int {
	if v == nil || v.kind != jObj {
		return -1
	}
	for i, k := range v.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// count returns how many members of an object are named key.
func (v *jval) count(key string) int {
	n := 0
	if v != nil && v.kind == jObj {
		for _, k := range v.keys {
			if k == key {
				n++
			}
		}
	}
	return n
}

type jparser struct {
	data  []byte
	pos   int
	buf   []byte
	depth int

	// While reading the top-level "model" object: its vocab (once read) and its
	// continuing_subword_prefix (when seen before the merges), so that model.vocab and
	// model.merges are read in the same pass as the rest of the file.
	modelVocab  *vocabTable
	modelPrefix string
	plain       bool // keep model.vocab and model.merges as raw spans (parsePlain)
}

type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return fmt.Sprintf("malformed JSON at byte %d: %s", e.off, e.msg) }

func parseJSON(data []byte) (v *jval, err error) {
	return parseDoc(&jparser{data: data})
}

// parsePlain parses a document without reading model.vocab and model.merges into tables (kept
// as raw spans): the compact form's JSON, whose placeholders are replaced by its own tables.
func parsePlain(data []byte) (v *jval, err error) {
	return parseDoc(&jparser{data: data, plain: true})
}

func parseDoc(p *jparser) (v *jval, err error) {
	p.ws()
	v, err = p.value(false, false)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(p.data) {
		return nil, p.errf("trailing data")
	}
	return v, nil
}

// errf and ws stay out of line (go:noinline): inlined at every call site of the parser's large
// functions, they made them large enough for V8 to compile them again with its optimizing compiler
// after a few dozen members (see compactVocab), while the load that called them was still running.
//
//go:noinline
func (p *jparser) errf(format string, args ...any) error {
	return &jsonError{off: p.pos, msg: fmt.Sprintf(format, args...)}
}

//go:noinline
func (p *jparser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

const maxJSONDepth = 256

// inlineModel reads model.vocab and model.merges during the main pass.
var inlineModel = true

// value parses one value. raw asks for an unparsed span when the value is an object or array
// (used for model.vocab and model.merges); model marks the top-level "model" object.
func (p *jparser) value(raw, model bool) (*jval, error) {
	if p.pos >= len(p.data) {
		return nil, p.errf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{' || c == '[':
		if raw {
			start := p.pos
			n, err := p.skipFast()
			if err != nil {
				return nil, err
			}
			return &jval{kind: jRaw, raw: p.data[start:p.pos], n: n}, nil
		}
		if c == '{' {
			return p.object(model)
		}
		return p.array()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &jval{kind: jStr, s: s}, nil
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(p.data)-p.pos >= len(lit) && string(p.data[p.pos:p.pos+len(lit)]) == lit {
				p.pos += len(lit)
				if lit == "null" {
					return &jval{kind: jNull}, nil
				}
				return &jval{kind: jBool, b: lit == "true"}, nil
			}
		}
		return nil, p.errf("invalid literal")
	case c == '-' || (c >= '0' && c <= '9'):
		s, err := p.num()
		if err != nil {
			return nil, err
		}
		return &jval{kind: jNum, s: s}, nil
	default:
		return nil, p.errf("unexpected character %q", c)
	}
}

func (p *jparser) object(model bool) (*jval, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxJSONDepth {
		return nil, p.errf("nesting too deep")
	}
	p.pos++ // {
	v := &jval{kind: jObj}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errf("expected object key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errf("expected ':'")
		}
		p.pos++
		p.ws()
		var child *jval
		switch {
		case inlineModel && !p.plain && model && k == "vocab" && p.peek() == '{':
			child, err = p.inlineVocab()
		case model && k == "merges" && p.peek() == '[' && p.modelVocab != nil:
			child, err = p.inlineMerges()
		default:
			child, err = p.value(model && (k == "vocab" || k == "merges"), p.depth == 1 && k == "model")
		}
		if err != nil {
			return nil, err
		}
		if model && k == "continuing_subword_prefix" && child.kind == jStr {
			p.modelPrefix = child.s
		}
		v.keys = append(v.keys, k)
		v.vals = append(v.vals, child)
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.errf("unexpected end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, nil
		default:
			return nil, p.errf("expected ',' or '}'")
		}
	}
}

func (p *jparser) array() (*jval, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxJSONDepth {
		return nil, p.errf("nesting too deep")
	}
	p.pos++ // [
	v := &jval{kind: jArr}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.ws()
		child, err := p.value(false, false)
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, child)
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.errf("unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, nil
		default:
			return nil, p.errf("expected ',' or ']'")
		}
	}
}

// skip validates and skips one value without building it.
func (p *jparser) skip() error {
	depth := 0
	var stack []byte
	for {
		p.ws()
		if p.pos >= len(p.data) {
			return p.errf("unexpected end of input")
		}
		c := p.data[p.pos]
		switch {
		case c == '{' || c == '[':
			stack = append(stack, c)
			depth++
			if depth > maxJSONDepth {
				return p.errf("nesting too deep")
			}
			p.pos++
			p.ws()
			if p.pos < len(p.data) && (p.data[p.pos] == '}' && c == '{' || p.data[p.pos] == ']' && c == '[') {
				p.pos++
				stack = stack[:len(stack)-1]
				depth--
				goto after
			}
			if c == '{' {
				if err := p.skipKey(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if _, err := p.rawStr(); err != nil {
				return err
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if _, err := p.num(); err != nil {
				return err
			}
		default:
			if _, err := p.value(false, false); err != nil {
				return err
			}
		}
	after:
		for {
			if depth == 0 {
				return nil
			}
			p.ws()
			if p.pos >= len(p.data) {
				return p.errf("unexpected end of input")
			}
			c := p.data[p.pos]
			top := stack[len(stack)-1]
			if c == ',' {
				p.pos++
				if top == '{' {
					p.ws()
					if err := p.skipKey(); err != nil {
						return err
					}
				}
				break
			}
			if (c == '}' && top == '{') || (c == ']' && top == '[') {
				p.pos++
				stack = stack[:len(stack)-1]
				depth--
				continue
			}
			return p.errf("expected ',' or closing bracket")
		}
	}
}

func (p *jparser) skipKey() error {
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return p.errf("expected object key")
	}
	if _, err := p.rawStr(); err != nil {
		return err
	}
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return p.errf("expected ':'")
	}
	p.pos++
	return nil
}

func (p *jparser) num() (string, error) {
	start := p.pos
	if p.pos < len(p.data) && p.data[p.pos] == '-' {
		p.pos++
	}
	digits := 0
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			p.pos++
			digits++
			continue
		}
		break
	}
	if digits == 0 {
		return "", p.errf("invalid number")
	}
	s := string(p.data[start:p.pos])
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		p.pos = start
		return "", p.errf("invalid number %q", s)
	}
	return s, nil
}

// rawStr decodes a string at p.pos into p.buf (reused) and returns it; the slice is only valid
// until the next call.
func (p *jparser) rawStr() ([]byte, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := p.data[start:p.pos]
			p.pos++
			if !utf8.Valid(s) {
				return nil, p.errf("invalid UTF-8 in string")
			}
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, p.errf("control character in string")
		}
		p.pos++
	}
	p.buf = append(p.buf[:0], p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(p.buf) {
				return nil, p.errf("invalid UTF-8 in string")
			}
			return p.buf, nil
		case c < 0x20:
			return nil, p.errf("control character in string")
		case c != '\\':
			p.buf = append(p.buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.data) {
			break
		}
		e := p.data[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			p.buf = append(p.buf, e)
		case 'b':
			p.buf = append(p.buf, '\b')
		case 'f':
			p.buf = append(p.buf, '\f')
		case 'n':
			p.buf = append(p.buf, '\n')
		case 'r':
			p.buf = append(p.buf, '\r')
		case 't':
			p.buf = append(p.buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.errf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one forms a pair; a lone one becomes U+FFFD
				// (what serde_json rejects; we are lenient but never produce invalid UTF-8).
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					r2, ok := p.hex4()
					if ok && utf16.DecodeRune(r, r2) != utf8.RuneError {
						r = utf16.DecodeRune(r, r2)
					} else {
						p.pos = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			p.buf = utf8.AppendRune(p.buf, r)
		default:
			return nil, p.errf("invalid escape %q", e)
		}
	}
	return nil, p.errf("unterminated string")
}

func (p *jparser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

func (p *jparser) str() (string, error) {
	b, err := p.rawStr()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// expect consumes byte c after optional whitespace.
func (p *jparser) expect(c byte) error {
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != c {
		return p.errf("expected %q", c)
	}
	p.pos++
	return nil
}

// peek returns the next non-space byte, or 0 at the end.
func (p *jparser) peek() byte {
	p.ws()
	if p.pos >= len(p.data) {
		return 0
	}
	return p.data[p.pos]
}

// skipFast finds the end of the array or object at p.pos by tracking strings and brackets only;
// the span is validated later by the strict parser that reads it.
// It returns the number of top-level elements (for sizing tables).
func (p *jparser) skipFast() (int, error) {
	depth, commas, empty := 0, 0, true
	d := p.data
	for i := p.pos; i < len(d); i++ {
		switch d[i] {
		case ' ', '\n', '\r', '\t':
			continue
		case ',':
			if depth == 1 {
				commas++
			}
		case '"':
			for i++; i < len(d) && d[i] != '"'; i++ {
				if d[i] == '\\' {
					i++
				}
			}
			if i >= len(d) {
				p.pos = len(d)
				return 0, p.errf("unterminated string")
			}
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				p.pos = i + 1
				if empty {
					return 0, nil
				}
				return commas + 1, nil
			}
		}
		if depth == 1 && d[i] != '[' && d[i] != '{' || depth > 1 {
			empty = false
		}
	}
	p.pos = len(d)
	return 0, p.errf("unexpected end of input")
}

// intVal reads an integer (a plain digit run directly; other number forms through parseInt).
// lit is the literal for error messages.
func (p *jparser) intVal() (int, []byte, error) {
	start := p.pos
	neg := p.pos < len(p.data) && p.data[p.pos] == '-'
	if neg {
		p.pos++
	}
	n := 0
	digits := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' && digits < 12 {
		n = n*10 + int(p.data[p.pos]-'0')
		p.pos++
		digits++
	}
	if p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9'):
			p.pos = start
			lit, err := p.num()
			if err != nil {
				return 0, nil, err
			}
			v, err := parseInt(lit)
			if err != nil {
				return -1, []byte(lit), nil // reported as out of range
			}
			return v, []byte(lit), nil
		}
	}
	if digits == 0 {
		return 0, nil, p.errf("invalid number")
	}
	if neg {
		n = -n
	}
	return n, p.data[start:p.pos], nil
}

// end checks that nothing but whitespace follows a parsed span.
func (p *jparser) end(path string) error {
	p.ws()
	if p.pos != len(p.data) {
		return fmt.Errorf("tokenizer: %s: %v", path, p.errf("unexpected data after the value"))
	}
	return nil
}

// inlineVocab reads model.vocab into a table; on a malformed vocab it keeps the raw span so the
// error is reported with its path by the model parser.
func (p *jparser) inlineVocab() (*jval, error) {
	start := p.pos
	if vt, err := p.parseVocabAt(0, "model.vocab"); err == nil {
		p.modelVocab = vt
		return &jval{kind: jVocab, vocab: vt, raw: p.data[start:p.pos], at: start}, nil
	}
	p.pos = start
	n, err := p.skipFast()
	if err != nil {
		return nil, err
	}
	return &jval{kind: jRaw, raw: p.data[start:p.pos], n: n}, nil
}

// inlineMerges reads model.merges with the vocab already read; any problem (perhaps a
// continuing_subword_prefix that comes later in the file) falls back to a raw span.
func (p *jparser) inlineMerges() (*jval, error) {
	start := p.pos
	// BPE files have about as many merges as tokens: size the table for that.
	if mt, err := p.parseMergesAt(p.modelVocab, p.modelPrefix, p.modelVocab.size(), "model.merges"); err == nil {
		return &jval{kind: jMerges, merges: mt, prefix: p.modelPrefix, raw: p.data[start:p.pos], at: start}, nil
	}
	p.pos = start
	n, err := p.skipFast()
	if err != nil {
		return nil, err
	}
	return &jval{kind: jRaw, raw: p.data[start:p.pos], n: n}, nil
}
