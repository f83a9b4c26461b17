#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/workers/run.sh - remote workers (docs/workers.md) on this machine: a
# trivial synchronous JS job through a coordinator and one (then two)
# workers against the embedded `all` role on the same PostgreSQL store, in
# one run, and last one worker with --jobs 4. Latency: LATENCY_JOBS jobs
# one at a time (after 20 warm-up jobs),
# split into queue+hand-off, run and way back from the job objects; the CPU
# per job of the coordinator's, the workers' and PostgreSQL's process
# trees; throughput: 8 connections (wrk) for DURATION seconds. Against the
# release build (build/bin).
# Usage: bench/workers/run.sh [DURATION_S] [LATENCY_JOBS]  (needs wrk and postgresql)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }
SR_BIN_DIR=${SR_BIN_DIR:-build/bin} exec python3 bench/workers/bench.py "${1:-10}" "${2:-300}"
