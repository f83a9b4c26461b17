#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/service/compare.sh - the trivial WASM job by module_hash (and any
# other rows of run.sh) on this build and on another build, in interleaved
# rounds of one run, so the two are compared as a ratio on the same machine.
# Usage: bench/service/compare.sh OTHER_CHECKOUT [ROUNDS] [DURATION_S]
#   OTHER_CHECKOUT: a checkout with a release build (its build/bin), e.g. a
#   worktree of an older commit:  git worktree add /tmp/base <commit> &&
#   (cd /tmp/base && cmake --preset release && cmake --build build/release)
# ROWS as in run.sh (default "tenant/wasm").
set -euo pipefail
cd "$(dirname "$0")/../.."
other=${1:?usage: compare.sh OTHER_CHECKOUT [ROUNDS] [DURATION_S]}
rounds=${2:-3}; dur=${3:-8}
export ROWS=${ROWS:-tenant/wasm}
[ -x "$other/build/bin/sealrund" ] || { echo "compare: no release build in $other/build/bin" >&2; exit 2; }
for r in $(seq "$rounds"); do
  echo "round $r"
  SEALRUN_BIN=build/bin bench/service/run.sh "$dur" | sed 's/^/  this:  /'
  SEALRUN_BIN="$other/build/bin" bench/service/run.sh "$dur" | sed 's/^/  other: /'
done
