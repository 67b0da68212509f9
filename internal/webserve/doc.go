// Package webserve serves a static folder over HTTP the way the alibi demo and
// its model files need it: correct MIME types (application/wasm), a single
// byte range per request (206 / 416), HEAD, strong ETags with If-None-Match
// (304), a Cache-Control policy (immutable for content-hashed files, short for
// index.html and manifests), CORS for model files, cross-origin isolation
// headers (COOP/COEP/CORP) for the app pages, and a path resolver that never
// lets "..", encoded dot segments, backslashes, NUL bytes or absolute paths
// escape the served root, and optional gzip for the native server.
//
// The package is portable (no syscall/js): the native `alibi serve` uses
// Handler over a directory, and the Cloudflare Worker in edge/ uses the same
// Handler over a Source backed by Worker assets or an R2 bucket.
package webserve
