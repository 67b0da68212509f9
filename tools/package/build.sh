#!/usr/bin/env bash
# tools/package/build.sh [OUTDIR]: writes the npm package folder alibi-wasm to
# OUTDIR (default build/npm) from the built site (env ALIBI_SITE, default
# build/site; built with `go run ./cmd/build-wasm -o build/site` when it is
# missing), then packs it: OUTDIR/../alibi-wasm-<version>.tgz. Prints the
# tarball's path on its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${1:-build/npm}"
site="${ALIBI_SITE:-build/site}"
if [ ! -f "$site/alibi.wasm" ] || [ ! -f "$site/worker.js" ]; then
  echo "build.sh: building $site" >&2
  go run ./cmd/build-wasm -o "$site" >&2
fi
go run ./tools/package -site "$site" -o "$out" >&2
packdir="$(cd "$out/.." && pwd)"
tgz="$(cd "$out" && npm pack --silent --pack-destination "$packdir" | tail -1)"
echo "$packdir/$tgz"
