#!/bin/sh
# Regenerates the BLOOM test fixtures and their numpy reference logits (run by `make goldens`).
#   tools/reference/regen.sh            fixtures + reference.json (numpy only, a few seconds)
#   tools/reference/regen.sh --wllama   also re-records greedy.json with llama.cpp (wllama in Chromium)
set -eu
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "regen.sh: $PY with numpy is required (apt-get install python3-numpy)" >&2; exit 1; }
"$PY" tools/reference/make_fixtures.py engine/testdata
"$PY" tools/reference/bloom_ref.py engine/testdata/bloom-*/
if [ "${1:-}" = "--wllama" ]; then
	node tools/reference/wllama_goldens.mjs
fi
