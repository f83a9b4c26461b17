#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/http/run.sh - outbound HTTP (docs/http.md), against the release build:
#  1. per-request cost of fetch() in a job against the same request made by
#     curl from the shell, to one local server, in one run: N requests each,
#     every one on a new connection (fetch opens one per request; curl is
#     told "Connection: close"), and curl started once per request too;
#  2. jobs/s of a job that makes one request (wrk, 16 connections).
# Only 127.0.0.1: sealrund runs with --http-allow-private 127.0.0.1 and
# --http-allow-http (a test and development switch).
# Usage: bench/http/run.sh [N_REQUESTS [DURATION_S]]  (needs curl and wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200}
DURATION=${2:-10}
BIN=${SEALRUN_BIN:-build/bin}
for t in curl wrk python3; do
  command -v $t >/dev/null || { echo "bench: $t is missing" >&2; exit 2; }
done
dir=$(mktemp -d)
python3 bench/http/server.py >"$dir/port" &
srv=$!
"$BIN/sealrund" --listen 127.0.0.1:0 --data-dir "$dir" --dev --log-level warn \
    --http-allow-private 127.0.0.1 --http-allow-http --max-running-per-user 64 2>"$dir/log" &
pid=$!
cleanup() { kill "$pid" "$srv" 2>/dev/null || true; wait "$pid" "$srv" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$dir/port" ] && grep -q "listening on" "$dir/log" && break; sleep 0.1; done
port=$(head -1 "$dir/port")
target="http://127.0.0.1:$port/x"
url=$(grep -o 'http://[0-9.:]*' "$dir/log" | head -1)
tok=$("$BIN/sealrun" token create --data-dir "$dir" --user bench | tail -n 1)

echo "outbound HTTP, $N requests to a local server, $(nproc) cores, $(git rev-parse --short HEAD)"

# curl: one process, N URLs, a new connection for each
urls=$(for _ in $(seq "$N"); do printf '%s ' "$target"; done)
t0=$(date +%s%N)
# shellcheck disable=SC2086
curl -s -H 'Connection: close' $urls >/dev/null
t1=$(date +%s%N)
curl_one=$(( (t1 - t0) / N / 1000 ))
# curl: one process per request
t0=$(date +%s%N)
for _ in $(seq "$N"); do curl -s -o /dev/null "$target"; done
t1=$(date +%s%N)
curl_proc=$(( (t1 - t0) / N / 1000 ))

# fetch: one job making N requests, timed inside the guest, and the job's wall time
script="async function main(i){ const t0 = Date.now(); let n = 0; for (let k = 0; k < i.n; k++) { const r = await fetch(i.url); n += (await r.text()).length; } return {ms: Date.now() - t0, n}; }"
body=$(python3 -c 'import json,sys; print(json.dumps({"script": sys.argv[1], "input": {"url": sys.argv[2], "n": int(sys.argv[3])}, "http": {"allow": [sys.argv[4]], "max_requests": 64}, "timeout": 60}))' \
  "$script" "$target" 64 "127.0.0.1:$port")
fetch_us=0
rounds=$(( (N + 63) / 64 ))
for _ in $(seq "$rounds"); do
  ms=$(curl -s "$url/execute" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
         -d "$body" | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["status"]=="completed", j; print(j["output"]["ms"])')
  fetch_us=$(( fetch_us + ms * 1000 ))
done
fetch_one=$(( fetch_us / (rounds * 64) ))
echo "curl, one process, new connection per request: ${curl_one} us/request"
echo "curl, one process per request:                 ${curl_proc} us/request"
echo "fetch() in a JS job (supervisor + libcurl):    ${fetch_one} us/request  (overhead vs curl: $(( fetch_one - curl_one )) us)"

# jobs/s of a one-request job, and of a trivial job (no request) for reference
row() {
  local name=$1 lua=$2 out
  SEALRUN_TOKEN=$tok SEALRUN_TARGET=$target wrk -t2 -c16 -d2s -s "$lua" "$url/execute" >/dev/null
  out=$(SEALRUN_TOKEN=$tok SEALRUN_TARGET=$target wrk -t2 -c16 -d"${DURATION}s" -s "$lua" "$url/execute")
  python3 - "$name" "$(grep '^RESULT' <<<"$out")" <<'PY'
import sys
kv = dict(x.split('=') for x in sys.argv[2].split()[1:])
n, dur = int(kv['requests']), int(kv['duration_us']) / 1e6
print(f"{sys.argv[1]:22s} jobs/s={n/dur:.0f}  p50={int(kv['p50_us'])/1000:.2f}ms  "
      f"p99={int(kv['p99_us'])/1000:.2f}ms  errors={kv['errors']}  jobs={n}")
PY
}
row "one-request JS job" bench/http/execute_fetch.lua
row "trivial JS job" bench/service/execute.lua
