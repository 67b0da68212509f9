#!/usr/bin/python3
"""Writes engine/testdata/alibi-falcon-torch.json: Falcon's ALiBi bias exactly as PyTorch computes it
(transformers modeling_falcon.build_alibi_tensor, copied here as torch code, run on CPU): for head
counts 6 and 32, the bias of key positions 0..299 and a few large ones. engine/falcon_test.go checks
falconKeyBias against it bit for bit. Requires /usr/bin/python3 with torch (Debian python3-torch).
"""
import json
import math
import os
import sys

import torch


def build_alibi_tensor(attention_mask, num_heads, dtype):
    batch_size, seq_length = attention_mask.shape
    closest_power_of_2 = 2 ** math.floor(math.log2(num_heads))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(closest_power_of_2) - 3))), dtype=torch.float32)
    powers = torch.arange(1, 1 + closest_power_of_2, dtype=torch.int32)
    slopes = torch.pow(base, powers)
    if closest_power_of_2 != num_heads:
        extra_base = torch.tensor(2 ** (-(2 ** -(math.log2(2 * closest_power_of_2) - 3))), dtype=torch.float32)
        num_remaining_heads = min(closest_power_of_2, num_heads - closest_power_of_2)
        extra_powers = torch.arange(1, 1 + 2 * num_remaining_heads, 2, dtype=torch.int32)
        slopes = torch.cat([slopes, torch.pow(extra_base, extra_powers)], dim=0)
    arange_tensor = ((attention_mask.cumsum(dim=-1) - 1) * attention_mask)[:, None, :]
    alibi = slopes[..., None].bfloat16() * arange_tensor
    return alibi.reshape(batch_size * num_heads, 1, seq_length).to(dtype)


def main():
    positions = list(range(300)) + [511, 513, 1000, 1023, 2047, 4097, 8191]
    n = max(positions) + 1
    out = {"generator": "tools/reference/falcon_alibi_table.py (torch %s)" % torch.__version__,
           "positions": positions, "heads": {}}
    for H in (6, 32):
        a = build_alibi_tensor(torch.ones((1, n), dtype=torch.long), H, torch.float32).reshape(H, n)
        out["heads"][str(H)] = [[float(a[h, j]) for j in positions] for h in range(H)]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "engine", "testdata",
                        "alibi-falcon-torch.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(os.path.normpath(path))


if __name__ == "__main__":
    sys.exit(main())
