#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/wasm/run.sh - runs every bench/wasm guest natively and in each Wasm
# runtime, in one go, and prints a markdown table of times and ratios.
#
# usage: bench/wasm/run.sh [BUILD_DIR]        (default build/release)
#   env REPS=N         best of N calls for the fast runtimes (default 3)
#   env NO_WASM_INTERP=1  skip wabt's wasm-interp (slow: minutes in total)
#
# Columns: native (gcc -O2), sealrun with fuel on (a finite limit of 1e15),
# sealrun built with SR_WASM_NO_FUEL (no fuel instructions: what metering
# costs), wabt's wasm-interp (one run, whole process), node (V8; the fastest
# of REPS calls after compilation) and wasm2c + gcc -O2. Every time is of
# run() alone unless said otherwise; each runtime's checksum must equal the
# native one, or the row is marked. Needs: cmake --build BUILD_DIR (targets
# bench_wasm).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
dir=$build/bench/wasm
reps=${REPS:-3}
guests="fib sieve sha256 matmul nbody interp"
[ -x "$dir/wasm_bench" ] || { echo "run.sh: $dir/wasm_bench missing: build $build first" >&2; exit 2; }

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
ms_of() { field best_ms; }

printf '| guest | native ms | sealrun fuel ms (x native) | sealrun no-fuel ms (x) | fuel cost | wasm-interp ms (x) | sealrun speedup vs wasm-interp | node ms (x) | wasm2c ms (x) | fuel used |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
stats=$(mktemp)
trap 'rm -f "$stats"' EXIT
for g in $guests; do
    wasm=$dir/$g.wasm
    nat=$("$dir/native_$g" "$reps")
    want=$(echo "$nat" | field result)
    t_nat=$(echo "$nat" | ms_of)
    fuel=$("$dir/wasm_bench" --fuel 1000000000000000 --reps "$reps" "$wasm")
    nofuel=$("$dir/wasm_bench_nofuel" --reps "$reps" "$wasm")
    bad=""
    for out in "$fuel" "$nofuel"; do
        [ "$(echo "$out" | field result)" = "$want" ] || bad="$bad sealrun-result-mismatch"
    done
    t_fuel=$(echo "$fuel" | ms_of)
    t_nofuel=$(echo "$nofuel" | ms_of)
    used=$(echo "$fuel" | field fuel_used)
    t_wi=""
    if [ -z "${NO_WASM_INTERP:-}" ] && command -v wasm-interp >/dev/null; then
        s=$(date +%s%N)
        wi=$(wasm-interp "$wasm" --run-all-exports)
        t_wi=$(( ($(date +%s%N) - s) / 1000 ))
        t_wi=$(awk -v u="$t_wi" 'BEGIN { printf "%.3f", u / 1000 }')
        [ "$(echo "$wi" | sed -n 's/^run() => i64:\([0-9]*\)$/\1/p')" = "$want" ] || bad="$bad wasm-interp-mismatch"
    fi
    t_node=""
    if command -v node >/dev/null; then
        nd=$(node "$root/bench/wasm/run_node.mjs" "$wasm" "$((reps + 2))")
        [ "$(echo "$nd" | field result)" = "$want" ] || bad="$bad node-mismatch"
        t_node=$(echo "$nd" | ms_of)
    fi
    t_w2c=""
    if [ -x "$dir/w2c_$g" ]; then
        w2=$("$dir/w2c_$g" "$reps")
        [ "$(echo "$w2" | field result)" = "$want" ] || bad="$bad wasm2c-mismatch"
        t_w2c=$(echo "$w2" | ms_of)
    fi
    echo "$g $t_nat $t_fuel $t_nofuel ${t_wi:-NA} ${t_node:-NA} ${t_w2c:-NA}" >>"$stats"
    awk -v g="$g" -v n="$t_nat" -v f="$t_fuel" -v nf="$t_nofuel" -v wi="${t_wi:-NA}" \
        -v nd="${t_node:-NA}" -v w2="${t_w2c:-NA}" -v used="$used" -v bad="$bad" '
        function cell(t) { return t == "NA" ? "n/a" : sprintf("%.1f (%.2f)", t, t / n) }
        BEGIN {
            printf "| %s%s | %.1f | %s | %s | %+.1f%% | %s | %s | %s | %s | %s |\n", g,
                   bad == "" ? "" : " **" bad "**", n, cell(f), cell(nf), (f / nf - 1) * 100,
                   cell(wi), wi == "NA" ? "n/a" : sprintf("%.1fx", wi / f), cell(nd), cell(w2), used
        }'
done
awk '
    function gm(sum, k) { return k ? exp(sum / k) : 0 }
    { n++; lf += log($3 / $2); lnf += log($4 / $2); lo += log($3 / $4)
      if ($5 != "NA") { kw++; lw += log($5 / $2); ls += log($5 / $3) }
      if ($6 != "NA") { kn++; ln_ += log($6 / $2) }
      if ($7 != "NA") { k2++; l2 += log($7 / $2) } }
    END {
      printf "| **geomean** | 1 | %.2f | %.2f | %+.1f%% | %s | %s | %s | %s | |\n", gm(lf, n), gm(lnf, n),
             (gm(lo, n) - 1) * 100, kw ? sprintf("%.1f", gm(lw, kw)) : "n/a",
             kw ? sprintf("%.1fx", gm(ls, kw)) : "n/a", kn ? sprintf("%.2f", gm(ln_, kn)) : "n/a",
             k2 ? sprintf("%.2f", gm(l2, k2)) : "n/a"
    }' "$stats"
