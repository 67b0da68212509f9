// Package jsonscan reads JSON text (RFC 8259) without reflection: it checks a
// document and splits objects and arrays into the raw text of their members,
// which the caller reads as numbers, strings or booleans.
//
// It exists for the model-loading path in the browser: encoding/json walks Go
// types through reflection and brings a few hundred functions that a new
// page's WebAssembly engine compiles on first use, about a tenth of a small
// model's load from the cache (config.json, the safetensors header). What it
// accepts, and the values it gives, are those of encoding/json (a
// differential fuzz test holds it to that): invalid UTF-8 in a string reads
// as U+FFFD, as encoding/json decodes it.
package jsonscan

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind uint8

// Kinds of JSON values.
const (
	Invalid Kind = iota
	KindNull
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

// maxDepth bounds nesting, as encoding/json does (10000).
const maxDepth = 10000

// SyntaxError is a JSON syntax error at a byte offset.
type SyntaxError struct {
	Msg      string
	Offset   int
	Trailing bool // a valid value followed by more than whitespace
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.Msg, e.Offset) }

func syntaxErr(data []byte, i int, what string) error {
	if i >= len(data) {
		return &SyntaxError{Msg: "unexpected end of JSON input" + what, Offset: len(data)}
	}
	return &SyntaxError{Msg: fmt.Sprintf("invalid character %s%s", quoteChar(data[i]), what), Offset: i}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return "'" + string(rune(c)) + "'"
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace is not inlined: its loop inlined into scanObject and scanArray had V8 compile those
// again with its optimizing compiler after a few dozen members, while the load that called them
// was still running (V8 charges a Go function's tier-up budget with its code size at every loop
// iteration).
//
//go:noinline
func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// Valid reports whether data is one JSON value, with only whitespace around it.
func Valid(data []byte) bool {
	_, _, err := Trim(data)
	return err == nil
}

// Trim checks that data is one JSON value with only whitespace around it and
// returns that value's text and kind.
func Trim(data []byte) ([]byte, Kind, error) {
	i := skipSpace(data, 0)
	end, err := scan(data, i, 0)
	if err != nil {
		return nil, Invalid, err
	}
	if err := trailing(data, end); err != nil {
		return nil, Invalid, err
	}
	return data[i:end], KindOf(data[i:end]), nil
}

// trailing is the error for more than whitespace after the value that ends
// at data[end], or nil.
func trailing(data []byte, end int) error {
	j := skipSpace(data, end)
	if j == len(data) {
		return nil
	}
	err := syntaxErr(data, j, " after top-level value")
	err.(*SyntaxError).Trailing = true
	return err
}

// KindOf gives the kind of a value by its first byte (raw is assumed valid,
// as Members and Elements give it).
func KindOf(raw []byte) Kind {
	if len(raw) == 0 {
		return Invalid
	}
	switch c := raw[0]; {
	case c == 'n':
		return KindNull
	case c == 't' || c == 'f':
		return KindBool
	case c == '"':
		return KindString
	case c == '[':
		return KindArray
	case c == '{':
		return KindObject
	case c == '-' || (c >= '0' && c <= '9'):
		return KindNumber
	}
	return Invalid
}

// scan checks the value starting at data[i] and returns the offset after it.
func scan(data []byte, i, depth int) (int, error) {
	if i >= len(data) {
		return i, syntaxErr(data, i, " looking for beginning of value")
	}
	switch c := data[i]; {
	case c == '{':
		return scanObject(data, i, depth, nil)
	case c == '[':
		return scanArray(data, i, depth, nil)
	case c == '"':
		return scanString(data, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(data, i)
	case c == 't':
		return literal(data, i, "true")
	case c == 'f':
		return literal(data, i, "false")
	case c == 'n':
		return literal(data, i, "null")
	}
	return i, syntaxErr(data, i, " looking for beginning of value")
}

// scanObject checks the object starting at data[i] and returns the offset
// after it; with out, it also appends the members.
func scanObject(data []byte, i, depth int, out *[]Member) (int, error) {
	if depth >= maxDepth {
		return i, &SyntaxError{Msg: "exceeded max depth", Offset: i}
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, syntaxErr(data, i, " looking for beginning of object key string")
		}
		end, err := scanString(data, i)
		if err != nil {
			return end, err
		}
		key := data[i:end]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return i, syntaxErr(data, i, " after object key")
		}
		start := skipSpace(data, i+1)
		if i, err = scan(data, start, depth+1); err != nil {
			return i, err
		}
		if out != nil {
			*out = append(*out, Member{Key: unquote(key), Raw: data[start:i]})
		}
		i = skipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			return i + 1, nil
		}
		return i, syntaxErr(data, i, " after object key:value pair")
	}
}

// scanArray checks the array starting at data[i] and returns the offset
// after it; with out, it also appends the elements' text.
func scanArray(data []byte, i, depth int, out *[][]byte) (int, error) {
	if depth >= maxDepth {
		return i, &SyntaxError{Msg: "exceeded max depth", Offset: i}
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		start := i
		var err error
		if i, err = scan(data, i, depth+1); err != nil {
			return i, err
		}
		if out != nil {
			*out = append(*out, data[start:i])
		}
		i = skipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == ']' {
			return i + 1, nil
		}
		return i, syntaxErr(data, i, " after array element")
	}
}

func literal(data []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(data) || data[i+k] != lit[k] {
			return i + k, syntaxErr(data, i+k, " in literal "+lit+" (expecting '"+lit[k:k+1]+"')")
		}
	}
	return i + len(lit), nil
}

func digit(data []byte, i int) bool { return i < len(data) && data[i] >= '0' && data[i] <= '9' }

func scanNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
		if !digit(data, i) {
			return i, syntaxErr(data, i, " in numeric literal")
		}
	}
	if data[i] == '0' {
		i++
	} else {
		for digit(data, i) {
			i++
		}
	}
	if i < len(data) && data[i] == '.' {
		i++
		if !digit(data, i) {
			return i, syntaxErr(data, i, " after decimal point in numeric literal")
		}
		for digit(data, i) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digit(data, i) {
			return i, syntaxErr(data, i, " in exponent of numeric literal")
		}
		for digit(data, i) {
			i++
		}
	}
	return i, nil
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// scanString checks the string starting at data[i] (a quote) and returns the
// offset after its closing quote.
func scanString(data []byte, i int) (int, error) {
	i++
	for i < len(data) {
		switch c := data[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
			if i >= len(data) {
				return i, syntaxErr(data, i, " in string escape code")
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(data) || hexVal(data[i+k]) < 0 {
						return i + k, syntaxErr(data, i+k, " in \\u hexadecimal character escape")
					}
				}
				i += 5
			default:
				return i, syntaxErr(data, i, " in string escape code")
			}
		case c < 0x20:
			return i, syntaxErr(data, i, " in string literal")
		default:
			i++
		}
	}
	return i, syntaxErr(data, i, "")
}

// Member is one key and value of an object.
type Member struct {
	Key string
	Raw []byte // the value's text
}

// Members reads raw as one JSON object (whitespace around it allowed) and
// returns its members in order, checking and splitting it in one pass.
// Duplicate keys are kept; encoding/json lets the last one win.
func Members(raw []byte) ([]Member, error) {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return nil, notKind(raw, "not a JSON object")
	}
	var out []Member
	end, err := scanObject(raw, i, 0, &out)
	if err == nil {
		err = trailing(raw, end)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MembersOrNull is Members, except that a JSON null is no members and no
// error, as encoding/json reads null into a map or struct (a no-op).
func MembersOrNull(raw []byte) ([]Member, error) {
	if i := skipSpace(raw, 0); i < len(raw) && raw[i] == 'n' {
		_, _, err := Trim(raw) // null, or the syntax error
		return nil, err
	}
	return Members(raw)
}

// Elements reads raw as one JSON array (whitespace around it allowed) and
// returns the text of its elements, checking and splitting it in one pass.
func Elements(raw []byte) ([][]byte, error) {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '[' {
		return nil, notKind(raw, "not a JSON array")
	}
	out := [][]byte{}
	end, err := scanArray(raw, i, 0, &out)
	if err == nil {
		err = trailing(raw, end)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// notKind is the error for raw when it is not the kind asked for: its
// syntax error, or what it is.
func notKind(raw []byte, what string) error {
	_, k, err := Trim(raw)
	if err != nil {
		return err
	}
	return fmt.Errorf("%s: %w", what, errKind(k))
}

// ErrType is wrapped by the errors of String, Bool, Int, Float, Members and
// Elements for a valid value of another kind.
var ErrType = errors.New("wrong JSON type")

func errKind(k Kind) error {
	names := [...]string{"invalid", "null", "a boolean", "a number", "a string", "an array", "an object"}
	return fmt.Errorf("%w: %s", ErrType, names[k])
}

// String reads raw as one JSON string.
func String(raw []byte) (string, error) {
	v, k, err := Trim(raw)
	if err != nil {
		return "", err
	}
	if k != KindString {
		return "", errKind(k)
	}
	return unquote(v), nil
}

// Bool reads raw as true or false.
func Bool(raw []byte) (bool, error) {
	v, k, err := Trim(raw)
	if err != nil {
		return false, err
	}
	if k != KindBool {
		return false, errKind(k)
	}
	return v[0] == 't', nil
}

// Float reads raw as a number, as encoding/json reads it into a float64
// (out of range is an error).
func Float(raw []byte) (float64, error) {
	v, k, err := Trim(raw)
	if err != nil {
		return 0, err
	}
	if k != KindNumber {
		return 0, errKind(k)
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, fmt.Errorf("number %s: out of range", v)
	}
	return f, nil
}

// Int reads raw as an integer literal (no fraction or exponent), as
// encoding/json reads it into an int64.
func Int(raw []byte) (int64, error) {
	v, k, err := Trim(raw)
	if err != nil {
		return 0, err
	}
	if k != KindNumber {
		return 0, errKind(k)
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("number %s: not an integer in the int64 range", v)
	}
	return n, nil
}

// unquote decodes a checked JSON string (with its quotes).
func unquote(s []byte) string {
	s = s[1 : len(s)-1]
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf {
			return unescape(s)
		}
	}
	return string(s)
}

// unescape decodes the inside of a checked JSON string with escapes or non-ASCII bytes. It is a
// function of its own so that unquote, called for every key, stays small (see skipSpace).
//
//go:noinline
func unescape(s []byte) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, r) // invalid UTF-8 reads as U+FFFD
			i += n
			continue
		}
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = hex4(s[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					i += 6
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, s[i+1])
		}
		i += 2
	}
	return string(b)
}

func hex4(s []byte) rune {
	return hexVal(s[0])<<12 | hexVal(s[1])<<8 | hexVal(s[2])<<4 | hexVal(s[3])
}

// Decode reads raw as one JSON value into the types encoding/json gives an
// `any`: map[string]any, []any, float64, string, bool and nil.
func Decode(raw []byte) (any, error) {
	v, k, err := Trim(raw)
	if err != nil {
		return nil, err
	}
	return decode(v, k)
}

func decode(v []byte, k Kind) (any, error) {
	switch k {
	case KindNull:
		return nil, nil
	case KindBool:
		return v[0] == 't', nil
	case KindNumber:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s: out of range", v)
		}
		return f, nil
	case KindString:
		return unquote(v), nil
	case KindArray:
		els, _ := Elements(v)
		out := make([]any, len(els))
		for i, e := range els {
			x, err := decode(e, KindOf(e))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case KindObject:
		ms, _ := Members(v)
		out := make(map[string]any, len(ms))
		for _, m := range ms {
			x, err := decode(m.Raw, KindOf(m.Raw))
			if err != nil {
				return nil, err
			}
			out[m.Key] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("jsonscan: invalid value")
}

// AppendString appends s to dst as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return append(dst, '"')
}
