#!/usr/bin/python3
"""Independent float64 numpy MPT forward pass and reference.json writer.

Written from mosaicml/llm-foundry (llmfoundry/models/layers/attention.py, blocks.py, ffn.py,
mpt/modeling_mpt.py, mpt/configuration_mpt.py) and transformers' modeling_mpt.py, not from this
project's Go code:

  x = wte[ids]                                   (alibi turns learned_pos_emb off: no positions)
  per block (MPTBlock, pre-norm):
    a   = norm_1(x)                              (LayerNorm; no bias when no_bias)
    qkv = a Wqkv^T (+ b)                         Wqkv rows are [Q; K; V] (qkv.split([d, d, d]))
    qkv = clamp(qkv, -clip_qkv, clip_qkv)        if clip_qkv
    q, k, v = split;  q = q_ln(q), k = k_ln(k)   if qk_ln (LayerNorm over all heads, d_model wide)
    s   = q k^T * softmax_scale + alibi          softmax_scale = 1/sqrt(d_model/n_heads) when null
          alibi[h, j] = slope_h * (j - (L-1))    (build_alibi_bias: arange(1-L, 1) * gen_slopes)
    s   = causal mask; p = softmax(s); ctx = p v (heads merged)
    x   = x + ctx Wout^T (+ b)
    m   = norm_2(x)
    x   = x + down(gelu_exact(up(m)))            MPTMLP, ffn width int(d_model * expansion_ratio)
  logits = norm_f(x) wte^T (or lm_head), times logit_scale (1/sqrt(d_model) for "inv_sqrt_d_model")

gen_slopes(n, B): P = 2^ceil(log2 n); s_i = 2^(-i*B/P), i = 1..P; if P != n:
concat(s[1::2], s[0::2])[:n].

Usage: mpt_ref.py DIR...  (writes DIR/reference.json for the ids in DIR/fixture.json)
       mpt_ref.py --logits DIR 1,2,3   (JSON logits at every position on stdout)
       mpt_ref.py --logits-ggml DIR 1,2,3   (same with llama.cpp's tanh GELU through ggml's fp16
                                            table: only to attribute the llama.cpp difference)
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bloom_ref  # noqa: E402  (safetensors reader and the shared reference.json writer parts)

GENERATOR = "tools/reference/mpt_ref.py"


def gen_slopes(n_heads, alibi_bias_max=8):
    P = 2 ** math.ceil(math.log2(n_heads))
    m = np.arange(1, P + 1, dtype=np.float64) * (alibi_bias_max / P)
    slopes = 1.0 / np.power(2.0, m)
    if P != n_heads:
        slopes = np.concatenate([slopes[1::2], slopes[0::2]])[:n_heads]
    return slopes


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * w
    return y if b is None else y + b


def gelu_exact(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def hparams(cfg):
    d = cfg.get("d_model", cfg.get("hidden_size"))
    H = cfg["n_heads"]
    L = cfg["n_layers"]
    ac = cfg.get("attn_config") or {}
    hp = dict(d=d, H=H, L=L,
              eps=cfg.get("layer_norm_epsilon", 1e-5),
              ff=int(d * cfg.get("expansion_ratio", 4)),
              no_bias=cfg.get("no_bias", True),
              clip=ac.get("clip_qkv"),
              qk_ln=ac.get("qk_ln", False),
              scale=ac.get("softmax_scale") or 1.0 / math.sqrt(d / H),
              B=ac.get("alibi_bias_max", 8),
              tied=cfg.get("tie_word_embeddings", True))
    ls = cfg.get("logit_scale")
    if ls == "inv_sqrt_d_model":
        ls = 1.0 / math.sqrt(d)
    hp["logit_scale"] = ls
    return hp


def forward(cfg, W, ids, gelu=None):
    gelu = gelu or gelu_exact
    hp = hparams(cfg)
    d, H, eps = hp["d"], hp["H"], hp["eps"]
    hd = d // H
    n = len(ids)
    get = (lambda k: None) if hp["no_bias"] else (lambda k: W[k])
    x = W["wte.weight"][np.asarray(ids)]
    slopes = gen_slopes(H, hp["B"])
    alibi = slopes[:, None, None] * np.arange(1 - n, 1, dtype=np.float64)[None, None, :]  # (H, 1, n)
    causal = np.triu(np.ones((n, n), dtype=bool), k=1)
    for l in range(hp["L"]):
        p = "blocks.%d." % l
        a = layer_norm(x, W[p + "norm_1.weight"], get(p + "norm_1.bias"), eps)
        qkv = a @ W[p + "attn.Wqkv.weight"].T
        if not hp["no_bias"]:
            qkv = qkv + W[p + "attn.Wqkv.bias"]
        if hp["clip"]:
            qkv = np.clip(qkv, -hp["clip"], hp["clip"])
        q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]
        if hp["qk_ln"]:
            q = layer_norm(q, W[p + "attn.q_ln.weight"], get(p + "attn.q_ln.bias"), eps)
            k = layer_norm(k, W[p + "attn.k_ln.weight"], get(p + "attn.k_ln.bias"), eps)
        q, k, v = (t.reshape(n, H, hd) for t in (q, k, v))
        s = np.einsum("ihd,jhd->hij", q, k) * hp["scale"] + alibi
        s = np.where(causal[None], -np.inf, s)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        prob = e / e.sum(axis=-1, keepdims=True)
        ctx = np.einsum("hij,jhd->ihd", prob, v).reshape(n, d)
        o = ctx @ W[p + "attn.out_proj.weight"].T
        if not hp["no_bias"]:
            o = o + W[p + "attn.out_proj.bias"]
        x = x + o
        m = layer_norm(x, W[p + "norm_2.weight"], get(p + "norm_2.bias"), eps)
        u = m @ W[p + "ffn.up_proj.weight"].T
        if not hp["no_bias"]:
            u = u + W[p + "ffn.up_proj.bias"]
        y = gelu(u) @ W[p + "ffn.down_proj.weight"].T
        if not hp["no_bias"]:
            y = y + W[p + "ffn.down_proj.bias"]
        x = x + y
    x = layer_norm(x, W["norm_f.weight"], get("norm_f.bias"), eps)
    logits = x @ (W["wte.weight"] if hp["tied"] else W["lm_head.weight"]).T
    if hp["logit_scale"] is not None:
        logits = logits * hp["logit_scale"]
    return logits


def gelu_ggml(x):
    """llama.cpp's MPT GELU: tanh approximation through ggml's fp16 table (bloom_ref)."""
    return bloom_ref.gelu_ggml_table(x)


if __name__ == "__main__":
    import family_ref
    sys.exit(family_ref.main(sys.argv[1:], forward, GENERATOR, gelu_ggml))
