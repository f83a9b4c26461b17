# SPDX-License-Identifier: MIT
"""bench/cluster/bench.py - the driver of bench/cluster/run.sh (see there).

Reuses tests/integration/harness.py for the daemons and the throw-away
PostgreSQL server (a unix socket in a temp directory, fsync on: the numbers
include durable commits). Prints one line per configuration and the claim
latency.
"""
import datetime
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness  # noqa: E402

DURATION = int(sys.argv[1]) if len(sys.argv) > 1 else 10
CONNS = 16
SCRIPT = os.path.join(os.path.dirname(__file__), "..", "service", "execute.lua")
# the same job writing one storage key: its end carries a write set
STORAGE = os.path.join(os.path.dirname(__file__), "storage.lua")
HZ = os.sysconf("SC_CLK_TCK")


def tree_ticks(root):
    """utime+stime of a process tree (and its reaped children)."""
    kids, stat = {}, {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
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
    return tot


def postmaster_pid(pg):
    return int(open(os.path.join(pg.data, "postmaster.pid")).readline())


KEYS = {"COMPUTE_MASTER_KEY": "5a" * 32, "SECRETS_MASTER_KEY": "a5" * 32}


def daemons(n, store):
    args = ("--max-running-per-user", "64", "--log-level", "warn")
    return [harness.Daemon(*args, store=store, env=KEYS).start() for _ in range(n)]


def wrk(url, token, conns, seconds, script=SCRIPT):
    env = dict(os.environ, SEALRUN_TOKEN=token, SEALRUN_MODULE="")
    return subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
                             script, url + "/execute"], stdout=subprocess.PIPE, text=True,
                            env=env)


def result(out):
    line = [x for x in out.splitlines() if x.startswith("RESULT")][0]
    return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def xacts(pg, store):
    """Committed transactions of the store's database so far."""
    if not pg:
        return 0
    db = store.split(":///", 1)[1].split("?")[0]
    return int(pg.sql(db, "SELECT xact_commit FROM pg_stat_database "
                          "WHERE datname = current_database()"))


def run(name, ds, pg, script=SCRIPT):
    tok = ds[0].token("bench")
    per = max(1, CONNS // len(ds))
    for p in [wrk(d.url, tok, per, 2, script) for d in ds]:  # warm the job processes
        p.communicate()
    t0 = [tree_ticks(d.proc.pid) for d in ds]
    p0 = tree_ticks(postmaster_pid(pg)) if pg else 0
    x0 = xacts(pg, ds[0].store)
    procs = [wrk(d.url, tok, per, DURATION, script) for d in ds]
    res = [result(p.communicate()[0]) for p in procs]
    t1 = [tree_ticks(d.proc.pid) for d in ds]
    p1 = tree_ticks(postmaster_pid(pg)) if pg else 0
    x1 = xacts(pg, ds[0].store)
    jobs = sum(r["requests"] for r in res)
    errors = sum(r["errors"] for r in res)
    p50 = sorted(r["p50_us"] for r in res)[len(res) // 2]
    p99 = max(r["p99_us"] for r in res)
    daemon_ms = sum(b - a for a, b in zip(t0, t1)) * 1000 / HZ
    store_ms = (p1 - p0) * 1000 / HZ
    print(f"{name:28s} {jobs / DURATION:8.0f} jobs/s  p50 {p50 / 1000:6.2f} ms  "
          f"p99 {p99 / 1000:6.2f} ms  daemons {daemon_ms * 1000 / max(jobs, 1):7.0f} us/job  "
          f"postgres {store_ms * 1000 / max(jobs, 1):6.0f} us/job  "
          f"{(x1 - x0) / max(jobs, 1):4.1f} tx/job  errors {errors}", flush=True)


def ms_of(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000


def claim_latency(ds):
    """Async trivial jobs, 20 a second over the daemons: started - created."""
    tok = ds[0].token("claims")
    ids = []
    for i in range(100):
        d = ds[i % len(ds)]
        st, ans, _ = d.execute(tok, "function main(){ return 1; }", **{"async": True})
        assert st == 202, ans
        ids.append((d, ans["job_id"]))
        time.sleep(0.05)
    waits = sorted(ms_of(j["started_at"]) - ms_of(j["created_at"])
                   for j in (d.wait_job(tok, i) for d, i in ids))
    print(f"claim latency (async, 20/s, {len(ds)} daemons): p50 {waits[len(waits) // 2]:.0f} ms"
          f"  p99 {waits[int(len(waits) * 0.99) - 1]:.0f} ms  max {waits[-1]:.0f} ms", flush=True)


def main():
    print(f"{DURATION} s per configuration, {CONNS} connections, {os.cpu_count()} cores",
          flush=True)
    ds = daemons(1, None)
    try:
        run("1 daemon, SQLite", ds, None)
        run("1 daemon, SQLite, storage", ds, None, STORAGE)
    finally:
        for d in ds:
            d.cleanup()
    pg = harness.Postgres(fsync=True)
    for n in (1, 2, 3):
        url = pg.database(f"bench{n}")
        ds = daemons(n, url)
        try:
            run(f"{n} daemon(s), one PostgreSQL", ds, pg)
            if n == 1:
                run("1 daemon, PostgreSQL, storage", ds, pg, STORAGE)
            if n == 3:
                claim_latency(ds)
        finally:
            for d in ds:
                d.cleanup()
    pg.destroy()


if __name__ == "__main__":
    main()
