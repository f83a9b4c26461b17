#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# spdx.py - every source, build and script file of the repository names its
# licence in an SPDX line within its first three lines (style.md 2.7).
# Data (tests/data, fuzz corpora, lock files, JSON, WebAssembly binaries,
# images) and prose (Markdown) are exempt. Run by the style/spdx test; with
# --fix, adds the line in the comment syntax of each file.
import os
import subprocess
import sys

TAG = "SPDX-License-Identifier: MIT"
EXEMPT_DIRS = ("tests/data/", "tests/fuzz/corpus/")
EXEMPT_EXT = (".md", ".json", ".wasm", ".bin", ".png", ".lock", ".txt.in")
# comment syntax by extension or file name: (prefix, suffix)
HASH = ("# ", "")
STYLE = {
    ".c": ("/* ", " */"), ".h": ("/* ", " */"), ".py": HASH, ".sh": HASH, ".cmake": HASH,
    ".sql": ("-- ", ""), ".lua": ("-- ", ""), ".wat": (";; ", ""), ".js": ("// ", ""),
    ".mjs": ("// ", ""), ".ts": ("// ", ""), ".css": ("/* ", " */"), ".svg": ("<!-- ", " -->"),
    ".html": ("<!-- ", " -->"), ".dict": HASH, ".supp": HASH, ".toml": HASH, ".yml": HASH,
    ".service": HASH, ".rs": ("// ", ""), ".wast": (";; ", ""),
}
NAMES = {"CMakeLists.txt": HASH, "Makefile": HASH, ".gitignore": HASH, ".editorconfig": HASH,
         ".clang-format": HASH, "run": HASH}


def style_of(path):
    base = os.path.basename(path)
    if base in NAMES:
        return NAMES[base]
    return STYLE.get(os.path.splitext(base)[1])


def wanted(path):
    if path.startswith(EXEMPT_DIRS) or path.endswith(EXEMPT_EXT):
        return False
    if "package-lock" in path or "/node_modules/" in path:
        return False
    return style_of(path) is not None


def has_tag(path):
    with open(path, "rb") as f:
        head = f.read(600).decode("utf-8", "replace").splitlines()[:3]
    return any(TAG in line for line in head)


def fix(path):
    pre, post = style_of(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if pre == "/* " and lines and lines[0].startswith("/*") and not lines[0].rstrip().endswith("*/"):
        first = lines[0][2:].strip()
        lines[0:1] = ["/* " + TAG, " *"] + ([" * " + first] if first else [])
    else:
        at = 1 if lines and (lines[0].startswith("#!") or lines[0].startswith("<?xml")) else 0
        lines.insert(at, pre + TAG + post)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True,
                           check=True).stdout.split()
    missing = [p for p in files if wanted(p) and os.path.exists(os.path.join(root, p))
               and not has_tag(os.path.join(root, p))]
    if "--fix" in sys.argv:
        for p in missing:
            fix(os.path.join(root, p))
        print(f"spdx: added the SPDX line to {len(missing)} file(s)")
        return 0
    for p in missing:
        print(f"{p}: no '{TAG}' line in its first three lines (style.md 2.7)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
