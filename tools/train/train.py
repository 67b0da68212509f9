#!/usr/bin/python3
"""Train the bundled BLOOM model on the Brown corpus and write models/brown-bloom/.

Subcommands:
  train   train from scratch (seeded), write config.json, model.safetensors (F16),
          tokenizer_config.json, generation_config.json into --out
  eval    evaluate --model on a text file at several contexts (EVAL.md), write JSON
  sample  greedy and sampled continuations of a few prompts (torch, for the model card)
  loopcheck  repeated-4-gram rate of continuations under several sampling settings
  bench   measure training throughput (tokens/s) for a few steps

The learning-rate schedule is a function of tokens seen (linear warmup, then cosine
to 10%), never of wall time, so a run is reproducible on a busy machine: the data
order depends only on --seed and the epoch, and dropout is reseeded every step.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from bloom import Bloom, evaluate, load_hf_dir, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.path.join(ROOT, "build", "brown")
MODEL_DIR = os.path.join(ROOT, "models", "brown-bloom")


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def encode_file(enc, path, tokenizer_path):
    """Token ids of a whole text file, cached in build/brown/ as .npy keyed by the
    SHA-256 of the tokenizer.json and of the text."""
    with open(path, "rb") as f:
        data = f.read()
    with open(tokenizer_path, "rb") as f:
        key = hashlib.sha256(f.read() + b"\0" + data).hexdigest()[:16]
    cache = os.path.join(BUILD, f"ids-{os.path.basename(path)}-{key}.npy")
    if os.path.exists(cache):
        return np.load(cache)
    ids = np.array(enc.encode(data.decode("utf-8")), dtype=np.int32)
    np.save(cache, ids)
    return ids


def lr_at(tokens, total, peak, warmup, floor=0.1):
    if tokens < warmup:
        return peak * tokens / warmup
    t = min(1.0, (tokens - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def batches(stream, seq, batch, seed):
    """Infinite deterministic batches [batch, seq+1]: every epoch the stream is cut at a
    random offset into non-overlapping chunks of seq+1 tokens, shuffled."""
    n = len(stream)
    epoch = 0
    while True:
        g = np.random.default_rng([seed, epoch])
        off = int(g.integers(0, seq))
        starts = np.arange(off, n - seq - 1, seq)
        g.shuffle(starts)
        for s in range(0, len(starts) - batch + 1, batch):
            idx = starts[s:s + batch, None] + np.arange(seq + 1)[None, :]
            yield epoch, torch.from_numpy(stream[idx].astype(np.int64))
        epoch += 1


def build_model(args, vocab):
    torch.manual_seed(args.seed)
    m = Bloom(vocab, args.hidden, args.layers, args.heads, 1e-5, args.dropout)
    m.init_weights()
    return m


def param_count(m):
    return sum(p.numel() for p in m.parameters())


def make_optimizer(model, args):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "layernorm" in name or name.startswith("ln_f") else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=args.lr, betas=(0.9, 0.95), eps=1e-8)


def write_hf_dir(model, args, out, tokens_seen, wall):
    os.makedirs(out, exist_ok=True)
    tok_out = os.path.join(out, "tokenizer.json")
    if os.path.abspath(args.tokenizer) != os.path.abspath(tok_out):
        shutil.copyfile(args.tokenizer, tok_out)
    cfg = {
        "architectures": ["BloomForCausalLM"],
        "model_type": "bloom",
        "vocab_size": model.cfg["vocab_size"],
        "hidden_size": model.cfg["hidden_size"],
        "n_layer": model.cfg["n_layer"],
        "n_head": model.cfg["n_head"],
        "layer_norm_epsilon": model.cfg["layer_norm_epsilon"],
        "initializer_range": 0.02,
        "apply_residual_connection_post_layernorm": False,
        "hidden_dropout": args.dropout,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 3,
        "unk_token_id": 0,
        "seq_length": args.seq,
        "use_cache": True,
        "torch_dtype": "float16",
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), model.state_dict(), "F16")
    tcfg = {
        "tokenizer_class": "BloomTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "padding_side": "left",
        "model_max_length": 1024,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tcfg, f, indent=2)
        f.write("\n")
    gcfg = {
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 3,
        "do_sample": True,
        "temperature": args.gen_temperature,
        "top_p": args.gen_top_p,
        "repetition_penalty": args.gen_repetition_penalty,
        "max_new_tokens": 128,
    }
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gcfg, f, indent=2)
        f.write("\n")
    summary = os.path.join(BUILD, "train-summary.json")
    if os.path.abspath(out) != os.path.abspath(MODEL_DIR):
        summary = os.path.join(out, "train-summary.json")  # keep the bundled model's summary
    with open(summary, "w") as f:
        json.dump({"params": param_count(model), "tokens_seen": tokens_seen, "wall_seconds": wall,
                   "args": vars(args)}, f, indent=2)
        f.write("\n")


def cmd_train(args):
    torch.set_num_threads(args.threads)
    enc = bpe.load(args.tokenizer)
    vocab = len(enc.vocab)
    train_ids = encode_file(enc, os.path.join(BUILD, "train.txt"), args.tokenizer)
    with open(os.path.join(BUILD, "valid.txt"), encoding="utf-8") as f:
        vtext = f.read()
    valid_ids = enc.encode(vtext)
    vbytes = len(vtext.encode("utf-8"))
    model = build_model(args, vocab)
    log(f"train: {param_count(model)} params, {len(train_ids)} train tokens, {len(valid_ids)} valid tokens, "
        f"budget {args.tokens} tokens ({args.tokens / len(train_ids):.2f} epochs)")
    opt = make_optimizer(model, args)
    per_step = args.batch * args.seq
    steps = args.tokens // per_step
    it = batches(train_ids, args.seq, args.batch, args.seed)
    t0 = time.time()
    tokens = 0
    ema = None
    for step in range(steps):
        lr = lr_at(tokens, steps * per_step, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        epoch, xb = next(it)
        torch.manual_seed(args.seed * 1000003 + step)  # dropout masks depend on the step only
        model.train()
        logits = model(xb[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += per_step
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % args.log_every == 0 or step == steps - 1:
            el = time.time() - t0
            log(f"step {step}/{steps} epoch {epoch} tokens {tokens} lr {lr:.2e} loss {loss.item():.4f} "
                f"ema {ema:.4f} {tokens / el:.0f} tok/s elapsed {el / 60:.1f} min")
        if args.eval_every and (step + 1) % args.eval_every == 0 and step != steps - 1:
            r = evaluate(model, valid_ids, vbytes, args.seq)
            log(f"eval step {step + 1} tokens {tokens}: valid loss {r['loss']:.4f} bpb {r['bits_per_byte']:.4f}")
    wall = time.time() - t0
    r = evaluate(model, valid_ids, vbytes, args.seq)
    log(f"final fp32: valid loss {r['loss']:.4f} bpb {r['bits_per_byte']:.4f}; wall {wall / 60:.1f} min")
    write_hf_dir(model, args, args.out, tokens, wall)
    log(f"wrote {args.out}")


def cmd_eval(args):
    torch.set_num_threads(args.threads)
    model, _ = load_hf_dir(args.model)
    enc = bpe.load(os.path.join(args.model, "tokenizer.json"))
    with open(args.text_file, encoding="utf-8") as f:
        text = f.read()
    ids = enc.encode(text)
    nbytes = len(text.encode("utf-8"))
    token_bytes = {i: len(enc.decode_bytes([i])) for i in enc.id_to_token}
    results = []
    for n in args.contexts:
        r = evaluate(model, ids, nbytes, n, token_bytes=token_bytes)
        r["text_tokens"] = len(ids)
        r["text_bytes"] = nbytes
        log(f"eval context {n}: predicted {r['tokens']} loss {r['loss']:.4f} ppl {r['perplexity']:.2f} "
            f"bpb {r['bits_per_byte']:.4f} (over predicted bytes {r['bits_per_byte_predicted']:.4f})")
        results.append(r)
    out = {"model": os.path.relpath(args.model, ROOT), "text_file": os.path.relpath(args.text_file, ROOT),
           "definition": "tools/train/EVAL.md", "weights": "F16 from model.safetensors, computed in float32",
           "results": results}
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    return out


def sample_next(logits, history, temperature, top_p, rep, gen):
    """Repetition penalty (HF/CTRL: positive logits / rep, negative * rep, for every id in
    history), then temperature, then nucleus top-p; temperature 0 = greedy (argmax after
    the penalty)."""
    logits = logits.clone().double()
    if rep != 1.0 and history:
        idx = torch.tensor(sorted(set(history)))
        v = logits[idx]
        logits[idx] = torch.where(v > 0, v / rep, v * rep)
    if temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    sp, si = torch.sort(probs, descending=True)
    cum = torch.cumsum(sp, 0)
    keep = (cum - sp) < top_p
    sp = sp * keep
    sp = sp / sp.sum()
    return int(si[torch.multinomial(sp.float(), 1, generator=gen)])


def generate(model, ids, n, temperature, top_p, rep, seed):
    gen = torch.Generator().manual_seed(seed)
    out = list(ids)
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([out[-1024:]]))[0, -1]
            out.append(sample_next(logits, out, temperature, top_p, rep, gen))
    return out[len(ids):]


def cmd_sample(args):
    torch.set_num_threads(args.threads)
    model, _ = load_hf_dir(args.model)
    enc = bpe.load(os.path.join(args.model, "tokenizer.json"))
    with open(os.path.join(args.model, "generation_config.json")) as f:
        g = json.load(f)
    res = []
    for p in args.prompts:
        ids = enc.encode(p)
        greedy = generate(model, ids, args.n, 0.0, 1.0, 1.0, args.seed)
        greedy_rep = generate(model, ids, args.n, 0.0, 1.0, g["repetition_penalty"], args.seed)
        sampled = generate(model, ids, args.n, g["temperature"], g["top_p"], g["repetition_penalty"], args.seed)
        r = {"prompt": p, "greedy": enc.decode(greedy), "greedy_rep": enc.decode(greedy_rep),
             "sampled": enc.decode(sampled)}
        for k in ("greedy", "greedy_rep", "sampled"):
            print(f"--- {k} | {p!r}\n{p}{r[k]}\n")
        res.append(r)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"settings": {"tokens": args.n, "seed": args.seed, "temperature": g["temperature"],
                                    "top_p": g["top_p"], "repetition_penalty": g["repetition_penalty"]},
                       "samples": res}, f, indent=2, ensure_ascii=False)
            f.write("\n")


def rep_fraction(ids, n=4):
    """1 - distinct n-grams / n-grams: 0 for no repetition, near 1 for a loop."""
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def cmd_loopcheck(args):
    """Measure repetition of continuations under several sampling settings."""
    torch.set_num_threads(args.threads)
    model, _ = load_hf_dir(args.model)
    enc = bpe.load(os.path.join(args.model, "tokenizer.json"))
    rows = []
    for temp, top_p, rep in args.settings:
        fr = []
        for p in args.prompts:
            for seed in range(args.seeds):
                out = generate(model, enc.encode(p), args.n, temp, top_p, rep, seed)
                fr.append(rep_fraction(out))
        row = {"temperature": temp, "top_p": top_p, "repetition_penalty": rep,
               "rep4_mean": sum(fr) / len(fr), "rep4_max": max(fr), "samples": len(fr)}
        log(f"loopcheck T={temp} top_p={top_p} rep={rep}: repeated 4-grams mean {row['rep4_mean']:.3f} "
            f"max {row['rep4_max']:.3f} over {len(fr)} continuations of {args.n} tokens")
        rows.append(row)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(rows, f, indent=2)
            f.write("\n")


def cmd_bench(args):
    torch.set_num_threads(args.threads)
    enc = bpe.load(args.tokenizer)
    model = build_model(args, len(enc.vocab))
    opt = make_optimizer(model, args)
    x = torch.randint(0, len(enc.vocab), (args.batch, args.seq + 1), generator=torch.Generator().manual_seed(0))
    for i in range(args.bench_steps + 1):
        if i == 1:
            t0 = time.time()
        logits = model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    dt = time.time() - t0
    log(f"bench: {param_count(model)} params, {args.bench_steps * args.batch * args.seq / dt:.0f} tok/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--threads", type=int, default=1)

    def model_args(p):
        p.add_argument("--tokenizer", default=os.path.join(MODEL_DIR, "tokenizer.json"))
        p.add_argument("--hidden", type=int, default=256)
        p.add_argument("--layers", type=int, default=4)
        p.add_argument("--heads", type=int, default=8)
        p.add_argument("--seq", type=int, default=128)
        p.add_argument("--batch", type=int, default=16)
        p.add_argument("--lr", type=float, default=2e-3)
        p.add_argument("--warmup", type=int, default=100_000, help="warmup tokens")
        p.add_argument("--weight-decay", type=float, default=0.1)
        p.add_argument("--dropout", type=float, default=0.0)
        p.add_argument("--seed", type=int, default=1234)

    p = sub.add_parser("train")
    common(p)
    model_args(p)
    p.add_argument("--tokens", type=int, default=2_500_000, help="training token budget")
    p.add_argument("--out", default=MODEL_DIR)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--gen-temperature", type=float, default=0.8)
    p.add_argument("--gen-top-p", type=float, default=0.9)
    p.add_argument("--gen-repetition-penalty", type=float, default=1.2)

    p = sub.add_parser("eval")
    common(p)
    p.add_argument("--model", default=MODEL_DIR)
    p.add_argument("--text-file", default=os.path.join(BUILD, "valid.txt"))
    p.add_argument("--contexts", type=lambda s: [int(x) for x in s.split(",")], default=[128, 256, 512, 1024])
    p.add_argument("--json-out", default=os.path.join(MODEL_DIR, "eval.json"))

    p = sub.add_parser("sample")
    common(p)
    p.add_argument("--model", default=MODEL_DIR)
    p.add_argument("--n", type=int, default=48)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json-out", default=os.path.join(BUILD, "samples.json"))
    p.add_argument("--prompts", nargs="*", default=[
        "The jury said", "It was a cold night, and", "The President of the United States",
        "In the first place, the theory"])

    p = sub.add_parser("loopcheck")
    common(p)
    p.add_argument("--model", default=MODEL_DIR)
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--json-out", default=os.path.join(BUILD, "loopcheck.json"))
    p.add_argument("--settings", type=lambda s: [tuple(float(v) for v in x.split(":")) for x in s.split(",")],
                   default=[(0.0, 1.0, 1.0), (0.0, 1.0, 1.2), (0.8, 0.9, 1.0), (0.8, 0.9, 1.1), (0.8, 0.9, 1.2),
                            (0.8, 0.9, 1.3)], help="T:top_p:rep,...")
    p.add_argument("--prompts", nargs="*", default=[
        "The jury said", "It was a cold night, and", "The President of the United States",
        "In the first place, the theory"])

    p = sub.add_parser("bench")
    common(p)
    model_args(p)
    p.add_argument("--bench-steps", type=int, default=5)

    args = ap.parse_args()
    {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample, "loopcheck": cmd_loopcheck,
     "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    main()
