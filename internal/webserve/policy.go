package webserve

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Cache-Control values of the default policy.
const (
	CacheImmutable = "public, max-age=31536000, immutable"
	CacheShort     = "public, max-age=60, must-revalidate"
)

// Policy decides the per-file headers. The zero value is the default policy
// (see the field docs).
type Policy struct {
	// CORS reports whether a file may be read from any origin (GET/HEAD,
	// preflight answered, CORP cross-origin). Nil: files under "models/".
	CORS func(name string) bool
	// Immutable reports whether a file never changes under its URL, so it
	// gets CacheImmutable instead of ShortCache. Nil: DefaultImmutable.
	Immutable func(name string, query url.Values) bool
	// Isolate reports whether a response gets the cross-origin isolation
	// headers (COOP/COEP). Nil: the files that are not CORS files. A file
	// that is both is isolated and readable from any origin (CORP
	// cross-origin), as a development server wants.
	Isolate func(name string) bool
	// ShortCache is the Cache-Control of files that are not immutable.
	// Empty: CacheShort.
	ShortCache string
}

// DefaultCORS is the default Policy.CORS: model files live under models/.
func DefaultCORS(name string) bool { return strings.HasPrefix(name, "models/") }

// DefaultImmutable is the default Policy.Immutable: a file whose base name
// carries a content hash (an element of at least 8 hex digits between '.',
// '-' or '_', as in "alibi.3fa92c1b.wasm" or "model.safetensors.000.9f2c61d0e4"),
// or a URL with a "v" query parameter (cache-busting "alibi.js?v=<hash>").
// index.html and manifests are never immutable.
func DefaultImmutable(name string, query url.Values) bool {
	base := path.Base(name)
	switch base {
	case "index.html", "manifest.json", "assets.json", "manifest.webmanifest":
		return false
	}
	if query.Get("v") != "" {
		return true
	}
	return HashedName(base)
}

// HashedName reports whether a base name contains an element of at least 8
// hex digits (a content hash) between the separators '.', '-' and '_'.
func HashedName(base string) bool {
	for _, elem := range strings.FieldsFunc(base, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		if len(elem) >= 8 && isHex(elem) {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (p Policy) cors(name string) bool {
	if p.CORS == nil {
		return DefaultCORS(name)
	}
	return p.CORS(name)
}

func (p Policy) isolate(name string) bool {
	if p.Isolate == nil {
		return !p.cors(name)
	}
	return p.Isolate(name)
}

func (p Policy) immutable(name string, q url.Values) bool {
	if p.Immutable == nil {
		return DefaultImmutable(name, q)
	}
	return p.Immutable(name, q)
}

// CORS headers for model files.
const (
	corsMethods = "GET, HEAD, OPTIONS"
	corsAllowed = "Range, If-None-Match, If-Range, If-Modified-Since, Cache-Control"
	corsExposed = "Content-Length, Content-Range, Content-Type, ETag, Accept-Ranges, Last-Modified"
)

// SetFileHeaders sets the policy headers of a file response: Content-Type,
// nosniff, Cache-Control, the CORS headers (model files) and the
// cross-origin isolation headers (app pages).
func (p Policy) SetFileHeaders(h http.Header, name string, query url.Values) {
	h.Set("Content-Type", ContentType(name))
	h.Set("X-Content-Type-Options", "nosniff")
	switch {
	case p.immutable(name, query):
		h.Set("Cache-Control", CacheImmutable)
	case p.ShortCache != "":
		h.Set("Cache-Control", p.ShortCache)
	default:
		h.Set("Cache-Control", CacheShort)
	}
	if p.isolate(name) {
		SetIsolation(h)
	}
	if p.cors(name) {
		SetCORS(h) // after SetIsolation: CORP cross-origin
	}
}

// SetCORS sets the headers that let any origin read a response (simple
// requests), including from cross-origin-isolated pages.
func SetCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", corsExposed)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
}

// SetPreflight sets the headers of a CORS preflight answer (204).
func SetPreflight(h http.Header, methods, headers string) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", headers)
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
}

// SetIsolation sets the headers that make a page cross-origin isolated
// (SharedArrayBuffer, precise timers): COOP same-origin, COEP require-corp,
// and CORP same-origin on the page's own resources.
func SetIsolation(h http.Header) {
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Embedder-Policy", "require-corp")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
