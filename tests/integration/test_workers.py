# SPDX-License-Identifier: MIT
"""test_workers.py - remote workers register with a coordinator
(docs/workers.md), each role a separate process on 127.0.0.1.

Checks: two workers with their own tokens register and GET /workers (admin
only) lists each with the key it logged and attestation "none"; a second
machine with a copied token but its own key is refused (the token is bound
to the first key) and the first key stays; requests with the token but no
signature, a signature of another key, or a time off the clock get nothing;
an unknown token gets nothing; drain and resume reach the worker in its
heartbeat; a revoked worker is refused at its next request and exits, and
its token never registers again; a coordinator that asks for TDX refuses a
software-only worker; a worker asked to attest with TDX on a machine without
configfs-tsm refuses to start; the worker role refuses a store and a
listener and needs its coordinator and token; a coordinator needs a shared
store. Runs on SQLite and, as integration-pg/workers, on PostgreSQL.

Jobs (WorkerJobsTest, WorkerModulesTest): a coordinator (--role coordinator,
its store always on a throw-away PostgreSQL, as its queue needs) and its
workers, each its own process on 127.0.0.1: jobs of several users spread
over two workers and their receipts name the worker; secrets their policy
allows reach the job on its worker, a refused one never leaves the
coordinator; storage commits with the job's end (a counter is exactly the
number of completed jobs); a result signed with the wrong key, or from a
lease taken over, is refused; kill -9 mid-job ends it INTERRUPTED once with
the coordinator's receipt; a cancel reaches the worker; draining and revoked
workers get no jobs; modules are fetched once per worker, evicted past the
cache's bound and fetched again.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SEALRUND, ENV, Daemon, Worker, canonical, cli, ed25519_sign, http_json, leb, \
    postgres, sign_request, summary, worker_token  # noqa: E402

import base64  # noqa: E402
import hashlib  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402


HEARTBEAT_S = 10


def admin_token(d):
    p = cli("token", "create", *d.where(), "--user", "root", "--scopes", "admin", check=True)
    return p.stdout.strip().splitlines()[-1]


def raw(d, method, path, token=None, headers=None, body=None):
    return http_json(d.url + path, method, body, headers, token)


def workers(d, tok):
    st, body, _ = d.request("GET", "/workers", token=tok)
    assert st == 200, body
    return {w["id"]: w for w in body["workers"]}


class WorkersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.admin = admin_token(cls.d)
        cls.started = []

    @classmethod
    def tearDownClass(cls):
        for w in cls.started:
            w.cleanup()
        cls.d.cleanup()

    def worker(self, token, *extra, **kw):
        w = Worker(self.d.url, token, *extra, **kw).start()
        self.started.append(w)
        return w

    def test_register_list_and_stolen_token(self):
        t1, t2 = worker_token(self.d, "alpha"), worker_token(self.d, "beta")
        w1, w2 = self.worker(t1), self.worker(t2)
        self.assertIsNotNone(w1.id, w1.log_text())
        self.assertIsNotNone(w2.id, w2.log_text())
        self.assertNotEqual(w1.public_key, w2.public_key)
        ws = workers(self.d, self.admin)
        for w, name in ((w1, "alpha"), (w2, "beta")):
            row = ws[w.id]
            self.assertEqual(row["name"], name)
            self.assertEqual(row["state"], "active")
            self.assertEqual(row["public_key"], w.public_key)
            self.assertEqual(row["attestation"], "none")
            self.assertRegex(row["measurement"], "^[0-9a-f]{64}$")
            self.assertIsNotNone(row["registered_at"])
            self.assertIsNotNone(row["last_seen_at"])
            self.assertIsNone(row["revoked_at"])
        # the token never appears, nor its whole hash
        st, body, _ = self.d.request("GET", "/workers", token=self.admin)
        self.assertNotIn(t1, json.dumps(body))
        # admin only
        user = self.d.token("ann")
        st, body, _ = self.d.request("GET", "/workers", token=user)
        self.assertEqual(st, 403, body)
        self.assertIn("admin", body["error"]["message"])
        st, body, _ = self.d.request("GET", "/workers")
        self.assertEqual(st, 401, body)

        # a copy of w1's token on another machine (its own key) gets nothing
        thief = self.worker(t1)
        self.assertIsNone(thief.id)
        self.assertEqual(thief.returncode, 1, thief.log_text())
        self.assertIn("bound to another key", thief.log_text())
        self.assertEqual(workers(self.d, self.admin)[w1.id]["public_key"], w1.public_key)
        # the worker keeps working after the attempt (its heartbeats pass)
        seen = workers(self.d, self.admin)[w1.id]["last_seen_at"]
        deadline = time.time() + 3 * HEARTBEAT_S
        while time.time() < deadline and workers(self.d, self.admin)[w1.id]["last_seen_at"] == seen:
            time.sleep(0.5)
        self.assertNotEqual(workers(self.d, self.admin)[w1.id]["last_seen_at"], seen)
        self.assertIsNone(w1.proc.poll())

    def test_requests_without_the_key_get_nothing(self):
        tok = worker_token(self.d, "gamma")
        w = self.worker(tok)
        self.assertIsNotNone(w.id, w.log_text())
        now = str(int(time.time() * 1000))
        cases = [
            ({}, "X-Sealrun-Time"),
            ({"X-Sealrun-Time": now}, "signature"),
            ({"X-Sealrun-Time": now, "X-Sealrun-Signature": "ab" * 64}, "does not verify"),
            ({"X-Sealrun-Time": now, "X-Sealrun-Signature": "zz"}, "128 lower-case hex"),
            ({"X-Sealrun-Time": str(int(now) - 3600_000), "X-Sealrun-Signature": "ab" * 64},
             "clock"),
        ]
        for headers, why in cases:
            st, body = raw(self.d, "POST", "/worker/heartbeat", tok, headers)
            self.assertEqual(st, 401, (headers, body))
            self.assertIn(why, body["error"]["message"])
        # a registration that is not signed by the key it brings
        reg = json.dumps({"public_key": "ab" * 32, "measurement": "cd" * 32,
                          "attestation": "none", "version": "x"}).encode()
        st, body = raw(self.d, "POST", "/worker/register", tok,
                       {"X-Sealrun-Time": now, "X-Sealrun-Signature": "ab" * 64,
                        "Content-Type": "application/json"}, reg)
        self.assertEqual(st, 401, body)
        # an unknown token, with and without a body
        st, body = raw(self.d, "POST", "/worker/heartbeat", "srt_not_a_worker_token")
        self.assertEqual(st, 401, body)
        st, body = raw(self.d, "POST", "/worker/register", "srt_not_a_worker_token",
                       {"Content-Type": "application/json"}, reg)
        self.assertEqual(st, 401, body)
        # a user's API token is no worker token, and a worker token no API token
        st, body = raw(self.d, "POST", "/worker/heartbeat", self.admin)
        self.assertEqual(st, 401, body)
        st, body, _ = self.d.request("GET", "/jobs", token=tok)
        self.assertEqual(st, 401, body)
        # nothing changed
        self.assertEqual(workers(self.d, self.admin)[w.id]["public_key"], w.public_key)

    def test_drain_resume_revoke(self):
        tok = worker_token(self.d, "delta")
        w = self.worker(tok)
        self.assertIsNotNone(w.id, w.log_text())
        p = cli("worker", "drain", *self.d.where(), w.id[:10], check=True)
        self.assertIn("draining worker " + w.id, p.stdout)
        deadline = time.time() + 3 * HEARTBEAT_S
        while time.time() < deadline and "this worker is draining" not in w.log_text():
            time.sleep(0.5)
        self.assertIn("this worker is draining", w.log_text())
        self.assertEqual(workers(self.d, self.admin)[w.id]["state"], "draining")
        cli("worker", "resume", *self.d.where(), w.id, check=True)
        p = cli("worker", "list", *self.d.where(), check=True)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith(w.id)][0]
        self.assertIn("active", line)
        self.assertIn(w.public_key, line)

        p = cli("worker", "revoke", *self.d.where(), w.id, check=True)
        self.assertIn("revoked worker " + w.id, p.stdout)
        # refused at once: its next request, signed or not
        st, body = raw(self.d, "POST", "/worker/heartbeat", tok,
                       {"X-Sealrun-Time": str(int(time.time() * 1000))})
        self.assertEqual(st, 403, body)
        self.assertIn("revoked", body["error"]["message"])
        self.assertEqual(w.wait_exit(3 * HEARTBEAT_S), 1)
        self.assertIn("revoked", w.log_text())
        row = workers(self.d, self.admin)[w.id]
        self.assertEqual(row["state"], "revoked")
        self.assertIsNotNone(row["revoked_at"])
        # for good: the same worker cannot come back, nor the worker be resumed
        again = self.worker(tok, data_dir=w.data_dir)
        self.assertIsNone(again.id)
        self.assertEqual(again.returncode, 1)
        self.assertIn("revoked", again.log_text())
        p = cli("worker", "resume", *self.d.where(), w.id)
        self.assertEqual(p.returncode, 1)
        self.assertIn("revoked already", p.stderr)
        p = cli("worker", "drain", *self.d.where(), "0000")
        self.assertEqual(p.returncode, 1)
        self.assertIn("8 to 16 lower-case hex", p.stderr)

    def test_attestation_refusals(self):
        tsm = "/sys/kernel/config/tsm/report"
        if os.path.isdir(tsm):
            self.skipTest("this machine has configfs-tsm: the refusal cannot be shown here")
        tok = worker_token(self.d, "epsilon")
        w = self.worker(tok, "--attestation", "tdx")
        self.assertIsNone(w.id)
        self.assertNotEqual(w.returncode, 0)
        self.assertIn(tsm, w.log_text())
        row = [r for r in workers(self.d, self.admin).values() if r["name"] == "epsilon"][0]
        self.assertIsNone(row["public_key"])  # it never registered

        with Daemon("--worker-attestation", "tdx") as strict:
            tok = worker_token(strict, "zeta")
            w = Worker(strict.url, tok).start()
            self.started.append(w)
            self.assertIsNone(w.id)
            self.assertEqual(w.returncode, 1)
            self.assertIn("accepts only workers attested by TDX", w.log_text())
            st, body, _ = strict.request("GET", "/workers", token=admin_token(strict))
            self.assertIsNone(body["workers"][0]["public_key"])

    def test_worker_role_options(self):
        def run(*args, env=None):
            e = dict(ENV)
            e.pop("SEALRUN_WORKER_TOKEN", None)
            e.update(env or {})
            return subprocess.run([SEALRUND, *args], capture_output=True, text=True, env=e,
                                  timeout=60)
        p = run("--role", "worker", "--worker-token", "x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--coordinator", p.stderr)
        p = run("--role", "worker", "--coordinator", self.d.url)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--worker-token", p.stderr)
        p = run("--role", "worker", "--coordinator", self.d.url, "--store", "sqlite:/tmp/x.db",
                env={"SEALRUN_WORKER_TOKEN": "x"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("holds no store", p.stderr)
        p = run("--coordinator", self.d.url)
        self.assertEqual(p.returncode, 2)
        self.assertIn("go with --role worker", p.stderr)
        p = run("--role", "keystore")
        self.assertEqual(p.returncode, 2)
        # a coordinator's queue and leases live in a shared store
        p = run("--role", "coordinator", "--dev", "--listen", "127.0.0.1:0", "--data-dir",
                self.d.data_dir + "-coord")
        self.assertEqual(p.returncode, 1)
        self.assertIn("needs a shared store", p.stderr)


# --- jobs run by remote workers (docs/workers.md "Jobs") ---

LEASE_S = 6
SLOW = ("function main(input) { const t = Date.now(); while (Date.now() - t < input.ms) {} "
        "return {who: input.who, n: input.n}; }")


def sign_receipt(seed, receipt):
    msg = b"sealrun.receipt.v1\0" + canonical(receipt).encode()
    return ed25519_sign(seed, msg).hex()


def worker_seed(w):
    with open(os.path.join(w.data_dir, "keys", "worker.key")) as f:
        return bytes.fromhex(f.read().strip())


class WorkerJobsTest(unittest.TestCase):
    """A coordinator (--role coordinator, its store on PostgreSQL) and two
    workers, each its own process: jobs of several users spread over both
    and their receipts name the worker that ran each; a worker killed with
    kill -9 mid-job leaves its job INTERRUPTED once, with the coordinator's
    receipt; a result signed with the wrong key, or from a lease taken over,
    is refused and changes nothing; a revoked worker gets no more jobs."""

    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.store = cls.pg.database("workerjobs")
        cls.c = Daemon("--role", "coordinator", "--lease", str(LEASE_S),
                       "--max-running-per-user", "4", store=cls.store).start()
        m = re.search(r"worker key ([0-9a-f]{64})", cls.c.log_text())
        cls.coord_key = m.group(1)
        cls.admin = admin_token(cls.c)
        cls.toks = {u: cls.c.token(u) for u in ("ann", "ben", "cat")}
        cls.ws = []
        for name in ("w1", "w2"):
            cls.ws.append(cls.start_worker(worker_token(cls.c, name)))

    @classmethod
    def start_worker(cls, tok, data_dir=None):
        w = Worker(cls.c.url, tok, data_dir=data_dir).start()
        assert w.id, w.log_text()
        w.tok = tok
        return w

    @classmethod
    def tearDownClass(cls):
        for w in cls.ws:
            w.cleanup()
        cls.c.cleanup()

    def submit(self, user, script, inp, **extra):
        st, ans, _ = self.c.execute(self.toks[user], script, input=inp, **{"async": True},
                                    **extra)
        self.assertEqual(st, 202, ans)
        return ans["job_id"]

    def running_on(self, job_id, timeout=30):
        """The worker whose log says it runs job_id, and the fence."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for w in self.ws:
                if w.proc is None:
                    continue
                m = re.search(r"job '%s': running \(fence (\d+)\)" % job_id, w.log_text())
                if m:
                    return w, int(m.group(1))
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not start on a worker")

    def test_a_jobs_spread_over_the_workers(self):
        keys = {w.public_key for w in self.ws}
        ids = {}
        for n in range(12):
            user = ("ann", "ben", "cat")[n % 3]
            ids[self.submit(user, SLOW, {"ms": 300, "who": user, "n": n})] = (user, n)
        used = set()
        for job_id, (user, n) in ids.items():
            job = self.c.wait_job(self.toks[user], job_id, timeout=120)
            self.assertEqual(job["status"], "completed", summary(job))
            self.assertEqual(job["output"], {"who": user, "n": n})
            r = job["receipt"]
            self.assertIn(r["worker_public_key"], keys, summary(job))
            used.add(r["worker_public_key"])
            self.assertEqual(r["job_id"], job_id)
            self.assertRegex(job["signature"], "^[0-9a-f]{64}$")  # the coordinator's MAC
        self.assertEqual(used, keys, "both workers ran jobs")
        # the coordinator runs no guest code: a synchronous job runs on a worker too
        st, job, _ = self.c.execute(self.toks["ann"], "function main(){ return 42; }")
        self.assertEqual(st, 200, job)
        self.assertEqual(job["output"], {"result": 42})
        self.assertIn(job["receipt"]["worker_public_key"], keys)
        # and the receipt verifies (sealrun verify, against the worker's key)
        with open(os.path.join(self.c.data_dir, "job.json"), "w") as f:
            json.dump(job, f)
        p = cli("verify", os.path.join(self.c.data_dir, "job.json"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_ab_secrets_their_policy_allows_and_storage(self):
        tok = self.toks["cat"]
        for name, value in (("OPEN", "canary-open-7d1f"), ("JSONLY", "canary-js-only-2c9e")):
            st, ans, _ = self.c.request("PUT", "/secrets/" + name, {"value": value}, token=tok)
            self.assertIn(st, (200, 201), ans)
        st, ans, _ = self.c.request("PUT", "/secrets/JSONLY/policy", {"runtimes": ["wasm"]},
                                    token=tok)
        self.assertEqual(st, 200, ans)
        # a secret its policy allows reaches the job on the worker
        script = "function main(i, s) { return {v: s.OPEN}; }"
        job_id = self.submit("cat", script, None, secret_refs=["OPEN"])
        job = self.c.wait_job(tok, job_id, timeout=60)
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["output"], {"v": "canary-open-7d1f"})
        self.assertEqual([(r["name"], r["version"]) for r in job["receipt"]["secret_refs"]],
                         [("OPEN", 1)])
        # one it does not allow never leaves the coordinator: the job fails there
        job_id = self.submit("cat", script, None, secret_refs=["JSONLY"])
        job = self.c.wait_job(tok, job_id, timeout=60)
        self.assertEqual(job["error"]["code"], "SECRET_UNAVAILABLE", summary(job))
        self.assertEqual(job["receipt"]["worker_public_key"], self.coord_key)
        st, audit, _ = self.c.request("GET", "/secrets/JSONLY/audit", token=tok)
        self.assertEqual(audit["audit"][0]["outcome"], "denied", audit)
        self.assertNotIn("canary-js-only-2c9e", self.c.log_text())
        for w in self.ws:
            self.assertNotIn("canary", w.log_text())

    def test_ab2_generated_key_uses_are_audited(self):
        """A job on a worker signs with a generated key: the key never leaves
        as a value, the use is in the worker's signed receipt and, once the
        coordinator stores the result, in the secret's audit."""
        tok = self.toks["cat"]
        st, ans, _ = self.c.request("POST", "/secrets/WK_SIGN/generate", {"kind": "ed25519"},
                                    token=tok)
        self.assertIn(st, (200, 201), ans)
        script = ("async function main() { const k = await keys.get('WK_SIGN'); "
                  "const s = await crypto.subtle.sign('Ed25519', k, "
                  "new TextEncoder().encode('pay 7 to dan')); return s.byteLength; }")
        st, job, _ = self.c.request("POST", "/execute", {"script": script,
                                                         "secret_refs": ["WK_SIGN"]}, token=tok)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["output"], {"result": 64}, summary(job))
        self.assertIn(job["receipt"]["worker_public_key"], {w.public_key for w in self.ws})
        data = hashlib.sha256(b"pay 7 to dan").hexdigest()
        self.assertEqual([(u["name"], u["operation"], u["data_sha256"])
                          for u in job["receipt"]["key_uses"]], [("WK_SIGN", "sign", data)])
        self.assertNotIn("sealrun.key.v1:", json.dumps(job))
        st, audit, _ = self.c.request("GET", "/secrets/WK_SIGN/audit", token=tok)
        self.assertEqual(st, 200, audit)
        rows = [r for r in audit["audit"] if r["job_id"] == job["job_id"]]
        self.assertEqual(sorted(r["outcome"] for r in rows), ["allowed", "used"], rows)
        used = [r for r in rows if r["outcome"] == "used"][0]
        self.assertEqual(used["reason"], f"ed25519 sign of data sha256 {data}")
        self.assertEqual(used["version"], job["receipt"]["secret_refs"][0]["version"])

    def test_ac_storage_of_jobs_on_workers(self):
        """Reads go to the coordinator, writes commit there with the job's end
        under the same optimistic rule: jobs of both workers incrementing one
        counter leave it at exactly their number, and each receipt names the
        versions its commit made."""
        tok = self.toks["ben"]
        inc = ("function main() { const n = Number(storage.get('counter') ?? 0); "
               "const t = Date.now(); while (Date.now() - t < 100) {} "
               "storage.set('counter', String(n + 1)); return n + 1; }")
        ids = [self.submit("ben", inc, None) for _ in range(10)]
        jobs = [self.c.wait_job(tok, j, timeout=120) for j in ids]
        done = [j for j in jobs if j["status"] == "completed"]
        for job in jobs:
            r = job["receipt"]
            if job["status"] == "completed":
                self.assertEqual(int(r["storage_version_after"]),
                                 int(r["storage_version_before"]) + 1)
                self.assertEqual(job["storage"]["version_after"], int(r["storage_version_after"]))
            else:  # it read the counter, another job's commit changed it first
                self.assertEqual(job["error"]["code"], "STORAGE_CONFLICT", summary(job))
        self.assertGreater(len(done), 1)
        self.assertEqual(sorted(j["output"]["result"] for j in done),
                         list(range(1, len(done) + 1)))
        self.assertEqual(len({j["receipt"]["worker_public_key"] for j in jobs}), 2, "both ran")
        st, got, _ = self.c.request("GET", "/storage/default/counter", token=tok)
        self.assertEqual(st, 200, got)
        self.assertEqual(base64.b64decode(got["value"]).decode(), str(len(done)))
        # a failed job writes nothing; list and has see what the coordinator holds
        job_id = self.submit("ben", "function main() { storage.set('counter', 'x'); "
                             "if (!storage.has('counter')) return 0; throw new Error('no'); }", None)
        job = self.c.wait_job(tok, job_id, timeout=60)
        self.assertEqual(job["error"]["code"], "EXECUTION_ERROR", summary(job))
        self.assertEqual(job["receipt"]["storage_version_before"],
                         job["receipt"]["storage_version_after"])
        st, got, _ = self.c.request("GET", "/storage/default/counter", token=tok)
        self.assertEqual(base64.b64decode(got["value"]).decode(), str(len(done)))

    def test_b_kill9_mid_job_and_refused_results(self):
        st, tmpl, _ = self.c.execute(self.toks["ben"], "function main(){ return 0; }")
        self.assertEqual(st, 200, tmpl)
        job_id = self.submit("ben", SLOW, {"ms": 20000, "who": "ben", "n": -1}, timeout=40)
        w, fence = self.running_on(job_id)
        seed = worker_seed(w)
        path = f"/worker/jobs/{job_id}/result"

        def post(job, f=fence):
            body = json.dumps({"fence": f, "job": json.dumps(job), "recording": None}).encode()
            return raw(self.c, "POST", path, w.tok, sign_request(seed, "POST", path, "", body),
                       body)
        # while it runs: a result whose receipt another key signed is refused (the
        # request itself is the worker's, signed with its key and token)
        forged = dict(tmpl, job_id=job_id)
        forged.pop("signature", None)
        forged["receipt"] = dict(tmpl["receipt"], job_id=job_id, worker_public_key=w.public_key)
        forged["receipt_signature"] = sign_receipt(os.urandom(32), forged["receipt"])
        st, ans = post(forged)
        self.assertEqual(st, 401, ans)
        self.assertIn("not this worker's", ans["error"]["message"])
        # kill -9 mid-job: its lease runs out, the coordinator ends it once
        w.proc.kill()
        w.proc.wait()
        w.proc = None
        job = self.c.wait_job(self.toks["ben"], job_id, timeout=4 * LEASE_S + 30)
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertEqual(job["error"]["code"], "INTERRUPTED", summary(job))
        self.assertEqual(job["receipt"]["worker_public_key"], self.coord_key)
        # a result from the old lease holder, signed with its own key, is refused
        stale = dict(job)
        stale.pop("signature", None)
        stale["receipt"] = dict(job["receipt"], worker_public_key=w.public_key)
        stale["receipt_signature"] = sign_receipt(seed, stale["receipt"])
        for f in (fence, fence + 100):
            st, ans = post(stale, f)
            self.assertEqual(st, 409, ans)
            self.assertIn("leased to this worker", ans["error"]["message"])
        # nothing written: the job still ends as the coordinator recorded it, once
        again = self.c.wait_job(self.toks["ben"], job_id)
        self.assertEqual(again, job)
        # the same worker comes back (same data directory, same key) and works
        back = self.start_worker(w.tok, data_dir=w.data_dir)
        self.assertEqual(back.public_key, w.public_key)
        self.ws[self.ws.index(w)] = back
        w.log.close()
        jid = self.submit("cat", SLOW, {"ms": 10, "who": "cat", "n": 99})
        self.assertEqual(self.c.wait_job(self.toks["cat"], jid, timeout=60)["status"], "completed")

    def test_bb_a_cancel_reaches_the_worker(self):
        job_id = self.submit("ann", SLOW, {"ms": 30000, "who": "ann", "n": -2}, timeout=40)
        w, fence = self.running_on(job_id)
        t0 = time.time()
        st, job, _ = self.c.request("POST", f"/jobs/{job_id}/cancel", token=self.toks["ann"])
        self.assertEqual(st, 200, job)
        self.assertEqual(job["error"]["code"], "CANCELLED", summary(job))
        # the worker's next renewal is refused: it kills the run, sends no result
        deadline = time.time() + 3 * LEASE_S
        while time.time() < deadline and f"job '{job_id}': the coordinator says its lease is " \
                "lost" not in w.log_text():
            time.sleep(0.2)
        self.assertIn(f"job '{job_id}': the coordinator says its lease is lost", w.log_text())
        self.assertLess(time.time() - t0, 2 * LEASE_S)
        self.assertNotIn(f"job '{job_id}': result stored", w.log_text())
        self.assertEqual(self.c.wait_job(self.toks["ann"], job_id), job)
        # and it takes the next job
        jid = self.submit("ann", SLOW, {"ms": 10, "who": "ann", "n": 5})
        self.assertEqual(self.c.wait_job(self.toks["ann"], jid, timeout=60)["status"],
                         "completed")

    def test_bc_a_draining_worker_gets_no_jobs(self):
        drained, other = self.ws
        cli("worker", "drain", *self.c.where(), drained.id, check=True)
        deadline = time.time() + 3 * HEARTBEAT_S
        while time.time() < deadline and "this worker is draining" not in drained.log_text():
            time.sleep(0.2)
        self.assertIn("this worker is draining", drained.log_text())
        ids = [self.submit("ben", SLOW, {"ms": 50, "who": "ben", "n": n}) for n in range(4)]
        for job_id in ids:
            job = self.c.wait_job(self.toks["ben"], job_id, timeout=120)
            self.assertEqual(job["receipt"]["worker_public_key"], other.public_key)
        cli("worker", "resume", *self.c.where(), drained.id, check=True)

    def test_bd_a_replayed_poll_is_refused(self):
        """A signed poll is taken once: the same request sent again within the clock
        window (captured on the wire) is refused and takes no job."""
        w = self.ws[1]
        path = "/worker/jobs"
        headers = sign_request(worker_seed(w), "GET", path, "wait=0", b"")
        st, ans = raw(self.c, "GET", path + "?wait=0", w.tok, headers)
        self.assertEqual(st, 200, ans)
        st, ans = raw(self.c, "GET", path + "?wait=0", w.tok, headers)
        self.assertEqual(st, 401, ans)
        self.assertIn("a replay is refused", ans["error"]["message"])
        # a poll signed anew is taken
        time.sleep(0.002)
        st, ans = raw(self.c, "GET", path + "?wait=0", w.tok,
                      sign_request(worker_seed(w), "GET", path, "wait=0", b""))
        self.assertEqual(st, 200, ans)

    def test_c_a_revoked_worker_gets_no_jobs(self):
        gone, stay = self.ws
        p = cli("worker", "revoke", *self.c.where(), gone.id, check=True)
        self.assertIn("revoked worker " + gone.id, p.stdout)
        self.assertEqual(gone.wait_exit(3 * HEARTBEAT_S), 1)
        ids = [self.submit("ann", SLOW, {"ms": 50, "who": "ann", "n": n}) for n in range(4)]
        for job_id in ids:
            job = self.c.wait_job(self.toks["ann"], job_id, timeout=120)
            self.assertEqual(job["status"], "completed", summary(job))
            self.assertEqual(job["receipt"]["worker_public_key"], stay.public_key)
        # its requests are refused from now on
        path = "/worker/jobs"
        st, ans = raw(self.c, "GET", path + "?wait=0", gone.tok,
                      sign_request(worker_seed(gone), "GET", path, "wait=0", b""))
        self.assertEqual(st, 403, ans)


TIMED = ("function main(input) { const s = Date.now(); while (Date.now() - s < input.ms) {} "
         "return {s: s, e: Date.now()}; }")


class WorkerSeveralJobsTest(unittest.TestCase):
    """One worker with --jobs 3: it runs three jobs at the same time (their
    run intervals overlap), each under its own lease that its heartbeats
    renew; a cancel of one kills only that one; kill -9 of the worker with
    three jobs running ends each INTERRUPTED once."""

    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.c = Daemon("--role", "coordinator", "--lease", str(LEASE_S),
                       "--max-running-per-user", "4",
                       store=cls.pg.database("workerseveral")).start()
        m = re.search(r"worker key ([0-9a-f]{64})", cls.c.log_text())
        cls.coord_key = m.group(1)
        cls.tok = cls.c.token("dan")
        cls.wtok = worker_token(cls.c, "three")
        cls.w = cls.start_worker()

    @classmethod
    def start_worker(cls, data_dir=None):
        w = Worker(cls.c.url, cls.wtok, "--jobs", "3", data_dir=data_dir).start()
        assert w.id, w.log_text()
        return w

    @classmethod
    def tearDownClass(cls):
        cls.w.cleanup()
        cls.c.cleanup()

    def submit(self, ms):
        st, ans, _ = self.c.execute(self.tok, TIMED, input={"ms": ms}, **{"async": True},
                                    timeout=ms // 1000 + 20)
        self.assertEqual(st, 202, ans)
        return ans["job_id"]

    def all_running(self, ids, timeout=30):
        deadline = time.time() + timeout
        fences = {}
        while time.time() < deadline and len(fences) < len(ids):
            for j in ids:
                m = re.search(r"job '%s': running \(fence (\d+)\)" % j, self.w.log_text())
                if m:
                    fences[j] = int(m.group(1))
            time.sleep(0.1)
        self.assertEqual(len(fences), len(ids), self.w.log_text()[-3000:])
        return fences

    def test_a_three_at_once(self):
        ids = [self.submit(2500) for _ in range(3)]
        jobs = [self.c.wait_job(self.tok, j, timeout=90) for j in ids]
        for job in jobs:
            self.assertEqual(job["status"], "completed", summary(job))
            self.assertEqual(job["receipt"]["worker_public_key"], self.w.public_key)
        starts = [j["output"]["s"] for j in jobs]
        ends = [j["output"]["e"] for j in jobs]
        # all three ran at the same time: each started before any ended
        self.assertLess(max(starts), min(ends), [j["output"] for j in jobs])

    def test_b_a_cancel_kills_only_that_job(self):
        ids = [self.submit(4 * LEASE_S * 1000) for _ in range(3)]
        self.all_running(ids)
        victim = ids[1]
        st, job, _ = self.c.request("POST", f"/jobs/{victim}/cancel", token=self.tok)
        self.assertEqual(st, 200, job)
        deadline = time.time() + 3 * LEASE_S
        lost = f"job '{victim}': the coordinator says its lease is lost"
        while time.time() < deadline and lost not in self.w.log_text():
            time.sleep(0.2)
        self.assertIn(lost, self.w.log_text())
        for j in (ids[0], ids[2]):
            self.assertNotIn(f"job '{j}': the coordinator says its lease is lost",
                             self.w.log_text())
        # the other two run on past several leases (renewed by the heartbeats) and end well
        for j in (ids[0], ids[2]):
            job = self.c.wait_job(self.tok, j, timeout=120)
            self.assertEqual(job["status"], "completed", summary(job))
            self.assertEqual(job["receipt"]["worker_public_key"], self.w.public_key)
        self.assertEqual(self.c.wait_job(self.tok, victim)["error"]["code"], "CANCELLED")
        self.assertNotIn(f"job '{victim}': result stored", self.w.log_text())

    def test_c_kill9_with_three_running(self):
        ids = [self.submit(60000) for _ in range(3)]
        self.all_running(ids)
        self.w.proc.kill()
        self.w.proc.wait()
        self.w.proc = None
        jobs = [self.c.wait_job(self.tok, j, timeout=4 * LEASE_S + 60) for j in ids]
        for job in jobs:
            self.assertEqual(job["status"], "failed", summary(job))
            self.assertEqual(job["error"]["code"], "INTERRUPTED", summary(job))
            self.assertEqual(job["receipt"]["worker_public_key"], self.coord_key)
        # once: the ended jobs stay as the coordinator recorded them
        time.sleep(LEASE_S)
        self.assertEqual([self.c.wait_job(self.tok, j) for j in ids], jobs)
        old = self.w
        self.w = type(self).w = self.start_worker(data_dir=old.data_dir)
        old.log.close()


class WorkerMoneyTest(unittest.TestCase):
    """A coordinator with a price table and a daily budget, one worker: the
    coordinator reserves at admission, the worker signs the cost in its
    receipt by the coordinator's prices, the coordinator computes it again
    before it stores the result and settles the hold: the ledger, the
    balance and the budget's use agree with the receipts; a timed-out job
    keeps its whole reservation; a job without the balance never runs."""

    PRICES = {"base_fee": 1000, "gas_per_million": {"js": 10, "wasm": 1}, "wall_ms": 2,
              "http_request": 500}

    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        fd, cls.prices = tempfile.mkstemp(prefix="sr-wk-prices-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(cls.PRICES, f)
        cls.c = Daemon("--role", "coordinator", "--prices", cls.prices, "--budget-user",
                       "jobs_per_day=5", store=cls.pg.database("workermoney")).start()
        cls.admin = admin_token(cls.c)
        cls.w = Worker(cls.c.url, worker_token(cls.c, "payer")).start()
        assert cls.w.id, cls.w.log_text()

    @classmethod
    def tearDownClass(cls):
        cls.w.cleanup()
        cls.c.cleanup()
        os.unlink(cls.prices)

    def expected(self, receipt, timed_out=False):
        """The charge at PRICES for what the receipt says the job used."""
        reserved = receipt["cost"]["reserved"]
        if timed_out:
            return reserved
        gas = (receipt["gas_used"] * self.PRICES["gas_per_million"]["js"] + 999999) // 1000000
        wall = (receipt["duration_us"] + 999) // 1000 * self.PRICES["wall_ms"]
        return min(reserved, self.PRICES["base_fee"] + gas + wall)

    def test_priced_jobs_on_a_worker(self):
        tok = self.c.token("payer")
        st, ans, _ = self.c.request("POST", "/account/credit", {"user": "payer", "amount": 10**7},
                                    token=self.admin)
        self.assertEqual(st, 200, ans)
        jobs = []
        for i in range(3):
            st, job, _ = self.c.execute(tok, "function main(i){ let s = 0; for (let k = 0; "
                                        "k < 20000; k++) s += k; return s + i; }", input=i,
                                        timeout=2)
            self.assertEqual(st, 200, job)
            self.assertEqual(job["receipt"]["worker_public_key"], self.w.public_key)
            jobs.append(job)
        st, job, _ = self.c.execute(tok, "function main(){ for(;;){} }", timeout=1)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["error"]["code"], "TIMEOUT", job)
        jobs.append(job)
        charged = 0
        for job in jobs:
            cost = job["receipt"]["cost"]  # signed by the worker
            self.assertEqual(job["cost"], cost)
            self.assertEqual(cost["charged"] + cost["refunded"], cost["reserved"])
            self.assertEqual(cost["charged"],
                             self.expected(job["receipt"], job["status"] == "failed"), job)
            charged += cost["charged"]
            path = os.path.join(self.c.data_dir, "money-job.json")
            with open(path, "w") as f:
                json.dump(job, f)
            p = cli("verify", path)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        st, acct, _ = self.c.request("GET", "/account", token=tok)
        self.assertEqual(st, 200, acct)
        self.assertEqual(acct["balance"], 10**7 - charged)
        self.assertEqual(acct["budgets"]["user"]["jobs_per_day"], {"used": 4, "limit": 5})
        kinds = {}
        for r in acct["ledger"]:
            if r["job_id"]:
                kinds.setdefault(r["job_id"], {})[r["kind"]] = r["amount"]
        for job in jobs:
            k = kinds[job["job_id"]]
            self.assertEqual(k["charge"], job["cost"]["charged"], k)
            self.assertEqual(k["reservation"], k["charge"] + k.get("refund", 0), k)
        # the daily budget: the fifth job runs, the sixth is refused before it runs
        st, job, _ = self.c.execute(tok, "function main(){ return 5; }", timeout=2)
        self.assertEqual(st, 200, job)
        st, body, _ = self.c.execute(tok, "function main(){ return 6; }", timeout=2)
        self.assertEqual(st, 429, body)
        self.assertEqual(body["error"]["code"], "BUDGET_EXHAUSTED", body)

    def test_no_balance_no_run(self):
        tok = self.c.token("broke")
        st, body, _ = self.c.execute(tok, "function main(){ return 1; }", timeout=2)
        self.assertEqual(st, 402, body)
        self.assertEqual(body["error"]["code"], "INSUFFICIENT_BALANCE")
        st, body, _ = self.c.execute(tok, "function main(){ return 1; }", timeout=2,
                                     **{"async": True})
        self.assertEqual(st, 402, body)
        self.assertEqual(self.c.sql("SELECT count(*) FROM jobs WHERE owner = 'broke'"), [(0,)])


GUEST = os.environ.get("SR_WASM_GUEST", "")


def padded(tag, pad):
    """The guest module with a custom section of 'pad' random bytes: its own
    hash and size, the same program."""
    body = b"\x04note" + tag.encode() + os.urandom(pad)
    with open(GUEST, "rb") as f:
        return f.read() + b"\x00" + leb(len(body)) + body


@unittest.skipUnless(GUEST, "needs SR_WASM_GUEST (the CTest runs set it)")
class WorkerModulesTest(unittest.TestCase):
    """A worker fetches a WASM job's module by hash (GET /worker/modules/
    {hash}) once, keeps it in its bounded on-disk cache, evicts the least
    recently used past the bound and fetches it again; a cached file that
    no longer matches its hash is dropped and fetched again; a worker gets
    no module it holds no job for."""

    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.c = Daemon("--role", "coordinator", "--lease", str(LEASE_S),
                       store=cls.pg.database("workermodules")).start()
        cls.tok = cls.c.token("mod")
        wt = worker_token(cls.c, "cache")
        cls.w = Worker(cls.c.url, wt, "--module-cache-mb", "1").start()
        assert cls.w.id, cls.w.log_text()
        cls.w.tok = wt

    @classmethod
    def tearDownClass(cls):
        cls.w.cleanup()
        cls.c.cleanup()

    def run_module(self, h):
        st, job, _ = self.c.request("POST", "/execute", {
            "runtime": "wasm", "module_hash": h, "args": ["echo"], "input": 7}, token=self.tok)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["receipt"]["worker_public_key"], self.w.public_key)
        self.assertEqual(job["receipt"]["code_hash"], h)

    def fetches(self, h, want):
        """How often the worker's log says it fetched module h, once it says
        so 'want' times or 5 s have passed (the log is copied from the
        worker's stderr by a thread of this process, a little after)."""
        deadline = time.time() + 5
        while True:
            n = self.w.log_text().count("fetched module " + h[:16])
            if n >= want or time.time() > deadline:
                return n
            time.sleep(0.05)

    def logged(self, text):
        deadline = time.time() + 5
        while text not in self.w.log_text() and time.time() < deadline:
            time.sleep(0.05)
        return self.w.log_text()

    def test_cache(self):
        mods = {}
        for tag in ("a", "b", "c"):
            m = padded(tag, 400 * 1024)
            st, ans, _ = self.c.request("POST", "/modules", raw=m, token=self.tok,
                                        headers={"Content-Type": "application/wasm"})
            self.assertEqual(st, 201, ans)
            mods[tag] = ans["hash"]
        a, b, c = mods["a"], mods["b"], mods["c"]
        cache = os.path.join(self.w.data_dir, "modules")
        self.run_module(a)
        self.run_module(a)
        self.assertEqual(self.fetches(a, 1), 1, "a hot module is fetched once")
        self.assertTrue(os.path.exists(os.path.join(cache, a + ".wasm")))
        self.run_module(b)
        self.run_module(c)  # past the bound of 1 MiB: the least recently used (a) goes
        self.assertFalse(os.path.exists(os.path.join(cache, a + ".wasm")))
        self.assertIn("module %s evicted" % a[:16], self.logged("module %s evicted" % a[:16]))
        self.assertLessEqual(sum(os.path.getsize(os.path.join(cache, f))
                                 for f in os.listdir(cache)), 1024 * 1024)
        self.run_module(a)
        self.assertEqual(self.fetches(a, 2), 2, "an evicted module is fetched again")
        deadline = time.time() + 5
        while self.c.log_text().count("module %s " % a[:16]) < 2 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.c.log_text().count("module %s " % a[:16]), 2)
        # a cached file changed on disk is never run: dropped, fetched again
        path = os.path.join(cache, a + ".wasm")
        with open(path, "r+b") as f:
            f.seek(100)
            f.write(b"\xff")
        self.run_module(a)
        self.assertEqual(self.fetches(a, 3), 3)
        self.assertIn("does not hash to its name", self.logged("does not hash to its name"))
        # a worker reads no module it holds no job for
        path = "/worker/modules/" + b
        st, ans = raw(self.c, "GET", path, self.w.tok,
                      sign_request(worker_seed(self.w), "GET", path, "", b""))
        self.assertEqual(st, 404, ans)
        self.assertIn("not the module of a job this worker holds", ans["error"]["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
