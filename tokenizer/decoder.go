package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder maps the token strings of a decode to text pieces (tokenizers Decoder::decode_chain).
type decoder interface {
	decodeChain(tokens []string) []string
}

type decSequence []decoder

func (q decSequence) decodeChain(tokens []string) []string {
	for _, d := range q {
		tokens = d.decodeChain(tokens)
	}
	return tokens
}

type byteLevelDec struct{}

func (byteLevelDec) decodeChain(tokens []string) []string {
	var buf []byte
	for _, t := range tokens {
		var ok bool
		if buf, ok = byteLevelDecode(buf, t); !ok {
			buf = append(buf, t...)
		}
	}
	return []string{lossyUTF8(buf)}
}

type metaspaceDec struct {
	replacement rune
	scheme      prependScheme
}

func (d metaspaceDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		var b strings.Builder
		for k, r := range t {
			if r == d.replacement {
				if i == 0 && k == 0 && d.scheme != prependNever {
					continue
				}
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		}
		out[i] = b.String()
	}
	return out
}

type byteFallbackDec struct{}

func fallbackByte(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

func (byteFallbackDec) decodeChain(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if b, ok := fallbackByte(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type fuseDec struct{}

func (fuseDec) decodeChain(tokens []string) []string { return []string{strings.Join(tokens, "")} }

type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		rs := []rune(t)
		startCut := 0
		for k := 0; k < d.start && k < len(rs); k++ {
			if rs[k] != d.content {
				break
			}
			startCut = k + 1
		}
		stopCut := len(rs)
		for k := 0; k < d.stop && k < len(rs); k++ {
			idx := len(rs) - k - 1
			if rs[idx] != d.content {
				break
			}
			stopCut = idx
		}
		if stopCut < startCut {
			stopCut = startCut
		}
		out[i] = string(rs[startCut:stopCut])
	}
	return out
}

type replaceDec struct {
	m       matcher
	content string
}

func (d replaceDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = replaceAll(t, d.m, d.content)
	}
	return out
}

type wordPieceDec struct {
	prefix  string
	cleanup bool
}

// cleanupText undoes BERT-style spacing around punctuation; the replacements apply one after
// another, in this order, as in tokenizers.
func cleanupText(s string) string {
	for _, p := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

func (d wordPieceDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		if i != 0 {
			if strings.HasPrefix(t, d.prefix) {
				t = strings.Replace(t, d.prefix, "", 1)
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanupText(t)
		}
		out[i] = t
	}
	return out
}

type bpeDec struct{ suffix string }

func (d bpeDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		rep := " "
		if i == len(tokens)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}

func parseDecoder(o obj) (decoder, error) {
	t, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch t {
	case "Sequence":
		list, err := o.list("decoders")
		if err != nil {
			return nil, err
		}
		var seq decSequence
		for i, v := range list {
			path := elemPath(o.at("decoders"), i)
			if v.kind != jObj {
				return nil, fmt.Errorf("tokenizer: %s: expected an object", path)
			}
			d, err := parseDecoder(obj{v: v, path: path})
			if err != nil {
				return nil, err
			}
			seq = append(seq, d)
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Metaspace":
		pre, err := parsePreTokenizer(o)
		if err != nil {
			return nil, err
		}
		m := pre.(metaspacePre)
		return metaspaceDec{replacement: m.replacement, scheme: m.scheme}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		c, err := o.str("content", " ")
		if err != nil {
			return nil, err
		}
		r, n := utf8.DecodeRuneInString(c)
		if c == "" || n != len(c) {
			return nil, o.errf("content", "expected one character, got %q", c)
		}
		start, err := o.integer("start", 0)
		if err != nil {
			return nil, err
		}
		stop, err := o.integer("stop", 0)
		if err != nil {
			return nil, err
		}
		if start < 0 || stop < 0 {
			return nil, o.errf("start", "negative strip count")
		}
		return stripDec{r, start, stop}, nil
	case "Replace":
		m, content, err := replaceArgs(o)
		if err != nil {
			return nil, err
		}
		return replaceDec{m, content}, nil
	case "WordPiece":
		p, err := o.str("prefix", "##")
		if err != nil {
			return nil, err
		}
		c, err := o.boolean("cleanup", true)
		if err != nil {
			return nil, err
		}
		return wordPieceDec{p, c}, nil
	case "BPEDecoder":
		s, err := o.str("suffix", "</w>")
		if err != nil {
			return nil, err
		}
		return bpeDec{s}, nil
	case "CTC":
		return nil, o.errf("type", "decoder %q is not supported", t)
	}
	return nil, o.unknown(t)
}
