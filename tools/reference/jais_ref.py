#!/usr/bin/python3
"""Independent float64 numpy Jais / BTLM forward pass and reference.json writer.

Written from the ports of the Hub modeling_jais.py / modeling_btlm.py that are reachable
(vLLM's jais.py and its JAISConfig; the text-generation-inference BTLM port), not from this
project's Go code:

  x = wte[ids] * embeddings_scale               (mup_embeddings_scale, or embeddings_scale)
  per block (GPT-2 pre-LN):
    a   = ln_1(x)
    qkv = a @ c_attn.weight + c_attn.bias        Conv1D: weight stored [in, out]; q|k|v = split(3)
    s   = q k^T / d^p + position_bias            p = 1 with mup_scale_qk_dot_by_d / scale_qk_dot_by_d,
                                                 else 0.5 (no scaling without scale_attn_weights)
          position_bias[h, i, j] = -slopes[h] * |i - j|   slopes = transformer.relative_pe.slopes
                                                 as stored (the parameter is loaded from the state dict)
    s   = causal mask; p = softmax(s); ctx = p v; x = x + ctx @ c_proj.weight + c_proj.bias
    m   = ln_2(x)
    x   = x + (c_fc(m) * silu(c_fc2(m))) @ mlp.c_proj.weight + bias   (SwiGLUActivation(x1, x2) = x1*silu(x2))
  logits = (ln_f(x) @ W^T) * output_scale       W = lm_head.weight, or wte when tied;
                                                 output_scale = mup_output_alpha * mup_width_scale, or width_scale

Usage: jais_ref.py DIR... | --logits DIR 1,2,3
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import family_ref  # noqa: E402

GENERATOR = "tools/reference/jais_ref.py"


def get_slopes(n):
    """The ALiBi paper's get_slopes (AlibiPositionEmbeddingLayer._get_alibi_slopes)."""
    def pow2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return pow2(n)
    c = 2 ** math.floor(math.log2(n))
    return pow2(c) + get_slopes(2 * c)[0::2][:n - c]


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def silu(x):
    return x / (1.0 + np.exp(-x))


def scales(cfg):
    emb = cfg.get("mup_embeddings_scale", cfg.get("embeddings_scale", 1.0))
    if "mup_output_alpha" in cfg:
        out = cfg["mup_output_alpha"] * cfg["mup_width_scale"]
    else:
        out = cfg.get("width_scale", 1.0)
    by_d = cfg.get("mup_scale_qk_dot_by_d", cfg.get("scale_qk_dot_by_d", False))
    power = 1.0 if by_d else 0.5
    return emb, out, power, cfg.get("scale_attn_weights", True)


def forward(cfg, W, ids):
    h, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    tied = cfg.get("tie_word_embeddings", True)
    emb, out_scale, power, scale_attn = scales(cfg)
    d = h // H
    n = len(ids)
    x = W["wte.weight"][np.asarray(ids)] * emb
    if "relative_pe.slopes" in W:
        slopes = W["relative_pe.slopes"].reshape(H)
    else:
        slopes = np.asarray(get_slopes(H))
    factor = (cfg.get("alibi_scaling") or {}).get("factor")
    if factor:
        slopes = slopes / factor  # AlibiPositionEmbeddingLayer: slopes / -scale with a linear factor
    pos = np.arange(n)
    bias = -slopes[:, None, None] * np.abs(pos[None, :] - pos[:, None])[None]  # (H, n, n)
    causal = np.triu(np.ones((n, n), dtype=bool), k=1)
    for l in range(L):
        p = "h.%d." % l
        a = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = a @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(n, H, d) for t in np.split(qkv, 3, axis=-1))
        s = np.einsum("ihd,jhd->hij", q, k)
        if scale_attn:
            s = s / (d ** power)
        s = s + bias
        s = np.where(causal[None], -np.inf, s)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        prob = e / e.sum(axis=-1, keepdims=True)
        ctx = np.einsum("hij,jhd->ihd", prob, v).reshape(n, h)
        x = x + ctx @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        m = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        u = m @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]
        g = m @ W[p + "mlp.c_fc2.weight"] + W[p + "mlp.c_fc2.bias"]
        x = x + (u * silu(g)) @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    head = W["wte.weight"] if tied else W["lm_head.weight"]
    return (x @ head.T) * out_scale


if __name__ == "__main__":
    sys.exit(family_ref.main(sys.argv[1:], forward, GENERATOR))
