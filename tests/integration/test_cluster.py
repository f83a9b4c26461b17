# SPDX-License-Identifier: MIT
"""test_cluster.py - three sealrund on one PostgreSQL (docs/cluster.md).

Starts its own throw-away PostgreSQL (harness.Postgres) and three daemons on
one database, with short leases (--lease 8: renewed every 2.7 s, so a live
daemon's renewal delayed by a loaded CI machine does not lose its lease) and a
running cap of 2 per user.
Checks: /info lists the three live daemons with their own worker keys; a
token revoked through the store is refused by every daemon at once; under
load from several users, kill -9 of one daemon while its jobs run leaves
every acknowledged job ended exactly once (completed, or INTERRUPTED for
the jobs the dead daemon ran), the per-user cap is never exceeded (counted
from the store while the jobs run), and storage counters incremented by
jobs on all three daemons come out exact (one per job that ended completed);
a daemon that loses its database answers 503 on /ready and recovers when the
server is back; a daemon whose lease on a running job is taken over (the
test steals it in the store, as another daemon would) kills the job's
process within a couple of lease periods and writes nothing of it; a job
cancelled through one daemon while another runs it ends CANCELLED once,
with the cancelling daemon's receipt, and its process there is killed.
"""
import base64
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, alive, cli, descendants, postgres  # noqa: E402

CAP = 2
USERS = ("ann", "ben", "cat", "dan")
INCREMENT = ("function main() { const n = Number(storage.get('counter') ?? 0); "
             "storage.set('counter', String(n + 1)); return n + 1; }")
SLOW = ("function main() { const t = Date.now(); while (Date.now() - t < 1500) {} "
        "return 'slow'; }")


# every daemon of a cluster has the same master keys (docs/cluster.md)
KEYS = {"COMPUTE_MASTER_KEY": "5a" * 32, "SECRETS_MASTER_KEY": "a5" * 32}


LEASE_S = 8


def start_daemon(url, env=KEYS):
    return Daemon("--lease", str(LEASE_S), "--max-running-per-user", str(CAP),
                  "--async-workers", "4",
                  "--max-queued-per-user", "200", store=url, env=env).start()


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.url = cls.pg.database("cluster")
        cls.ds = [start_daemon(cls.url) for _ in range(3)]
        cls.toks = {u: cls.ds[0].token(u) for u in USERS}

    @classmethod
    def tearDownClass(cls):
        for d in cls.ds:
            if d.proc:
                d.cleanup()

    def sql(self, statement):
        return self.pg.sql("cluster", statement)

    def test_0_a_daemon_with_other_keys_is_refused(self):
        other = dict(KEYS, COMPUTE_MASTER_KEY="77" * 32)
        with self.assertRaises(AssertionError) as cm:
            start_daemon(self.url, env=other)
        self.assertIn("another COMPUTE_MASTER_KEY", str(cm.exception))

    def test_a_info_lists_the_live_daemons(self):
        keys = set()
        ids = set()
        for d in self.ds:
            st, info, _ = d.request("GET", "/info")
            self.assertEqual(st, 200, info)
            c = info["cluster"]
            self.assertEqual(c["store"], "postgres")
            listed = {x["id"]: x for x in c["daemons"]}
            self.assertEqual(len(listed), 3, c)
            self.assertTrue(listed[c["daemon"]]["self"])
            ids.add(c["daemon"])
            # the daemon signs its receipts with the key it lists for itself
            st, job, _ = d.execute(self.toks["ann"], "function main(){ return 1; }")
            self.assertEqual(st, 200, job)
            self.assertEqual(job["receipt"]["worker_public_key"],
                             listed[c["daemon"]]["worker_public_key"])
            keys.add(job["receipt"]["worker_public_key"])
        self.assertEqual(len(ids), 3)
        self.assertEqual(len(keys), 3)

    def test_b_revocation_is_seen_by_every_daemon_at_once(self):
        p = cli("token", "create", "--store", self.url, "--user", "eve", check=True)
        tok = p.stdout.strip().splitlines()[-1]
        tid = p.stdout.split("created token ")[1].split()[0]
        for d in self.ds:
            self.assertEqual(d.execute(tok, "function main(){ return 2; }")[0], 200)
        cli("token", "revoke", "--store", self.url, tid, check=True)
        for d in self.ds:
            st, body, _ = d.execute(tok, "function main(){ return 3; }")
            self.assertEqual(st, 401, body)

    def test_bc_a_cancel_reaches_the_daemon_running_the_job(self):
        tok = self.ds[0].token("fay")
        before = {d.proc.pid: set(descendants(d.proc.pid)) for d in self.ds}
        st, ans, _ = self.ds[0].execute(tok, "function main() { for (;;) {} }", timeout=60,
                                        **{"async": True})
        self.assertEqual(st, 202, ans)
        jid = ans["job_id"]
        deadline = time.time() + 60
        holder = None
        while time.time() < deadline and not holder:
            rows = self.sql(f"SELECT lease_holder FROM jobs WHERE id = '{jid}' AND "
                            "state = 'running'")
            holder = rows.strip() if rows else None
            time.sleep(0.05)
        self.assertTrue(holder, "the job never ran")
        ids = {d.request("GET", "/info")[1]["cluster"]["daemon"]: d for d in self.ds}
        runner = ids[holder]
        other = next(d for i, d in ids.items() if i != holder)
        procs = []
        while time.time() < deadline and not procs:
            procs = [p for p in descendants(runner.proc.pid)
                     if p not in before[runner.proc.pid] and alive(p)]
            time.sleep(0.05)
        self.assertTrue(procs, "no job process on the daemon that runs the job")
        # cancelled through another daemon: ended there, in the store, with its receipt
        st, job, _ = other.request("POST", f"/jobs/{jid}/cancel", token=tok)
        self.assertEqual(st, 200, job)
        self.assertEqual((job["status"], job["error"]["code"]), ("failed", "CANCELLED"), job)
        st, oinfo, _ = other.request("GET", "/info")
        listed = {x["id"]: x for x in oinfo["cluster"]["daemons"]}
        self.assertEqual(job["receipt"]["worker_public_key"],
                         listed[oinfo["cluster"]["daemon"]]["worker_public_key"])
        # the running daemon sees its renewal refused and kills the process
        t0 = time.time()
        while time.time() - t0 < 4 * LEASE_S and any(alive(p) for p in procs):
            time.sleep(0.1)
        self.assertFalse([p for p in procs if alive(p)], "the job process lives on")
        deadline = time.time() + 30
        while time.time() < deadline and f"job '{jid}': lost its lease" not in runner.log_text():
            time.sleep(0.1)
        self.assertIn(f"job '{jid}': lost its lease", runner.log_text())
        # exactly one end: the runner's own end was refused by the fence
        st, again, _ = runner.request("GET", f"/jobs/{jid}", token=tok)
        self.assertEqual(again["receipt"], job["receipt"])
        st, ans, _ = runner.request("POST", f"/jobs/{jid}/cancel", token=tok)
        self.assertEqual(st, 409, ans)

    def _sample_running(self, stop, worst):
        while not stop.is_set():
            out = self.sql("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM jobs "
                           "WHERE state = 'running' GROUP BY owner) c")
            worst[0] = max(worst[0], int(out or 0))
            time.sleep(0.05)

    def test_c_kill9_under_load(self):
        acked = {}  # job id -> (user, kind)
        stop = threading.Event()
        worst = [0]
        sampler = threading.Thread(target=self._sample_running, args=(stop, worst))
        sampler.start()
        try:
            n = 0
            for round_ in range(6):
                for u in USERS:
                    for kind, script in (("inc", INCREMENT), ("slow", SLOW)):
                        d = self.ds[n % 3]
                        n += 1
                        st, ans, _ = d.execute(self.toks[u], script, **{"async": True})
                        self.assertEqual(st, 202, ans)
                        acked[ans["job_id"]] = (u, kind)
            holders = {}
            for i, d in enumerate(self.ds):
                st, info, _ = d.request("GET", "/info")
                holders[info["cluster"]["daemon"]] = i
            deadline = time.time() + 60
            while True:  # the victim: a daemon that runs some of them now
                holder = self.sql("SELECT lease_holder FROM jobs WHERE state = 'running' "
                                  "AND lease_holder IS NOT NULL LIMIT 1")
                if holder in holders:
                    break
                self.assertLess(time.time(), deadline, "no daemon ever ran a job")
                time.sleep(0.05)
            vi = holders[holder]
            victim = self.ds[vi]
            victim.kill9()
            # a statement the victim sent just before it died (a claim's COMMIT)
            # still completes in its PostgreSQL backend: let those land first.
            # Its last renewal was at most lease/3 ago, so nobody takes its jobs
            # over before 2/3 of the lease from now.
            time.sleep(1.0)
            # what it was running when it died (it may have claimed more since the
            # sample above); nobody takes these over before the lease ends
            running = self.sql("SELECT string_agg(id, ',') FROM jobs WHERE state = "
                               f"'running' AND lease_holder = '{holder}'")
            running_on_victim = set(running.split(",")) if running else set()
            deadline = time.time() + 180
            while self.sql("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") \
                    != "0":
                self.assertLess(time.time(), deadline, "jobs still unfinished")
                time.sleep(0.2)
        finally:
            stop.set()
            sampler.join()
        self.assertLessEqual(worst[0], CAP, "a user ran more jobs than the cap")
        self.assertGreaterEqual(worst[0], 1)
        live = [d for d in self.ds if d.proc]
        interrupted = set()
        completed_inc = {u: 0 for u in USERS}
        interrupted_inc = {u: 0 for u in USERS}
        for jid, (u, kind) in acked.items():
            st, job, _ = live[int(jid[-1], 16) % 2].request("GET", "/jobs/" + jid,
                                                             token=self.toks[u])
            self.assertEqual(st, 200, job)
            self.assertIn(job["status"], ("completed", "failed"), job)
            if job["status"] == "failed":
                code = job["error"]["code"]
                self.assertIn(code, ("INTERRUPTED", "STORAGE_CONFLICT"), job)
                if code == "INTERRUPTED":
                    interrupted.add(jid)
                    interrupted_inc[u] += kind == "inc"
                    # failed once, with a signed receipt, by a live daemon
                    self.assertEqual(job["receipt"]["status"], "failed")
            elif kind == "inc":
                completed_inc[u] += 1
        self.assertTrue(interrupted, "no job of the killed daemon was interrupted")
        # exactly the jobs the dead daemon was running end INTERRUPTED, once
        self.assertEqual(interrupted, running_on_victim)
        # exactly once: one row per acknowledged job, each ended by one lease
        self.assertEqual(int(self.sql(
            "SELECT count(*) FROM jobs WHERE id IN ('" + "','".join(acked) + "')")), len(acked))
        for u in USERS:
            st, got, _ = live[0].request("GET", "/storage/default/counter", token=self.toks[u])
            self.assertEqual(st, 200, got)
            value = int(base64.b64decode(got["value"]).decode())
            # exact: one increment per job that ended completed, none for the
            # INTERRUPTED ones (a job's writes commit with its end, in one
            # transaction, under its lease)
            self.assertEqual(value, completed_inc[u],
                             (u, value, completed_inc[u], interrupted_inc[u]))
            self.assertGreater(value, 0)
        # a daemon joins in the dead one's place
        self.ds[vi] = start_daemon(self.url)
        st, ready, _ = self.ds[vi].request("GET", "/ready")
        self.assertEqual(st, 200, ready)

    def test_d_ready_is_503_without_the_database_and_recovers(self):
        d = self.ds[0]
        self.assertEqual(d.request("GET", "/ready")[0], 200)
        self.pg.stop()
        try:
            st, body, _ = d.request("GET", "/ready")
            self.assertEqual(st, 503, body)
            self.assertIn("store", body["error"]["message"])
        finally:
            self.pg.start()
        deadline = time.time() + 20
        while d.request("GET", "/ready")[0] != 200:
            self.assertLess(time.time(), deadline, "the daemon did not reconnect")
            time.sleep(0.2)
        st, job, _ = d.execute(self.toks["ann"], "function main(){ return 'back'; }")
        self.assertEqual(st, 200, job)
        self.assertEqual(job["status"], "completed", job)

    def test_e_store_copy_moves_an_embedded_installation(self):
        # a single daemon on SQLite with a token, a job, a secret and storage
        solo = Daemon(env=KEYS).start()
        try:
            tok = solo.token("sam")
            st, job, _ = solo.execute(tok, INCREMENT)
            self.assertEqual(st, 200, job)
            # a token that may only run jobs, for a day, and an admin's
            narrow = cli("token", "create", *solo.where(), "--user", "sam", "--scopes",
                         "execute", "--expires-in", "24h", check=True).stdout.split()[-1]
            admin = cli("token", "create", *solo.where(), "--user", "root", "--scopes",
                        "admin", check=True).stdout.split()[-1]
            st, before, _ = solo.request("GET", "/tokens?user=sam", token=admin)
            self.assertEqual(st, 200, before)
        finally:
            solo.stop()
        target = self.pg.database("copied")
        p = cli("store", "migrate", "--store", target, check=True)
        self.assertIn("store postgres: schema version", p.stdout)
        p = cli("store", "copy", "--from", "sqlite:" + solo.data_dir, "--to", target,
                check=True)
        self.assertIn("verified row by row", p.stdout)
        again = cli("store", "copy", "--from", "sqlite:" + solo.data_dir, "--to", target)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("is not empty", again.stderr)
        # a cluster daemon on the copy: the same token, job and storage
        d = start_daemon(target)
        try:
            st, got, _ = d.request("GET", "/jobs/" + job["job_id"], token=tok)
            self.assertEqual(st, 200, got)
            self.assertEqual(got["output_hash"], job["output_hash"])
            st, again_job, _ = d.execute(tok, INCREMENT)
            self.assertEqual(again_job["status"], "completed", again_job)
            self.assertEqual(again_job["storage"]["version_before"], 1)
            # tokens keep their scopes and expiry: no token gains a right in the move
            st, after, _ = d.request("GET", "/tokens?user=sam", token=admin)
            self.assertEqual(st, 200, after)
            self.assertEqual(after, before)
            st, ans, _ = d.request("GET", "/jobs/" + job["job_id"], token=narrow)
            self.assertEqual(st, 403, ans)  # no jobs:read
            self.assertIn("jobs:read", ans["error"]["message"])
            st, ans, _ = d.execute(narrow, "function main(){ return 1; }")
            self.assertEqual(st, 200, ans)
        finally:
            d.cleanup()
        solo.cleanup()

    def test_f_a_daemon_whose_lease_is_taken_over_kills_the_job(self):
        lease_s = 3
        # its own daemon: short leases, a fresh process per job (the only
        # job process under it is the running job's)
        d = Daemon("--lease", str(lease_s), "--isolation", "job", store=self.url,
                   env=KEYS).start()
        try:
            tok = d.token("fay")
            # would run 20 s, then write storage and complete
            script = ("function main() { const t = Date.now(); "
                      "while (Date.now() - t < 20000) {} storage.set('stolen', 'no'); "
                      "return 'ran to its end'; }")
            # synchronous: stored running under this daemon's lease (an async
            # job could be claimed by any daemon of the cluster)
            answer = []
            caller = threading.Thread(
                target=lambda: answer.append(d.execute(tok, script, timeout=60)))
            caller.start()
            st, info, _ = d.request("GET", "/info")
            holder = info["cluster"]["daemon"]
            deadline = time.time() + 30
            jid, pids = None, set()
            while not (jid and pids):
                jid = self.sql("SELECT id FROM jobs WHERE owner = 'fay' AND state = 'running' "
                               f"AND lease_holder = '{holder}'")
                pids = job_pids(d)
                self.assertLess(time.time(), deadline, "the job never ran")
                time.sleep(0.05)
            self.assertEqual(len(pids), 1, pids)
            fence = int(self.sql(f"SELECT lease_fence FROM jobs WHERE id = '{jid}'"))
            thief = "f" * 32
            until = int(time.time() * 1000) + 3600 * 1000  # nobody takes it back meanwhile
            self.sql(f"UPDATE jobs SET lease_holder = '{thief}', lease_fence = {fence + 1}, "
                     f"lease_until = {until} WHERE id = '{jid}'")
            stolen_at = time.time()
            while any(alive(p) for p in pids):
                self.assertLess(time.time() - stolen_at, 2 * lease_s + 2,
                                "the job process outlived its lost lease")
                time.sleep(0.1)
            caller.join(30)
            self.assertFalse(caller.is_alive(), "the caller got no answer")
            # the caller learns that this daemon lost the job, and where to look
            st, body, _ = answer[0]
            self.assertEqual(st, 503, body)
            self.assertIn("was taken over by another daemon", body["error"]["message"])
            time.sleep(1.0)  # whatever the daemon does next, it does now
            # the store shows the thief's state only: nothing of the run written
            row = self.sql("SELECT state || ',' || lease_holder || ',' || lease_fence || ',' || "
                           f"(result_json IS NULL) FROM jobs WHERE id = '{jid}'")
            self.assertEqual(row, f"running,{thief},{fence + 1},true")
            st, got, _ = d.request("GET", "/storage/default/stolen", token=tok)
            self.assertEqual(st, 404, got)
            log = d.log_text()
            self.assertIn(f"job '{jid}': lost its lease", log)
            self.assertIn("another daemon took it over", log)
            self.assertIn("its result here (INTERRUPTED) is discarded, nothing written", log)
            # the daemon goes on serving
            st, job, _ = d.execute(tok, "function main(){ return 'next'; }")
            self.assertEqual((st, job["status"]), (200, "completed"), job)
        finally:
            d.cleanup()
            self.sql("DELETE FROM jobs WHERE owner = 'fay'")


def job_pids(d):
    out = set()
    for p in descendants(d.proc.pid):
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == "sealrun-job":
                    out.add(p)
        except OSError:
            pass
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
