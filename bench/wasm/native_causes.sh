#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/wasm/native_causes.sh - where the native tier's time goes: the same
# wasm2c output of each bench guest (rewritten with fuel, as the service
# compiles it), built with one of the tier's choices changed at a time, run
# by wabt's runtime (w2c_main.c), against gcc -O2 of the guest's C.
#
# usage: bench/wasm/native_causes.sh [BUILD_DIR]      (default build/release)
#   env REPS=N      best of N calls of run() (default 5)
#   env GUESTS=".." the guests (default: every bench/wasm guest)
#
# Columns (every one but the first two with fuel, a depth counter, -fPIC,
# -fno-strict-aliasing and -fsignaling-nans, as the service compiles):
#   gcc          gcc -O2 -fno-math-errno of the C (native_<guest>)
#   gcc novec    the same with -fno-tree-vectorize (Wasm without SIMD is scalar)
#   before       the tier before this work: bounds checks, -O2
#   +inline      wasm2c's static inline helpers forced always_inline
#   +guard       guard pages instead of bounds checks
#   +O3          cc -O3 instead of -O2
#   now          + isnan() as a quiet compare: what the service compiles now
#   now -snan    now without -fsignaling-nans (what that flag costs)
#   now -depth   now without the depth counter (what counting costs)
#   now no fuel  now, on the module without fuel (wasm2c of <guest>.wasm)
# Needs: cmake --build BUILD_DIR --target bench_wasm (w2cf_<guest>.c and w2c_<guest>.c).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
dir=$build/bench/wasm
reps=${REPS:-5}
guests=${GUESTS:-"fib sieve sha256 matmul nbody interp sha256_32m nbody_5e5"}
rt=/usr/src/wasm2c
[ -f "$dir/w2cf_fib.c" ] || { echo "native_causes.sh: $dir/w2cf_fib.c missing: build bench_wasm" >&2; exit 2; }
[ -f "$rt/wasm-rt-impl.c" ] || { echo "native_causes.sh: $rt/wasm-rt-impl.c missing" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# wasm-rt.h as the glue configures it (the depth limit a variable): plain, with
# the always_inline of the glue's header, and with its isnan() too (glue)
mkdir -p "$work/plain" "$work/inline" "$work/glue"
for h in plain inline glue; do
    {
        echo '#define WASM_RT_MAX_CALL_STACK_DEPTH sealrun_native_max_depth'
        echo '#include "/usr/include/wasm-rt.h"'
        echo 'extern uint32_t sealrun_native_max_depth;'
        [ $h != plain ] && echo '#define inline inline __attribute__((always_inline))'
        [ $h = glue ] && printf '#ifdef isnan\n#undef isnan\n#define isnan(x) __builtin_isunordered((x), (x))\n#endif\n'
    } >"$work/$h/wasm-rt.h"
done
echo 'unsigned sealrun_native_max_depth = 1000000;' >"$work/depth.c"

svc="-fPIC -fno-strict-aliasing -fsignaling-nans -DWASM_RT_USE_STACK_DEPTH_COUNT=1"
# build NAME GUEST C_PREFIX(w2c|w2cf) HEADER_DIR FLAGS...: prints run()'s best ms
build() {
    local name=$1 g=$2 pre=$3 hdr=$4
    shift 4
    local defs fuel=""
    [ "$pre" = w2cf ] && fuel="-DW2C_FUEL=1000000000000000ull"
    defs=$(printf '%s\n' "$@" | grep '^-D' | tr '\n' ' ' || true)
    # the generated C includes math.h and then its header, as in the service
    gcc "$@" -w -DGUEST="$g" $fuel -I"$work/$hdr" -I$rt -I"$dir" -c "$dir/${pre}_$g.c" \
        -o "$work/$name.o"
    # shellcheck disable=SC2086
    gcc -O2 -w $defs -DGUEST="$g" $fuel -I/usr/include -I$rt -include "$dir/${pre}_$g.h" \
        "$root/bench/wasm/w2c_main.c" $rt/wasm-rt-impl.c "$work/depth.c" "$work/$name.o" -lm \
        -o "$work/$name"
    "$work/$name" "$reps" | sed 's/.*best_ms=\([0-9.]*\).*/\1/'
}

stats=$work/stats
printf '| guest | gcc ms | gcc novec | before | +inline | +guard | +O3 | now | now -snan | now -depth | now no fuel |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for g in $guests; do
    nat=$("$dir/native_$g" "$reps" | sed 's/.*best_ms=\([0-9.]*\).*/\1/')
    gcc -O2 -fno-math-errno -fno-tree-vectorize -I"$root/bench/wasm/guests" \
        "$root/bench/wasm/guests/$g.c" "$root/bench/wasm/native_main.c" -o "$work/novec"
    novec=$("$work/novec" "$reps" | sed 's/.*best_ms=\([0-9.]*\).*/\1/')
    t1=$(build before "$g" w2cf plain -O2 $svc -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0)
    t2=$(build inl "$g" w2cf inline -O2 $svc -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0)
    t3=$(build guard "$g" w2cf inline -O2 $svc -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1)
    t4=$(build o3 "$g" w2cf inline -O3 $svc -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1)
    t5=$(build now "$g" w2cf glue -O3 $svc -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1)
    t6=$(build nosnan "$g" w2cf glue -O3 -fPIC -fno-strict-aliasing \
        -DWASM_RT_USE_STACK_DEPTH_COUNT=1 -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1)
    t7=$(build nodepth "$g" w2cf glue -O3 -fPIC -fno-strict-aliasing -fsignaling-nans \
        -DWASM_RT_USE_STACK_DEPTH_COUNT=0 -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1)
    t8=$(build nofuel "$g" w2c glue -O3 $svc -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1)
    echo "$g $nat $novec $t1 $t2 $t3 $t4 $t5 $t6 $t7 $t8" >>"$stats"
    awk -v n="$nat" -v g="$g" -v rest="$novec $t1 $t2 $t3 $t4 $t5 $t6 $t7 $t8" 'BEGIN {
        k = split(rest, t, " "); printf "| %s | %.1f", g, n
        for (i = 1; i <= k; i++) printf " | %.1f (%.2f)", t[i], t[i] / n
        print " |" }'
done
awk '{ k++; for (i = 3; i <= NF; i++) s[i] += log($i / $2) }
     END { printf "| **geomean** | 1"; for (i = 3; i <= NF; i++) printf " | %.2f", exp(s[i] / k)
           print " |" }' "$stats"
