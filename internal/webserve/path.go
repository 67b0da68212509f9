package webserve

import (
	"errors"
	"strings"
)

// ErrBadPath is returned by ResolvePath for request paths that could escape
// the served root or that no served file can have.
var ErrBadPath = errors.New("webserve: bad path")

// ResolvePath maps a decoded URL path (http.Request.URL.Path) to a file name
// relative to the served root in io/fs form: slash-separated, no leading
// slash, no "." or ".." elements. A path ending in "/" maps to its
// index.html. It rejects, with ErrBadPath:
//   - paths not starting with "/" (absolute file paths, "C:\...", "*"),
//   - NUL and other control bytes, backslashes, and '%' left over after
//     decoding (double-encoded "%252e%252e" and the like),
//   - "." and ".." elements (including ones that were percent-encoded),
//   - empty elements ("//"), and hidden names (elements starting with '.'),
//   - invalid UTF-8 and over-long paths.
//
// The result is always a valid io/fs path (fs.ValidPath) under the root.
func ResolvePath(urlPath string) (string, error) {
	const maxLen = 1024
	if len(urlPath) == 0 || urlPath[0] != '/' || len(urlPath) > maxLen {
		return "", ErrBadPath
	}
	for i := 0; i < len(urlPath); i++ {
		c := urlPath[i]
		if c < 0x20 || c == 0x7f || c == '\\' || c == '%' || c == ':' {
			return "", ErrBadPath
		}
	}
	if !validUTF8(urlPath) {
		return "", ErrBadPath
	}
	rel := urlPath[1:]
	if rel == "" || strings.HasSuffix(rel, "/") {
		rel += "index.html"
	}
	for _, elem := range strings.Split(rel, "/") {
		if elem == "" || elem[0] == '.' {
			// Empty elements ("a//b"), ".", "..", and hidden files.
			return "", ErrBadPath
		}
	}
	return rel, nil
}

func validUTF8(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' {
			// Either invalid UTF-8 or a literal U+FFFD; neither names a served file.
			return false
		}
	}
	return true
}
