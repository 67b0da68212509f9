#!/usr/bin/python3
"""Trains small SentencePiece models with the real SentencePiece trainer and records the real
SentencePiece encoder's output, for tokenizer/sentencepiece_test.go:

  tokenizer/testdata/sentencepiece/<name>/tokenizer.model   (ModelProto, as spm_train writes it)
  tokenizer/testdata/sentencepiece/<name>/encodings.json    [{"text", "ids", "pieces", "decoded"}]

Variants: "bpe" is Llama/Baichuan style (BPE, byte_fallback, identity normalization,
add_dummy_prefix, remove_extra_whitespaces false); "bpe-nodummy" drops the dummy prefix and removes
extra whitespace; "unigram" is a Unigram model with byte fallback; "bpe-nofallback" maps unknown
characters to <unk>.

Requires /usr/bin/python3 with Debian's python3-sentencepiece (0.1.97 here). Deterministic for a
given sentencepiece version (single thread, fixed seed sentences).
Usage: /usr/bin/python3 tools/reference/make_spm_fixtures.py
"""
import io
import json
import os
import sys

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

CORPUS = mf.CORPUS + """
Byte fallback covers what the vocabulary lacks: café, naïve, Ünïcödé, 你好，世界。 数字 12345 and 67.
    Indented lines, tabs\tand  double  spaces stay as they are in the identity normalizer.
The small model reads the text, then looks back.
"""

TEXTS = [
    "The small model reads the text, then looks back.",
    "Hello world",
    " leading space",
    "trailing space ",
    "double  spaces   and\ttabs",
    "line one\nline two\n",
    "café naïve Ünïcödé",
    "你好，世界。",
    "emoji 🙂 and ☃ fall back to bytes",
    "numbers 12345 67.89",
    "ALiBi, BLOOM, MPT!",
    "",
    " ",
    "x",
]

VARIANTS = {
    "bpe": dict(model_type="bpe", byte_fallback=True, add_dummy_prefix=True, remove_extra_whitespaces=False),
    "bpe-nodummy": dict(model_type="bpe", byte_fallback=True, add_dummy_prefix=False, remove_extra_whitespaces=True),
    "unigram": dict(model_type="unigram", byte_fallback=True, add_dummy_prefix=True, remove_extra_whitespaces=False),
    "bpe-nofallback": dict(model_type="bpe", byte_fallback=False, add_dummy_prefix=True, remove_extra_whitespaces=False),
}


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tokenizer", "testdata", "sentencepiece")
    for name, v in VARIANTS.items():
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter([l for l in CORPUS.split("\n") if l.strip()]), model_writer=model,
            vocab_size=400 if v["byte_fallback"] else 140, model_type=v["model_type"],
            byte_fallback=v["byte_fallback"], normalization_rule_name="identity",
            add_dummy_prefix=v["add_dummy_prefix"], remove_extra_whitespaces=v["remove_extra_whitespaces"],
            character_coverage=1.0, num_threads=1, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            user_defined_symbols=["<|sep|>"], hard_vocab_limit=False, minloglevel=2)
        sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "tokenizer.model"), "wb") as f:
            f.write(model.getvalue())
        rows = []
        for t in TEXTS + ["user <|sep|> defined"]:
            ids = sp.encode(t)
            rows.append({"text": t, "ids": ids, "pieces": sp.id_to_piece(ids), "decoded": sp.decode(ids)})
        with open(os.path.join(d, "encodings.json"), "w", encoding="utf-8") as f:
            json.dump({"generator": "tools/reference/make_spm_fixtures.py (sentencepiece %s)" % spm.__version__,
                       "vocab_size": sp.get_piece_size(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(),
                       "unk_id": sp.unk_id(), "encodings": rows}, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print("%s: %d pieces, %d bytes" % (name, sp.get_piece_size(), len(model.getvalue())))


if __name__ == "__main__":
    sys.exit(main())
