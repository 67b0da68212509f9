#!/usr/bin/python3
"""Independent float64 numpy Baichuan-13B forward pass and reference.json writer.

Written from the Baichuan-13B remote code (modeling_baichuan.py: _get_interleave, _gen_alibi_mask,
RMSNorm, BaichuanAttention, MLP, BaichuanLayer, BaichuanModel; configuration_baichuan.py), not from
this project's Go code:

  x = embed_tokens[ids]
  per layer (pre-norm):
    a   = RMSNorm(x) = x / sqrt(mean(x^2) + rms_norm_eps) * w
    proj = a W_pack^T, unflatten(-1, (3, h)) -> q, k, v = proj[..., 0, :], [..., 1, :], [..., 2, :]
    s   = q k^T / sqrt(d) + mask, mask[h, i, j] = slope_h * j (key index) and -inf for j > i
          (_gen_alibi_mask; slopes from _get_interleave = the ALiBi paper's get_slopes)
    s   = max(s, finfo.min); p = softmax(s); x = x + o_proj(p v)
    m   = RMSNorm(x); x = x + down_proj(silu(gate_proj(m)) * up_proj(m))
  logits = lm_head(RMSNorm(x))                  (untied)

Usage: baichuan_ref.py DIR... | --logits DIR 1,2,3
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import family_ref  # noqa: E402

GENERATOR = "tools/reference/baichuan_ref.py"


def get_interleave(n):
    def pow2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return pow2(n)
    c = 2 ** math.floor(math.log2(n))
    return pow2(c) + get_interleave(2 * c)[0::2][:n - c]


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward(cfg, W, ids):
    h, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg.get("rms_norm_eps", 1e-6)
    tied = cfg.get("tie_word_embeddings", False)
    d = h // H
    n = len(ids)
    W = {(k[len("model."):] if k.startswith("model.") else k): v for k, v in W.items()}
    x = W["embed_tokens.weight"][np.asarray(ids)]
    slopes = np.asarray(get_interleave(H))
    mask = slopes[:, None, None] * np.arange(n, dtype=np.float64)[None, None, :]
    mask = np.where(np.triu(np.ones((n, n), dtype=bool), k=1)[None], -np.inf, mask)
    for l in range(L):
        p = "layers.%d." % l
        a = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        proj = (a @ W[p + "self_attn.W_pack.weight"].T).reshape(n, 3, h)
        q, k, v = (proj[:, i, :].reshape(n, H, d) for i in range(3))
        s = np.einsum("ihd,jhd->hij", q, k) / math.sqrt(d) + mask
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        prob = e / e.sum(axis=-1, keepdims=True)
        ctx = np.einsum("hij,jhd->ihd", prob, v).reshape(n, h)
        x = x + ctx @ W[p + "self_attn.o_proj.weight"].T
        m = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = silu(m @ W[p + "mlp.gate_proj.weight"].T) * (m @ W[p + "mlp.up_proj.weight"].T)
        x = x + g @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["norm.weight"], eps)
    return x @ (W["embed_tokens.weight"] if tied else W["lm_head.weight"]).T


if __name__ == "__main__":
    sys.exit(family_ref.main(sys.argv[1:], forward, GENERATOR))
