#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/cluster/run.sh - cluster mode (docs/cluster.md) on this machine: a
# trivial synchronous JS job's throughput and p50/p99 with one daemon on
# SQLite, one on PostgreSQL, and two and three daemons on one PostgreSQL
# (wrk, 16 connections spread over the daemons, DURATION seconds); the CPU
# per job of the daemons' process trees and of the PostgreSQL server (the
# store's share); and the queue's claim latency (async jobs at a light
# rate: started_at - created_at). Against the release build (build/bin).
# Usage: bench/cluster/run.sh [DURATION_S]   (needs wrk and postgresql)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }
SR_BIN_DIR=${SR_BIN_DIR:-build/bin} exec python3 bench/cluster/bench.py "${1:-10}"
