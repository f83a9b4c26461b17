#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/service/run.sh - /execute throughput and latency of a trivial script,
# 16 concurrent connections on 127.0.0.1 for DURATION seconds, in both
# isolation modes, against the release build. Reports jobs/s, p50/p99 and
# the server's CPU per job (sealrund, zygote and job processes together).
# Usage: bench/service/run.sh [DURATION_S]   (needs wrk: apt-get install wrk)
# SEALRUN_BIN (default build/bin) runs another build's programs, ROWS picks
# rows ("tenant/js job/js tenant/wasm"); bench/service/compare.sh uses both.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
BIN=${SEALRUN_BIN:-build/bin}
ROWS=${ROWS:-"tenant/js job/js tenant/wasm"}
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }

# CPU ticks of a process tree (utime+stime of every live descendant plus
# the reaped children's cutime+cstime of the root).
tree_ticks() {
  python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1]); kids = {}; stat = {}
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            f = open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        stat[int(p)] = f
        kids.setdefault(int(f[1]), []).append(int(p))
tot, pending = 0, [root]
while pending:
    p = pending.pop()
    f = stat.get(p)
    if f:
        tot += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    pending += kids.get(p, [])
print(tot)
PY
}

run_mode() {
  local mode=$1 runtime=${2:-js} dir; dir=$(mktemp -d)
  "$BIN/sealrund" --listen 127.0.0.1:0 --data-dir "$dir" --dev --isolation="$mode" ${SEALRUND_ARGS:-} \
      --max-running-per-user 64 --log-level warn 2>"$dir/log" &
  local pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$dir/log" && break; sleep 0.1; done
  local url; url=$(grep -o 'http://[0-9.:]*' "$dir/log" | head -1)
  local tok; tok=$("$BIN/sealrun" token create --data-dir "$dir" --user bench | tail -n 1)
  local script=bench/service/execute.lua module=""
  if [ "$runtime" = wasm ]; then
    wat2wasm bench/service/trivial.wat -o "$dir/trivial.wasm"
    module=$(curl -s "$url/modules" -H "Authorization: Bearer $tok" \
      -H 'Content-Type: application/wasm' --data-binary @"$dir/trivial.wasm" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
    script=bench/service/execute_wasm.lua
  fi
  SEALRUN_TOKEN=$tok SEALRUN_MODULE=$module wrk -t2 -c16 -d2s -s $script "$url/execute" >/dev/null
  local t0; t0=$(tree_ticks "$pid")
  local out; out=$(SEALRUN_TOKEN=$tok SEALRUN_MODULE=$module wrk -t2 -c16 -d"${DURATION}s" \
      --latency -s $script "$url/execute")
  local t1; t1=$(tree_ticks "$pid")
  kill "$pid"; wait "$pid" || true
  rm -rf "$dir"
  local line; line=$(grep '^RESULT' <<<"$out")
  python3 - "$mode/$runtime" "$line" "$((t1 - t0))" "$(getconf CLK_TCK)" <<'PY'
import sys
mode, line, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
kv = dict(x.split('=') for x in line.split()[1:])
n, dur = int(kv['requests']), int(kv['duration_us']) / 1e6
print(f"{mode:12s} jobs/s={n/dur:8.0f}  p50={int(kv['p50_us'])/1000:.2f}ms  "
      f"p99={int(kv['p99_us'])/1000:.2f}ms  server_cpu_per_job={ticks/hz/n*1e6:.0f}us  "
      f"errors={kv['errors']}  jobs={n}")
PY
}

echo "sealrun /execute, trivial script, 16 connections, ${DURATION}s, $(nproc) cores, $BIN ($(git rev-parse --short HEAD))"
for row in $ROWS; do
  run_mode "${row%/*}" "${row#*/}"
done
