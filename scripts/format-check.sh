#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/format-check.sh - every C file is formatted by .clang-format
# (clang-format 14, style.md 2.9). Prints the files that are not.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is missing (make deps)"; exit 1; }
bad=0
for f in $(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c'); do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=1
    fi
done
[ "$bad" = 0 ] && echo "formatting: every file matches .clang-format"
exit "$bad"
