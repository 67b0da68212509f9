#!/usr/bin/python3
"""Independent float64 numpy BLOOM forward pass and reference.json writer.

Written from the ALiBi paper (Press et al., arXiv 2108.12409) and Hugging Face's
modeling_bloom.py, not from this project's Go code:

  x = LN_emb(E[ids])                                  (no embedding scale, no positions)
  per layer:
    a   = LN1(x);  qkv = a W_qkv^T + b_qkv            (rows interleaved per head: [H][q,k,v][d])
    s   = (q k^T) / sqrt(d) + slope_h * key_pos       (BLOOM adds slope*j; softmax makes it equal
                                                       to the paper's -slope*(i-j))
    s   = causal mask (j > i -> -inf); p = softmax(s); ctx = p v  (heads merged head-major)
    x   = residual + (ctx W_dense^T + b)              residual = a if apply_residual_connection_post_layernorm else x
    m   = LN2(x)
    x   = residual' + W_down gelu_tanh(W_up m + b_up) + b_down   residual' = m if post-LN flag else x
  logits = LN_f(x) E^T                                (tied head)

Weights are read from the fixture directory exactly as stored (F16/BF16 upcast to float64) by a
safetensors reader in this file. Usage:

  /usr/bin/python3 tools/reference/bloom_ref.py engine/testdata/bloom-f32-h4-l2 [...]

writes reference.json into each directory, for the id sequence listed in the directory's
fixture.json (written by make_fixtures.py).

  /usr/bin/python3 tools/reference/bloom_ref.py --logits DIR 5,6,7

prints the logits at every position of the given ids as JSON (used by wllama_goldens.mjs);
--logits-ggml-gelu does the same with ggml's fp16-table GELU emulated, to attribute differences.
"""
import json
import math
import os
import struct
import sys

import numpy as np

GENERATOR = "tools/reference/bloom_ref.py"


# ---------------------------------------------------------------- safetensors (reader)

def _decode(dtype, raw, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2").astype(np.float64)
    elif dtype == "BF16":
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        a = u.view(np.float32).astype(np.float64)
    elif dtype == "F64":
        a = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    else:
        raise ValueError("bloom_ref: unsupported dtype %s" % dtype)
    return a.reshape(shape)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out, dtypes = {}, set()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = _decode(info["dtype"], data[base + b:base + e], info["shape"])
        dtypes.add(info["dtype"])
    return out, dtypes


def load_dir(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    idx = os.path.join(d, "model.safetensors.index.json")
    tensors, dtypes = {}, set()
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for fn in files:
        t, dt = read_safetensors(os.path.join(d, fn))
        tensors.update(t)
        dtypes |= dt
    # accept names with and without the "transformer." prefix
    tensors = {(k[len("transformer."):] if k.startswith("transformer.") else k): v
               for k, v in tensors.items()}
    return cfg, tensors, dtypes


# ---------------------------------------------------------------- model

def hparams(cfg):
    h = cfg.get("hidden_size", cfg.get("n_embed"))
    H = cfg.get("n_head", cfg.get("num_attention_heads"))
    L = cfg.get("n_layer", cfg.get("num_hidden_layers"))
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    post = bool(cfg.get("apply_residual_connection_post_layernorm", False))
    return h, H, L, eps, post


def alibi_slopes(n):
    """Slopes from the ALiBi paper's reference get_slopes (ofirpress/attention_with_linear_biases)."""
    def pow2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return pow2(n)
    c = 2 ** math.floor(math.log2(n))
    return pow2(c) + alibi_slopes(2 * c)[0::2][:n - c]


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_tanh(x):
    # modeling_bloom.bloom_gelu_forward
    return x * 0.5 * (1.0 + np.tanh(0.79788456 * x * (1 + 0.044715 * x * x)))


def gelu_ggml_table(x):
    """Emulates ggml's CPU GELU (vec.h ggml_vec_gelu_f32 with GGML_GELU_FP16): x <= -10 -> 0,
    x >= 10 -> x, otherwise a table of tanh-GELU values indexed by fp16(x) and stored as fp16.
    Used only to explain the numpy/llama.cpp difference, never for reference.json."""
    xf = x.astype(np.float32)
    t = gelu_tanh(xf.astype(np.float16).astype(np.float64)).astype(np.float16).astype(np.float64)
    return np.where(xf <= -10, 0.0, np.where(xf >= 10, x, t))


def forward(cfg, W, ids, gelu=None):
    """Logits (len(ids) x vocab) in float64."""
    gelu = gelu or gelu_tanh
    h, H, L, eps, post = hparams(cfg)
    d = h // H
    n = len(ids)
    x = W["word_embeddings.weight"][np.asarray(ids)]
    x = layer_norm(x, W["word_embeddings_layernorm.weight"], W["word_embeddings_layernorm.bias"], eps)
    slopes = np.asarray(alibi_slopes(H), dtype=np.float64)
    keypos = np.arange(n, dtype=np.float64)
    causal = np.triu(np.ones((n, n), dtype=bool), k=1)  # True where key j > query i
    for l in range(L):
        p = "h.%d." % l
        a = layer_norm(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
        qkv = a @ W[p + "self_attention.query_key_value.weight"].T + W[p + "self_attention.query_key_value.bias"]
        qkv = qkv.reshape(n, H, 3, d)
        q, k, v = qkv[:, :, 0, :], qkv[:, :, 1, :], qkv[:, :, 2, :]
        s = np.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)
        s = s + slopes[:, None, None] * keypos[None, None, :]
        s = np.where(causal[None, :, :], -np.inf, s)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        prob = e / e.sum(axis=-1, keepdims=True)
        ctx = np.einsum("hij,jhd->ihd", prob, v).reshape(n, h)
        o = ctx @ W[p + "self_attention.dense.weight"].T + W[p + "self_attention.dense.bias"]
        x = (a if post else x) + o
        m = layer_norm(x, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps)
        u = gelu(m @ W[p + "mlp.dense_h_to_4h.weight"].T + W[p + "mlp.dense_h_to_4h.bias"])
        x = (m if post else x) + u @ W[p + "mlp.dense_4h_to_h.weight"].T + W[p + "mlp.dense_4h_to_h.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    return x @ W["word_embeddings.weight"].T


def greedy(cfg, W, prompt, steps):
    """Greedy continuation; returns (tokens, smallest top1-top2 logit gap over all decisions)."""
    ids = list(prompt)
    toks, margin = [], float("inf")
    for _ in range(steps):
        lg = forward(cfg, W, ids)[-1]
        o = np.argsort(-lg)
        margin = min(margin, float(lg[o[0]] - lg[o[1]]))
        toks.append(int(o[0]))
        ids.append(int(o[0]))
    return toks, margin


# ---------------------------------------------------------------- reference.json

def write_reference(d):
    cfg, W, dtypes = load_dir(d)
    with open(os.path.join(d, "fixture.json")) as f:
        meta = json.load(f)
    ids = meta["ids"]
    logits = forward(cfg, W, ids)
    toks, margin = greedy(cfg, W, ids, meta.get("greedy_steps", 32))
    if len(dtypes) != 1:
        raise ValueError("bloom_ref: %s mixes dtypes %s" % (d, sorted(dtypes)))
    ref = {
        "fixture": os.path.basename(os.path.normpath(d)),
        "ids": ids,
        "logits": [[float(v) for v in row] for row in logits],
        "generator": GENERATOR,
        "dtype": dtypes.pop(),
        # extension: numpy greedy continuation of ids and its smallest top-1/top-2 gap
        "greedy": {"tokens": toks, "min_margin": margin},
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    return ref


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    if argv[0] in ("--logits", "--logits-ggml-gelu"):
        # bloom_ref.py --logits DIR 1,2,3 : JSON logits (float64) at every position, on stdout
        cfg, W, _ = load_dir(argv[1])
        ids = [int(x) for x in argv[2].split(",")]
        gelu = gelu_ggml_table if argv[0] == "--logits-ggml-gelu" else gelu_tanh
        json.dump([[float(v) for v in row] for row in forward(cfg, W, ids, gelu)], sys.stdout)
        return 0
    for d in argv:
        ref = write_reference(d)
        lg = np.asarray(ref["logits"])
        print("%s: %d positions x %d vocab, |logit| max %.2f, greedy min margin %.3f" % (
            ref["fixture"], lg.shape[0], lg.shape[1], np.abs(lg).max(), ref["greedy"]["min_margin"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
