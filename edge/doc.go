// Command edge is alibi's Cloudflare Worker, written in Go. It serves the
// folder cmd/build-wasm writes (the demo and the bundled model's web
// directory) with the semantics of internal/webserve (Range, ETag/304,
// Cache-Control, CORS for model files, cross-origin isolation for the app),
// reading model files from an R2 bucket bound as MODELS when there is one and
// from the Worker's static assets otherwise, and it answers OpenAI-style
// completions (POST /v1/completions, optionally streamed as server-sent
// events) with the bundled model, loaded once per isolate.
//
// Files without build tags hold the logic and are tested natively
// (go test ./edge/). The js/wasm files serve it with github.com/syumai/workers
// (workers.ServeNonBlock, workers.Ready, the cloudflare and r2 packages),
// run by the glue in edge/glue/worker.mjs, which keeps one Go instance alive
// per isolate instead of the library's instance per request. Built
// natively, the command is a plain HTTP server over a site folder, for
// debugging: go run ./edge -site build/site -addr 127.0.0.1:8788.
package main
