// Package watfma rewrites the SIMD kernels' text (engine/kernels/simd/kernels.wat)
// into their relaxed-SIMD variant: in every function whose (func ...) line ends
// with the comment `;; @fma`, each accumulation
//
//	(f32x4.add (local.get $acc) (f32x4.mul A B))
//
// becomes the fused multiply-add
//
//	(f32x4.relaxed_madd A B (local.get $acc))
//
// where A and B are any balanced S-expressions. Nothing else changes, so the
// variant has the same exports and ABI. relaxed_madd computes A*B+acc with one
// rounding or two (the relaxed-SIMD proposal leaves it to the machine); the
// kernels' tests hold either way.
package watfma

import (
	"bytes"
	"fmt"
	"regexp"
)

// Marker is the comment that marks a function for the rewrite.
const Marker = ";; @fma"

var accum = regexp.MustCompile(`\(f32x4\.add \(local\.get (\$[A-Za-z0-9_.]+)\) \(f32x4\.mul `)

// Relax returns the rewritten module text and the number of accumulations
// rewritten. A marked function with no accumulation is an error (the marker
// would be stale), as is a marker on a line that is neither a (func ...) line
// nor a comment, and text that is not balanced.
func Relax(wat []byte) ([]byte, int, error) {
	var out bytes.Buffer
	total := 0
	pos := 0 // wat[:pos] is written
	for line := 0; line < len(wat); {
		eol := bytes.IndexByte(wat[line:], '\n')
		if eol < 0 {
			eol = len(wat)
		} else {
			eol += line
		}
		text := bytes.TrimSpace(wat[line:eol])
		next := eol + 1
		if bytes.Contains(text, []byte(Marker)) && !bytes.HasPrefix(text, []byte(";;")) {
			if !bytes.HasPrefix(text, []byte("(func ")) || !bytes.HasSuffix(text, []byte(Marker)) {
				return nil, 0, fmt.Errorf("watfma: %s at byte %d is not at the end of a (func ...) line", Marker, line)
			}
			start := line + bytes.Index(wat[line:eol], []byte("(func "))
			end, err := closing(wat, start)
			if err != nil {
				return nil, 0, err
			}
			body, n, err := relaxFunc(wat[start:end])
			if err != nil {
				return nil, 0, err
			}
			if n == 0 {
				return nil, 0, fmt.Errorf("watfma: the function at byte %d is marked %q but has no (f32x4.add (local.get $x) (f32x4.mul a b))", start, Marker)
			}
			out.Write(wat[pos:start])
			out.Write(body)
			total += n
			pos = end
			next = end
		}
		line = next
	}
	out.Write(wat[min(pos, len(wat)):])
	return out.Bytes(), total, nil
}

// relaxFunc rewrites the accumulations of one function.
func relaxFunc(f []byte) ([]byte, int, error) {
	var out bytes.Buffer
	n := 0
	pos := 0
	for {
		loc := accum.FindSubmatchIndex(f[pos:])
		if loc == nil {
			out.Write(f[pos:])
			return out.Bytes(), n, nil
		}
		at, acc := pos+loc[0], f[pos+loc[2]:pos+loc[3]]
		a0 := pos + loc[1]
		a1, err := closing(f, a0)
		if err != nil {
			return nil, 0, err
		}
		b0 := skipSpace(f, a1)
		if b0 == a1 || b0 >= len(f) || f[b0] != '(' {
			return nil, 0, fmt.Errorf("watfma: byte %d: want two operands in f32x4.mul", a0)
		}
		b1, err := closing(f, b0)
		if err != nil {
			return nil, 0, err
		}
		e := skipSpace(f, b1)
		if !bytes.HasPrefix(f[e:], []byte(")")) || !bytes.HasPrefix(f[skipSpace(f, e+1):], []byte(")")) {
			return nil, 0, fmt.Errorf("watfma: byte %d: f32x4.mul with more than two operands", a0)
		}
		out.Write(f[pos:at])
		fmt.Fprintf(&out, "(f32x4.relaxed_madd %s %s (local.get %s))", f[a0:a1], f[b0:b1], acc)
		n++
		pos = skipSpace(f, skipSpace(f, b1)+1) + 1
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// white space or part of a ;; comment.
func skipSpace(s []byte, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r':
			i++
		case s[i] == ';' && i+1 < len(s) && s[i+1] == ';':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		default:
			return i
		}
	}
	return i
}

// closing returns the index just past the S-expression that opens at i,
// skipping ;; comments and strings.
func closing(s []byte, i int) (int, error) {
	if i >= len(s) || s[i] != '(' {
		return 0, fmt.Errorf("watfma: byte %d: want '('", i)
	}
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		case ';':
			if j+1 < len(s) && s[j+1] == ';' {
				for j < len(s) && s[j] != '\n' {
					j++
				}
			}
		case '"':
			for j++; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
		}
	}
	return 0, fmt.Errorf("watfma: the S-expression at byte %d is not closed", i)
}
