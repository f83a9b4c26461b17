# SPDX-License-Identifier: MIT
"""bench/workers/bench.py - the driver of bench/workers/run.sh (see there).

Reuses tests/integration/harness.py for the daemons, the workers and the
throw-away PostgreSQL server (fsync on: the numbers include durable
commits), and bench/cluster/bench.py's process-tree CPU counter.
"""
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import harness  # noqa: E402

# bench/cluster/bench.py under its own name (both drivers are bench.py)
_spec = importlib.util.spec_from_file_location("cluster_bench",
                                               os.path.join(HERE, "..", "cluster", "bench.py"))
_cluster = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cluster)
HZ, KEYS, postmaster_pid, result, tree_ticks = (_cluster.HZ, _cluster.KEYS, _cluster.postmaster_pid,
                                                 _cluster.result, _cluster.tree_ticks)


def xacts(pg, store):
    """Write transactions on the server so far: the next transaction id
    (pg_stat_database's counters are flushed up to 10 s late)."""
    db = store.split(":///", 1)[1].split("?")[0]
    return int(pg.sql(db, "SELECT pg_current_xact_id()::text::bigint"))

DURATION = int(sys.argv[1]) if len(sys.argv) > 1 else 10
LATENCY_JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else 300
CONNS = 8
SCRIPT = os.path.join(HERE, "..", "service", "execute.lua")
JOB = {"script": "function main(input){ return {n: input + 1}; }", "input": 41}


def ms_of(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def one(url, tok):
    """One synchronous job: (client ms, queue+hand-off ms, run ms, way back ms)."""
    body = json.dumps(JOB).encode()
    req = urllib.request.Request(url + "/execute", data=body, method="POST", headers={
        "Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    t0 = time.time()
    with urllib.request.urlopen(req, timeout=60) as r:
        job = json.load(r)
    t1 = time.time()
    assert job.get("status") == "completed", job
    queue = ms_of(job["started_at"]) - ms_of(job["created_at"])
    run = job["receipt"]["duration_us"] / 1000 if "duration_us" in job.get("receipt", {}) \
        else ms_of(job["finished_at"]) - ms_of(job["started_at"])
    back = t1 * 1000 - ms_of(job["finished_at"])
    return (t1 - t0) * 1000, queue, run, back


def latency(url, tok, trees, pg, store):
    for _ in range(20):
        one(url, tok)
    c0 = [tree_ticks(p) for p in trees]
    p0 = tree_ticks(postmaster_pid(pg))
    x0 = xacts(pg, store)
    rows = [one(url, tok) for _ in range(LATENCY_JOBS)]
    c1 = [tree_ticks(p) for p in trees]
    p1 = tree_ticks(postmaster_pid(pg))
    x1 = xacts(pg, store)
    cpu = [(b - a) * 1000 / HZ * 1000 / LATENCY_JOBS for a, b in zip(c0, c1)]
    pgcpu = (p1 - p0) * 1000 / HZ * 1000 / LATENCY_JOBS
    col = list(zip(*rows))
    return {"p50": pct(col[0], 0.5), "p99": pct(col[0], 0.99), "queue": pct(col[1], 0.5),
            "run": pct(col[2], 0.5), "back": pct(col[3], 0.5), "cpu": cpu, "pg": pgcpu,
            "tx": (x1 - x0 - 1) / LATENCY_JOBS}


def throughput(url, tok):
    env = dict(os.environ, SEALRUN_TOKEN=tok, SEALRUN_MODULE="")
    p = subprocess.run(["wrk", "-t1", f"-c{CONNS}", f"-d{DURATION}s", "--latency", "-s", SCRIPT,
                        url + "/execute"], stdout=subprocess.PIPE, text=True, env=env)
    r = result(p.stdout)
    return r["requests"] / DURATION, r["p50_us"] / 1000, r["errors"]


def report(name, lat, thr, cpu_names):
    cpu = "  ".join(f"{n} {c:5.0f}" for n, c in zip(cpu_names, lat["cpu"]))
    print(f"{name:26s} p50 {lat['p50']:6.2f} ms  p99 {lat['p99']:6.2f} ms  "
          f"queue+hand-off {lat['queue']:5.2f}  run {lat['run']:5.2f}  back {lat['back']:5.2f} ms"
          f"  | {thr[0]:6.0f} jobs/s (8 conns, p50 {thr[1]:6.2f} ms, errors {thr[2]})"
          f"  | CPU us/job: {cpu}  postgres {lat['pg']:5.0f}  | {lat['tx']:4.1f} write tx/job", flush=True)


def main():
    print(f"{LATENCY_JOBS} sequential jobs, then {DURATION} s at {CONNS} connections; "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    pg = harness.Postgres(fsync=True)
    args = ("--max-running-per-user", "64", "--log-level", "warn")
    try:
        d = harness.Daemon(*args, store=pg.database("embedded"), env=KEYS).start()
        try:
            tok = d.token("bench")
            lat = latency(d.url, tok, [d.proc.pid], pg, d.store)
            report("embedded all, PostgreSQL", lat, throughput(d.url, tok), ["daemon"])
        finally:
            d.cleanup()
        c = harness.Daemon("--role", "coordinator", *args, store=pg.database("coord"),
                           env=KEYS).start()
        ws = []
        try:
            tok = c.token("bench")
            for n in (1, 2):
                w = harness.Worker(c.url, harness.worker_token(c, f"w{n}"), "--log-level",
                                   "warn").start()
                assert w.id, w.log_text()
                ws.append(w)
                lat = latency(c.url, tok, [c.proc.pid] + [x.proc.pid for x in ws], pg, c.store)
                report(f"coordinator + {n} worker(s)", lat, throughput(c.url, tok),
                       ["coordinator"] + [f"worker{i + 1}" for i in range(n)])
            for w in ws:
                w.cleanup()
            ws = []
            # one worker that runs 4 jobs at once (--jobs 4)
            w = harness.Worker(c.url, harness.worker_token(c, "w4"), "--jobs", "4",
                               "--log-level", "warn").start()
            assert w.id, w.log_text()
            ws.append(w)
            lat = latency(c.url, tok, [c.proc.pid, w.proc.pid], pg, c.store)
            report("coordinator + 1 worker --jobs 4", lat, throughput(c.url, tok),
                   ["coordinator", "worker1"])
        finally:
            for w in ws:
                w.cleanup()
            c.cleanup()
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()
