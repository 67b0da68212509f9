package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// StreamDecoder turns ids into text one token at a time. It never returns a partial UTF-8
// sequence: text is held back while the decode of the pending tokens ends in U+FFFD (an
// incomplete byte sequence) and released once it completes. The concatenation of everything
// Next and Flush return equals Decode of all the ids.
//
// Each step decodes a short window (the tokens of the previous step as context, then the new
// ones) and emits what the new tokens add, as tokenizers' DecodeStream does; a decoder whose
// window decode is not consistent with the full decode falls back to decoding all ids.
type StreamDecoder struct {
	t           *Tokenizer
	skipSpecial bool
	all         []int  // every id so far
	emitted     int    // bytes of Decode(all) returned so far
	window      []int  // context ids followed by pending ones
	prefix      string // decode of window[:read]
	read        int    // window[:read] are emitted
}

// NewDecoder returns a streaming decoder.
func (t *Tokenizer) NewDecoder(skipSpecial bool) *StreamDecoder {
	return &StreamDecoder{t: t, skipSpecial: skipSpecial}
}

// Next adds one id and returns the text it completes (possibly "").
func (d *StreamDecoder) Next(id int) (string, error) {
	if id < 0 || id >= d.t.VocabSize() {
		_, err := d.t.Decode([]int{id}, d.skipSpecial)
		return "", err
	}
	d.all = append(d.all, id)
	d.window = append(d.window, id)
	s, err := d.t.Decode(d.window, d.skipSpecial)
	if err != nil {
		return "", err
	}
	if len(s) <= len(d.prefix) || strings.HasSuffix(s, "\uFFFD") || d.pendingBytes(id) {
		return "", nil
	}
	if !strings.HasPrefix(s, d.prefix) {
		return d.resync()
	}
	out := s[len(d.prefix):]
	d.emitted += len(out)
	// Slide the window: the tokens just emitted become the context of the next step.
	d.window = append(d.window[:0], d.window[d.read:]...)
	d.read = len(d.window)
	if d.prefix, err = d.t.Decode(d.window, d.skipSpecial); err != nil {
		return "", err
	}
	return out, nil
}

// pendingBytes reports whether id is a byte-fallback token under a ByteFallback decoder: a run of
// such tokens decodes as a whole (to its UTF-8 text, or one U+FFFD per byte when invalid), so
// its text is final only once a token of another kind follows.
func (d *StreamDecoder) pendingBytes(id int) bool {
	if !d.t.byteFallbackDec {
		return false
	}
	_, ok := fallbackByte(d.t.tokens[id])
	return ok
}

// resync emits the rest of the full decode (when complete) and restarts the window.
func (d *StreamDecoder) resync() (string, error) {
	full, err := d.t.Decode(d.all, d.skipSpecial)
	if err != nil || strings.HasSuffix(full, "\uFFFD") || len(full) < d.emitted || !utf8.RuneStart(full[d.emitted]) && d.emitted < len(full) {
		return "", err
	}
	out := full[d.emitted:]
	d.emitted = len(full)
	last := d.all[len(d.all)-1]
	d.window = append(d.window[:0], last)
	d.read = 1
	d.prefix, err = d.t.Decode(d.window, d.skipSpecial)
	return out, err
}

// Flush returns any held-back text (e.g. a trailing U+FFFD that never completed) and resets
// the decoder.
func (d *StreamDecoder) Flush() (string, error) {
	full, err := d.t.Decode(d.all, d.skipSpecial)
	if err != nil {
		return "", err
	}
	out := ""
	if len(full) > d.emitted && utf8.RuneStart(full[d.emitted]) {
		out = full[d.emitted:]
	}
	*d = StreamDecoder{t: d.t, skipSpecial: d.skipSpecial}
	return out, nil
}
