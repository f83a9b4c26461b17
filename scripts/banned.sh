#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/banned.sh - style.md 2.6: functions banned in sealrun's C code.
# Prints each use and exits 1 if there is any. Also refused:
#  - jansson's own readers and writers (json_load*, json_dump*) in src/
#    outside src/lib/core/json.c: every JSON text goes through sr_json_parse()
#    (strict: no duplicate keys, no number RFC 8785 cannot hash exactly) and
#    sr_json_dumps() (numbers in their RFC 8785 form), sr_json.h;
#  - sr_err_set(X, ..., X->msg) (or &e with e.msg) in src/, include/ and
#    bench/: formatting an error's message into itself; add context with
#    sr_err_wrap() instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|alloca)[[:space:]]*\('
hits=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'bench/*.c' |
       xargs grep -nE "$pattern" | grep -vE '\b(snprintf|vsnprintf)' || true)
if [ -n "$hits" ]; then
    echo "banned functions (style.md 2.6):"
    echo "$hits"
    bad=1
fi
json_hits=$(git ls-files 'src/*.c' 'src/*.h' | grep -v '^src/lib/core/json\.c$' |
            xargs grep -nE '\bjson_(loads|loadb|loadf|loadfd|load_file|load_callback|dumps|dumpb|dumpf|dumpfd|dump_file|dump_callback)[[:space:]]*\(' || true)
if [ -n "$json_hits" ]; then
    echo "jansson's readers and writers outside src/lib/core/json.c (use sr_json_parse and sr_json_dumps):"
    echo "$json_hits"
    bad=1
fi
# (not in tests/: tests/unit/core_err_test.c does it on purpose, to show it is safe)
alias_hits=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'bench/*.c' | python3 -c '
import re, sys

def split_args(call):
    """Top-level arguments of a call, string literals kept whole."""
    args, cur, depth, i = [], "", 0, 0
    while i < len(call):
        c = call[i]
        if c == "\"":
            j = i + 1
            while j < len(call) and call[j] != "\"":
                j += 2 if call[j] == "\\" else 1
            cur += call[i:j + 1]
            i = j + 1
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    args.append(cur.strip())
    return args

for path in sys.stdin.read().split():
    text = open(path, encoding="utf-8", errors="replace").read()
    for m in re.finditer(r"\bsr_err_set\s*\(", text):
        i, depth = m.end(), 1
        while depth and i < len(text):
            if text[i] == "\"":
                i += 1
                while i < len(text) and text[i] != "\"":
                    i += 2 if text[i] == "\\" else 1
            elif text[i] == "(":
                depth += 1
            elif text[i] == ")":
                depth -= 1
            i += 1
        args = split_args(text[m.end():i - 1])
        first = args[0]
        msg = (re.escape(first[1:]) + r"\s*\.\s*msg") if first.startswith("&") \
            else (re.escape(first) + r"\s*->\s*msg")
        if any(re.search(r"(?<![\w.>])" + msg + r"\b", a) for a in args[1:]):
            line = text.count("\n", 0, m.start()) + 1
            print(f"{path}:{line}: sr_err_set({first}, ...) formats {first.lstrip(chr(38))}'"'"'s own message")
')
if [ -n "$alias_hits" ]; then
    echo "sr_err_set with the same error's message as an argument (use sr_err_wrap):"
    echo "$alias_hits"
    bad=1
fi
[ "$bad" = 0 ] && echo "banned functions: none"
exit "$bad"
