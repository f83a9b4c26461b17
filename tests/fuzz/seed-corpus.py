#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seed-corpus.py - seed corpus/<target>/ from the spec suite's .wasm files.

usage: tests/fuzz/seed-corpus.py BUILD_DIR   (e.g. build/asan, after a build)

Takes a fixed-seed sample of the binary modules wast2json wrote under
BUILD_DIR/tests/spec/json (at most 3 per spec file, each <= 4 KiB), and for
wasm_parse adds truncations and single-bit flips of some of them. Files are
named by their SHA-1, as libFuzzer names its own finds, so re-running adds
nothing twice. Deterministic: the same suite gives the same corpus.
"""
import hashlib
import os
import random
import sys


def put(dirname, data):
    os.makedirs(dirname, exist_ok=True)
    path = os.path.join(dirname, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: seed-corpus.py BUILD_DIR")
    root = os.path.join(sys.argv[1], "tests", "spec", "json")
    if not os.path.isdir(root):
        sys.exit(f"seed-corpus: {root} not found: build the spec suite first")
    here = os.path.dirname(os.path.abspath(__file__))
    rng = random.Random(20261121)
    picked = []
    for spec in sorted(os.listdir(root)):
        d = os.path.join(root, spec)
        files = sorted(f for f in os.listdir(d) if f.endswith(".wasm"))
        files = [f for f in files if os.path.getsize(os.path.join(d, f)) <= 4096]
        rng.shuffle(files)
        for f in files[:3]:
            with open(os.path.join(d, f), "rb") as fh:
                picked.append(fh.read())
    parse_dir = os.path.join(here, "corpus", "wasm_parse")
    run_dir = os.path.join(here, "corpus", "wasm_run")
    for data in picked:
        put(parse_dir, data)
        put(run_dir, data)
    for data in rng.sample(picked, min(80, len(picked))):
        if len(data) > 9:
            put(parse_dir, data[: rng.randrange(8, len(data))])
    for data in rng.sample(picked, min(120, len(picked))):
        if len(data) > 8:
            b = bytearray(data)
            i = rng.randrange(8, len(b))
            b[i] ^= 1 << rng.randrange(8)
            put(parse_dir if rng.random() < 0.5 else run_dir, bytes(b))
    print(f"seed-corpus: {len(picked)} modules sampled into {parse_dir} and {run_dir}")


if __name__ == "__main__":
    main()
