#!/usr/bin/python3
"""Self-tests for tools/train (run: /usr/bin/python3 tools/train/test_train.py).

Fast (a few seconds): checks the torch BLOOM forward against an independent,
position-by-position reference that follows HF's BloomAttention literally (key-position
ALiBi `+m*j`, finfo.min causal mask, fused QKV viewed as [H][3][d]), the safetensors
writer against the format rules, the ALiBi slopes against the reference values, the
pre-tokenizer split against hand-checked Oniguruma results, and the evaluation
definition's token count.
"""
import json
import math
import os
import struct
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from bloom import Bloom, alibi_slopes, evaluate, gelu_tanh, gelu_tanh_reference, read_safetensors, write_safetensors  # noqa: E402


def reference_forward(sd, cfg, ids):
    """Literal BLOOM forward for one sequence, float64, no batching tricks."""
    h, H = cfg["hidden_size"], cfg["n_head"]
    d = h // H
    eps = cfg["layer_norm_epsilon"]
    sd = {k: v.double() for k, v in sd.items()}

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * sd[p + ".weight"] + sd[p + ".bias"]

    T = len(ids)
    x = ln(sd["word_embeddings.weight"][ids], "word_embeddings_layernorm")
    slopes = torch.tensor(alibi_slopes(H), dtype=torch.float64)
    for layer in range(cfg["n_layer"]):
        p = f"h.{layer}."
        a = ln(x, p + "input_layernorm")
        qkv = a @ sd[p + "self_attention.query_key_value.weight"].T + sd[p + "self_attention.query_key_value.bias"]
        ctx = torch.zeros(T, h, dtype=torch.float64)
        for head in range(H):
            base = head * 3 * d  # rows of head `head`: q at base, k at base+d, v at base+2d
            q = qkv[:, base:base + d]
            k = qkv[:, base + d:base + 2 * d]
            v = qkv[:, base + 2 * d:base + 3 * d]
            for i in range(T):
                s = torch.full((T,), torch.finfo(torch.float64).min, dtype=torch.float64)
                for j in range(i + 1):
                    s[j] = slopes[head] * j + (q[i] @ k[j]) / math.sqrt(d)
                pr = torch.softmax(s, 0)
                ctx[i, head * d:(head + 1) * d] = pr @ v
        x = x + ctx @ sd[p + "self_attention.dense.weight"].T + sd[p + "self_attention.dense.bias"]
        m = ln(x, p + "post_attention_layernorm")
        u = m @ sd[p + "mlp.dense_h_to_4h.weight"].T + sd[p + "mlp.dense_h_to_4h.bias"]
        u = gelu_tanh_reference(u)
        x = x + u @ sd[p + "mlp.dense_4h_to_h.weight"].T + sd[p + "mlp.dense_4h_to_h.bias"]
    x = ln(x, "ln_f")
    return x @ sd["word_embeddings.weight"].T


class TestBloom(unittest.TestCase):
    def small(self, heads=4):
        torch.manual_seed(0)
        m = Bloom(50, 24, 2, heads)
        m.init_weights(std=0.3)
        with torch.no_grad():  # non-trivial biases and norms so every term is exercised
            for name, p in m.named_parameters():
                if "bias" in name or "layernorm" in name or "ln_f" in name:
                    p.add_(0.1 * torch.randn_like(p))
        return m

    def test_forward_matches_reference(self):
        for heads in (4, 6):  # 6 is not a power of two: interleaved slopes
            m = self.small(heads)
            m.eval()
            ids = [3, 17, 5, 5, 42, 0, 9, 31, 8, 2, 44]
            got = m(torch.tensor([ids]))[0].double()
            want = reference_forward(m.state_dict(), {**m.cfg}, ids)
            self.assertLess((got - want).abs().max().item(), 1e-4, f"heads={heads}")

    def test_state_dict_names(self):
        names = set(self.small().state_dict())
        want = {"word_embeddings.weight", "word_embeddings_layernorm.weight", "word_embeddings_layernorm.bias",
                "ln_f.weight", "ln_f.bias"}
        for i in range(2):
            for n in ("input_layernorm", "self_attention.query_key_value", "self_attention.dense",
                      "post_attention_layernorm", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"):
                want |= {f"h.{i}.{n}.weight", f"h.{i}.{n}.bias"}
        self.assertEqual(names, want)

    def test_slopes(self):
        self.assertEqual(alibi_slopes(8), [2.0 ** -k for k in range(1, 9)])
        s12 = alibi_slopes(12)
        self.assertEqual(s12[:8], [2.0 ** -k for k in range(1, 9)])
        for got, want in zip(s12[8:], (0.707107, 0.353553, 0.176777, 0.088388)):
            self.assertAlmostEqual(got, want, places=6)

    def test_gelu(self):
        x = torch.linspace(-6, 6, 1001)
        self.assertLess((gelu_tanh(x) - gelu_tanh_reference(x)).abs().max().item(), 1e-6)

    def test_safetensors_layout(self):
        m = self.small()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.safetensors")
            write_safetensors(path, m.state_dict(), "F16")
            with open(path, "rb") as f:
                raw = f.read()
            (n,) = struct.unpack("<Q", raw[:8])
            self.assertEqual(n % 8, 0)
            header = json.loads(raw[8:8 + n])
            self.assertEqual(header["__metadata__"], {"format": "pt"})
            end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
            self.assertEqual(len(raw), 8 + n + end)
            back = read_safetensors(path)
            for k, v in m.state_dict().items():
                self.assertEqual(header[k]["dtype"], "F16")
                self.assertTrue(torch.equal(back[k], v.half().float()), k)

    def test_eval_definition(self):
        m = self.small()
        ids = list(range(1, 40)) + [7]  # 40 tokens
        r = evaluate(m, ids, n_bytes=100, context=16)
        # windows 16, 16, 8 -> 15 + 15 + 7 predicted tokens
        self.assertEqual(r["tokens"], 37)
        # by hand: sum of window losses
        total = 0.0
        for s in range(0, 40, 16):
            w = torch.tensor([ids[s:s + 16]])
            lp = torch.log_softmax(m(w)[0].double(), -1)
            total -= sum(lp[i - 1, w[0, i]].item() for i in range(1, w.shape[1]))
        self.assertAlmostEqual(r["loss"], total / 37, places=9)
        self.assertAlmostEqual(r["bits_per_byte"], total / math.log(2) / 100, places=9)


class TestPretokenizer(unittest.TestCase):
    def test_split(self):
        cases = {
            "Hello, world.": ["Hello", ",", " world", "."],
            "a  b": ["a", " ", " b"],
            "a   b": ["a", "  ", " b"],
            "(x) y|z": ["(", "x", ")", " y", "|", "z"],
            "end.\n\nNew": ["end", ".\n\n", "New"],
            "fs\u001cgs": ["fs\u001cgs"],           # U+001C is not Oniguruma whitespace
            "a\u00a0b": ["a", "\u00a0", "b"],        # NBSP is (Zs)
            "x\u2028y": ["x", "\u2028", "y"],        # LINE SEPARATOR is (Zl)
            "a\u200bb": ["a\u200bb"],                # ZWSP is not whitespace
            "hi…。ok": ["hi", "…。", "ok"],
            "": [],
        }
        for text, want in cases.items():
            self.assertEqual(bpe.split_pieces(text), want, repr(text))

    def test_byte_level_roundtrip(self):
        self.assertEqual(len(set(bpe.BYTE_TO_CHAR.values())), 256)
        self.assertEqual(bpe.BYTE_TO_CHAR[ord(" ")], "\u0120")
        self.assertEqual(bpe.BYTE_TO_CHAR[ord("\n")], "\u010a")

    def test_train_tiny(self):
        text = "low lower lowest low low newer newest\n" * 5
        vocab, merges = bpe.train(text, 4 + 256 + 10, log=lambda *a: None)
        enc = bpe.Encoder(bpe.tokenizer_json(vocab, merges))
        for s in (text, "lowest newer <s>x</s>", "ünïcode 🙂"):
            self.assertEqual(enc.decode_bytes(enc.encode(s)), s.encode("utf-8"))
        self.assertEqual(enc.encode("<s>"), [1])
        self.assertLess(len(enc.encode("low lower")), len("low lower".encode()))


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main()
