#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/service/rate_ab.sh - one sealrund (build/bin, the release preset) with the
# given options, wrk on GET /health (the address bucket only) and GET /tokens
# (address and token buckets, a store read) for 10 s each; see
# bench/results/2026-12-04-accounts.md. Usage: rate_ab.sh NAME SEALRUND-OPTIONS...

name=$1; shift
B=$(cd "$(dirname "$0")/../.." && pwd)/build/bin
D=${TMPDIR:-/tmp}/sr_rate_ab/$name
rm -rf "$D"; mkdir -p "$D"
$B/sealrund --dev --data-dir $D --listen 127.0.0.1:0 --log-level warn "$@" 2> $D/err &
pid=$!
for i in $(seq 50); do grep -q "listening on" $D/err && break; sleep 0.2; done
port=$(grep -o "listening on http://127.0.0.1:[0-9]*" $D/err | grep -o "[0-9]*$")
tok=$($B/sealrun token create --data-dir $D --user bench | tail -1)
echo "== $name port $port"
wrk -t2 -c16 -d10s http://127.0.0.1:$port/health | grep -E "Requests/sec|Latency|Non-2xx"
wrk -t2 -c16 -d10s -H "Authorization: Bearer $tok" http://127.0.0.1:$port/tokens | grep -E "Requests/sec|Latency|Non-2xx"
kill $pid; wait $pid 2>/dev/null
