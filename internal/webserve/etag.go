package webserve

import (
	"encoding/hex"
	"strings"
)

// ETagFromDigest makes a strong entity tag from a content digest (for
// example a SHA-256): the first 16 bytes in hex, quoted.
func ETagFromDigest(sum []byte) string {
	if len(sum) > 16 {
		sum = sum[:16]
	}
	return `"` + hex.EncodeToString(sum) + `"`
}

// NoneMatch reports whether an If-None-Match header value matches etag, with
// the weak comparison RFC 9110 §13.1.2 prescribes ("*" matches anything).
func NoneMatch(header, etag string) bool {
	if etag == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range splitTags(header) {
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// IfRangeMatches reports whether an If-Range value allows the range to be
// served: only a strong, exactly equal entity tag does (dates are not used
// because the ETags are strong and dates are not always known).
func IfRangeMatches(header, etag string) bool {
	header = strings.TrimSpace(header)
	return etag != "" && !strings.HasPrefix(etag, "W/") && header == etag
}

// splitTags splits a comma-separated list of entity tags; commas inside
// quotes are part of the tag.
func splitTags(h string) []string {
	var tags []string
	for {
		h = strings.TrimLeft(h, " \t,")
		if h == "" {
			return tags
		}
		start := 0
		if strings.HasPrefix(h, "W/") {
			start = 2
		}
		if start < len(h) && h[start] == '"' {
			end := strings.IndexByte(h[start+1:], '"')
			if end < 0 {
				return append(tags, h)
			}
			n := start + 1 + end + 1
			tags = append(tags, h[:n])
			h = h[n:]
			continue
		}
		n := strings.IndexByte(h, ',')
		if n < 0 {
			return append(tags, strings.TrimSpace(h))
		}
		tags = append(tags, strings.TrimSpace(h[:n]))
		h = h[n:]
	}
}
