#!/usr/bin/python3
"""Plot validation bits per byte against evaluation context length as a hand-written SVG.

Reads the JSON written by `train.py eval` (models/brown-bloom/eval.json) and writes
models/brown-bloom/bpb-vs-context.svg. The x axis is log2(context); a dashed line marks
the training context and a dotted line the +5% bound relative to the figure at the
training context. No plotting library is used.

Usage: plot.py [--eval models/brown-bloom/eval.json] [--out models/brown-bloom/bpb-vs-context.svg]
"""
import argparse
import json
import math
import os
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def nice_ticks(lo, hi, n=5):
    span = hi - lo
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def render(results, train_ctx, title):
    W, H = 640, 400
    ml, mr, mt, mb = 70, 30, 50, 60
    pw, ph = W - ml - mr, H - mt - mb
    ctx = [r["context"] for r in results]
    bpb = [r["bits_per_byte"] for r in results]
    pred = [r["bits_per_byte_predicted"] for r in results if "bits_per_byte_predicted" in r]
    if len(pred) != len(bpb):
        pred = []
    base = next((r["bits_per_byte"] for r in results if r["context"] == train_ctx), bpb[0])
    limit = base * 1.05
    ylo = min(bpb + pred + [base]) - 0.05
    yhi = max(bpb + pred + [limit]) + 0.05
    xlo, xhi = math.log2(min(ctx)) - 0.3, math.log2(max(ctx)) + 0.3

    def X(c):
        return ml + (math.log2(c) - xlo) / (xhi - xlo) * pw

    def Y(v):
        return mt + (1 - (v - ylo) / (yhi - ylo)) * ph

    o = []
    o.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'font-family="sans-serif" font-size="12">')
    o.append(f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>')
    o.append(f'<text x="{W / 2:.1f}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>')
    # grid and y ticks
    for t in nice_ticks(ylo, yhi):
        y = Y(t)
        o.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{ml + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        o.append(f'<text x="{ml - 8}" y="{y + 4:.1f}" text-anchor="end">{t:.2f}</text>')
    for c in ctx:
        x = X(c)
        o.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{mt + ph}" stroke="#f0f0f0"/>')
        o.append(f'<text x="{x:.1f}" y="{mt + ph + 18}" text-anchor="middle">{c}</text>')
    # axes
    o.append(f'<line x1="{ml}" y1="{mt + ph}" x2="{ml + pw}" y2="{mt + ph}" stroke="#333"/>')
    o.append(f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{mt + ph}" stroke="#333"/>')
    o.append(f'<text x="{ml + pw / 2:.1f}" y="{H - 15}" text-anchor="middle">evaluation context (tokens, log scale)</text>')
    o.append(f'<text x="18" y="{mt + ph / 2:.1f}" text-anchor="middle" '
             f'transform="rotate(-90 18 {mt + ph / 2:.1f})">validation bits per byte</text>')
    # training context and +5% bound
    xt = X(train_ctx)
    o.append(f'<line x1="{xt:.1f}" y1="{mt}" x2="{xt:.1f}" y2="{mt + ph}" stroke="#888" stroke-dasharray="6 4"/>')
    o.append(f'<text x="{xt + 6:.1f}" y="{mt + 14}" fill="#555">training context {train_ctx}</text>')
    yl = Y(limit)
    o.append(f'<line x1="{ml}" y1="{yl:.1f}" x2="{ml + pw}" y2="{yl:.1f}" stroke="#c0392b" stroke-dasharray="2 3"/>')
    o.append(f'<text x="{ml + pw - 4}" y="{yl - 6:.1f}" text-anchor="end" fill="#c0392b">+5% of the {train_ctx}-token figure ({limit:.3f})</text>')
    # series: supplementary per-predicted-byte figures (EVAL.md), then the contract figure
    if pred:
        pts = " ".join(f"{X(c):.1f},{Y(v):.1f}" for c, v in zip(ctx, pred))
        o.append(f'<polyline points="{pts}" fill="none" stroke="#999" stroke-width="1.5" stroke-dasharray="5 3"/>')
        for c, v in zip(ctx, pred):
            o.append(f'<circle cx="{X(c):.1f}" cy="{Y(v):.1f}" r="3" fill="#999"/>')
            o.append(f'<text x="{X(c):.1f}" y="{Y(v) - 9:.1f}" text-anchor="middle" fill="#777">{v:.3f}</text>')
        lx, ly = ml + 12, mt + ph - 34
        o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="#1f77b4" stroke-width="2"/>')
        o.append(f'<text x="{lx + 30}" y="{ly + 4}">bits/byte (nats over all text bytes, EVAL.md)</text>')
        o.append(f'<line x1="{lx}" y1="{ly + 18}" x2="{lx + 24}" y2="{ly + 18}" stroke="#999" stroke-width="1.5" stroke-dasharray="5 3"/>')
        o.append(f'<text x="{lx + 30}" y="{ly + 22}" fill="#555">per byte of predicted tokens only</text>')
    pts = " ".join(f"{X(c):.1f},{Y(v):.1f}" for c, v in zip(ctx, bpb))
    o.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for c, v in zip(ctx, bpb):
        o.append(f'<circle cx="{X(c):.1f}" cy="{Y(v):.1f}" r="4" fill="#1f77b4"/>')
        o.append(f'<text x="{X(c):.1f}" y="{Y(v) + 20:.1f}" text-anchor="middle" fill="#1f77b4">{v:.3f}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eval", default=os.path.join(ROOT, "models", "brown-bloom", "eval.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "brown-bloom", "bpb-vs-context.svg"))
    ap.add_argument("--train-context", type=int, default=0, help="default: seq_length from the model's config.json")
    args = ap.parse_args(argv)
    with open(args.eval) as f:
        ev = json.load(f)
    results = sorted(ev["results"], key=lambda r: r["context"])
    if not results:
        print("plot: no results", file=sys.stderr)
        return 1
    train_ctx = args.train_context
    if not train_ctx:
        with open(os.path.join(os.path.dirname(args.eval), "config.json")) as f:
            train_ctx = json.load(f).get("seq_length", results[0]["context"])
    title = "brown-bloom: validation bits/byte vs context (ALiBi, trained at %d)" % train_ctx
    svg = render(results, train_ctx, title)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(svg)
    print(f"plot: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
