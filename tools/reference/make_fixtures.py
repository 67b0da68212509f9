#!/usr/bin/python3
"""Builds small, seeded BLOOM checkpoints in the real Hugging Face layout.

For each fixture in FIXTURES it writes engine/testdata/bloom-<name>/:
  config.json          BLOOM config (real key names; some fixtures use the legacy aliases)
  tokenizer.json       a tiny byte-level BPE tokenizer in BLOOM's tokenizer.json layout
  model.safetensors    or model-0000k-of-0000n.safetensors + model.safetensors.index.json
  fixture.json         generator metadata: seed, prompt text and the reference id sequence

Then run tools/reference/bloom_ref.py on the directories to write reference.json (regen.sh does both).

Weights: numpy default_rng(seed); linear weights ~ N(0, 1/in), biases ~ N(0, 0.05^2), layernorm
gains 1 + N(0, 0.1^2), embeddings ~ N(0, 1) so that logits spread over several units. With tied
embeddings a random BLOOM predicts its current token again (E_i.E_i >> E_i.E_j), so greedy decoding
collapses into repeating one token; the attention-output and MLP-output weights are therefore scaled
by OUT_GAIN so the context dominates the residual stream. A fixture is accepted only when the numpy
greedy continuation (32 steps) of its prompt has a top-1/top-2 logit gap of at least MIN_MARGIN at
every decision and at least MIN_DISTINCT distinct tokens; otherwise the seed is bumped
(deterministically: seed = base + attempt).

safetensors is written here by hand: 8-byte little-endian header length, JSON header padded with
spaces to a multiple of 8, tensors sorted by name, contiguous offsets. F16 is numpy's
round-to-nearest-even cast; BF16 is f32 bits rounded to nearest-even and truncated to u16.

Usage: /usr/bin/python3 tools/reference/make_fixtures.py [OUT_ROOT]   (default engine/testdata)
"""
import json
import os
import re
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bloom_ref  # noqa: E402  (used only to check greedy margins)

MIN_MARGIN = 0.08     # smallest top-1/top-2 logit gap allowed at each greedy decision
MIN_DISTINCT = 6      # greedy continuation must not collapse into repeating one or two tokens
OUT_GAIN = 6.0        # scale of attention-output and MLP-output weights (see module docstring)
GREEDY_STEPS = 32
N_MERGES = 40

# name, dtype, heads, hidden, layers, extra config options
FIXTURES = [
    dict(name="f32-h4-l2", dtype="F32", heads=4, hidden=24, layers=2),
    dict(name="f16-h6-l2", dtype="F16", heads=6, hidden=48, layers=2),
    dict(name="bf16-h12-l2", dtype="BF16", heads=12, hidden=48, layers=2, vocab=304),
    dict(name="f32-h6-postln", dtype="F32", heads=6, hidden=24, layers=2, post_ln=True),
    dict(name="f32-h12-alias", dtype="F32", heads=12, hidden=48, layers=1, alias=True, eps=1e-6),
    dict(name="f32-h6-prefix", dtype="F32", heads=6, hidden=24, layers=3, prefix=True),
    dict(name="f16-h4-sharded", dtype="F16", heads=4, hidden=32, layers=3, shards=3, vocab=320),
]

CORPUS = """The quick brown fox jumps over the lazy dog. A small model reads the text, one token at a time,
and the attention heads look back at the words that came before. Linear biases replace position
embeddings: the further away a word is, the less the head attends to it. This is the idea of ALiBi,
and BLOOM was trained with it. Tokens, merges, bytes and heads! Is it the end? Not yet, there is
more text here, then the end of the training text for this tiny tokenizer."""

PROMPT = "The small model reads the text, then looks back."

# BLOOM's pre-tokenizer regex (Oniguruma); the RE2/Python equivalent below has the same membership.
BLOOM_SPLIT_REGEX = " ?[^(\\s|[.,!?…。，、।۔،])]+"
PY_SPLIT_REGEX = re.compile(" ?[^()|\\s.,!?…。，、।۔،]+")

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


# ---------------------------------------------------------------- tokenizer

def bytes_to_unicode():
    """GPT-2's byte -> printable unicode map used by the ByteLevel pre-tokenizer."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


B2U = bytes_to_unicode()


def pre_split(text):
    """Split Isolated: matches and the gaps between them are pieces."""
    out, pos = [], 0
    for m in PY_SPLIT_REGEX.finditer(text):
        if m.start() > pos:
            out.append(text[pos:m.start()])
        out.append(m.group(0))
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return ["".join(B2U[b] for b in p.encode("utf-8")) for p in out]


def train_bpe(text, n_merges, split=None):
    """Byte-level BPE merges learned from text, pre-split by split (default pre_split)."""
    words = {}
    for w in (split or pre_split)(text):
        words[tuple(w)] = words.get(tuple(w), 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        nw = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            nw[tuple(out)] = nw.get(tuple(out), 0) + c
        words = nw
    return merges


def build_vocab(merges):
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for b in range(256):
        vocab[B2U[b]] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    return vocab


def bpe_encode(text, vocab, merges):
    rank = {m: i for i, m in enumerate(merges)}
    ids = []
    for w in pre_split(text):
        parts = list(w)
        while len(parts) > 1:
            cands = [(rank.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            r, i = min(cands)
            if r == 1 << 30:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        ids.extend(vocab[p] for p in parts)
    return ids


def tokenizer_json(vocab, merges):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for i, s in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": BLOOM_SPLIT_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": ["%s %s" % m for m in merges]},
    }


# ---------------------------------------------------------------- weights

def tensor_shapes(h, L, V):
    s = {"word_embeddings.weight": (V, h),
         "word_embeddings_layernorm.weight": (h,), "word_embeddings_layernorm.bias": (h,),
         "ln_f.weight": (h,), "ln_f.bias": (h,)}
    for l in range(L):
        p = "h.%d." % l
        s.update({p + "input_layernorm.weight": (h,), p + "input_layernorm.bias": (h,),
                  p + "self_attention.query_key_value.weight": (3 * h, h),
                  p + "self_attention.query_key_value.bias": (3 * h,),
                  p + "self_attention.dense.weight": (h, h), p + "self_attention.dense.bias": (h,),
                  p + "post_attention_layernorm.weight": (h,), p + "post_attention_layernorm.bias": (h,),
                  p + "mlp.dense_h_to_4h.weight": (4 * h, h), p + "mlp.dense_h_to_4h.bias": (4 * h,),
                  p + "mlp.dense_4h_to_h.weight": (h, 4 * h), p + "mlp.dense_4h_to_h.bias": (h,)})
    return s


def random_weights(rng, h, L, V):
    W = {}
    for name, shape in sorted(tensor_shapes(h, L, V).items()):
        if name == "word_embeddings.weight":
            W[name] = rng.normal(0.0, 1.0, shape)
        elif name.endswith("layernorm.weight") or name == "ln_f.weight":
            W[name] = 1.0 + rng.normal(0.0, 0.1, shape)
        elif name.endswith(".bias"):
            W[name] = rng.normal(0.0, 0.05, shape)
        else:
            W[name] = rng.normal(0.0, 1.0 / np.sqrt(shape[1]), shape)
            if name.endswith("self_attention.dense.weight") or name.endswith("mlp.dense_4h_to_h.weight"):
                W[name] *= OUT_GAIN
    return W


def greedy_check(cfg, W, ids):
    """Numpy greedy continuation with early exit: (tokens, min margin) or None when rejected."""
    seq, toks, margin = list(ids), [], float("inf")
    for _ in range(GREEDY_STEPS):
        lg = bloom_ref.forward(cfg, W, seq)[-1]
        o = np.argsort(-lg)
        margin = min(margin, float(lg[o[0]] - lg[o[1]]))
        if margin < MIN_MARGIN or np.abs(lg).max() >= 60:
            return None
        toks.append(int(o[0]))
        seq.append(int(o[0]))
    if len(set(toks)) < MIN_DISTINCT:
        return None
    return toks, margin


def to_bf16_bits(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def encode(a, dtype):
    """(bytes, float64 values as stored)."""
    if dtype == "F32":
        s = a.astype("<f4")
        return s.tobytes(), s.astype(np.float64)
    if dtype == "F16":
        s = a.astype("<f2")
        return s.tobytes(), s.astype(np.float64)
    if dtype == "BF16":
        bits = to_bf16_bits(a).astype("<u2")
        return bits.tobytes(), (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    raise ValueError(dtype)


def safetensors_bytes(items):
    """items: list of (name, dtype, shape, raw bytes), written in the given order."""
    header, off = {}, 0
    for name, dtype, shape, raw in items:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    return struct.pack("<Q", len(hj)) + hj + b"".join(raw for _, _, _, raw in items)


# ---------------------------------------------------------------- fixtures

def make_config(fx, V):
    h, H, L = fx["hidden"], fx["heads"], fx["layers"]
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[fx["dtype"]]
    cfg = {"apply_residual_connection_post_layernorm": bool(fx.get("post_ln", False)),
           "architectures": ["BloomForCausalLM"],
           "attention_dropout": 0.0,
           "bos_token_id": 1,
           "eos_token_id": 2,
           "hidden_dropout": 0.0,
           "initializer_range": 0.02,
           "layer_norm_epsilon": fx.get("eps", 1e-5),
           "masked_softmax_fusion": True,
           "model_type": "bloom",
           "offset_alibi": 100,
           "pad_token_id": 3,
           "pretraining_tp": 1,
           "skip_bias_add": True,
           "skip_bias_add_qkv": False,
           "slow_but_exact": False,
           "torch_dtype": torch_dtype,
           "transformers_version": "4.44.0",
           "unk_token_id": 0,
           "use_cache": True,
           "vocab_size": V}
    if fx.get("alias"):
        cfg.update({"n_embed": h, "num_attention_heads": H, "num_hidden_layers": L})
    else:
        cfg.update({"hidden_size": h, "n_head": H, "n_layer": L, "seq_length": 2048})
    return cfg


def build(fx, root, tok, vocab, merges, ids):
    tok_v = len(vocab)
    V = fx.get("vocab", tok_v)
    assert V >= tok_v
    h, H, L, dtype = fx["hidden"], fx["heads"], fx["layers"], fx["dtype"]
    cfg = make_config(fx, V)
    seed = 1000 + sum(ord(c) for c in fx["name"]) * 7
    for attempt in range(400):
        rng = np.random.default_rng(seed + attempt)
        W = random_weights(rng, h, L, V)
        raw, stored = {}, {}
        for k, a in W.items():
            raw[k], stored[k] = encode(a, dtype)
        ok = greedy_check(cfg, stored, ids)
        if ok is not None:
            toks, margin = ok
            break
    else:
        raise SystemExit("make_fixtures: no seed with margin >= %g for %s" % (MIN_MARGIN, fx["name"]))

    d = os.path.join(root, "bloom-" + fx["name"])
    os.makedirs(d, exist_ok=True)
    for fn in os.listdir(d):
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(d, fn))
    prefix = "transformer." if fx.get("prefix") else ""
    items = [(prefix + k, dtype, W[k].shape, raw[k]) for k in sorted(W)]
    n_shards = fx.get("shards", 1)
    if n_shards == 1:
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes(items))
    else:
        # split by layer like transformers does (whole tensors per shard, roughly equal bytes)
        total = sum(len(it[3]) for it in items)
        groups, cur, acc = [], [], 0
        for it in items:
            cur.append(it)
            acc += len(it[3])
            if acc >= total * (len(groups) + 1) / n_shards and len(groups) < n_shards - 1:
                groups.append(cur)
                cur = []
        groups.append(cur)
        weight_map = {}
        for i, g in enumerate(groups):
            fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(groups))
            with open(os.path.join(d, fn), "wb") as f:
                f.write(safetensors_bytes(g))
            for it in g:
                weight_map[it[0]] = fn
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
                      f, indent=2)
            f.write("\n")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(d, "fixture.json"), "w") as f:
        json.dump({"generator": "tools/reference/make_fixtures.py", "seed": seed + attempt,
                   "dtype": dtype, "heads": H, "hidden": h, "layers": L, "vocab_size": V,
                   "tokenizer_vocab": tok_v, "prompt": PROMPT, "ids": ids,
                   "greedy_steps": GREEDY_STEPS, "min_margin": margin}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    sizes = sum(os.path.getsize(os.path.join(d, fn)) for fn in os.listdir(d) if fn.endswith(".safetensors"))
    print("bloom-%s: seed %d (attempt %d), %d bytes of safetensors, greedy min margin %.3f, %d distinct tokens" % (
        fx["name"], seed + attempt, attempt, sizes, margin, len(set(toks))))
    return d


def main(argv):
    root = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "engine", "testdata")
    root = os.path.normpath(root)
    merges = train_bpe(CORPUS, N_MERGES)
    vocab = build_vocab(merges)
    tok = tokenizer_json(vocab, merges)
    ids = bpe_encode(PROMPT, vocab, merges)
    print("tokenizer: %d tokens, %d merges; prompt -> %d ids" % (len(vocab), len(merges), len(ids)))
    for fx in FIXTURES:
        build(fx, root, tok, vocab, merges, ids)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
