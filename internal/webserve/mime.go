package webserve

import (
	"path"
	"strings"
)

var mimeTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".cjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".wasm":        "application/wasm",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".ts":          "text/plain; charset=utf-8", // alibi.d.ts: shown, never executed
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".woff":        "font/woff",
	".xml":         "application/xml",
	".pdf":         "application/pdf",
	".gz":          "application/gzip",
	".safetensors": "application/octet-stream",
	".gguf":        "application/octet-stream",
	".bin":         "application/octet-stream",
}

// ContentType returns the Content-Type for a file name by its extension
// (case-insensitive). Chunk files such as "model.safetensors.000" and unknown
// extensions are application/octet-stream.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := mimeTypes[ext]; ok {
		return t
	}
	return "application/octet-stream"
}
