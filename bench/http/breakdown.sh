#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/http/breakdown.sh - where a fetch's time goes: one job making 64
# requests to the local server of server.py, three times; prints the time
# per request the guest sees (Date.now around the loop) and the
# supervisor's own time per request (the receipt's duration_us of each
# exchange: policy, resolution, libcurl). The difference is the job
# channel round trip and the JavaScript objects. Release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
python3 bench/http/server.py > $dir/port &
srv=$!
${SEALRUN_BIN:-build/bin}/sealrund --listen 127.0.0.1:0 --data-dir $dir --dev --log-level warn --http-allow-private 127.0.0.1 --http-allow-http 2>$dir/log &
pid=$!
for i in $(seq 100); do [ -s $dir/port ] && grep -q "listening on" $dir/log && break; sleep 0.1; done
port=$(head -1 $dir/port); url=$(grep -o 'http://[0-9.:]*' $dir/log | head -1)
tok=$(${SEALRUN_BIN:-build/bin}/sealrun token create --data-dir $dir --user b | tail -n1)
script='async function main(i){ const t0 = Date.now(); for (let k = 0; k < 64; k++) { const r = await fetch(i.url); await r.text(); } return {ms: Date.now() - t0}; }'
body=$(python3 -c 'import json,sys; print(json.dumps({"script": sys.argv[1], "input": {"url": sys.argv[2]}, "http": {"allow": [sys.argv[3]], "max_requests": 64}}))' "$script" "http://127.0.0.1:$port/x" "127.0.0.1:$port")
for r in 1 2 3; do
curl -s $url/execute -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' -d "$body" | python3 -c '
import json,sys; j=json.load(sys.stdin); xs=j["receipt"]["http"]; d=[x["duration_us"] for x in xs]
print("guest ms/req", j["output"]["ms"]/64, "supervisor us/req avg", sum(d)/len(d), "min", min(d))'
done
kill $pid $srv; wait $pid 2>/dev/null || true; rm -rf $dir
