#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/wasm/native.sh - the native tier's code against gcc -O2, the interpreter and node,
# in one run (issue 16), then what producing that code costs.
#
# usage: bench/wasm/native.sh [BUILD_DIR]        (default build/release)
#   env REPS=N      best of N calls (default 3)
#   env GUESTS=".." the guests (default: every bench/wasm guest)
#
# Table 1, run() alone, best of REPS: native (gcc -O2 of the guest's C), sealrun's
# interpreter with fuel (limit 1e15), node (V8), wasm2c + gcc -O2 of the module as is (no
# fuel), and of the module rewritten by sr_wasm_fuel_instrument() (fuel on) with wasm2c's
# guard pages (w2cf) or with bounds checks (w2cfb, -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0).
# Every checksum must equal the native one and the fuel the rewritten module used must
# equal the interpreter's, or the row is marked.
#
# Table 2, per guest: the module's size, and the wall time of the rewrite, of wasm2c and of
# gcc -O2 / -O1 -shared -fPIC on wasm2c's output (the code the native tier would cache),
# per KB of the original module; their sum is what a first job waits for when it compiles.
# Needs: cmake --build BUILD_DIR --target bench_wasm.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
dir=$build/bench/wasm
reps=${REPS:-3}
guests=${GUESTS:-"fib sieve sha256 matmul nbody interp sha256_32m nbody_5e5"}
[ -x "$dir/wasm_bench" ] || { echo "native.sh: $dir/wasm_bench missing: build bench_wasm" >&2; exit 2; }
[ -x "$dir/w2cf_fib" ] || { echo "native.sh: $dir/w2cf_fib missing (wasm2c and its runtime sources?)" >&2; exit 2; }

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
now() { date +%s%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

stats=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$stats" "$work"' EXIT

printf '| guest | native ms | interp ms (x) | node ms (x) | wasm2c no fuel ms (x) | wasm2c+fuel guard pages ms (x) | wasm2c+fuel bounds checks ms (x) | fuel used |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for g in $guests; do
    nat=$("$dir/native_$g" "$reps")
    want=$(echo "$nat" | field result)
    t_nat=$(echo "$nat" | field best_ms)
    bad=""
    it=$("$dir/wasm_bench" --fuel 1000000000000000 --reps "$reps" "$dir/$g.wasm")
    [ "$(echo "$it" | field result)" = "$want" ] || bad="$bad interp-result"
    fuel=$(echo "$it" | field fuel_used)
    t_node=NA
    if command -v node >/dev/null; then
        nd=$(node "$root/bench/wasm/run_node.mjs" "$dir/$g.wasm" "$((reps + 2))")
        [ "$(echo "$nd" | field result)" = "$want" ] || bad="$bad node-result"
        t_node=$(echo "$nd" | field best_ms)
    fi
    w2=$("$dir/w2c_$g" "$reps")
    [ "$(echo "$w2" | field result)" = "$want" ] || bad="$bad w2c-result"
    times=""
    for v in w2cf w2cfb; do
        o=$("$dir/${v}_$g" "$reps")
        [ "$(echo "$o" | field result)" = "$want" ] || bad="$bad $v-result"
        [ "$(echo "$o" | field fuel_used)" = "$fuel" ] || bad="$bad $v-fuel=$(echo "$o" | field fuel_used)"
        times="$times $(echo "$o" | field best_ms)"
    done
    set -- $times
    echo "$g $t_nat $(echo "$it" | field best_ms) $t_node $(echo "$w2" | field best_ms) $1 $2" >>"$stats"
    awk -v g="$g" -v n="$t_nat" -v i="$(echo "$it" | field best_ms)" -v nd="$t_node" \
        -v w="$(echo "$w2" | field best_ms)" -v f="$1" -v fb="$2" -v fuel="$fuel" -v bad="$bad" '
        function cell(t) { return t == "NA" ? "n/a" : sprintf("%.1f (%.2f)", t, t / n) }
        BEGIN { printf "| %s%s | %.1f | %s | %s | %s | %s | %s | %s |\n", g,
                bad == "" ? "" : " **" bad "**", n, cell(i), cell(nd), cell(w), cell(f), cell(fb), fuel }'
done
awk '
    function gm(s, k) { return k ? exp(s / k) : 0 }
    { k++; li += log($3 / $2); lw += log($5 / $2); lf += log($6 / $2); lb += log($7 / $2)
      if ($4 != "NA") { kn++; ln_ += log($4 / $2) } }
    END { printf "| **geomean** | 1 | %.2f | %s | %.2f | %.2f | %.2f | |\n", gm(li, k),
          kn ? sprintf("%.2f", gm(ln_, kn)) : "n/a", gm(lw, k), gm(lf, k), gm(lb, k) }' "$stats"

echo
printf '| guest | module KB | rewritten KB | rewrite ms | wasm2c ms | cc -O2 ms | cc -O1 ms | -O2 path ms per KB |\n'
printf '|---|---|---|---|---|---|---|---|\n'
rt_inc=/usr/include
for g in $guests; do
    kb=$(awk -v b="$(stat -c %s "$dir/$g.wasm")" 'BEGIN { printf "%.1f", b / 1024 }')
    s=$(now); "$dir/fuel_rewrite" "$dir/$g.wasm" "$work/$g.wasm" 1000000000000000; t_rw=$(ms_since "$s")
    fkb=$(awk -v b="$(stat -c %s "$work/$g.wasm")" 'BEGIN { printf "%.1f", b / 1024 }')
    s=$(now); wasm2c "$work/$g.wasm" -n "$g" -o "$work/$g.c"; t_w2c=$(ms_since "$s")
    s=$(now); cc -O2 -shared -fPIC -w -I"$rt_inc" "$work/$g.c" -o "$work/$g.O2.so"; t_o2=$(ms_since "$s")
    s=$(now); cc -O1 -shared -fPIC -w -I"$rt_inc" "$work/$g.c" -o "$work/$g.O1.so"; t_o1=$(ms_since "$s")
    awk -v g="$g" -v kb="$kb" -v fkb="$fkb" -v rw="$t_rw" -v w="$t_w2c" -v o2="$t_o2" -v o1="$t_o1" \
        'BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s | %.1f |\n", g, kb, fkb, rw, w, o2, o1,
                 (rw + w + o2) / kb }'
done
