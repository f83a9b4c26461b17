#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""service.py - the service's two tiers on the bench/wasm guests (docs/wasm.md "Two tiers").

  bench/wasm/service.py --bin build/release/bin --guests build/release/bench/wasm [--reps 3]

Builds nothing: needs sealrund and sealrun in --bin and wasi_<guest>.wasm in --guests
(cmake --build build/release --target sealrund sealrun bench_wasm_wasi bench_wasm). Starts
a sealrund of its own (127.0.0.1, port 0, a temporary data directory, --dev) and for each
guest submits the same job with "tier": "interp" and "tier": "native": the first native
job compiles the module (its latency, measured by the client, includes the compilation),
the next ones run the cached object in a warm job process. Prints, per guest, the module
size, the best job duration (the run's wall clock in the job object, 0.1 ms) of --reps runs
in each tier, the first native job's latency and what it spent compiling per KB of module,
and, when these are in --guests: native_<guest> (gcc -O2 of the C), node (V8) on
<guest>.wasm (bench/wasm/run_node.mjs) and w2c_<guest> (wasm2c + gcc -O2 of the module
without fuel: the service always charges fuel, so this is its code without fuel), each
the best of --reps calls of run() alone. Checks that both tiers give the same output and
gas_used.
"""
import argparse
import base64
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

GUESTS = ["fib", "sieve", "sha256", "matmul", "nbody", "interp", "sha256_32m", "nbody_5e5"]


def post(url, path, body, token):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def job(url, token, mod, tier):
    t0 = time.monotonic()
    j = post(url, "/execute", {"runtime": "wasm", "module": mod, "tier": tier,
                               "output_format": "text", "gas_limit": 400000000000,
                               "timeout": 120}, token)
    ms = (time.monotonic() - t0) * 1000
    if j["status"] != "completed" or j["tier"] != tier:
        raise SystemExit("job failed: %s" % json.dumps(j)[:800])
    return j, ms


def duration_ms(j):
    """The job's run time: "duration" has 0.1 ms ("12.3ms", "1.234s"), duration_ms whole ms."""
    d = j.get("duration", "")
    m = re.fullmatch(r"([0-9.]+)(ms|s)", d)
    if not m:
        return float(j["duration_ms"])
    return float(m.group(1)) * (1 if m.group(2) == "ms" else 1000)


def native_ms(path, reps=3, cmd=None):
    if not os.path.exists(path) or (cmd and not shutil.which(cmd[0])):
        return None
    out = subprocess.run((cmd or []) + [path, str(reps)], capture_output=True, text=True,
                         timeout=600).stdout
    m = re.search(r"best_ms=([0-9.]+)", out)
    return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--guests", required=True)
    ap.add_argument("--reps", type=int, default=3)
    opts = ap.parse_args()
    data = tempfile.mkdtemp(prefix="sealrun-bench-")
    d = subprocess.Popen([os.path.join(opts.bin, "sealrund"), "--listen", "127.0.0.1:0",
                          "--data-dir", data, "--dev"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = None
    try:
        for line in d.stderr:
            m = re.match(rb"listening on (http://[0-9.]+:\d+)", line)
            if m:
                url = m.group(1).decode()
                break
        if not url:
            raise SystemExit("sealrund did not start")
        token = subprocess.run([os.path.join(opts.bin, "sealrun"), "token", "create",
                                "--data-dir", data, "--user", "bench"], capture_output=True,
                               text=True, check=True).stdout.strip().splitlines()[-1]
        print("| guest | module KB | gcc -O2 ms | node ms (x) | wasm2c no fuel ms (x) "
              "| interp job ms (x) | native job ms (x) | interp / native "
              "| first native job ms | compile ms per KB | fuel used |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        ratios, vs = [], {"node": [], "w2c": [], "interp": [], "native": []}
        node_js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_node.mjs")
        for g in GUESTS:
            path = os.path.join(opts.guests, "wasi_%s.wasm" % g)
            if not os.path.exists(path):
                continue
            raw = open(path, "rb").read()
            mod = base64.b64encode(raw).decode()
            interp = [job(url, token, mod, "interp")[0] for _ in range(opts.reps)]
            first, first_ms = job(url, token, mod, "native")
            native = [first] + [job(url, token, mod, "native")[0] for _ in range(opts.reps)]
            for j in interp + native:
                if j["output"] != interp[0]["output"] or j["gas_used"] != interp[0]["gas_used"]:
                    raise SystemExit("%s: tiers differ: %s / %s" % (g, j["output"],
                                                                    interp[0]["output"]))
            ti = max(min(duration_ms(j) for j in interp), 0.1)
            tn = max(min(duration_ms(j) for j in native[1:]), 0.1)
            gcc = native_ms(os.path.join(opts.guests, "native_" + g), opts.reps)
            node = native_ms(os.path.join(opts.guests, g + ".wasm"), opts.reps + 2,
                             ["node", node_js])
            w2c = native_ms(os.path.join(opts.guests, "w2c_" + g), opts.reps)
            ratios.append(ti / tn)
            times = {"node": node, "w2c": w2c, "interp": ti, "native": tn}

            def cell(k):
                t = times[k]
                if t is None:
                    return "-"
                if not gcc:
                    return "%.1f" % t
                vs[k].append(t / gcc)
                return "%.1f (%.2f)" % (t, t / gcc)
            cells = [cell(k) for k in ("node", "w2c", "interp", "native")]
            print("| %s | %.1f | %s | %s | %s | %s | %s | %.2f | %d | %.1f | %d |" % (
                g, len(raw) / 1024, "%.1f" % gcc if gcc else "-", *cells, ti / tn, first_ms,
                (first_ms - tn) / (len(raw) / 1024), interp[0]["gas_used"]))
        geo = lambda xs: "%.2f" % math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else "-"
        print("| **geomean** | | 1 | %s | %s | %s | %s | %s | | | |" % (
            geo(vs["node"]), geo(vs["w2c"]), geo(vs["interp"]), geo(vs["native"]), geo(ratios)))
    finally:
        d.terminate()
        d.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
