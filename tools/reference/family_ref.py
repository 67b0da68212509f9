#!/usr/bin/python3
"""Shared driver of the per-family numpy references (mpt_ref.py, falcon_ref.py, jais_ref.py,
baichuan_ref.py): reads a fixture directory with bloom_ref's safetensors reader (names with the
"transformer." prefix stripped, F16/BF16 upcast exactly to float64), runs the family's forward and
writes reference.json in the same shape as BLOOM's:

  {"fixture", "ids", "logits": [per position [vocab]], "generator", "dtype",
   "greedy": {"tokens": [32 numpy greedy ids], "min_margin"}}
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bloom_ref  # noqa: E402


def load_dir(d):
    """bloom_ref.load_dir, skipping non-float tensors (GPT-2's BOOL causal-mask buffers in Jais/BTLM
    checkpoints) and 0-d float buffers (attn.masked_bias), which no forward reads."""
    import json as _json
    import struct
    with open(os.path.join(d, "config.json")) as f:
        cfg = _json.load(f)
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = _json.loads(data[8:8 + n].decode("utf-8"))
    W, dtypes = {}, set()
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in ("F32", "F16", "BF16") or len(info["shape"]) == 0:
            continue
        b, e = info["data_offsets"]
        key = name[len("transformer."):] if name.startswith("transformer.") else name
        W[key] = bloom_ref._decode(info["dtype"], data[8 + n + b:8 + n + e], info["shape"])
        dtypes.add(info["dtype"])
    return cfg, W, dtypes


def _load(d):
    if os.path.exists(os.path.join(d, "model.safetensors.index.json")):
        return bloom_ref.load_dir(d)
    return load_dir(d)


def greedy(forward, cfg, W, prompt, steps):
    ids = list(prompt)
    toks, margin = [], float("inf")
    for _ in range(steps):
        lg = forward(cfg, W, ids)[-1]
        o = np.argsort(-lg)
        margin = min(margin, float(lg[o[0]] - lg[o[1]]))
        toks.append(int(o[0]))
        ids.append(int(o[0]))
    return toks, margin


def write_reference(d, forward, generator):
    cfg, W, dtypes = _load(d)
    with open(os.path.join(d, "fixture.json")) as f:
        meta = json.load(f)
    ids = meta["ids"]
    logits = forward(cfg, W, ids)
    toks, margin = greedy(forward, cfg, W, ids, meta.get("greedy_steps", 32))
    if len(dtypes) != 1:
        raise ValueError("%s mixes dtypes %s" % (d, sorted(dtypes)))
    ref = {
        "fixture": os.path.basename(os.path.normpath(d)),
        "ids": ids,
        "logits": [[float(v) for v in row] for row in logits],
        "generator": generator,
        "dtype": dtypes.pop(),
        "greedy": {"tokens": toks, "min_margin": margin},
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    return ref


def main(argv, forward, generator, ggml_gelu=None):
    if not argv:
        print("usage: %s DIR... | --logits DIR ids | --logits-ggml-gelu DIR ids" % generator)
        return 2
    if argv[0] in ("--logits", "--logits-ggml-gelu"):
        cfg, W, _ = _load(argv[1])
        ids = [int(x) for x in argv[2].split(",")]
        kw = {}
        if argv[0] == "--logits-ggml-gelu" and ggml_gelu is not None:
            # families without GELU (SwiGLU) have nothing to emulate: same as --logits
            kw["gelu"] = ggml_gelu
        json.dump([[float(v) for v in row] for row in forward(cfg, W, ids, **kw)], sys.stdout)
        return 0
    for d in argv:
        ref = write_reference(d, forward, generator)
        lg = np.asarray(ref["logits"])
        print("%s: %d positions x %d vocab, |logit| max %.2f, greedy min margin %.3f" % (
            ref["fixture"], lg.shape[0], lg.shape[1], np.abs(lg).max(), ref["greedy"]["min_margin"]))
    return 0
