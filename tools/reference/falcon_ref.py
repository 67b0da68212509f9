#!/usr/bin/python3
"""Independent float64 numpy Falcon-RW forward pass (ALiBi path) and reference.json writer.

Written from transformers' modeling_falcon.py (FalconModel, FalconDecoderLayer, FalconAttention,
FalconMLP, build_alibi_tensor), not from this project's Go code:

  x = word_embeddings[ids]                       (no embedding layernorm, no positions)
  per layer (parallel_attn false, sequential residual):
    a   = input_layernorm(x)
    qkv = a W^T (+ b)                            split per head: view(n, H, 3, d) (_split_heads)
    alibi[h, j] = bf16(bf16(slope_h) * bf16(j))  build_alibi_tensor: slopes.bfloat16() * arange
                                                  (int64 key positions cast to bf16; bf16 product)
    s   = (q k^T + alibi) / sqrt(d)              the bias is inside the 1/sqrt(d) scale
    s   = causal mask; p = softmax(s); ctx = p v; x = x + dense(ctx)
    m   = post_attention_layernorm(x)
    x   = x + dense_4h_to_h(gelu_exact(dense_h_to_4h(m)))
  logits = ln_f(x) word_embeddings^T             (tied lm_head)

Slopes as build_alibi_tensor: closest power of two c, base = 2^(-2^-(log2 c - 3)) (float32),
slopes = base^1..c (float32 torch.pow), extra_base for 2c heads with odd powers.
bf16 rounding = round to nearest even of the float32 bits (torch's conversion).

Usage: falcon_ref.py DIR... | --logits DIR 1,2,3 | --long DIR... (writes DIR/long.json)
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import family_ref  # noqa: E402

GENERATOR = "tools/reference/falcon_ref.py"


def to_bf16(a):
    """float32 -> bfloat16 (round to nearest even), returned as float64."""
    u = np.ascontiguousarray(np.asarray(a, dtype=np.float32)).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32).astype(np.float64)


def slopes_f32(H):
    c = 2 ** math.floor(math.log2(H))
    base = np.float32(2 ** (-(2 ** -(math.log2(c) - 3))))
    s = [np.float32(base ** np.float32(p)) for p in range(1, c + 1)]
    if c != H:
        extra = np.float32(2 ** (-(2 ** -(math.log2(2 * c) - 3))))
        rem = min(c, H - c)
        s += [np.float32(extra ** np.float32(p)) for p in range(1, 1 + 2 * rem, 2)]
    return np.asarray(s, dtype=np.float32)


def alibi_bias(H, n):
    """(H, n) bias of key position j, exactly as torch computes it (bf16 values)."""
    sb = to_bf16(slopes_f32(H))
    jb = to_bf16(np.arange(n, dtype=np.float32))
    return to_bf16((sb[:, None] * jb[None, :]).astype(np.float32))


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_exact(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def forward(cfg, W, ids):
    h = cfg.get("hidden_size", cfg.get("n_embed"))
    H = cfg.get("num_attention_heads", cfg.get("n_head"))
    L = cfg.get("num_hidden_layers", cfg.get("n_layer"))
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    bias = cfg.get("bias", False)
    tied = cfg.get("tie_word_embeddings", True)
    d = h // H
    n = len(ids)
    x = W["word_embeddings.weight"][np.asarray(ids)]
    alibi = alibi_bias(H, n)  # (H, n)
    causal = np.triu(np.ones((n, n), dtype=bool), k=1)
    for l in range(L):
        p = "h.%d." % l
        a = layer_norm(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
        qkv = a @ W[p + "self_attention.query_key_value.weight"].T
        if bias:
            qkv = qkv + W[p + "self_attention.query_key_value.bias"]
        qkv = qkv.reshape(n, H, 3, d)
        q, k, v = qkv[:, :, 0, :], qkv[:, :, 1, :], qkv[:, :, 2, :]
        s = (np.einsum("ihd,jhd->hij", q, k) + alibi[:, None, :]) / math.sqrt(d)
        s = np.where(causal[None], -np.inf, s)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        prob = e / e.sum(axis=-1, keepdims=True)
        ctx = np.einsum("hij,jhd->ihd", prob, v).reshape(n, h)
        o = ctx @ W[p + "self_attention.dense.weight"].T
        if bias:
            o = o + W[p + "self_attention.dense.bias"]
        x = x + o
        m = layer_norm(x, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps)
        u = m @ W[p + "mlp.dense_h_to_4h.weight"].T
        if bias:
            u = u + W[p + "mlp.dense_h_to_4h.bias"]
        y = gelu_exact(u) @ W[p + "mlp.dense_4h_to_h.weight"].T
        if bias:
            y = y + W[p + "mlp.dense_4h_to_h.bias"]
        x = x + y
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    return x @ (W["word_embeddings.weight"] if tied else W["lm_head.weight"]).T




def write_long(d, n=300, positions=(0, 100, 255, 256, 257, 270, 290, 299), seed=7):
    """long.json: logits at a few positions of a 300-token random sequence, where the bf16
    key positions and products of build_alibi_tensor round visibly (j > 256)."""
    import json
    from bloom_ref import load_dir
    cfg, W, _ = load_dir(d)
    V = cfg["vocab_size"]
    ids = [int(x) for x in np.random.default_rng(seed).integers(0, V, n)]
    lg = forward(cfg, W, ids)
    out = {"generator": GENERATOR + " --long", "ids": ids, "positions": list(positions),
           "logits": [[float(v) for v in lg[p]] for p in positions]}
    with open(os.path.join(d, "long.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("%s/long.json: %d ids, logits at %s" % (d, n, list(positions)))


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--long":
    for d in sys.argv[2:]:
        write_long(d)
elif __name__ == "__main__":
    sys.exit(family_ref.main(sys.argv[1:], forward, GENERATOR))
