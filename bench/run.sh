#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh - every benchmark, against the release build (make bench).
set -euo pipefail
cd "$(dirname "$0")/.."
bench/service/run.sh "${SERVICE_SECONDS:-10}"
bench/http/run.sh 200 "${SERVICE_SECONDS:-10}"
for b in build/release/bench/js/bench_js; do
  [ -x "$b" ] && "$b"
done
