#!/bin/sh
# Regenerates the test fixtures and their numpy reference logits (run by `make goldens`).
#   tools/reference/regen.sh            fixtures + reference.json (numpy only, a minute or two)
#   tools/reference/regen.sh --wllama   also re-records greedy.json with llama.cpp (wllama in Chromium)
set -eu
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "regen.sh: $PY with numpy is required (apt-get install python3-numpy)" >&2; exit 1; }
# BLOOM
"$PY" tools/reference/make_fixtures.py engine/testdata
"$PY" tools/reference/bloom_ref.py engine/testdata/bloom-*/
# MPT, Falcon-RW, Jais, BTLM, Baichuan-13B (Baichuan's tokenizer.model is trained by SentencePiece)
"$PY" -c 'import sentencepiece' 2>/dev/null || { echo "regen.sh: $PY with sentencepiece is required (apt-get install python3-sentencepiece)" >&2; exit 1; }
"$PY" tools/reference/make_spm_fixtures.py
"$PY" tools/reference/make_family_fixtures.py engine/testdata
"$PY" tools/reference/mpt_ref.py engine/testdata/mpt-*/
"$PY" tools/reference/falcon_ref.py engine/testdata/falcon-*/
"$PY" tools/reference/falcon_ref.py --long engine/testdata/falcon-f32-h4-rw engine/testdata/falcon-f16-h6-nobias
"$PY" tools/reference/jais_ref.py engine/testdata/jais-*/ engine/testdata/btlm-*/
"$PY" tools/reference/baichuan_ref.py engine/testdata/baichuan-*/
# Falcon's bf16 ALiBi table straight from PyTorch (needs Debian python3-torch; kept when absent)
if "$PY" -c 'import torch' 2>/dev/null; then
	"$PY" tools/reference/falcon_alibi_table.py
fi
if [ "${1:-}" = "--wllama" ]; then
	node tools/reference/wllama_goldens.mjs
fi
