package safetensors

// Handler receives what a Stream parses.
type Handler interface {
	// Header is called once, when the whole header has arrived and is valid.
	Header(h *Header) error
	// Data is called with consecutive bytes of tensor h.Tensors[i], starting
	// at byte offset off within that tensor. p is only valid during the call.
	// Tensors arrive in offset order; empty tensors get no call.
	Data(i int, off int64, p []byte) error
}

// Stream is an io.WriteCloser that parses a safetensors file written to it
// in any split (one byte at a time or all at once) and hands the header and
// the tensor bytes to a Handler. It keeps no copy of the tensor data.
// The first error is sticky: every later Write and Close returns it.
type Stream struct {
	h        Handler
	fileSize int64 // -1 when unknown

	prefix  [8]byte
	nPrefix int
	hdrLen  int64  // JSON header length, once the prefix is complete
	hdr     []byte // JSON header bytes received so far
	header  *Header
	pos     int64 // bytes of the data buffer received
	ti      int   // index of the tensor holding pos
	err     error
	closed  bool
}

// NewStream returns a Stream feeding h. fileSize is the file's total size
// when known (it tightens the header checks), or -1.
func NewStream(fileSize int64, h Handler) *Stream {
	return &Stream{h: h, fileSize: fileSize, hdrLen: -1}
}

// Header returns the parsed header, or nil before it has arrived.
func (s *Stream) Header() *Header { return s.header }

// Done reports whether the whole file has arrived.
func (s *Stream) Done() bool { return s.header != nil && s.pos == s.header.DataSize }

// Write consumes the next bytes of the file.
func (s *Stream) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, invalid("write after close")
	}
	n := len(p)
	if err := s.write(p); err != nil {
		s.fail(err)
		return 0, err
	}
	return n, nil
}

func (s *Stream) fail(err error) {
	s.err = err
	s.hdr = nil
}

func (s *Stream) write(p []byte) error {
	// 1. The 8-byte header length.
	if s.nPrefix < 8 {
		k := copy(s.prefix[s.nPrefix:], p)
		s.nPrefix += k
		p = p[k:]
		if s.nPrefix < 8 {
			return nil
		}
		n, err := headerLen(s.prefix[:], s.fileSize)
		if err != nil {
			return err
		}
		s.hdrLen = n
		// Start small and grow with the bytes that actually arrive, so an
		// absurd (but capped) length costs nothing until its bytes exist.
		s.hdr = make([]byte, 0, min(n, 1<<16))
	}
	// 2. The JSON header.
	if s.header == nil {
		k := min(int64(len(p)), s.hdrLen-int64(len(s.hdr)))
		s.hdr = append(s.hdr, p[:k]...)
		p = p[k:]
		if int64(len(s.hdr)) < s.hdrLen {
			return nil
		}
		h, err := parseJSON(s.hdr, s.fileSize)
		if err != nil {
			return err
		}
		s.hdr = nil
		s.header = h
		if err := s.h.Header(h); err != nil {
			return err
		}
		s.skipEmpty()
	}
	// 3. The data buffer, handed out tensor by tensor.
	for len(p) > 0 {
		if s.pos == s.header.DataSize {
			return invalid("%d bytes after the end of the data buffer (%d bytes)", len(p), s.header.DataSize)
		}
		t := &s.header.Tensors[s.ti]
		k := min(int64(len(p)), t.End-s.pos)
		if err := s.h.Data(s.ti, s.pos-t.Begin, p[:k]); err != nil {
			return err
		}
		s.pos += k
		p = p[k:]
		s.skipEmpty()
	}
	return nil
}

// skipEmpty advances ti past tensors that end at or before pos.
func (s *Stream) skipEmpty() {
	for s.ti < len(s.header.Tensors) && s.header.Tensors[s.ti].End <= s.pos {
		s.ti++
	}
}

// Close checks that the whole file arrived.
func (s *Stream) Close() error {
	if s.err != nil {
		return s.err
	}
	s.closed = true
	switch {
	case s.nPrefix < 8:
		s.fail(invalid("file truncated after %d bytes, inside the 8-byte header length", s.nPrefix))
	case s.header == nil:
		s.fail(invalid("file truncated inside the header: %d of %d bytes", len(s.hdr), s.hdrLen))
	case s.pos < s.header.DataSize:
		t := s.header.Tensors[s.ti]
		s.fail(invalid("file truncated at data offset %d of %d, inside tensor %q (bytes %d to %d)",
			s.pos, s.header.DataSize, t.Name, t.Begin, t.End))
	}
	return s.err
}
