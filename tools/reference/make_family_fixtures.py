#!/usr/bin/python3
"""Builds small, seeded checkpoints of the non-BLOOM ALiBi families in their real Hugging Face
layouts (config keys and tensor names as published), for engine tests:

  engine/testdata/<family>-<name>/ config.json, tokenizer.json, model.safetensors, fixture.json

then the family's numpy reference (mpt_ref.py, falcon_ref.py, jais_ref.py, ...) writes
reference.json. Layouts (see shared/reference/alibi-models.md §2 and each *_ref.py docstring):

  mpt       transformer.wte, transformer.blocks.N.{norm_1, attn.Wqkv, attn.q_ln, attn.k_ln,
            attn.out_proj, norm_2, ffn.up_proj, ffn.down_proj}, transformer.norm_f [lm_head]
  falcon    transformer.word_embeddings, transformer.h.N.{input_layernorm,
            self_attention.query_key_value ([H][3][d] interleave), self_attention.dense,
            post_attention_layernorm, mlp.dense_h_to_4h, mlp.dense_4h_to_h}, transformer.ln_f
  jais/btlm transformer.wte, transformer.h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc,
            mlp.c_fc2, mlp.c_proj} (GPT-2 Conv1D weights stored [in, out]), transformer.ln_f,
            transformer.relative_pe.slopes [H, 1]

Tokenizer: GPT-2 style byte-level BPE (ByteLevel pre-tokenizer with the GPT-2 regex), 40 merges
trained on make_fixtures.CORPUS; MPT's carries GPT-NeoX's <|endoftext|>=0, <|padding|>=1 and NFC
normalizer, the others GPT-2's <|endoftext|> after the merges.

Weights: numpy default_rng(seed), as make_fixtures.py (linear ~ N(0, 1/in), biases ~ N(0, 0.05^2),
norm gains 1 + N(0, 0.1^2), embeddings ~ N(0, 1), output projections x OUT_GAIN); a seed is
accepted when the numpy greedy continuation (32 steps) keeps a top-1/top-2 gap >= MIN_MARGIN and
>= MIN_DISTINCT distinct tokens.

Usage: /usr/bin/python3 tools/reference/make_family_fixtures.py [OUT_ROOT] [--only PREFIX]
"""
import json
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (corpus, prompt, safetensors writer, dtype encoders)
import baichuan_ref  # noqa: E402
import falcon_ref  # noqa: E402
import jais_ref  # noqa: E402
import mpt_ref  # noqa: E402

MIN_MARGIN = 0.08
MIN_DISTINCT = 6
OUT_GAIN = 6.0
GREEDY_STEPS = 32
N_MERGES = 40

# GPT-2's pre-tokenizer regex; the corpus and prompt are ASCII, where \p{L} = [A-Za-z], \p{N} = [0-9].
GPT2_REGEX = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def pre_split(text):
    return ["".join(mf.B2U[b] for b in m.group(0).encode("utf-8")) for m in GPT2_REGEX.finditer(text)]


def train_bpe(text, n_merges):
    return mf.train_bpe(text, n_merges, split=pre_split)


def bpe_encode(text, vocab, merges):
    rank = {m: i for i, m in enumerate(merges)}
    ids = []
    for w in pre_split(text):
        parts = list(w)
        while len(parts) > 1:
            r, i = min((rank.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:])))
            if r == 1 << 30:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        ids.extend(vocab[p] for p in parts)
    return ids


def make_spm_tokenizer():
    """Baichuan-13B ships a SentencePiece tokenizer.model (BPE, byte fallback, identity normalization):
    one is trained here with the real SentencePiece trainer (Debian python3-sentencepiece)."""
    import io
    import sentencepiece as spm
    import make_spm_fixtures
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([l for l in make_spm_fixtures.CORPUS.split("\n") if l.strip()]), model_writer=model,
        vocab_size=400, model_type="bpe", byte_fallback=True, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=False, character_coverage=1.0, num_threads=1,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, hard_vocab_limit=False, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    return model.getvalue(), sp


def make_tokenizer(style):
    """style "neox" (MPT) or "gpt2" (Falcon-RW, Jais, BTLM): (tokenizer.json dict, vocab, merges, specials)."""
    merges = train_bpe(mf.CORPUS, N_MERGES)
    vocab = {}
    head = ["<|endoftext|>", "<|padding|>"] if style == "neox" else []
    for s in head:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[mf.B2U[b]] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    tail = ["<|endoftext|>"] if style == "gpt2" else []
    for s in tail:
        vocab[s] = len(vocab)
    specials = head + tail
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for s in specials],
        "normalizer": {"type": "NFC"} if style == "neox" else None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {s: vocab[s] for s in vocab if s not in specials},
                  "merges": ["%s %s" % m for m in merges]},
    }
    return tok, vocab, merges


# ---------------------------------------------------------------- MPT

def mpt_config(fx, V):
    h, H, L = fx["hidden"], fx["heads"], fx["layers"]
    ac = {"alibi": True, "alibi_bias_max": fx.get("alibi_bias_max", 8), "attn_impl": "torch",
          "attn_pdrop": 0.0, "attn_type": "multihead_attention", "attn_uses_sequence_id": False,
          "clip_qkv": fx.get("clip_qkv"), "prefix_lm": False, "qk_ln": fx.get("qk_ln", False),
          "softmax_scale": fx.get("softmax_scale")}
    cfg = {"architectures": ["MPTForCausalLM"], "attn_config": ac, "d_model": h, "emb_pdrop": 0.0,
           "embedding_fraction": 1.0, "expansion_ratio": fx.get("expansion_ratio", 4), "init_device": "cpu",
           "learned_pos_emb": True, "logit_scale": fx.get("logit_scale"), "max_seq_len": 2048,
           "model_type": "mpt", "n_heads": H, "n_layers": L, "no_bias": fx.get("no_bias", True),
           "norm_type": "low_precision_layernorm", "resid_pdrop": 0.0, "torch_dtype": mf_torch_dtype(fx),
           "transformers_version": "4.44.0", "use_cache": False, "vocab_size": V}
    if not fx.get("tied", True):
        cfg["tie_word_embeddings"] = False
    return cfg


def mpt_shapes(cfg):
    h, L, V = cfg["d_model"], cfg["n_layers"], cfg["vocab_size"]
    ff = int(h * cfg.get("expansion_ratio", 4))
    nb = cfg.get("no_bias", True)
    qk = cfg["attn_config"].get("qk_ln", False)
    s = {"transformer.wte.weight": (V, h), "transformer.norm_f.weight": (h,)}
    if not nb:
        s["transformer.norm_f.bias"] = (h,)
    if not cfg.get("tie_word_embeddings", True):
        s["lm_head.weight"] = (V, h)
    for l in range(L):
        p = "transformer.blocks.%d." % l
        s.update({p + "norm_1.weight": (h,), p + "attn.Wqkv.weight": (3 * h, h), p + "attn.out_proj.weight": (h, h),
                  p + "norm_2.weight": (h,), p + "ffn.up_proj.weight": (ff, h), p + "ffn.down_proj.weight": (h, ff)})
        if qk:
            s.update({p + "attn.q_ln.weight": (h,), p + "attn.k_ln.weight": (h,)})
        if not nb:
            s.update({p + "norm_1.bias": (h,), p + "norm_2.bias": (h,), p + "attn.Wqkv.bias": (3 * h,),
                      p + "attn.out_proj.bias": (h,), p + "ffn.up_proj.bias": (ff,), p + "ffn.down_proj.bias": (h,)})
            if qk:
                s.update({p + "attn.q_ln.bias": (h,), p + "attn.k_ln.bias": (h,)})
    return s


def mpt_init(name, shape, rng):
    if name.endswith("wte.weight"):
        return rng.normal(0.0, 1.0, shape)
    if name == "lm_head.weight":
        return rng.normal(0.0, 3.0, shape)
    if len(shape) == 1 and (".norm_" in name or "norm_f" in name or "_ln." in name) and name.endswith(".weight"):
        return 1.0 + rng.normal(0.0, 0.1, shape)
    if name.endswith(".bias"):
        return rng.normal(0.0, 0.05, shape)
    w = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
    if name.endswith("out_proj.weight") or name.endswith("down_proj.weight"):
        w *= OUT_GAIN
    return w


# ---------------------------------------------------------------- Falcon-RW

def falcon_config(fx, V):
    h, H, L = fx["hidden"], fx["heads"], fx["layers"]
    if fx.get("rw"):
        # the original custom-code config of tiiuae/falcon-rw-1b (RWForCausalLM)
        cfg = {"alibi": True, "apply_residual_connection_post_layernorm": False, "architectures": ["RWForCausalLM"],
               "attention_dropout": 0.0, "bias": fx.get("bias", True), "bos_token_id": 1, "eos_token_id": 2,
               "hidden_dropout": 0.0, "hidden_size": h, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
               "model_type": "RefinedWebModel", "multi_query": False, "n_head": H, "n_layer": L,
               "parallel_attn": False, "torch_dtype": mf_torch_dtype(fx), "transformers_version": "4.27.4",
               "use_cache": True, "vocab_size": V}
    else:
        # the same model as transformers' FalconConfig (convert_custom_code_checkpoint.py names)
        cfg = {"activation": "gelu", "alibi": True, "architectures": ["FalconForCausalLM"], "attention_dropout": 0.0,
               "bias": fx.get("bias", True), "bos_token_id": 1, "eos_token_id": 2, "hidden_dropout": 0.0,
               "hidden_size": h, "initializer_range": 0.02, "layer_norm_epsilon": fx.get("eps", 1e-05),
               "max_position_embeddings": 2048, "model_type": "falcon", "multi_query": False,
               "new_decoder_architecture": False, "num_attention_heads": H, "num_hidden_layers": L,
               "num_kv_heads": H, "parallel_attn": False, "torch_dtype": mf_torch_dtype(fx),
               "transformers_version": "4.44.0", "use_cache": True, "vocab_size": V}
        if fx.get("ffn"):
            cfg["ffn_hidden_size"] = fx["ffn"]
    return cfg


def falcon_shapes(cfg):
    h = cfg["hidden_size"]
    L = cfg.get("num_hidden_layers", cfg.get("n_layer"))
    V = cfg["vocab_size"]
    ff = cfg.get("ffn_hidden_size") or 4 * h
    s = {"transformer.word_embeddings.weight": (V, h), "transformer.ln_f.weight": (h,), "transformer.ln_f.bias": (h,)}
    for l in range(L):
        p = "transformer.h.%d." % l
        s.update({p + "input_layernorm.weight": (h,), p + "input_layernorm.bias": (h,),
                  p + "self_attention.query_key_value.weight": (3 * h, h), p + "self_attention.dense.weight": (h, h),
                  p + "post_attention_layernorm.weight": (h,), p + "post_attention_layernorm.bias": (h,),
                  p + "mlp.dense_h_to_4h.weight": (ff, h), p + "mlp.dense_4h_to_h.weight": (h, ff)})
        if cfg.get("bias"):
            s.update({p + "self_attention.query_key_value.bias": (3 * h,), p + "self_attention.dense.bias": (h,),
                      p + "mlp.dense_h_to_4h.bias": (ff,), p + "mlp.dense_4h_to_h.bias": (h,)})
    return s


def falcon_init(name, shape, rng):
    if name.endswith("word_embeddings.weight"):
        return rng.normal(0.0, 1.0, shape)
    if "layernorm.weight" in name or name.endswith("ln_f.weight"):
        return 1.0 + rng.normal(0.0, 0.1, shape)
    if name.endswith(".bias"):
        return rng.normal(0.0, 0.05, shape)
    w = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
    if name.endswith("self_attention.dense.weight") or name.endswith("dense_4h_to_h.weight"):
        w *= OUT_GAIN
    return w


# ---------------------------------------------------------------- Jais / BTLM

def jais_config(fx, V):
    h, H, L = fx["hidden"], fx["heads"], fx["layers"]
    btlm = fx["family"] == "btlm"
    cfg = {"activation_function": "swiglu", "attn_pdrop": 0.0, "bos_token_id": V - 1 if not btlm else 50256 % V,
           "embd_pdrop": 0.0, "eos_token_id": V - 1 if not btlm else 50256 % V, "initializer_range": 0.02,
           "layer_norm_epsilon": 1e-05, "n_embd": h, "n_head": H, "n_inner": fx.get("ffn", 4 * h), "n_layer": L,
           "n_positions": fx.get("n_positions", 2048), "position_embedding_type": "alibi", "resid_pdrop": 0.0,
           "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True, "torch_dtype": mf_torch_dtype(fx),
           "transformers_version": "4.28.0", "use_cache": True, "vocab_size": V}
    if btlm:
        cfg.update({"architectures": ["BTLMLMHeadModel"], "model_type": "btlm",
                    "auto_map": {"AutoConfig": "cerebras/btlm-3b-8k-base--configuration_btlm.BTLMConfig",
                                 "AutoModelForCausalLM": "cerebras/btlm-3b-8k-base--modeling_btlm.BTLMLMHeadModel"}})
    else:
        cfg.update({"architectures": ["JAISLMHeadModel"], "model_type": "jais",
                    "auto_map": {"AutoConfig": "configuration_jais.JAISConfig",
                                 "AutoModelForCausalLM": "modeling_jais.JAISLMHeadModel"}})
    if fx.get("newkeys"):
        cfg.update({"embeddings_scale": fx["emb"], "width_scale": fx["width"], "scale_qk_dot_by_d": True})
    else:
        cfg.update({"mup_embeddings_scale": fx["emb"], "mup_output_alpha": fx["alpha"], "mup_width_scale": fx["width"],
                    "mup_scale_qk_dot_by_d": fx.get("by_d", True)})
    if not fx.get("tied", True):
        cfg["tie_word_embeddings"] = False
    return cfg


def jais_shapes(cfg):
    h, L, V, ff = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_inner"]
    s = {"transformer.wte.weight": (V, h), "transformer.ln_f.weight": (h,), "transformer.ln_f.bias": (h,),
         "transformer.relative_pe.slopes": (cfg["n_head"], 1)}
    if not cfg.get("tie_word_embeddings", True):
        s["lm_head.weight"] = (V, h)
    for l in range(L):
        p = "transformer.h.%d." % l
        s.update({p + "ln_1.weight": (h,), p + "ln_1.bias": (h,), p + "attn.c_attn.weight": (h, 3 * h),
                  p + "attn.c_attn.bias": (3 * h,), p + "attn.c_proj.weight": (h, h), p + "attn.c_proj.bias": (h,),
                  p + "ln_2.weight": (h,), p + "ln_2.bias": (h,), p + "mlp.c_fc.weight": (h, ff),
                  p + "mlp.c_fc.bias": (ff,), p + "mlp.c_fc2.weight": (h, ff), p + "mlp.c_fc2.bias": (ff,),
                  p + "mlp.c_proj.weight": (ff, h), p + "mlp.c_proj.bias": (h,)})
    return s


def jais_init_for(fx):
    H = fx["heads"]

    def init(name, shape, rng):
        if name.endswith("relative_pe.slopes"):
            s = np.asarray(jais_ref.get_slopes(H)).reshape(H, 1)
            if fx.get("odd_slopes"):
                # stored slopes that no formula gives: the engine must read them from the checkpoint
                s = s * rng.uniform(0.5, 1.5, (H, 1))
            return s
        if name.endswith("wte.weight"):
            return rng.normal(0.0, 1.0, shape)
        if name == "lm_head.weight":
            return rng.normal(0.0, 1.0, shape)
        if ".ln_" in name and name.endswith(".weight") or name.endswith("ln_f.weight"):
            return 1.0 + rng.normal(0.0, 0.1, shape)
        if name.endswith(".bias"):
            return rng.normal(0.0, 0.05, shape)
        # Conv1D weights are [in, out]
        w = rng.normal(0.0, 1.0 / math.sqrt(shape[0]), shape)
        if name.endswith("attn.c_proj.weight") or name.endswith("mlp.c_proj.weight"):
            w *= OUT_GAIN
        return w
    return init


def jais_extra(fx, cfg):
    """GPT-2's non-persistent-in-new-versions buffers, as older checkpoints carry them."""
    if not fx.get("buffers"):
        return []
    P = cfg["n_positions"]
    tril = np.tril(np.ones((P, P), dtype=np.uint8)).reshape(1, 1, P, P)
    items = []
    for l in range(cfg["n_layer"]):
        p = "transformer.h.%d." % l
        items.append((p + "attn.bias", "BOOL", (1, 1, P, P), tril.tobytes()))
        items.append((p + "attn.masked_bias", "F32", (), np.asarray(-1e4, dtype="<f4").tobytes()))
    return items


# ---------------------------------------------------------------- Baichuan-13B

def baichuan_config(fx, V):
    h, H, L = fx["hidden"], fx["heads"], fx["layers"]
    return {"architectures": ["BaichuanForCausalLM"], "auto_map": {
                "AutoConfig": "configuration_baichuan.BaichuanConfig",
                "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"},
            "bos_token_id": 1, "eos_token_id": 2, "gradient_checkpointing": False, "hidden_act": "silu",
            "hidden_size": h, "initializer_range": 0.02, "intermediate_size": fx["ffn"],
            "model_max_length": 4096, "model_type": "baichuan", "num_attention_heads": H, "num_hidden_layers": L,
            "pad_token_id": 0, "rms_norm_eps": 1e-06, "tie_word_embeddings": False,
            "torch_dtype": mf_torch_dtype(fx), "transformers_version": "4.29.2", "use_cache": True, "vocab_size": V}


def baichuan_shapes(cfg):
    h, L, V, ff = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    s = {"model.embed_tokens.weight": (V, h), "model.norm.weight": (h,), "lm_head.weight": (V, h)}
    for l in range(L):
        p = "model.layers.%d." % l
        s.update({p + "input_layernorm.weight": (h,), p + "self_attn.W_pack.weight": (3 * h, h),
                  p + "self_attn.o_proj.weight": (h, h), p + "post_attention_layernorm.weight": (h,),
                  p + "mlp.gate_proj.weight": (ff, h), p + "mlp.up_proj.weight": (ff, h),
                  p + "mlp.down_proj.weight": (h, ff)})
    return s


def baichuan_init_for(fx):
    gain = fx.get("out_gain", OUT_GAIN)

    def init(name, shape, rng):
        w = baichuan_init(name, shape, rng)
        if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
            w *= gain / OUT_GAIN
        return w
    return init


def baichuan_init(name, shape, rng):
    if name.endswith("embed_tokens.weight") or name == "lm_head.weight":
        return rng.normal(0.0, 1.0, shape)
    if len(shape) == 1:
        return 1.0 + rng.normal(0.0, 0.1, shape)
    w = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
    if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
        w *= OUT_GAIN
    return w


FAMILIES = {
    "baichuan": dict(tokenizer="spm", config=baichuan_config, shapes=baichuan_shapes, init=None,
                     forward=baichuan_ref.forward, ref="baichuan_ref.py"),
    "jais": dict(tokenizer="gpt2", config=jais_config, shapes=jais_shapes, init=None, forward=jais_ref.forward,
                 ref="jais_ref.py"),
    "btlm": dict(tokenizer="gpt2", config=jais_config, shapes=jais_shapes, init=None, forward=jais_ref.forward,
                 ref="jais_ref.py"),
    "falcon": dict(tokenizer="gpt2", config=falcon_config, shapes=falcon_shapes, init=falcon_init,
                   forward=falcon_ref.forward, ref="falcon_ref.py"),
    "mpt": dict(tokenizer="neox", config=mpt_config, shapes=mpt_shapes, init=mpt_init, forward=mpt_ref.forward,
                ref="mpt_ref.py"),
}

FIXTURES = [
    dict(family="baichuan", name="f32-h4-l2", dtype="F32", heads=4, hidden=32, layers=2, ffn=88),
    dict(family="baichuan", name="f16-h5-l2", dtype="F16", heads=5, hidden=40, layers=2, ffn=104),
    # llama.cpp runs Baichuan with ALiBi only for 40-layer (13B) models
    dict(family="baichuan", name="f16-h4-l40", dtype="F16", heads=4, hidden=32, layers=40, ffn=64, out_gain=1.0),
    dict(family="jais", name="f32-h4-l2", dtype="F32", heads=4, hidden=32, layers=2, emb=1.5, alpha=4.0, width=0.5),
    dict(family="jais", name="f16-h6-newkeys", dtype="F16", heads=6, hidden=48, layers=2, newkeys=True, emb=2.0,
         width=1.5, ffn=88),
    dict(family="jais", name="f32-h5-buffers", dtype="F32", heads=5, hidden=40, layers=2, emb=1.0, alpha=2.0,
         width=1.0, buffers=True, n_positions=64),
    dict(family="btlm", name="bf16-h12-untied", dtype="BF16", heads=12, hidden=48, layers=2, emb=1.2, alpha=1.5,
         width=1.0, tied=False, odd_slopes=True, ffn=128, vocab=320),
    dict(family="falcon", name="f32-h4-rw", dtype="F32", heads=4, hidden=32, layers=2, rw=True),
    dict(family="falcon", name="f16-h6-nobias", dtype="F16", heads=6, hidden=48, layers=2, bias=False),
    dict(family="falcon", name="bf16-h12-ffn", dtype="BF16", heads=12, hidden=48, layers=2, ffn=96, vocab=320),
    dict(family="mpt", name="f32-h4-l2", dtype="F32", heads=4, hidden=32, layers=2),
    dict(family="mpt", name="f16-h6-clip", dtype="F16", heads=6, hidden=48, layers=2, clip_qkv=1.5),
    dict(family="mpt", name="f16-h6-qkln", dtype="F16", heads=6, hidden=48, layers=2, qk_ln=True, clip_qkv=1.5),
    dict(family="mpt", name="bf16-h12-bias", dtype="BF16", heads=12, hidden=48, layers=2, no_bias=False,
         alibi_bias_max=16, vocab=320),
    dict(family="mpt", name="f32-h5-scales", dtype="F32", heads=5, hidden=40, layers=2, tied=False,
         logit_scale="inv_sqrt_d_model", softmax_scale=0.3, expansion_ratio=3),
]


def mf_torch_dtype(fx):
    return {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[fx["dtype"]]


def strip(name):
    for p in ("transformer.", "model."):
        if name.startswith(p):
            return name[len(p):]
    return name


def greedy_check(forward, cfg, W, ids):
    seq, toks, margin = list(ids), [], float("inf")
    for _ in range(GREEDY_STEPS):
        lg = forward(cfg, W, seq)[-1]
        o = np.argsort(-lg)
        margin = min(margin, float(lg[o[0]] - lg[o[1]]))
        if margin < MIN_MARGIN or np.abs(lg).max() >= 60:
            return None
        toks.append(int(o[0]))
        seq.append(int(o[0]))
    if len(set(toks)) < MIN_DISTINCT:
        return None
    return toks, margin


def build(fx, root, toks_by_style):
    fam = FAMILIES[fx["family"]]
    if fam["tokenizer"] == "spm":
        spm_model, sp = toks_by_style["spm"]
        tok = None
        ids = sp.encode(mf.PROMPT)
        tok_vocab = sp.get_piece_size()
    else:
        tok, vocab, merges = toks_by_style[fam["tokenizer"]]
        ids = bpe_encode(mf.PROMPT, vocab, merges)
        tok_vocab = len(vocab)
    V = fx.get("vocab", tok_vocab)
    cfg = fam["config"](fx, V)
    shapes = fam["shapes"](cfg)
    full = fx["family"] + "-" + fx["name"]
    seed = 5000 + sum(ord(c) for c in full) * 7
    for attempt in range(400):
        rng = np.random.default_rng(seed + attempt)
        W, raw, stored = {}, {}, {}
        for k in sorted(shapes):
            init = fam["init"] or (baichuan_init_for(fx) if fx["family"] == "baichuan" else jais_init_for(fx))
            W[k] = init(k, shapes[k], rng)
            raw[k], stored[strip(k)] = mf.encode(W[k], fx["dtype"])
        ok = greedy_check(fam["forward"], cfg, stored, ids)
        if ok is not None:
            toks, margin = ok
            break
    else:
        raise SystemExit("make_family_fixtures: no seed with margin >= %g for %s" % (MIN_MARGIN, full))
    d = os.path.join(root, full)
    os.makedirs(d, exist_ok=True)
    items = [(k, fx["dtype"], shapes[k], raw[k]) for k in sorted(shapes)]
    if fx["family"] in ("jais", "btlm"):
        items += jais_extra(fx, cfg)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(mf.safetensors_bytes(items))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    if tok is not None:
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, indent=1, ensure_ascii=False)
            f.write("\n")
    else:
        for fn in ("tokenizer.json",):
            if os.path.exists(os.path.join(d, fn)):
                os.remove(os.path.join(d, fn))
        with open(os.path.join(d, "tokenizer.model"), "wb") as f:
            f.write(spm_model)
        # BaichuanTokenizer-style tokenizer_config.json (no BOS added: the fixture ids have none)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"add_bos_token": False, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                       "model_max_length": 4096, "tokenizer_class": "BaichuanTokenizer", "unk_token": "<unk>",
                       "pad_token": "<unk>"}, f, indent=2)
            f.write("\n")
    with open(os.path.join(d, "fixture.json"), "w") as f:
        json.dump({"generator": "tools/reference/make_family_fixtures.py", "family": fx["family"],
                   "reference": "tools/reference/" + fam["ref"], "seed": seed + attempt, "dtype": fx["dtype"],
                   "heads": fx["heads"], "hidden": fx["hidden"], "layers": fx["layers"], "vocab_size": V,
                   "tokenizer_vocab": tok_vocab, "prompt": mf.PROMPT, "ids": ids,
                   "greedy_steps": GREEDY_STEPS, "min_margin": margin}, f, indent=1)
        f.write("\n")
    print("%s: seed %d (attempt %d), %d bytes, greedy min margin %.3f, %d distinct tokens" % (
        full, seed + attempt, attempt, os.path.getsize(os.path.join(d, "model.safetensors")), margin, len(set(toks))))


def main(argv):
    only = None
    if "--only" in argv:
        i = argv.index("--only")
        only = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    root = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "engine", "testdata")
    root = os.path.normpath(root)
    toks = {s: make_tokenizer(s) for s in ("neox", "gpt2")}
    if any(FAMILIES[fx["family"]]["tokenizer"] == "spm" and (not only or (fx["family"] + "-" + fx["name"]).startswith(only))
           for fx in FIXTURES):
        toks["spm"] = make_spm_tokenizer()
    for fx in FIXTURES:
        if only and not (fx["family"] + "-" + fx["name"]).startswith(only):
            continue
        build(fx, root, toks)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
