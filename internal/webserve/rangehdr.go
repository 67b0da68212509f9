package webserve

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnsatisfiable is returned by ParseRange when a syntactically valid range
// does not overlap the representation (answer 416 with Content-Range
// "bytes */size").
var ErrUnsatisfiable = errors.New("webserve: range not satisfiable")

// errIgnoreRange reports a Range header that is ignored (the full
// representation is sent with 200): bad syntax, another unit, or several
// ranges (RFC 9110 §14.2 lets a server ignore those).
var errIgnoreRange = errors.New("webserve: range ignored")

// ParseRange parses a Range header value against a representation of size
// bytes. It accepts exactly one byte range: "bytes=a-b", "bytes=a-" or the
// suffix form "bytes=-n". It returns the first byte offset and the length.
// ok is false when the header must be ignored (malformed, other units,
// several ranges); err is ErrUnsatisfiable when the range does not overlap
// the representation.
func ParseRange(header string, size int64) (start, length int64, ok bool, err error) {
	const prefix = "bytes="
	h := strings.TrimSpace(header)
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return 0, 0, false, nil
	}
	spec := strings.TrimSpace(h[len(prefix):])
	if spec == "" || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	dash := strings.IndexByte(spec, '-')
	if dash < 0 {
		return 0, 0, false, nil
	}
	first, last := strings.TrimSpace(spec[:dash]), strings.TrimSpace(spec[dash+1:])
	if first == "" {
		// Suffix range: the last n bytes.
		n, perr := parseDigits(last)
		if perr != nil {
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, true, ErrUnsatisfiable
		}
		if n > size {
			n = size
		}
		return size - n, n, true, nil
	}
	a, perr := parseDigits(first)
	if perr != nil {
		return 0, 0, false, nil
	}
	b := int64(-1)
	if last != "" {
		b, perr = parseDigits(last)
		if perr != nil || b < a {
			return 0, 0, false, nil
		}
	}
	if a >= size {
		return 0, 0, true, ErrUnsatisfiable
	}
	if b < 0 || b >= size {
		b = size - 1
	}
	return a, b - a + 1, true, nil
}

// parseDigits parses a non-empty run of ASCII digits (no sign, no spaces)
// that fits in an int64.
func parseDigits(s string) (int64, error) {
	if s == "" {
		return 0, errIgnoreRange
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errIgnoreRange
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errIgnoreRange
	}
	return n, nil
}

// ContentRange formats the Content-Range value of a 206 answer.
func ContentRange(start, length, size int64) string {
	return "bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(start+length-1, 10) + "/" + strconv.FormatInt(size, 10)
}
