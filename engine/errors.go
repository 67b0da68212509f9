package engine

import (
	"context"
	"errors"
)

// Sentinel error kinds. Errors returned by this package wrap one of them
// with context, e.g. fmt.Errorf("engine: tensor %q: ...: %w", name, ErrFormat).
var (
	// ErrFormat: malformed or mismatching model files or inputs.
	ErrFormat = errors.New("format")
	// ErrUnsupported: a valid model this engine cannot run (architecture, dtype).
	ErrUnsupported = errors.New("unsupported")
	// ErrContext: the tokens would not fit in the context length.
	ErrContext = errors.New("context")
	// ErrMemory: the model would not fit in the memory available.
	ErrMemory = errors.New("memory")
)

// Kind returns the kind of err: "format", "unsupported", "context",
// "memory", "aborted" (context canceled or deadline exceeded), or "".
func Kind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "aborted"
	case errors.Is(err, ErrFormat):
		return "format"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ErrContext):
		return "context"
	case errors.Is(err, ErrMemory):
		return "memory"
	}
	return ""
}
