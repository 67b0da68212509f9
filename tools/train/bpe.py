#!/usr/bin/python3
"""Byte-level BPE in BLOOM's tokenizer.json layout: trainer and exact encoder.

Training (deterministic, no randomness):
  * the training text is pre-tokenized exactly as BLOOM's pre-tokenizer does
    (Split with the Oniguruma regex below, behavior Isolated, then ByteLevel
    without prefix space and without the GPT-2 regex);
  * every distinct piece is mapped to byte-level characters and counted;
  * merges are learned greedily: the most frequent adjacent pair wins, ties go
    to the lexicographically smallest pair (a, b); repeated until the vocabulary
    (4 special tokens + 256 byte characters + merged tokens) holds --vocab ids.

Encoding (must equal Hugging Face tokenizers on the written tokenizer.json):
  1. added tokens (<unk>, <s>, </s>, <pad>; normalized=false) are split out of
     the raw text first, leftmost-longest;
  2. each remaining segment is split by PRETOKEN_RE into matches and the gaps
     between them (both kept, in order: Split behavior "Isolated");
  3. each piece is mapped byte by byte to the GPT-2 byte-level alphabet;
  4. BPE: repeatedly merge the adjacent pair with the lowest merge rank, ties to
     the leftmost position.

The Oniguruma class `[^(\\s|[.,!?…。，、।۔،])]` is a single negated class that
excludes '(', ')', '|', Unicode whitespace (Oniguruma's \\s: U+0009-U+000D,
U+0085 and the categories Zs, Zl, Zp) and . , ! ? … 。 ， 、 । ۔ ،.
Python's `\\s` differs (it also matches U+001C-U+001F), so the class is spelled
out explicitly below.

Usage: bpe.py [--train build/brown/train.txt] [--vocab 4096] [--out models/brown-bloom/tokenizer.json]
"""
import argparse
import collections
import heapq
import json
import os
import re
import sys
import unicodedata

SPLIT_REGEX = " ?[^(\\s|[.,!?…。，、।۔،])]+"
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def _onig_whitespace():
    """Oniguruma's Unicode \\s: U+0009-U+000D, U+0085, and Zs/Zl/Zp."""
    cps = set(range(0x09, 0x0E)) | {0x85}
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)) in ("Zs", "Zl", "Zp"):
            cps.add(cp)
    return sorted(cps)


def _class_escape(cps):
    return "".join("\\U%08x" % cp for cp in cps)


_WS = _onig_whitespace()
_EXCLUDED = [ord(c) for c in "()|.,!?…。，、।۔،"] + _WS
PRETOKEN_RE = re.compile(" ?[^" + _class_escape(sorted(set(_EXCLUDED))) + "]+")


def bytes_to_unicode():
    """GPT-2 byte -> char map used by the ByteLevel pre-tokenizer/decoder."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def split_pieces(text):
    """Split behavior Isolated: matches and the gaps between them, in order."""
    out = []
    pos = 0
    for m in PRETOKEN_RE.finditer(text):
        if m.start() > pos:
            out.append(text[pos:m.start()])
        out.append(m.group(0))
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def to_byte_level(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


def train(text, vocab_size, log=print):
    counts = collections.Counter()
    for piece in split_pieces(text):
        counts[to_byte_level(piece)] += 1
    alphabet = [BYTE_TO_CHAR[b] for b in range(256)]
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    words = [list(w) for w in sorted(counts)]
    freqs = [counts["".join(w)] for w in words]
    pair_counts = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for wi, w in enumerate(words):
        f = freqs[wi]
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += f
            where[(a, b)].add(wi)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(vocab) < vocab_size and heap:
        negc, pair = heapq.heappop(heap)
        cur = pair_counts.get(pair, 0)
        if cur <= 0:
            continue
        if -negc != cur:
            heapq.heappush(heap, (-cur, pair))
            continue
        a, b = pair
        new = a + b
        merges.append(pair)
        if new not in vocab:
            vocab[new] = len(vocab)
        changed = collections.defaultdict(int)
        for wi in sorted(where.pop(pair, ())):
            w = words[wi]
            f = freqs[wi]
            for x, y in zip(w, w[1:]):
                changed[(x, y)] -= f
            nw = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    nw.append(new)
                    i += 2
                else:
                    nw.append(w[i])
                    i += 1
            words[wi] = nw
            for x, y in zip(nw, nw[1:]):
                changed[(x, y)] += f
                where[(x, y)].add(wi)
        for p, d in changed.items():
            if d == 0:
                continue
            pair_counts[p] += d
            if pair_counts[p] > 0 and p != pair:
                heapq.heappush(heap, (-pair_counts[p], p))
        pair_counts.pop(pair, None)
        if len(merges) % 500 == 0:
            log(f"bpe: {len(merges)} merges, vocab {len(vocab)}, last {a!r}+{b!r} x{cur}")
    return vocab, merges


class Encoder:
    """Exact re-implementation of HF tokenizers' encode for this tokenizer.json."""

    def __init__(self, tokenizer_json):
        model = tokenizer_json["model"]
        self.vocab = dict(model["vocab"])
        self.ranks = {}
        for rank, m in enumerate(model["merges"]):
            a, b = m.split(" ") if isinstance(m, str) else m
            if (a, b) not in self.ranks:
                self.ranks[(a, b)] = rank
        self.added = {t["content"]: t["id"] for t in tokenizer_json["added_tokens"]}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        for t, i in self.added.items():
            self.id_to_token[i] = t
        self.cache = {}

    def bpe(self, word):
        ids = self.cache.get(word)
        if ids is not None:
            return ids
        syms = list(word)
        ranks = self.ranks
        while len(syms) > 1:
            best = None
            best_i = -1
            for i in range(len(syms) - 1):
                r = ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, best_i = r, i
            if best is None:
                break
            syms[best_i:best_i + 2] = [syms[best_i] + syms[best_i + 1]]
        ids = [self.vocab[s] for s in syms]
        self.cache[word] = ids
        return ids

    def _segments(self, text):
        """Split out added tokens (leftmost-longest); yield (is_added, str)."""
        if not self.added:
            yield False, text
            return
        pat = re.compile("|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True)))
        pos = 0
        for m in pat.finditer(text):
            if m.start() > pos:
                yield False, text[pos:m.start()]
            yield True, m.group(0)
            pos = m.end()
        if pos < len(text):
            yield False, text[pos:]

    def encode(self, text):
        out = []
        for is_added, seg in self._segments(text):
            if is_added:
                out.append(self.added[seg])
                continue
            for piece in split_pieces(seg):
                out.extend(self.bpe(to_byte_level(piece)))
        return out

    def decode_bytes(self, ids):
        out = bytearray()
        for i in ids:
            tok = self.id_to_token[i]
            if tok in self.added:
                out.extend(tok.encode("utf-8"))
            else:
                out.extend(CHAR_TO_BYTE[c] for c in tok)
        return bytes(out)

    def decode(self, ids):
        return self.decode_bytes(ids).decode("utf-8", errors="replace")


def tokenizer_json(vocab, merges):
    added = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, t in enumerate(SPECIALS)
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": SPLIT_REGEX}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": [a + " " + b for a, b in merges],
        },
    }


def load(path):
    with open(path, encoding="utf-8") as f:
        return Encoder(json.load(f))


def encode_main(argv):
    """bpe.py encode --tokenizer T --json F: F holds a JSON list of strings; prints a
    JSON list with the id list of each string."""
    ap = argparse.ArgumentParser(prog="bpe.py encode")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    enc = load(args.tokenizer)
    with open(args.json, encoding="utf-8") as f:
        items = json.load(f)
    json.dump([enc.encode(t) for t in items], sys.stdout)
    sys.stdout.write("\n")
    return 0


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "encode":
        return encode_main(argv[1:])
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description="train a byte-level BPE in BLOOM's tokenizer.json layout")
    ap.add_argument("--train", default=os.path.join(root, "build", "brown", "train.txt"))
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--out", default=os.path.join(root, "models", "brown-bloom", "tokenizer.json"))
    args = ap.parse_args(argv)
    with open(args.train, encoding="utf-8") as f:
        text = f.read()
    vocab, merges = train(text, args.vocab)
    tj = tokenizer_json(vocab, merges)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(tj, f, ensure_ascii=False, indent=2)
        f.write("\n")
    enc = Encoder(tj)
    ids = enc.encode(text)
    assert enc.decode_bytes(ids) == text.encode("utf-8"), "bpe: round trip failed"
    nbytes = len(text.encode("utf-8"))
    print(f"bpe: vocab {len(vocab)}, {len(merges)} merges, train {len(ids)} tokens, "
          f"{nbytes / len(ids):.3f} bytes/token -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
