#!/bin/sh
# Tokenizer encode throughput on ~1 MiB of mixed text (Brown corpus + tokenizer/testdata/corpus.jsonl),
# in one run: this package natively and under GOOS=js GOARCH=wasm in Node, the Rust tokenizers
# library through its Node binding, and @huggingface/tokenizers (JS). Also tokenizer.json load times.
# Usage (repo root): sh tools/tokref/bench.sh        (needs node and node_modules)
set -e
cd "$(dirname "$0")/../.."
runs=${BENCH_RUNS:-3}
exec_wasm="$(go env GOROOT)/lib/wasm/go_js_wasm_exec"
echo "== Go native ($(go env GOARCH))"
go test -run '^$' -bench '^Benchmark(Encode|EncodeCold|Load)$' -benchtime ${runs}x ./tokenizer/ | grep '^Benchmark'
echo "== Go js/wasm (Node $(node --version))"
GOOS=js GOARCH=wasm go test -exec="$exec_wasm" -run '^$' -bench '^Benchmark(Encode|EncodeCold)$' -benchtime ${runs}x ./tokenizer/ | grep '^Benchmark'
echo "-- js/wasm: one load in a fresh process"
GOOS=js GOARCH=wasm go test -exec="$exec_wasm" -run '^$' -bench '^BenchmarkLoad$' -benchtime 1x ./tokenizer/ | grep '^Benchmark'
echo "== Node: Rust tokenizers binding and @huggingface/tokenizers"
BENCH_RUNS=$runs node tools/tokref/bench.mjs qwen3 llama3 gemma3
