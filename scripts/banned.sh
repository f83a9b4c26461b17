#!/usr/bin/env bash
# scripts/banned.sh - style.md 2.6: functions banned in sealrun's C code.
# Prints each use and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|alloca)[[:space:]]*\('
hits=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'bench/*.c' |
       xargs grep -nE "$pattern" | grep -vE '\b(snprintf|vsnprintf)' || true)
if [ -n "$hits" ]; then
    echo "banned functions (style.md 2.6):"
    echo "$hits"
    exit 1
fi
echo "banned functions: none"
